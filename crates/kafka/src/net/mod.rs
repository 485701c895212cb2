//! One broker connection: transport, framing, correlation ids, pipelining, ApiVersions.

mod connection;
mod transport;
mod versions;

pub use connection::{Connection, ConnectionOptions, PendingResponse};
pub use transport::{AsyncStream, BoxStream, ConnectFuture, Connector, TcpConnector};
pub use versions::{api_name, ApiVersions, VERSION_CAPS};
