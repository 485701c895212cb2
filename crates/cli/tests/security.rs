//! `strait run` with secured clusters, as an operator sees it: a Java keystore is refused with
//! the commands that convert it, a wrong password is reported naming cluster and mechanism,
//! and no password, JAAS config or keystore password ever reaches the output (logs at TRACE).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strait_testkit::{BrokerKind, ProxyOptions, ProxySasl, SecureProxy, TestCluster};

strait_testkit::per_broker!(wrong_password_is_reported_without_the_secret);

const SECRETS: [&str; 3] = ["jaas-Pw-41ab", "store-Pw-77cd", "right-Pw-00ef"];

fn scratch_dir(label: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "strait-security-test-{label}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn assert_no_secrets(output: &str) {
    for secret in SECRETS {
        assert!(
            !output.contains(secret),
            "secret {secret} leaked:\n{output}"
        );
    }
}

/// `strait run <config>` with logs at TRACE; its stderr is collected as it comes.
struct Strait {
    child: std::process::Child,
    output: Arc<Mutex<String>>,
}

impl Strait {
    fn start(config: &Path) -> Strait {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strait"))
            .arg("run")
            .arg(config)
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strait run");
        let output = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Strait { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits for the process to exit on its own; returns its exit code.
    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "strait did not exit:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.output();
            if out.contains(needle) {
                return out;
            }
            assert!(Instant::now() < deadline, "no `{needle}` in:\n{out}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Strait {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn java_keystore_is_refused_with_conversion_commands() {
    let dir = scratch_dir("jks");
    let jks = dir.join("truststore.jks");
    std::fs::write(&jks, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 1]).unwrap();
    let config = dir.join("mm2.properties");
    std::fs::write(
        &config,
        format!(
            "clusters = primary, backup\n\
             primary.bootstrap.servers = 127.0.0.1:1\n\
             backup.bootstrap.servers = 127.0.0.1:2\n\
             primary->backup.enabled = true\n\
             primary.security.protocol = SASL_PLAINTEXT\n\
             primary.sasl.mechanism = PLAIN\n\
             primary.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule \
               required username=\"mm2\" password=\"{}\";\n\
             backup.security.protocol = SSL\n\
             backup.ssl.truststore.location = {}\n\
             backup.ssl.truststore.password = {}\n",
            SECRETS[0],
            jks.display(),
            SECRETS[1],
        ),
    )
    .unwrap();
    let mut strait = Strait::start(&config);
    let code = strait.wait_exit(Duration::from_secs(30));
    let output = strait.output();
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("strait: error:"), "{output}");
    assert!(
        output.contains("line 9: key `backup.ssl.truststore.location`"),
        "{output}"
    );
    assert!(
        output.contains("JKS") && output.contains("keytool -importkeystore"),
        "{output}"
    );
    assert_no_secrets(&output);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The source's SCRAM server (the testkit proxy in front of a real broker) rejects the
/// password: strait keeps running and retrying, and says which cluster and mechanism failed.
async fn wrong_password_is_reported_without_the_secret(kind: BrokerKind) {
    let primary = tokio::task::spawn_blocking(move || TestCluster::start(kind));
    let backup = tokio::task::spawn_blocking(move || TestCluster::start(kind));
    let primary = primary.await.unwrap().expect("primary broker");
    let backup = backup.await.unwrap().expect("backup broker");
    let proxy = SecureProxy::start(
        &primary.bootstrap(),
        ProxyOptions {
            tls: None,
            sasl: Some(ProxySasl::user("SCRAM-SHA-512", "mm2", SECRETS[2])),
        },
    )
    .await
    .unwrap();
    let dir = scratch_dir("wrong-password");
    let config = dir.join("mm2.properties");
    std::fs::write(
        &config,
        format!(
            "clusters = primary, backup\n\
             primary.bootstrap.servers = {}\n\
             backup.bootstrap.servers = {}\n\
             primary->backup.enabled = true\n\
             replication.factor = 1\n\
             offset-syncs.topic.replication.factor = 1\n\
             heartbeats.topic.replication.factor = 1\n\
             offset.storage.replication.factor = 1\n\
             primary.security.protocol = SASL_PLAINTEXT\n\
             primary.sasl.mechanism = SCRAM-SHA-512\n\
             primary.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule \
               required username=\"mm2\" password=\"{}\";\n",
            proxy.bootstrap(),
            backup.bootstrap(),
            SECRETS[0],
        ),
    )
    .unwrap();
    let strait = Strait::start(&config);
    let output = tokio::task::spawn_blocking(move || {
        strait.wait_for("retrying in 1s", Duration::from_secs(30));
        strait.output()
    })
    .await
    .unwrap();
    assert!(
        output.contains("cluster primary: SASL SCRAM-SHA-512 authentication to broker")
            && output.contains("invalid credentials"),
        "{output}"
    );
    assert_no_secrets(&output);
    let _ = std::fs::remove_dir_all(&dir);
}
