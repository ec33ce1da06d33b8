//! Property tests of everything the template crate parses from users: templates (lexer, parser,
//! execution under its output and depth limits), PEM, PKCS#12 and JWK. Over thousands of
//! generated and mutated inputs, each call returns (Ok or an error), never panics or hangs.

use akvsync_template::crypto::{
    jwk_private_key_pem, jwk_public_key_pem, parse_pem_blocks, read_pkcs12,
};
use akvsync_template::{Engine, Values};
use proptest::prelude::*;

/// Pieces templates are made of, so generated inputs reach the parser and the executor, not
/// only the lexer's first error.
const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    ".",
    ".user",
    ".pass",
    "|",
    "(",
    ")",
    "$",
    "$x",
    ":=",
    "=",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "\"a\"",
    "`raw`",
    "'c'",
    "1",
    "-2",
    "3.5",
    "0x1f",
    "true",
    "nil",
    "upper",
    "lower",
    "b64enc",
    "b64dec",
    "printf",
    "\"%s-%d\"",
    "index",
    "len",
    "list",
    "dict",
    "default",
    "toJson",
    "fromJson",
    "trim",
    "replace",
    "repeat",
    "10",
    "until",
    "join",
    ",",
    "and",
    "or",
    "not",
    "eq",
    "lt",
    "/*",
    "*/",
    "text",
    "\n",
];

fn template_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|pieces| pieces.concat())
}

/// Valid templates, to mutate.
const CORPUS: &[&str] = &[
    "{{ .user | upper }}:{{ .pass | b64enc }}",
    "{{ range $k, $v := dict \"a\" 1 \"b\" 2 }}{{ $k }}={{ $v }};{{ end }}",
    "{{ if eq .user \"admin\" }}root{{ else }}{{ .user }}{{ end }}",
    "{{ define \"t\" }}[{{ . }}]{{ end }}{{ template \"t\" .user }}",
    "{{ printf \"%s-%q-%d\" .user .pass 3 }}",
    "{{ with .user }}{{ . | repeat 3 | trim }}{{ end }}",
    "{{- .pass | toJson | fromJson -}}",
];

fn mutated_template() -> impl Strategy<Value = String> {
    (
        prop::sample::select(CORPUS),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|(base, edits)| {
            let mut bytes = base.as_bytes().to_vec();
            for (index, byte, kind) in edits {
                let at = index.index(bytes.len() + 1);
                match kind {
                    0 => bytes.insert(at, byte),
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ if at < bytes.len() => bytes[at] = byte,
                    _ => {}
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
}

fn values() -> Values {
    Values::from([
        ("user".to_owned(), b"admin".to_vec()),
        ("pass".to_owned(), b"s3cr3t\0\xff".to_vec()),
    ])
}

/// Parses and runs `text` on a fresh engine (the global one caches every parse).
fn run(text: &str) {
    let engine = Engine::new();
    if let Ok(template) = engine.parse("property", text)
        && let Ok(output) = template.execute(&values())
    {
        assert!(output.len() <= akvsync_template::engine::exec::MAX_OUTPUT_BYTES);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn generated_templates_parse_and_run_or_fail_cleanly(text in template_text()) {
        run(&text);
    }

    #[test]
    fn mutated_templates_parse_and_run_or_fail_cleanly(text in mutated_template()) {
        run(&text);
    }

    #[test]
    fn arbitrary_text_never_panics_the_engine(text in "\\PC{0,200}") {
        run(&text);
    }

    #[test]
    fn pem_parsing_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_pem_blocks(&bytes);
    }

    #[test]
    fn mutated_pem_blocks_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..300),
        label in prop::sample::select(&["CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "X"][..]),
    ) {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
        let text = format!("-----BEGIN {label}-----\n{encoded}\n-----END {label}-----\n");
        let _ = parse_pem_blocks(text.as_bytes());
        let _ = akvsync_template::crypto::PrivateKey::from_pem(text.as_bytes());
    }

    #[test]
    fn pkcs12_parsing_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let _ = read_pkcs12(&bytes, "");
        let _ = read_pkcs12(&bytes, "password");
    }

    #[test]
    fn jwk_parsing_takes_any_json(
        kty in prop::sample::select(&["RSA", "EC", "oct", "OKP", ""][..]),
        crv in prop::sample::select(&["P-256", "P-384", "P-521", "secp256k1", ""][..]),
        fields in prop::collection::btree_map(
            prop::sample::select(&["n", "e", "d", "p", "q", "dp", "dq", "qi", "x", "y", "k"][..]),
            "[A-Za-z0-9_-]{0,90}",
            0..8,
        ),
    ) {
        let mut jwk = serde_json::json!({"kty": kty, "crv": crv});
        for (name, value) in fields {
            jwk[name] = serde_json::Value::String(value);
        }
        let json = jwk.to_string();
        let _ = jwk_public_key_pem(json.as_bytes());
        let _ = jwk_private_key_pem(json.as_bytes());
    }
}

/// Nested loops that print nothing stop at the step budget instead of running for hours, and a
/// huge integer range fails before anything is built.
#[test]
fn runaway_loops_stop_at_the_step_budget() {
    let engine = Engine::new();
    for text in [
        "{{ range until 1000 }}{{ range until 1000 }}{{ range until 1000 }}{{ end }}{{ end }}{{ end }}",
        "{{ range 1000000000000 }}{{ end }}",
    ] {
        let error = engine
            .parse("runaway", text)
            .unwrap()
            .execute(&values())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("template execution exceeds 1000000 steps"),
            "{error}"
        );
    }
}

/// Found by the generated-templates property: a newline before `-}}` is a trim marker, as in Go
/// (the lexer looped forever on it).
#[test]
fn any_space_before_the_trim_marker_trims() {
    let engine = Engine::new();
    for text in ["{{ \"a\"\n-}}  b", "{{ \"a\"\t-}}  b", "{{ \"a\" -}}  b"] {
        let output = engine
            .parse("trim", text)
            .unwrap()
            .execute(&values())
            .unwrap();
        assert_eq!(output, b"ab", "{text:?}");
    }
    let error = engine.parse("trim", "{{b\"\"'c'\n-}}");
    assert!(error.is_err() || error.unwrap().execute(&values()).is_err());
}
