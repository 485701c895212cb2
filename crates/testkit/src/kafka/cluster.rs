//! Apache Kafka KRaft test clusters: format, start, wait until ready, stop and start single
//! nodes, tear down.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tempfile::TempDir;

use super::config::{server_properties, NodeLayout, TlsFiles};
use super::install::KafkaInstall;
use super::{JvmProfile, KafkaOptions, KafkaVersion};
use crate::broker_log::BrokerLog;
use crate::ports::free_port;
use crate::probe::probe_addr;
use crate::process::tail;
use crate::process::BrokerProcess;
use crate::{BrokerKind, CertKey, TestCa, TestkitError, Usage};

/// How long a node may take to answer ApiVersions + Metadata (listing every running node).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// SIGTERM grace period (controlled shutdown) before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);
const LAUNCH_ATTEMPTS: usize = 3;
const PANIC_LOG_LINES: usize = 150;
const ERROR_LOG_LINES: usize = 60;
/// The line Kafka logs when a node has started (3.9 and 4.x alike).
const STARTED_LINE: &str = "Kafka Server started";

/// A running Apache Kafka cluster of one or more combined broker+controller nodes on 127.0.0.1.
///
/// Every node has a plaintext listener (`bootstrap()`, also used between brokers), a controller
/// listener and, with [`KafkaOptions::secure`], a `SECURE` listener (`secure_bootstrap()`)
/// whose certificates come from the cluster's own test CA. Runtime layout: a temp dir
/// `strait-kafka-*` holding `node-<id>/{server.properties,data/,broker.log}`. Dropping kills
/// every node and removes the dir; if the thread is panicking it prints each node's log tail and
/// keeps the dir. A watchdog kills the JVMs if the test process dies without dropping.
pub struct KafkaCluster {
    install: KafkaInstall,
    options: KafkaOptions,
    runtime: TempDir,
    cluster_id: String,
    nodes: Vec<Node>,
    ca: Option<TestCa>,
}

struct Node {
    layout: NodeLayout,
    dir: PathBuf,
    log: BrokerLog,
    process: Option<BrokerProcess>,
}

impl KafkaCluster {
    /// Installs Kafka (if needed), formats and starts the nodes; blocks until every node answers and sees all of them.
    pub fn start(options: KafkaOptions) -> Result<KafkaCluster, TestkitError> {
        let install = kafka_installation(options.version)?;
        let mut attempt = 1;
        loop {
            let mut cluster = KafkaCluster::prepare(install.clone(), options.clone())?;
            match cluster.launch_all() {
                Ok(()) => return Ok(cluster),
                Err((error, true)) if attempt < LAUNCH_ATTEMPTS => {
                    tracing::warn!("a Kafka port was taken ({error}); retrying on new ports");
                    attempt += 1;
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    /// Lays out ports, dirs, certificates and configs, and formats each node's storage.
    fn prepare(install: KafkaInstall, options: KafkaOptions) -> Result<KafkaCluster, TestkitError> {
        let runtime = TempDir::with_prefix("strait-kafka-")
            .map_err(|e| TestkitError::io("creating a temp dir for a Kafka test cluster", e))?;
        let mut layouts = Vec::new();
        for i in 0..options.brokers.max(1) {
            let dir = runtime.path().join(format!("node-{}", i + 1));
            layouts.push(NodeLayout {
                id: i as i32 + 1,
                port: free_port()?,
                controller_port: free_port()?,
                secure_port: match options.secure {
                    Some(_) => Some(free_port()?),
                    None => None,
                },
                log_dir: dir.join("data"),
            });
        }
        let (ca, tls) = match options.secure.as_ref().filter(|s| s.uses_tls()) {
            Some(_) => {
                let ca = TestCa::new("strait-testkit Kafka CA");
                let names: Vec<&str> = options
                    .server_cert_names
                    .iter()
                    .map(|s| s.as_str())
                    .collect();
                let server = ca.issue(&names, Usage::Server);
                let keystore = runtime.path().join("broker-keystore.pem");
                let truststore = runtime.path().join("ca.pem");
                write(&keystore, &format!("{}{}", server.key_pem, server.cert_pem))?;
                write(&truststore, &ca.cert_pem)?;
                (
                    Some(ca),
                    Some(TlsFiles {
                        keystore,
                        truststore,
                    }),
                )
            }
            None => (None, None),
        };
        let cluster_id = random_cluster_id();
        let nodes: Vec<Node> = layouts
            .iter()
            .map(|layout| {
                let dir = layout.log_dir.parent().expect("node dir").to_owned();
                fs::create_dir_all(&dir)
                    .map_err(|e| TestkitError::io(format!("creating {}", dir.display()), e))?;
                let props = server_properties(layout, &layouts, &options, tls.as_ref());
                write(&dir.join("server.properties"), &props)?;
                Ok(Node {
                    layout: layout.clone(),
                    log: BrokerLog::new(dir.join("broker.log")),
                    dir,
                    process: None,
                })
            })
            .collect::<Result<_, TestkitError>>()?;
        let cluster = KafkaCluster {
            install,
            options,
            runtime,
            cluster_id,
            nodes,
            ca,
        };
        let formats: Vec<_> = thread::scope(|scope| {
            let handles: Vec<_> = cluster
                .nodes
                .iter()
                .map(|node| scope.spawn(|| cluster.format(node)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("format thread"))
                .collect()
        });
        formats.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(cluster)
    }

    /// `kafka-storage format` for one node (with the SCRAM users of the secure listener).
    fn format(&self, node: &Node) -> Result<(), TestkitError> {
        let config = node.dir.join("server.properties");
        let mut cmd = self
            .install
            .command(JvmProfile::Tool, 256, &[], "kafka.tools.StorageTool");
        cmd.arg("format")
            .args(["-t", &self.cluster_id, "-c"])
            .arg(&config);
        if let Some(secure) = &self.options.secure {
            for user in secure.users() {
                cmd.args(user.format_args());
            }
        }
        let out = cmd
            .current_dir(&node.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| TestkitError::Java {
                what: "kafka-storage format".into(),
                detail: e.to_string(),
            })?;
        if out.status.success() {
            return Ok(());
        }
        Err(TestkitError::Java {
            what: format!("kafka-storage format of node {}", node.layout.id),
            detail: format!(
                "{}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                tail(&String::from_utf8_lossy(&out.stdout), 30)
            ),
        })
    }

    /// Starts every node and waits until all are ready; `Err((e, true))` means a port was taken.
    fn launch_all(&mut self) -> Result<(), (TestkitError, bool)> {
        let ids: Vec<i32> = self.nodes.iter().map(|n| n.layout.id).collect();
        let mut offsets = Vec::new();
        for &id in &ids {
            offsets.push(self.spawn(id).map_err(|e| (e, false))?);
        }
        for (&id, &offset) in ids.iter().zip(&offsets) {
            if let Err(error) = self.wait_ready(id, offset) {
                let conflict = self
                    .node(id)
                    .log
                    .read_from(offset)
                    .contains("Address already in use");
                for node in &mut self.nodes {
                    drop(node.process.take());
                }
                return Err((error, conflict));
            }
        }
        Ok(())
    }

    /// Spawns node `id`'s JVM; returns where its log of this run starts.
    fn spawn(&mut self, id: i32) -> Result<u64, TestkitError> {
        self.spawn_with(id, &[])
    }

    /// Spawns node `id`'s JVM with `jvm_args` added; returns where its log of this run starts.
    fn spawn_with(&mut self, id: i32, jvm_args: &[String]) -> Result<u64, TestkitError> {
        let mut args = self
            .options
            .secure
            .as_ref()
            .map(|s| s.jvm_args())
            .unwrap_or_default();
        args.extend_from_slice(jvm_args);
        let mut cmd = self.install.command(
            self.options.profile,
            self.options.heap_mb,
            &args,
            "kafka.Kafka",
        );
        let node = self.node_mut(id);
        let (offset, stdout, stderr) = node.log.start_run(&format!(
            "starting Kafka node {id} on 127.0.0.1:{}",
            node.layout.port
        ))?;
        cmd.arg(node.dir.join("server.properties"))
            .current_dir(&node.dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let process = BrokerProcess::spawn(&mut cmd).map_err(|source| TestkitError::Spawn {
            kind: BrokerKind::Kafka,
            binary: "java".into(),
            source,
        })?;
        node.process = Some(process);
        Ok(offset)
    }

    /// Polls until node `id` logged its start and answers Metadata listing every running node.
    fn wait_ready(&mut self, id: i32, log_offset: u64) -> Result<(), TestkitError> {
        let expected: Vec<i32> = self
            .nodes
            .iter()
            .filter(|n| n.process.is_some())
            .map(|n| n.layout.id)
            .collect();
        let node = self.node_mut(id);
        let port = node.layout.port;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        let mut last_error = format!("`{STARTED_LINE}` not logged yet");
        loop {
            let process = node.process.as_mut().expect("spawned");
            if let Some(status) = process.exit_status() {
                return Err(TestkitError::Exited {
                    kind: BrokerKind::Kafka,
                    port,
                    status: status.to_string(),
                    logs: tail(&node.log.read_from(log_offset), ERROR_LOG_LINES).to_owned(),
                });
            }
            if node.log.read_from(log_offset).contains(STARTED_LINE) {
                match probe_addr(addr, PROBE_TIMEOUT) {
                    Ok(brokers) => {
                        let mut seen: Vec<i32> = brokers.iter().map(|b| b.node_id).collect();
                        seen.sort_unstable();
                        if seen == expected {
                            return Ok(());
                        }
                        last_error =
                            format!("Metadata lists brokers {seen:?}, waiting for {expected:?}");
                    }
                    Err(e) => last_error = e,
                }
            }
            if started.elapsed() >= READY_TIMEOUT {
                return Err(TestkitError::NotReady {
                    kind: BrokerKind::Kafka,
                    port,
                    waited_ms: started.elapsed().as_millis(),
                    last_error,
                    logs: tail(&node.log.read_from(log_offset), ERROR_LOG_LINES).to_owned(),
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// The plaintext bootstrap list of the running nodes, "127.0.0.1:P1,127.0.0.1:P2,…".
    pub fn bootstrap(&self) -> String {
        self.list(|n| Some(n.layout.port))
    }

    /// The bootstrap list of the `SECURE` listener; `None` without one.
    pub fn secure_bootstrap(&self) -> Option<String> {
        self.options.secure.as_ref()?;
        Some(self.list(|n| n.layout.secure_port))
    }

    fn list(&self, port: impl Fn(&Node) -> Option<u16>) -> String {
        let running: Vec<&Node> = self.nodes.iter().filter(|n| n.process.is_some()).collect();
        let nodes = if running.is_empty() {
            self.nodes.iter().collect()
        } else {
            running
        };
        nodes
            .into_iter()
            .filter_map(|n| port(n).map(|p| format!("127.0.0.1:{p}")))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The plaintext port of the first node.
    pub fn port(&self) -> u16 {
        self.nodes[0].layout.port
    }

    /// The plaintext bootstrap address of node `id` alone.
    pub fn node_bootstrap(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.node(id).layout.port)
    }

    /// The node ids, 1..=n.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.layout.id).collect()
    }

    /// The Kafka version running.
    pub fn version(&self) -> KafkaVersion {
        self.options.version
    }

    /// The options the cluster was started with.
    pub fn options(&self) -> &KafkaOptions {
        &self.options
    }

    /// The cluster id the storage was formatted with.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The CA certificate (PEM) that signed the brokers' certificates; `None` without TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|ca| ca.cert_pem.as_str())
    }

    /// A client certificate for `common_name` (principal `User:CN=<common_name>`) signed by the cluster's CA, for mTLS.
    pub fn client_certificate(&self, common_name: &str) -> Option<CertKey> {
        Some(self.ca.as_ref()?.issue(&[common_name], Usage::Client))
    }

    /// The temp dir holding every node's config, data and log.
    pub fn runtime_dir(&self) -> &Path {
        self.runtime.path()
    }

    /// The first node's log dir.
    pub fn data_dir(&self) -> &Path {
        &self.nodes[0].layout.log_dir
    }

    /// Every node's log, each under a header line.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                format!(
                    "===== Kafka node {} =====\n{}",
                    n.layout.id,
                    n.log.read_from(0)
                )
            })
            .collect()
    }

    /// Node `id`'s log (all runs, separated by `===== strait-testkit` lines).
    pub fn node_logs(&self, id: i32) -> String {
        self.node(id).log.read_from(0)
    }

    /// Whether node `id`'s JVM is running.
    pub fn is_running(&self, id: i32) -> bool {
        self.node(id).process.is_some()
    }

    /// Stops node `id` with SIGTERM (controlled shutdown: its leaderships move first), SIGKILL after 30 s.
    pub fn stop_node(&mut self, id: i32) {
        let node = self.node_mut(id);
        if let Some(process) = node.process.take() {
            let how = process.terminate(STOP_GRACE);
            node.log.mark(&format!("stopped: {how}"));
        }
    }

    /// Freezes node `id` with SIGSTOP: its connections stay open and nothing answers (a hung
    /// broker, a long GC pause). [`KafkaCluster::thaw_node`] lets it run on.
    pub fn freeze_node(&mut self, id: i32) {
        let node = self.node_mut(id);
        if let Some(process) = node.process.as_mut() {
            process.signal("STOP");
            node.log.mark("frozen with SIGSTOP");
        }
    }

    /// Lets a frozen node run on (SIGCONT).
    pub fn thaw_node(&mut self, id: i32) {
        let node = self.node_mut(id);
        if let Some(process) = node.process.as_mut() {
            process.signal("CONT");
            node.log.mark("thawed with SIGCONT");
        }
    }

    /// Kills node `id` with SIGKILL (a crash: no controlled shutdown).
    pub fn kill_node(&mut self, id: i32) {
        let node = self.node_mut(id);
        if let Some(process) = node.process.take() {
            drop(process);
            node.log.mark("killed with SIGKILL");
        }
    }

    /// Starts node `id` again on its ports and data; waits until it answers and sees every running node.
    pub fn start_node(&mut self, id: i32) -> Result<(), TestkitError> {
        if self.node(id).process.is_some() {
            return Ok(());
        }
        let offset = self.spawn(id)?;
        self.wait_ready(id, offset).inspect_err(|_| {
            drop(self.node_mut(id).process.take());
        })
    }

    /// Stops every node (SIGTERM, in reverse order).
    pub fn stop(&mut self) {
        for id in self.node_ids().into_iter().rev() {
            self.stop_node(id);
        }
    }

    /// Starts every stopped node again; waits until all are ready.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        let stopped: Vec<i32> = self
            .nodes
            .iter()
            .filter(|n| n.process.is_none())
            .map(|n| n.layout.id)
            .collect();
        let mut offsets = Vec::new();
        for &id in &stopped {
            offsets.push(self.spawn(id)?);
        }
        for (&id, &offset) in stopped.iter().zip(&offsets) {
            self.wait_ready(id, offset)?;
        }
        Ok(())
    }

    fn node(&self, id: i32) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.layout.id == id)
            .unwrap_or_else(|| panic!("no Kafka node {id} (nodes are 1..={})", self.nodes.len()))
    }

    fn node_mut(&mut self, id: i32) -> &mut Node {
        let n = self.nodes.len();
        self.nodes
            .iter_mut()
            .find(|node| node.layout.id == id)
            .unwrap_or_else(|| panic!("no Kafka node {id} (nodes are 1..={n})"))
    }
}

impl std::fmt::Debug for KafkaCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaCluster")
            .field("version", &self.options.version)
            .field("bootstrap", &self.bootstrap())
            .field("secure_bootstrap", &self.secure_bootstrap())
            .field("runtime_dir", &self.runtime.path())
            .finish()
    }
}

/// Kills every node; if the thread is panicking, prints each node's log tail and keeps the runtime dir.
impl Drop for KafkaCluster {
    fn drop(&mut self) {
        let panicking = thread::panicking();
        for node in &mut self.nodes {
            if let Some(process) = node.process.take() {
                drop(process);
                if panicking {
                    node.log.mark("killed (test panicked)");
                }
            }
        }
        if !panicking {
            return;
        }
        self.runtime.disable_cleanup(true);
        for node in &self.nodes {
            let label = format!(
                "Kafka {} node {} (127.0.0.1:{})",
                self.options.version, node.layout.id, node.layout.port
            );
            eprintln!(
                "===== {label}: last {PANIC_LOG_LINES} log lines (runtime dir kept at {}) =====\n\
                 {}\n===== end of {label} logs =====",
                self.runtime.path().display(),
                tail(&node.log.read_from(0), PANIC_LOG_LINES).trim_end(),
            );
        }
    }
}

/// The finished install of `version`, installing it first if needed (memoised per process).
pub(crate) fn kafka_installation(version: KafkaVersion) -> Result<KafkaInstall, TestkitError> {
    super::install::kafka_installation(version, record_class_archive)
}

/// Installs Kafka `version` if missing and returns its install dir (idempotent, safe across
/// concurrent processes: uses a file lock).
pub fn ensure_kafka_installed(version: KafkaVersion) -> Result<PathBuf, TestkitError> {
    kafka_installation(version).map(|install| install.dir)
}

/// Records a class-data archive of a broker start (used by later test JVMs to start faster).
pub(crate) fn record_class_archive(
    install: &KafkaInstall,
    archive: &Path,
) -> Result<(), TestkitError> {
    let options = KafkaOptions::default().version(install.version);
    let mut cluster = KafkaCluster::prepare(install.clone(), options)?;
    // The archive is dumped when the JVM exits normally (SIGTERM runs the shutdown hooks).
    cluster.spawn_with(
        1,
        &[format!("-XX:ArchiveClassesAtExit={}", archive.display())],
    )?;
    cluster.wait_ready(1, 0)?;
    cluster.stop_node(1);
    if archive.is_file() {
        Ok(())
    } else {
        Err(TestkitError::Java {
            what: "recording the class-data archive".into(),
            detail: format!(
                "{} was not written; broker log tail:\n{}",
                archive.display(),
                tail(&cluster.node_logs(1), 20)
            ),
        })
    }
}

/// A random KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 characters),
/// never starting with `-` (the format tool would read it as an option).
fn random_cluster_id() -> String {
    loop {
        let bytes: [u8; 16] = rand::random();
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn write(path: &Path, contents: &str) -> Result<(), TestkitError> {
    fs::write(path, contents)
        .map_err(|e| TestkitError::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        let id = super::random_cluster_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(id, super::random_cluster_id());
        assert!((0..1000).all(|_| !super::random_cluster_id().starts_with('-')));
    }
}
