//! The broker side of SASL as the proxy speaks it: PLAIN, SCRAM-SHA-256/512 (RFC 5802,
//! verifying the client's proof against a real password) and OAUTHBEARER with known tokens.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// Users and tokens the proxy accepts, and the mechanisms it enables.
#[derive(Clone, Debug)]
pub struct ProxySasl {
    /// Enabled mechanisms, e.g. `["SCRAM-SHA-512", "PLAIN"]`.
    pub mechanisms: Vec<String>,
    /// `(user, password)` pairs for PLAIN and SCRAM.
    pub users: Vec<(String, String)>,
    /// Bearer tokens accepted by OAUTHBEARER.
    pub tokens: Vec<String>,
}

impl ProxySasl {
    /// One mechanism and one user.
    pub fn user(mechanism: &str, user: &str, password: &str) -> ProxySasl {
        ProxySasl {
            mechanisms: vec![mechanism.to_owned()],
            users: vec![(user.to_owned(), password.to_owned())],
            tokens: Vec::new(),
        }
    }

    fn password(&self, user: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
    }
}

enum Scram {
    Start,
    SentFirst {
        password: String,
        nonce: String,
        salt: Vec<u8>,
        auth_prefix: String,
    },
}

/// One server-side exchange.
pub(super) struct ServerSession {
    mechanism: String,
    scram: Scram,
}

/// What the server says after a client message.
pub(super) enum Step {
    /// Send these bytes and expect another message.
    Continue(Vec<u8>),
    /// Send these bytes; the client is authenticated.
    Done(Vec<u8>),
}

impl ServerSession {
    pub(super) fn new(mechanism: &str) -> ServerSession {
        ServerSession {
            mechanism: mechanism.to_owned(),
            scram: Scram::Start,
        }
    }

    pub(super) fn mechanism(&self) -> &str {
        &self.mechanism
    }

    /// Handles one client message; `Err` means authentication failed.
    pub(super) fn step(&mut self, sasl: &ProxySasl, msg: &[u8]) -> Result<Step, String> {
        match self.mechanism.as_str() {
            "PLAIN" => {
                let parts: Vec<&[u8]> = msg.split(|b| *b == 0).collect();
                let [_, user, password] = parts[..] else {
                    return Err("malformed PLAIN message".into());
                };
                let user = String::from_utf8_lossy(user);
                match sasl.password(&user) {
                    Some(p) if p.as_bytes() == password => Ok(Step::Done(Vec::new())),
                    _ => Err("invalid credentials".into()),
                }
            }
            "OAUTHBEARER" => {
                let text = String::from_utf8_lossy(msg);
                let token = text
                    .split('\x01')
                    .find_map(|kv| kv.strip_prefix("auth=Bearer "))
                    .ok_or("malformed OAUTHBEARER message")?;
                if sasl.tokens.iter().any(|t| t == token) {
                    Ok(Step::Done(Vec::new()))
                } else {
                    Err("invalid token".into())
                }
            }
            "SCRAM-SHA-256" | "SCRAM-SHA-512" => self.scram_step(sasl, msg),
            other => Err(format!("mechanism {other} not enabled")),
        }
    }

    fn scram_step(&mut self, sasl: &ProxySasl, msg: &[u8]) -> Result<Step, String> {
        let sha512 = self.mechanism == "SCRAM-SHA-512";
        let text = std::str::from_utf8(msg).map_err(|_| "not UTF-8")?;
        match std::mem::replace(&mut self.scram, Scram::Start) {
            Scram::Start => {
                let bare = text.strip_prefix("n,,").ok_or("unsupported GS2 header")?;
                let user = attribute(bare, 'n').ok_or("no user name")?;
                let user = user.replace("=2C", ",").replace("=3D", "=");
                let client_nonce = attribute(bare, 'r').ok_or("no nonce")?;
                let password = sasl.password(&user).ok_or("invalid credentials")?;
                let salt: [u8; 16] = rand::random();
                let server_nonce: [u8; 18] = rand::random();
                let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
                let server_first = format!("r={nonce},s={},i=4096", B64.encode(salt));
                self.scram = Scram::SentFirst {
                    password: password.to_owned(),
                    nonce,
                    salt: salt.to_vec(),
                    auth_prefix: format!("{bare},{server_first}"),
                };
                Ok(Step::Continue(server_first.into_bytes()))
            }
            Scram::SentFirst {
                password,
                nonce,
                salt,
                auth_prefix,
            } => {
                let (without_proof, proof) =
                    text.rsplit_once(",p=").ok_or("client-final has no proof")?;
                if attribute(without_proof, 'r') != Some(nonce.as_str()) {
                    return Err("nonce mismatch".into());
                }
                let proof = B64.decode(proof).map_err(|_| "proof is not base64")?;
                let salted = hi(sha512, password.as_bytes(), &salt, 4096);
                let client_key = hmac(sha512, &salted, b"Client Key");
                let stored_key = hash(sha512, &client_key);
                let auth_message = format!("{auth_prefix},{without_proof}");
                let signature = hmac(sha512, &stored_key, auth_message.as_bytes());
                if proof.len() != signature.len() {
                    return Err("invalid credentials".into());
                }
                let recovered: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
                if hash(sha512, &recovered) != stored_key {
                    return Err("invalid credentials".into());
                }
                let server_key = hmac(sha512, &salted, b"Server Key");
                let server_signature = hmac(sha512, &server_key, auth_message.as_bytes());
                Ok(Step::Done(
                    format!("v={}", B64.encode(server_signature)).into_bytes(),
                ))
            }
        }
    }
}

fn attribute(message: &str, name: char) -> Option<&str> {
    message.split(',').find_map(|part| {
        let mut chars = part.chars();
        (chars.next() == Some(name) && chars.next() == Some('=')).then(|| &part[2..])
    })
}

fn hmac(sha512: bool, key: &[u8], data: &[u8]) -> Vec<u8> {
    if sha512 {
        let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("any key");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    } else {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
}

fn hash(sha512: bool, data: &[u8]) -> Vec<u8> {
    if sha512 {
        Sha512::digest(data).to_vec()
    } else {
        Sha256::digest(data).to_vec()
    }
}

fn hi(sha512: bool, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    if sha512 {
        let mut out = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
        out.to_vec()
    } else {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
        out.to_vec()
    }
}
