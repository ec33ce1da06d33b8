//! ESO v2 function set: each function with a case taken from how sprig/ESO document it.

mod common;
use common::{err, ok};

/// (template, expected output) pairs with no data.
fn table(cases: &[(&str, &str)]) {
    for (template, expected) in cases {
        assert_eq!(ok(template, &[]), *expected, "template {template}");
    }
}

#[test]
fn strings() {
    table(&[
        (r#"{{ hello }}"#, "Hello!"),
        (r#"{{ abbrev 5 "hello world" }}"#, "he..."),
        (r#"{{ abbrevboth 5 10 "1234 5678 9123" }}"#, "...5678..."),
        (
            r#"{{ trunc 5 "hello world" }}|{{ trunc -5 "hello world" }}"#,
            "hello|world",
        ),
        (r#"{{ trim "   hello    " }}"#, "hello"),
        (r#"{{ upper "hello" }} {{ lower "HELLO" }}"#, "HELLO hello"),
        (
            r#"{{ title "hello world" }}|{{ untitle "Hello World" }}"#,
            "Hello World|hello world",
        ),
        (r#"{{ substr 0 5 "hello world" }}"#, "hello"),
        (r#"{{ repeat 3 "hello" }}"#, "hellohellohello"),
        (
            r#"{{ trimAll "$" "$5.00" }}|{{ trimall "$" "$5.00" }}"#,
            "5.00|5.00",
        ),
        (
            r#"{{ trimSuffix "-" "hello-" }}{{ trimPrefix "-" "-hello" }}"#,
            "hellohello",
        ),
        (r#"{{ nospace "hello w o r l d" }}"#, "helloworld"),
        (r#"{{ initials "First Try" }}"#, "FT"),
        (r#"{{ swapcase "This Is A.Test" }}"#, "tHIS iS a.tEST"),
        (
            r#"{{ snakecase "FirstName" }} {{ kebabcase "FirstName" }} {{ camelcase "http_server" }}"#,
            "first_name first-name HttpServer",
        ),
        (r#"{{ snakecase "HTTPServer" }}"#, "http_server"),
        (r#"{{ wrap 5 "Hello World" }}"#, "Hello\nWorld"),
        (r#"{{ wrapWith 5 "\t" "Hello World" }}"#, "Hello\tWorld"),
        (
            r#"{{ contains "cat" "catch" }} {{ hasPrefix "cat" "catch" }} {{ hasSuffix "cat" "catch" }}"#,
            "true true false",
        ),
        (
            r#"{{ quote "hello" 1 }} {{ squote "hello" }}"#,
            r#""hello" "1" 'hello'"#,
        ),
        (
            r#"{{ cat "hello" "beautiful" "world" }}"#,
            "hello beautiful world",
        ),
        (r#"{{ indent 4 "a\nb" }}"#, "    a\n    b"),
        (r#"{{ nindent 4 "a" }}"#, "\n    a"),
        (
            r#"{{ "I Am Henry VIII" | replace " " "-" }}"#,
            "I-Am-Henry-VIII",
        ),
    ]);
    assert_eq!(
        ok(
            r#"{{ len .x | plural "one anchovy" "many anchovies" }}"#,
            &[("x", "a")]
        ),
        "one anchovy"
    );
    assert_eq!(
        ok(
            r#"{{ len .x | plural "one anchovy" "many anchovies" }}"#,
            &[("x", "ab")]
        ),
        "many anchovies"
    );
    assert_eq!(ok(r#"{{ toString 42 }}{{ toString "s" }}"#, &[]), "42s");
    for f in ["randAlphaNum", "randAlpha", "randNumeric", "randAscii"] {
        let out = ok(&format!("{{{{ {f} 12 }}}}"), &[]);
        assert_eq!(out.len(), 12, "{f}");
    }
    assert!(
        ok("{{ randNumeric 20 }}", &[])
            .chars()
            .all(|c| c.is_ascii_digit())
    );
    let mut shuffled: Vec<char> = ok(r#"{{ shuffle "hello" }}"#, &[]).chars().collect();
    shuffled.sort();
    assert_eq!(shuffled, vec!['e', 'h', 'l', 'l', 'o']);
}

#[test]
fn hashes_and_encodings() {
    table(&[
        (
            r#"{{ sha1sum "Hello world!" }}"#,
            "d3486ae9136e7856bc42212385ea797094475802",
        ),
        (
            r#"{{ sha256sum "Hello world!" }}"#,
            "c0535e4be2b79ffd93291305436bf889314e4a3faec05ecffcbb7df31ad9e51a",
        ),
        (
            r#"{{ sha512sum "Hello world!" }}"#,
            "f6cde2a0f819314cdde55fc227d8d7dae3d28cc556222a0a8ad66d91ccad4aad6094f517a2182360c9aacf6a3dc323162cb6fd8cdffedb0fe038f55e85ffb5b6",
        ),
        (r#"{{ adler32sum "Hello world!" }}"#, "487130206"),
        (
            r#"{{ b64enc "hello" }} {{ b64dec "aGVsbG8=" }}"#,
            "aGVsbG8= hello",
        ),
        // sprig returns the decoder's error as the value.
        (
            r#"{{ b64dec "!!!!" }}"#,
            "illegal base64 data at input byte 0",
        ),
        (
            r#"{{ b32enc "hello" }} {{ b32dec "NBSWY3DP" }}"#,
            "NBSWY3DP hello",
        ),
        (r#"{{ hexdec "68656c6c6f" }}"#, "hello"),
    ]);
    // Go's base64 ignores line breaks.
    assert_eq!(ok("{{ .v | b64dec }}", &[("v", "aGVs\nbG8=\r\n")]), "hello");
    let out = ok("{{ randBytes 24 | b64dec | len }}", &[]);
    assert_eq!(out, "24");
    assert_eq!(
        ok(
            r#"{{ encryptAES "secretkey" "plaintext" | decryptAES "secretkey" }}"#,
            &[]
        ),
        "plaintext"
    );
}

#[test]
fn conversion_and_math() {
    table(&[
        (r#"{{ atoi "42" }} {{ atoi "x" }}"#, "42 0"),
        (
            r#"{{ int64 "42" }} {{ int "0x10" }} {{ int 3.9 }} {{ float64 "1.5" }}"#,
            "42 16 3 1.5",
        ),
        (
            r#"{{ seq 5 }}|{{ seq -3 }}|{{ seq 0 2 }}|{{ seq 2 -2 }}|{{ seq 0 2 10 }}|{{ seq 0 -2 -5 }}"#,
            "1 2 3 4 5|1 0 -1 -2 -3|0 1 2|2 1 0 -1 -2|0 2 4 6 8 10|0 -2 -4",
        ),
        (r#"{{ toDecimal "0777" }}"#, "511"),
        (
            r#"{{ until 5 }} {{ untilStep 3 6 2 }}"#,
            "[0 1 2 3 4] [3 5]",
        ),
        (
            r#"{{ add1 1 }} {{ add 1 2 3 }} {{ sub 3 2 }} {{ div 6 3 }} {{ mod 5 3 }} {{ mul 2 3 4 }}"#,
            "2 6 1 2 2 24",
        ),
        (
            r#"{{ add1f 1.5 }} {{ addf 1.5 2 2 }} {{ subf 7.5 2 3 }} {{ divf 10 4 }} {{ mulf 1.5 2 2 }}"#,
            "2.5 5.5 2.5 2.5 6",
        ),
        (
            r#"{{ biggest 1 2 3 }} {{ max 1 2 3 }} {{ min 1 2 3 }} {{ maxf 1 2.5 3 }} {{ minf 1.5 2 3 }}"#,
            "3 3 1 3 1.5",
        ),
        (
            r#"{{ ceil 1.1 }} {{ floor 1.9 }} {{ round 123.555555 3 }}"#,
            "2 1 123.556",
        ),
        (
            r#"{{ list "c" "a" "b" | sortAlpha }} {{ join "_" (list "a" "b" 3) }}"#,
            "[a b c] a_b_3",
        ),
    ]);
    table(&[
        (
            r#"{{ split "$" "foo$bar$baz" }}"#,
            "map[_0:foo _1:bar _2:baz]",
        ),
        (r#"{{ splitList "$" "foo$bar$baz" }}"#, "[foo bar baz]"),
        (
            r#"{{ splitn "$" 2 "foo$bar$baz" }}"#,
            "map[_0:foo _1:bar$baz]",
        ),
        (r#"{{ (split "$" "foo$bar")._1 }}"#, "bar"),
        (r#"{{ toStrings (list 1 2 3) }}"#, "[1 2 3]"),
    ]);
    let n: i64 = ok("{{ randInt 12 30 }}", &[]).parse().unwrap();
    assert!((12..30).contains(&n));
    assert!(
        err("{{ div 1 0 }}", &[])
            .contains("error calling div: runtime error: integer divide by zero")
    );
}

#[test]
fn defaults_json_and_reflection() {
    table(&[
        (
            r#"{{ default "foo" "" }} {{ default "foo" "bar" }}"#,
            "foo bar",
        ),
        (
            r#"{{ empty "" }} {{ empty (list) }} {{ empty 1 }}"#,
            "true true false",
        ),
        (
            r#"{{ coalesce 0 "" "x" }} {{ all 0 1 }} {{ any 0 1 }}"#,
            "x false true",
        ),
        (
            r#"{{ compact (list 1 "" 2) }} {{ mustCompact (list "" "a") }}"#,
            "[1 2] [a]",
        ),
        (
            r#"{{ toJson (dict "a" "<b>" "n" 1 "f" 1.5 "l" (list true nil)) }}"#,
            r#"{"a":"\u003cb\u003e","f":1.5,"l":[true,null],"n":1}"#,
        ),
        (
            r#"{{ toRawJson (dict "a" "<b>") }} {{ mustToRawJson (list "&") }}"#,
            r#"{"a":"<b>"} ["&"]"#,
        ),
        (
            r#"{{ toPrettyJson (dict "a" 1 "b" (list)) }}"#,
            "{\n  \"a\": 1,\n  \"b\": []\n}",
        ),
        (
            r#"{{ mustToPrettyJson (list 1) }} {{ mustToJson "x" }}"#,
            "[\n  1\n] \"x\"",
        ),
        (
            r#"{{ (fromJson "{\"a\":{\"b\":[1,2]}}").a.b }} {{ fromJson "not json" }}"#,
            "[1 2] <no value>",
        ),
        (r#"{{ mustFromJson "[1]" }}"#, "[1]"),
        (
            r#"{{ ternary "foo" "bar" true }} {{ true | ternary "foo" "bar" }}"#,
            "foo foo",
        ),
        (
            r#"{{ $a := dict "k" "v" }}{{ $b := deepCopy $a }}{{ $_ := set $b "k" "w" }}{{ $a.k }}{{ (mustDeepCopy $b).k }}"#,
            "vw",
        ),
        (
            r#"{{ typeOf 1 }} {{ typeOf "s" }} {{ typeOf (dict) }} {{ typeOf . }}"#,
            "int string map[string]interface {} map[string]string",
        ),
        (
            r#"{{ typeIs "string" "x" }} {{ typeIsLike "int" 1 }} {{ kindOf (list) }} {{ kindIs "map" (dict) }}"#,
            "true true slice true",
        ),
        (
            r#"{{ deepEqual (list 1 (dict "a" 2)) (list 1 (dict "a" 2)) }}"#,
            "true",
        ),
    ]);
    assert!(err(r#"{{ mustFromJson "{" }}"#, &[]).contains("error calling mustFromJson"));
}

#[test]
fn lists_and_dicts() {
    table(&[
        (r#"{{ list 1 "a" }} {{ tuple 1 2 }}"#, "[1 a] [1 2]"),
        (
            r#"{{ $d := dict "name1" "value1" "name2" }}{{ $d }}"#,
            "map[name1:value1 name2:]",
        ),
        (
            r#"{{ $d := dict "a" 1 }}{{ get $d "a" }}[{{ get $d "zz" }}]"#,
            "1[]",
        ),
        (
            r#"{{ $d := dict }}{{ $_ := set $d "k" "v" }}{{ $d.k }}{{ $_ := unset $d "k" }}{{ hasKey $d "k" }}"#,
            "vfalse",
        ),
        (
            r#"{{ pluck "name" (dict "name" "a") (dict "x" 1) (dict "name" "b") }}"#,
            "[a b]",
        ),
        (
            r#"{{ keys (dict "b" 1 "a" 2) }} {{ values (dict "b" 1 "a" 2) }}"#,
            "[a b] [2 1]",
        ),
        (
            r#"{{ pick (dict "a" 1 "b" 2 "c" 3) "a" "c" }} {{ omit (dict "a" 1 "b" 2) "a" }}"#,
            "map[a:1 c:3] map[b:2]",
        ),
        (
            r#"{{ merge (dict "a" 1 "n" (dict "x" 1)) (dict "a" 2 "b" 3 "n" (dict "y" 2)) }}"#,
            "map[a:1 b:3 n:map[x:1 y:2]]",
        ),
        (
            r#"{{ mergeOverwrite (dict "a" 1) (dict "a" 2 "b" 3) }} {{ mustMerge (dict) (dict "z" 1) }} {{ mustMergeOverwrite (dict "a" 1) (dict "a" 5) }}"#,
            "map[a:2 b:3] map[z:1] map[a:5]",
        ),
        (
            r#"{{ append (list 1 2) 3 }} {{ mustAppend (list) 1 }} {{ prepend (list 2) 1 }} {{ mustPrepend (list 2) 1 }}"#,
            "[1 2 3] [1] [1 2] [1 2]",
        ),
        (
            r#"{{ first (list 1 2 3) }} {{ mustFirst (list 4) }} {{ rest (list 1 2 3) }} {{ mustRest (list 1 2) }}"#,
            "1 4 [2 3] [2]",
        ),
        (
            r#"{{ last (list 1 2 3) }} {{ mustLast (list 4) }} {{ initial (list 1 2 3) }} {{ mustInitial (list 1 2) }}"#,
            "3 4 [1 2] [1]",
        ),
        (
            r#"{{ reverse (list 1 2 3) }} {{ mustReverse (list 1 2) }} {{ uniq (list 1 1 2) }} {{ mustUniq (list "a" "a") }}"#,
            "[3 2 1] [2 1] [1 2] [a]",
        ),
        (
            r#"{{ without (list 1 2 3 2) 2 }} {{ mustWithout (list 1 2) 1 }} {{ has 4 (list 1 2 3 4) }} {{ mustHas 5 (list 1) }}"#,
            "[1 3] [2] true false",
        ),
        (
            r#"{{ slice (list 1 2 3 4 5) 1 3 }} {{ mustSlice (list 1 2 3) 1 }} {{ slice (list 1 2) }}"#,
            "[2 3] [2 3] [1 2]",
        ),
        (r#"{{ concat (list 1 2) (list 3) }}"#, "[1 2 3]"),
        (
            r#"{{ dig "a" "b" "none" (dict "a" (dict "b" "found")) }} {{ dig "a" "x" "none" (dict "a" (dict)) }}"#,
            "found none",
        ),
        (
            r#"{{ chunk 2 (list 1 2 3) }} {{ mustChunk 3 (list 1) }}"#,
            "[[1 2] [3]] [[1]]",
        ),
    ]);
    // sprig's slice replaces Go's builtin: strings are rejected, as in ESO.
    assert!(
        err(r#"{{ slice "abc" 1 2 }}"#, &[])
            .contains("list should be type of slice or array but string")
    );
    assert!(err(r#"{{ first "x" }}"#, &[]).contains("error calling first"));
}

#[test]
fn regexes() {
    table(&[
        (
            r#"{{ regexMatch "^[a-z]+$" "abc" }} {{ mustRegexMatch "^[0-9]+$" "abc" }}"#,
            "true false",
        ),
        (
            r#"{{ regexFindAll "[2,4,6,8]" "123456789" -1 }} {{ mustRegexFindAll "[2,4,6,8]" "123456789" 2 }}"#,
            "[2 4 6 8] [2 4]",
        ),
        (
            r#"{{ regexFind "[a-zA-Z][1-9]" "abcd1234" }} {{ mustRegexFind "x" "abc" }}"#,
            "d1 ",
        ),
        (
            r#"{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }} {{ mustRegexReplaceAll "a(x*)b" "-ab-" "X" }}"#,
            "-W-xxW- -X-",
        ),
        (
            r#"{{ regexReplaceAllLiteral "a(x*)b" "-ab-axxb-" "${1}" }} {{ mustRegexReplaceAllLiteral "b" "ab" "$" }}"#,
            "-${1}-${1}- a$",
        ),
        (
            r#"{{ regexSplit "z+" "pizza" -1 }} {{ mustRegexSplit "z+" "pizza" 1 }}"#,
            "[pi a] [pizza]",
        ),
        (r#"{{ regexQuoteMeta "1.2.3" }}"#, r"1\.2\.3"),
    ]);
    assert!(
        err(r#"{{ regexMatch "(" "x" }}"#, &[])
            .contains("error calling regexMatch: error parsing regexp")
    );
}

#[test]
fn paths_urls_uuid_semver_fail() {
    table(&[
        (
            r#"{{ base "foo/bar/baz" }} {{ dir "foo/bar/baz" }} {{ clean "foo/bar/../baz" }} {{ ext "foo.bar" }} {{ isAbs "/x" }}"#,
            "baz foo/bar foo/baz .bar true",
        ),
        (
            r#"{{ osBase "/a/b" }} {{ osDir "/a/b" }} {{ osClean "a//b/./c" }} {{ osExt "x.tar.gz" }} {{ osIsAbs "a" }}"#,
            "b /a a/b/c .gz false",
        ),
        (
            r#"{{ $u := urlParse "http://admin:secret@server.com:8080/api?list=false#anchor" }}{{ $u.scheme }} {{ $u.host }} {{ $u.hostname }} {{ $u.path }} {{ $u.query }} {{ $u.fragment }} {{ $u.userinfo }}"#,
            "http server.com:8080 server.com /api list=false anchor admin:secret",
        ),
        (
            r#"{{ urlJoin (dict "fragment" "fragment" "host" "host:80" "path" "/path" "query" "query" "scheme" "http") }}"#,
            "http://host:80/path?query#fragment",
        ),
        (
            r#"{{ (semver "1.2.3-alpha.1+123").Major }} {{ (semver "v1.2.3").Minor }}"#,
            "1 2",
        ),
        (
            r#"{{ semverCompare "^1.2.0" "1.2.3" }} {{ semverCompare "~1.2.0" "1.3.0" }} {{ semverCompare ">= 1.2, < 3.0" "2.1.0" }} {{ semverCompare "1.2.x" "1.2.9" }} {{ semverCompare ">1.0 || <0.5" "0.4.0" }}"#,
            "true false true true true",
        ),
    ]);
    let id = ok("{{ uuidv4 }}", &[]);
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4");
    let e = err(r#"{{ fail "please set a value" }}"#, &[]);
    assert!(e.ends_with("error calling fail: please set a value"), "{e}");
    assert!(err(r#"{{ semver "not.a.version" }}"#, &[]).contains("Invalid Semantic Version"));
}

#[test]
fn dates() {
    table(&[
        (
            r#"{{ toDate "2006-01-02" "2017-12-31" | date "02/01/2006" }}"#,
            "31/12/2017",
        ),
        (
            r#"{{ mustToDate "2006-01-02" "2017-12-31" | unixEpoch }}"#,
            "1514678400",
        ),
        (
            r#"{{ dateInZone "2006-01-02 15:04" (toDate "2006-01-02" "2017-12-31") "UTC" }}"#,
            "2017-12-31 00:00",
        ),
        (
            r#"{{ date_in_zone "15:04 Z07:00" (toDate "2006-01-02" "2017-12-31") "+02:00" }}"#,
            "02:00 +02:00",
        ),
        (
            r#"{{ htmlDate 0 }} {{ htmlDateInZone 0 "UTC" }}"#,
            "1970-01-01 1970-01-01",
        ),
        (
            r#"{{ toDate "2006-01-02" "2017-12-31" | dateModify "-1.5h" | date "2006-01-02 15:04" }}"#,
            "2017-12-30 22:30",
        ),
        (
            r#"{{ toDate "2006-01-02" "2017-12-31" | date_modify "24h" | htmlDate }}"#,
            "2018-01-01",
        ),
        (
            r#"{{ toDate "2006-01-02" "2017-12-31" | mustDateModify "1h" | date "15" }} {{ toDate "2006-01-02" "2017-12-31" | must_date_modify "2h" | date "15" }}"#,
            "01 02",
        ),
        (
            r#"{{ duration "95" }} {{ durationRound "2h10m5s" }}"#,
            "1m35s 2h",
        ),
        (r#"{{ now | ago }}"#, "0s"),
    ]);
    let year: i32 = ok(r#"{{ now | date "2006" }}"#, &[]).parse().unwrap();
    assert!(year >= 2024);
    assert!(
        err(r#"{{ mustToDate "2006-01-02" "nope" }}"#, &[])
            .contains("error calling mustToDate: parsing time")
    );
    assert!(err(r#"{{ now | mustDateModify "5 parsecs" }}"#, &[]).contains("time: "));
}

#[test]
fn eso_pem_jwk_yaml_and_rsa_functions() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let leaf = std::fs::read_to_string(format!("{dir}/leaf.crt")).unwrap();
    let cas = std::fs::read_to_string(format!("{dir}/cas.pem")).unwrap();
    let key = std::fs::read_to_string(format!("{dir}/leaf.key")).unwrap();
    assert_eq!(
        ok("{{ .crt | certSANs }}", &[("crt", &leaf)]),
        "[app.example.com www.example.com 10.0.0.1 ops@example.com https://example.com/id]"
    );
    let bundle = format!("{cas}{leaf}");
    let truststore = ok(
        r#"{{ .b | pemTruststoreToPKCS12 | b64dec | pkcs12cert }}"#,
        &[("b", &bundle)],
    );
    assert_eq!(truststore.matches("BEGIN CERTIFICATE").count(), 3);
    assert!(
        err(
            r#"{{ .b | pemTruststoreToPKCS12 | b64dec | pkcs12key }}"#,
            &[("b", &bundle)]
        )
        .contains("pkcs12 contains no private key")
    );
    let pass = ok(
        r#"{{ pemTruststoreToPKCS12Pass .b "pw" | b64dec | pkcs12certPass "pw" }}"#,
        &[("b", &bundle)],
    );
    assert_eq!(pass, truststore);
    assert_eq!(
        ok(
            r#"{{ filterCertChain "intermediate" .b }}"#,
            &[("b", &bundle)]
        )
        .matches("BEGIN")
        .count(),
        1
    );
    assert!(
        err(r#"{{ filterPEM "CERTIFICATE" "junk" }}"#, &[])
            .contains("error filtering pem: found junk")
    );

    // jwkPublicKeyPem on Key Vault's key/ JSON, jwkPrivateKeyPem on an exportable JWK.
    let private = akvsync_template::crypto::PrivateKey::from_pem(key.as_bytes()).unwrap();
    let jwk = serde_json::to_string(&private.to_import_jwk().unwrap()).unwrap();
    let public_pem = ok("{{ .k | jwkPublicKeyPem }}", &[("k", &jwk)]);
    assert_eq!(public_pem, private.public_key().to_pem().unwrap());
    assert_eq!(
        ok("{{ .k | jwkPrivateKeyPem }}", &[("k", &jwk)]),
        private.to_pkcs8_pem().unwrap()
    );

    table(&[
        (
            r#"{{ toYaml (dict "a" (list 1 2) "b" "x") }}"#,
            "a:\n- 1\n- 2\nb: x",
        ),
        (
            r#"{{ (fromYaml "a: 1\nb: [x, y]").b }} {{ (fromYaml "a: 1").a }}"#,
            "[x y] 1",
        ),
        (
            r#"{{ (fromYaml "- a").Error }}"#,
            "error unmarshaling JSON: json: cannot unmarshal array into Go value of type map[string]interface {}",
        ),
        (
            r#"{{ rsaDecrypt "None" "SHA256" "passthrough" "unused" }}"#,
            "passthrough",
        ),
    ]);
    let ciphertext = match &private {
        akvsync_template::crypto::PrivateKey::Rsa(k) => k
            .to_public_key()
            .oaep_encrypt::<rsa::sha2::Sha256>(b"the secret")
            .unwrap(),
        _ => unreachable!(),
    };
    let mut data = common::data(&[("key", &key)]);
    data.insert("ct".into(), ciphertext);
    assert_eq!(
        akvsync_template::render(r#"{{ rsaDecrypt "RSA-OAEP" "SHA256" .ct .key }}"#, &data)
            .unwrap(),
        "the secret"
    );
    assert!(
        akvsync_template::render(r#"{{ rsaDecrypt "RSA-OAEP" "SHA1" .ct .key }}"#, &data)
            .unwrap_err()
            .to_string()
            .contains("decryption failed")
    );
}

#[test]
fn functions_eso_removed_are_not_defined() {
    for f in ["env", "expandenv", "getHostByName", "call"] {
        let e = err(&format!("{{{{ {f} \"x\" }}}}"), &[]);
        assert!(e.contains(&format!("function \"{f}\" not defined")), "{e}");
    }
}

/// Every registered function appears in at least one test file.
#[test]
fn every_registered_function_has_a_test_case() {
    let dir = format!("{}/tests", env!("CARGO_MANIFEST_DIR"));
    let mut corpus = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            corpus.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let missing: Vec<&str> = akvsync_template::functions::FunctionTable::eso_v2()
        .names()
        .into_iter()
        .filter(|name| {
            !corpus.match_indices(name).any(|(i, _)| {
                let before = corpus[..i].chars().last();
                let after = corpus[i + name.len()..].chars().next();
                !before.is_some_and(is_word) && !after.is_some_and(is_word)
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "functions without a test case: {missing:?}"
    );
}
