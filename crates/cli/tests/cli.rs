//! The `strait` binary as a user runs it.

use std::process::Command;

fn strait(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strait"))
        .args(args)
        .output()
        .expect("run strait");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn help_lists_commands_with_examples() {
    let (ok, text) = strait(&["--help"]);
    assert!(ok, "{text}");
    for needle in [
        "demo",
        "cluster",
        "Examples:",
        "strait cluster 127.0.0.1:9092",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
    for sub in ["demo", "cluster"] {
        let (ok, text) = strait(&[sub, "--help"]);
        assert!(ok && text.contains("Examples:"), "{sub} --help:\n{text}");
    }
}

#[test]
fn demo_moves_every_batch_untouched_on_each_broker() {
    for kind in strait_testkit::kinds_under_test() {
        let (ok, text) = strait(&["demo", "--broker", kind.name(), "--records", "60"]);
        assert!(ok, "demo on {kind} failed:\n{text}");
        assert!(text.contains("180 records identical"), "{text}");
        assert!(
            text.contains("30 of 30 batches arrived with the same codec"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn cluster_shows_topics_leaders_and_offsets() {
    use strait_kafka::batch::{BatchBuilder, Record};
    let node = tokio::task::spawn_blocking(|| {
        strait_testkit::TestCluster::start(strait_testkit::BrokerKind::Noida)
    })
    .await
    .unwrap()
    .expect("broker");
    let cluster = strait_kafka::Cluster::connect(
        strait_kafka::ClusterConfig::new("c", &node.bootstrap()).unwrap(),
    )
    .await
    .unwrap();
    let topic = strait_kafka::NewTopic {
        configs: vec![("retention.ms".into(), "-1".into())],
        ..strait_kafka::NewTopic::new("payments", 2)
    };
    cluster.create_topic(&topic).await.unwrap();
    let records = (0..7)
        .map(|i| Record {
            offset: i,
            timestamp: 1_700_000_000_000 + i,
            key: None,
            value: None,
            headers: vec![],
        })
        .collect();
    let batch = BatchBuilder {
        records,
        ..BatchBuilder::default()
    }
    .encode()
    .unwrap();
    strait_kafka::Producer::idempotent(&cluster)
        .await
        .unwrap()
        .send("payments", 1, &batch)
        .await
        .unwrap();

    let bootstrap = node.bootstrap();
    let (ok, text) = tokio::task::spawn_blocking(move || {
        strait(&["cluster", &bootstrap, "--topic", "payments"])
    })
    .await
    .unwrap();
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("broker 1  {}", node.bootstrap())),
        "{text}"
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("payments"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["payments", "0", "1", "0", "0"],
            vec!["payments", "1", "1", "0", "7"]
        ],
        "{text}"
    );
}

#[test]
fn cluster_names_an_unreachable_bootstrap_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (ok, text) = strait(&["cluster", &format!("127.0.0.1:{port}")]);
    assert!(!ok);
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}
