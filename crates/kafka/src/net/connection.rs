//! A pipelined connection to one broker: requests are written in call order, each tagged with a
//! correlation id; a reader task routes responses back to their callers. A SASL session with a
//! lifetime is renewed on the same connection before it ends (KIP-368 re-authentication).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;

use super::sasl::oauth::refresh::reauthenticate_after_ms;
use super::sasl::{SaslConfig, SaslSession};
use super::scatter::{write_pieces, Carried, ScatterBuf};
use super::tls::tls_error;
use super::transport::{BoxStream, Connector};
use super::versions::{api_name, ApiVersions};
use crate::error::{Error, Result};

/// Largest response frame accepted (a fetch response is bounded by the request's max bytes,
/// but some brokers ignore that limit; beyond this the connection is closed with an error).
const MAX_FRAME: usize = 512 * 1024 * 1024;

/// How to open and use a connection.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// Cluster name used in errors and logs.
    pub cluster: Arc<str>,
    /// Client id sent in every request header.
    pub client_id: Arc<str>,
    /// Time allowed to open the transport and finish the ApiVersions handshake.
    pub connect_timeout: Duration,
    /// Time allowed for one response (added to any wait the request itself asks the broker for).
    pub request_timeout: Duration,
    /// Opens the byte stream (TCP, TLS, ...).
    pub connector: Arc<dyn Connector>,
    /// SASL authentication run after ApiVersions, if the cluster needs it.
    pub sasl: Option<Arc<SaslConfig>>,
}

type Waiter = oneshot::Sender<std::result::Result<Bytes, String>>;

/// A SASL session's renewal time and end (KIP-368).
#[derive(Debug, Clone, Copy)]
struct SessionTimes {
    renew_at: tokio::time::Instant,
    ends_at: tokio::time::Instant,
}

#[derive(Default)]
struct Pending {
    /// Each request's waiter and when it was handed to the writer.
    waiters: HashMap<i32, (Waiter, Instant)>,
    closed: Option<String>,
}

/// The shortest time from handing a request to the writer to the first bytes of its
/// answer, in microseconds (`u64::MAX` before any answer): the link's round trip plus the
/// broker's least work (an answer's size does not count, nor does a long-poll lower it).
#[derive(Debug)]
struct RoundTrip(AtomicU64);

impl Default for RoundTrip {
    fn default() -> RoundTrip {
        RoundTrip(AtomicU64::new(u64::MAX))
    }
}

impl RoundTrip {
    fn saw(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX - 1);
        self.0.fetch_min(micros, Ordering::Relaxed);
    }

    fn shortest(&self) -> Option<Duration> {
        let micros = self.0.load(Ordering::Relaxed);
        (micros != u64::MAX).then(|| Duration::from_micros(micros))
    }
}

/// One open connection to a broker, shared by all requests to it.
pub struct Connection {
    options: ConnectionOptions,
    broker: String,
    writer: tokio::sync::Mutex<WriteHalf<BoxStream>>,
    pending: Arc<Mutex<Pending>>,
    round_trip: Arc<RoundTrip>,
    next_correlation_id: AtomicI32,
    versions: ApiVersions,
    reader: tokio::task::JoinHandle<()>,
    /// Held shared by every request write, exclusively by a re-authentication, during which
    /// nothing else may be sent (KIP-368).
    auth_gate: tokio::sync::RwLock<()>,
    /// When the SASL session must be renewed and when it ends, if the broker gave it a
    /// lifetime.
    reauthenticate_at: Mutex<Option<SessionTimes>>,
    reauthentications: AtomicU64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("cluster", &self.options.cluster)
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A request that has been written to the broker; await [`PendingResponse::wait`] for its response.
pub struct PendingResponse<R: Request> {
    rx: oneshot::Receiver<std::result::Result<Bytes, String>>,
    version: i16,
    timeout: Duration,
    cluster: Arc<str>,
    broker: String,
    _request: std::marker::PhantomData<fn() -> R>,
}

impl<R: Request> PendingResponse<R> {
    /// Waits for and decodes the response.
    pub async fn wait(self) -> Result<R::Response> {
        let api = api_name(R::KEY);
        let frame = match tokio::time::timeout(self.timeout, self.rx).await {
            Err(_) => {
                return Err(Error::Timeout {
                    cluster: self.cluster.to_string(),
                    broker: self.broker,
                    api,
                    timeout: self.timeout,
                })
            }
            Ok(Err(_)) => {
                return Err(Error::ConnectionLost {
                    cluster: self.cluster.to_string(),
                    broker: self.broker,
                    reason: "connection closed".into(),
                })
            }
            Ok(Ok(Err(reason))) => {
                return Err(Error::ConnectionLost {
                    cluster: self.cluster.to_string(),
                    broker: self.broker,
                    reason,
                })
            }
            Ok(Ok(Ok(frame))) => frame,
        };
        decode_response::<R>(frame, self.version).map_err(|reason| Error::Protocol {
            cluster: self.cluster.to_string(),
            broker: self.broker,
            api,
            version: self.version,
            reason,
        })
    }
}

fn decode_response<R: Request>(
    mut frame: Bytes,
    version: i16,
) -> std::result::Result<R::Response, String> {
    let key = ApiKey::try_from(R::KEY).map_err(|_| "unknown api key".to_string())?;
    let header_version = key.response_header_version(version);
    ResponseHeader::decode(&mut frame, header_version).map_err(|e| e.to_string())?;
    let response = R::Response::decode(&mut frame, version).map_err(|e| e.to_string())?;
    Ok(response)
}

impl Connection {
    /// Opens a connection to `host:port` and negotiates API versions.
    pub async fn open(options: ConnectionOptions, host: &str, port: u16) -> Result<Connection> {
        let broker = format!("{host}:{port}");
        let stream = options
            .connector
            .connect(host, port, options.connect_timeout)
            .await
            .map_err(|source| match tls_error(&source) {
                Some(tls) => Error::Tls {
                    cluster: options.cluster.to_string(),
                    broker: broker.clone(),
                    reason: tls.to_string(),
                },
                None => Error::Connect {
                    cluster: options.cluster.to_string(),
                    broker: broker.clone(),
                    source,
                },
            })?;
        let (read, write) = tokio::io::split(stream);
        let pending = Arc::new(Mutex::new(Pending::default()));
        let round_trip = Arc::new(RoundTrip::default());
        let reader = tokio::spawn(read_loop(read, pending.clone(), round_trip.clone()));
        let mut conn = Connection {
            options,
            broker,
            writer: tokio::sync::Mutex::new(write),
            pending,
            round_trip,
            next_correlation_id: AtomicI32::new(1),
            versions: ApiVersions::default(),
            reader,
            auth_gate: tokio::sync::RwLock::new(()),
            reauthenticate_at: Mutex::new(None),
            reauthentications: AtomicU64::new(0),
        };
        let timeout = conn.options.connect_timeout;
        conn.versions = match tokio::time::timeout(timeout, conn.negotiate()).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(Error::Timeout {
                    cluster: conn.options.cluster.to_string(),
                    broker: conn.broker.clone(),
                    api: "ApiVersions",
                    timeout,
                })
            }
        };
        if let Some(sasl) = conn.options.sasl.clone() {
            match tokio::time::timeout(timeout, conn.authenticate(&sasl)).await {
                Ok(result) => result?,
                Err(_) => {
                    return Err(Error::Timeout {
                        cluster: conn.options.cluster.to_string(),
                        broker: conn.broker.clone(),
                        api: "SaslAuthenticate",
                        timeout,
                    })
                }
            }
        }
        Ok(conn)
    }

    /// SaslHandshake v1 then SaslAuthenticate rounds until the mechanism is done; notes when
    /// the session must be renewed if the broker limits its lifetime.
    async fn authenticate(&self, sasl: &SaslConfig) -> Result<()> {
        let mechanism = sasl.mechanism.name();
        let fail = |reason: String| Error::Auth {
            cluster: self.options.cluster.to_string(),
            broker: self.broker.clone(),
            mechanism,
            reason,
        };
        let handshake =
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
        // A listener without SASL does not advertise SaslHandshake at all.
        let version = self
            .version_for::<SaslHandshakeRequest>()
            .map_or(0, |v| v.min(1));
        let authenticate_version = match self.version_for::<SaslAuthenticateRequest>() {
            Ok(v) if version >= 1 => v,
            _ => {
                return Err(fail(
                    "the broker does not support SaslHandshake v1 and SaslAuthenticate".into(),
                ))
            }
        };
        let token = match &sasl.oauth {
            Some(source) => Some(source.token().await?.value),
            None => None,
        };
        // The broker counts the session from its start, before our answer arrives.
        let started = tokio::time::Instant::now();
        let response = self.exchange(&handshake, version).await?;
        if response.error_code != 0 {
            let enabled: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(fail(format!(
                "the broker does not enable this mechanism (it enables: {})",
                if enabled.is_empty() {
                    "none".to_owned()
                } else {
                    enabled.join(", ")
                }
            )));
        }
        let (mut session, mut message) = SaslSession::start(sasl, token.as_ref());
        loop {
            let request = SaslAuthenticateRequest::default().with_auth_bytes(message.into());
            let response = self.exchange(&request, authenticate_version).await?;
            if response.error_code != 0 {
                let detail = response
                    .error_message
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| format!("error code {}", response.error_code));
                let challenge = session
                    .challenge()
                    .filter(|c| !detail.contains(c))
                    .map(|c| format!(" (the broker's challenge: {c})"))
                    .unwrap_or_default();
                return Err(fail(format!("rejected by the broker: {detail}{challenge}")));
            }
            match session.step(&response.auth_bytes).map_err(fail)? {
                Some(next) => message = next,
                None if session.is_done() => {
                    let lifetime = response.session_lifetime_ms;
                    *self.reauthenticate_at.lock().expect("reauth lock") =
                        (lifetime > 0).then(|| {
                            let after = reauthenticate_after_ms(lifetime, rand::random());
                            SessionTimes {
                                renew_at: started + Duration::from_millis(after as u64),
                                ends_at: started + Duration::from_millis(lifetime as u64),
                            }
                        });
                    return Ok(());
                }
                None => return Err(fail("the exchange ended early".into())),
            }
        }
    }

    /// Renews the SASL session on this connection when its time has come (KIP-368): nothing
    /// else is written meanwhile. A failed renewal closes the connection.
    async fn reauthenticate_if_due(&self) -> Result<()> {
        let due = || {
            self.reauthenticate_at
                .lock()
                .expect("reauth lock")
                .is_some_and(|t| tokio::time::Instant::now() >= t.renew_at)
        };
        if !due() {
            return Ok(());
        }
        let _exclusive = self.auth_gate.write().await;
        if !due() {
            return Ok(());
        }
        let Some(sasl) = self.options.sasl.clone() else {
            return Ok(());
        };
        let timeout = self.options.connect_timeout;
        let result = match tokio::time::timeout(timeout, self.authenticate(&sasl)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                cluster: self.options.cluster.to_string(),
                broker: self.broker.clone(),
                api: "SaslAuthenticate",
                timeout,
            }),
        };
        match result {
            Ok(()) => {
                self.reauthentications.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(cluster = %self.options.cluster, broker = %self.broker, "SASL session renewed");
                Ok(())
            }
            Err(error) => {
                fail_all(&self.pending, format!("re-authentication failed: {error}"));
                Err(error)
            }
        }
    }

    /// How many times this connection renewed its SASL session.
    pub fn reauthentications(&self) -> u64 {
        self.reauthentications.load(Ordering::Relaxed)
    }

    /// Writes a request and waits for its answer, bypassing the re-authentication gate (for
    /// the handshakes themselves).
    async fn exchange<R: Request>(&self, request: &R, version: i16) -> Result<R::Response> {
        self.write_request(request, version, Duration::ZERO, Vec::new())
            .await?
            .wait()
            .await
    }

    async fn negotiate(&self) -> Result<ApiVersions> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("strait"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        // v3 first; a broker that does not know it answers with an error and its own ranges (v0 shape).
        let v3 = self.exchange(&request, 3).await;
        let response = match v3 {
            Ok(r) if r.error_code == 0 => r,
            _ => self.exchange(&request, 0).await?,
        };
        if response.error_code != 0 {
            return Err(self.protocol_error(
                "ApiVersions",
                0,
                format!("error code {}", response.error_code),
            ));
        }
        Ok(ApiVersions::from_response(&response))
    }

    /// The name of the cluster this connection belongs to.
    pub fn cluster(&self) -> &str {
        &self.options.cluster
    }

    /// The broker's address as `host:port`.
    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// What the broker advertised in ApiVersions.
    pub fn versions(&self) -> &ApiVersions {
        &self.versions
    }

    /// The shortest a request on this connection took to start being answered: the link's
    /// round trip (plus the broker's least work); `None` before the first answer.
    pub fn round_trip(&self) -> Option<Duration> {
        self.round_trip.shortest()
    }

    /// Whether the connection has failed and must be replaced (also when its SASL session
    /// ended while it sat idle: the broker would close it at the next request).
    pub fn is_closed(&self) -> bool {
        let expired = self
            .reauthenticate_at
            .lock()
            .expect("reauth lock")
            .is_some_and(|t| tokio::time::Instant::now() >= t.ends_at);
        expired
            || self.pending.lock().expect("pending lock").closed.is_some()
            || self.reader.is_finished()
    }

    /// The version negotiated for request type `R`.
    pub fn version_for<R: Request>(&self) -> Result<i16> {
        self.versions
            .pick::<R>()
            .ok_or_else(|| Error::UnsupportedApi {
                cluster: self.options.cluster.to_string(),
                broker: self.broker.clone(),
                api: api_name(R::KEY),
                min: R::VERSIONS.min,
                max: R::VERSIONS.max,
            })
    }

    /// Sends a request at the negotiated version and waits for its response.
    pub async fn send<R: Request>(&self, request: &R) -> Result<R::Response> {
        self.submit(request).await?.wait().await
    }

    /// Writes a request at the negotiated version; the response is awaited separately, so
    /// several requests can be in flight and are written in call order.
    pub async fn submit<R: Request>(&self, request: &R) -> Result<PendingResponse<R>> {
        let version = self.version_for::<R>()?;
        self.submit_version(request, version).await
    }

    /// Like [`Connection::submit`] with an explicit version, and extra response time for
    /// requests that ask the broker to wait (Fetch `max_wait_ms`).
    pub async fn submit_version<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<PendingResponse<R>> {
        self.submit_with_wait(request, version, Duration::ZERO)
            .await
    }

    /// Writes a request whose broker-side wait may last up to `broker_wait`.
    pub async fn submit_with_wait<R: Request>(
        &self,
        request: &R,
        version: i16,
        broker_wait: Duration,
    ) -> Result<PendingResponse<R>> {
        self.reauthenticate_if_due().await?;
        let _shared = self.auth_gate.read().await;
        self.write_request(request, version, broker_wait, Vec::new())
            .await
    }

    /// Like [`Connection::submit`], for a request carrying `carried` (its record batches): they
    /// go to the socket from where they are, not copied into the request's frame.
    pub(crate) async fn submit_carrying<R: Request>(
        &self,
        request: &R,
        carried: Vec<Carried>,
    ) -> Result<PendingResponse<R>> {
        let version = self.version_for::<R>()?;
        self.reauthenticate_if_due().await?;
        let _shared = self.auth_gate.read().await;
        self.write_request(request, version, Duration::ZERO, carried)
            .await
    }

    async fn write_request<R: Request>(
        &self,
        request: &R,
        version: i16,
        broker_wait: Duration,
        carried: Vec<Carried>,
    ) -> Result<PendingResponse<R>> {
        let api = api_name(R::KEY);
        let correlation_id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed);
        let frame = self
            .encode(request, version, correlation_id, carried)
            .map_err(|reason| self.protocol_error(api, version, reason))?;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending.lock().expect("pending lock");
            if let Some(reason) = &pending.closed {
                return Err(self.lost(reason.clone()));
            }
            pending.waiters.insert(correlation_id, (tx, Instant::now()));
        }
        let mut writer = self.writer.lock().await;
        if let Err(e) = write_pieces(&mut *writer, &frame).await {
            drop(writer);
            let reason = format!("write failed: {e}");
            fail_all(&self.pending, reason.clone());
            return Err(self.lost(reason));
        }
        if let Err(e) = writer.flush().await {
            drop(writer);
            fail_all(&self.pending, format!("flush failed: {e}"));
            return Err(self.lost(format!("flush failed: {e}")));
        }
        Ok(PendingResponse {
            rx,
            version,
            timeout: self.options.request_timeout + broker_wait,
            cluster: self.options.cluster.clone(),
            broker: self.broker.clone(),
            _request: std::marker::PhantomData,
        })
    }

    /// The request's frame, in pieces: `carried` byte strings of the request are pieces of
    /// their own, not copied.
    fn encode<R: Request>(
        &self,
        request: &R,
        version: i16,
        correlation_id: i32,
        carried: Vec<Carried>,
    ) -> std::result::Result<Vec<Bytes>, String> {
        let key = ApiKey::try_from(R::KEY).map_err(|_| "unknown api key".to_string())?;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_string(
                self.options.client_id.to_string(),
            )));
        let header_version = key.request_header_version(version);
        let size = header
            .compute_size(header_version)
            .and_then(|h| request.compute_size(version).map(|b| h + b))
            .map_err(|e| e.to_string())?;
        let mut buf = ScatterBuf::new(size + 4, carried);
        buf.put_i32(size as i32);
        header
            .encode(&mut buf, header_version)
            .map_err(|e| e.to_string())?;
        request
            .encode(&mut buf, version)
            .map_err(|e| e.to_string())?;
        buf.into_pieces()
    }

    fn lost(&self, reason: String) -> Error {
        Error::ConnectionLost {
            cluster: self.options.cluster.to_string(),
            broker: self.broker.clone(),
            reason,
        }
    }

    fn protocol_error(&self, api: &'static str, version: i16, reason: String) -> Error {
        Error::Protocol {
            cluster: self.options.cluster.to_string(),
            broker: self.broker.clone(),
            api,
            version,
            reason,
        }
    }
}

fn fail_all(pending: &Mutex<Pending>, reason: String) {
    let mut pending = pending.lock().expect("pending lock");
    for (_, (waiter, _)) in pending.waiters.drain() {
        let _ = waiter.send(Err(reason.clone()));
    }
    pending.closed.get_or_insert(reason);
}

/// Reads exactly `size` bytes without zero-filling the buffer first.
async fn read_frame(read: &mut ReadHalf<BoxStream>, size: usize) -> std::io::Result<Bytes> {
    let mut frame = BytesMut::with_capacity(size);
    let mut rest = read.take(size as u64);
    while frame.len() < size {
        if rest.read_buf(&mut frame).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(frame.freeze())
}

async fn read_loop(
    mut read: ReadHalf<BoxStream>,
    pending: Arc<Mutex<Pending>>,
    round_trip: Arc<RoundTrip>,
) {
    let reason = loop {
        let size = match read.read_i32().await {
            Ok(size) => size,
            Err(e) => break format!("read failed: {e}"),
        };
        let answering = Instant::now();
        if size < 4 || size as usize > MAX_FRAME {
            break format!("invalid response frame size {size}");
        }
        let frame = match read_frame(&mut read, size as usize).await {
            Ok(frame) => frame,
            Err(e) => break format!("read failed: {e}"),
        };
        let correlation_id = (&frame[..4]).get_i32();
        let waiter = pending
            .lock()
            .expect("pending lock")
            .waiters
            .remove(&correlation_id);
        match waiter {
            Some((waiter, sent)) => {
                round_trip.saw(answering.saturating_duration_since(sent));
                let _ = waiter.send(Ok(frame));
            }
            None => break format!("response with unknown correlation id {correlation_id}"),
        }
    };
    fail_all(&pending, reason);
}
