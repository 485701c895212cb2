//! Which configuration values are secrets, and how they print: `[redacted]`.

/// What a secret value prints as.
pub const REDACTED: &str = "[redacted]";

/// Whether `key` (with or without a cluster/client prefix) holds a secret: passwords, JAAS
/// configs (they embed passwords), private keys, tokens and client secrets.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password")
        || key.contains("jaas.config")
        || key.ends_with("ssl.keystore.key")
        || key.contains("secret")
        || key.ends_with("oauthbearer.token")
        || key.contains("basic.auth.user.info")
}

/// `value`, or [`REDACTED`] when `key` holds a secret.
pub fn redact<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret_key(key) {
        REDACTED
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for key in [
            "sasl.jaas.config",
            "east.sasl.jaas.config",
            "east.consumer.ssl.key.password",
            "ssl.truststore.password",
            "ssl.keystore.key",
            "sasl.password",
            "sasl.oauthbearer.token",
            "sasl.oauthbearer.client.credentials.client.secret",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "bootstrap.servers",
            "sasl.mechanism",
            "ssl.keystore.location",
            "sasl.username",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
        assert_eq!(redact("sasl.password", "pw"), REDACTED);
        assert_eq!(redact("sasl.mechanism", "PLAIN"), "PLAIN");
    }
}
