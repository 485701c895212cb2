//! Java `Properties.load`, keeping the line number of every key.
//!
//! Faithful to `java.util.Properties`: ISO-8859-1 bytes, `#`/`!` comment lines, keys ending at
//! the first unescaped `=`, `:` or whitespace, leading whitespace of values stripped but trailing
//! whitespace kept, backslash continuation lines, `\uXXXX` and the other escapes, and no inline
//! comments. Config-provider placeholders (`${env:NAME}`) are ordinary text here.

use std::collections::HashMap;

use super::error::ConfigError;

/// One `key=value` entry. `Debug` prints secret values as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Property {
    /// The unescaped key.
    pub key: String,
    /// The unescaped value (trailing whitespace kept, as in Java).
    pub value: String,
    /// 1-based line where the key is written (the first line of a continued logical line).
    pub line: usize,
}

impl std::fmt::Debug for Property {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Property")
            .field("key", &self.key)
            .field("value", &super::redact::redact(&self.key, &self.value))
            .field("line", &self.line)
            .finish()
    }
}

/// The entries of a properties file; a repeated key keeps its last value and line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<Property>,
    index: HashMap<String, usize>,
}

impl Properties {
    /// Parses file contents as Java does: every byte is one ISO-8859-1 character.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, ConfigError> {
        if bytes.iter().any(|b| *b >= 0x80) && std::str::from_utf8(bytes).is_ok() {
            tracing::warn!(
                "mm2.properties contains non-ASCII UTF-8 text; like Java, strait reads the file \
                 as ISO-8859-1, so write non-ASCII characters as \\uXXXX escapes"
            );
        }
        Self::parse_chars(bytes.iter().map(|&b| char::from(b)).collect())
    }

    /// Parses text that is already decoded (like Java's `Properties.load(Reader)`).
    pub fn parse_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse_chars(text.chars().collect())
    }

    fn parse_chars(chars: Vec<char>) -> Result<Self, ConfigError> {
        let mut props = Self::default();
        for logical in LineReader::new(&chars) {
            let (key, value) = split_key_value(&logical.chars);
            let key = unescape(key, logical.line)?;
            let value = unescape(value, logical.line)?;
            props.insert(Property {
                key,
                value,
                line: logical.line,
            });
        }
        Ok(props)
    }

    /// Adds or replaces an entry (a replaced key keeps its position, takes the new line).
    pub fn insert(&mut self, property: Property) {
        match self.index.get(&property.key) {
            Some(&i) => self.entries[i] = property,
            None => {
                self.index.insert(property.key.clone(), self.entries.len());
                self.entries.push(property);
            }
        }
    }

    /// The entry for `key`.
    pub fn get(&self, key: &str) -> Option<&Property> {
        self.index.get(key).map(|&i| &self.entries[i])
    }

    /// The value of `key`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|p| p.value.as_str())
    }

    /// Entries in order of first appearance.
    pub fn iter(&self) -> impl Iterator<Item = &Property> {
        self.entries.iter()
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A logical line: continuations joined, leading whitespace stripped, comments skipped.
struct LogicalLine {
    chars: Vec<char>,
    line: usize,
}

/// Port of `Properties.LineReader.readLine`.
struct LineReader<'a> {
    input: &'a [char],
    pos: usize,
    /// 1-based line of each character (`\r\n`, `\r` and `\n` each end one line).
    lines: Vec<usize>,
}

impl<'a> LineReader<'a> {
    fn new(input: &'a [char]) -> Self {
        let mut lines = Vec::with_capacity(input.len());
        let mut line = 1;
        for (i, &c) in input.iter().enumerate() {
            lines.push(line);
            if c == '\n' || (c == '\r' && input.get(i + 1) != Some(&'\n')) {
                line += 1;
            }
        }
        Self {
            input,
            pos: 0,
            lines,
        }
    }

    fn next_char(&mut self) -> Option<(char, usize)> {
        let c = *self.input.get(self.pos)?;
        let line = self.lines[self.pos];
        self.pos += 1;
        Some((c, line))
    }
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{0C}')
}

impl Iterator for LineReader<'_> {
    type Item = LogicalLine;

    fn next(&mut self) -> Option<LogicalLine> {
        let mut buf: Vec<char> = Vec::new();
        let mut start_line = 0;
        let mut skip_whitespace = true;
        let mut appended_line_begin = false;
        let mut preceding_backslash = false;
        loop {
            let Some((c, line)) = self.next_char() else {
                if buf.is_empty() {
                    return None;
                }
                if preceding_backslash {
                    buf.pop();
                }
                return Some(LogicalLine {
                    chars: buf,
                    line: start_line,
                });
            };
            if skip_whitespace {
                if is_whitespace(c) || (!appended_line_begin && (c == '\r' || c == '\n')) {
                    continue;
                }
                skip_whitespace = false;
                appended_line_begin = false;
            }
            if buf.is_empty() && (c == '#' || c == '!') {
                // A comment: skip to the end of the line (also right after a continuation that
                // left the logical line empty, as Java does).
                while let Some((c, _)) = self.next_char() {
                    if c == '\r' || c == '\n' {
                        break;
                    }
                }
                skip_whitespace = true;
                continue;
            }
            if c != '\n' && c != '\r' {
                if buf.is_empty() {
                    start_line = line;
                }
                buf.push(c);
                preceding_backslash = c == '\\' && !preceding_backslash;
                continue;
            }
            if buf.is_empty() {
                skip_whitespace = true;
                continue;
            }
            if self.pos >= self.input.len() {
                if preceding_backslash {
                    buf.pop();
                }
                return Some(LogicalLine {
                    chars: buf,
                    line: start_line,
                });
            }
            if !preceding_backslash {
                return Some(LogicalLine {
                    chars: buf,
                    line: start_line,
                });
            }
            // Continuation: drop the backslash, skip the next line's leading whitespace.
            buf.pop();
            skip_whitespace = true;
            appended_line_begin = true;
            preceding_backslash = false;
            if c == '\r' && self.input.get(self.pos) == Some(&'\n') {
                self.pos += 1;
            }
        }
    }
}

/// Port of `Properties.load0`'s key/value split (escaped, still raw).
fn split_key_value(line: &[char]) -> (&[char], &[char]) {
    let mut key_len = 0;
    let mut value_start = line.len();
    let mut has_separator = false;
    let mut preceding_backslash = false;
    while key_len < line.len() {
        let c = line[key_len];
        if (c == '=' || c == ':') && !preceding_backslash {
            value_start = key_len + 1;
            has_separator = true;
            break;
        }
        if is_whitespace(c) && !preceding_backslash {
            value_start = key_len + 1;
            break;
        }
        preceding_backslash = c == '\\' && !preceding_backslash;
        key_len += 1;
    }
    while value_start < line.len() {
        let c = line[value_start];
        if !is_whitespace(c) {
            if !has_separator && (c == '=' || c == ':') {
                has_separator = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    (&line[..key_len], &line[value_start..])
}

/// Port of `Properties.loadConvert`: `\uXXXX`, `\t \n \r \f`, any other `\x` → `x`.
fn unescape(raw: &[char], line: usize) -> Result<String, ConfigError> {
    let mut units: Vec<u16> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        i += 1;
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let Some(&escaped) = raw.get(i) else { break };
        i += 1;
        let unit = match escaped {
            'u' => {
                let digits: String = raw.get(i..i + 4).unwrap_or_default().iter().collect();
                let code = (digits.len() == 4 && digits.chars().all(|d| d.is_ascii_hexdigit()))
                    .then(|| u16::from_str_radix(&digits, 16).ok())
                    .flatten()
                    .ok_or_else(|| ConfigError::Syntax {
                        line,
                        message: "malformed \\uxxxx encoding".to_owned(),
                    })?;
                i += 4;
                code
            }
            't' => u16::from(b'\t'),
            'n' => u16::from(b'\n'),
            'r' => u16::from(b'\r'),
            'f' => 0x0C,
            other => {
                let mut buf = [0u16; 2];
                units.extend_from_slice(other.encode_utf16(&mut buf));
                continue;
            }
        };
        units.push(unit);
    }
    String::from_utf16(&units).map_err(|_| ConfigError::Syntax {
        line,
        message: "unpaired UTF-16 surrogate in a \\uXXXX escape".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<(String, String, usize)> {
        Properties::parse_str(text)
            .unwrap()
            .iter()
            .map(|p| (p.key.clone(), p.value.clone(), p.line))
            .collect()
    }

    #[test]
    fn continuation_leaving_empty_line_then_comment() {
        // Java treats a `#` after a lone continuation backslash as a comment.
        assert_eq!(parse("\\\n# c\nk=v"), [("k".to_owned(), "v".to_owned(), 3)]);
    }

    #[test]
    fn blank_continuation_line_ends_the_value() {
        assert_eq!(
            parse("a=b\\\n\nc=d"),
            [
                ("a".to_owned(), "b".to_owned(), 1),
                ("c".to_owned(), "d".to_owned(), 3)
            ]
        );
    }

    #[test]
    fn crlf_continuation() {
        assert_eq!(
            parse("a=b\\\r\n  c\r\nd=e"),
            [
                ("a".to_owned(), "bc".to_owned(), 1),
                ("d".to_owned(), "e".to_owned(), 3)
            ]
        );
    }
}
