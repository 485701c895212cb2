//! A tiny hand-encoded Kafka client: just enough ApiVersions v0 and Metadata v1 to tell a broker is up.
//!
//! Deliberately independent of the `strait-kafka` crate, so testkit never tests strait with strait.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::TestkitError;

const API_METADATA: i16 = 3;
const API_VERSIONS: i16 = 18;
const CLIENT_ID: &str = "strait-testkit";
const MAX_FRAME: i32 = 64 << 20;

/// A broker as advertised in a Metadata response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdvertisedBroker {
    /// Broker node id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

/// Sends ApiVersions v0 then Metadata v1 (all topics) to `addr` and returns the advertised brokers (at least one).
pub fn probe(addr: &str) -> Result<Vec<AdvertisedBroker>, TestkitError> {
    let fail = |message: String| TestkitError::Probe {
        addr: addr.to_owned(),
        message,
    };
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| fail("resolves to no address".to_owned()))?;
    probe_addr(sock, Duration::from_secs(2)).map_err(fail)
}

/// [`probe`] on a resolved address with a per-operation timeout; errors are plain text.
pub(crate) fn probe_addr(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<Vec<AdvertisedBroker>, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;

    let mut resp = roundtrip(&mut stream, API_VERSIONS, 0, 1, &[])
        .map_err(|e| format!("ApiVersions v0: {e}"))?;
    let error_code = resp
        .i16()
        .map_err(|e| format!("ApiVersions v0 response: {e}"))?;
    if error_code != 0 {
        return Err(format!("ApiVersions v0 returned error code {error_code}"));
    }

    // Metadata v1 with a null topic array = all topics.
    let mut resp = roundtrip(&mut stream, API_METADATA, 1, 2, &(-1i32).to_be_bytes())
        .map_err(|e| format!("Metadata v1: {e}"))?;
    let brokers =
        parse_metadata_brokers(&mut resp).map_err(|e| format!("Metadata v1 response: {e}"))?;
    if brokers.is_empty() {
        return Err("Metadata v1 lists no brokers yet".to_owned());
    }
    Ok(brokers)
}

/// Sends one request (header v1) and returns the response body after a matching correlation id.
fn roundtrip(
    stream: &mut TcpStream,
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    body: &[u8],
) -> Result<Reader, String> {
    let mut msg = Vec::with_capacity(32 + body.len());
    msg.extend_from_slice(&api_key.to_be_bytes());
    msg.extend_from_slice(&api_version.to_be_bytes());
    msg.extend_from_slice(&correlation_id.to_be_bytes());
    msg.extend_from_slice(&(CLIENT_ID.len() as i16).to_be_bytes());
    msg.extend_from_slice(CLIENT_ID.as_bytes());
    msg.extend_from_slice(body);
    let mut frame = (msg.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&msg);
    stream.write_all(&frame).map_err(|e| format!("send: {e}"))?;

    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .map_err(|e| format!("read size: {e}"))?;
    let size = i32::from_be_bytes(size);
    if !(4..=MAX_FRAME).contains(&size) {
        return Err(format!("implausible response size {size}"));
    }
    let mut buf = vec![0u8; size as usize];
    stream
        .read_exact(&mut buf)
        .map_err(|e| format!("read body: {e}"))?;
    let mut reader = Reader { buf, pos: 0 };
    let got = reader.i32()?;
    if got != correlation_id {
        return Err(format!("correlation id {got}, expected {correlation_id}"));
    }
    Ok(reader)
}

/// Parses the broker array at the start of a Metadata v1 response body.
fn parse_metadata_brokers(r: &mut Reader) -> Result<Vec<AdvertisedBroker>, String> {
    let count = r.i32()?;
    if !(0..=10_000).contains(&count) {
        return Err(format!("implausible broker count {count}"));
    }
    let mut brokers = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let node_id = r.i32()?;
        let host = r.string()?.ok_or("null broker host")?;
        let port = r.i32()?;
        let _rack = r.string()?;
        brokers.push(AdvertisedBroker {
            node_id,
            host,
            port,
        });
    }
    Ok(brokers)
}

/// Big-endian cursor over a response body.
struct Reader {
    buf: Vec<u8>,
    pos: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        let end = end.ok_or_else(|| format!("truncated at byte {} (wanted {n})", self.pos))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn string(&mut self) -> Result<Option<String>, String> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metadata_brokers() {
        let mut body = Vec::new();
        body.extend_from_slice(&2i32.to_be_bytes());
        for (id, host, port, rack) in [(1i32, "127.0.0.1", 9092i32, None), (2, "h", 1, Some("r"))] {
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&(host.len() as i16).to_be_bytes());
            body.extend_from_slice(host.as_bytes());
            body.extend_from_slice(&port.to_be_bytes());
            match rack {
                None => body.extend_from_slice(&(-1i16).to_be_bytes()),
                Some(r) => {
                    body.extend_from_slice(&(r.len() as i16).to_be_bytes());
                    body.extend_from_slice(r.as_bytes());
                }
            }
        }
        let brokers = parse_metadata_brokers(&mut Reader { buf: body, pos: 0 }).unwrap();
        assert_eq!(
            brokers[0],
            AdvertisedBroker {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: 9092
            }
        );
        assert_eq!(brokers[1].host, "h");
    }

    #[test]
    fn truncated_body_is_an_error() {
        let mut r = Reader {
            buf: vec![0, 0, 0, 1, 0],
            pos: 0,
        };
        assert!(parse_metadata_brokers(&mut r)
            .unwrap_err()
            .contains("truncated"));
    }

    #[test]
    fn refused_connection_is_an_error() {
        let port = crate::ports::free_port().unwrap();
        let err = probe(&format!("127.0.0.1:{port}")).unwrap_err().to_string();
        assert!(err.contains("connect"), "{err}");
    }
}
