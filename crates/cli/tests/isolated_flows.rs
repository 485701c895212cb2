//! Isolated flows (#16 part 3): one source mirrored to two targets by one `strait run`; one
//! target broker frozen (SIGSTOP) for a minute while the other flow goes on. The other flow keeps
//! the producer's rate; the frozen flow holds no more than its `strait.buffer.max.bytes` of
//! fetched data (it was paused first, so a backlog waits for it: without the budget its
//! partitions would fetch and hold all of it); thawed, it catches up alone, nothing lost.

mod run_support;

use std::time::{Duration, Instant};

use run_support::*;
use strait_kafka::batch::Compression;
use strait_kafka::{Cluster, Isolation, OffsetSpec};
use strait_testkit::{BrokerKind, KafkaCluster, KafkaOptions};

strait_testkit::per_broker!(; kafka_only: a_frozen_target_slows_no_other_flow);

const TOPIC: &str = "test-topic-iso";
const REMOTE: &str = "primary.test-topic-iso";
/// 4 partitions of 500-record uncompressed batches (about 50 KB each), a round every 100 ms.
const STREAM: Stream = Stream {
    partitions: 4,
    batch: 500,
    batches: 1000,
};
const BUDGET: u64 = 8 << 20;
const PAUSED: Duration = Duration::from_secs(30);
const FREEZE: Duration = Duration::from_secs(60);

struct Clusters {
    primary: KafkaCluster,
    backup: KafkaCluster,
    dr: KafkaCluster,
}

async fn start_clusters() -> Clusters {
    let start = || tokio::task::spawn_blocking(|| KafkaCluster::start(KafkaOptions::default()));
    let (a, b, c) = (start(), start(), start());
    Clusters {
        primary: a.await.unwrap().expect("primary starts"),
        backup: b.await.unwrap().expect("backup starts"),
        dr: c.await.unwrap().expect("dr starts"),
    }
}

fn config(clusters: &Clusters, dir: &std::path::Path) -> std::path::PathBuf {
    let text = format!(
        "clusters = primary, backup, dr\n\
         primary.bootstrap.servers = {}\n\
         backup.bootstrap.servers = {}\n\
         dr.bootstrap.servers = {}\n\
         primary->backup.enabled = true\n\
         primary->dr.enabled = true\n\
         topics = test-topic-.*\n\
         emit.heartbeats.enabled = false\n\
         {ONE_REPLICA}\
         refresh.topics.interval.seconds = 1\n\
         strait.buffer.max.bytes = {BUDGET}\n\
         primary.consumer.max.partition.fetch.bytes = 16777216\n\
         strait.http.listen = 127.0.0.1:0\n",
        clusters.primary.bootstrap(),
        clusters.backup.bootstrap(),
        clusters.dr.bootstrap(),
    );
    let path = dir.join("mm2.properties");
    std::fs::write(&path, text).unwrap();
    path
}

async fn a_frozen_target_slows_no_other_flow(_kind: BrokerKind) {
    let mut clusters = start_clusters().await;
    let source = connect("primary", &clusters.primary.bootstrap()).await;
    let backup = connect("backup", &clusters.backup.bootstrap()).await;
    create_topic(&source, TOPIC, STREAM.partitions).await;
    let dir = clusters.primary.runtime_dir().to_owned();
    let mut strait = Strait::spawn_stamped(
        STRAIT
            .command()
            .arg("run")
            .arg(config(&clusters, &dir))
            .args(["--report-every", "5"]),
    );
    let api = tokio::task::block_in_place(|| {
        let log = strait.wait_for_log("REST API and /metrics on http://", Duration::from_secs(30));
        log.split("REST API and /metrics on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the REST address")
            .to_owned()
    });
    tokio::task::block_in_place(|| {
        strait.wait_for_log(
            "strait: mirroring primary->backup, primary->dr",
            Duration::from_secs(30),
        )
    });
    // The dr flow paused: a backlog builds up for it.
    post(&api, "/api/v1/flows/primary/dr/pause");
    let feed = Feed::compressed(
        &source,
        TOPIC,
        STREAM,
        0..STREAM.batches,
        0,
        Duration::from_millis(100),
        Compression::None,
    );
    tokio::time::sleep(PAUSED).await;

    // Resume it and freeze its target at once: its partitions fetch the backlog and cannot
    // write it.
    let rss_before = strait.rss_kb().expect("strait's RSS");
    post(&api, "/api/v1/flows/primary/dr/resume");
    clusters.dr.freeze_node(1);
    strait.note("dr frozen");
    let frozen_at = Instant::now();
    let (produced_0, mirrored_0) = (feed.produced(), log_end(&backup).await);
    let (mut rss_peak, mut buffer_peak, mut limit) = (rss_before, 0, 0);
    while frozen_at.elapsed() < FREEZE {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_peak = rss_peak.max(strait.rss_kb().unwrap_or(0));
        if let Some((held, max)) = buffer(&api, "dr") {
            buffer_peak = buffer_peak.max(held);
            limit = max;
        }
    }
    let (produced_1, mirrored_1) = (feed.produced(), log_end(&backup).await);
    clusters.dr.thaw_node(1);
    strait.note("dr thawed");

    let rate = (mirrored_1 - mirrored_0) as f64 / (produced_1 - produced_0) as f64;
    let grown_mib = (rss_peak.saturating_sub(rss_before)) as f64 / 1024.0;
    eprintln!(
        "during the {} s freeze of dr: backup mirrored {} records while {} were produced \
         ({rate:.3}); the dr flow's buffer peaked at {buffer_peak} of {limit} bytes; strait's RSS \
         {} MiB before, peak {} MiB (+{grown_mib:.1} MiB)",
        FREEZE.as_secs(),
        mirrored_1 - mirrored_0,
        produced_1 - produced_0,
        rss_before / 1024,
        rss_peak / 1024,
    );
    assert!(
        rate >= 0.9,
        "the backup flow kept {rate:.3} of the producer's rate while dr was frozen"
    );
    assert_eq!(limit, BUDGET, "the dr flow's budget is the configured one");
    assert!(
        (BUDGET / 2..=BUDGET).contains(&buffer_peak),
        "the frozen flow filled its budget and went no further: peak {buffer_peak} of {BUDGET}"
    );
    assert!(
        grown_mib <= ((2 * BUDGET) >> 20) as f64 + 16.0,
        "strait grew {grown_mib:.1} MiB during the freeze with a budget of {} MiB",
        BUDGET >> 20
    );

    // The frozen flow catches up alone; neither target lost or reordered a record.
    feed.finish().await;
    let expected = expected_digests(STREAM);
    for (target, node) in [("backup", &clusters.backup), ("dr", &clusters.dr)] {
        let seen = wait_for_digests(
            &node.bootstrap(),
            REMOTE,
            STREAM.records(),
            Duration::from_secs(240),
        )
        .await;
        if seen == expected {
            eprintln!("{target}: all {} records once, in order", STREAM.records());
            continue;
        }
        assert_ne!(
            target, "backup",
            "the flow that was never disturbed repeated records"
        );
        let cluster = connect(target, &node.bootstrap()).await;
        let got = read_topic(&cluster, REMOTE, STREAM.partitions)
            .await
            .expect("read the remote topic");
        let duplicates = check_no_loss(&STREAM.expected(), &got, REMOTE);
        eprintln!(
            "{target}: every record arrived, in order; duplicates per partition {} after the \
             freeze",
            fmt_list(&duplicates)
        );
    }
    tokio::task::block_in_place(|| strait.stop_gracefully(Duration::from_secs(30)));
}

fn post(api: &str, path: &str) {
    let (code, body) = http_request(api, "POST", path, None).expect("REST call");
    assert!((200..300).contains(&code), "POST {path}: {code} {body}");
}

/// The flow primary->`target`'s `strait_buffer_bytes` and `strait_buffer_limit_bytes`.
fn buffer(api: &str, target: &str) -> Option<(u64, u64)> {
    let (_, text) = http_request(api, "GET", "/metrics", None).ok()?;
    let value = |name: &str| {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter(|l| l.contains(&format!("target=\"{target}\"")))
            .find_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
    };
    Some((
        value("strait_buffer_bytes")?,
        value("strait_buffer_limit_bytes")?,
    ))
}

/// Records (with their offsets) in the remote topic's partitions on `cluster`.
async fn log_end(cluster: &Cluster) -> u64 {
    let partitions: Vec<i32> = (0..STREAM.partitions).collect();
    cluster
        .list_offsets(
            REMOTE,
            &partitions,
            OffsetSpec::Latest,
            Isolation::ReadUncommitted,
        )
        .await
        .map_or(0, |o| o.iter().map(|(_, o)| o.offset.max(0) as u64).sum())
}
