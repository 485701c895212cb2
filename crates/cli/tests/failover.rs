//! The failover drill, as an operator runs it: `strait run` mirrors primary→backup (and back),
//! a group consumes part of `orders` on the primary, the primary is stopped,
//! `strait failover status` and `strait offsets apply` move the group to the backup, and a
//! consumer there reads the rest: nothing skipped, nothing re-read when the commit was at a
//! batch boundary, at most one batch otherwise. Then the primary returns, records written on
//! the backup meanwhile are mirrored back, and the same commands move the group home.
//!
//! noida only: the drill stops and restarts a broker, and tansu's memory engine forgets
//! everything on restart.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use strait_kafka::batch::{BatchBuilder, Compression, Record};
use strait_kafka::{
    Cluster, ClusterConfig, FetchOptions, FetchPosition, Isolation, NewTopic, Producer,
};
use strait_testkit::{BrokerKind, TestCluster};

strait_testkit::per_broker!(; noida_only: failover_drill, apply_rules_with_the_source_down, status_reports_the_lag);

const GROUP: &str = "drill-app";
const TOPIC: &str = "orders";
const BATCH: u64 = 10;
const DEADLINE: Duration = Duration::from_secs(60);

async fn failover_drill(kind: BrokerKind) {
    let mut nodes = tokio::task::spawn_blocking(move || strait_testkit::start_clusters(kind, 2))
        .await
        .unwrap()
        .expect("two test brokers start");
    let mut backup_node = nodes.pop().unwrap();
    let mut primary_node = nodes.pop().unwrap();
    let primary = connect("primary", &primary_node.bootstrap()).await;
    let backup = connect("backup", &backup_node.bootstrap()).await;
    let config = write_config(&primary_node, &backup_node);

    // Producers write 10 batches of 10 records to each partition of `orders` on the primary.
    create_topic(&primary, TOPIC, 2).await;
    produce(&primary, TOPIC, &[0, 1], 0, 10).await;
    let mut mirror = Strait::start(&config);
    wait_for_count(&backup, "primary.orders", &[0, 1], 100).await;

    // The application consumed part of it on the primary: partition 0 up to a batch boundary,
    // partition 1 into the middle of a batch.
    commit(&primary, GROUP, TOPIC, &[(0, 50), (1, 55)]).await;
    // A checkpoint may come before the syncs of the last batches (then it is conservative):
    // wait until it settles.
    let rows = wait_for_rows("primary->backup", &config, |rows| {
        source_offset(rows, "primary.orders", 0) == Some(50)
            && source_offset(rows, "primary.orders", 1) == Some(55)
            && target_offset(rows, "primary.orders", 0) == Some(50)
            && target_offset(rows, "primary.orders", 1) == Some(51)
    })
    .await;
    // The offset syncs live on the primary: the precision cannot be checked on the backup.
    assert_eq!(
        row(&rows, "primary.orders", 0).unwrap()["how"],
        "checkpoint"
    );

    // Everything mirrored: safe to cut over.
    eventually("failover status says safe", || {
        let (code, out, _) = strait(&[
            "failover",
            "status",
            path(&config),
            "--flow",
            "primary->backup",
            "--json",
        ]);
        let status: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
        match (code, &status["safe_to_cut_over"], &status["lag_records"]) {
            (Some(0), serde_json::Value::Bool(true), lag) if lag == 0 => Ok(()),
            _ => Err(out),
        }
    })
    .await;

    // Disaster: the primary stops.
    primary_node.stop();
    let (code, out, _) = strait(&[
        "failover",
        "status",
        path(&config),
        "--flow",
        "primary->backup",
    ]);
    assert_eq!(
        code,
        Some(2),
        "not known to be safe with the source down:\n{out}"
    );
    assert!(out.contains("unreachable"), "{out}");

    // Dry run first: shows the plan, commits nothing.
    let apply = [
        "offsets",
        "apply",
        path(&config),
        "--flow",
        "primary->backup",
        "--group",
        GROUP,
    ];
    let (code, out, err) = strait(&apply);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("commit") && err.contains("dry run"),
        "{out}{err}"
    );
    assert!(backup.fetch_offsets(GROUP, None).await.unwrap().is_empty());
    let (code, out, err) = strait(&[&apply[..], &["--execute"]].concat());
    assert_eq!(code, Some(0), "{out}{err}");

    // A consumer on the backup resumes from the group's offsets and reads the rest.
    let committed = backup.fetch_offsets(GROUP, None).await.unwrap();
    let at = |p: i32| committed[&("primary.orders".to_owned(), p)].offset;
    assert_eq!((at(0), at(1)), (50, 51));
    let p0 = seqs(&read_from(&backup, "primary.orders", 0, at(0)).await);
    assert_eq!(
        p0,
        (50..100).collect::<Vec<_>>(),
        "batch boundary: nothing skipped, nothing re-read"
    );
    let p1 = seqs(&read_from(&backup, "primary.orders", 1, at(1)).await);
    assert_eq!(
        p1,
        (51..100).collect::<Vec<_>>(),
        "inside a batch: nothing skipped"
    );
    let reread = p1.iter().filter(|s| **s < 55).count() as u64;
    assert!(reread < BATCH, "at most one batch re-read, got {reread}");

    // The application runs on the backup now: it finishes `primary.orders`, producers write
    // to `orders` on the backup, and it reads 20 of those 30.
    commit(&backup, GROUP, "primary.orders", &[(0, 100), (1, 100)]).await;
    create_topic(&backup, TOPIC, 1).await;
    produce(&backup, TOPIC, &[0], 0, 3).await;
    commit(&backup, GROUP, TOPIC, &[(0, 20)]).await;
    // Applying the failover again would rewind the group: refused per partition.
    let (code, out, err) = strait(&[&apply[..], &["--execute"]].concat());
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("would rewind"), "{out}");
    let committed = backup.fetch_offsets(GROUP, None).await.unwrap();
    assert_eq!(committed[&("primary.orders".to_owned(), 0)].offset, 100);

    // Failback: the primary returns, the backup's records are mirrored to it, and the group
    // moves home.
    tokio::task::block_in_place(|| primary_node.restart()).expect("primary restarts");
    let primary = connect("primary", &primary_node.bootstrap()).await;
    wait_for_count(&primary, "backup.orders", &[0], 30).await;
    let rows = wait_for_rows("backup->primary", &config, |rows| {
        source_offset(rows, "backup.orders", 0) == Some(20)
            && target_offset(rows, "backup.orders", 0) == Some(20)
            && source_offset(rows, TOPIC, 0) == Some(100)
            && source_offset(rows, TOPIC, 1) == Some(100)
    })
    .await;
    eprintln!("failback translations: {rows:?}");
    let apply_back = [
        "offsets",
        "apply",
        path(&config),
        "--flow",
        "backup->primary",
        "--group",
        GROUP,
        "--execute",
    ];
    let (code, out, err) = strait(&apply_back);
    assert_eq!(code, Some(0), "{out}{err}");
    let committed = primary.fetch_offsets(GROUP, None).await.unwrap();
    let home = |t: &str, p: i32| committed[&(t.to_owned(), p)].offset;
    assert_eq!(home("backup.orders", 0), 20);
    let written_on_backup =
        seqs(&read_from(&primary, "backup.orders", 0, home("backup.orders", 0)).await);
    assert_eq!(
        written_on_backup,
        (20..30).collect::<Vec<_>>(),
        "nothing skipped or re-read"
    );
    for p in [0, 1] {
        // The group read all 100 on the backup: back home it re-reads at most one batch.
        let rest = seqs(&read_from(&primary, TOPIC, p, home(TOPIC, p)).await);
        assert!(
            rest.len() < BATCH as usize && rest.iter().all(|s| *s >= 90),
            "partition {p}: {rest:?}"
        );
    }
    mirror.stop();
    backup_node.stop();
}

/// `strait failover status` while the mirror is stopped and producers keep writing: the lag in
/// records, bytes (the batches not mirrored) and seconds (age of the oldest), and not safe.
async fn status_reports_the_lag(kind: BrokerKind) {
    let mut nodes = tokio::task::spawn_blocking(move || strait_testkit::start_clusters(kind, 2))
        .await
        .unwrap()
        .expect("two test brokers start");
    let backup_node = nodes.pop().unwrap();
    let primary_node = nodes.pop().unwrap();
    let primary = connect("primary", &primary_node.bootstrap()).await;
    let backup = connect("backup", &backup_node.bootstrap()).await;
    let config = write_config(&primary_node, &backup_node);
    create_topic(&primary, TOPIC, 1).await;
    produce(&primary, TOPIC, &[0], 0, 2).await;
    let mut mirror = Strait::start(&config);
    wait_for_count(&backup, "primary.orders", &[0], 20).await;
    let status = [
        "failover",
        "status",
        path(&config),
        "--flow",
        "primary->backup",
        "--json",
    ];
    eventually("safe to cut over", || {
        let (code, out, _) = strait(&status);
        if code == Some(0) {
            Ok(())
        } else {
            Err(out)
        }
    })
    .await;
    mirror.stop();

    // 30 more records, written 5 s ago, while nothing mirrors them.
    let producer = Producer::idempotent(&primary).await.unwrap();
    let old = now_ms() - 5_000;
    for b in 2..5u64 {
        let records = (0..BATCH)
            .map(|i| Record {
                offset: i as i64,
                timestamp: old,
                key: Some(Bytes::from((b * BATCH + i).to_string())),
                value: Some(Bytes::from_static(b"v")),
                headers: Vec::new(),
            })
            .collect();
        let batch = BatchBuilder {
            records,
            ..BatchBuilder::default()
        }
        .encode()
        .unwrap();
        producer.send(TOPIC, 0, &batch).await.unwrap();
    }
    let unmirrored: i64 = read_batches_from(&primary, TOPIC, 0, 20).await;
    let (code, out, err) = strait(&status);
    assert_eq!(code, Some(2), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["safe_to_cut_over"], false);
    assert_eq!(v["source_reachable"], true);
    // (The flow also mirrors `heartbeats`; its last heartbeat may be unmirrored too.)
    let p = v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["topic"] == TOPIC)
        .unwrap();
    assert_eq!(p["mirrored_up_to"], 20);
    assert_eq!(p["lag_records"], 30);
    assert_eq!(p["lag_bytes"], unmirrored);
    assert!(p["lag_seconds"].as_f64().unwrap() >= 5.0, "{p}");
    assert!(v["heartbeat_age_seconds"].as_f64().is_some(), "{v}");
    let (_, table, _) = strait(&status[..5]);
    assert!(table.contains("safe to cut over: no: "), "{table}");
}

/// Total bytes of the data batches of a partition from `offset` on.
async fn read_batches_from(cluster: &Cluster, topic: &str, partition: i32, offset: i64) -> i64 {
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

/// Every failover subcommand explains itself with examples and the meaning of its output.
#[test]
fn failover_commands_have_examples() {
    for sub in [
        &["offsets", "--help"][..],
        &["offsets", "translate", "--help"],
        &["offsets", "apply", "--help"],
        &["failover", "--help"],
        &["failover", "status", "--help"],
    ] {
        let (code, out, err) = strait(sub);
        assert_eq!(code, Some(0), "{sub:?}: {err}");
        assert!(out.contains("Examples:"), "{sub:?}:\n{out}");
    }
    let (_, out, _) = strait(&["offsets", "translate", "--help"]);
    for how in [
        "exact",
        "conservative",
        "checkpoint",
        "timestamp",
        "untranslatable",
    ] {
        assert!(out.contains(how), "translate --help explains {how}:\n{out}");
    }
}

/// `strait offsets` with the source cluster unreachable: checkpoints (here written the way
/// Java MM2 writes them) are translated, a partition without one falls back to
/// `--to-datetime` (ListOffsets by timestamp), and `apply` refuses a group with an active
/// member on the target.
async fn apply_rules_with_the_source_down(kind: BrokerKind) {
    let node = tokio::task::spawn_blocking(move || TestCluster::start(kind))
        .await
        .unwrap()
        .expect("test broker starts");
    let backup = connect("backup", &node.bootstrap()).await;
    // The source is down for good: nothing listens there.
    let config = node.runtime_dir().join("mm2.properties");
    std::fs::write(
        &config,
        format!(
            "clusters = primary, backup\nprimary.bootstrap.servers = 127.0.0.1:1\n\
             backup.bootstrap.servers = {}\nprimary->backup.enabled = true\n",
            node.bootstrap()
        ),
    )
    .unwrap();
    let remote = "primary.orders";
    create_topic(&backup, remote, 2).await;
    // Two batches per partition, one hour apart (2026-01-01 00:00 and 01:00 UTC).
    let producer = Producer::idempotent(&backup).await.unwrap();
    for (b, ts) in [(0u64, 1_767_225_600_000i64), (1, 1_767_229_200_000)] {
        for p in 0..2 {
            let records = (0..BATCH)
                .map(|i| Record {
                    offset: i as i64,
                    timestamp: ts,
                    key: Some(Bytes::from((b * BATCH + i).to_string())),
                    value: None,
                    headers: Vec::new(),
                })
                .collect();
            let batch = BatchBuilder {
                records,
                ..BatchBuilder::default()
            }
            .encode()
            .unwrap();
            producer.send(remote, p, &batch).await.unwrap();
        }
    }
    // A checkpoint for partition 0 only.
    let writer = strait_mirror::checkpoint::CheckpointWriter::open(
        &backup,
        "primary.checkpoints.internal",
        1,
    )
    .await
    .unwrap();
    let checkpoint = strait_mirror::formats::Checkpoint {
        group: "app".to_owned(),
        topic: remote.to_owned(),
        partition: 0,
        upstream_offset: 30,
        downstream_offset: 10,
        metadata: String::new(),
    };
    writer.write(&[checkpoint], now_ms()).await.unwrap();

    let translate = [
        "offsets",
        "translate",
        path(&config),
        "--flow",
        "primary->backup",
        "--group",
        "app",
    ];
    let (code, out, err) = strait(&translate);
    assert_eq!(code, Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("GROUP") && lines[0].contains("HOW"),
        "{out}"
    );
    assert!(
        lines[1]
            .split_whitespace()
            .eq(["app", remote, "0", "30", "10", "checkpoint", "-"]),
        "{out}"
    );
    assert!(
        lines[2]
            .split_whitespace()
            .eq(["app", remote, "1", "-", "-", "untranslatable", "-"]),
        "{out}"
    );

    let by_time = [
        &translate[..],
        &["--to-datetime", "2026-01-01T00:30:00Z", "--json"],
    ]
    .concat();
    let (code, out, err) = strait(&by_time);
    assert_eq!(code, Some(0), "{out}{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[1]["how"], "timestamp");
    assert_eq!(
        rows[1]["target_offset"], 10,
        "the first record at or after 00:30 is the second batch"
    );

    let apply = [&by_time[..], &["--execute"]].concat();
    let apply: Vec<&str> = apply
        .iter()
        .map(|a| if *a == "translate" { "apply" } else { a })
        .collect();
    let (code, out, err) = strait(&apply);
    assert_eq!(code, Some(0), "{out}{err}");
    let committed = backup.fetch_offsets("app", None).await.unwrap();
    let offsets: Vec<i64> = (0..2)
        .map(|p| committed[&(remote.to_owned(), p)].offset)
        .collect();
    assert_eq!(offsets, [10, 10]);

    // An application joins the group on the target: apply refuses and commits nothing.
    backup
        .join_group("app", Duration::from_secs(60))
        .await
        .expect("join group");
    let (code, out, err) = strait(&apply);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("refusing") && err.contains("app (Stable with 1 members)"),
        "{err}"
    );

    // A flow that is not in the file is named with the ones that are.
    let (code, _, err) = strait(&[
        "offsets",
        "translate",
        path(&config),
        "--flow",
        "primary->nowhere",
        "--group",
        "app",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no flow primary->nowhere") && err.contains("primary->backup"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------

fn write_config(primary: &TestCluster, backup: &TestCluster) -> PathBuf {
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

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `strait <args>` to its end: exit code, stdout, stderr.
fn strait(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strait"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run strait");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Polls `strait offsets translate --json` for `flow` until `done` accepts the rows.
async fn wait_for_rows(
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

fn row<'a>(rows: &'a [serde_json::Value], topic: &str, p: i32) -> Option<&'a serde_json::Value> {
    rows.iter()
        .find(|r| r["topic"] == topic && r["partition"] == p)
}

fn source_offset(rows: &[serde_json::Value], topic: &str, p: i32) -> Option<i64> {
    row(rows, topic, p)?["source_offset"].as_i64()
}

fn target_offset(rows: &[serde_json::Value], topic: &str, p: i32) -> Option<i64> {
    row(rows, topic, p)?["target_offset"].as_i64()
}

async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
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

async fn connect(name: &str, bootstrap: &str) -> Cluster {
    Cluster::connect(ClusterConfig::new(name, bootstrap).unwrap())
        .await
        .expect("test client connects")
}

async fn create_topic(cluster: &Cluster, topic: &str, partitions: i32) {
    let spec = NewTopic::new(topic, partitions).with_config("retention.ms", "-1");
    cluster.create_topic(&spec).await.expect("create topic");
}

/// Writes batches `first..first+batches` of [`BATCH`] records to each partition; record `n`
/// of a partition has key `<n>`.
async fn produce(cluster: &Cluster, topic: &str, partitions: &[i32], first: u64, batches: u64) {
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

async fn commit(cluster: &Cluster, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let entries: Vec<(&str, i32, i64, Option<&str>)> =
        offsets.iter().map(|(p, o)| (topic, *p, *o, None)).collect();
    cluster
        .commit_offsets(group, &entries)
        .await
        .expect("commit offsets");
}

/// What a consumer positioned at `offset` reads from a partition (to its current end).
async fn read_from(cluster: &Cluster, topic: &str, partition: i32, mut offset: i64) -> Vec<Record> {
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
fn seqs(records: &[Record]) -> Vec<u64> {
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

async fn wait_for_count(cluster: &Cluster, topic: &str, partitions: &[i32], n: usize) {
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A running `strait run`; its stderr is collected and printed if the test fails.
struct Strait {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Strait {
    fn start(config: &Path) -> Strait {
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

    fn stop(&mut self) {
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
