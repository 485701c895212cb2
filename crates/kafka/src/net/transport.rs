//! The transport seam: how a byte stream to a broker is opened. Plain TCP today; TLS wraps this.

use std::{fmt, future::Future, io, pin::Pin, time::Duration};
use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream to a broker.
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncStream for T {}

/// A boxed broker stream.
pub type BoxStream = Box<dyn AsyncStream>;

/// The future returned by [`Connector::connect`].
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + 'a>>;

/// Opens streams to brokers (TCP, TLS, a test proxy, ...).
pub trait Connector: Send + Sync + fmt::Debug + 'static {
    /// Opens a stream to `host:port` within `timeout`.
    fn connect<'a>(&'a self, host: &'a str, port: u16, timeout: Duration) -> ConnectFuture<'a>;
}

/// Plain TCP with `TCP_NODELAY`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect<'a>(&'a self, host: &'a str, port: u16, timeout: Duration) -> ConnectFuture<'a> {
        Box::pin(async move {
            let stream =
                tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port)))
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}
