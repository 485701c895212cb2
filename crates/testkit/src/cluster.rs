//! One test cluster of any broker kind, behind one API: start, stop, restart, logs, tear down.

use std::path::Path;
use std::thread;

use crate::install;
use crate::kafka::{KafkaCluster, KafkaOptions};
use crate::python::PythonBroker;
use crate::{BrokerKind, TestkitError};

/// One running (or stopped) test cluster on 127.0.0.1, owned by a test: a single noida or tansu
/// broker, or a single-node Apache Kafka (KRaft, combined broker and controller).
///
/// Dropping it kills the brokers and removes their runtime dir; if the thread is panicking it
/// prints the broker log tails and keeps the dir. Clusters with several Kafka brokers, TLS, SASL
/// or an authorizer are [`KafkaCluster`]s, started with [`KafkaOptions`].
#[derive(Debug)]
pub struct TestCluster {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Python(PythonBroker),
    Kafka(Box<KafkaCluster>),
}

impl TestCluster {
    /// Installs (if needed) and starts one single-broker cluster of `kind` on free 127.0.0.1 ports; blocks until it answers the Kafka protocol.
    pub fn start(kind: BrokerKind) -> Result<TestCluster, TestkitError> {
        let backend = match kind {
            BrokerKind::Kafka => {
                Backend::Kafka(Box::new(KafkaCluster::start(KafkaOptions::default())?))
            }
            python => Backend::Python(PythonBroker::start(python, install::installation()?)?),
        };
        Ok(TestCluster { backend })
    }

    /// The bootstrap address, "127.0.0.1:PORT".
    pub fn bootstrap(&self) -> String {
        match &self.backend {
            Backend::Python(b) => b.bootstrap(),
            Backend::Kafka(k) => k.bootstrap(),
        }
    }

    /// The broker's Kafka (plaintext) port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        match &self.backend {
            Backend::Python(b) => b.port(),
            Backend::Kafka(k) => k.port(),
        }
    }

    /// Which broker implementation this cluster runs.
    pub fn kind(&self) -> BrokerKind {
        match &self.backend {
            Backend::Python(b) => b.kind(),
            Backend::Kafka(_) => BrokerKind::Kafka,
        }
    }

    /// Broker stdout+stderr captured so far (all runs, separated by `===== strait-testkit` lines).
    pub fn logs(&self) -> String {
        match &self.backend {
            Backend::Python(b) => b.logs(),
            Backend::Kafka(k) => k.logs(),
        }
    }

    /// The per-cluster temp dir holding the data dirs and broker logs.
    pub fn runtime_dir(&self) -> &Path {
        match &self.backend {
            Backend::Python(b) => b.runtime_dir(),
            Backend::Kafka(k) => k.runtime_dir(),
        }
    }

    /// The broker's data dir (noida's data, Kafka's log dir; tansu keeps everything in memory).
    pub fn data_dir(&self) -> &Path {
        match &self.backend {
            Backend::Python(b) => b.data_dir(),
            Backend::Kafka(k) => k.data_dir(),
        }
    }

    /// Stops the broker (SIGTERM, then SIGKILL after a grace period), keeping its data dir and port.
    pub fn stop(&mut self) {
        match &mut self.backend {
            Backend::Python(b) => b.stop(),
            Backend::Kafka(k) => k.stop(),
        }
    }

    /// Starts it again on the same port and data dir (noida and Kafka keep data; tansu's memory engine does not); waits until ready.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        match &mut self.backend {
            Backend::Python(b) => b.restart(),
            Backend::Kafka(k) => k.restart(),
        }
    }

    /// The Apache Kafka cluster behind this one, for Kafka-only operations; `None` for noida and tansu.
    pub fn kafka(&self) -> Option<&KafkaCluster> {
        match &self.backend {
            Backend::Kafka(k) => Some(k),
            Backend::Python(_) => None,
        }
    }

    /// [`TestCluster::kafka`], mutably (stopping and starting single nodes).
    pub fn kafka_mut(&mut self) -> Option<&mut KafkaCluster> {
        match &mut self.backend {
            Backend::Kafka(k) => Some(k),
            Backend::Python(_) => None,
        }
    }
}

/// Starts `n` independent single-broker clusters of `kind` in parallel, each on its own ports.
pub fn start_clusters(kind: BrokerKind, n: usize) -> Result<Vec<TestCluster>, TestkitError> {
    if kind != BrokerKind::Kafka {
        // Install once, before the threads race for the install lock.
        install::installation()?;
    }
    let results: Vec<_> = thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| scope.spawn(move || TestCluster::start(kind)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("cluster start thread panicked"))
            .collect()
    });
    // On any error the clusters already started are dropped, i.e. killed.
    results.into_iter().collect()
}
