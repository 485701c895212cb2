//! The real MirrorMaker 2 in dedicated mode (`connect-mirror-maker.sh`), started from a test.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::cluster::kafka_installation;
use super::install::KafkaInstall;
use super::{JvmProfile, KafkaVersion};
use crate::process::tail;
use crate::process::BrokerProcess;
use crate::TestkitError;

/// MM2's main class in dedicated mode, as `connect-mirror-maker.sh` runs it.
const MIRROR_MAKER: &str = "org.apache.kafka.connect.mirror.MirrorMaker";
/// SIGTERM grace period: MM2 stops its connectors and flushes their offsets first.
const STOP_GRACE: Duration = Duration::from_secs(60);
const PANIC_LOG_LINES: usize = 150;

/// How to run MM2.
#[derive(Clone, Debug)]
pub struct Mm2Options {
    /// Which Kafka release's MM2.
    pub version: KafkaVersion,
    /// `--clusters`: run only the flows into these clusters (MM2's default: all).
    pub clusters: Vec<String>,
    /// JVM tuning ([`JvmProfile::Bench`] for benchmarks).
    pub profile: JvmProfile,
    /// Heap in MiB.
    pub heap_mb: u32,
    /// More JVM flags (system properties such as Kafka 4's
    /// `-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=...`).
    pub jvm_args: Vec<String>,
}

impl Default for Mm2Options {
    fn default() -> Self {
        Mm2Options {
            version: KafkaVersion::from_env(),
            clusters: Vec::new(),
            profile: JvmProfile::Test,
            heap_mb: 512,
            jvm_args: Vec::new(),
        }
    }
}

/// A running MirrorMaker 2 process (dedicated mode) on a given mm2.properties.
///
/// Its runtime dir `strait-mm2-*` holds `mm2.properties` and `mm2.log` (stdout+stderr).
/// Dropping kills it; if the thread is panicking it prints the log tail first.
pub struct Mm2Process {
    runtime: TempDir,
    log_path: PathBuf,
    process: Option<BrokerProcess>,
}

impl Mm2Process {
    /// Installs Kafka (if needed) and starts MM2 on `properties` (the file's text).
    pub fn start(properties: &str, options: Mm2Options) -> Result<Mm2Process, TestkitError> {
        let install = kafka_installation(options.version)?;
        Mm2Process::start_with(&install, properties, &options)
    }

    fn start_with(
        install: &KafkaInstall,
        properties: &str,
        options: &Mm2Options,
    ) -> Result<Mm2Process, TestkitError> {
        let runtime = TempDir::with_prefix("strait-mm2-")
            .map_err(|e| TestkitError::io("creating a temp dir for MirrorMaker 2", e))?;
        let config = runtime.path().join("mm2.properties");
        fs::write(&config, properties)
            .map_err(|e| TestkitError::io(format!("writing {}", config.display()), e))?;
        let log_path = runtime.path().join("mm2.log");
        let log = File::create(&log_path)
            .map_err(|e| TestkitError::io(format!("creating {}", log_path.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| TestkitError::io("duplicating the log file handle", e))?;
        let mut cmd = install.command(
            options.profile,
            options.heap_mb,
            &options.jvm_args,
            MIRROR_MAKER,
        );
        cmd.arg(&config);
        if !options.clusters.is_empty() {
            cmd.arg("--clusters").args(&options.clusters);
        }
        cmd.current_dir(runtime.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let process = BrokerProcess::spawn(&mut cmd).map_err(|e| TestkitError::Java {
            what: format!("starting MirrorMaker 2 {}", install.version),
            detail: e.to_string(),
        })?;
        Ok(Mm2Process {
            runtime,
            log_path,
            process: Some(process),
        })
    }

    /// The process id, while it runs (to measure its CPU and memory).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(BrokerProcess::id)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|p| p.exit_status().is_none())
    }

    /// MM2's stdout+stderr so far.
    pub fn logs(&self) -> String {
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(&self.log_path) {
            let _ = file.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The runtime dir holding `mm2.properties` and `mm2.log`.
    pub fn runtime_dir(&self) -> &Path {
        self.runtime.path()
    }

    /// Waits until the log contains `needle`; fails if MM2 exits or `timeout` passes first.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<(), TestkitError> {
        let started = Instant::now();
        loop {
            if self.logs().contains(needle) {
                return Ok(());
            }
            if !self.is_running() || started.elapsed() > timeout {
                return Err(TestkitError::Java {
                    what: format!("MirrorMaker 2 waiting for `{needle}`"),
                    detail: format!(
                        "{} after {} ms; log tail:\n{}",
                        if self.is_running() {
                            "not logged"
                        } else {
                            "exited"
                        },
                        started.elapsed().as_millis(),
                        tail(&self.logs(), 40)
                    ),
                });
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops MM2 with SIGTERM (it stops its connectors and commits their offsets), SIGKILL after 60 s; returns how it ended.
    pub fn stop(&mut self) -> String {
        match self.process.take() {
            Some(process) => {
                let how = process.terminate(STOP_GRACE);
                self.log_line(&format!("stopped: {how}"));
                how
            }
            None => "not running".into(),
        }
    }

    /// Kills MM2 with SIGKILL (a crash: nothing flushed).
    pub fn kill(&mut self) {
        if self.process.take().is_some() {
            self.log_line("killed with SIGKILL");
        }
    }

    fn log_line(&self, msg: &str) {
        let _ = OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .and_then(|mut f| writeln!(f, "===== strait-testkit: {msg} ====="));
    }
}

impl std::fmt::Debug for Mm2Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mm2Process")
            .field("pid", &self.pid())
            .field("runtime_dir", &self.runtime.path())
            .finish()
    }
}

impl Drop for Mm2Process {
    fn drop(&mut self) {
        let running = self.process.take().is_some();
        if !thread::panicking() {
            return;
        }
        if running {
            self.log_line("killed (test panicked)");
        }
        self.runtime.disable_cleanup(true);
        eprintln!(
            "===== MirrorMaker 2: last {PANIC_LOG_LINES} log lines (runtime dir kept at {}) =====\n\
             {}\n===== end of MirrorMaker 2 logs =====",
            self.runtime.path().display(),
            tail(&self.logs(), PANIC_LOG_LINES).trim_end(),
        );
    }
}
