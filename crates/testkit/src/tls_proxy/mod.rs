//! A TLS- and SASL-terminating proxy in front of a real test broker, for brokers that speak
//! neither: a real rustls server (optionally requiring client certificates), a real SASL
//! server side (PLAIN, SCRAM verifying the password, OAUTHBEARER tokens), then bytes forwarded
//! to the broker over TCP. Broker addresses in Metadata and FindCoordinator responses are
//! rewritten to the proxy's, so every connection a client opens goes through the proxy.
//!
//! Faults on demand: a config value spoiled on its way to the broker
//! ([`SecureProxy::spoil_topic_config`]), a Produce request refused with an error code without
//! reaching the partition ([`SecureProxy::refuse_next_produce`]), Fetch answers for a topic
//! failed with an error code ([`SecureProxy::refuse_fetches`]).

mod delay;
mod frames;
mod sasl_server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub use sasl_server::ProxySasl;

use crate::certs::CertKey;
use crate::TestkitError;
use delay::Output;
use frames::{
    read_frame, read_response_head, read_rest, request_header, write_frame, FetchedTopic,
};
use sasl_server::{ServerSession, Step};

/// The Fetch API key.
const FETCH: i16 = 1;

/// The TLS side of the proxy.
#[derive(Clone)]
pub struct ProxyTls {
    /// The certificate the proxy presents (and its key).
    pub server: CertKey,
    /// If set, clients must present a certificate signed by this CA (PEM): mTLS.
    pub client_ca_pem: Option<String>,
}

/// What the proxy terminates.
#[derive(Clone, Default)]
pub struct ProxyOptions {
    /// TLS, or plain TCP when `None`.
    pub tls: Option<ProxyTls>,
    /// SASL, or none when `None`.
    pub sasl: Option<ProxySasl>,
    /// A one-way delay added to every frame in each direction (an RTT of twice this), frames
    /// overlapping as on a long link; `None`: frames are written at once.
    pub delay: Option<std::time::Duration>,
}

/// Counters of what went through the proxy.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// TLS handshakes that failed.
    pub tls_failures: AtomicU64,
    /// SASL exchanges that succeeded.
    pub authenticated: AtomicU64,
    /// SASL exchanges that failed.
    pub auth_failures: AtomicU64,
    /// Connections closed because they sent a request other than ApiVersions or SASL before
    /// authenticating (nothing of theirs reaches the broker).
    pub unauthenticated_requests: AtomicU64,
    /// Produce requests refused by [`SecureProxy::refuse_next_produce`].
    pub refused_produces: AtomicU64,
    /// Fetch answers failed by [`SecureProxy::refuse_fetches`].
    pub refused_fetches: AtomicU64,
    requests: Mutex<HashMap<i16, Forwarded>>,
    largest_fetch_asks: Mutex<HashMap<String, i32>>,
}

/// Requests of one API key forwarded, and their frames' bytes.
#[derive(Debug, Default, Clone, Copy)]
struct Forwarded {
    count: u64,
    bytes: u64,
}

impl ProxyStats {
    /// Requests of API `key` forwarded to the broker.
    pub fn requests(&self, key: i16) -> u64 {
        self.forwarded(key).count
    }

    /// Bytes of the requests of API `key` forwarded to the broker (whole frames).
    pub fn request_bytes(&self, key: i16) -> u64 {
        self.forwarded(key).bytes
    }

    fn forwarded(&self, key: i16) -> Forwarded {
        self.requests
            .lock()
            .expect("stats")
            .get(&key)
            .copied()
            .unwrap_or_default()
    }

    /// Every API key forwarded so far, sorted.
    pub fn request_keys(&self) -> Vec<i16> {
        let mut keys: Vec<i16> = self
            .requests
            .lock()
            .expect("stats")
            .keys()
            .copied()
            .collect();
        keys.sort_unstable();
        keys
    }

    /// The most bytes a Fetch request (naming topics, before v13) asked for one partition of
    /// `topic`; `None` if none asked for it.
    pub fn largest_fetch_ask(&self, topic: &str) -> Option<i32> {
        self.largest_fetch_asks
            .lock()
            .expect("stats")
            .get(topic)
            .copied()
    }

    fn fetch_asked(&self, asks: Vec<(String, i32)>) {
        let mut largest = self.largest_fetch_asks.lock().expect("stats");
        for (topic, most) in asks {
            let entry = largest.entry(topic).or_insert(most);
            *entry = (*entry).max(most);
        }
    }

    fn count(&self, key: i16, frame: &[u8]) {
        let mut requests = self.requests.lock().expect("stats");
        let forwarded = requests.entry(key).or_default();
        forwarded.count += 1;
        forwarded.bytes += frame.len() as u64;
    }
}

/// A running proxy; stops when dropped.
pub struct SecureProxy {
    addr: SocketAddr,
    stats: Arc<ProxyStats>,
    spoiled_config: SpoiledConfig,
    refusal: ProduceRefusal,
    fetch_refusal: FetchRefusal,
    task: JoinHandle<()>,
}

/// A topic config name whose values the proxy spoils in CreateTopics and
/// IncrementalAlterConfigs requests, so the real broker behind refuses them.
type SpoiledConfig = Arc<Mutex<Option<String>>>;

/// The next Produce request to (topic, partition) to refuse, and with which error code.
type ProduceRefusal = Arc<Mutex<Option<(String, i32, i16)>>>;

/// The topic whose Fetch answers to fail, with which error code, and how many more.
type FetchRefusal = Arc<Mutex<Option<(FetchedTopic, i16, u64)>>>;

/// What to do with a response on its way back to the client.
enum Rewrite {
    /// Broker addresses of a Metadata or FindCoordinator response become the proxy's.
    Addresses { key: i16, version: i16 },
    /// The response to a Produce request diverted to a missing topic: back to `topic`, every
    /// partition failing with `code`.
    Refused {
        version: i16,
        topic: String,
        code: i16,
    },
    /// The answer to a Fetch request asking for `topic`: each of its partitions fails with
    /// `code`.
    FetchRefused {
        version: i16,
        topic: FetchedTopic,
        code: i16,
    },
}

impl Drop for SecureProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    upstream: String,
    port: u16,
    tls: Option<tokio_rustls::TlsAcceptor>,
    sasl: Option<ProxySasl>,
    delay: Option<std::time::Duration>,
    stats: Arc<ProxyStats>,
    spoiled_config: SpoiledConfig,
    refusal: ProduceRefusal,
    fetch_refusal: FetchRefusal,
}

impl SecureProxy {
    /// Starts a proxy on a free 127.0.0.1 port forwarding to `upstream` (`host:port`).
    /// Must be called inside a tokio runtime.
    pub async fn start(upstream: &str, options: ProxyOptions) -> Result<SecureProxy, TestkitError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| TestkitError::io("binding the TLS proxy", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| TestkitError::io("reading the TLS proxy address", e))?;
        let tls = options.tls.as_ref().map(server_config).transpose()?;
        let stats = Arc::new(ProxyStats::default());
        let spoiled_config = SpoiledConfig::default();
        let refusal = ProduceRefusal::default();
        let fetch_refusal = FetchRefusal::default();
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            port: addr.port(),
            tls: tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c))),
            sasl: options.sasl,
            delay: options.delay,
            stats: stats.clone(),
            spoiled_config: spoiled_config.clone(),
            refusal: refusal.clone(),
            fetch_refusal: fetch_refusal.clone(),
        });
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(shared.clone(), tcp));
            }
        });
        Ok(SecureProxy {
            addr,
            stats,
            spoiled_config,
            refusal,
            fetch_refusal,
            task,
        })
    }

    /// The next Produce request writing to `topic` partition `partition` does not reach the
    /// partition: the proxy sends it to a topic that does not exist, so the broker stores
    /// nothing, and answers it with error `code` (e.g. 6, NOT_LEADER_OR_FOLLOWER, as a leader
    /// that is not serving yet would). Later requests pass.
    pub fn refuse_next_produce(&self, topic: &str, partition: i32, code: i16) {
        *self.refusal.lock().expect("refusal") = Some((topic.to_owned(), partition, code));
    }

    /// The next `count` Fetch requests asking for `topic` (named by `topic_id` from Fetch v13)
    /// reach the broker, but each of the topic's partitions in their answers fails with error
    /// `code` (e.g. 6, NOT_LEADER_OR_FOLLOWER, as from a broker that just lost leadership),
    /// without records. Later requests pass.
    pub fn refuse_fetches(&self, topic: &str, topic_id: uuid::Uuid, code: i16, count: u64) {
        let topic = FetchedTopic {
            name: topic.to_owned(),
            id: topic_id,
        };
        *self.fetch_refusal.lock().expect("fetch refusal") =
            (count > 0).then_some((topic, code, count));
    }

    /// From now on, values of topic config `name` in CreateTopics and IncrementalAlterConfigs
    /// requests reach the broker spoiled, so it refuses them as it would a property it does
    /// not know (a target on another Kafka version).
    pub fn spoil_topic_config(&self, name: &str) {
        *self.spoiled_config.lock().expect("spoiled config") = Some(name.to_owned());
    }

    /// The address clients bootstrap from, `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What went through so far.
    pub fn stats(&self) -> &ProxyStats {
        &self.stats
    }
}

fn server_config(tls: &ProxyTls) -> Result<ServerConfig, TestkitError> {
    let bad = |what: &str, e: String| TestkitError::io(what.to_owned(), std::io::Error::other(e));
    let chain = CertificateDer::pem_slice_iter(tls.server.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("reading the proxy certificate", e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(tls.server.key_pem.as_bytes())
        .map_err(|e| bad("reading the proxy key", e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("configuring TLS", e.to_string()))?;
    let builder = match &tls.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                let cert = cert.map_err(|e| bad("reading the client CA", e.to_string()))?;
                roots
                    .add(cert)
                    .map_err(|e| bad("adding the client CA", e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad("building the client verifier", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder
        .with_single_cert(chain, key)
        .map_err(|e| bad("configuring the proxy certificate", e.to_string()))
}

async fn serve(shared: Arc<Shared>, tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    match &shared.tls {
        None => relay(&shared, tcp).await,
        Some(acceptor) => match acceptor.accept(tcp).await {
            Ok(tls) => relay(&shared, tls).await,
            Err(_) => {
                shared.stats.tls_failures.fetch_add(1, Ordering::Relaxed);
            }
        },
    }
}

async fn relay<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(shared: &Shared, client: S) {
    let Ok(upstream) = TcpStream::connect(&shared.upstream).await else {
        return;
    };
    let _ = upstream.set_nodelay(true);
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut up_read, mut up_write) = upstream.into_split();
    if let Some(sasl) = &shared.sasl {
        let result = authenticate(
            shared,
            sasl,
            &mut client_read,
            &mut client_write,
            &mut up_read,
            &mut up_write,
        )
        .await;
        if result.is_err() {
            let _ = client_write.shutdown().await;
            return;
        }
    }
    let pending: Arc<Mutex<HashMap<i32, Rewrite>>> = Default::default();
    let mut to_broker = Output::new(up_write, shared.delay);
    let mut to_client = Output::new(client_write, shared.delay);
    let requests = {
        let pending = pending.clone();
        async move {
            while let Ok(Some(frame)) = read_frame(&mut client_read).await {
                let Some((key, version, correlation_id)) = request_header(&frame) else {
                    break;
                };
                shared.stats.count(key, &frame);
                if key == FETCH {
                    let asks = frames::fetch_partition_max_bytes(&frame, version);
                    shared.stats.fetch_asked(asks);
                    if let Some(refused) = refuse_fetch(shared, &frame, version) {
                        pending
                            .lock()
                            .expect("pending")
                            .insert(correlation_id, refused);
                    }
                }
                let spoiled = shared
                    .spoiled_config
                    .lock()
                    .expect("spoiled config")
                    .clone();
                let mut frame = match spoiled {
                    Some(name) => frames::spoil_config(frame, key, version, &name),
                    None => frame,
                };
                if frames::needs_rewrite(key) {
                    pending
                        .lock()
                        .expect("pending")
                        .insert(correlation_id, Rewrite::Addresses { key, version });
                }
                if key == 0 {
                    if let Some(diverted) = divert(shared, &frame, version) {
                        let (topic, code, new_frame) = diverted;
                        frame = new_frame;
                        shared
                            .stats
                            .refused_produces
                            .fetch_add(1, Ordering::Relaxed);
                        let refused = Rewrite::Refused {
                            version,
                            topic,
                            code,
                        };
                        pending
                            .lock()
                            .expect("pending")
                            .insert(correlation_id, refused);
                    }
                }
                if to_broker.send(frames::with_size(&frame)).await.is_err() {
                    break;
                }
            }
        }
    };
    let responses = async move {
        while let Ok(Some((size, correlation_id))) = read_response_head(&mut up_read).await {
            let rewrite = pending.lock().expect("pending").remove(&correlation_id);
            let Some(rewrite) = rewrite else {
                if to_client
                    .stream(&mut up_read, size, correlation_id)
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            };
            let Ok(frame) = read_rest(&mut up_read, size, correlation_id).await else {
                break;
            };
            let frame = match rewrite {
                Rewrite::Addresses { key, version } => {
                    frames::rewrite_addresses(frame, key, version, "127.0.0.1", shared.port)
                }
                Rewrite::Refused {
                    version,
                    topic,
                    code,
                } => frames::refuse_produce(frame, version, &topic, code),
                Rewrite::FetchRefused {
                    version,
                    topic,
                    code,
                } => frames::refuse_fetch(frame, version, &topic, code),
            };
            if to_client.send(frames::with_size(&frame)).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = requests => {}
        _ = responses => {}
    }
}

/// The armed refusal, if this Produce request writes to its partition: (topic, code, the
/// request diverted to a missing topic). Disarms it.
fn divert(
    shared: &Shared,
    frame: &bytes::Bytes,
    version: i16,
) -> Option<(String, i16, bytes::Bytes)> {
    let mut armed = shared.refusal.lock().expect("refusal");
    let (topic, partition, code) = armed.clone()?;
    let diverted = frames::divert_produce(frame, version, &topic, partition)?;
    *armed = None;
    Some((topic, code, diverted))
}

/// The armed Fetch refusal, if this Fetch request asks for its topic; counts it down.
fn refuse_fetch(shared: &Shared, frame: &bytes::Bytes, version: i16) -> Option<Rewrite> {
    let mut armed = shared.fetch_refusal.lock().expect("fetch refusal");
    let (topic, code, left) = armed.as_mut()?;
    if !frames::fetch_asks_for(frame, version, topic) {
        return None;
    }
    let refused = Rewrite::FetchRefused {
        version,
        topic: topic.clone(),
        code: *code,
    };
    *left -= 1;
    if *left == 0 {
        *armed = None;
    }
    shared.stats.refused_fetches.fetch_add(1, Ordering::Relaxed);
    Some(refused)
}

/// Serves the pre-authentication phase: ApiVersions is forwarded, SaslHandshake and
/// SaslAuthenticate are answered here, anything else closes the connection (as Kafka does).
async fn authenticate<C, W, U, V>(
    shared: &Shared,
    sasl: &ProxySasl,
    client_read: &mut C,
    client_write: &mut W,
    up_read: &mut U,
    up_write: &mut V,
) -> Result<(), ()>
where
    C: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    U: AsyncRead + Unpin,
    V: AsyncWrite + Unpin,
{
    let mut session: Option<ServerSession> = None;
    loop {
        let frame = read_frame(client_read).await.ok().flatten().ok_or(())?;
        let (key, version, correlation_id) = request_header(&frame).ok_or(())?;
        match key {
            18 => {
                shared.stats.count(key, &frame);
                if key == FETCH {
                    let asks = frames::fetch_partition_max_bytes(&frame, version);
                    shared.stats.fetch_asked(asks);
                }
                write_frame(up_write, &frame).await.map_err(drop)?;
                let response = read_frame(up_read).await.ok().flatten().ok_or(())?;
                write_frame(client_write, &response).await.map_err(drop)?;
            }
            17 => {
                let mechanism = frames::handshake_mechanism(&frame, version).ok_or(())?;
                let ok = sasl.mechanisms.contains(&mechanism);
                let reply =
                    frames::handshake_response(version, correlation_id, ok, &sasl.mechanisms);
                write_frame(client_write, &reply).await.map_err(drop)?;
                if !ok {
                    return Err(());
                }
                session = Some(ServerSession::new(&mechanism));
            }
            36 => {
                let server = session.as_mut().ok_or(())?;
                let bytes = frames::authenticate_bytes(&frame, version).ok_or(())?;
                match server.step(sasl, &bytes) {
                    Ok(Step::Continue(reply)) => {
                        let reply =
                            frames::authenticate_response(version, correlation_id, reply, None);
                        write_frame(client_write, &reply).await.map_err(drop)?;
                    }
                    Ok(Step::Done(reply)) => {
                        let reply =
                            frames::authenticate_response(version, correlation_id, reply, None);
                        write_frame(client_write, &reply).await.map_err(drop)?;
                        shared.stats.authenticated.fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    Err(_) => {
                        shared.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
                        let message = format!(
                            "Authentication failed during authentication due to invalid \
                             credentials with SASL mechanism {}",
                            server.mechanism()
                        );
                        let reply = frames::authenticate_response(
                            version,
                            correlation_id,
                            Vec::new(),
                            Some(&message),
                        );
                        let _ = write_frame(client_write, &reply).await;
                        return Err(());
                    }
                }
            }
            _ => {
                shared
                    .stats
                    .unauthenticated_requests
                    .fetch_add(1, Ordering::Relaxed);
                return Err(());
            }
        }
    }
}
