//! Malformed templates and inputs give clear errors naming what failed, never a panic, and
//! never echo secret values.

mod common;
use common::render;

#[test]
fn malformed_templates_and_inputs_are_clear_errors() {
    let secret = "s3cr3t-value";
    let cases: &[(&str, &str)] = &[
        ("{{ .a ", "unclosed action"),
        ("{{ if .a }}x", "unexpected EOF"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ else }}", "unexpected {{else}}"),
        (
            "{{ range .a }}{{ else }}{{ else }}{{ end }}",
            "expected end; found {{else}}",
        ),
        (
            "{{ nosuchfunc .a }}",
            r#"function "nosuchfunc" not defined"#,
        ),
        ("{{ $x }}", r#"undefined variable "$x""#),
        ("{{ \"unterminated }}", "unterminated quoted string"),
        ("{{ 'ab' }}", "malformed character constant"),
        ("{{ 0x }}", "bad number syntax"),
        ("{{ ( .a }}", "unclosed left paren"),
        ("{{ .a ) }}", "unexpected right paren"),
        ("{{ break }}", "{{break}} outside {{range}}"),
        ("{{/* open comment }}", "unclosed comment"),
        ("{{ /* c */ }}", "unrecognized character in action"),
        ("{{ .a | 3 }}", "non executable command in pipeline stage 2"),
        ("{{ define \"x\" }}", "unexpected EOF in define clause"),
        ("{{ if }}{{ end }}", "missing value for if"),
        ("{{ @ }}", "unrecognized character in action"),
        ("{{ .missing }}", r#"map has no entry for key "missing""#),
        ("{{ .a.b }}", "can't evaluate field b in type string"),
        (
            "{{ upper 1 }}",
            "wrong type for value; expected string; got int",
        ),
        (
            "{{ upper }}",
            "wrong number of args for upper: want 1 got 0",
        ),
        (
            "{{ .a | b64dec | pkcs12key }}",
            "error calling pkcs12key: unable to decode pkcs12",
        ),
        (
            "{{ .a | pkcs12cert }}",
            "error calling pkcs12cert: unable to decode pkcs12",
        ),
        (
            "{{ .a | jwkPublicKeyPem }}",
            "error calling jwkPublicKeyPem: unable to parse jwk",
        ),
        (
            "{{ pemToPkcs12 .a .a }}",
            "error calling pemToPkcs12: no pem block found",
        ),
        ("{{ filterCertChain \"leaf\" .a }}", ""),
        (
            "{{ filterCertChain \"other\" .a }}",
            "unsupported certificate type: other",
        ),
        (
            "{{ .a | mustFromJson }}",
            "error calling mustFromJson: invalid JSON",
        ),
        (
            "{{ range .a }}{{ end }}",
            "range can't iterate over a value of type string",
        ),
        ("{{ index .a 99 }}", "index out of range: 99"),
        ("{{ template \"nope\" }}", r#"no such template "nope""#),
        ("{{ repeat -1 .a }}", "negative Repeat count"),
        ("{{ until 100000000 }}", "sequence longer than"),
        ("{{ .a 1 }}", "a is not a method but has arguments"),
        ("{{ 1 2 }}", "can't give argument to non-function 1"),
    ];
    for (template, expected) in cases {
        match render(template, &[("a", secret)]) {
            Ok(out) if expected.is_empty() => assert!(!out.contains(secret), "{template}"),
            Ok(out) => panic!(
                "{template:?} rendered {} bytes instead of failing",
                out.len()
            ),
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains(expected), "{template:?}: {message}");
                assert!(
                    message.starts_with("template: template:"),
                    "{template:?}: {message}"
                );
                assert!(
                    !message.contains(secret),
                    "{template:?} leaked the value: {message}"
                );
            }
        }
    }
}

#[test]
fn errors_carry_line_and_column_and_category() {
    let e = render("line1\n  {{ .nope }}", &[("a", "")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"template: template:2:5: executing "template" at <.nope>: map has no entry for key "nope""#
    );
    assert_eq!(e.category(), "template_execute");
    let e = render("a\n\n{{ if }}", &[]).unwrap_err();
    assert!(e.to_string().starts_with("template: template:3: "), "{e}");
    assert_eq!(e.category(), "template_parse");
    let e = render(
        r#"{{ define "d" }}{{ .x }}{{ end }}{{ template "d" . }}"#,
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains(r#"executing "d" at <.x>"#), "{e}");
}

/// Deterministic pseudo-random inputs built from template tokens: the engine must return
/// (Ok or Err) for every one of them, never panic or hang.
#[test]
fn parser_and_evaluator_never_panic_on_random_input() {
    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{-",
        "-}}",
        " ",
        "\n",
        ".",
        ".a",
        ".a.b",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        "\"s\"",
        "`raw`",
        "'c'",
        "1",
        "-2",
        "3.5",
        "0x1F",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "nil",
        "true",
        "and",
        "or",
        "not",
        "len",
        "index",
        "printf \"%q\"",
        "upper",
        "b64dec",
        "pkcs12cert",
        "toJson",
        "fromYaml",
        "dict",
        "list",
        ",",
        "/*",
        "*/",
        "x",
        "}",
        "{",
        "\"unterminated",
        "\\",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = (next() % 24) as usize;
        let text: String = (0..len)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        let result = std::panic::catch_unwind(|| render(&text, &[("a", "v")]));
        let outcome = result.unwrap_or_else(|_| panic!("panicked on {text:?}"));
        if let Err(e) = outcome {
            assert_ne!(
                e.category(),
                "template_internal",
                "internal error on {text:?}: {e}"
            );
        }
    }
}
