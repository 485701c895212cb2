//! `strait run` with secured clusters, as an operator sees it: a Java keystore is refused with
//! the commands that convert it, a wrong password is reported naming cluster and mechanism,
//! and no password, JAAS config or keystore password ever reaches the output (logs at TRACE).

use std::path::Path;
use std::time::Duration;

use strait_fixtures::*;
use strait_testkit::{BrokerKind, ProxySasl};

strait_testkit::per_broker!(wrong_password_is_reported_without_the_secret);

const STRAIT: StraitBin = StraitBin(env!("CARGO_BIN_EXE_strait"));
const SECRETS: [&str; 3] = ["jaas-Pw-41ab", "store-Pw-77cd", "right-Pw-00ef"];

fn assert_no_secrets(output: &str) {
    for secret in SECRETS {
        assert!(
            !output.contains(secret),
            "secret {secret} leaked:\n{output}"
        );
    }
}

/// `strait run <config>` with logs at TRACE; its stderr is collected as it comes.
fn run_traced(config: &Path) -> Strait {
    Strait::spawn(
        STRAIT
            .command()
            .arg("run")
            .arg(config)
            .env("RUST_LOG", "trace"),
    )
}

/// A Java keystore as truststore on the target is refused with the conversion commands, at
/// once, although the source is unreachable.
#[test]
fn java_keystore_is_refused_with_conversion_commands() {
    java_keystore_is_refused(("primary", "backup"), 9);
}

/// The same on the source, while the target is unreachable: a bad setting is never masked by
/// another cluster's connection retries. (No reverse heartbeat flow, which would reach the
/// source as its target.)
#[test]
fn java_keystore_on_the_source_is_refused_while_the_target_is_down() {
    java_keystore_is_refused(("backup", "primary"), 9);
}

/// `sasl` gets SASL PLAIN (unreachable), `tls` a JKS truststore on line `line`.
fn java_keystore_is_refused((sasl, tls): (&str, &str), line: usize) {
    let dir = scratch_dir(&format!("jks-{tls}"));
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
             {sasl}.security.protocol = SASL_PLAINTEXT\n\
             {sasl}.sasl.mechanism = PLAIN\n\
             {sasl}.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule \
               required username=\"mm2\" password=\"{}\";\n\
             {tls}.security.protocol = SSL\n\
             {tls}.ssl.truststore.location = {}\n\
             {tls}.ssl.truststore.password = {}\n\
             backup->primary.emit.heartbeats.enabled = false\n",
            SECRETS[0],
            jks.display(),
            SECRETS[1],
        ),
    )
    .unwrap();
    let mut strait = run_traced(&config);
    let code = strait.wait_exit(Duration::from_secs(30)).code();
    let output = strait.log();
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("strait: error:"), "{output}");
    assert!(
        output.contains(&format!("line {line}: key `{tls}.ssl.truststore.location`")),
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
    let (primary, backup) = tokio::join!(start_node(kind), start_node(kind));
    let sasl = ProxySasl::user("SCRAM-SHA-512", "mm2", SECRETS[2]);
    let proxy = start_proxy(&primary.bootstrap(), None, Some(sasl)).await;
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
    let strait = run_traced(&config);
    let output = tokio::task::spawn_blocking(move || {
        strait.wait_for_log("retrying in 1s", Duration::from_secs(30));
        strait.log()
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
