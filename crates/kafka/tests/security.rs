//! TLS and SASL against real brokers: SASL PLAIN straight to noida (the only broker here with
//! SASL), and TLS, mTLS, SCRAM and OAUTHBEARER through the testkit's terminating proxy in front
//! of each broker (no broker here has TLS; noida's PLAIN accepts any password). Negative cases:
//! wrong password, untrusted, expired and misnamed certificates give clear errors, no secret.

use std::sync::Arc;

use strait_fixtures::{
    batch, create_topic, proxy_tls, read_batches_between, records_as_produced, rich_records,
    start_node, start_proxy,
};
use strait_kafka::batch::Compression;
use strait_kafka::protocol::messages::ApiKey;
use strait_kafka::{
    ClientIdentity, Cluster, ClusterConfig, Error, Producer, SaslConfig, SaslMechanism, Secret,
    TlsConnector, TlsSettings, TrustRoots,
};
use strait_testkit::{
    BrokerKind, CertKey, ProxySasl, ProxyTls, SecureProxy, TestCa, TestCluster, Usage,
};

const PASSWORD: &str = "pw-Zq9!secret";

fn sasl(mechanism: SaslMechanism, user: &str, password: &str) -> SaslConfig {
    SaslConfig::new(mechanism, user, Secret::new(password))
}

fn tls(ca: &TestCa, identity: Option<&CertKey>, verify_hostname: bool) -> Arc<TlsConnector> {
    let settings = TlsSettings {
        trust: TrustRoots::Pem(ca.cert_pem.clone().into_bytes()),
        identity: identity.map(|c| ClientIdentity {
            cert_chain_pem: c.cert_pem.clone().into_bytes(),
            key_pem: c.key_pem.clone().into_bytes(),
        }),
        verify_hostname,
    };
    Arc::new(TlsConnector::new(&settings).expect("valid TLS settings"))
}

fn config(
    bootstrap: &str,
    connector: Option<Arc<TlsConnector>>,
    sasl: Option<SaslConfig>,
) -> ClusterConfig {
    let mut config = ClusterConfig::new("east", bootstrap).unwrap();
    if let Some(connector) = connector {
        config.connector = connector;
    }
    config.sasl = sasl;
    config
}

/// Produces one batch and reads it back: the data path works over this client.
async fn round_trip(cluster: &Cluster, topic: &str) {
    create_topic(cluster, topic, 1).await;
    let batch = batch(Compression::Lz4, &rich_records(1, 20));
    let producer = Producer::idempotent(cluster).await.expect("producer");
    let ack = producer.send(topic, 0, &batch).await.expect("produce");
    let read = read_batches_between(
        cluster,
        topic,
        0,
        ack.base_offset,
        ack.base_offset + 20,
        1 << 20,
    )
    .await;
    assert_eq!(read.len(), 1);
    assert_eq!(records_as_produced(&read[0]), records_as_produced(&batch));
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(PASSWORD), "secret leaked: {text}");
}

/// noida really runs SaslHandshake/SaslAuthenticate for PLAIN (it accepts any password).
async fn sasl_plain_to_noida(kind: BrokerKind) {
    let node = start_node(kind).await;
    let config = config(
        &node.bootstrap(),
        None,
        Some(sasl(SaslMechanism::Plain, "alice", PASSWORD)),
    );
    assert_no_secret(&format!("{config:?}"));
    let cluster = Cluster::connect(config).await.expect("SASL PLAIN to noida");
    round_trip(&cluster, "sasl-plain").await;
}

/// TLS (server verified by a test CA, hostname checked) + SCRAM-SHA-512 with a real password
/// check; every broker address the client learns is the proxy's, and the data went through it.
async fn tls_and_scram_512_through_proxy(kind: BrokerKind) {
    let node = start_node(kind).await;
    let ca = TestCa::new("strait test CA");
    let proxy = start_proxy(
        &node.bootstrap(),
        Some(proxy_tls(&ca, &["127.0.0.1", "localhost"], false)),
        Some(ProxySasl::user("SCRAM-SHA-512", "alice", PASSWORD)),
    )
    .await;
    let cluster = Cluster::connect(config(
        &proxy.bootstrap(),
        Some(tls(&ca, None, true)),
        Some(sasl(SaslMechanism::ScramSha512, "alice", PASSWORD)),
    ))
    .await
    .expect("TLS + SCRAM-SHA-512 through the proxy");
    round_trip(&cluster, "tls-scram").await;
    let metadata = cluster.metadata();
    assert!(!metadata.brokers.is_empty());
    for broker in metadata.brokers.values() {
        assert_eq!(
            broker.port,
            proxy.port(),
            "broker address not rewritten: {broker:?}"
        );
    }
    let stats = proxy.stats();
    assert!(stats.requests(ApiKey::Produce as i16) >= 1);
    assert!(stats.requests(ApiKey::Fetch as i16) >= 1);
    assert_eq!(
        stats
            .auth_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(
        stats
            .authenticated
            .load(std::sync::atomic::Ordering::Relaxed),
        stats.connections.load(std::sync::atomic::Ordering::Relaxed),
        "every connection authenticated"
    );
}

/// mTLS: the proxy requires a client certificate from the test CA; SCRAM-SHA-256 on top.
async fn mtls_and_scram_256_through_proxy(kind: BrokerKind) {
    let node = start_node(kind).await;
    let ca = TestCa::new("strait test CA");
    let proxy = start_proxy(
        &node.bootstrap(),
        Some(proxy_tls(&ca, &["127.0.0.1"], true)),
        Some(ProxySasl::user("SCRAM-SHA-256", "alice", PASSWORD)),
    )
    .await;
    let client = ca.issue(&["strait-client"], Usage::Client);
    let cluster = Cluster::connect(config(
        &proxy.bootstrap(),
        Some(tls(&ca, Some(&client), true)),
        Some(sasl(SaslMechanism::ScramSha256, "alice", PASSWORD)),
    ))
    .await
    .expect("mTLS through the proxy");
    round_trip(&cluster, "mtls").await;

    // Without a client certificate the handshake is refused.
    let err = Cluster::connect(config(
        &proxy.bootstrap(),
        Some(tls(&ca, None, true)),
        Some(sasl(SaslMechanism::ScramSha256, "alice", PASSWORD)),
    ))
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("cluster east"), "{text}");
    assert_no_secret(&text);
    assert!(
        proxy
            .stats()
            .tls_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

/// OAUTHBEARER with a static token (plain TCP to the proxy).
async fn oauthbearer_through_proxy(kind: BrokerKind) {
    let node = start_node(kind).await;
    let oauth = ProxySasl {
        mechanisms: vec!["OAUTHBEARER".into()],
        users: vec![],
        tokens: vec!["token-abc.def".into()],
    };
    let proxy = start_proxy(&node.bootstrap(), None, Some(oauth)).await;
    let ok = Cluster::connect(config(
        &proxy.bootstrap(),
        None,
        Some(sasl(SaslMechanism::OAuthBearer, "", "token-abc.def")),
    ))
    .await
    .expect("OAUTHBEARER");
    round_trip(&ok, "oauth").await;
    let err = Cluster::connect(config(
        &proxy.bootstrap(),
        None,
        Some(sasl(SaslMechanism::OAuthBearer, "", PASSWORD)),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Auth {
                mechanism: "OAUTHBEARER",
                ..
            }
        ),
        "{err}"
    );
    assert_no_secret(&format!("{err} {err:?}"));
}

/// A wrong SCRAM password: one clear, non-retriable error naming cluster and mechanism.
async fn wrong_password_is_a_clear_auth_error(kind: BrokerKind) {
    let node = start_node(kind).await;
    let scram = ProxySasl::user("SCRAM-SHA-512", "alice", "the-right-one");
    let proxy = start_proxy(&node.bootstrap(), None, Some(scram)).await;
    let err = Cluster::connect(config(
        &proxy.bootstrap(),
        None,
        Some(sasl(SaslMechanism::ScramSha512, "alice", PASSWORD)),
    ))
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Auth { .. }), "{text}");
    assert!(!err.is_retriable());
    assert!(
        text.contains("cluster east") && text.contains("SCRAM-SHA-512"),
        "{text}"
    );
    assert!(text.contains("invalid credentials"), "{text}");
    assert_no_secret(&format!("{text} {err:?}"));
    // Not hammered: the client gave up after one attempt.
    assert_eq!(
        proxy
            .stats()
            .auth_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    // A mechanism the broker does not enable is named too.
    let err = Cluster::connect(config(
        &proxy.bootstrap(),
        None,
        Some(sasl(SaslMechanism::Plain, "alice", PASSWORD)),
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("PLAIN") && err.contains("enables: SCRAM-SHA-512"),
        "{err}"
    );
}

async fn tls_proxy(node: &TestCluster, server: CertKey) -> SecureProxy {
    let tls = ProxyTls {
        server,
        client_ca_pem: None,
    };
    start_proxy(&node.bootstrap(), Some(tls), None).await
}

async fn tls_error(proxy: &SecureProxy, ca: &TestCa, verify_hostname: bool) -> String {
    let err = Cluster::connect(config(
        &proxy.bootstrap(),
        Some(tls(ca, None, verify_hostname)),
        None,
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    assert!(!err.is_retriable());
    err.to_string()
}

/// Untrusted issuer, expired certificate and wrong host name are each refused with the reason.
async fn bad_certificates_are_refused(kind: BrokerKind) {
    let node = start_node(kind).await;
    let ca = TestCa::new("strait test CA");

    let other_ca = TestCa::new("somebody else");
    let untrusted = tls_proxy(&node, other_ca.issue(&["127.0.0.1"], Usage::Server)).await;
    let text = tls_error(&untrusted, &ca, true).await;
    assert!(
        text.contains("cluster east") && text.contains("UnknownIssuer"),
        "{text}"
    );

    let expired = tls_proxy(&node, ca.issue_expired(&["127.0.0.1"], Usage::Server)).await;
    let text = tls_error(&expired, &ca, true).await;
    assert!(text.contains("xpired"), "{text}");

    let misnamed = tls_proxy(&node, ca.issue(&["broker.example.com"], Usage::Server)).await;
    let text = tls_error(&misnamed, &ca, true).await;
    assert!(text.contains("not valid for name"), "{text}");
    // ssl.endpoint.identification.algorithm= (empty) turns only the name check off.
    let cluster = Cluster::connect(config(
        &misnamed.bootstrap(),
        Some(tls(&ca, None, false)),
        None,
    ))
    .await
    .expect("hostname verification off");
    round_trip(&cluster, "no-hostname-check").await;
    let text = tls_error(&expired, &ca, false).await;
    assert!(text.contains("xpired"), "{text}");
}

strait_testkit::per_broker!(
    tls_and_scram_512_through_proxy,
    mtls_and_scram_256_through_proxy,
    oauthbearer_through_proxy,
    wrong_password_is_a_clear_auth_error,
    bad_certificates_are_refused;
    // Only noida speaks SASL itself (PLAIN, any password); tansu (calfkit) offers no SASL.
    noida_only: sasl_plain_to_noida
);
