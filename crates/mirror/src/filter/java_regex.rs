//! Java regex (java.util.regex) to Rust `regex` translation: what MM2 filter patterns mean,
//! anchored for full-match, or a clear rejection of what Rust cannot honour.

use std::fmt::Write as _;

use super::FilterError;

/// Translates the Java regex `pattern` and compiles it anchored at both ends.
pub(super) fn compile_full_match(pattern: &str) -> Result<regex::Regex, FilterError> {
    let translated = Translator::new(pattern).run()?;
    regex::Regex::new(&format!("^(?:{translated})$")).map_err(|e| FilterError::Invalid {
        pattern: pattern.to_owned(),
        reason: rust_reason(&e),
    })
}

/// The one-line reason of a `regex` error (without its caret diagram of the translated pattern).
fn rust_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(|| text.trim().to_owned(), str::to_owned)
}

/// Rewrites a Java regex into Rust `regex` syntax with the same meaning, or rejects it.
struct Translator<'a> {
    pattern: &'a str,
    chars: Vec<char>,
    pos: usize,
    out: String,
    /// Nesting depth of character classes (`[a[b]]` nests in both dialects).
    class_depth: usize,
    /// Open groups, to reject a stray `)` before it could escape the `^(?:…)$` anchoring.
    group_depth: usize,
}

impl<'a> Translator<'a> {
    fn new(pattern: &'a str) -> Self {
        Self {
            pattern,
            chars: pattern.chars().collect(),
            pos: 0,
            out: String::with_capacity(pattern.len() + 8),
            class_depth: 0,
            group_depth: 0,
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn rest_starts_with(&self, s: &str) -> bool {
        (self.pos..)
            .zip(s.chars())
            .all(|(i, c)| self.chars.get(i) == Some(&c))
    }

    fn unsupported(&self, construct: impl Into<String>) -> FilterError {
        FilterError::Unsupported {
            pattern: self.pattern.to_owned(),
            construct: construct.into(),
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> FilterError {
        FilterError::Invalid {
            pattern: self.pattern.to_owned(),
            reason: reason.into(),
        }
    }

    fn run(mut self) -> Result<String, FilterError> {
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            if self.class_depth > 0 {
                self.class_char(c)?;
            } else {
                self.char(c)?;
            }
        }
        if self.class_depth > 0 {
            return Err(self.invalid("unclosed character class"));
        }
        if self.group_depth > 0 {
            return Err(self.invalid("unclosed group"));
        }
        Ok(self.out)
    }

    /// One character outside character classes.
    fn char(&mut self, c: char) -> Result<(), FilterError> {
        match c {
            '\\' => self.escape(),
            '[' => {
                self.open_class();
                Ok(())
            }
            '(' => self.group(),
            ')' => {
                if self.group_depth == 0 {
                    return Err(self.invalid("unmatched closing `)`"));
                }
                self.group_depth -= 1;
                self.out.push(')');
                Ok(())
            }
            '*' | '+' | '?' => {
                self.out.push(c);
                self.quantifier_suffix()
            }
            '{' => self.repetition(),
            _ => {
                self.out.push(c);
                Ok(())
            }
        }
    }

    /// After a quantifier: lazy `?` is shared by both dialects, possessive `+` is not.
    fn quantifier_suffix(&mut self) -> Result<(), FilterError> {
        match self.peek(0) {
            Some('+') => Err(self.unsupported("possessive quantifier")),
            Some('?') => {
                self.pos += 1;
                self.out.push('?');
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `{n}`, `{n,}` or `{n,m}`; Java rejects any other `{`.
    fn repetition(&mut self) -> Result<(), FilterError> {
        let start = self.pos;
        let mut end = start;
        while end < self.chars.len() && (self.chars[end].is_ascii_digit() || self.chars[end] == ',')
        {
            end += 1;
        }
        let body: String = self.chars[start..end].iter().collect();
        let valid = self.chars.get(end) == Some(&'}') && {
            let (min, max) = body.split_once(',').unwrap_or((&body, "0"));
            !min.is_empty() && !max.contains(',')
        };
        if !valid {
            return Err(self.invalid("illegal repetition `{`"));
        }
        self.pos = end + 1;
        let _ = write!(self.out, "{{{body}}}");
        self.quantifier_suffix()
    }

    /// After `(`: plain, non-capturing, named and flag groups pass; look-around and atomic don't.
    fn group(&mut self) -> Result<(), FilterError> {
        if self.peek(0) != Some('?') {
            self.group_depth += 1;
            self.out.push('(');
            return Ok(());
        }
        if self.rest_starts_with("?=") || self.rest_starts_with("?!") {
            return Err(self.unsupported("look-ahead"));
        }
        if self.rest_starts_with("?<=") || self.rest_starts_with("?<!") {
            return Err(self.unsupported("look-behind"));
        }
        if self.rest_starts_with("?>") {
            return Err(self.unsupported("atomic group"));
        }
        if self.rest_starts_with("?<") || self.rest_starts_with("?:") {
            self.pos += 1;
            self.group_depth += 1;
            self.out.push_str("(?");
            return Ok(());
        }
        self.flags()
    }

    /// `(?idmsuxU-idmsuxU)` or `(?flags:X)`: Java's `d` and `u` have no Rust counterpart worth
    /// keeping, and Java's `U` (Unicode classes) means "ungreedy" in Rust.
    fn flags(&mut self) -> Result<(), FilterError> {
        self.pos += 1; // '?'
        let (mut on, mut off, mut negate) = (String::new(), String::new(), false);
        loop {
            match self.peek(0) {
                Some('-') => negate = true,
                Some('U') => {
                    return Err(self.unsupported("Java's UNICODE_CHARACTER_CLASS flag `(?U)`"))
                }
                Some('d' | 'u') => {}
                Some(f) if f.is_ascii_alphabetic() => {
                    if negate { &mut off } else { &mut on }.push(f);
                }
                Some(')') => {
                    self.pos += 1;
                    if !on.is_empty() || !off.is_empty() {
                        self.out.push_str(&flag_group(&on, &off, ')'));
                    }
                    return Ok(());
                }
                Some(':') => {
                    self.pos += 1;
                    self.group_depth += 1;
                    self.out.push_str(&flag_group(&on, &off, ':'));
                    return Ok(());
                }
                _ => return Err(self.invalid("unknown group syntax after `(?`")),
            }
            self.pos += 1;
        }
    }

    /// Opens a (possibly nested) character class.
    fn open_class(&mut self) {
        self.class_depth += 1;
        self.out.push('[');
        if self.peek(0) == Some('^') {
            self.pos += 1;
            self.out.push('^');
        }
        // A `]` right after `[` or `[^` is a literal in Java.
        if self.peek(0) == Some(']') {
            self.pos += 1;
            self.out.push_str("\\]");
        }
    }

    /// One character inside a character class.
    fn class_char(&mut self, c: char) -> Result<(), FilterError> {
        match c {
            '\\' => self.escape(),
            '[' => {
                self.open_class();
                Ok(())
            }
            ']' => {
                self.class_depth -= 1;
                self.out.push(']');
                Ok(())
            }
            // `[:alpha:]` is an ASCII class in Rust but literal characters in Java.
            ':' => {
                self.out.push_str("\\x{3A}");
                Ok(())
            }
            // `~~` is symmetric difference in Rust, literal in Java.
            '~' => {
                self.out.push_str("\\x{7E}");
                Ok(())
            }
            // `--` is set difference in Rust; in Java the second `-` ends a range (`[+--]`).
            '-' if self.out.ends_with('-') => {
                self.out.push_str("\\x{2D}");
                Ok(())
            }
            _ => {
                self.out.push(c);
                Ok(())
            }
        }
    }

    /// After a backslash, in or outside a class.
    fn escape(&mut self) -> Result<(), FilterError> {
        let Some(c) = self.peek(0) else {
            return Err(self.invalid("trailing backslash"));
        };
        self.pos += 1;
        let in_class = self.class_depth > 0;
        match c {
            'Q' => {
                while self.pos < self.chars.len() && !self.rest_starts_with("\\E") {
                    let literal = self.chars[self.pos];
                    self.push_literal(literal);
                    self.pos += 1;
                }
                self.pos = (self.pos + 2).min(self.chars.len());
            }
            '1'..='9' => return Err(self.unsupported("backreference")),
            'k' => return Err(self.unsupported("named backreference")),
            '0' => self.octal()?,
            'c' => {
                let Some(x) = self.peek(0) else {
                    return Err(self.invalid("`\\c` needs a control character"));
                };
                self.pos += 1;
                self.push_code(u32::from(x) ^ 64);
            }
            'e' => self.out.push_str("\\x{1B}"),
            'a' => self.out.push_str("\\x{07}"),
            'x' => self.hex_escape()?,
            't' | 'n' | 'r' | 'f' | 'B' | 'A' | 'z' => {
                self.out.push('\\');
                self.out.push(c);
            }
            'b' if self.peek(0) == Some('{') => {
                return Err(self.unsupported("grapheme boundary `\\b{g}`"))
            }
            'b' => self.out.push_str("\\b"),
            'Z' => self.out.push_str("\\z"),
            'u' => self.unicode_escape()?,
            'd' => self.out.push_str("[0-9]"),
            'D' => self.out.push_str("[^0-9]"),
            'w' => self.out.push_str("[0-9A-Za-z_]"),
            'W' => self.out.push_str("[^0-9A-Za-z_]"),
            's' => self.out.push_str("[\\t\\n\\x{0B}\\f\\r ]"),
            'S' => self.out.push_str("[^\\t\\n\\x{0B}\\f\\r ]"),
            'h' => self.out.push_str(&format!("[{HORIZONTAL_SPACE}]")),
            'H' => self.out.push_str(&format!("[^{HORIZONTAL_SPACE}]")),
            'v' => self.out.push_str(&format!("[{VERTICAL_SPACE}]")),
            'V' => self.out.push_str(&format!("[^{VERTICAL_SPACE}]")),
            'R' if !in_class => self.out.push_str(&format!("(?:\\r\\n|[{VERTICAL_SPACE}])")),
            'X' => return Err(self.unsupported("grapheme cluster `\\X`")),
            'G' => return Err(self.unsupported("end-of-previous-match anchor `\\G`")),
            'N' => return Err(self.unsupported("named character `\\N{...}`")),
            'p' | 'P' => self.property(c == 'P')?,
            c if c.is_ascii_alphanumeric() => {
                return Err(self.invalid(format!("illegal/unsupported escape sequence `\\{c}`")))
            }
            // Java lets any other character be escaped to stand for itself.
            c => self.push_literal(c),
        }
        Ok(())
    }

    /// A character that must match itself.
    fn push_literal(&mut self, c: char) {
        if c.is_ascii_alphanumeric() || (c as u32) > 0x7F {
            self.out.push(c);
        } else {
            self.push_code(u32::from(c));
        }
    }

    fn push_code(&mut self, code: u32) {
        let _ = write!(self.out, "\\x{{{code:X}}}");
    }

    /// `\0n`, `\0nn` or `\0mnn` (m ≤ 3).
    fn octal(&mut self) -> Result<(), FilterError> {
        let digit = |c: Option<char>| c.and_then(|c| c.to_digit(8));
        let Some(first) = digit(self.peek(0)) else {
            return Err(self.invalid("illegal octal escape sequence"));
        };
        let mut value = first;
        let mut taken = 1;
        let max_digits = if first <= 3 { 3 } else { 2 };
        while taken < max_digits {
            match digit(self.peek(taken)) {
                Some(d) => value = value * 8 + d,
                None => break,
            }
            taken += 1;
        }
        self.pos += taken;
        self.push_code(value);
        Ok(())
    }

    /// `\xhh` or `\x{h...h}`.
    fn hex_escape(&mut self) -> Result<(), FilterError> {
        let code = if self.peek(0) == Some('{') {
            let close = self.chars[self.pos..].iter().position(|&c| c == '}');
            let digits: Option<String> =
                close.map(|n| self.chars[self.pos + 1..self.pos + n].iter().collect());
            let code = digits
                .as_deref()
                .and_then(|d| u32::from_str_radix(d, 16).ok());
            if let (Some(n), Some(_)) = (close, code) {
                self.pos += n + 1;
            }
            code
        } else {
            self.hex_digits(2)
        };
        match code.filter(|&c| char::from_u32(c).is_some()) {
            Some(code) => {
                self.push_code(code);
                Ok(())
            }
            None => Err(self.invalid("illegal hexadecimal escape sequence")),
        }
    }

    /// `\uXXXX`, combining a surrogate pair written as two escapes.
    fn unicode_escape(&mut self) -> Result<(), FilterError> {
        let Some(first) = self.hex_digits(4) else {
            return Err(self.invalid("illegal Unicode escape sequence"));
        };
        let mut code = first;
        if (0xD800..0xDC00).contains(&first) && self.rest_starts_with("\\u") {
            let before = self.pos;
            self.pos += 2;
            match self.hex_digits(4) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    code = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
                }
                _ => self.pos = before,
            }
        }
        if char::from_u32(code).is_none() {
            return Err(self.invalid(format!("unpaired surrogate `\\u{code:04X}`")));
        }
        self.push_code(code);
        Ok(())
    }

    /// Exactly `n` hexadecimal digits, consumed only when all are present.
    fn hex_digits(&mut self, n: usize) -> Option<u32> {
        let digits: String = self.chars.get(self.pos..self.pos + n)?.iter().collect();
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let value = u32::from_str_radix(&digits, 16).ok()?;
        self.pos += n;
        Some(value)
    }

    /// `\pL`, `\p{Name}` and their negations.
    fn property(&mut self, negated: bool) -> Result<(), FilterError> {
        let name: String = match self.peek(0) {
            Some('{') => {
                let close = self.chars[self.pos..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| self.invalid("unclosed character property `\\p{`"))?;
                let name = self.chars[self.pos + 1..self.pos + close].iter().collect();
                self.pos += close + 1;
                name
            }
            Some(c) => {
                self.pos += 1;
                c.to_string()
            }
            None => return Err(self.invalid("`\\p` needs a property name")),
        };
        let p = if negated { 'P' } else { 'p' };
        if name.starts_with("java") {
            return Err(self.unsupported(format!("Java character class `\\{p}{{{name}}}`")));
        }
        if let Some(block) = name
            .strip_prefix("In")
            .filter(|b| b.starts_with(char::is_uppercase))
        {
            return Err(self.unsupported(format!("Unicode block `\\{p}{{In{block}}}`")));
        }
        if name.starts_with("block=") || name.starts_with("blk=") {
            return Err(self.unsupported(format!("Unicode block `\\{p}{{{name}}}`")));
        }
        if let Some(posix) = posix_class(&name) {
            let caret = if negated { "^" } else { "" };
            let _ = write!(self.out, "[[:{caret}{posix}:]]");
            return Ok(());
        }
        // Java's `Is` prefix (`IsLatin`, `IsAlphabetic`) is implicit in Rust.
        let name = name.strip_prefix("Is").unwrap_or(&name);
        let _ = write!(self.out, "\\{p}{{{name}}}");
        Ok(())
    }
}

/// Java's `\h`: horizontal whitespace.
const HORIZONTAL_SPACE: &str =
    " \\t\\x{A0}\\x{1680}\\x{180E}\\x{2000}-\\x{200A}\\x{202F}\\x{205F}\\x{3000}";
/// Java's `\v`: vertical whitespace.
const VERTICAL_SPACE: &str = "\\n\\x{0B}\\f\\r\\x{85}\\x{2028}\\x{2029}";

/// Java's ASCII-only POSIX classes and Rust's ASCII class of the same meaning.
fn posix_class(name: &str) -> Option<&'static str> {
    Some(match name {
        "Lower" => "lower",
        "Upper" => "upper",
        "ASCII" => "ascii",
        "Alpha" => "alpha",
        "Digit" => "digit",
        "Alnum" => "alnum",
        "Punct" => "punct",
        "Graph" => "graph",
        "Print" => "print",
        "Blank" => "blank",
        "Cntrl" => "cntrl",
        "XDigit" => "xdigit",
        "Space" => "space",
        _ => return None,
    })
}

/// A Rust flag group `(?on-off)` or `(?on-off:`.
fn flag_group(on: &str, off: &str, end: char) -> String {
    let off = if off.is_empty() {
        String::new()
    } else {
        format!("-{off}")
    };
    format!("(?{on}{off}{end}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(p: &str) -> Result<String, FilterError> {
        Translator::new(p).run()
    }

    #[test]
    fn translations() {
        assert_eq!(translate("a\\Q.*\\Eb").unwrap(), "a\\x{2E}\\x{2A}b");
        assert_eq!(translate("\\d+").unwrap(), "[0-9]+");
        assert_eq!(translate("(?iu)x").unwrap(), "(?i)x");
        assert_eq!(translate("(?d)x").unwrap(), "x");
        assert_eq!(translate("\\0101").unwrap(), "\\x{41}");
        assert_eq!(translate("\\cA").unwrap(), "\\x{1}");
        assert_eq!(translate("[a:b]").unwrap(), "[a\\x{3A}b]");
        assert_eq!(translate("[+--]").unwrap(), "[+-\\x{2D}]");
        assert_eq!(translate("\\p{Lower}").unwrap(), "[[:lower:]]");
        assert_eq!(translate("\\uD83D\\uDE00").unwrap(), "\\x{1F600}");
    }
}
