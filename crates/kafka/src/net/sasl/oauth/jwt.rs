//! What a client needs from an access token (a JWT, RFC 7519): who it names and when it expires.
//! The signature is the broker's business; the client reads the claims as Kafka's client does.

use base64::Engine as _;

/// The claims of an access token that decide its use and refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The principal (the `sub` claim, or the one `sasl.oauthbearer.sub.claim.name` names).
    pub subject: String,
    /// Expiry (`exp`), in milliseconds since the epoch.
    pub expires_ms: i64,
    /// Issue time (`iat`), in milliseconds since the epoch, when present.
    pub issued_ms: Option<i64>,
}

/// Reads the claims of a serialized JWT (`header.payload.signature`).
pub fn claims(token: &str, subject_claim: &str) -> Result<TokenClaims, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "the access token is not a JWT: expected 3 dot-separated parts, found {}",
            parts.len()
        ));
    }
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .map_err(|e| format!("the JWT payload is not base64url: {e}"))?;
    let doc: serde_json::Value = serde_json::from_slice(&payload)
        .map_err(|e| format!("the JWT payload is not JSON: {e}"))?;
    let seconds = |name: &str| -> Result<Option<i64>, String> {
        match doc.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(|s| Some((s * 1000.0) as i64))
                .ok_or_else(|| format!("the JWT claim `{name}` is not a number: {v}")),
        }
    };
    let expires_ms = seconds("exp")?.ok_or("the JWT has no `exp` (expiration) claim")?;
    let subject = match doc.get(subject_claim) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(other) => {
            return Err(format!(
                "the JWT claim `{subject_claim}` is not a non-empty string: {other}"
            ))
        }
        None => return Err(format!("the JWT has no `{subject_claim}` (subject) claim")),
    };
    Ok(TokenClaims {
        subject,
        expires_ms,
        issued_ms: seconds("iat")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"ES256"}"#), b64(payload))
    }

    #[test]
    fn reads_subject_expiry_and_issue_time() {
        let token = jwt(r#"{"sub":"mirror","exp":1700000100,"iat":1700000000,"scope":"kafka"}"#);
        assert_eq!(
            claims(&token, "sub").unwrap(),
            TokenClaims {
                subject: "mirror".into(),
                expires_ms: 1_700_000_100_000,
                issued_ms: Some(1_700_000_000_000),
            }
        );
        let token = jwt(r#"{"client_id":"app","exp":1700000100}"#);
        let c = claims(&token, "client_id").unwrap();
        assert_eq!((c.subject.as_str(), c.issued_ms), ("app", None));
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            ("opaque-token".to_owned(), "not a JWT"),
            ("a.!!!.c".to_owned(), "base64url"),
            (jwt(r#"{"sub":"x"}"#), "`exp`"),
            (jwt(r#"{"exp":1}"#), "`sub`"),
            (jwt(r#"{"sub":"","exp":1}"#), "non-empty"),
            (jwt(r#"{"sub":"x","exp":"soon"}"#), "not a number"),
        ];
        for (token, expected) in cases {
            let e = claims(&token, "sub").unwrap_err();
            assert!(e.contains(expected), "{token}: {e}");
        }
    }
}
