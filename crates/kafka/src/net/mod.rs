//! One broker connection: transport (TCP, TLS), framing, correlation ids, pipelining,
//! ApiVersions, SASL; and the small HTTP client of the token endpoint and the Schema Registry.

mod connection;
pub mod http;
pub mod sasl;
mod scatter;
mod tls;
mod transport;
mod versions;

pub use connection::{Connection, ConnectionOptions, PendingResponse};
pub use sasl::{SaslConfig, SaslMechanism, Secret};
pub(crate) use scatter::Carried;
pub use tls::{ClientIdentity, TlsConnector, TlsSettings, TlsSettingsError, TrustRoots};
pub use transport::{
    AsyncStream, BoxStream, ConnectFuture, Connector, SocketBuffers, TcpConnector,
};
pub use versions::{api_name, ApiVersions, VERSION_CAPS};
