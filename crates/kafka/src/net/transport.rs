//! The transport seam: how a byte stream to a broker is opened. Plain TCP (with the socket
//! buffers asked for); TLS wraps it.

use std::{fmt, future::Future, io, net::SocketAddr, pin::Pin, time::Duration};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

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

/// Socket buffer sizes asked of the OS for each broker connection (`send.buffer.bytes`,
/// `receive.buffer.bytes`). `None` keeps the OS default, which on Linux grows with the link
/// (autotuning); a fixed size turns that off.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SocketBuffers {
    /// `SO_SNDBUF`, in bytes.
    pub send: Option<u32>,
    /// `SO_RCVBUF`, in bytes.
    pub receive: Option<u32>,
}

/// Plain TCP with `TCP_NODELAY` and the socket buffers asked for.
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpConnector {
    /// Buffer sizes set on each socket before it connects.
    pub buffers: SocketBuffers,
}

impl TcpConnector {
    /// TCP with `buffers` set on each socket.
    pub fn new(buffers: SocketBuffers) -> Self {
        TcpConnector { buffers }
    }

    /// A TCP stream to `host:port` within `timeout`: each resolved address in turn, the
    /// buffers set before connecting (the receive buffer decides the window scale the
    /// handshake announces).
    pub async fn open(&self, host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
        tokio::time::timeout(timeout, self.open_any(host, port))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
    }

    async fn open_any(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let mut last = None;
        for address in tokio::net::lookup_host((host, port)).await? {
            match self.open_at(address).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))
        }))
    }

    async fn open_at(&self, address: SocketAddr) -> io::Result<TcpStream> {
        let socket = match address {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(bytes) = self.buffers.send {
            socket.set_send_buffer_size(bytes)?;
        }
        if let Some(bytes) = self.buffers.receive {
            socket.set_recv_buffer_size(bytes)?;
        }
        let stream = socket.connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

impl Connector for TcpConnector {
    fn connect<'a>(&'a self, host: &'a str, port: u16, timeout: Duration) -> ConnectFuture<'a> {
        Box::pin(async move {
            let stream = self.open(host, port, timeout).await?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the OS holds for a buffer asked of it: Linux doubles the request (bookkeeping
    /// overhead) and caps it at `net.core.{r,w}mem_max`, so only "at least what was asked,
    /// unless capped" is portable; the default differs from a small explicit size.
    #[tokio::test]
    async fn buffers_are_set_before_connecting() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = |connector: TcpConnector| async move {
            connector
                .open("127.0.0.1", port, Duration::from_secs(5))
                .await
                .unwrap()
        };
        let asked = 8 * 1024;
        let sized = open(TcpConnector::new(SocketBuffers {
            send: Some(asked),
            receive: Some(asked),
        }))
        .await;
        let default = open(TcpConnector::default()).await;
        let _accepted = (listener.accept().await, listener.accept().await);

        let socket = socket2::SockRef::from(&sized);
        let (send, receive) = (
            socket.send_buffer_size().unwrap(),
            socket.recv_buffer_size().unwrap(),
        );
        let asked = asked as usize;
        assert!(
            (asked..=4 * asked).contains(&receive),
            "SO_RCVBUF {receive} for {asked} asked"
        );
        assert!(
            (asked..=4 * asked).contains(&send),
            "SO_SNDBUF {send} for {asked} asked"
        );
        assert!(sized.nodelay().unwrap());
        let default = socket2::SockRef::from(&default).recv_buffer_size().unwrap();
        assert_ne!(default, receive, "the OS default differs from 8 KiB asked");
    }

    #[tokio::test]
    async fn an_unresolvable_host_is_an_error() {
        let e = TcpConnector::default()
            .open("no-such-host.invalid", 9092, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(!e.to_string().is_empty());
    }
}
