//! Installing a pinned Apache Kafka (broker, MirrorMaker 2, Java clients) from Maven Central, once.
//!
//! Layout (default `<workspace>/.strait/kafka`, env `STRAIT_KAFKA_DIR`):
//! - `m2/`: the Maven repository used for the download (project-local, so deleting `.strait`
//!   really starts over);
//! - `<version>/`: `pom.xml` (the checked-in pom), `libs/` (every jar), the logging config,
//!   `testbed/Testbed.class` (the Java peer, compiled here with javac), `kafka.jsa` (a class-data
//!   archive of a broker start, which halves later JVM start-ups), `install.lock` (held with
//!   `File::lock` while checking or installing) and [`KAFKA_MARKER`], written last: it records a
//!   fingerprint of the pom, the Java sources, the logging config and the JDK, so changing any of
//!   them reinstalls by itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::jvm::{Java, JvmProfile};
use super::KafkaVersion;
use crate::TestkitError;

/// Name of the marker file (inside `<kafka dir>/<version>`) that records a finished install.
pub const KAFKA_MARKER: &str = "installed.txt";

/// The Java peer of the tests: MirrorClient, RemoteClusterUtils, transactional producer, consumer.
const TESTBED_SOURCE: &str = include_str!("../../java/Testbed.java");
const DEPENDENCY_PLUGIN: &str = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1";

const HINT_MAVEN: &str = "Maven (`mvn`, or STRAIT_MVN) must be installed and reach Maven Central \
    (or your mirror in ~/.m2/settings.xml): check network and proxy, then run again";
const HINT_JAVAC: &str = "a JDK (with javac) 17 or newer is needed: set JAVA_HOME to one";

/// A finished install of one Kafka version.
#[derive(Clone, Debug)]
pub(crate) struct KafkaInstall {
    pub(crate) version: KafkaVersion,
    pub(crate) dir: PathBuf,
    pub(crate) java: Java,
    log_config: PathBuf,
    cds_archive: Option<PathBuf>,
}

impl KafkaInstall {
    /// The folder holding every jar of this version.
    pub(crate) fn libs(&self) -> PathBuf {
        self.dir.join("libs")
    }

    /// The folder holding the compiled Java peer (`Testbed.class`).
    pub(crate) fn testbed_classes(&self) -> PathBuf {
        self.dir.join("testbed")
    }

    /// A `java` command for `main` with the jars on the class path, the logging config, the
    /// profile's heap and GC flags, and (for brokers and tools in the test profile) the
    /// class-data archive.
    pub(crate) fn command(
        &self,
        profile: JvmProfile,
        heap_mb: u32,
        jvm_args: &[String],
        main: &str,
    ) -> Command {
        let mut cmd = self.java.command();
        cmd.args(profile.flags(heap_mb)).args(jvm_args);
        let (_, _, flag) = self.version.log_config();
        cmd.arg(format!("{flag}{}", self.log_config.display()));
        let archived = matches!(profile, JvmProfile::Test | JvmProfile::Tool);
        if let (Some(archive), true) = (&self.cds_archive, archived) {
            cmd.arg(format!("-XX:SharedArchiveFile={}", archive.display()))
                .arg("-Xlog:cds=off")
                .arg("-Xlog:cds+dynamic=off");
        }
        cmd.arg("-cp")
            .arg(format!("{}/*", self.libs().display()))
            .arg(main);
        cmd
    }

    /// [`KafkaInstall::command`] with the Java peer's classes on the class path too (no archive).
    pub(crate) fn testbed_command(&self) -> Command {
        let mut cmd = self.java.command();
        cmd.args(JvmProfile::Tool.flags(256));
        let (_, _, flag) = self.version.log_config();
        cmd.arg(format!("{flag}{}", self.log_config.display()));
        cmd.arg("-cp")
            .arg(format!(
                "{}:{}/*",
                self.testbed_classes().display(),
                self.libs().display()
            ))
            .arg("Testbed");
        cmd
    }
}

/// The Kafka install root: env `STRAIT_KAFKA_DIR`, else `<workspace root>/.strait/kafka`.
pub fn default_kafka_dir() -> Result<PathBuf, TestkitError> {
    if let Some(dir) = std::env::var_os("STRAIT_KAFKA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(crate::install::workspace_root()?
        .join(".strait")
        .join("kafka"))
}

/// Records a class-data archive of a broker start of an install at a path (it takes a broker,
/// so the cluster module does it).
pub(crate) type ArchiveRecorder = fn(&KafkaInstall, &Path) -> Result<(), TestkitError>;

/// The finished install of `version`, installing it first if needed (memoised per process).
pub(crate) fn kafka_installation(
    version: KafkaVersion,
    record_archive: ArchiveRecorder,
) -> Result<KafkaInstall, TestkitError> {
    static DONE: OnceLock<Mutex<Vec<KafkaInstall>>> = OnceLock::new();
    let done = DONE.get_or_init(|| Mutex::new(Vec::new()));
    // Held across the install: threads of one test binary wait for the first one.
    let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(install) = done.iter().find(|i| i.version == version) {
        return Ok(install.clone());
    }
    let install = install(&default_kafka_dir()?, version, record_archive)?;
    done.push(install.clone());
    Ok(install)
}

fn install(
    root: &Path,
    version: KafkaVersion,
    record_archive: ArchiveRecorder,
) -> Result<KafkaInstall, TestkitError> {
    let (dir, _lock) = crate::install::locked_dir(&root.join(version.as_str()), "install.lock")?;

    let java = Java::find()?;
    let fingerprint = fingerprint(version, &java);
    let (log_name, log_text, _) = version.log_config();
    let marker = dir.join(KAFKA_MARKER);
    let mut install = KafkaInstall {
        version,
        dir: dir.clone(),
        java,
        log_config: dir.join(log_name),
        cds_archive: None,
    };
    if let Some(archive) = read_marker(&marker, &fingerprint) {
        install.cds_archive = archive.filter(|a| a.is_file());
        tracing::debug!(dir = %dir.display(), "reusing installed Apache Kafka {version}");
        return Ok(install);
    }

    tracing::info!(dir = %dir.display(), "installing Apache Kafka {version} from Maven Central");
    eprintln!(
        "strait-testkit: installing Apache Kafka {version} (broker, MirrorMaker 2, clients) \
         from Maven Central into {} (once)",
        dir.display()
    );
    let _ = fs::remove_file(&marker);
    for sub in ["libs", "testbed"] {
        let path = dir.join(sub);
        if path.exists() {
            fs::remove_dir_all(&path)
                .map_err(|e| TestkitError::io(format!("removing {}", path.display()), e))?;
        }
    }
    write(&dir.join("pom.xml"), version.pom())?;
    write(&install.log_config, log_text)?;

    let m2 = root.join("m2");
    let mvn = mvn();
    let mut cmd = Command::new(&mvn);
    cmd.current_dir(&dir)
        .args(["-B", "-q", "-f", "pom.xml"])
        .arg(format!("-Dmaven.repo.local={}", m2.display()))
        .arg(format!("{DEPENDENCY_PLUGIN}:copy-dependencies"))
        .arg(format!("-DoutputDirectory={}", install.libs().display()))
        .arg("-DincludeScope=runtime");
    if let Some(home) = install.java.home() {
        cmd.env("JAVA_HOME", home);
    }
    let step = format!(
        "{} dependency:copy-dependencies (pom {})",
        mvn.to_string_lossy(),
        dir.join("pom.xml").display()
    );
    run(&dir, &step, &mut cmd, HINT_MAVEN)?;

    let classes = install.testbed_classes();
    fs::create_dir_all(&classes)
        .map_err(|e| TestkitError::io(format!("creating {}", classes.display()), e))?;
    let source = classes.join("Testbed.java");
    write(&source, TESTBED_SOURCE)?;
    let mut cmd = install.java.javac();
    cmd.arg("-nowarn")
        .arg("-d")
        .arg(&classes)
        .arg("-cp")
        .arg(format!("{}/*", install.libs().display()))
        .arg(&source);
    run(&dir, "javac Testbed.java", &mut cmd, HINT_JAVAC)?;

    let archive = dir.join("kafka.jsa");
    let _ = fs::remove_file(&archive);
    match record_archive(&install, &archive) {
        Ok(()) => install.cds_archive = Some(archive.clone()),
        Err(e) => {
            tracing::warn!("no class-data archive for Kafka {version} (JVMs start slower): {e}")
        }
    }

    let contents = format!(
        "# strait-testkit Apache Kafka install; delete this directory to force a reinstall\n\
         fingerprint={fingerprint}\ncds={}\n",
        install
            .cds_archive
            .as_deref()
            .map(|a| a.display().to_string())
            .unwrap_or_default()
    );
    let tmp = dir.join(format!("{KAFKA_MARKER}.tmp"));
    fs::write(&tmp, contents)
        .and_then(|()| fs::rename(&tmp, &marker))
        .map_err(|e| TestkitError::io(format!("writing {}", marker.display()), e))?;
    eprintln!("strait-testkit: installed Apache Kafka {version}");
    Ok(install)
}

/// What the install depends on: the pom, the Java peer, the logging config and the JDK.
fn fingerprint(version: KafkaVersion, java: &Java) -> String {
    let mut hash = Sha256::new();
    for part in [
        version.pom(),
        TESTBED_SOURCE,
        version.log_config().1,
        java.version(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `Some(archive path or None)` when the marker matches `fingerprint`.
fn read_marker(marker: &Path, fingerprint: &str) -> Option<Option<PathBuf>> {
    let text = fs::read_to_string(marker).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
    };
    if field("fingerprint")? != fingerprint {
        return None;
    }
    let libs = marker.parent()?.join("libs");
    let has_jars = fs::read_dir(&libs).ok()?.flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with("kafka-clients-")
    });
    let testbed = marker.parent()?.join("testbed").join("Testbed.class");
    (has_jars && testbed.is_file())
        .then(|| field("cds").filter(|c| !c.is_empty()).map(PathBuf::from))
}

/// The Maven executable: env `STRAIT_MVN`, else `mvn` on PATH.
pub(crate) fn mvn() -> std::ffi::OsString {
    std::env::var_os("STRAIT_MVN")
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "mvn".into())
}

fn write(path: &Path, contents: &str) -> Result<(), TestkitError> {
    fs::write(path, contents)
        .map_err(|e| TestkitError::io(format!("writing {}", path.display()), e))
}

/// Runs one install step in `dir`; a failure is a [`TestkitError::Install`] with the output tails.
pub(crate) fn run(
    dir: &Path,
    step: &str,
    cmd: &mut Command,
    hint: &'static str,
) -> Result<(), TestkitError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TestkitError::Install {
            dir: dir.to_owned(),
            step: step.to_owned(),
            detail: format!("could not run it: {e}"),
            hint,
        })?;
    if out.status.success() {
        return Ok(());
    }
    let mut detail = out.status.to_string();
    for (name, bytes) in [("stderr", &out.stderr), ("stdout", &out.stdout)] {
        let text = String::from_utf8_lossy(bytes);
        if !text.trim().is_empty() {
            detail.push_str(&format!(
                "\n--- {name} (tail) ---\n{}",
                crate::process::tail(&text, 30)
            ));
        }
    }
    Err(TestkitError::Install {
        dir: dir.to_owned(),
        step: step.to_owned(),
        detail,
        hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second install of the same version (a later test run: no memo) touches nothing.
    #[test]
    fn an_installed_version_is_reused() {
        let root = default_kafka_dir().unwrap();
        let version = KafkaVersion::from_env();
        let first = install(&root, version, crate::kafka::cluster::record_class_archive)
            .expect("install Kafka");
        let stamp = |p: PathBuf| fs::metadata(p).and_then(|m| m.modified()).unwrap();
        let marker = stamp(first.dir.join(KAFKA_MARKER));
        let libs = stamp(first.libs());
        let again = install(&root, version, |_, _| {
            panic!("an install is reused, not redone")
        })
        .expect("reuse");
        assert_eq!(again.dir, first.dir);
        assert_eq!(stamp(again.dir.join(KAFKA_MARKER)), marker);
        assert_eq!(stamp(again.libs()), libs);
    }

    #[test]
    fn marker_needs_the_fingerprint_jars_and_testbed() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join(KAFKA_MARKER);
        fs::write(&marker, "fingerprint=abc\ncds=\n").unwrap();
        assert_eq!(read_marker(&marker, "abc"), None, "no jars yet");
        fs::create_dir_all(dir.path().join("libs")).unwrap();
        fs::write(dir.path().join("libs/kafka-clients-4.3.1.jar"), "").unwrap();
        assert_eq!(read_marker(&marker, "abc"), None, "no Testbed.class yet");
        fs::create_dir_all(dir.path().join("testbed")).unwrap();
        fs::write(dir.path().join("testbed/Testbed.class"), "").unwrap();
        assert_eq!(read_marker(&marker, "abc"), Some(None));
        assert_eq!(read_marker(&marker, "other"), None, "stale fingerprint");
        fs::write(&marker, "fingerprint=abc\ncds=/x/kafka.jsa\n").unwrap();
        assert_eq!(
            read_marker(&marker, "abc"),
            Some(Some(PathBuf::from("/x/kafka.jsa")))
        );
    }
}
