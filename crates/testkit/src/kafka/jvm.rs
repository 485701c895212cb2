//! Finding a JDK and the JVM flags of the test bed's Java processes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::TestkitError;

/// The oldest Java that runs Kafka 4 brokers.
const MIN_JAVA: u32 = 17;

/// A JDK: `java` and `javac`, from env `STRAIT_JAVA_HOME`, else `JAVA_HOME`, else `PATH`.
#[derive(Clone, Debug)]
pub(crate) struct Java {
    home: Option<PathBuf>,
    /// The first line of `java -version`, e.g. `openjdk version "17.0.15" 2025-04-15`.
    version: String,
}

impl Java {
    /// Finds the JDK and checks it is Java 17 or newer.
    pub(crate) fn find() -> Result<Java, TestkitError> {
        let home = ["STRAIT_JAVA_HOME", "JAVA_HOME"]
            .iter()
            .find_map(|var| std::env::var_os(var).filter(|v| !v.is_empty()))
            .map(PathBuf::from);
        let mut java = Java {
            home,
            version: String::new(),
        };
        let out = java.command().arg("-version").output().map_err(|source| {
            TestkitError::JavaNotFound {
                java: java.binary("java").display().to_string(),
                detail: source.to_string(),
            }
        })?;
        // `java -version` prints on stderr.
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        java.version = text.lines().next().unwrap_or_default().trim().to_owned();
        match major_version(&java.version) {
            Some(major) if major >= MIN_JAVA && out.status.success() => Ok(java),
            _ => Err(TestkitError::JavaNotFound {
                java: java.binary("java").display().to_string(),
                detail: format!(
                    "it reports `{}`, Kafka needs Java {MIN_JAVA} or newer",
                    java.version
                ),
            }),
        }
    }

    /// The JDK's home, if set by the environment.
    pub(crate) fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// The first line of `java -version`.
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    /// A bare `java` command.
    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::new(self.binary("java"));
        // A JAVA_TOOL_OPTIONS or _JAVA_OPTIONS of the user's would change every JVM here.
        cmd.env_remove("JAVA_TOOL_OPTIONS")
            .env_remove("_JAVA_OPTIONS");
        cmd
    }

    /// A bare `javac` command.
    pub(crate) fn javac(&self) -> Command {
        Command::new(self.binary("javac"))
    }

    fn binary(&self, name: &str) -> PathBuf {
        match &self.home {
            Some(home) => home.join("bin").join(name),
            None => PathBuf::from(name),
        }
    }
}

/// The major version in a `java -version` line: `"17.0.15"` → 17, `"1.8.0_392"` → 8.
fn major_version(line: &str) -> Option<u32> {
    let quoted = line.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '-', '+', '_']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// How a test-bed JVM is tuned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JvmProfile {
    /// Test brokers: small heap, serial GC, C1 only, the class-data archive: quick to start and
    /// light on a 2-core machine, so two 3-broker clusters fit beside the tests.
    Test,
    /// Benchmarks: Kafka's own defaults from `kafka-run-class.sh` (G1, full JIT), so the Java
    /// side is measured as operators run it.
    Bench,
    /// Short-lived Java tools (storage format, the Java peer): small heap, C1 only.
    Tool,
}

impl JvmProfile {
    /// The JVM flags for a heap of `heap_mb`.
    pub(crate) fn flags(self, heap_mb: u32) -> Vec<String> {
        let mut flags = vec![format!("-Xmx{heap_mb}m"), "-Djava.awt.headless=true".into()];
        match self {
            JvmProfile::Test | JvmProfile::Tool => flags.extend([
                "-Xms64m".into(),
                "-XX:+UseSerialGC".into(),
                "-XX:TieredStopAtLevel=1".into(),
                "-Xss512k".into(),
            ]),
            JvmProfile::Bench => flags.extend([
                format!("-Xms{heap_mb}m"),
                "-XX:+UseG1GC".into(),
                "-XX:MaxGCPauseMillis=20".into(),
                "-XX:InitiatingHeapOccupancyPercent=35".into(),
                "-XX:+ExplicitGCInvokesConcurrent".into(),
            ]),
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_major_versions() {
        assert_eq!(
            major_version(r#"openjdk version "17.0.15" 2025-04-15"#),
            Some(17)
        );
        assert_eq!(major_version(r#"java version "1.8.0_392""#), Some(8));
        assert_eq!(
            major_version(r#"openjdk version "25" 2025-09-16"#),
            Some(25)
        );
        assert_eq!(major_version(r#"openjdk version "21-ea""#), Some(21));
        assert_eq!(major_version("garbage"), None);
    }

    #[test]
    fn test_profile_is_small_bench_profile_is_kafkas() {
        let test = JvmProfile::Test.flags(448);
        assert!(test.contains(&"-Xmx448m".to_owned()) && test.contains(&"-XX:+UseSerialGC".into()));
        let bench = JvmProfile::Bench.flags(1024);
        assert!(bench.contains(&"-XX:+UseG1GC".to_owned()));
        assert!(!bench.iter().any(|f| f.starts_with("-XX:TieredStopAtLevel")));
    }
}
