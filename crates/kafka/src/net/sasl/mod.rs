//! SASL client side: PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER (a static token, or tokens from
//! an OAuth token endpoint), run by [`super::Connection::open`] after ApiVersions through
//! SaslHandshake + SaslAuthenticate, and again when the broker's session ends (KIP-368).

pub mod oauth;
mod scram;
mod secret;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

pub use oauth::{OAuthError, OAuthLogin, TokenSource};

pub use scram::ScramClient;
pub use secret::Secret;

/// A SASL mechanism strait speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `PLAIN`: user name and password in clear (use it over TLS only).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER`: a bearer token, static or from a token endpoint.
    OAuthBearer,
}

impl SaslMechanism {
    /// The mechanism's name as Kafka writes it (`sasl.mechanism`).
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SaslMechanism {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            "OAUTHBEARER" => Ok(SaslMechanism::OAuthBearer),
            _ => Err(format!(
                "unsupported SASL mechanism `{}`: expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 \
                 or OAUTHBEARER",
                s.trim()
            )),
        }
    }
}

/// SASL settings of one cluster. `Debug` never shows the password or token.
#[derive(Clone, Debug)]
pub struct SaslConfig {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// User name (PLAIN, SCRAM); for OAUTHBEARER an optional authorization id (may be empty).
    pub username: String,
    /// Password (PLAIN, SCRAM) or a static bearer token (OAUTHBEARER without `oauth`).
    pub password: Secret,
    /// OAUTHBEARER tokens from a token endpoint or file, refreshed before they expire.
    pub oauth: Option<Arc<TokenSource>>,
}

impl SaslConfig {
    /// Credentials for PLAIN, SCRAM or a static OAUTHBEARER token.
    pub fn new(mechanism: SaslMechanism, username: &str, password: Secret) -> SaslConfig {
        SaslConfig {
            mechanism,
            username: username.to_owned(),
            password,
            oauth: None,
        }
    }

    /// OAUTHBEARER with tokens from `source`.
    pub fn oauth(source: Arc<TokenSource>) -> SaslConfig {
        SaslConfig {
            mechanism: SaslMechanism::OAuthBearer,
            username: String::new(),
            password: Secret::new(""),
            oauth: Some(source),
        }
    }
}

/// One authentication exchange, message by message.
#[derive(Debug)]
pub enum SaslSession {
    /// One message, the server answers success or failure.
    Single,
    /// OAUTHBEARER (RFC 7628): success, or an error challenge (a JSON status) that the client
    /// acknowledges with `\x01` before the server fails the exchange.
    Bearer {
        /// The server's error challenge, once received.
        challenge: Option<String>,
    },
    /// The SCRAM conversation.
    Scram(Box<ScramClient>),
}

impl SaslSession {
    /// Starts a session; returns it and the first client message. `token` is the bearer token
    /// for OAUTHBEARER with a token source (the static one otherwise).
    pub fn start(config: &SaslConfig, token: Option<&Secret>) -> (SaslSession, Vec<u8>) {
        match config.mechanism {
            SaslMechanism::Plain => {
                let mut msg = Vec::new();
                msg.push(0);
                msg.extend_from_slice(config.username.as_bytes());
                msg.push(0);
                msg.extend_from_slice(config.password.expose().as_bytes());
                (SaslSession::Single, msg)
            }
            SaslMechanism::OAuthBearer => {
                let authzid = if config.username.is_empty() {
                    String::new()
                } else {
                    format!("a={}", config.username)
                };
                let token = token.unwrap_or(&config.password);
                let mut msg = format!("n,{authzid},\x01auth=Bearer {}\x01", token.expose());
                let extensions = config.oauth.as_ref().map(|s| &s.login().extensions);
                for (key, value) in extensions.into_iter().flatten() {
                    msg.push_str(&format!("{key}={value}\x01"));
                }
                msg.push('\x01');
                (SaslSession::Bearer { challenge: None }, msg.into_bytes())
            }
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                let (client, first) = ScramClient::start(
                    config.mechanism,
                    &config.username,
                    config.password.clone(),
                    None,
                );
                (SaslSession::Scram(Box::new(client)), first)
            }
        }
    }

    /// Feeds a server message; returns the next client message, or `None` when the client
    /// has nothing more to say (authentication is complete if the server agreed).
    pub fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self {
            SaslSession::Single => Ok(None),
            SaslSession::Bearer { challenge } => {
                if server.is_empty() || challenge.is_some() {
                    return Ok(None);
                }
                *challenge = Some(String::from_utf8_lossy(server).into_owned());
                Ok(Some(vec![0x01]))
            }
            SaslSession::Scram(client) => client.step(server),
        }
    }

    /// Whether the exchange is complete from the client's side.
    pub fn is_done(&self) -> bool {
        match self {
            SaslSession::Single => true,
            SaslSession::Bearer { challenge } => challenge.is_none(),
            SaslSession::Scram(client) => client.is_done(),
        }
    }

    /// The server's error challenge (OAUTHBEARER), to explain a failure.
    pub fn challenge(&self) -> Option<&str> {
        match self {
            SaslSession::Bearer { challenge } => challenge.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_message_and_debug_without_password() {
        let config = SaslConfig::new(SaslMechanism::Plain, "alice", Secret::new("s3cret-pw"));
        let (_, msg) = SaslSession::start(&config, None);
        assert_eq!(msg, b"\0alice\0s3cret-pw");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("s3cret-pw") && debug.contains("alice"),
            "{debug}"
        );
    }

    #[test]
    fn oauthbearer_message_follows_rfc7628() {
        let config = SaslConfig::new(SaslMechanism::OAuthBearer, "", Secret::new("tok.en"));
        let (_, msg) = SaslSession::start(&config, None);
        assert_eq!(msg, b"n,,\x01auth=Bearer tok.en\x01\x01");
        let (mut session, msg) = SaslSession::start(&config, Some(&Secret::new("fresh")));
        assert_eq!(msg, b"n,,\x01auth=Bearer fresh\x01\x01");
        // An error challenge is acknowledged with 0x01 and leaves the exchange unfinished.
        let challenge = br#"{"status":"invalid_token"}"#;
        assert_eq!(session.step(challenge).unwrap(), Some(vec![0x01]));
        assert!(!session.is_done());
        assert_eq!(session.challenge(), Some(r#"{"status":"invalid_token"}"#));
        let (mut ok, _) = SaslSession::start(&config, None);
        assert_eq!(ok.step(b"").unwrap(), None);
        assert!(ok.is_done());
    }

    #[test]
    fn oauthbearer_sends_the_logins_extensions() {
        use std::time::Duration;
        let login = OAuthLogin {
            cluster: "east".into(),
            url: "file:/token".into(),
            endpoint: oauth::TokenEndpoint::File("/token".into()),
            client_id: String::new(),
            client_secret: Secret::new(""),
            scope: None,
            urlencode_header: false,
            subject_claim: "sub".into(),
            extensions: vec![("logicalCluster".into(), "lkc-1".into())],
            refresh: oauth::refresh::RefreshConfig::default(),
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            retry_backoff: Duration::from_millis(1),
            retry_backoff_max: Duration::from_millis(1),
            connector: Arc::new(crate::net::TcpConnector::default()),
        };
        let config = SaslConfig::oauth(Arc::new(TokenSource::new(login)));
        let (_, msg) = SaslSession::start(&config, Some(&Secret::new("t")));
        assert_eq!(msg, b"n,,\x01auth=Bearer t\x01logicalCluster=lkc-1\x01\x01");
    }

    #[test]
    fn mechanism_names_parse_case_insensitively() {
        assert_eq!(
            "scram-sha-512".parse::<SaslMechanism>().unwrap(),
            SaslMechanism::ScramSha512
        );
        let e = "GSSAPI".parse::<SaslMechanism>().unwrap_err();
        assert!(e.contains("GSSAPI") && e.contains("PLAIN"), "{e}");
    }
}
