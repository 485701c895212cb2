//! Helpers of the failover CLI tests (and the MM2 drop-in tests): an mm2.properties for two test
//! clusters, `strait run` in the background, `strait offsets translate` polled, and numbered
//! records. Everything else comes from `strait_fixtures`, re-exported here.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
pub use strait_fixtures::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::{Cluster, Producer};
use strait_testkit::TestCluster;

/// The binary under test.
pub const STRAIT: StraitBin = StraitBin(env!("CARGO_BIN_EXE_strait"));

/// The consumer group of the drill.
pub const GROUP: &str = "drill-app";
/// The application's topic.
pub const TOPIC: &str = "orders";
/// Records per produced batch.
pub const BATCH: u64 = 10;

/// mm2.properties mirroring `orders` both ways between `primary` and `backup` (groups
/// `drill-*`), written into the backup's runtime dir.
pub fn write_config(primary: &TestCluster, backup: &TestCluster) -> PathBuf {
    let text = format!(
        "clusters = primary, backup\n\
         primary.bootstrap.servers = {}\n\
         backup.bootstrap.servers = {}\n\
         primary->backup.enabled = true\n\
         backup->primary.enabled = true\n\
         topics = orders, primary\\.orders, backup\\.orders\n\
         groups = drill-.*\n\
         {ONE_REPLICA}\
         refresh.topics.interval.seconds = 1\n\
         refresh.groups.interval.seconds = 1\n\
         sync.topic.acls.enabled = false\n\
         primary.offset.flush.interval.ms = 200\n\
         backup.offset.flush.interval.ms = 200\n",
        primary.bootstrap(),
        backup.bootstrap(),
    );
    let path = backup.runtime_dir().join("mm2.properties");
    std::fs::write(&path, text).expect("write mm2.properties");
    path
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `strait run <config>` in the background, checkpoint decisions logged; its stderr is printed
/// if the test fails.
pub fn run_strait(config: &Path) -> Strait {
    Strait::spawn(
        STRAIT
            .command()
            .args(["run", path(config), "--report-every", "5"])
            .env(
                "RUST_LOG",
                "strait_mirror=info,strait_mirror::checkpoint=debug",
            ),
    )
}

/// Polls `strait offsets translate --json` for `flow` until `done` accepts the rows.
pub async fn wait_for_rows(
    flow: &str,
    config: &Path,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    eventually_blocking(&format!("translations of {flow}"), || {
        let (code, out, err) = STRAIT.run(&[
            "offsets",
            "translate",
            path(config),
            "--flow",
            flow,
            "--group",
            GROUP,
            "--json",
        ]);
        if code != Some(0) {
            return Err(err);
        }
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
        if done(&rows) {
            Ok(rows)
        } else {
            Err(out)
        }
    })
    .await
}

pub fn row<'a>(
    rows: &'a [serde_json::Value],
    topic: &str,
    p: i32,
) -> Option<&'a serde_json::Value> {
    rows.iter()
        .find(|r| r["topic"] == topic && r["partition"] == p)
}

pub fn source_offset(rows: &[serde_json::Value], topic: &str, p: i32) -> Option<i64> {
    row(rows, topic, p)?["source_offset"].as_i64()
}

pub fn target_offset(rows: &[serde_json::Value], topic: &str, p: i32) -> Option<i64> {
    row(rows, topic, p)?["target_offset"].as_i64()
}

/// Writes batches `first..first+batches` of [`BATCH`] records to each partition; record `n`
/// of a partition has key `<n>`.
pub async fn produce_numbered(
    cluster: &Cluster,
    topic: &str,
    partitions: &[i32],
    first: u64,
    batches: u64,
) {
    let producer = Producer::idempotent(cluster).await.expect("producer id");
    for b in first..first + batches {
        for p in partitions {
            let records: Vec<Record> = (0..BATCH)
                .map(|i| {
                    let n = b * BATCH + i;
                    record(
                        now_ms(),
                        Some(Bytes::from(n.to_string())),
                        Some(Bytes::from(format!("{topic}-{p}-{n}"))),
                    )
                })
                .collect();
            produce(&producer, topic, *p, Compression::None, &records).await;
        }
    }
}

/// Waits until every partition of `partitions` of `topic` holds at least `n` records.
pub async fn wait_for_count(cluster: &Cluster, topic: &str, partitions: &[i32], n: usize) {
    let what = format!("{n} records per partition in {topic} on {}", cluster.name());
    eventually(&what, || async move {
        let mut counts = Vec::new();
        for p in partitions {
            counts.push(read_from(cluster, topic, *p, 0).await.len());
        }
        if counts.iter().all(|c| *c >= n) {
            Ok(())
        } else {
            Err(format!("{counts:?}"))
        }
    })
    .await
}
