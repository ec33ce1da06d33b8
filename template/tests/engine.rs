//! Go `text/template` semantics as ESO runs them (`missingkey=error`).

mod common;
use common::{err, ok};

#[test]
fn trims_whitespace_around_trim_markers() {
    assert_eq!(ok("a  {{- \"b\" -}}  c", &[]), "abc");
    assert_eq!(ok("a\n\t{{- /* comment */ -}}\n  b", &[]), "ab");
    assert_eq!(ok("{{ 3 }} {{- 4 }}", &[]), "34");
    // "{{-3}}" is the number -3, not a trim marker.
    assert_eq!(ok("x {{-3}}", &[]), "x -3");
    assert_eq!(ok("{{/* c */}}x", &[]), "x");
}

#[test]
fn ranges_over_maps_in_sorted_key_order() {
    let out = ok(
        r#"{{ range $k, $v := dict "zeta" 1 "alpha" 2 "mid" 3 }}{{ $k }}={{ $v }};{{ end }}"#,
        &[],
    );
    assert_eq!(out, "alpha=2;mid=3;zeta=1;");
    let out = ok(
        "{{ range $k, $v := . }}{{ $k }}:{{ $v }} {{ end }}",
        &[("b", "2"), ("a", "1"), ("c", "3")],
    );
    assert_eq!(out, "a:1 b:2 c:3 ");
}

#[test]
fn range_supports_index_else_break_and_continue() {
    assert_eq!(
        ok(
            r#"{{ range $i, $v := list "a" "b" }}{{ $i }}{{ $v }}{{ end }}"#,
            &[]
        ),
        "0a1b"
    );
    assert_eq!(
        ok("{{ range list }}x{{ else }}empty{{ end }}", &[]),
        "empty"
    );
    assert_eq!(
        ok(
            "{{ range $i := until 10 }}{{ if eq $i 2 }}{{ continue }}{{ end }}{{ if eq $i 4 }}{{ break }}{{ end }}{{ $i }}{{ end }}",
            &[]
        ),
        "013"
    );
    assert_eq!(ok("{{ range 3 }}{{ . }}{{ end }}", &[]), "012");
}

#[test]
fn with_and_if_else_chains() {
    assert_eq!(
        ok(r#"{{ with "x" }}[{{ . }}]{{ else }}none{{ end }}"#, &[]),
        "[x]"
    );
    assert_eq!(
        ok(r#"{{ with "" }}[{{ . }}]{{ else }}none{{ end }}"#, &[]),
        "none"
    );
    assert_eq!(
        ok(r#"{{ with "" }}a{{ else with "b" }}{{ . }}{{ end }}"#, &[]),
        "b"
    );
    let t = "{{ if eq .n \"1\" }}one{{ else if eq .n \"2\" }}two{{ else }}many{{ end }}";
    assert_eq!(ok(t, &[("n", "1")]), "one");
    assert_eq!(ok(t, &[("n", "2")]), "two");
    assert_eq!(ok(t, &[("n", "3")]), "many");
}

#[test]
fn define_template_and_block() {
    let t = r#"{{ define "greet" }}hello {{ . }}{{ end }}{{ template "greet" .name }}|{{ block "b" "x" }}<{{ . }}>{{ end }}"#;
    assert_eq!(ok(t, &[("name", "bob")]), "hello bob|<x>");
    assert!(err(r#"{{ template "nope" }}"#, &[]).contains(r#"no such template "nope""#));
    // Recursion is bounded, not a stack overflow.
    assert!(
        err(
            r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#,
            &[]
        )
        .contains("maximum template depth")
    );
}

#[test]
fn variables_scope_to_their_control_structure() {
    assert_eq!(
        ok(
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}",
            &[]
        ),
        "2"
    );
    assert!(
        err("{{ if true }}{{ $y := 3 }}{{ end }}{{ $y }}", &[])
            .contains(r#"undefined variable "$y""#)
    );
    assert_eq!(
        ok(
            "{{ range $i, $v := list 1 2 }}{{ end }}{{ $.a }}",
            &[("a", "root")]
        ),
        "root"
    );
    assert!(err("{{ $z = 1 }}", &[]).contains("undefined variable"));
}

#[test]
fn missing_key_is_an_error_but_index_yields_zero_value() {
    let e = err("{{ .nope }}", &[("yes", "1")]);
    assert!(e.contains(r#"map has no entry for key "nope""#), "{e}");
    assert!(
        e.starts_with("template: template:1:3: executing \"template\" at <.nope>"),
        "{e}"
    );
    // ESO's data is map[string]string: index of a missing key is "".
    assert_eq!(ok(r#"[{{ index . "nope" }}]"#, &[("yes", "1")]), "[]");
    // Dicts are map[string]interface{}: index of a missing key is nil, printed "<no value>".
    assert_eq!(ok(r#"{{ index (dict "a" 1) "b" }}"#, &[]), "<no value>");
    assert!(err(r#"{{ (dict "a" 1).b }}"#, &[]).contains(r#"map has no entry for key "b""#));
    assert!(
        err(r#"{{ $m := fromJson "{\"a\":null}" }}{{ $m.a.b }}"#, &[])
            .contains("nil data; no entry for key \"b\"")
    );
}

#[test]
fn printf_supports_go_verbs() {
    assert_eq!(
        ok(
            r#"{{ printf "%s=%d %q %v %x %05.2f %t" "k" 42 "v" (list 1 2) "hi" 3.14159 true }}"#,
            &[]
        ),
        r#"k=42 "v" [1 2] 6869 03.14 true"#
    );
    assert_eq!(
        ok(r#"{{ printf "%-5s|%5s|" "ab" "cd" }}"#, &[]),
        "ab   |   cd|"
    );
    assert_eq!(ok(r#"{{ "x" | printf "%s-%s" "a" }}"#, &[]), "a-x");
}

#[test]
fn values_print_like_go() {
    assert_eq!(
        ok(r#"{{ dict "b" 2 "a" (list 1 "x") }}"#, &[]),
        "map[a:[1 x] b:2]"
    );
    assert_eq!(ok("{{ 1.5 }} {{ 2.0 }} {{ 1e6 }}", &[]), "1.5 2 1e+06");
    assert_eq!(
        ok(r#"{{ (fromJson "{\"port\": 8080}").port }}"#, &[]),
        "8080"
    );
    assert_eq!(ok("{{ print 1 2 \"a\" \"b\" 3 }}", &[]), "1 2ab3");
    assert_eq!(ok("{{ println \"a\" 1 }}", &[]), "a 1\n");
    assert_eq!(ok("{{ default \"d\" nil }}", &[]), "d");
}

#[test]
fn comparisons_follow_go_rules() {
    assert_eq!(
        ok(
            r#"{{ eq "a" "b" "a" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 2.5 }}"#,
            &[]
        ),
        "true true true true true false"
    );
    assert!(err("{{ lt 1 \"a\" }}", &[]).contains("incompatible types for comparison"));
    assert!(err("{{ lt true false }}", &[]).contains("invalid type for comparison"));
    assert!(err("{{ eq (list 1) (list 1) }}", &[]).contains("non-comparable"));
    assert_eq!(ok("{{ eq .x nil }}", &[("x", "")]), "false");
}

#[test]
fn and_or_short_circuit_and_return_operands() {
    assert_eq!(
        ok(
            r#"{{ or "" "b" "c" }} {{ and "a" "" "c" }} {{ and 1 2 }}"#,
            &[]
        ),
        "b  2"
    );
    // The failing call after a decided operand is never evaluated.
    assert_eq!(ok(r#"{{ or "x" (fail "boom") }}"#, &[]), "x");
    assert_eq!(ok(r#"{{ and "" (fail "boom") }}"#, &[]), "");
    assert_eq!(ok(r#"{{ not "" }}"#, &[]), "true");
}

#[test]
fn builtins_len_index_html_js_urlquery() {
    assert_eq!(
        ok(
            r#"{{ len "abc" }} {{ len (list 1 2) }} {{ len . }}"#,
            &[("a", "")]
        ),
        "3 2 1"
    );
    assert_eq!(ok(r#"{{ index (list (list 1 2) 3) 0 1 }}"#, &[]), "2");
    assert_eq!(ok(r#"{{ index . "tls.crt" }}"#, &[("tls.crt", "C")]), "C");
    assert_eq!(
        ok(r#"{{ html "<a href='x'>&</a>" }}"#, &[]),
        "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(ok(r#"{{ js "it's <b>" }}"#, &[]), r"it\'s \u003Cb\u003E");
    assert_eq!(ok(r#"{{ urlquery "a b&c" }}"#, &[]), "a+b%26c");
    assert!(err("{{ index (list 1) 5 }}", &[]).contains("index out of range: 5"));
}

#[test]
fn parenthesised_pipelines_and_field_chains() {
    assert_eq!(ok(r#"{{ (dict "a" (dict "b" "deep")).a.b }}"#, &[]), "deep");
    assert_eq!(
        ok(
            r#"{{ $d := dict "a" (dict "b" "v") }}{{ $d.a.b | upper }}"#,
            &[]
        ),
        "V"
    );
    assert_eq!(ok(r#"{{ (printf "%s" "x" | upper) }}"#, &[]), "X");
}

#[test]
fn custom_delimiters_are_supported() {
    use akvsync_template::{Delimiters, Engine};
    let engine = Engine::with_options(
        Delimiters {
            left: "<<".into(),
            right: ">>".into(),
        },
        8,
    );
    let t = engine.parse("k", "<< .a >> {{ .a }}").unwrap();
    assert_eq!(
        t.execute_string(&common::data(&[("a", "1")])).unwrap(),
        "1 {{ .a }}"
    );
}

#[test]
fn parse_trees_are_cached_by_content_and_bounded() {
    use akvsync_template::{Delimiters, Engine};
    let engine = Engine::with_options(Delimiters::default(), 2);
    engine.parse("a", "{{ 1 }}").unwrap();
    engine.parse("b", "{{ 1 }}").unwrap();
    assert_eq!(engine.cached(), 1);
    engine.parse("c", "{{ 2 }}").unwrap();
    engine.parse("d", "{{ 3 }}").unwrap();
    assert_eq!(engine.cached(), 2);
    // A cached tree still executes under its new name.
    let e = engine
        .parse("key.name", "{{ .x }}")
        .unwrap()
        .execute(&Default::default())
        .unwrap_err();
    assert!(e.to_string().starts_with("template: key.name:1:3"), "{e}");
}

#[test]
fn binary_values_pass_through_render_bytes() {
    let mut data = akvsync_template::Values::new();
    data.insert("bin".into(), vec![0xff, 0x00, 0xfe]);
    assert_eq!(
        akvsync_template::render_bytes("{{ .bin }}", &data).unwrap(),
        vec![0xff, 0x00, 0xfe]
    );
    let e = akvsync_template::render("{{ .bin }}", &data).unwrap_err();
    assert!(e.to_string().contains("not valid UTF-8"));
    assert_eq!(
        akvsync_template::render("{{ .bin | b64enc }}", &data).unwrap(),
        "/wD+"
    );
}
