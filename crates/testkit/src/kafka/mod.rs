//! Apache Kafka from Maven Central, the reference broker: install a pinned version, start KRaft
//! clusters (one or three nodes, TLS, SCRAM, an authorizer), run the real MirrorMaker 2, and ask
//! the Java client what it sees.

mod cluster;
mod config;
mod install;
mod java_peer;
mod jvm;
mod mm2;
mod version;

pub(crate) use install::{mvn, run as run_install_step};
pub(crate) use jvm::Java;

pub use cluster::{ensure_kafka_installed, KafkaCluster};
pub use config::{KafkaOptions, ScramUser, SecureListener};
pub use install::{default_kafka_dir, KAFKA_MARKER};
pub use java_peer::{java_peer, RunningJavaPeer};
pub use jvm::JvmProfile;
pub use mm2::{Mm2Options, Mm2Process};
pub use version::KafkaVersion;
