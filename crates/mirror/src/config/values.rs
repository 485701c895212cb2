//! Values with their origin, and typed parsing like Kafka's `ConfigDef`.

use std::collections::BTreeMap;
use std::str::FromStr;

use super::error::{ConfigError, KeyProblem};
use super::properties::Property;

/// Where a configuration value was written: the key as it appears in the file, and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The key as written (e.g. `A->B.source.consumer.max.poll.records`).
    pub key: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// A string value and the file entry it came from (`None` for values strait injects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Val {
    pub(crate) value: String,
    pub(crate) origin: Option<Origin>,
}

impl Val {
    pub(crate) fn from_property(p: &Property) -> Self {
        Self {
            value: p.value.clone(),
            origin: Some(Origin {
                key: p.key.clone(),
                line: p.line,
            }),
        }
    }

    pub(crate) fn injected(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            origin: None,
        }
    }

    /// An error about this value, naming the key it was written under (or `key`).
    pub(crate) fn error(&self, key: &str, problem: KeyProblem) -> ConfigError {
        match &self.origin {
            Some(o) => ConfigError::Key {
                key: o.key.clone(),
                line: Some(o.line),
                problem,
            },
            None => ConfigError::Key {
                key: key.to_owned(),
                line: None,
                problem,
            },
        }
    }
}

/// One derived configuration map (cluster props, connector config, client config...).
pub(crate) type Layer = BTreeMap<String, Val>;

/// An error about `key` of `layer` (named by the file entry when there is one).
pub(crate) fn key_error(layer: &Layer, key: &str, problem: KeyProblem) -> ConfigError {
    match layer.get(key) {
        Some(v) => v.error(key, problem),
        None => ConfigError::Key {
            key: key.to_owned(),
            line: None,
            problem,
        },
    }
}

/// Java's `String.trim()`: strips every character up to U+0020.
pub(crate) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Java's `Boolean.parseBoolean`: `true` ignoring case, NOT trimmed; anything else is false.
pub(crate) fn java_parse_boolean(s: Option<&str>) -> bool {
    s.is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

/// `ConfigDef` BOOLEAN: trimmed, case-insensitive `true`/`false`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    let t = java_trim(s);
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `ConfigDef` LIST: trimmed, empty → `[]`, else split on `\s*,\s*` keeping empty entries.
pub(crate) fn parse_list(s: &str) -> Vec<String> {
    let t = java_trim(s);
    if t.is_empty() {
        return Vec::new();
    }
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r');
    t.split(',')
        .map(|part| part.trim_matches(is_space).to_owned())
        .collect()
}

/// Typed reads from a [`Layer`], with errors naming the key and line of the offending value.
pub(crate) struct Typed<'a>(pub(crate) &'a Layer);

impl Typed<'_> {
    pub(crate) fn get(&self, key: &str) -> Option<&Val> {
        self.0.get(key)
    }

    /// The trimmed string value (`ConfigDef` STRING/CLASS).
    pub(crate) fn string(&self, key: &str) -> Option<&str> {
        self.get(key).map(|v| java_trim(&v.value))
    }

    pub(crate) fn boolean(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_bool(&v.value).ok_or_else(|| {
                v.error(
                    key,
                    KeyProblem::InvalidBoolean {
                        value: v.value.clone(),
                    },
                )
            }),
        }
    }

    pub(crate) fn list(&self, key: &str) -> Option<Vec<String>> {
        self.get(key).map(|v| parse_list(&v.value))
    }

    fn number<T: FromStr>(
        &self,
        key: &str,
        default: T,
        kind: &'static str,
    ) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => java_trim(&v.value).parse().map_err(|_| {
                v.error(
                    key,
                    KeyProblem::InvalidNumber {
                        value: v.value.clone(),
                        kind,
                    },
                )
            }),
        }
    }

    pub(crate) fn long(&self, key: &str, default: i64) -> Result<i64, ConfigError> {
        self.number(key, default, "long")
    }

    pub(crate) fn int(&self, key: &str, default: i32) -> Result<i32, ConfigError> {
        self.number(key, default, "int")
    }

    pub(crate) fn short(&self, key: &str, default: i16) -> Result<i16, ConfigError> {
        self.number(key, default, "short")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_like_config_def() {
        assert_eq!(parse_list(""), Vec::<String>::new());
        assert_eq!(parse_list("  "), Vec::<String>::new());
        assert_eq!(parse_list(" a , b,c "), ["a", "b", "c"]);
        assert_eq!(parse_list("a,,b"), ["a", "", "b"]);
        assert_eq!(parse_list("a,"), ["a", ""]);
    }

    #[test]
    fn booleans() {
        assert!(java_parse_boolean(Some("TRUE")));
        assert!(!java_parse_boolean(Some("true ")));
        assert!(!java_parse_boolean(None));
        assert_eq!(parse_bool(" True "), Some(true));
        assert_eq!(parse_bool("no"), None);
    }
}
