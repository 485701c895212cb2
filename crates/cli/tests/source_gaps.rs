//! The source loses data under strait, on real Kafka: records deleted before they were mirrored
//! (DeleteRecords through the Java admin client, as retention would), and a topic deleted and
//! re-created under the same name while strait was stopped and while it ran. Each is detected,
//! logged, counted and shown by `strait status`; strait continues at the right offset, loses
//! nothing that still exists and never stalls. Records as in run_support: `p<partition>-<seq>`.

mod run_support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use run_support::*;
use strait_kafka::batch::Compression;
use strait_kafka::{Cluster, Producer};
use strait_testkit::BrokerKind;
use strait_testkit::{java_peer, KafkaVersion};

strait_testkit::per_broker!(;
    // DeleteRecords (through the Java admin client) and topic ids: what Apache Kafka has.
    kafka_only:
        records_deleted_before_mirroring_are_reported_and_skipped,
        a_topic_recreated_while_stopped_is_mirrored_from_its_start,
        a_topic_recreated_while_running_is_mirrored_from_its_start,
);

const TOPIC: &str = "test-topic-gap";
const REMOTE: &str = "primary.test-topic-gap";
const PARTITIONS: i32 = 2;
/// strait's REST API on a free port, so `/metrics` and `strait status` can be asked.
const HTTP: &str = "strait.http.listen = 127.0.0.1:0\n";

/// Records `first..first + count` of every partition, in batches of 25.
async fn produce(source: &Cluster, first: u64, count: u64) {
    let producer = Producer::idempotent(source).await.expect("producer id");
    for p in 0..PARTITIONS {
        for start in (first..first + count).step_by(25) {
            let batch = numbered_batch(p, start, 25.min(first + count - start), Compression::Lz4);
            producer.send(TOPIC, p, &batch).await.expect("produce");
        }
    }
}

/// Partition 0 lost offsets 100..150 on the source while strait was stopped: a restarted strait
/// says so (log, `strait_errors_total{op="source",code="RecordsDeleted"}`, status line) and
/// mirrors 150.. ; partition 1, untouched, resumes at 100. Nothing still on the source is lost.
async fn records_deleted_before_mirroring_are_reported_and_skipped(kind: BrokerKind) {
    let env = Env::start(kind).await;
    create_topic(&env.source, TOPIC, PARTITIONS).await;
    produce(&env.source, 0, 100).await;
    let mut strait = env.start_strait(HTTP);
    wait_for_count(
        &env.target,
        REMOTE,
        PARTITIONS,
        200,
        Duration::from_secs(30),
        &strait,
    )
    .await;
    strait.stop_gracefully(Duration::from_secs(15));

    produce(&env.source, 100, 100).await;
    let answer = java_peer(
        kafka_version(),
        &[
            "delete-records",
            &env.source_node.bootstrap(),
            TOPIC,
            "0",
            "150",
        ],
    )
    .expect("DeleteRecords");
    assert!(answer.contains("\"lowWatermark\":150"), "{answer}");

    let mut strait = env.start_strait(HTTP);
    let got = wait_for_count(
        &env.target,
        REMOTE,
        PARTITIONS,
        350,
        Duration::from_secs(30),
        &strait,
    )
    .await;
    let mut partition_0 = expected_records(0, 0, 100);
    partition_0.extend(expected_records(0, 150, 50));
    assert_same(&[partition_0, expected_records(1, 0, 200)], &got, REMOTE);
    let line = strait.wait_for_log("were deleted on the source", Duration::from_secs(5));
    assert!(
        line.contains("offsets 100..149 of test-topic-gap-0")
            && line.contains("50 records never mirrored; continuing at 150"),
        "{line}"
    );
    let address = rest_address(&strait);
    let metrics = http_get(&address, "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("strait_errors_total{")
                && l.contains("code=\"RecordsDeleted\"")
                && l.ends_with(" 1")),
        "counted once:\n{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("strait_source_records_lost_total{") && l.ends_with(" 50")),
        "50 records lost:\n{metrics}"
    );
    let status = strait_status(&address);
    assert!(
        status.contains("test-topic-gap-0: offsets 100..149"),
        "{status}"
    );
    strait.stop_gracefully(Duration::from_secs(15));
}

/// The topic is deleted and re-created (a new topic id) with fewer records than strait had
/// mirrored while strait was stopped: the progress says which topic id its offsets count in, so
/// the restarted strait mirrors the new topic from offset 0, reporting it.
async fn a_topic_recreated_while_stopped_is_mirrored_from_its_start(kind: BrokerKind) {
    let env = Env::start(kind).await;
    create_topic(&env.source, TOPIC, PARTITIONS).await;
    produce(&env.source, 0, 100).await;
    let mut strait = env.start_strait(HTTP);
    wait_for_count(
        &env.target,
        REMOTE,
        PARTITIONS,
        200,
        Duration::from_secs(30),
        &strait,
    )
    .await;
    strait.stop_gracefully(Duration::from_secs(15));

    recreate(&env.source).await;
    // More records than were mirrored: resuming at the old position would skip 0..99 silently.
    produce(&env.source, 1000, 150).await;

    let mut strait = env.start_strait(HTTP);
    let got = wait_for_count(
        &env.target,
        REMOTE,
        PARTITIONS,
        500,
        Duration::from_secs(30),
        &strait,
    )
    .await;
    let expected: Vec<Partition> = (0..PARTITIONS)
        .map(|p| {
            let mut records = expected_records(p, 0, 100);
            records.extend(expected_records(p, 1000, 150));
            records
        })
        .collect();
    assert_same(&expected, &got, REMOTE);
    let line = strait.wait_for_log("was deleted and re-created", Duration::from_secs(5));
    assert!(
        line.contains("is mirrored again from offset 0 of the new topic"),
        "{line}"
    );
    let metrics = http_get(&rest_address(&strait), "/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("strait_errors_total{")
                && l.contains("code=\"TopicRecreated\"")
                && l.ends_with(" 2")),
        "counted once per partition:\n{metrics}"
    );
    strait.stop_gracefully(Duration::from_secs(15));
}

/// The same while strait runs: every record of the new topic arrives, in order (a few may
/// arrive twice if strait read the new topic at the old position before it saw the new id).
async fn a_topic_recreated_while_running_is_mirrored_from_its_start(kind: BrokerKind) {
    let env = Env::start(kind).await;
    create_topic(&env.source, TOPIC, PARTITIONS).await;
    produce(&env.source, 0, 100).await;
    let mut strait = env.start_strait(HTTP);
    wait_for_count(
        &env.target,
        REMOTE,
        PARTITIONS,
        200,
        Duration::from_secs(30),
        &strait,
    )
    .await;

    recreate(&env.source).await;
    produce(&env.source, 1000, 150).await;
    strait.wait_for_log("was deleted and re-created", Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(30);
    let got = loop {
        let got = read_topic(&env.target, REMOTE, PARTITIONS)
            .await
            .expect("read");
        let complete = got.iter().all(|p| p.len() >= 250);
        if complete || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (p, records) in got.iter().enumerate() {
        let p = p as i32;
        assert_eq!(
            records[..100],
            expected_records(p, 0, 100)[..],
            "old records kept"
        );
        let mut firsts = Vec::new();
        for r in &records[100..] {
            if !firsts.contains(r) {
                firsts.push(r.clone());
            }
        }
        assert_same(
            &[expected_records(p, 1000, 150)],
            &[firsts],
            &format!("{REMOTE} partition {p}: the new topic's records, first arrivals"),
        );
        eprintln!(
            "partition {p}: {} records of the new topic arrived twice",
            records.len() - 250
        );
    }
    strait.stop_gracefully(Duration::from_secs(15));
}

/// Deletes the source topic and creates it again (same name, same partition count).
async fn recreate(source: &Cluster) {
    let deleted = source.delete_topics(&[TOPIC]).await.expect("delete topic");
    assert!(deleted.iter().all(|(_, r)| r.is_ok()), "{deleted:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Creation fails while the deletion is still under way.
        let spec = strait_kafka::NewTopic::new(TOPIC, PARTITIONS).with_replication_factor(1);
        match source.create_topic(&spec).await {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => {
                eprintln!("re-creating {TOPIC}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("re-creating {TOPIC}: {e}"),
        }
    }
    assert!(
        topic_ready(source, TOPIC, PARTITIONS).await,
        "{TOPIC} re-created"
    );
}

fn kafka_version() -> KafkaVersion {
    KafkaVersion::from_env()
}

/// The REST API's address, from the line strait prints at start.
fn rest_address(strait: &Strait) -> String {
    let line = strait.wait_for_log("REST API and /metrics on http://", Duration::from_secs(10));
    let (_, rest) = line.split_once("http://").expect("address in the line");
    rest.split_whitespace().next().expect("address").to_owned()
}

/// `GET path` on the REST API (no token configured).
fn http_get(address: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the REST API");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// `strait status --url` of the running strait.
fn strait_status(address: &str) -> String {
    let url = format!("http://{address}");
    let (code, stdout, stderr) = STRAIT.run(&["status", "--url", &url]);
    assert_eq!(code, Some(0), "strait status: {stderr}");
    stdout
}
