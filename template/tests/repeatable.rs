//! Which templates render the same output from the same data every time.

use akvsync_template::Engine;
use akvsync_template::functions::{FunctionTable, VOLATILE};

#[test]
fn every_volatile_name_is_a_registered_function() {
    let table = FunctionTable::eso_v2();
    for name in VOLATILE {
        assert!(table.get(name).is_some(), "{name} is not registered");
    }
}

#[test]
fn a_template_calling_the_clock_or_randomness_is_not_repeatable() {
    let engine = Engine::global();
    for text in [
        "{{ now | date \"2006\" }}",
        "{{ randAlphaNum 16 }}",
        "a: {{ .user }}\nb: {{ uuidv4 }}",
        "{{- if true }}{{ (list 1 2 3) | shuffle }}{{ end -}}",
        "{{ unterminated",
    ] {
        assert!(!engine.is_repeatable(text), "{text:?}");
    }
}

#[test]
fn a_template_of_data_and_pure_functions_is_repeatable() {
    let engine = Engine::global();
    for text in [
        "plain text",
        "{{ .user | upper }}:{{ .password | b64enc }}",
        "{{ .now }} {{ \"now\" }} {{ $now := 1 }}{{ $now }}",
        "{{ .cert | filterPEM \"CERTIFICATE\" }}",
    ] {
        assert!(engine.is_repeatable(text), "{text:?}");
    }
}

#[test]
fn the_volatile_functions_do_render_differently_each_time() {
    let data = Default::default();
    for text in [
        "{{ randAlphaNum 32 }}",
        "{{ uuidv4 }}",
        "{{ randBytes 32 }}",
    ] {
        let first = akvsync_template::render(text, &data).unwrap();
        let second = akvsync_template::render(text, &data).unwrap();
        assert_ne!(first, second, "{text}");
    }
}
