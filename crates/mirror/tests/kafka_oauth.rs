//! OAUTHBEARER with an OIDC identity provider on both clusters, as an operator writes it for
//! MM2 (`sasl.login.callback.handler.class`, `sasl.oauthbearer.token.endpoint.url`, the JAAS
//! `clientId`/`clientSecret`): strait mirrors through token refreshes and KIP-368 session
//! renewals without losing or repeating a record, and the real MirrorMaker 2 mirrors with the
//! very same file.

use std::time::Duration;

use strait_fixtures::*;
use strait_kafka::Cluster;
use strait_testkit::{
    BrokerKind, IdentityProvider, IdentityProviderOptions, KafkaCluster, KafkaOptions,
    KafkaVersion, Mm2Options, Mm2Process, SecureListener,
};

strait_testkit::per_broker!(;
    // Only Apache Kafka validates OAuth tokens itself here.
    kafka_only: strait_mirrors_through_token_refreshes_and_session_renewals,
    mirror_maker_2_reads_the_same_file,
);

const CLIENT: &str = "strait-mirror";
const SECRET: &str = "idp-Secret-4e1c";
const TOPIC: &str = "oauth-orders";

struct Env {
    idp: IdentityProvider,
    // Held for the test's duration: dropping them stops the brokers.
    primary_node: KafkaCluster,
    backup_node: KafkaCluster,
    primary: Cluster,
    backup: Cluster,
}

/// One identity provider (tokens of 10 s) and two Kafka clusters trusting it, whose sessions
/// last at most 3 s; the test's own clients use the plaintext listeners.
async fn start() -> Env {
    let idp = IdentityProvider::start(IdentityProviderOptions {
        clients: vec![(CLIENT.into(), SECRET.into())],
        token_lifetime: Duration::from_secs(10),
        ..IdentityProviderOptions::default()
    })
    .expect("the identity provider starts");
    let options = KafkaOptions::default()
        .secure(SecureListener::OAuthBearer {
            jwks_url: idp.jwks_url(),
            issuer: idp.issuer().to_owned(),
            audience: idp.audience().to_owned(),
        })
        .broker_config("connections.max.reauth.ms", "3000");
    let (a, b) = (options.clone(), options);
    let primary_node = tokio::task::spawn_blocking(move || KafkaCluster::start(a));
    let backup_node = tokio::task::spawn_blocking(move || KafkaCluster::start(b));
    let primary_node = primary_node.await.unwrap().expect("primary starts");
    let backup_node = backup_node.await.unwrap().expect("backup starts");
    let primary = connect("primary", &primary_node.bootstrap()).await;
    let backup = connect("backup", &backup_node.bootstrap()).await;
    Env {
        idp,
        primary_node,
        backup_node,
        primary,
        backup,
    }
}

/// The mm2.properties an operator writes for MM2 with an OIDC provider.
fn properties(env: &Env, extra: &str) -> String {
    let client = |alias: &str, node: &KafkaCluster| {
        format!(
            "{alias}.bootstrap.servers = {}\n\
             {alias}.security.protocol = SASL_PLAINTEXT\n\
             {alias}.sasl.mechanism = OAUTHBEARER\n\
             {alias}.sasl.login.callback.handler.class = \
             org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler\n\
             {alias}.sasl.oauthbearer.token.endpoint.url = {}\n\
             {alias}.sasl.jaas.config = \
             org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             clientId=\"{CLIENT}\" clientSecret=\"{SECRET}\" scope=\"kafka\";\n",
            node.secure_bootstrap().unwrap(),
            env.idp.token_url(),
        )
    };
    format!(
        "clusters = primary, backup\n\
         {}{}\
         primary->backup.enabled = true\n\
         backup->primary.enabled = false\n\
         topics = {TOPIC}\n\
         refresh.topics.interval.seconds = 1\n\
         {extra}",
        client("primary", &env.primary_node),
        client("backup", &env.backup_node),
    )
}

/// Produces `rounds` rounds of 5 records per partition, `gap` apart; returns them by partition.
async fn produce_over_time(
    primary: &Cluster,
    rounds: usize,
    gap: Duration,
) -> std::collections::BTreeMap<i32, Vec<strait_kafka::batch::Record>> {
    let mut expected: std::collections::BTreeMap<i32, Vec<_>> = Default::default();
    for round in 0..rounds {
        let more = produce_fixture(primary, TOPIC, 0..2, 5, &format!("round-{round}")).await;
        for (p, records) in more {
            expected.entry(p).or_default().extend(records);
        }
        tokio::time::sleep(gap).await;
    }
    expected
}

/// 24 s of traffic with 10 s tokens and 3 s sessions: every record arrives once, in order;
/// strait obtained fresh tokens and never lost a connection to an expired session.
async fn strait_mirrors_through_token_refreshes_and_session_renewals(_kind: BrokerKind) {
    let logs = capture_logs("strait_mirror=debug,strait_kafka=debug");
    let env = start().await;
    create_topic(&env.primary, TOPIC, 2).await;
    let started = std::time::Instant::now();
    let mut mirror = start_mirror(&properties(&env, MIRROR_ONE_REPLICA));
    let expected = tokio::select! {
        expected = produce_over_time(&env.primary, 30, Duration::from_millis(800)) => expected,
        e = mirror.failed() => panic!("the mirror stopped: {e}"),
    };
    let total: usize = expected.values().map(Vec::len).sum();
    let remote = format!("primary.{TOPIC}");
    tokio::select! {
        _ = wait_for_records(&env.backup, &remote, total) => {}
        e = mirror.failed() => panic!("the mirror stopped: {e}"),
    }
    for (p, records) in &expected {
        let got = read_partition(&env.backup, &remote, *p).await;
        assert_same_records(&format!("partition {p}"), records, &got);
    }
    shutdown(mirror).await;
    let text = logs.text();
    let renewed = text.matches("SASL session renewed").count();
    assert!(
        renewed >= 5,
        "sessions of 3 s over 24 s are renewed: {renewed}"
    );
    for bad in [
        "re-authentication failed",
        "ConnectionLost",
        "authentication to broker",
    ] {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(bad)).collect();
        assert!(lines.is_empty(), "`{bad}`:\n{}", lines.join("\n"));
    }
    // One login per cluster, shared by its clients: a first token, then one every 8-8.5 s.
    let issued = env.idp.issued_to(CLIENT);
    let most = 2 * (started.elapsed().as_secs() / 8 + 2);
    assert!(
        (4..=most).contains(&issued),
        "each cluster's login refreshed its 10 s token, shared by its clients: {issued} issued \
         (at most {most})"
    );
    assert!(!text.contains(SECRET), "the client secret reached the logs");
}

/// The same file runs the real MirrorMaker 2 (Kafka 4 asks for the token endpoint to be
/// allowed by a JVM system property; strait trusts the URL its file names).
async fn mirror_maker_2_reads_the_same_file(_kind: BrokerKind) {
    let env = start().await;
    create_topic(&env.primary, TOPIC, 2).await;
    let text = properties(&env, ONE_REPLICA);
    let allowed = format!(
        "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={}",
        env.idp.token_url()
    );
    let mut mm2 = tokio::task::spawn_blocking(move || {
        let mut mm2 = Mm2Process::start(
            &text,
            Mm2Options {
                version: KafkaVersion::from_env(),
                jvm_args: vec![allowed],
                ..Mm2Options::default()
            },
        )
        .expect("MirrorMaker 2 starts");
        mm2.wait_for_log("Kafka MirrorMaker started", DEADLINE)
            .expect("MirrorMaker 2 comes up");
        mm2
    })
    .await
    .unwrap();
    let expected = produce_fixture(&env.primary, TOPIC, 0..2, 10, "mm2").await;
    let remote = format!("primary.{TOPIC}");
    wait_for_records(&env.backup, &remote, 20).await;
    for (p, records) in &expected {
        let got = read_partition(&env.backup, &remote, *p).await;
        assert_same_records(&format!("partition {p}"), records, &got);
    }
    assert!(
        env.idp.issued_to(CLIENT) >= 1,
        "MM2 logged in at the provider"
    );
    tokio::task::block_in_place(|| mm2.stop());
}
