//! JSON string quoting exactly as Jackson's `UTF8JsonGenerator` does by default.

/// Appends `s` as a quoted JSON string, escaping like Jackson.
///
/// Jackson escapes `"` and `\`, uses the short forms `\b \t \n \f \r`, writes other control
/// characters (U+0000..U+001F) as `\u00XX` with upper-case hex, and writes everything else
/// (including `/`, DEL and non-ASCII) as raw UTF-8.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_json_string;

    fn quote(s: &str) -> String {
        let mut out = String::new();
        push_json_string(&mut out, s);
        out
    }

    #[test]
    fn matches_jackson_escapes() {
        assert_eq!(quote("abc"), r#""abc""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("\u{8}\t\n\u{c}\r"), r#""\b\t\n\f\r""#);
        // Jackson's own CharTypes test vectors.
        assert_eq!(quote("\u{0}"), r#""\u0000""#);
        assert_eq!(quote("\u{1f}"), r#""\u001F""#);
        assert_eq!(quote("\u{1}ABCD\u{2}"), r#""\u0001ABCD\u0002""#);
        assert_eq!(quote("WX\u{f}\u{10}YZ"), r#""WX\u000F\u0010YZ""#);
        assert_eq!(quote("a/b\u{7f}é€"), "\"a/b\u{7f}é€\"");
    }
}
