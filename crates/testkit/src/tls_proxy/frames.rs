//! Kafka frames as the proxy sees them: read/write size-prefixed frames, peek at request
//! headers, answer SASL requests itself, and rewrite broker addresses in Metadata and
//! FindCoordinator responses so clients keep talking to the proxy.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, FetchRequest, FetchResponse, FindCoordinatorResponse,
    IncrementalAlterConfigsRequest, MetadataResponse, ProduceRequest, ProduceResponse,
    RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

/// Largest frame the proxy accepts.
const MAX_FRAME: usize = 512 * 1024 * 1024;

/// Reads one frame (without its size prefix); `None` at a clean end of stream.
pub(super) async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Bytes>> {
    let Some(size) = read_size(r).await? else {
        return Ok(None);
    };
    let mut frame = vec![0u8; size];
    r.read_exact(&mut frame).await?;
    Ok(Some(frame.into()))
}

/// The next frame's size prefix, checked; `None` at a clean end of stream.
async fn read_size<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<usize>> {
    let size = match r.read_i32().await {
        Ok(size) => size,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    if size < 4 || size as usize > MAX_FRAME {
        return Err(std::io::Error::other(format!("bad frame size {size}")));
    }
    Ok(Some(size as usize))
}

/// The size prefix and correlation id of the next response frame, `None` at a clean end of
/// stream: the rest of the frame is then read whole ([`read_rest`]) or streamed.
pub(super) async fn read_response_head<R: AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<(usize, i32)>> {
    let Some(size) = read_size(r).await? else {
        return Ok(None);
    };
    Ok(Some((size, r.read_i32().await?)))
}

/// The whole frame of `size` bytes whose correlation id was read already.
pub(super) async fn read_rest<R: AsyncRead + Unpin>(
    r: &mut R,
    size: usize,
    correlation_id: i32,
) -> std::io::Result<Bytes> {
    let mut frame = vec![0u8; size];
    frame[..4].copy_from_slice(&correlation_id.to_be_bytes());
    r.read_exact(&mut frame[4..]).await?;
    Ok(frame.into())
}

/// Writes one frame with its size prefix.
pub(super) async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    frame: &[u8],
) -> std::io::Result<()> {
    w.write_i32(frame.len() as i32).await?;
    w.write_all(frame).await?;
    w.flush().await
}

/// `(api key, api version, correlation id)` of a request frame.
pub(super) fn request_header(frame: &[u8]) -> Option<(i16, i16, i32)> {
    let mut b = frame.get(..8)?;
    Some((b.get_i16(), b.get_i16(), b.get_i32()))
}

/// The most bytes a Fetch request asks for one partition, by topic name (none for a request
/// that does not decode, or names topics by id only).
pub(super) fn fetch_partition_max_bytes(frame: &Bytes, version: i16) -> Vec<(String, i32)> {
    let Some(request) = decode_request::<FetchRequest>(frame, ApiKey::Fetch, version) else {
        return Vec::new();
    };
    request
        .topics
        .iter()
        .filter(|t| !t.topic.is_empty())
        .filter_map(|t| {
            let most = t.partitions.iter().map(|p| p.partition_max_bytes).max()?;
            Some((t.topic.to_string(), most))
        })
        .collect()
}

/// A topic of Fetch requests and responses: by name up to version 12, by id from 13.
#[derive(Clone, Debug)]
pub(super) struct FetchedTopic {
    pub(super) name: String,
    pub(super) id: Uuid,
}

impl FetchedTopic {
    fn is(&self, version: i16, name: &TopicName, id: &Uuid) -> bool {
        if version >= 13 {
            *id == self.id
        } else {
            name.as_str() == self.name
        }
    }
}

/// Whether a Fetch request asks for `topic`.
pub(super) fn fetch_asks_for(frame: &Bytes, version: i16, topic: &FetchedTopic) -> bool {
    decode_request::<FetchRequest>(frame, ApiKey::Fetch, version).is_some_and(|request| {
        request
            .topics
            .iter()
            .any(|t| topic.is(version, &t.topic, &t.topic_id))
    })
}

/// The broker's answer to a Fetch request with every partition of `topic` failing with `code`:
/// no records, no offsets (as a broker that lost the partition's leadership answers).
pub(super) fn refuse_fetch(frame: Bytes, version: i16, topic: &FetchedTopic, code: i16) -> Bytes {
    edit_response(
        frame,
        ApiKey::Fetch,
        version,
        |response: &mut FetchResponse| {
            for t in &mut response.responses {
                if topic.is(version, &t.topic, &t.topic_id) {
                    for p in &mut t.partitions {
                        *p = PartitionData::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code)
                            .with_high_watermark(-1)
                            .with_last_stable_offset(-1)
                            .with_log_start_offset(-1);
                    }
                }
            }
        },
    )
}

/// `frame`, a response of `api` at `version`, with its body changed by `edit`; unchanged if it
/// does not decode or encode again.
fn edit_response<T: Decodable + Encodable>(
    frame: Bytes,
    api: ApiKey,
    version: i16,
    edit: impl FnOnce(&mut T),
) -> Bytes {
    let mut buf = frame.clone();
    let Ok(header) = ResponseHeader::decode(&mut buf, api.response_header_version(version)) else {
        return frame;
    };
    let Ok(mut response) = T::decode(&mut buf, version) else {
        return frame;
    };
    edit(&mut response);
    let mut out = BytesMut::new();
    let encoded = header
        .encode(&mut out, api.response_header_version(version))
        .is_ok()
        && response.encode(&mut out, version).is_ok();
    if encoded {
        out.freeze()
    } else {
        frame
    }
}

fn decode_request<T: Decodable>(frame: &Bytes, key: ApiKey, version: i16) -> Option<T> {
    let mut buf = frame.clone();
    RequestHeader::decode(&mut buf, key.request_header_version(version)).ok()?;
    T::decode(&mut buf, version).ok()
}

fn encode_response<T: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &T,
) -> Bytes {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.response_header_version(version))
        .expect("encode response header");
    body.encode(&mut buf, version).expect("encode response");
    buf.freeze()
}

/// The mechanism a SaslHandshake request asks for.
pub(super) fn handshake_mechanism(frame: &Bytes, version: i16) -> Option<String> {
    decode_request::<SaslHandshakeRequest>(frame, ApiKey::SaslHandshake, version)
        .map(|r| r.mechanism.to_string())
}

/// The SaslHandshake answer: error 33 (UNSUPPORTED_SASL_MECHANISM) unless `ok`.
pub(super) fn handshake_response(
    version: i16,
    correlation_id: i32,
    ok: bool,
    enabled: &[String],
) -> Bytes {
    let body = SaslHandshakeResponse::default()
        .with_error_code(if ok { 0 } else { 33 })
        .with_mechanisms(
            enabled
                .iter()
                .map(|m| StrBytes::from_string(m.clone()))
                .collect(),
        );
    encode_response(ApiKey::SaslHandshake, version, correlation_id, &body)
}

/// The bytes of a SaslAuthenticate request.
pub(super) fn authenticate_bytes(frame: &Bytes, version: i16) -> Option<Bytes> {
    decode_request::<SaslAuthenticateRequest>(frame, ApiKey::SaslAuthenticate, version)
        .map(|r| r.auth_bytes)
}

/// A SaslAuthenticate answer; with `error`, code 58 (SASL_AUTHENTICATION_FAILED) and the
/// message Kafka sends for bad credentials.
pub(super) fn authenticate_response(
    version: i16,
    correlation_id: i32,
    bytes: Vec<u8>,
    error: Option<&str>,
) -> Bytes {
    let mut body = SaslAuthenticateResponse::default().with_auth_bytes(bytes.into());
    if let Some(message) = error {
        body = body
            .with_error_code(58)
            .with_error_message(Some(StrBytes::from_string(message.to_owned())));
    }
    encode_response(ApiKey::SaslAuthenticate, version, correlation_id, &body)
}

/// Whether responses to this API carry broker addresses the proxy must rewrite.
pub(super) fn needs_rewrite(key: i16) -> bool {
    key == ApiKey::Metadata as i16 || key == ApiKey::FindCoordinator as i16
}

/// Rewrites every broker address in a Metadata or FindCoordinator response to `host:port`.
pub(super) fn rewrite_addresses(
    frame: Bytes,
    key: i16,
    version: i16,
    host: &str,
    port: u16,
) -> Bytes {
    let Ok(api) = ApiKey::try_from(key) else {
        return frame;
    };
    let mut buf = frame.clone();
    let Ok(header) = ResponseHeader::decode(&mut buf, api.response_header_version(version)) else {
        return frame;
    };
    let host = StrBytes::from_string(host.to_owned());
    let port = i32::from(port);
    let mut out = BytesMut::new();
    let encoded = header
        .encode(&mut out, api.response_header_version(version))
        .is_ok()
        && match api {
            ApiKey::Metadata => match MetadataResponse::decode(&mut buf, version) {
                Ok(mut r) => {
                    for b in &mut r.brokers {
                        b.host = host.clone();
                        b.port = port;
                    }
                    r.encode(&mut out, version).is_ok()
                }
                Err(_) => false,
            },
            ApiKey::FindCoordinator => match FindCoordinatorResponse::decode(&mut buf, version) {
                Ok(mut r) => {
                    if version < 4 {
                        r.host = host.clone();
                        r.port = port;
                    }
                    for c in &mut r.coordinators {
                        c.host = host.clone();
                        c.port = port;
                    }
                    r.encode(&mut out, version).is_ok()
                }
                Err(_) => false,
            },
            _ => false,
        };
    if encoded {
        out.freeze()
    } else {
        frame
    }
}

/// The value the proxy puts in place of a spoiled config's.
const SPOILED_VALUE: &str = "spoiled-by-the-test-proxy";

/// Replaces the value of topic config `name` in a CreateTopics or IncrementalAlterConfigs
/// request with one no broker accepts; other requests pass unchanged.
pub(super) fn spoil_config(frame: Bytes, key: i16, version: i16, name: &str) -> Bytes {
    let Ok(api) = ApiKey::try_from(key) else {
        return frame;
    };
    let spoiled = || Some(StrBytes::from_static_str(SPOILED_VALUE));
    let mut buf = frame.clone();
    let Ok(header) = RequestHeader::decode(&mut buf, api.request_header_version(version)) else {
        return frame;
    };
    let mut out = BytesMut::new();
    let encoded = header
        .encode(&mut out, api.request_header_version(version))
        .is_ok()
        && match api {
            ApiKey::CreateTopics => match CreateTopicsRequest::decode(&mut buf, version) {
                Ok(mut r) => {
                    for c in r.topics.iter_mut().flat_map(|t| t.configs.iter_mut()) {
                        if c.name.as_str() == name {
                            c.value = spoiled();
                        }
                    }
                    r.encode(&mut out, version).is_ok()
                }
                Err(_) => false,
            },
            ApiKey::IncrementalAlterConfigs => {
                match IncrementalAlterConfigsRequest::decode(&mut buf, version) {
                    Ok(mut r) => {
                        for c in r.resources.iter_mut().flat_map(|r| r.configs.iter_mut()) {
                            if c.name.as_str() == name {
                                c.value = spoiled();
                            }
                        }
                        r.encode(&mut out, version).is_ok()
                    }
                    Err(_) => false,
                }
            }
            _ => return frame,
        };
    if encoded {
        out.freeze()
    } else {
        frame
    }
}

/// The topic a diverted Produce request is sent to instead: no broker has it.
const DECOY_TOPIC: &str = "strait-testkit-refused-produce";

/// A Produce request writing to `topic` partition `partition`, diverted to [`DECOY_TOPIC`]
/// (the broker answers UNKNOWN_TOPIC_OR_PARTITION and stores nothing); `None` for any other
/// request.
pub(super) fn divert_produce(
    frame: &Bytes,
    version: i16,
    topic: &str,
    partition: i32,
) -> Option<Bytes> {
    let api = ApiKey::Produce;
    let mut buf = frame.clone();
    let header = RequestHeader::decode(&mut buf, api.request_header_version(version)).ok()?;
    let mut request = ProduceRequest::decode(&mut buf, version).ok()?;
    let hit = request
        .topic_data
        .iter()
        .any(|t| t.name.as_str() == topic && t.partition_data.iter().any(|p| p.index == partition));
    if !hit {
        return None;
    }
    for t in &mut request.topic_data {
        if t.name.as_str() == topic {
            t.name = TopicName(StrBytes::from_static_str(DECOY_TOPIC));
        }
    }
    let mut out = BytesMut::new();
    header
        .encode(&mut out, api.request_header_version(version))
        .ok()?;
    request.encode(&mut out, version).ok()?;
    Some(out.freeze())
}

/// The broker's answer to a diverted Produce request, back under `topic`, each of its
/// partitions failing with `code`.
pub(super) fn refuse_produce(frame: Bytes, version: i16, topic: &str, code: i16) -> Bytes {
    edit_response(
        frame,
        ApiKey::Produce,
        version,
        |response: &mut ProduceResponse| {
            for t in &mut response.responses {
                if t.name.as_str() == DECOY_TOPIC {
                    t.name = TopicName(StrBytes::from_string(topic.to_owned()));
                    for p in &mut t.partition_responses {
                        p.error_code = code;
                        p.base_offset = -1;
                    }
                }
            }
        },
    )
}

/// Appends a size prefix (used when forwarding raw frames).
pub(super) fn with_size(frame: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(frame.len() + 4);
    buf.put_i32(frame.len() as i32);
    buf.put_slice(frame);
    buf.freeze()
}
