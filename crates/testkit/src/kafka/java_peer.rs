//! The test bed's Java peer (`crates/testkit/java/Testbed.java`): what the real Java client and
//! MM2's client library (`MirrorClient`, `RemoteClusterUtils`) see, for tests to compare with.

use std::process::{ChildStdin, Output, Stdio};
use std::thread;

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
/// `k=v` pairs are Java client settings. (`forward`, which runs until told to stop, is
/// [`RunningJavaPeer`]'s.)
pub fn java_peer(version: KafkaVersion, args: &[&str]) -> Result<String, TestkitError> {
    RunningJavaPeer::start(version, args)?.finish()
}

/// A running Java peer, its stdin open until [`RunningJavaPeer::finish`]: `forward BOOTSTRAP
/// TOPIC TARGET_BOOTSTRAP TARGET_TOPIC [k=v…]` (the Java client's poll→send loop) runs until
/// then; the other commands end by themselves.
pub struct RunningJavaPeer {
    what: String,
    stdin: Option<ChildStdin>,
    output: Option<thread::JoinHandle<std::io::Result<Output>>>,
}

impl RunningJavaPeer {
    /// Starts `Testbed <args>` with Kafka `version`'s jars, its stdin held open.
    pub fn start(version: KafkaVersion, args: &[&str]) -> Result<RunningJavaPeer, TestkitError> {
        let install = kafka_installation(version)?;
        let what = peer_name(version, args);
        let mut child = install
            .testbed_command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| TestkitError::Java {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        let stdin = child.stdin.take();
        // Read while it runs, so a chatty client never fills the pipes and blocks.
        let output = thread::spawn(move || child.wait_with_output());
        Ok(RunningJavaPeer {
            what,
            stdin,
            output: Some(output),
        })
    }

    /// Closes its stdin, waits for it to end and returns its stdout (one JSON document).
    pub fn finish(mut self) -> Result<String, TestkitError> {
        drop(self.stdin.take());
        let waited = self
            .output
            .take()
            .expect("finished once")
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the reading thread panicked")));
        let what = std::mem::take(&mut self.what);
        match waited {
            Ok(out) => answer(what, &out),
            Err(e) => Err(TestkitError::Java {
                what,
                detail: e.to_string(),
            }),
        }
    }
}

impl Drop for RunningJavaPeer {
    /// Unfinished: closing stdin ends it (its thread reaps it).
    fn drop(&mut self) {
        drop(self.stdin.take());
    }
}

fn peer_name(version: KafkaVersion, args: &[&str]) -> String {
    format!("Java peer `Testbed {}` (Kafka {version})", args.join(" "))
}

/// The JSON document of a finished peer, or why there is none.
fn answer(what: String, out: &Output) -> Result<String, TestkitError> {
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
