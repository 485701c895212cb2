//! A small OAuth 2 / OIDC identity provider for OAUTHBEARER tests: a client-credentials token
//! endpoint issuing ES256-signed JWTs with a short lifetime, and the JWKS a Kafka broker
//! validates them with (`OAuthBearerValidatorCallbackHandler`), over HTTP or HTTPS. It counts
//! what it issued and can be made to fail, so tests see refreshes and outages.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::{CertKey, TestkitError};

/// The key id in the JWKS and in every token's header.
const KEY_ID: &str = "strait-test-key-1";

/// Who may ask for tokens and what the tokens say.
#[derive(Clone, Debug)]
pub struct IdentityProviderOptions {
    /// Client ids and their secrets.
    pub clients: Vec<(String, String)>,
    /// How long a token is valid.
    pub token_lifetime: Duration,
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim.
    pub audience: String,
    /// Serve HTTPS with this certificate (HTTP when `None`).
    pub tls: Option<CertKey>,
}

impl Default for IdentityProviderOptions {
    fn default() -> Self {
        IdentityProviderOptions {
            clients: vec![("strait-mirror".into(), "mirror-secret".into())],
            token_lifetime: Duration::from_secs(3600),
            issuer: "strait-test-idp".into(),
            audience: "kafka".into(),
            tls: None,
        }
    }
}

struct State {
    options: IdentityProviderOptions,
    tls: Option<Arc<ServerConfig>>,
    key: EcdsaKeyPair,
    rng: SystemRandom,
    issued: Mutex<BTreeMap<String, u64>>,
    refused: AtomicU64,
    jwks_served: AtomicU64,
    down: AtomicBool,
    stop: AtomicBool,
}

/// A running identity provider on a free 127.0.0.1 port; stops when dropped.
pub struct IdentityProvider {
    addr: SocketAddr,
    state: Arc<State>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl IdentityProvider {
    /// Starts the provider with a fresh P-256 signing key.
    pub fn start(options: IdentityProviderOptions) -> Result<IdentityProvider, TestkitError> {
        let io = |what: &str, e: &dyn std::fmt::Display| TestkitError::Io {
            context: format!("identity provider: {what}"),
            source: std::io::Error::other(e.to_string()),
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| io("generate a key", &e))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| io("load the key", &e))?;
        let tls = match &options.tls {
            None => None,
            Some(cert) => Some(Arc::new(
                server_config(cert).map_err(|e| io("configure TLS", &e))?,
            )),
        };
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| io("bind", &e))?;
        let addr = listener.local_addr().map_err(|e| io("bind", &e))?;
        let state = Arc::new(State {
            options,
            tls,
            key,
            rng,
            issued: Mutex::new(BTreeMap::new()),
            refused: AtomicU64::new(0),
            jwks_served: AtomicU64::new(0),
            down: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let serving = state.clone();
        let thread = std::thread::Builder::new()
            .name("test-idp".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if serving.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let state = serving.clone();
                        std::thread::spawn(move || {
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                            match &state.tls {
                                None => {
                                    let _ = serve(&state, stream);
                                }
                                Some(config) => {
                                    let Ok(conn) = ServerConnection::new(config.clone()) else {
                                        return;
                                    };
                                    let mut tls = StreamOwned::new(conn, stream);
                                    if serve(&state, &mut tls).is_ok() {
                                        tls.conn.send_close_notify();
                                        let _ = tls.flush();
                                    }
                                }
                            }
                        });
                    }
                }
            })
            .map_err(|e| io("spawn", &e))?;
        Ok(IdentityProvider {
            addr,
            state,
            thread: Some(thread),
        })
    }

    /// The token endpoint (`sasl.oauthbearer.token.endpoint.url`).
    pub fn token_url(&self) -> String {
        format!("{}://{}/oauth2/token", self.scheme(), self.addr)
    }

    /// The JWKS endpoint (the broker's `sasl.oauthbearer.jwks.endpoint.url`).
    pub fn jwks_url(&self) -> String {
        format!("{}://{}/oauth2/jwks", self.scheme(), self.addr)
    }

    fn scheme(&self) -> &'static str {
        if self.state.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The `iss` claim of its tokens.
    pub fn issuer(&self) -> &str {
        &self.state.options.issuer
    }

    /// The `aud` claim of its tokens.
    pub fn audience(&self) -> &str {
        &self.state.options.audience
    }

    /// Tokens issued to `client_id` so far.
    pub fn issued_to(&self, client_id: &str) -> u64 {
        let issued = self.state.issued.lock().expect("issued lock");
        issued.get(client_id).copied().unwrap_or(0)
    }

    /// Token requests refused (wrong credentials, or while down).
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::Relaxed)
    }

    /// Times the JWKS was fetched (by brokers).
    pub fn jwks_served(&self) -> u64 {
        self.state.jwks_served.load(Ordering::Relaxed)
    }

    /// While down, the token endpoint answers 503 (the JWKS stays up, as brokers cache it).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }
}

impl Drop for IdentityProvider {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One HTTP/1.1 exchange per connection.
fn serve(state: &State, stream: impl Read + Write) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, json) = match (method, path) {
        ("GET", "/oauth2/jwks") => {
            state.jwks_served.fetch_add(1, Ordering::Relaxed);
            (200, jwks(state))
        }
        ("POST", "/oauth2/token") => token_response(state, &headers, &body),
        _ => (404, r#"{"error":"not_found"}"#.to_owned()),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        503 => "Service Unavailable",
        _ => "Not Found",
    };
    let out = reader.get_mut();
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{json}",
        json.len()
    )?;
    out.flush()
}

fn token_response(state: &State, headers: &BTreeMap<String, String>, body: &[u8]) -> (u16, String) {
    let refuse = |status: u16, error: &str, description: &str| {
        state.refused.fetch_add(1, Ordering::Relaxed);
        (
            status,
            format!(r#"{{"error":"{error}","error_description":"{description}"}}"#),
        )
    };
    if state.down.load(Ordering::SeqCst) {
        return refuse(503, "temporarily_unavailable", "the provider is down");
    }
    let form = String::from_utf8_lossy(body);
    if !form
        .split('&')
        .any(|kv| kv == "grant_type=client_credentials")
    {
        return refuse(400, "unsupported_grant_type", "expected client_credentials");
    }
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let client = credentials.as_deref().and_then(|c| c.split_once(':'));
    let Some((id, _)) = client.filter(|(id, secret)| {
        state
            .options
            .clients
            .iter()
            .any(|(i, s)| i == id && s == secret)
    }) else {
        return refuse(401, "invalid_client", "unknown client or wrong secret");
    };
    let scope = form
        .split('&')
        .find_map(|kv| kv.strip_prefix("scope="))
        .unwrap_or("kafka")
        .replace('+', " ");
    let lifetime = state.options.token_lifetime.as_secs();
    let token = sign(state, id, &scope);
    *state
        .issued
        .lock()
        .expect("issued lock")
        .entry(id.to_owned())
        .or_default() += 1;
    (
        200,
        format!(
            r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{lifetime},"scope":"{scope}"}}"#
        ),
    )
}

fn server_config(cert: &CertKey) -> Result<ServerConfig, String> {
    let chain = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).map_err(|e| e.to_string())?;
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(state: &State, subject: &str, scope: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let options = &state.options;
    let header = format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{KEY_ID}"}}"#);
    let claims = format!(
        r#"{{"iss":"{}","aud":"{}","sub":"{subject}","scope":"{scope}","iat":{now},"exp":{}}}"#,
        options.issuer,
        options.audience,
        now + options.token_lifetime.as_secs()
    );
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let signature = state
        .key
        .sign(&state.rng, signing_input.as_bytes())
        .expect("ES256 signing");
    format!("{signing_input}.{}", b64(signature.as_ref()))
}

/// The public key as a JWK set: an uncompressed P-256 point is `04 || x || y`.
fn jwks(state: &State) -> String {
    let point = state.key.public_key().as_ref();
    let (x, y) = (&point[1..33], &point[33..65]);
    format!(
        r#"{{"keys":[{{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"{KEY_ID}","x":"{}","y":"{}"}}]}}"#,
        b64(x),
        b64(y)
    )
}
