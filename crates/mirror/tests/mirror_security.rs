//! Mirroring between secured clusters, configured the way mm2.properties does it: a source
//! speaking SASL_PLAINTEXT (SCRAM-SHA-512 through the testkit proxy; PLAIN straight to noida,
//! the only broker here with SASL) and a target speaking SSL with mTLS or SASL_SSL (through the
//! proxy: no broker here has TLS). Secrets come from `${file:..}` / `${env:..}` providers.
//! Negative: a wrong password and an untrusted certificate give clear, retried errors naming
//! the cluster, and no secret appears anywhere in the captured logs.

use std::path::Path;
use std::sync::atomic::Ordering;

use strait_fixtures::*;
use strait_kafka::protocol::messages::ApiKey;
use strait_testkit::{BrokerKind, ProxySasl, SecureProxy, TestCa, Usage};

strait_testkit::per_broker!(
    scram_source_to_mtls_target,
    wrong_password_is_retried_without_leaking,
    untrusted_target_certificate_is_a_clear_error,
    pkcs12_stores_made_by_openssl;
    // Only noida speaks SASL PLAIN itself; tansu (calfkit) has no SASL.
    noida_only: plain_source_to_sasl_ssl_target
);

const TOPIC: &str = "secure-topic";
const SOURCE_SECRET: &str = "src-Pw-7a1f";
const TARGET_SECRET: &str = "tgt-Pw-93kd";
const WRONG_SECRET: &str = "wrong-Pw-x0x0";
const ONE_WAY: &str = "topics = secure-.*\nbackup->primary.enabled = false";

/// Everything logged by every test in this binary (strait crates at TRACE).
fn captured_logs() -> CapturedLogs {
    capture_logs("strait_mirror=trace,strait_kafka=trace")
}

fn logs_text() -> String {
    captured_logs().text()
}

fn assert_no_secrets(text: &str) {
    for secret in [SOURCE_SECRET, TARGET_SECRET, WRONG_SECRET] {
        assert!(
            !text.contains(secret),
            "secret {secret} leaked into:\n{text}"
        );
    }
}

/// A properties file holding `password=<secret>`, for `${file:path:password}`.
fn secrets_file(dir: &Path, name: &str, secret: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("password={secret}\n")).unwrap();
    path.display().to_string()
}

fn scram_jaas(user: &str, password_ref: &str) -> String {
    format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required \
         username=\"{user}\" password=\"{password_ref}\";"
    )
}

/// A proxy in front of the primary checking SCRAM-SHA-512 logins of `mm2` (the source secret).
async fn scram_proxy(pair: &Pair) -> SecureProxy {
    let scram = ProxySasl::user("SCRAM-SHA-512", "mm2", SOURCE_SECRET);
    start_proxy(&pair.primary_node.bootstrap(), None, Some(scram)).await
}

/// A TLS proxy in front of the backup with a certificate of `ca`, requiring client certificates
/// of `ca`.
async fn mtls_proxy(pair: &Pair, ca: &TestCa) -> SecureProxy {
    start_proxy(
        &pair.backup_node.bootstrap(),
        Some(proxy_tls(ca, &["127.0.0.1"], true)),
        None,
    )
    .await
}

/// Replicates and checks that every record arrived once, in order.
async fn mirror_and_check(pair: &Pair, properties: &str) {
    create_topic(&pair.primary, TOPIC, 2).await;
    let expected = produce_fixture(&pair.primary, TOPIC, 0..2, 25, "secure").await;
    let mut mirror = start_mirror(properties);
    tokio::select! {
        _ = wait_for_records(&pair.backup, "primary.secure-topic", 50) => {}
        e = mirror.failed() => panic!("the mirror stopped: {e}"),
    }
    for (p, records) in &expected {
        let target = read_partition(&pair.backup, "primary.secure-topic", *p).await;
        assert_same_records(&format!("partition {p}"), records, &target);
    }
    shutdown(mirror).await;
}

/// Source: SASL_PLAINTEXT + SCRAM-SHA-512 (password from a `${file:..}` provider, checked by
/// the proxy's SCRAM server). Target: SSL with mTLS (client key and chain in one PEM keystore).
async fn scram_source_to_mtls_target(kind: BrokerKind) {
    let _ = captured_logs();
    let pair = Pair::start(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("strait test CA");
    let source_proxy = scram_proxy(&pair).await;
    let target_proxy = mtls_proxy(&pair, &ca).await;
    let ca_path = ca.write(dir.path(), "ca");
    let client = ca.issue(&["mm2-client"], Usage::Client);
    let keystore = dir.path().join("client.pem");
    std::fs::write(&keystore, format!("{}{}", client.key_pem, client.cert_pem)).unwrap();
    let secrets = secrets_file(dir.path(), "source.properties", SOURCE_SECRET);
    let properties = pair.properties(&format!(
        "{ONE_WAY}\n\
         config.providers = file\n\
         config.providers.file.class = org.apache.kafka.common.config.provider.FileConfigProvider\n\
         primary.bootstrap.servers = {}\n\
         primary.security.protocol = SASL_PLAINTEXT\n\
         primary.sasl.mechanism = SCRAM-SHA-512\n\
         primary.sasl.jaas.config = {}\n\
         backup.bootstrap.servers = {}\n\
         backup.security.protocol = SSL\n\
         backup.ssl.truststore.type = PEM\n\
         backup.ssl.truststore.location = {}\n\
         backup.ssl.keystore.type = PEM\n\
         backup.ssl.keystore.location = {}\n",
        source_proxy.bootstrap(),
        scram_jaas("mm2", &format!("${{file:{secrets}:password}}")),
        target_proxy.bootstrap(),
        ca_path.display(),
        keystore.display(),
    ));
    mirror_and_check(&pair, &properties).await;

    let source = source_proxy.stats();
    assert!(
        source.requests(ApiKey::Fetch as i16) > 0,
        "the mirror fetched through the proxy"
    );
    assert_eq!(source.auth_failures.load(Ordering::Relaxed), 0);
    // A connection still logging in when the mirror stops is not counted as authenticated;
    // what matters is that none sent anything else before logging in.
    assert!(source.authenticated.load(Ordering::Relaxed) > 0);
    assert_eq!(
        source.unauthenticated_requests.load(Ordering::Relaxed),
        0,
        "every source connection authenticated with SCRAM before its first request"
    );
    let target = target_proxy.stats();
    assert!(
        target.requests(ApiKey::Produce as i16) > 0,
        "the mirror produced through the proxy"
    );
    assert!(target.requests(ApiKey::Metadata as i16) > 0);
    assert_eq!(target.tls_failures.load(Ordering::Relaxed), 0);
    assert_no_secrets(&logs_text());
}

/// Source: SASL_PLAINTEXT + PLAIN straight to noida (`sasl.username`/`sasl.password` keys,
/// password from `${env:..}`). Target: SASL_SSL + SCRAM-SHA-256 through the proxy.
async fn plain_source_to_sasl_ssl_target(kind: BrokerKind) {
    let _ = captured_logs();
    let pair = Pair::start(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("strait test CA");
    let target_proxy = start_proxy(
        &pair.backup_node.bootstrap(),
        Some(proxy_tls(&ca, &["127.0.0.1"], false)),
        Some(ProxySasl::user("SCRAM-SHA-256", "mm2", TARGET_SECRET)),
    )
    .await;
    std::env::set_var("STRAIT_TEST_SOURCE_PASSWORD", SOURCE_SECRET);
    let secrets = secrets_file(dir.path(), "target.properties", TARGET_SECRET);
    let properties = pair.properties(&format!(
        "{ONE_WAY}\n\
         primary.security.protocol = SASL_PLAINTEXT\n\
         primary.sasl.mechanism = PLAIN\n\
         primary.sasl.username = mm2\n\
         primary.sasl.password = ${{env:STRAIT_TEST_SOURCE_PASSWORD}}\n\
         backup.bootstrap.servers = {}\n\
         backup.security.protocol = SASL_SSL\n\
         backup.sasl.mechanism = SCRAM-SHA-256\n\
         backup.sasl.jaas.config = {}\n\
         backup.ssl.truststore.certificates = {}\n",
        target_proxy.bootstrap(),
        scram_jaas("mm2", &format!("${{file:{secrets}:password}}")),
        ca.cert_pem.replace('\n', "\\n\\\n"),
    ));
    mirror_and_check(&pair, &properties).await;
    let target = target_proxy.stats();
    assert!(target.requests(ApiKey::Produce as i16) > 0);
    assert!(target.authenticated.load(Ordering::Relaxed) > 0);
    assert_no_secrets(&logs_text());
}

/// A wrong SCRAM password: the flow logs a clear error naming cluster and mechanism, retries
/// with a growing backoff (500 ms, then 1 s), and never logs the password.
async fn wrong_password_is_retried_without_leaking(kind: BrokerKind) {
    let logs = captured_logs();
    let pair = Pair::start(kind).await;
    let source_proxy = scram_proxy(&pair).await;
    let properties = pair.properties(&format!(
        "{ONE_WAY}\n\
         primary.bootstrap.servers = {}\n\
         primary.security.protocol = SASL_PLAINTEXT\n\
         primary.sasl.mechanism = SCRAM-SHA-512\n\
         primary.sasl.jaas.config = {}\n",
        source_proxy.bootstrap(),
        scram_jaas("mm2", WRONG_SECRET),
    ));
    let mirror = start_mirror(&properties);
    let port = source_proxy.port();
    let retries = |text: &str, flow: &str| -> usize {
        text.lines()
            .filter(|l| l.contains(&format!("127.0.0.1:{port}")) && l.contains("retrying in"))
            .filter(|l| l.contains(flow))
            .count()
    };
    // Both flows use the source (primary->backup replicates, backup->primary emits heartbeats).
    let logs_ref = &logs;
    eventually("two logged retries of primary->backup", || async move {
        let text = logs_ref.text();
        match retries(&text, "flow=primary->backup") {
            n if n >= 2 => Ok(()),
            n => Err(format!("{n} retries logged")),
        }
    })
    .await;
    shutdown(mirror).await;
    let failures = source_proxy.stats().auth_failures.load(Ordering::Relaxed);
    let text = logs.text();
    let attempts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("127.0.0.1:{port}")) && l.contains("retrying in"))
        .collect();
    let ours: Vec<&str> = attempts
        .iter()
        .copied()
        .filter(|l| l.contains("flow=primary->backup"))
        .collect();
    assert!(ours.len() >= 2, "retries logged:\n{text}");
    assert!(
        ours[0].contains("cluster primary: SASL SCRAM-SHA-512 authentication to broker")
            && ours[0].contains("invalid credentials"),
        "{}",
        ours[0]
    );
    assert!(
        ours[0].contains("retrying in 500ms") && ours[1].contains("retrying in 1s"),
        "{ours:#?}"
    );
    // One failed exchange per flow attempt (plus ones cut short by the shutdown): the client
    // itself does not retry a rejected login.
    assert!(
        failures <= attempts.len() as u64 + 2,
        "{failures} failed logins for {} logged attempts",
        attempts.len()
    );
    assert_no_secrets(&text);
}

/// The target presents a certificate from a CA the mirror does not trust.
async fn untrusted_target_certificate_is_a_clear_error(kind: BrokerKind) {
    let logs = captured_logs();
    let pair = Pair::start(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let trusted = TestCa::new("trusted CA");
    let other = TestCa::new("unknown CA");
    let target_proxy = start_proxy(
        &pair.backup_node.bootstrap(),
        Some(proxy_tls(&other, &["127.0.0.1"], false)),
        None,
    )
    .await;
    let properties = pair.properties(&format!(
        "{ONE_WAY}\n\
         backup.bootstrap.servers = {}\n\
         backup.security.protocol = SSL\n\
         backup.ssl.truststore.location = {}\n\
         backup.ssl.truststore.password = {TARGET_SECRET}\n",
        target_proxy.bootstrap(),
        trusted.write(dir.path(), "ca").display(),
    ));
    let mirror = start_mirror(&properties);
    let port = target_proxy.port();
    let line = eventually("a TLS error in the logs", || {
        let logs = logs.clone();
        async move {
            let text = logs.text();
            text.lines()
                .find(|l| l.contains(&format!("127.0.0.1:{port}")) && l.contains("retrying in"))
                .map(str::to_owned)
                .ok_or_else(|| "no error yet".to_owned())
        }
    })
    .await;
    shutdown(mirror).await;
    assert!(
        line.contains("cluster backup: TLS handshake with broker")
            && line.contains("UnknownIssuer"),
        "{line}"
    );
    assert!(target_proxy.stats().tls_failures.load(Ordering::Relaxed) >= 1);
    assert_no_secrets(&logs_text());
}

/// Runs `openssl` with `args` (the tool Kafka operators use to build PKCS12 stores).
fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("this test needs the openssl command (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Target over SSL with mTLS where both stores are PKCS12 files made by `openssl pkcs12
/// -export`, passwords from `${env:..}`; then the same with a wrong key store password.
async fn pkcs12_stores_made_by_openssl(kind: BrokerKind) {
    let _ = captured_logs();
    let pair = Pair::start(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("strait test CA");
    let target_proxy = mtls_proxy(&pair, &ca).await;
    let ca_path = ca.write(dir.path(), "ca");
    let (cert, key) = ca
        .issue(&["mm2-client"], Usage::Client)
        .write(dir.path(), "client");
    let truststore = dir.path().join("truststore.p12");
    let keystore = dir.path().join("keystore.p12");
    let pass = |s: &str| format!("pass:{s}");
    openssl(&[
        "pkcs12",
        "-export",
        "-nokeys",
        "-in",
        ca_path.to_str().unwrap(),
        "-out",
        truststore.to_str().unwrap(),
        "-passout",
        &pass(SOURCE_SECRET),
    ]);
    openssl(&[
        "pkcs12",
        "-export",
        "-in",
        cert.to_str().unwrap(),
        "-inkey",
        key.to_str().unwrap(),
        "-out",
        keystore.to_str().unwrap(),
        "-passout",
        &pass(TARGET_SECRET),
    ]);
    std::env::set_var("STRAIT_TEST_TRUSTSTORE_PASSWORD", SOURCE_SECRET);
    std::env::set_var("STRAIT_TEST_KEYSTORE_PASSWORD", TARGET_SECRET);
    let properties = |keystore_password: &str| {
        pair.properties(&format!(
            "{ONE_WAY}\n\
             backup.bootstrap.servers = {}\n\
             backup.security.protocol = SSL\n\
             backup.ssl.truststore.type = PKCS12\n\
             backup.ssl.truststore.location = {}\n\
             backup.ssl.truststore.password = ${{env:STRAIT_TEST_TRUSTSTORE_PASSWORD}}\n\
             backup.ssl.keystore.location = {}\n\
             backup.ssl.keystore.password = {keystore_password}\n",
            target_proxy.bootstrap(),
            truststore.display(),
            keystore.display(),
        ))
    };
    mirror_and_check(&pair, &properties("${env:STRAIT_TEST_KEYSTORE_PASSWORD}")).await;
    assert!(target_proxy.stats().requests(ApiKey::Produce as i16) > 0);
    assert_eq!(target_proxy.stats().tls_failures.load(Ordering::Relaxed), 0);

    // A wrong key store password stops the flow with an error naming the key, not the password.
    let mut mirror = start_mirror(&properties(WRONG_SECRET));
    let error = tokio::time::timeout(DEADLINE, mirror.failed())
        .await
        .expect("the flow stops")
        .to_string();
    assert!(
        error.contains("key `backup.ssl.keystore.location`")
            && error.contains("cannot open the PKCS12 store"),
        "{error}"
    );
    assert_no_secrets(&error);
    shutdown(mirror).await;
    assert_no_secrets(&logs_text());
}
