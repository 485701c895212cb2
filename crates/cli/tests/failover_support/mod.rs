//! Helpers of the failover CLI tests: an mm2.properties for two test clusters, running the
//! `strait` binary (to its end, or `strait run` in the background), producing numbered
//! records, committing, and reading a partition the way a consumer would.
#![allow(dead_code, unreachable_pub)]

pub use std::path::{Path, PathBuf};
pub use std::time::{Duration, Instant};

pub use bytes::Bytes;
pub use strait_kafka::batch::{BatchBuilder, Compression, Record};
pub use strait_kafka::{
    Cluster, ClusterConfig, FetchOptions, FetchPosition, Isolation, NewTopic, Producer,
};
pub use strait_testkit::{BrokerKind, TestCluster};

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The consumer group of the drill.
pub const GROUP: &str = "drill-app";
/// The application's topic.
pub const TOPIC: &str = "orders";
/// Records per produced batch.
pub const BATCH: u64 = 10;
/// How long a test waits for a state.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Total bytes of the data batches of a partition from `offset` on.
pub async fn read_batches_from(cluster: &Cluster, topic: &str, partition: i32, offset: i64) -> i64 {
    let options = FetchOptions {
        max_wait: Duration::from_millis(50),
        isolation: Isolation::ReadCommitted,
        ..FetchOptions::default()
    };
    let position = FetchPosition {
        topic: topic.to_owned(),
        partition,
        offset,
        max_bytes: 1 << 20,
    };
    let fetched = cluster.fetch(&position, &options).await.expect("fetch");
    fetched
        .batches()
        .map(|b| b.expect("valid batch"))
        .filter(|b| b.base_offset() >= offset && !b.is_control())
        .map(|b| b.len() as i64)
        .sum()
}

pub fn write_config(primary: &TestCluster, backup: &TestCluster) -> PathBuf {
    let text = format!(
        "clusters = primary, backup\n\
         primary.bootstrap.servers = {}\n\
         backup.bootstrap.servers = {}\n\
         primary->backup.enabled = true\n\
         backup->primary.enabled = true\n\
         topics = orders, primary\\.orders, backup\\.orders\n\
         groups = drill-.*\n\
         replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\n\
         config.storage.replication.factor = 1\n\
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

/// Runs `strait <args>` to its end: exit code, stdout, stderr.
pub fn strait(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strait"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run strait");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Polls `strait offsets translate --json` for `flow` until `done` accepts the rows.
pub async fn wait_for_rows(
    flow: &str,
    config: &Path,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    eventually(&format!("translations of {flow}"), || {
        let (code, out, err) = strait(&[
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

pub async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match tokio::task::block_in_place(&mut probe) {
            Ok(t) => return t,
            Err(state) if Instant::now() > deadline => {
                panic!("timed out after {DEADLINE:?} waiting for {what}; last state: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

pub async fn connect(name: &str, bootstrap: &str) -> Cluster {
    Cluster::connect(ClusterConfig::new(name, bootstrap).unwrap())
        .await
        .expect("test client connects")
}

pub async fn create_topic(cluster: &Cluster, topic: &str, partitions: i32) {
    let spec = NewTopic::new(topic, partitions).with_config("retention.ms", "-1");
    cluster.create_topic(&spec).await.expect("create topic");
}

/// Writes batches `first..first+batches` of [`BATCH`] records to each partition; record `n`
/// of a partition has key `<n>`.
pub async fn produce(cluster: &Cluster, topic: &str, partitions: &[i32], first: u64, batches: u64) {
    let producer = Producer::idempotent(cluster).await.expect("producer id");
    for b in first..first + batches {
        for p in partitions {
            let records = (0..BATCH)
                .map(|i| Record {
                    offset: i as i64,
                    timestamp: now_ms(),
                    key: Some(Bytes::from((b * BATCH + i).to_string())),
                    value: Some(Bytes::from(format!("{topic}-{p}-{}", b * BATCH + i))),
                    headers: Vec::new(),
                })
                .collect();
            let batch = BatchBuilder {
                records,
                compression: Compression::None,
                ..BatchBuilder::default()
            }
            .encode()
            .unwrap();
            producer.send(topic, *p, &batch).await.expect("produce");
        }
    }
}

pub async fn commit(cluster: &Cluster, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let entries: Vec<(&str, i32, i64, Option<&str>)> =
        offsets.iter().map(|(p, o)| (topic, *p, *o, None)).collect();
    cluster
        .commit_offsets(group, &entries)
        .await
        .expect("commit offsets");
}

/// What a consumer positioned at `offset` reads from a partition (to its current end).
pub async fn read_from(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
    mut offset: i64,
) -> Vec<Record> {
    let options = FetchOptions {
        max_wait: Duration::from_millis(50),
        isolation: Isolation::ReadCommitted,
        ..FetchOptions::default()
    };
    let mut out = Vec::new();
    loop {
        let position = FetchPosition {
            topic: topic.to_owned(),
            partition,
            offset,
            max_bytes: 1 << 20,
        };
        let fetched = cluster.fetch(&position, &options).await.expect("fetch");
        let before = offset;
        for batch in fetched.batches() {
            let batch = batch.expect("valid batch");
            if batch.next_offset() <= offset {
                continue;
            }
            let from = offset;
            offset = batch.next_offset();
            if !batch.is_control() {
                out.extend(
                    batch
                        .decode()
                        .unwrap()
                        .records
                        .into_iter()
                        .filter(|r| r.offset >= from),
                );
            }
        }
        if offset == before {
            return out;
        }
    }
}

/// The per-partition sequence numbers (keys) of records.
pub fn seqs(records: &[Record]) -> Vec<u64> {
    records
        .iter()
        .map(|r| {
            std::str::from_utf8(r.key.as_ref().unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

pub async fn wait_for_count(cluster: &Cluster, topic: &str, partitions: &[i32], n: usize) {
    let what = format!("{n} records per partition in {topic} on {}", cluster.name());
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut counts = Vec::new();
        for p in partitions {
            counts.push(read_from(cluster, topic, *p, 0).await.len());
        }
        if counts.iter().all(|c| *c >= n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A running `strait run`; its stderr is collected and printed if the test fails.
pub struct Strait {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Strait {
    pub fn start(config: &Path) -> Strait {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strait"))
            .args(["run", path(config), "--report-every", "5"])
            .env(
                "RUST_LOG",
                "strait_mirror=info,strait_mirror::checkpoint=debug",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strait run");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Strait { child, log }
    }

    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Strait {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "===== strait run output =====\n{}=====",
                self.log.lock().unwrap()
            );
        }
    }
}
