//! Kafka config providers in values: `${file:/path/to/file.properties:key}` (Kafka's
//! `FileConfigProvider`) and `${env:NAME}` (`EnvVarConfigProvider`), resolved when a value is
//! read so secrets need not sit in mm2.properties. Errors quote the placeholder, never what it
//! resolves to.

use std::path::Path;

use super::properties::Properties;

/// Replaces every `${provider:[path:]key}` in `value`; `Err` says which placeholder failed.
pub(super) fn resolve(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        match placeholder(inner) {
            Some((provider, path, key)) => out.push_str(&lookup(provider, path, key, inner)?),
            // Not a provider reference (no `:`): kept as written, as Kafka's ConfigTransformer does.
            None => out.push_str(&rest[start..start + 3 + end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Splits `provider:path:key` or `provider:key` like Kafka's ConfigTransformer pattern.
fn placeholder(inner: &str) -> Option<(&str, Option<&str>, &str)> {
    let (provider, rest) = inner.split_once(':')?;
    Some(match rest.rsplit_once(':') {
        Some((path, key)) => (provider, Some(path), key),
        None => (provider, None, rest),
    })
}

fn lookup(provider: &str, path: Option<&str>, key: &str, inner: &str) -> Result<String, String> {
    match provider {
        "env" => std::env::var(key).map_err(|_| {
            format!("cannot resolve `${{{inner}}}`: environment variable {key} is not set")
        }),
        "file" => {
            let path = path.ok_or_else(|| {
                format!("cannot resolve `${{{inner}}}`: expected ${{file:/path/to/file:key}}")
            })?;
            let bytes = std::fs::read(Path::new(path))
                .map_err(|e| format!("cannot resolve `${{{inner}}}`: cannot read {path}: {e}"))?;
            // The error of a malformed secrets file names a line, never its contents.
            let props = Properties::parse_bytes(&bytes).map_err(|e| {
                format!("cannot resolve `${{{inner}}}`: {path} is not a properties file: {e}")
            })?;
            props
                .value(key)
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| format!("cannot resolve `${{{inner}}}`: {path} has no key `{key}`"))
        }
        other => Err(format!(
            "cannot resolve `${{{inner}}}`: unknown config provider `{other}` (strait resolves \
             `file` and `env`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_file_and_env_placeholders() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.properties");
        std::fs::write(&file, "password = s3cr3t\nuser=alice\n").unwrap();
        std::env::set_var("STRAIT_PROVIDER_TEST_TOKEN", "tok");
        let value = format!(
            "user=${{file:{0}:user}} pw=${{file:{0}:password}} t=${{env:STRAIT_PROVIDER_TEST_TOKEN}}",
            file.display()
        );
        assert_eq!(resolve(&value).unwrap(), "user=alice pw=s3cr3t t=tok");
        assert_eq!(
            resolve("plain ${notaplaceholder} $").unwrap(),
            "plain ${notaplaceholder} $"
        );
    }

    #[test]
    fn errors_quote_the_placeholder_not_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.properties");
        std::fs::write(&file, "password=s3cr3t\n").unwrap();
        let e = resolve(&format!("${{file:{}:missing}}", file.display())).unwrap_err();
        assert!(
            e.contains("has no key `missing`") && !e.contains("s3cr3t"),
            "{e}"
        );
        let e = resolve("${env:STRAIT_SURELY_UNSET_VAR}").unwrap_err();
        assert!(e.contains("STRAIT_SURELY_UNSET_VAR is not set"), "{e}");
        let e = resolve("${vault:x:y}").unwrap_err();
        assert!(e.contains("unknown config provider `vault`"), "{e}");
    }
}
