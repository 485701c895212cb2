//! The `java.util.Properties` parser: syntax, escapes, encodings and line numbers.

use proptest::prelude::*;
use strait_mirror::config::{ConfigError, Properties};

fn parse(text: &str) -> Properties {
    Properties::parse_str(text).unwrap()
}

fn value<'a>(props: &'a Properties, key: &str) -> &'a str {
    props
        .value(key)
        .unwrap_or_else(|| panic!("missing key {key:?} in {props:?}"))
}

fn line(props: &Properties, key: &str) -> usize {
    props
        .get(key)
        .unwrap_or_else(|| panic!("missing key {key:?}"))
        .line
}

#[test]
fn separators() {
    let props = parse(
        "k1=v1\n\
         k2 = v2\n\
         k3:v3\n\
         k4 : v4\n\
         k5 v5\n\
         k6\t\t v6\n\
         k7\x0cv7\n\
         k8 = = v8\n\
         k9==v9\n\
         k10 :=v10\n\
         k11\n\
         k12=\n",
    );
    for (k, v) in [
        ("k1", "v1"),
        ("k2", "v2"),
        ("k3", "v3"),
        ("k4", "v4"),
        ("k5", "v5"),
        ("k6", "v6"),
        ("k7", "v7"),
        ("k8", "= v8"),
        ("k9", "=v9"),
        ("k10", "=v10"),
        ("k11", ""),
        ("k12", ""),
    ] {
        assert_eq!(value(&props, k), v, "{k}");
    }
    assert_eq!(props.len(), 12);
}

#[test]
fn whitespace_and_comments() {
    let props = parse(
        "# a comment\n\
         ! another comment\n\
         \x20\x20\t# an indented comment\n\
         \n\
         \x20\x20\x20\n\
         \x20\x20indented.key = value\n\
         trailing = kept   \n\
         inline = value # not a comment\n\
         bang = a ! b\n",
    );
    assert_eq!(props.len(), 4);
    assert_eq!(value(&props, "indented.key"), "value");
    assert_eq!(value(&props, "trailing"), "kept   ");
    assert_eq!(value(&props, "inline"), "value # not a comment");
    assert_eq!(value(&props, "bang"), "a ! b");
    assert_eq!(line(&props, "indented.key"), 6);
    assert_eq!(line(&props, "bang"), 9);
}

#[test]
fn escapes() {
    let props = parse(
        "escaped\\ key = 1\n\
         a\\=b = 2\n\
         a\\:b : 3\n\
         \\#not-comment = 4\n\
         \\!bang = 5\n\
         controls = \\t\\n\\r\\f\\\\\n\
         unicode = caf\\u00e9 \\u20AC\n\
         unknown = \\q\\z\\1\n\
         surrogates = \\uD83D\\uDE00\n\
         \\u006b\\u0065\\u0079 = keyed by escapes\n\
         leading = \\  spaces kept after an escaped space\n",
    );
    assert_eq!(value(&props, "escaped key"), "1");
    assert_eq!(value(&props, "a=b"), "2");
    assert_eq!(value(&props, "a:b"), "3");
    assert_eq!(value(&props, "#not-comment"), "4");
    assert_eq!(value(&props, "!bang"), "5");
    assert_eq!(value(&props, "controls"), "\t\n\r\u{0C}\\");
    assert_eq!(value(&props, "unicode"), "café €");
    assert_eq!(value(&props, "unknown"), "qz1");
    assert_eq!(value(&props, "surrogates"), "😀");
    assert_eq!(value(&props, "key"), "keyed by escapes");
    assert_eq!(
        value(&props, "leading"),
        "  spaces kept after an escaped space"
    );
}

#[test]
fn continuation_lines() {
    let props = parse(
        "first = 1\n\
         list = a, \\\n\
         \x20\x20\x20\x20b, \\\n\
         \t\tc\n\
         after = 2\n\
         key\\\n\
         \x20\x20continued = 3\n\
         even = ends with a backslash\\\\\n\
         next = 4\n\
         eof = x\\",
    );
    assert_eq!(value(&props, "list"), "a, b, c");
    assert_eq!(line(&props, "list"), 2);
    assert_eq!(line(&props, "after"), 5);
    assert_eq!(value(&props, "keycontinued"), "3");
    assert_eq!(line(&props, "keycontinued"), 6);
    assert_eq!(value(&props, "even"), "ends with a backslash\\");
    assert_eq!(line(&props, "next"), 9);
    assert_eq!(value(&props, "eof"), "x");
}

#[test]
fn line_endings() {
    let props = parse("a=1\r\nb=2\rc=3\nd=\\\r\n  4\r\ne=5");
    assert_eq!(value(&props, "a"), "1");
    assert_eq!(value(&props, "b"), "2");
    assert_eq!(value(&props, "c"), "3");
    assert_eq!(value(&props, "d"), "4");
    assert_eq!(value(&props, "e"), "5");
    assert_eq!(
        ["a", "b", "c", "d", "e"].map(|k| line(&props, k)),
        [1, 2, 3, 4, 6]
    );
}

#[test]
fn duplicate_keys_last_wins() {
    let props = parse("dup = first\nother = x\ndup = second\n");
    assert_eq!(value(&props, "dup"), "second");
    assert_eq!(line(&props, "dup"), 3);
    assert_eq!(props.len(), 2);
    let keys: Vec<&str> = props.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["dup", "other"]);
}

#[test]
fn iso_8859_1_bytes() {
    let props =
        Properties::parse_bytes(b"name = caf\xe9\nescaped = caf\\u00e9\nutf8 = caf\xc3\xa9\n")
            .unwrap();
    assert_eq!(value(&props, "name"), "café");
    assert_eq!(value(&props, "escaped"), "café");
    // Like Java, UTF-8 bytes are read as two ISO-8859-1 characters.
    assert_eq!(value(&props, "utf8"), "cafÃ©");
}

#[test]
fn config_provider_placeholders_are_plain_text() {
    let props = parse("a = ${env:PASSWORD}\nb = ${file:/etc/secrets.properties:key}\n");
    assert_eq!(value(&props, "a"), "${env:PASSWORD}");
    assert_eq!(value(&props, "b"), "${file:/etc/secrets.properties:key}");
}

#[test]
fn malformed_unicode_escape_names_the_line() {
    for text in [
        "ok = 1\n\nbad = \\u00zz\n",
        "ok = 1\n\nbad = \\u12",
        "ok = 1\n\nb\\uXad = 1",
    ] {
        match Properties::parse_str(text) {
            Err(e @ ConfigError::Syntax { line: 3, .. }) => {
                let message = e.to_string();
                assert!(message.starts_with("line 3: "), "{message}");
                assert!(message.contains("\\uxxxx"), "{message}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

/// Escapes like `Properties.store` so any key/value survives a round trip.
fn store_escape(s: &str, is_key: bool) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        match c {
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{0C}' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (c as u32) > 0x7E => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

proptest! {
    #[test]
    fn stored_properties_round_trip(
        entries in proptest::collection::btree_map(".{1,12}", ".{0,16}", 0..8),
    ) {
        let text: String = entries
            .iter()
            .map(|(k, v)| format!("{} = {}\n", store_escape(k, true), store_escape(v, false)))
            .collect();
        let props = Properties::parse_str(&text).unwrap();
        prop_assert_eq!(props.len(), entries.len());
        for (i, (k, v)) in entries.iter().enumerate() {
            let p = props.get(k).unwrap();
            prop_assert_eq!(&p.value, v);
            prop_assert_eq!(p.line, i + 1);
        }
        let latin1: Vec<u8> = text.chars().map(|c| c as u8).collect();
        prop_assert_eq!(Properties::parse_bytes(&latin1).unwrap(), props);
    }
}
