//! The client's error type: every variant names the cluster, and where it applies the broker,
//! topic, partition and offset involved.

use kafka_protocol::error::ResponseError;
use std::time::Duration;

use crate::batch::BatchError;

/// Result alias for the client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the Kafka client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A TCP (or later TLS) connection could not be opened.
    #[error("cluster {cluster}: cannot connect to broker {broker}: {source}")]
    Connect {
        cluster: String,
        broker: String,
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed (untrusted or expired certificate, name mismatch, ...).
    #[error("cluster {cluster}: TLS handshake with broker {broker} failed: {reason}")]
    Tls {
        cluster: String,
        broker: String,
        reason: String,
    },
    /// SASL authentication failed (wrong credentials, mechanism not enabled, ...).
    #[error(
        "cluster {cluster}: SASL {mechanism} authentication to broker {broker} failed: {reason}"
    )]
    Auth {
        cluster: String,
        broker: String,
        mechanism: &'static str,
        reason: String,
    },
    /// No OAUTHBEARER token could be had from the token endpoint or file.
    #[error(transparent)]
    OAuth(#[from] crate::net::sasl::OAuthError),
    /// None of the bootstrap servers answered.
    #[error("cluster {cluster}: no bootstrap server reachable (tried {tried}): {last}")]
    Bootstrap {
        cluster: String,
        tried: String,
        last: String,
    },
    /// The connection broke while a request was outstanding.
    #[error("cluster {cluster}: connection to broker {broker} lost: {reason}")]
    ConnectionLost {
        cluster: String,
        broker: String,
        reason: String,
    },
    /// A request got no response in time.
    #[error("cluster {cluster}: {api} request to broker {broker} timed out after {timeout:?}")]
    Timeout {
        cluster: String,
        broker: String,
        api: &'static str,
        timeout: Duration,
    },
    /// A message could not be encoded or a response could not be decoded.
    #[error("cluster {cluster}: broker {broker}: {api} v{version}: {reason}")]
    Protocol {
        cluster: String,
        broker: String,
        api: &'static str,
        version: i16,
        reason: String,
    },
    /// The broker supports no version of an API that this client speaks.
    #[error(
        "cluster {cluster}: broker {broker} does not support {api} (client speaks v{min}..v{max})"
    )]
    UnsupportedApi {
        cluster: String,
        broker: String,
        api: &'static str,
        min: i16,
        max: i16,
    },
    /// The broker speaks an API, but too old a version of it for a feature asked for.
    #[error(
        "cluster {cluster}: {feature} needs {api} v{needed} or newer; the broker speaks v{speaks}"
    )]
    UnsupportedVersion {
        cluster: String,
        feature: String,
        api: &'static str,
        needed: i16,
        speaks: i16,
    },
    /// The broker answered with a Kafka error code; an authorization refusal says which ACL
    /// was missing.
    #[error(
        "cluster {cluster}: {op}: {code}{}{}",
        message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default(),
        denied.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    Broker {
        cluster: String,
        op: String,
        code: ResponseError,
        message: Option<String>,
        denied: Option<Box<crate::denial::Denied>>,
    },
    /// The cluster's metadata has no such topic, partition, broker or leader.
    #[error("cluster {cluster}: {what}")]
    Metadata { cluster: String, what: String },
    /// A record batch is malformed.
    #[error("cluster {cluster}: {op}: {source}")]
    Batch {
        cluster: String,
        op: String,
        #[source]
        source: BatchError,
    },
    /// A configuration value is invalid.
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A write refused before it was sent: the writer's lease lapsed (its group membership is
    /// no longer known to be current).
    #[error("cluster {cluster}: {op} refused: the write lease of {holder} lapsed")]
    LeaseLapsed {
        cluster: String,
        op: String,
        holder: String,
    },
}

/// What kind of failure an [`Error`] is, and so what a caller does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The cached metadata (leaders, topics, coordinators) is out of date: refresh it, retry.
    StaleMetadata,
    /// Retrying the same operation later may succeed (a timeout, a lost connection, a broker
    /// still loading).
    Retriable,
    /// TLS or SASL refused: retrying at once will not help; fix the credentials or certificates.
    Auth,
    /// Retrying will not help (bad input, an authorization refusal, an unsupported API).
    Fatal,
}

impl Error {
    /// What kind of failure this is (one classification for every caller).
    pub fn kind(&self) -> ErrorKind {
        if self.is_security() {
            ErrorKind::Auth
        } else if self.needs_metadata_refresh() {
            ErrorKind::StaleMetadata
        } else if self.is_retriable() {
            ErrorKind::Retriable
        } else {
            ErrorKind::Fatal
        }
    }

    /// A short name for counting errors by cause: the Kafka error code (`NotLeaderOrFollower`),
    /// else the kind of client failure (`Connect`, `Timeout`, `CorruptBatch`, ...).
    pub fn code_name(&self) -> String {
        match self {
            Error::Broker { code, .. } => format!("{code:?}"),
            Error::Connect { .. } | Error::Bootstrap { .. } => "Connect".to_owned(),
            Error::ConnectionLost { .. } => "ConnectionLost".to_owned(),
            Error::Timeout { .. } => "Timeout".to_owned(),
            Error::Batch { .. } => "CorruptBatch".to_owned(),
            Error::Metadata { .. } => "Metadata".to_owned(),
            Error::Tls { .. } => "Tls".to_owned(),
            Error::Auth { .. } => "Auth".to_owned(),
            Error::OAuth(_) => "OAuth".to_owned(),
            Error::Protocol { .. } => "Protocol".to_owned(),
            Error::UnsupportedApi { .. } => "UnsupportedApi".to_owned(),
            Error::UnsupportedVersion { .. } => "UnsupportedVersion".to_owned(),
            Error::Config(_) => "Config".to_owned(),
            Error::LeaseLapsed { .. } => "LeaseLapsed".to_owned(),
        }
    }

    /// The Kafka error code, when the broker sent one.
    pub fn code(&self) -> Option<ResponseError> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The ACL whose absence made the broker refuse the request, if it was an authorization failure.
    pub fn denied(&self) -> Option<&crate::denial::Denied> {
        match self {
            Error::Broker { denied, .. } => denied.as_deref(),
            _ => None,
        }
    }

    /// Whether the error is a TLS or SASL failure: retrying at once will not help (callers
    /// retry such errors slowly, if at all).
    pub fn is_security(&self) -> bool {
        matches!(
            self,
            Error::Tls { .. } | Error::Auth { .. } | Error::OAuth(_)
        )
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::Bootstrap { .. }
            | Error::ConnectionLost { .. }
            | Error::Timeout { .. } => true,
            Error::Broker { code, .. } => is_retriable_code(*code),
            Error::Metadata { .. } => true,
            Error::OAuth(e) => e.is_retriable(),
            _ => false,
        }
    }

    /// Whether the error means the cached metadata (leaders, topics) is stale.
    pub fn needs_metadata_refresh(&self) -> bool {
        match self {
            Error::Broker { code, .. } => is_stale_metadata_code(*code),
            Error::Connect { .. } | Error::ConnectionLost { .. } | Error::Metadata { .. } => true,
            _ => false,
        }
    }
}

/// Error codes after which the client refreshes metadata before retrying.
pub fn is_stale_metadata_code(code: ResponseError) -> bool {
    matches!(
        code,
        ResponseError::NotLeaderOrFollower
            | ResponseError::UnknownTopicOrPartition
            | ResponseError::LeaderNotAvailable
            | ResponseError::FencedLeaderEpoch
            | ResponseError::UnknownLeaderEpoch
            | ResponseError::NotCoordinator
            | ResponseError::CoordinatorNotAvailable
            | ResponseError::NotController
            | ResponseError::ReplicaNotAvailable
            | ResponseError::KafkaStorageError
            | ResponseError::UnknownTopicId
            | ResponseError::InconsistentTopicId
    )
}

/// Error codes worth retrying: Kafka's retriable set, stale-metadata codes, and
/// OUT_OF_ORDER_SEQUENCE_NUMBER, which a pipelined idempotent producer gets for the batches
/// behind one that is being retried (they succeed once it lands).
pub fn is_retriable_code(code: ResponseError) -> bool {
    code.is_retriable()
        || is_stale_metadata_code(code)
        || matches!(
            code,
            ResponseError::CoordinatorLoadInProgress
                | ResponseError::ConcurrentTransactions
                | ResponseError::OutOfOrderSequenceNumber
                | ResponseError::ThrottlingQuotaExceeded
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(code: ResponseError) -> Error {
        Error::Broker {
            cluster: "c".into(),
            op: "op".into(),
            code,
            message: None,
            denied: None,
        }
    }

    #[test]
    fn one_classification() {
        assert_eq!(
            broker(ResponseError::NotLeaderOrFollower).kind(),
            ErrorKind::StaleMetadata
        );
        assert_eq!(
            broker(ResponseError::RequestTimedOut).kind(),
            ErrorKind::Retriable
        );
        assert_eq!(
            broker(ResponseError::TopicAuthorizationFailed).kind(),
            ErrorKind::Fatal
        );
        let auth = Error::Auth {
            cluster: "c".into(),
            broker: "b".into(),
            mechanism: "PLAIN",
            reason: "no".into(),
        };
        assert_eq!(auth.kind(), ErrorKind::Auth);
        let lost = Error::ConnectionLost {
            cluster: "c".into(),
            broker: "b".into(),
            reason: "eof".into(),
        };
        assert_eq!(lost.kind(), ErrorKind::StaleMetadata);
        assert_eq!(lost.code_name(), "ConnectionLost");
        assert_eq!(
            broker(ResponseError::NotLeaderOrFollower).code_name(),
            "NotLeaderOrFollower"
        );
    }
}
