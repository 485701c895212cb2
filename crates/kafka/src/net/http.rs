//! A small HTTP/1.1 client for the few HTTP services strait talks to (an OAuth token endpoint,
//! a Schema Registry): one request per connection (`Connection: close`), over TCP or TLS through
//! the same [`Connector`] seam as broker connections.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::Connector;

/// Largest answer read (tokens are a few KiB, a registry's subject list may be larger).
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// An `http://` or `https://` URL split into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Whether the scheme is `https`.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (80 or 443 unless given).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl HttpUrl {
    /// Parses `scheme://host[:port][/path][?query]`.
    pub fn parse(url: &str) -> Result<HttpUrl, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("`{url}` is not a URL (expected http:// or https://)"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            other => return Err(format!("`{url}`: unsupported scheme `{other}`")),
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("`{url}`: unclosed `[` in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("`{url}` has no host"));
        }
        let port = match port {
            None | Some("") => default_port,
            Some(p) => p
                .parse()
                .map_err(|_| format!("`{url}`: invalid port `{p}`"))?,
        };
        Ok(HttpUrl {
            tls,
            host: host.to_owned(),
            port,
            target,
        })
    }
}

/// Why a request got no answer; a failed TLS handshake (an untrusted certificate) is not
/// worth retrying, a refused or broken connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    /// What went wrong.
    pub reason: String,
    /// Whether a later attempt may succeed.
    pub retriable: bool,
}

impl HttpFailure {
    fn retriable(reason: String) -> HttpFailure {
        HttpFailure {
            reason,
            retriable: true,
        }
    }
}

/// A status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// POSTs `body` (`application/x-www-form-urlencoded`) with `headers`; `timeout` bounds connect,
/// and separately the exchange.
pub async fn post_form(
    connector: &dyn Connector,
    url: &HttpUrl,
    headers: &[(&str, String)],
    body: &str,
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<HttpResponse, HttpFailure> {
    let request = HttpRequest {
        method: "POST",
        target: &url.target,
        headers,
        body: Some(("application/x-www-form-urlencoded", body.as_bytes())),
    };
    send(connector, url, &request, connect_timeout, read_timeout).await
}

/// One request: method, target (path and query), extra headers and an optional body with its
/// content type.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// `GET`, `POST`, `PUT`, `DELETE`.
    pub method: &'a str,
    /// Path and query, starting with `/`.
    pub target: &'a str,
    /// Extra headers.
    pub headers: &'a [(&'a str, String)],
    /// Content type and body.
    pub body: Option<(&'a str, &'a [u8])>,
}

/// Sends `request` to `url`'s host and reads the whole answer; `connect_timeout` bounds
/// connect, `read_timeout` separately the exchange.
pub async fn send(
    connector: &dyn Connector,
    url: &HttpUrl,
    request: &HttpRequest<'_>,
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<HttpResponse, HttpFailure> {
    let mut stream = connector
        .connect(&url.host, url.port, connect_timeout)
        .await
        .map_err(|e| match crate::net::tls::tls_error(&e) {
            Some(tls) => HttpFailure {
                reason: format!("TLS handshake failed: {tls}"),
                retriable: false,
            },
            None => HttpFailure::retriable(format!("cannot connect: {e}")),
        })?;
    let host = if url.host.contains(':') {
        format!("[{}]:{}", url.host, url.port)
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n",
        request.method, request.target
    );
    if let Some((content_type, body)) = request.body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    for (name, value) in request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if let Some((_, body)) = request.body {
        bytes.extend_from_slice(body);
    }
    let exchange = async {
        stream.write_all(&bytes).await?;
        stream.flush().await?;
        let mut raw = Vec::new();
        (&mut stream)
            .take(MAX_RESPONSE as u64 + 1)
            .read_to_end(&mut raw)
            .await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(read_timeout, exchange)
        .await
        .map_err(|_| HttpFailure::retriable(format!("no complete answer within {read_timeout:?}")))?
        .map_err(|e| HttpFailure::retriable(format!("exchange failed: {e}")))?;
    if raw.len() > MAX_RESPONSE {
        return Err(HttpFailure::retriable(format!(
            "the answer is larger than {MAX_RESPONSE} bytes"
        )));
    }
    parse_response(&raw).map_err(HttpFailure::retriable)
}

/// Splits a complete HTTP/1.1 response into status and body (`Content-Length`, chunked, or
/// everything up to the close).
pub fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no complete HTTP header")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| format!("not an HTTP status line: `{status_line}`"))?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let rest = &raw[end + 4..];
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| format!("invalid Content-Length `{length}`"))?;
        rest.get(..length)
            .ok_or("the answer ended before its Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse { status, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is cut off")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("invalid chunk size `{size_text}`"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunk is cut off")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a chunk is cut off")?;
    }
}

/// Percent-escaping of one path segment (everything but RFC 3986's unreserved characters).
pub fn path_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `application/x-www-form-urlencoded` escaping of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_target() {
        let u = HttpUrl::parse("https://idp.example.com/oauth2/token?x=1").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.target.as_str()),
            (true, "idp.example.com", 443, "/oauth2/token?x=1")
        );
        let u = HttpUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.port, u.target.as_str()), (8080, "/"));
        let u = HttpUrl::parse("http://[::1]:9/t").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        for bad in ["idp/token", "ftp://x/", "http://:80/", "http://h:port/"] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bodies_by_length_chunks_or_close() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let r = parse_response(
            b"HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n4;x=y\r\nnope\r\n3\r\n!!!\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (401, &b"nope!!!"[..]));
        let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nall of it").unwrap();
        assert_eq!(r.body, b"all of it");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[test]
    fn form_values_are_escaped() {
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(path_encode(":.ctx:a b/c~é"), "%3A.ctx%3Aa%20b%2Fc~%C3%A9");
    }
}
