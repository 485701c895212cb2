//! `sasl.jaas.config` in Java JAAS syntax: `LoginModuleClass flag key="value" ... ;`.

use std::collections::BTreeMap;

/// One parsed JAAS login module entry. `Debug` shows option names only.
pub(super) struct JaasConfig {
    /// The login module class, e.g. `org.apache.kafka.common.security.plain.PlainLoginModule`.
    pub(super) module: String,
    /// Options (`username`, `password`, ...).
    pub(super) options: BTreeMap<String, String>,
}

impl std::fmt::Debug for JaasConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaasConfig")
            .field("module", &self.module)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Parses one login module entry. Errors describe the syntax problem, never the values.
pub(super) fn parse(text: &str) -> Result<JaasConfig, String> {
    let mut tokens = Tokens { rest: text.trim() };
    let module = tokens
        .word()
        .ok_or("expected a login module class name first")?;
    let flag = tokens
        .word()
        .ok_or("expected a control flag (required) after the login module")?;
    if !["required", "requisite", "sufficient", "optional"]
        .contains(&flag.to_ascii_lowercase().as_str())
    {
        return Err(format!(
            "invalid control flag `{flag}`: expected required, requisite, sufficient or optional"
        ));
    }
    let mut options = BTreeMap::new();
    loop {
        tokens.skip_ws();
        if tokens.rest.starts_with(';') {
            tokens.rest = &tokens.rest[1..];
            break;
        }
        let key = tokens
            .word()
            .ok_or("expected `key=value` options ending with `;`")?;
        tokens.skip_ws();
        if !tokens.rest.starts_with('=') {
            return Err(format!("option `{key}` has no `=value`"));
        }
        tokens.rest = &tokens.rest[1..];
        let value = tokens
            .value()
            .ok_or_else(|| format!("option `{key}` has no value"))?;
        options.insert(key.to_owned(), value);
    }
    tokens.skip_ws();
    if !tokens.rest.is_empty() {
        return Err("only one login module is supported (text after the first `;`)".into());
    }
    Ok(JaasConfig {
        module: module.to_owned(),
        options,
    })
}

struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn word(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let end = self
            .rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == ';' || c == '"')
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(word)
    }

    fn value(&mut self) -> Option<String> {
        self.skip_ws();
        let Some(quoted) = self.rest.strip_prefix('"') else {
            return self.word().map(str::to_owned);
        };
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?.1),
                '"' => {
                    self.rest = &quoted[i + 1..];
                    return Some(out);
                }
                c => out.push(c),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mm2_documented_example() {
        let c = parse(
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"MirrorMaker\" password=\"p@ss word;\\\"x\";",
        )
        .unwrap();
        assert_eq!(
            c.module,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        assert_eq!(c.options["username"], "MirrorMaker");
        assert_eq!(c.options["password"], "p@ss word;\"x");
        assert!(!format!("{c:?}").contains("p@ss"));
        let c = parse("x.ScramLoginModule required username=alice password=pw ;").unwrap();
        assert_eq!(c.options["password"], "pw");
    }

    #[test]
    fn syntax_errors_name_the_problem_not_the_values() {
        let e =
            parse("x.PlainLoginModule required username=\"a\" password=\"secret\"").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        let e = parse("x.PlainLoginModule always;").unwrap_err();
        assert!(e.contains("control flag"), "{e}");
        let e = parse("x.PlainLoginModule required a=\"1\"; y.Other required;").unwrap_err();
        assert!(e.contains("one login module"), "{e}");
    }
}
