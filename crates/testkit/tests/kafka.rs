//! The Apache Kafka test bed against the real thing: install from Maven Central, KRaft clusters
//! of one and three nodes, secured listeners, the real MirrorMaker 2 and the Java peer.

use std::time::{Duration, Instant};

use strait_testkit::{
    ensure_kafka_installed, java_peer, probe, BrokerKind, KafkaCluster, KafkaOptions, KafkaVersion,
    Mm2Options, Mm2Process, ScramUser, SecureListener, TestCluster, KAFKA_MARKER,
};

fn node_ids(bootstrap: &str) -> Vec<i32> {
    let first = bootstrap.split(',').next().unwrap();
    let mut ids: Vec<i32> = probe(first)
        .unwrap_or_else(|e| panic!("{first} should answer: {e}"))
        .iter()
        .map(|b| b.node_id)
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn install_is_reused() {
    let version = KafkaVersion::from_env();
    let dir = ensure_kafka_installed(version).expect("install Kafka");
    let marker = std::fs::read_to_string(dir.join(KAFKA_MARKER)).expect("marker");
    assert!(marker.contains("fingerprint="), "{marker}");
    assert!(dir
        .join("libs")
        .join(format!("kafka-clients-{version}.jar"))
        .is_file());
    assert!(dir
        .join("libs")
        .join(format!("connect-mirror-{version}.jar"))
        .is_file());
    assert_eq!(ensure_kafka_installed(version).unwrap(), dir);
    assert!(dir.join("testbed").join("Testbed.class").is_file());
}

#[test]
fn single_node_stops_and_restarts_with_its_data() {
    let mut cluster = TestCluster::start(BrokerKind::Kafka).expect("start Kafka");
    assert_eq!(node_ids(&cluster.bootstrap()), [1]);
    let port = cluster.port();
    cluster.stop();
    assert!(probe(&cluster.bootstrap()).is_err());
    cluster.restart().expect("restart");
    assert_eq!(cluster.port(), port);
    assert_eq!(node_ids(&cluster.bootstrap()), [1]);
    assert!(cluster.logs().matches("Kafka Server started").count() >= 2);
}

#[test]
fn three_nodes_survive_one_stopped() {
    let mut cluster = KafkaCluster::start(KafkaOptions::default().brokers(3)).expect("start");
    assert_eq!(node_ids(&cluster.bootstrap()), [1, 2, 3]);
    cluster.stop_node(2);
    assert!(!cluster.is_running(2));
    let deadline = Instant::now() + Duration::from_secs(30);
    while node_ids(&cluster.node_bootstrap(1)) != [1, 3] {
        assert!(Instant::now() < deadline, "node 2 still listed");
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster.start_node(2).expect("node 2 back");
    assert_eq!(node_ids(&cluster.bootstrap()), [1, 2, 3]);
}

#[test]
fn secure_cluster_and_mm2_and_java_peer() {
    let cluster = KafkaCluster::start(
        KafkaOptions::default()
            .secure(SecureListener::SaslSsl(vec![ScramUser::new(
                "alice",
                "alice-secret",
            )]))
            .with_authorizer(),
    )
    .expect("start a SASL_SSL cluster");
    assert!(cluster.secure_bootstrap().is_some());
    assert!(cluster.ca_pem().unwrap().contains("BEGIN CERTIFICATE"));
    let out = java_peer(cluster.version(), &["mirror-client", &cluster.bootstrap()]).expect("peer");
    assert!(out.contains("\"upstreamClusters\":[]"), "{out}");

    let props = format!(
        "clusters = a, b\na.bootstrap.servers = {0}\nb.bootstrap.servers = {0}\n\
         a->b.enabled = true\nreplication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\nheartbeats.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\noffset.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\nconfig.storage.replication.factor = 1\n",
        cluster.bootstrap()
    );
    let mut mm2 = Mm2Process::start(
        &props,
        Mm2Options {
            version: cluster.version(),
            ..Default::default()
        },
    )
    .expect("MM2");
    mm2.wait_for_log("Kafka MirrorMaker started", Duration::from_secs(90))
        .expect("MM2 up");
    let how = mm2.stop();
    assert!(how.starts_with("exited"), "{how}");
}
