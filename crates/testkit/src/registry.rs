//! A real schema registry for the tests: **Apicurio Registry 2.4.2.Final**, serving the
//! Confluent-compatible REST API at `http://127.0.0.1:PORT/apis/ccompat/v7` ([`SchemaRegistry`]).
//!
//! Installed once from Maven Central with `mvn` (`STRAIT_MVN`, default `mvn`), like Apache Kafka:
//! the checked-in `crates/testkit/registry/pom.xml` builds the registry app into a runnable
//! Quarkus app. Layout of the install dir (default `<workspace>/.strait/registry`, env
//! `STRAIT_REGISTRY_DIR`):
//! - `m2/`: the Maven repository of the download (project-local, ~230 MB);
//! - `pom.xml` and `src/main/java/strait/testkit/registry/DynamicConfigPropertyListProducer.java`
//!   (copies of the checked-in files), `target/quarkus-app/quarkus-run.jar` (the app);
//! - `install.lock` (held with `File::lock` while checking or installing) and
//!   [`REGISTRY_MARKER`], written last: it records a fingerprint of the pom, the Java source and
//!   the JDK, so changing any of them rebuilds by itself. Delete the dir to start over.
//!
//! Each [`SchemaRegistry`] is one JVM (256 MiB heap, serial GC, C1 only) with in-memory H2
//! storage, on a free port: registries never share state, and everything is gone when it stops.
//! It starts in about 2 s. Its log (`registry.log` in a temp dir `strait-registry-*`) keeps
//! Quarkus' start line and Apicurio's audit line of every request; it is printed if the test
//! panics.
//!
//! Where Apicurio's Confluent API differs from Confluent Schema Registry (tests must not rely on
//! these):
//! - `/mode` answers 404 `Operation not supported.` (`/mode/{subject}` 404 too): there is no
//!   IMPORT mode, so schemas cannot be registered under chosen ids;
//! - an explicit `id` or `version` in a registration body is silently ignored: the registry
//!   assigns its own;
//! - an incompatible registration answers 409 with `error_code` 0 (Confluent: 409 with 409);
//! - a schema is returned as registered (`{"type":"string"}` stays so), not in Confluent's
//!   canonical form (`"string"`).

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::broker_log::BrokerLog;
use crate::kafka::{mvn, run_install_step, Java};
use crate::ports::free_port;
use crate::process::{tail, BrokerProcess};
use crate::TestkitError;

/// The Apicurio Registry release installed.
pub const APICURIO_VERSION: &str = "2.4.2.Final";

/// Name of the marker file (inside the registry install dir) that records a finished install.
pub const REGISTRY_MARKER: &str = "installed.txt";

/// The content type of the Confluent schema registry API, sent by [`http`] with a body.
pub const REGISTRY_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

const POM: &str = include_str!("../registry/pom.xml");
/// A CDI producer standing in for the Quarkus extension the pom excludes.
const PRODUCER_SOURCE: &str = include_str!("../registry/DynamicConfigPropertyListProducer.java");
const PRODUCER_PATH: &str =
    "src/main/java/strait/testkit/registry/DynamicConfigPropertyListProducer.java";
const RUN_JAR: &str = "target/quarkus-app/quarkus-run.jar";
const LOCK_FILE: &str = "install.lock";

/// The Confluent-compatible API under the registry's root.
const API_PATH: &str = "/apis/ccompat/v7";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(5);
/// One retry on another port if the free port was taken before the registry bound it.
const LAUNCH_ATTEMPTS: usize = 2;
const HEAP_MB: u32 = 256;
const PANIC_LOG_LINES: usize = 80;
const ERROR_LOG_LINES: usize = 40;
/// What Quarkus logs when the HTTP port is taken (it then exits).
const PORT_TAKEN: &str = "seems to be in use by another process";

const HINT_MAVEN: &str = "Maven (`mvn`, or STRAIT_MVN) must be installed and reach Maven Central \
    (or your mirror in ~/.m2/settings.xml): check network and proxy, then run again; \
    delete the registry install dir (.strait/registry or STRAIT_REGISTRY_DIR) to start over";
const HINT_BUILD: &str =
    "the Quarkus build did not produce the app: delete the registry install dir and run again";

/// A finished registry install.
#[derive(Clone, Debug)]
struct RegistryInstall {
    dir: PathBuf,
    java: Java,
}

impl RegistryInstall {
    fn run_jar(&self) -> PathBuf {
        self.dir.join(RUN_JAR)
    }
}

/// The registry install dir: env `STRAIT_REGISTRY_DIR`, else `<workspace root>/.strait/registry`.
pub fn default_registry_dir() -> Result<PathBuf, TestkitError> {
    if let Some(dir) = std::env::var_os("STRAIT_REGISTRY_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(crate::install::workspace_root()?
        .join(".strait")
        .join("registry"))
}

/// Installs Apicurio Registry if missing and returns its install dir (idempotent, memoised per
/// process, safe across concurrent processes: uses a file lock).
pub fn ensure_registry_installed() -> Result<PathBuf, TestkitError> {
    installation().map(|install| install.dir)
}

/// The finished install, installing first if needed (memoised per process).
fn installation() -> Result<RegistryInstall, TestkitError> {
    static DONE: Mutex<Option<RegistryInstall>> = Mutex::new(None);
    // Held across the install: threads of one test binary wait for the first one.
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(install) = done.as_ref() {
        return Ok(install.clone());
    }
    let install = install(&default_registry_dir()?)?;
    *done = Some(install.clone());
    Ok(install)
}

fn install(dir: &Path) -> Result<RegistryInstall, TestkitError> {
    let (dir, _lock) = crate::install::locked_dir(dir, LOCK_FILE)?;
    let java = Java::find()?;
    let fingerprint = fingerprint(&java);
    let marker = dir.join(REGISTRY_MARKER);
    let install = RegistryInstall {
        dir: dir.clone(),
        java,
    };
    if marker_matches(&marker, &fingerprint) && install.run_jar().is_file() {
        tracing::debug!(dir = %dir.display(), "reusing installed Apicurio Registry");
        return Ok(install);
    }

    tracing::info!(dir = %dir.display(), "installing Apicurio Registry {APICURIO_VERSION}");
    eprintln!(
        "strait-testkit: installing Apicurio Registry {APICURIO_VERSION} (schema registry) \
         from Maven Central into {} (once, ~230 MB)",
        dir.display()
    );
    let started = Instant::now();
    let _ = fs::remove_file(&marker);
    for sub in ["target", "src"] {
        let path = dir.join(sub);
        if path.exists() {
            fs::remove_dir_all(&path)
                .map_err(|e| TestkitError::io(format!("removing {}", path.display()), e))?;
        }
    }
    write(&dir.join("pom.xml"), POM)?;
    let source = dir.join(PRODUCER_PATH);
    if let Some(parent) = source.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| TestkitError::io(format!("creating {}", parent.display()), e))?;
    }
    write(&source, PRODUCER_SOURCE)?;

    let mvn = mvn();
    let mut cmd = Command::new(&mvn);
    cmd.current_dir(&dir)
        .args(["-B", "-ntp", "-q", "-f", "pom.xml"])
        .arg(format!("-Dmaven.repo.local={}", dir.join("m2").display()))
        .arg("-Dquarkus.package.type=fast-jar")
        .arg("package");
    if let Some(home) = install.java.home() {
        cmd.env("JAVA_HOME", home);
    }
    let step = format!(
        "{} package (pom {})",
        mvn.to_string_lossy(),
        dir.join("pom.xml").display()
    );
    run_install_step(&dir, &step, &mut cmd, HINT_MAVEN)?;
    if !install.run_jar().is_file() {
        return Err(TestkitError::Install {
            dir: dir.clone(),
            step,
            detail: format!(
                "it succeeded but {} is missing",
                install.run_jar().display()
            ),
            hint: HINT_BUILD,
        });
    }

    let contents = format!(
        "# strait-testkit Apicurio Registry {APICURIO_VERSION} install; delete this directory \
         to force a reinstall\nfingerprint={fingerprint}\n"
    );
    let tmp = dir.join(format!("{REGISTRY_MARKER}.tmp"));
    fs::write(&tmp, contents)
        .and_then(|()| fs::rename(&tmp, &marker))
        .map_err(|e| TestkitError::io(format!("writing {}", marker.display()), e))?;
    eprintln!(
        "strait-testkit: installed Apicurio Registry {APICURIO_VERSION} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(install)
}

/// What the install depends on: the pom, the Java source and the JDK.
fn fingerprint(java: &Java) -> String {
    let mut hash = Sha256::new();
    for part in [POM, PRODUCER_SOURCE, java.version()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `marker` records `fingerprint`.
fn marker_matches(marker: &Path, fingerprint: &str) -> bool {
    fs::read_to_string(marker).is_ok_and(|text| {
        text.lines()
            .any(|line| line.strip_prefix("fingerprint=") == Some(fingerprint))
    })
}

fn write(path: &Path, contents: &str) -> Result<(), TestkitError> {
    fs::write(path, contents)
        .map_err(|e| TestkitError::io(format!("writing {}", path.display()), e))
}

/// A running Apicurio Registry (in memory) on a free 127.0.0.1 port; killed on drop.
///
/// Dropping it SIGKILLs the JVM and removes its temp dir; if the thread is panicking it prints
/// the log tail and keeps the dir. A watchdog kills the JVM if the test process dies without
/// dropping it.
pub struct SchemaRegistry {
    port: u16,
    log: BrokerLog,
    process: Option<BrokerProcess>,
    runtime: TempDir,
}

impl SchemaRegistry {
    /// Installs the registry first if needed, starts one and waits until its Confluent API
    /// answers (up to 60 s; the error carries the log tail).
    pub fn start() -> Result<SchemaRegistry, TestkitError> {
        let install = installation()?;
        let runtime = TempDir::with_prefix("strait-registry-")
            .map_err(|e| TestkitError::io("creating a temp dir for a schema registry", e))?;
        let mut registry = SchemaRegistry {
            port: 0,
            log: BrokerLog::new(runtime.path().join("registry.log")),
            process: None,
            runtime,
        };
        let mut attempt = 1;
        loop {
            registry.port = free_port()?;
            match registry.launch(&install) {
                Ok(()) => return Ok(registry),
                Err((error, true)) if attempt < LAUNCH_ATTEMPTS => {
                    tracing::warn!("the registry's port was taken ({error}); retrying on another");
                    attempt += 1;
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    /// The Confluent API base a client is configured with:
    /// `http://127.0.0.1:PORT/apis/ccompat/v7`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{API_PATH}", self.port)
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registry's log so far (Quarkus' start line, one audit line per request).
    pub fn logs(&self) -> String {
        self.log.read_from(0)
    }

    /// Stops the registry (SIGTERM, SIGKILL after 5 s); dropping it does the same with SIGKILL.
    pub fn stop(mut self) {
        if let Some(process) = self.process.take() {
            let how = process.terminate(STOP_GRACE);
            self.log.mark(&format!("stopped: {how}"));
        }
    }

    /// Spawns the JVM on `self.port` and waits until ready; `Err((e, true))` means the port was
    /// taken.
    fn launch(&mut self, install: &RegistryInstall) -> Result<(), (TestkitError, bool)> {
        let port = self.port;
        let (offset, stdout, stderr) = self
            .log
            .start_run(&format!(
                "starting Apicurio Registry {APICURIO_VERSION} on 127.0.0.1:{port}"
            ))
            .map_err(|e| (e, false))?;
        let mut cmd = install.java.command();
        cmd.args([
            format!("-Xmx{HEAP_MB}m"),
            "-Xms64m".into(),
            "-XX:+UseSerialGC".into(),
            "-XX:TieredStopAtLevel=1".into(),
            "-Djava.awt.headless=true".into(),
            "-Dquarkus.http.host=127.0.0.1".into(),
            format!("-Dquarkus.http.port={port}"),
            "-Dquarkus.banner.enabled=false".into(),
            // Apicurio logs at INFO by these two; keep Quarkus' start line and the audit lines.
            "-DLOG_LEVEL=WARN".into(),
            "-DREGISTRY_LOG_LEVEL=WARN".into(),
            "-Dquarkus.log.category.\"io.quarkus\".level=INFO".into(),
            "-Dquarkus.log.category.\"io.apicurio.common.apps.logging.audit\".level=INFO".into(),
            "-Dquarkus.log.category.\"io.sentry\".level=ERROR".into(),
            "-jar".into(),
        ])
        .arg(install.run_jar())
        .current_dir(self.runtime.path())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
        let process = BrokerProcess::spawn(&mut cmd).map_err(|e| {
            let error = TestkitError::Java {
                what: format!("starting Apicurio Registry (java -jar {})", RUN_JAR),
                detail: format!(
                    "{e}; delete the registry install dir (.strait/registry) to force a reinstall"
                ),
            };
            (error, false)
        })?;
        self.process = Some(process);
        self.wait_ready(offset)
    }

    /// Polls until the registry logged that it listens on its port (not some other process on
    /// it) and `GET /subjects` answers 200.
    fn wait_ready(&mut self, log_offset: u64) -> Result<(), (TestkitError, bool)> {
        let listening = format!("Listening on: http://127.0.0.1:{}", self.port);
        let subjects = format!("{}/subjects", self.url());
        let what = format!("Apicurio Registry on 127.0.0.1:{}", self.port);
        let started = Instant::now();
        let mut last_error = format!("`{listening}` not logged yet");
        loop {
            let process = self.process.as_mut().expect("spawned");
            if let Some(status) = process.exit_status() {
                self.process = None;
                let logs = self.log.read_from(log_offset);
                let error = TestkitError::Java {
                    what,
                    detail: format!(
                        "it exited during startup ({status}); log tail:\n{}",
                        tail(&logs, ERROR_LOG_LINES)
                    ),
                };
                return Err((error, logs.contains(PORT_TAKEN)));
            }
            let logs = self.log.read_from(log_offset);
            if logs.contains(PORT_TAKEN) {
                // Quarkus may hang in its shutdown after a failed bind instead of exiting.
                drop(self.process.take());
                let error = TestkitError::Java {
                    what,
                    detail: format!(
                        "its port is taken; log tail:\n{}",
                        tail(&logs, ERROR_LOG_LINES)
                    ),
                };
                return Err((error, true));
            }
            if logs.contains(&listening) {
                match request("GET", &subjects, None, PROBE_TIMEOUT) {
                    Ok((200, _)) => return Ok(()),
                    Ok((status, body)) => {
                        last_error = format!("GET /subjects answered {status}: {}", body.trim())
                    }
                    Err(e) => last_error = e.to_string(),
                }
            }
            if started.elapsed() >= READY_TIMEOUT {
                drop(self.process.take());
                let error = TestkitError::Java {
                    what,
                    detail: format!(
                        "not ready after {} ms (last check: {last_error}); log tail:\n{}",
                        started.elapsed().as_millis(),
                        tail(&self.log.read_from(log_offset), ERROR_LOG_LINES)
                    ),
                };
                return Err((error, false));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }
}

impl std::fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("url", &self.url())
            .field("runtime_dir", &self.runtime.path())
            .finish()
    }
}

/// Kills the JVM; if the thread is panicking, prints the log tail and keeps the runtime dir.
impl Drop for SchemaRegistry {
    fn drop(&mut self) {
        let Some(process) = self.process.take() else {
            return;
        };
        drop(process);
        if !thread::panicking() {
            return;
        }
        self.log.mark("killed (test panicked)");
        self.runtime.disable_cleanup(true);
        let label = format!("Apicurio Registry (127.0.0.1:{})", self.port);
        eprintln!(
            "===== {label}: last {PANIC_LOG_LINES} log lines (runtime dir kept at {}) =====\n\
             {}\n===== end of {label} logs =====",
            self.runtime.path().display(),
            tail(&self.log.read_from(0), PANIC_LOG_LINES).trim_end(),
        );
    }
}

/// One HTTP/1.1 request to a schema registry (or any plain-HTTP server), for tests: `method`
/// (`GET`, `POST`, `PUT`, `DELETE`) on an `http://host:port/path` URL, with an optional body sent
/// as [`REGISTRY_CONTENT_TYPE`]. Returns the status code and the body (chunked bodies decoded);
/// any status is `Ok`, only connection and protocol failures are errors. Times out after 30 s.
///
/// ```no_run
/// use strait_testkit::{http, SchemaRegistry};
///
/// let registry = SchemaRegistry::start().expect("start a schema registry");
/// let url = format!("{}/subjects/t-value/versions", registry.url());
/// let (status, body) = http("POST", &url, Some(r#"{"schema":"\"string\""}"#)).unwrap();
/// assert_eq!((status, body.as_str()), (200, r#"{"id":1}"#));
/// ```
pub fn http(method: &str, url: &str, body: Option<&str>) -> Result<(u16, String), TestkitError> {
    request(method, url, body, HTTP_TIMEOUT)
}

fn request(
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<(u16, String), TestkitError> {
    let context = || format!("HTTP {method} {url}");
    let invalid = |msg: String| TestkitError::io(context(), std::io::Error::other(msg));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// URLs are supported".into()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| TestkitError::io(context(), e))?
        .next()
        .ok_or_else(|| invalid(format!("{authority} resolves to no address")))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| TestkitError::io(context(), e))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| TestkitError::io(context(), e))?;

    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\n\
         Accept: {REGISTRY_CONTENT_TYPE}, application/json\r\nConnection: close\r\n"
    );
    if body.is_some() {
        head.push_str(&format!("Content-Type: {REGISTRY_CONTENT_TYPE}\r\n"));
    }
    let body = body.unwrap_or_default();
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut response = Vec::new();
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .and_then(|()| stream.read_to_end(&mut response))
        .map_err(|e| TestkitError::io(context(), e))?;
    parse_response(&response).map_err(invalid)
}

/// Splits an HTTP/1.1 response into its status and body (decoding a chunked body).
fn parse_response(response: &[u8]) -> Result<(u16, String), String> {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete response head in {} bytes", response.len()))?;
    let head = String::from_utf8_lossy(&response[..end]);
    let mut content = &response[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            let len: usize = value
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
            content = content
                .get(..len)
                .ok_or_else(|| format!("body cut short: {} of {len} bytes", content.len()))?;
        }
    }
    let body = if chunked {
        dechunk(content)?
    } else {
        content.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Decodes a chunked transfer-encoded body.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunked body cut short")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = data.get(..size).ok_or("chunked body cut short")?;
        body.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("chunked body cut short")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"id\":1}";
        assert_eq!(parse_response(plain).unwrap(), (200, r#"{"id":1}"#.into()));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n4\r\n[\"t-\r\n7;x=1\r\nvalue\"]\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(chunked).unwrap(),
            (404, r#"["t-value"]"#.into())
        );
        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse_response(empty).unwrap(), (204, String::new()));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn http_needs_an_http_url() {
        let err = http("GET", "https://127.0.0.1:1/x", None).unwrap_err();
        assert!(err.to_string().contains("only http://"), "{err}");
    }

    #[test]
    fn marker_needs_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join(REGISTRY_MARKER);
        assert!(!marker_matches(&marker, "abc"), "no marker yet");
        fs::write(&marker, "# comment\nfingerprint=abc\n").unwrap();
        assert!(marker_matches(&marker, "abc"));
        assert!(!marker_matches(&marker, "ab"), "stale fingerprint");
    }

    /// A registry whose port another process holds exits, and the retry is told so.
    #[test]
    fn a_taken_port_is_recognised() {
        let install = installation().expect("install Apicurio Registry");
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let runtime = TempDir::with_prefix("strait-registry-").unwrap();
        let mut registry = SchemaRegistry {
            port: holder.local_addr().unwrap().port(),
            log: BrokerLog::new(runtime.path().join("registry.log")),
            process: None,
            runtime,
        };
        match registry.launch(&install) {
            Err((error, taken)) => assert!(taken, "{error}"),
            Ok(()) => panic!("started on a taken port: {}", registry.logs()),
        }
    }

    /// A second install (a later test run: no memo) touches nothing.
    #[test]
    fn an_install_is_reused() {
        let dir = default_registry_dir().unwrap();
        let first = install(&dir).expect("install Apicurio Registry");
        let stamp = |p: PathBuf| fs::metadata(p).and_then(|m| m.modified()).unwrap();
        let marker = stamp(first.dir.join(REGISTRY_MARKER));
        let jar = stamp(first.run_jar());
        let again = install(&dir).expect("reuse");
        assert_eq!(again.dir, first.dir);
        assert_eq!(stamp(again.dir.join(REGISTRY_MARKER)), marker);
        assert_eq!(stamp(again.run_jar()), jar);
    }
}
