//! The test bed's Java peer (`crates/testkit/java/Testbed.java`): what the real Java client and
//! MM2's client library (`MirrorClient`, `RemoteClusterUtils`) see, for tests to compare with.

use std::process::Stdio;

use super::cluster::kafka_installation;
use super::KafkaVersion;
use crate::process::tail;
use crate::TestkitError;

/// The prefix of the line carrying the peer's JSON answer (`RESULT_PREFIX` in Testbed.java).
const RESULT_PREFIX: &str = "TESTBED-RESULT ";

/// Runs `Testbed <args>` with Kafka `version`'s jars and returns its stdout (one JSON document).
///
/// Commands (see the Java file): `mirror-client BOOTSTRAP [k=v…]`,
/// `translate BOOTSTRAP REMOTE_CLUSTER GROUP [k=v…]`,
/// `produce-transactions BOOTSTRAP TOPIC PARTITIONS COMMITTED ABORTED [k=v…]`,
/// `consume BOOTSTRAP TOPIC [k=v…]`, `digest BOOTSTRAP TOPIC [k=v…]`, `delete-records BOOTSTRAP TOPIC PARTITION BEFORE [k=v…]`;
/// `k=v` pairs are Java client settings.
pub fn java_peer(version: KafkaVersion, args: &[&str]) -> Result<String, TestkitError> {
    let install = kafka_installation(version)?;
    let what = format!("Java peer `Testbed {}` (Kafka {version})", args.join(" "));
    let out = install
        .testbed_command()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TestkitError::Java {
            what: what.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(TestkitError::Java {
            what,
            detail: format!(
                "{}\n--- stderr (tail) ---\n{}",
                out.status,
                tail(&String::from_utf8_lossy(&out.stderr), 40)
            ),
        });
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Client log lines share stdout; the document is on its own marked line.
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(RESULT_PREFIX))
        .map(str::to_owned)
        .ok_or_else(|| TestkitError::Java {
            what,
            detail: format!(
                "no `{RESULT_PREFIX}` line; stdout tail:\n{}",
                tail(&stdout, 20)
            ),
        })
}
