//! SASL client side: PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER (static token), run by
//! [`super::Connection::open`] after ApiVersions through SaslHandshake + SaslAuthenticate.

mod scram;
mod secret;

use std::fmt;
use std::str::FromStr;

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
    /// `OAUTHBEARER` with a token obtained beforehand.
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
    /// Password (PLAIN, SCRAM) or bearer token (OAUTHBEARER).
    pub password: Secret,
}

/// One authentication exchange, message by message.
#[derive(Debug)]
pub enum SaslSession {
    /// One message, the server answers success or failure.
    Single,
    /// The SCRAM conversation.
    Scram(Box<ScramClient>),
}

impl SaslSession {
    /// Starts a session; returns it and the first client message.
    pub fn start(config: &SaslConfig) -> (SaslSession, Vec<u8>) {
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
                let msg = format!(
                    "n,{authzid},\x01auth=Bearer {}\x01\x01",
                    config.password.expose()
                );
                (SaslSession::Single, msg.into_bytes())
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
            SaslSession::Scram(client) => client.step(server),
        }
    }

    /// Whether the exchange is complete from the client's side.
    pub fn is_done(&self) -> bool {
        match self {
            SaslSession::Single => true,
            SaslSession::Scram(client) => client.is_done(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_message_and_debug_without_password() {
        let config = SaslConfig {
            mechanism: SaslMechanism::Plain,
            username: "alice".into(),
            password: Secret::new("s3cret-pw"),
        };
        let (_, msg) = SaslSession::start(&config);
        assert_eq!(msg, b"\0alice\0s3cret-pw");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("s3cret-pw") && debug.contains("alice"),
            "{debug}"
        );
    }

    #[test]
    fn oauthbearer_message_follows_rfc7628() {
        let config = SaslConfig {
            mechanism: SaslMechanism::OAuthBearer,
            username: String::new(),
            password: Secret::new("tok.en"),
        };
        let (_, msg) = SaslSession::start(&config);
        assert_eq!(msg, b"n,,\x01auth=Bearer tok.en\x01\x01");
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
