//! The `strait` binary as a user runs it.

use strait_fixtures::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::Producer;
use strait_testkit::BrokerKind;

const STRAIT: StraitBin = StraitBin(env!("CARGO_BIN_EXE_strait"));

/// Runs `strait <args>`: whether it succeeded, and stdout followed by stderr.
fn strait(args: &[&str]) -> (bool, String) {
    let (code, out, err) = STRAIT.run(args);
    (code == Some(0), out + &err)
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
    let (node, cluster) = start_cluster(BrokerKind::Noida, "c").await;
    create_topic(&cluster, "payments", 2).await;
    let records: Vec<Record> = (0..7)
        .map(|i| record(1_700_000_000_000 + i, None, None))
        .collect();
    let producer = Producer::idempotent(&cluster).await.unwrap();
    produce(&producer, "payments", 1, Compression::None, &records).await;

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
