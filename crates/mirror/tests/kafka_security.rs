//! TLS and SASL against Apache Kafka's own listeners (no proxy): SASL_SSL with SCRAM-SHA-256
//! and SCRAM-SHA-512, host name verification, mTLS; a wrong password or a missing client
//! certificate is refused by the broker with a clear error, retried with backoff, and no secret
//! ever reaches the logs.

use std::time::Duration;

use strait_fixtures::*;
use strait_kafka::Cluster;
use strait_testkit::{BrokerKind, KafkaCluster, KafkaOptions, ScramUser, SecureListener};

strait_testkit::per_broker!(;
    // Only Apache Kafka speaks TLS and SCRAM itself here.
    kafka_only: scram_256_source_to_scram_512_target_over_sasl_ssl,
    host_name_verification,
    mtls_target,
    wrong_password_is_refused_and_retried,
);

const USER: &str = "mm2";
const SECRET: &str = "kafka-Pw-9c3e";
const WRONG: &str = "wrong-Pw-1b1b";
const TOPIC: &str = "secure-topic";
const ONE_WAY: &str =
    "topics = secure-topic\nprimary->backup.enabled = true\nbackup->primary.enabled = false\n";

fn captured_logs() -> CapturedLogs {
    capture_logs("strait_mirror=trace,strait_kafka=trace")
}

fn logs_text() -> String {
    captured_logs().text()
}

fn assert_no_secrets(text: &str) {
    for secret in [SECRET, WRONG] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
}

/// A secured Kafka cluster beside a plaintext one: the test writes and reads over plaintext,
/// strait connects over the secured listener.
async fn secured(listener: SecureListener, cert_names: &[&str]) -> KafkaCluster {
    let options = KafkaOptions::default()
        .secure(listener)
        .server_cert_names(cert_names);
    tokio::task::spawn_blocking(move || KafkaCluster::start(options))
        .await
        .unwrap()
        .expect("secured Kafka starts")
}

fn sasl_ssl() -> SecureListener {
    SecureListener::SaslSsl(vec![ScramUser::new(USER, SECRET)])
}

/// `alias.*` settings for SASL_SSL with SCRAM `mechanism`, trusting `node`'s CA (inline PEM).
fn sasl_ssl_settings(alias: &str, node: &KafkaCluster, mechanism: &str, password: &str) -> String {
    format!(
        "{alias}.bootstrap.servers = {}\n\
         {alias}.security.protocol = SASL_SSL\n\
         {alias}.sasl.mechanism = {mechanism}\n\
         {alias}.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule \
         required username=\"{USER}\" password=\"{password}\";\n\
         {alias}.ssl.truststore.type = PEM\n\
         {alias}.ssl.truststore.certificates = {}\n",
        node.secure_bootstrap().unwrap(),
        node.ca_pem().unwrap().replace('\n', "\\n\\\n"),
    )
}

/// A plaintext Kafka cluster.
async fn plain() -> KafkaCluster {
    tokio::task::spawn_blocking(|| KafkaCluster::start(KafkaOptions::default()))
        .await
        .unwrap()
        .expect("Kafka starts")
}

/// The test's clients use the plaintext listeners; strait is pointed at the secured ones.
async fn pair_over(source: &KafkaCluster, target: &KafkaCluster) -> (Cluster, Cluster) {
    (
        connect("primary", &source.bootstrap()).await,
        connect("backup", &target.bootstrap()).await,
    )
}

fn base_properties(extra: &str) -> String {
    format!(
        "clusters = primary, backup\n\
         {MIRROR_ONE_REPLICA}\
         refresh.topics.interval.seconds = 1\n\
         {ONE_WAY}{extra}"
    )
}

/// Produces 2×25 records on the source, mirrors them, checks each arrived once, in order.
async fn mirror_and_check(source: &Cluster, target: &Cluster, properties: &str) {
    create_topic(source, TOPIC, 2).await;
    let expected = produce_fixture(source, TOPIC, 0..2, 25, "secure").await;
    let mut mirror = start_mirror(properties);
    tokio::select! {
        _ = wait_for_records(target, "primary.secure-topic", 50) => {}
        e = mirror.failed() => panic!("the mirror stopped: {e}"),
        _ = tokio::time::sleep(DEADLINE - Duration::from_secs(5)) => {
            let text = logs_text();
            let warnings: Vec<&str> = text.lines().filter(|l| l.contains(" WARN ")).collect();
            panic!("nothing mirrored; warnings:\n{}", warnings[warnings.len().saturating_sub(20)..].join("\n"));
        }
    }
    for (p, records) in &expected {
        let got = read_partition(target, "primary.secure-topic", *p).await;
        assert_same_records(&format!("partition {p}"), records, &got);
    }
    shutdown(mirror).await;
}

/// Source SASL_SSL with SCRAM-SHA-256, target SASL_SSL with SCRAM-SHA-512, both verifying the
/// brokers' certificates against their CA and host names (the default `https`).
async fn scram_256_source_to_scram_512_target_over_sasl_ssl(_kind: BrokerKind) {
    captured_logs();
    let source_node = secured(sasl_ssl(), &["localhost", "127.0.0.1"]).await;
    let target_node = secured(sasl_ssl(), &["localhost", "127.0.0.1"]).await;
    let (source, target) = pair_over(&source_node, &target_node).await;
    let properties = base_properties(&format!(
        "{}{}",
        sasl_ssl_settings("primary", &source_node, "SCRAM-SHA-256", SECRET),
        sasl_ssl_settings("backup", &target_node, "SCRAM-SHA-512", SECRET),
    ));
    mirror_and_check(&source, &target, &properties).await;
    assert_no_secrets(&logs_text());
}

/// Certificates for another host name are refused by default (`https`), naming the problem;
/// `ssl.endpoint.identification.algorithm=` (empty) turns the check off, as in Kafka.
async fn host_name_verification(_kind: BrokerKind) {
    captured_logs();
    let source_node = secured(sasl_ssl(), &["broker.example.com"]).await;
    let target_node = plain().await;
    let (source, target) = pair_over(&source_node, &target_node).await;
    let plain_target = format!("backup.bootstrap.servers = {}\n", target_node.bootstrap());
    let verified = base_properties(&format!(
        "{}{plain_target}",
        sasl_ssl_settings("primary", &source_node, "SCRAM-SHA-512", SECRET),
    ));
    let mut mirror = start_mirror(&verified);
    let port = source_node.secure_bootstrap().unwrap();
    eventually("a logged host name refusal", || async {
        let text = logs_text();
        text.lines()
            .find(|l| {
                l.contains("cluster primary: TLS handshake with broker")
                    && port.split(',').any(|p| l.contains(p))
                    && l.to_ascii_lowercase().contains("not valid for name")
            })
            .map(|_| ())
            .ok_or("not yet".to_owned())
    })
    .await;
    assert_eq!(count_records(&target, "primary.secure-topic").await, 0);
    tokio::select! {
        e = mirror.failed() => panic!("a TLS refusal is retried, not fatal: {e}"),
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    shutdown(mirror).await;

    let unverified = format!("{verified}primary.ssl.endpoint.identification.algorithm =\n");
    mirror_and_check(&source, &target, &unverified).await;
    assert_no_secrets(&logs_text());
}

/// The target demands client certificates (`ssl.client.auth=required`): strait's PEM keystore
/// (key and chain in one file) is accepted; without one the broker closes the handshake, which
/// strait reports as a TLS failure and retries.
async fn mtls_target(_kind: BrokerKind) {
    captured_logs();
    let source_node = plain().await;
    let target_node = secured(SecureListener::Ssl { client_auth: true }, &["127.0.0.1"]).await;
    let (source, target) = pair_over(&source_node, &target_node).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, target_node.ca_pem().unwrap()).unwrap();
    let client = target_node.client_certificate("mm2-client").unwrap();
    let keystore = dir.path().join("client.pem");
    std::fs::write(&keystore, format!("{}{}", client.key_pem, client.cert_pem)).unwrap();
    let tls_target = format!(
        "primary.bootstrap.servers = {}\n\
         backup.bootstrap.servers = {}\n\
         backup.security.protocol = SSL\n\
         backup.ssl.truststore.type = PEM\n\
         backup.ssl.truststore.location = {}\n",
        source_node.bootstrap(),
        target_node.secure_bootstrap().unwrap(),
        ca.display(),
    );

    // Without a client certificate: refused, retried, nothing written.
    let mut mirror = start_mirror(&base_properties(&tls_target));
    let port = target_node.secure_bootstrap().unwrap();
    eventually("a logged client-certificate refusal", || async {
        let text = logs_text();
        text.lines()
            .find(|l| {
                l.contains("cluster backup") && l.contains(&port) && l.contains("retrying in")
            })
            .map(|_| ())
            .ok_or("not yet".to_owned())
    })
    .await;
    tokio::select! {
        e = mirror.failed() => panic!("a refused handshake is retried, not fatal: {e}"),
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    shutdown(mirror).await;

    let with_certificate = format!(
        "{tls_target}backup.ssl.keystore.type = PEM\nbackup.ssl.keystore.location = {}\n",
        keystore.display()
    );
    mirror_and_check(&source, &target, &base_properties(&with_certificate)).await;
}

/// A wrong SCRAM password: Kafka refuses it; strait logs a clear authentication error naming
/// the cluster, broker and mechanism, retries with a growing backoff, and never logs either
/// password.
async fn wrong_password_is_refused_and_retried(_kind: BrokerKind) {
    captured_logs();
    let source_node = secured(sasl_ssl(), &["127.0.0.1"]).await;
    let target_node = plain().await;
    let properties = base_properties(&format!(
        "{}backup.bootstrap.servers = {}\n",
        sasl_ssl_settings("primary", &source_node, "SCRAM-SHA-512", WRONG),
        target_node.bootstrap(),
    ));
    let mirror = start_mirror(&properties);
    let port = source_node.secure_bootstrap().unwrap();
    let ours = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                l.contains(&port) && l.contains("retrying in") && l.contains("flow=primary->backup")
            })
            .map(str::to_owned)
            .collect()
    };
    let attempts = eventually("two logged retries", || async {
        let lines = ours(&logs_text());
        (lines.len() >= 2)
            .then_some(lines.clone())
            .ok_or(format!("{lines:?}"))
    })
    .await;
    shutdown(mirror).await;
    assert!(
        attempts[0].contains("cluster primary: SASL SCRAM-SHA-512 authentication to broker")
            && attempts[0].contains("Authentication failed"),
        "{}",
        attempts[0]
    );
    assert!(
        attempts[0].contains("retrying in 500ms") && attempts[1].contains("retrying in 1s"),
        "{attempts:#?}"
    );
    assert_no_secrets(&logs_text());
}
