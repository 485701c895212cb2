//! mm2.properties: Java properties parsing and the typed configuration of flows.
//!
//! [`parse_file`] reads a dedicated-mode MirrorMaker 2 file exactly as MM2 does
//! ([`Properties`]: `java.util.Properties` with line numbers), applies MM2's property hierarchy
//! (cluster props, connector config, client configs, worker config) and types every setting a
//! flow needs ([`FlowConfig`]). Errors name the key and the line ([`ConfigError`]).

mod buffer;
mod client;
mod cycles;
mod error;
mod exactly_once;
mod flow;
mod group;
mod hierarchy;
mod jaas;
mod keys;
mod keystore;
mod model;
mod oauth;
mod observe;
mod properties;
mod providers;
mod redact;
mod schemas;
mod security;
mod throttle;
mod values;

use std::path::Path;

pub use buffer::{BUFFER_MAX_BYTES, DEFAULT_BUFFER_MAX_BYTES};
pub use client::ClientProps;
pub use cycles::{CycleDetection, CYCLE_DETECTION};
pub use error::{ConfigError, KeyProblem};
pub use exactly_once::{ExactlyOnce, TransactionBoundary, TRANSACTIONAL_ID_PREFIX};
pub use flow::{
    FlowConfig, OffsetReset, SyncsLocation, DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_OFFSET_FLUSH_INTERVAL, DEFAULT_REFRESH_GROUPS_INTERVAL,
    DEFAULT_REFRESH_TOPICS_INTERVAL, DEFAULT_SYNC_INTERVAL,
};
pub use group::{
    GroupSettings, GROUP_ENABLED, GROUP_HEARTBEAT_INTERVAL, GROUP_ID, GROUP_INSTANCE_ID,
    GROUP_SESSION_TIMEOUT,
};
pub use model::MirrorConfig;
pub use observe::{
    ObserveConfig, DEFAULT_HTTP_LISTEN, HTTP_ENABLED, HTTP_LISTEN, HTTP_TOKEN_FILE,
    METRICS_PARTITION_LABELS,
};
pub use properties::{Properties, Property};
pub use redact::{is_secret_key, redact, REDACTED};
pub use schemas::{
    RegistryEndpoint, SchemaSyncSettings, DEFAULT_SCHEMAS_SYNC_INTERVAL, REGISTRY_TRUSTSTORE,
    REGISTRY_URL, REGISTRY_USER_INFO, SCHEMAS_SUBJECTS, SCHEMAS_SUBJECTS_EXCLUDE,
    SCHEMAS_SYNC_ENABLED, SCHEMAS_SYNC_GLOBAL, SCHEMAS_SYNC_INTERVAL,
};
pub use security::{client_security, ClientSecurity, SecurityProtocol};
pub use throttle::{
    ThrottleRule, ThrottleSettings, THROTTLE_BYTES, THROTTLE_RULES, THROTTLE_RULE_PREFIX,
};
pub use values::Origin;

/// Reads and derives an `mm2.properties` file (bytes decoded as ISO-8859-1, like Java).
pub fn parse_file(path: &Path) -> Result<MirrorConfig, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_bytes(&bytes)
}

/// Derives the configuration from file contents (ISO-8859-1).
pub fn parse_bytes(bytes: &[u8]) -> Result<MirrorConfig, ConfigError> {
    MirrorConfig::from_properties(Properties::parse_bytes(bytes)?)
}

/// Derives the configuration from already decoded text.
pub fn parse_str(text: &str) -> Result<MirrorConfig, ConfigError> {
    MirrorConfig::from_properties(Properties::parse_str(text)?)
}
