//! A minimal HTTP/1.1 client for strait's own REST API (`strait status`, `pause`, ...): plain
//! HTTP to a local or in-cluster listener, one request per connection.

use std::path::PathBuf;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where a running strait listens and how to authenticate.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Endpoint {
    /// Base URL of the running strait's HTTP listener (strait.http.listen).
    #[arg(long, default_value = "http://127.0.0.1:9464", env = "STRAIT_URL")]
    pub(crate) url: String,
    /// File holding the bearer token (strait.http.token.file), if the listener requires one.
    #[arg(long, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
}

impl Endpoint {
    /// GETs `path` and parses the JSON body.
    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.call("GET", path).await
    }

    /// POSTs to `path` (no body) and parses the JSON answer.
    pub(crate) async fn post(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.call("POST", path).await
    }

    async fn call(&self, method: &str, path: &str) -> anyhow::Result<serde_json::Value> {
        let (host, base) = split_url(&self.url)?;
        let token = match &self.token_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .with_context(|| format!("reading token file {}", f.display()))?
                    .trim()
                    .to_owned(),
            ),
            None => None,
        };
        let mut stream = TcpStream::connect(&host).await.with_context(|| {
            format!(
                "connecting to strait at {} (is `strait run` serving HTTP there?)",
                self.url
            )
        })?;
        let mut request = format!(
            "{method} {base}{path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nContent-Length: 0\r\nConnection: close\r\n"
        );
        if let Some(t) = token {
            request.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let (status, body) = parse_response(&raw)
            .with_context(|| format!("malformed HTTP response from {}", self.url))?;
        let json: serde_json::Value = serde_json::from_slice(&body)
            .with_context(|| format!("{method} {path}: HTTP {status}, body is not JSON"))?;
        if !(200..300).contains(&status) {
            let why = json["error"].as_str().unwrap_or("");
            bail!("{method} {}{path}: HTTP {status} {why}", self.url);
        }
        Ok(json)
    }
}

/// `http://host:port/base` → (`host:port`, `/base` without trailing slash).
fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("--url {url}: only http:// URLs are supported");
    };
    let (host, base) = rest.split_once('/').unwrap_or((rest, ""));
    let base = base.trim_end_matches('/');
    let base = if base.is_empty() {
        String::new()
    } else {
        format!("/{base}")
    };
    Ok((host.to_owned(), base))
}

/// Status code and body (de-chunked) of a complete HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = &raw[end + 4..];
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Some((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some((status, out));
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_response, split_url};

    #[test]
    fn chunked_and_plain_bodies() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain), Some((200, b"{}".to_vec())));
        let chunked = b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((404, b"[1,2]".to_vec())));
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://127.0.0.1:9464").unwrap(),
            ("127.0.0.1:9464".to_owned(), String::new())
        );
        assert_eq!(
            split_url("http://strait:9464/prefix/").unwrap(),
            ("strait:9464".to_owned(), "/prefix".to_owned())
        );
        assert!(split_url("https://x").is_err());
    }
}
