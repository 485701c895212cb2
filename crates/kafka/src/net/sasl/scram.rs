//! SCRAM-SHA-256/512 client (RFC 5802, RFC 7677) as Kafka uses it: no channel binding,
//! at least 4096 iterations, the server's signature checked.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::{SaslMechanism, Secret};

/// Kafka's minimum iteration count (`ScramMechanism.minIterations`).
const MIN_ITERATIONS: u32 = 4096;

#[derive(Debug)]
enum State {
    SentFirst,
    SentFinal { server_signature: Vec<u8> },
    Done,
}

/// The client side of one SCRAM exchange. `Debug` shows no password.
#[derive(Debug)]
pub struct ScramClient {
    sha512: bool,
    password: Secret,
    nonce: String,
    client_first_bare: String,
    state: State,
}

impl ScramClient {
    /// Starts an exchange; `nonce` is random unless given (tests). Returns the first message.
    pub fn start(
        mechanism: SaslMechanism,
        username: &str,
        password: Secret,
        nonce: Option<&str>,
    ) -> (ScramClient, Vec<u8>) {
        let nonce = nonce.map(str::to_owned).unwrap_or_else(random_nonce);
        let client_first_bare = format!("n={},r={nonce}", escape(username));
        let first = format!("n,,{client_first_bare}").into_bytes();
        let client = ScramClient {
            sha512: mechanism == SaslMechanism::ScramSha512,
            password,
            nonce,
            client_first_bare,
            state: State::SentFirst,
        };
        (client, first)
    }

    /// Whether the server's final message was verified.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Handles a server message: the server-first (returns client-final) or server-final
    /// (verifies the server signature, returns `None`).
    pub fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let server = std::str::from_utf8(server).map_err(|_| "server message is not UTF-8")?;
        match &self.state {
            State::SentFirst => {
                let (reply, server_signature) = self.client_final(server)?;
                self.state = State::SentFinal { server_signature };
                Ok(Some(reply))
            }
            State::SentFinal { server_signature } => {
                if let Some(e) = attribute(server, 'e') {
                    return Err(format!("server rejected the proof: {e}"));
                }
                let v = attribute(server, 'v').ok_or("server-final message has no signature")?;
                let v = B64
                    .decode(v)
                    .map_err(|_| "server signature is not base64")?;
                if &v != server_signature {
                    return Err("server signature does not match: the broker does not know \
                                this user's credentials"
                        .into());
                }
                self.state = State::Done;
                Ok(None)
            }
            State::Done => Err("unexpected message after SCRAM completed".into()),
        }
    }

    fn client_final(&self, server_first: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
        if let Some(e) = attribute(server_first, 'e') {
            return Err(format!("server error: {e}"));
        }
        let nonce = attribute(server_first, 'r').ok_or("server-first message has no nonce")?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err("server nonce does not extend the client nonce".into());
        }
        let salt = attribute(server_first, 's').ok_or("server-first message has no salt")?;
        let salt = B64.decode(salt).map_err(|_| "salt is not base64")?;
        let iterations: u32 = attribute(server_first, 'i')
            .and_then(|i| i.parse().ok())
            .ok_or("server-first message has no valid iteration count")?;
        if iterations < MIN_ITERATIONS {
            return Err(format!(
                "server asks for {iterations} iterations, fewer than the minimum {MIN_ITERATIONS}"
            ));
        }
        let salted = self.hi(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = self.hmac(&salted, b"Client Key");
        let stored_key = self.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = self.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = self.hmac(&salted, b"Server Key");
        let server_signature = self.hmac(&server_key, auth_message.as_bytes());
        let reply = format!("{without_proof},p={}", B64.encode(proof));
        Ok((reply.into_bytes(), server_signature))
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        if self.sha512 {
            let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("hmac takes any key");
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        } else {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac takes any key");
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
    }

    fn hash(&self, data: &[u8]) -> Vec<u8> {
        if self.sha512 {
            Sha512::digest(data).to_vec()
        } else {
            Sha256::digest(data).to_vec()
        }
    }

    fn hi(&self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        if self.sha512 {
            let mut out = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
            out.to_vec()
        } else {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
            out.to_vec()
        }
    }
}

/// `saslname` escaping of RFC 5802: `=` and `,` are written `=3D` and `=2C`.
fn escape(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

fn attribute(message: &str, name: char) -> Option<&str> {
    message.split(',').find_map(|part| {
        let mut chars = part.chars();
        (chars.next() == Some(name) && chars.next() == Some('=')).then(|| &part[2..])
    })
}

fn random_nonce() -> String {
    let bytes: [u8; 24] = rand::random();
    B64.encode(bytes).replace(['+', '/', '='], "x")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SCRAM-SHA-256 exchange printed in RFC 7677 section 3.
    #[test]
    fn rfc7677_example_exchange() {
        let (mut client, first) = ScramClient::start(
            SaslMechanism::ScramSha256,
            "user",
            Secret::new("pencil"),
            Some("rOprNGfwEbeRWgbNEkqO"),
        );
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
            s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let last = client.step(server_first).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(last).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert!(!client.is_done());
        let verified = client.step(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert_eq!(verified, Ok(None));
        assert!(client.is_done());
    }

    #[test]
    fn rejects_a_forged_server_signature_and_low_iterations() {
        let (mut client, _) = ScramClient::start(
            SaslMechanism::ScramSha256,
            "user",
            Secret::new("pencil"),
            Some("abc"),
        );
        client.step(b"r=abcdef,s=QUJD,i=4096").unwrap();
        let e = client.step(b"v=AAAA").unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        let (mut client, _) = ScramClient::start(
            SaslMechanism::ScramSha512,
            "user",
            Secret::new("pencil"),
            Some("abc"),
        );
        let e = client.step(b"r=abcdef,s=QUJD,i=1000").unwrap_err();
        assert!(e.contains("1000"), "{e}");
    }

    #[test]
    fn escapes_user_names() {
        assert_eq!(escape("a=b,c"), "a=3Db=2Cc");
    }
}
