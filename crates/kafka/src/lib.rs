//! strait's Kafka wire client, on the `kafka-protocol` codec.
//!
//! Layers, bottom up: [`batch`] (record batches as raw bytes), [`net`] (one pipelined broker
//! connection), [`client`] (a cluster: metadata, retries, fetch, produce, admin, groups).

pub mod batch;
pub mod client;
mod denial;
mod error;
pub mod net;

pub use client::*;
pub use error::{is_retriable_code, is_stale_metadata_code, Error, ErrorKind, Result};
/// The underlying codec, for request and response types.
pub use kafka_protocol as protocol;
pub use kafka_protocol::error::ResponseError;
pub use net::sasl::{OAuthError, OAuthLogin, TokenSource};
pub use net::{
    ClientIdentity, SaslConfig, SaslMechanism, Secret, TlsConnector, TlsSettings, TlsSettingsError,
    TrustRoots,
};
