//! `strait run` as an operator runs it: the binary, an mm2.properties file and real brokers.
//! The stream drills (SIGTERM, SIGKILL, a target outage while a producer writes) are in
//! run_stream.rs.

mod run_support;

use std::time::Duration;

use run_support::*;
use strait_kafka::batch::Compression;
use strait_kafka::Producer;
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(dedicated_mirror_single_node);

/// MM2's `DedicatedMirrorIntegrationTest.testSingleNodeCluster`: a topic created on the source
/// after the mirror started is found, created on the target as `primary.<topic>` and filled.
async fn dedicated_mirror_single_node(kind: BrokerKind) {
    let env = Env::start(kind).await;
    let mut strait = env.start_strait("");
    strait.wait_for_log("strait: mirroring primary->backup", Duration::from_secs(10));

    let topic = "test-topic-1";
    create_topic(&env.source, topic, 1).await;
    let producer = Producer::idempotent(&env.source).await.unwrap();
    // 100 records in 10 batches, every codec twice: all must arrive as produced.
    for b in 0..10u64 {
        let codec = Compression::ALL[b as usize % Compression::ALL.len()];
        producer
            .send(topic, 0, &numbered_batch(0, b * 10, 10, codec))
            .await
            .unwrap();
    }
    let expected = vec![expected_records(0, 0, 100)];
    let remote = "primary.test-topic-1";
    let got = wait_for_count(
        &env.target,
        remote,
        1,
        100,
        Duration::from_secs(20),
        &strait,
    )
    .await;
    assert_same(&expected, &got, remote);
    // The counters report it, and nothing more arrives later.
    strait.wait_for_log("100 records", Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = read_topic(&env.target, remote, 1).await.unwrap();
    assert_same(&expected, &again, remote);
    strait.stop_gracefully(Duration::from_secs(15));
}

#[test]
fn bad_config_names_the_key_and_its_line() {
    let dir = scratch_dir("bad-config");
    let unknown = dir.join("unknown-flow.properties");
    std::fs::write(
        &unknown,
        "# a typo in a flow\n\
         clusters = primary, backup\n\
         primary.bootstrap.servers = 127.0.0.1:1\n\
         backup.bootstrap.servers = 127.0.0.1:2\n\
         primary->backup.enabled = true\n\
         primary->nowhere.enabled = true\n",
    )
    .unwrap();
    let (code, stderr) = run_to_end(&unknown);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("strait: error:"), "{stderr}");
    assert!(stderr.contains("primary->nowhere.enabled"), "{stderr}");
    assert!(stderr.contains('6'), "the error lacks line 6:\n{stderr}");
    assert!(
        stderr.contains("line 6") || stderr.contains(":6"),
        "the error lacks line 6:\n{stderr}"
    );

    let missing = dir.join("missing-bootstrap.properties");
    std::fs::write(
        &missing,
        "clusters = primary, backup\n\
         primary.bootstrap.servers = 127.0.0.1:1\n\
         primary->backup.enabled = true\n",
    )
    .unwrap();
    let (code, stderr) = run_to_end(&missing);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("strait: error:"), "{stderr}");
    assert!(stderr.contains("backup.bootstrap.servers"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `strait run config` to its end (it must fail fast) and returns exit code and stderr
/// followed by stdout.
fn run_to_end(config: &std::path::Path) -> (Option<i32>, String) {
    let config = config.to_str().expect("a UTF-8 path");
    let (code, stdout, stderr) = STRAIT.run_within(&["run", config], Duration::from_secs(20));
    (code, stderr + &stdout)
}
