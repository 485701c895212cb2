//! `strait bench --latency RECORDS_PER_SECOND`: end-to-end latency at a steady, modest rate.
//! A producer writes timestamped records to the source (Apache Kafka) for 28 s (the first 8 left
//! out), a batch every 10 ms (as if lingering 10 ms), the partitions taking turns. Beside strait,
//! in the same run, the Java client's poll→send loop (the simplest mirror: acks=all, idempotent,
//! linger.ms=0) copies the same topic into a topic of its own on the target. The producer also
//! writes every batch straight to a topic on the target (the target's own hop). Readers on the
//! source (the floor: producer to consumer on one cluster), on the target's hop topic, on
//! strait's remote topic and on the loop's topic note when each record arrives. Prints p50, p99
//! and max of each path, of two hops with nothing between (each record's source hop plus its
//! target hop), of what each mirror added per record (target reader's arrival less the source
//! reader's), the p99 ratios, and the slowest records on the floor, on the target hop and
//! through strait with when they were sent, so a periodic stall, and whose it is, shows.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use bytes::Bytes;
use strait_kafka::batch::{BatchBuilder, Compression, Record};
use strait_kafka::{
    Cluster, ClusterConfig, FetchOptions, FetchPosition, Isolation, NewTopic, OffsetSpec, Producer,
};
use strait_mirror::config::parse_str;
use strait_mirror::engine::{EngineOptions, Mirror};
use strait_testkit::{KafkaVersion, RunningJavaPeer};
use tokio::sync::watch;

use super::{install_kafka, one_way_properties, source_topic, BenchArgs, Brokers, Node, TOPIC};

/// How long the producer writes: the warm-up, then 20 s measured.
const SECONDS: u64 = 28;
/// Produce ticks per second (each writes its share of the rate).
const TICKS_PER_SECOND: u64 = 100;
/// The first seconds are left out of the figures (reported apart as the worst of the warm-up):
/// the mirror's partitions take their producer ids and first positions, and both brokers' JIT
/// compilers meet the new load; on a 2-core machine the two JVMs take both cores for about 5 s,
/// which delays every path alike (with 2 s left out, the floor's p99 was 40-230 ms).
const WARM_UP_US: u64 = 8_000_000;

pub(super) async fn run(args: &BenchArgs, rate: u64, codec: Compression) -> anyhow::Result<()> {
    if rate == 0 {
        bail!("--latency must be a positive number of records per second");
    }
    let version = install_kafka().await?;
    let brokers = Brokers::Kafka(version);
    let (source_node, target_node) = (Node::start(brokers).await?, Node::start(brokers).await?);
    let source = source_topic(&source_node.bootstrap(), args.partitions).await?;
    let target = Cluster::connect(ClusterConfig::new("target", &target_node.bootstrap())?).await?;
    for topic in [JAVA_LOOP_TOPIC, TARGET_HOP_TOPIC] {
        target
            .create_topic(&NewTopic::new(topic, args.partitions))
            .await
            .with_context(|| format!("creating {topic} on the target"))?;
    }
    let java_loop = start_java_loop(version, &source_node, &target_node, codec).await?;
    let properties = one_way_properties(&source_node.bootstrap(), &target_node.bootstrap());
    let mirror = Mirror::start(
        parse_str(&properties).context("the bench's mm2.properties")?,
        EngineOptions::default(),
    );
    let remote = format!("source.{TOPIC}");
    wait_for_topic(&target, &remote, args.partitions).await?;
    let floor = Reader::start(&source_node.bootstrap(), TOPIC, args.partitions).await?;
    let mirrored = Reader::start(&target_node.bootstrap(), &remote, args.partitions).await?;
    let looped = Reader::start(&target_node.bootstrap(), JAVA_LOOP_TOPIC, args.partitions).await?;
    let target_hop =
        Reader::start(&target_node.bootstrap(), TARGET_HOP_TOPIC, args.partitions).await?;
    println!(
        "producing {rate} records/s of {} bytes ({codec}, a batch every 10 ms) to {} \
         partitions for {SECONDS} s, to the source and straight to the target; reading them on \
         the source (the floor), on the target, through strait and through the Java client's \
         poll->send loop",
        args.record_bytes, args.partitions
    );
    let sent = produce(
        &[(&source, TOPIC), (&target, TARGET_HOP_TOPIC)],
        args,
        rate,
        codec,
    )
    .await?;
    let paths = Paths {
        floor: floor.finish(sent).await,
        target_hop: target_hop.finish(sent).await,
        strait: mirrored.finish(sent).await,
        java_loop: looped.finish(sent).await,
    };
    mirror.shutdown().await.context("stopping the mirror")?;
    tokio::task::spawn_blocking(move || java_loop.finish())
        .await?
        .context("the Java client's poll->send loop")?;
    let start = paths.floor.first().map_or(0, |(sent, _)| *sent);
    print_report(version, sent, start, &paths);
    Ok(())
}

/// The Java loop's copy of the bench topic on the target.
const JAVA_LOOP_TOPIC: &str = "java-loop.bench";
/// The producer's second copy of each batch, written straight to the target (its own hop).
const TARGET_HOP_TOPIC: &str = "target-hop.bench";

/// Starts the Java client's poll->send loop from the bench topic on the source to
/// [`JAVA_LOOP_TOPIC`] on the target, batches compressed with `codec` as the source's are.
async fn start_java_loop(
    version: KafkaVersion,
    source: &Node,
    target: &Node,
    codec: Compression,
) -> anyhow::Result<RunningJavaPeer> {
    let args = [
        "forward".to_owned(),
        source.bootstrap(),
        TOPIC.to_owned(),
        target.bootstrap(),
        JAVA_LOOP_TOPIC.to_owned(),
        format!("compression.type={codec}"),
    ];
    let java_loop = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        RunningJavaPeer::start(version, &args)
    })
    .await?
    .context("starting the Java client's poll->send loop")?;
    Ok(java_loop)
}

/// Waits until the mirror has created `topic` with `partitions` on the target.
async fn wait_for_topic(target: &Cluster, topic: &str, partitions: i32) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metadata = target.refresh_topics(&[topic]).await?;
        let found = metadata
            .topics
            .get(topic)
            .map_or(0, |t| t.partitions.len() as i32);
        if found >= partitions {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the mirror did not create {topic} on the target within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Writes `rate` records per second for [`SECONDS`], each batch to every (cluster, topic) of
/// `destinations` (the same partition, the same bytes); returns how many records.
async fn produce(
    destinations: &[(&Cluster, &str)],
    args: &BenchArgs,
    rate: u64,
    codec: Compression,
) -> anyhow::Result<u64> {
    let mut producers = Vec::new();
    for (cluster, topic) in destinations {
        producers.push((Producer::idempotent(cluster).await?, *topic));
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1) / TICKS_PER_SECOND as u32);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight = std::collections::VecDeque::new();
    let (mut sent, mut due) = (0u64, 0f64);
    for round in 0..SECONDS * TICKS_PER_SECOND {
        tick.tick().await;
        due += rate as f64 / TICKS_PER_SECOND as f64;
        // What a producer lingering one tick sends: the tick's records in one batch, the
        // partitions taking turns.
        let mut records = Vec::new();
        while ((sent + records.len() as u64) as f64) < due {
            let mut value = format!("{:020}", now_us()).into_bytes();
            value.resize(args.record_bytes.max(20), b'x');
            records.push(Record {
                offset: records.len() as i64,
                timestamp: (now_us() / 1000) as i64,
                key: None,
                value: Some(Bytes::from(value)),
                headers: vec![],
            });
        }
        if records.is_empty() {
            continue;
        }
        sent += records.len() as u64;
        let batch = BatchBuilder {
            compression: codec,
            records,
            ..BatchBuilder::default()
        }
        .encode()?;
        let partition = (round % args.partitions as u64) as i32;
        for (producer, topic) in &producers {
            in_flight.push_back(producer.submit(topic, partition, &batch).await?);
        }
        while in_flight.len() > 64 * producers.len() {
            if let Some(batch) = in_flight.pop_front() {
                batch.wait().await?;
            }
        }
    }
    for batch in in_flight {
        batch.wait().await?;
    }
    Ok(sent)
}

/// What a reader saw: (sent, latency) in microseconds, per record.
type Seen = Arc<Mutex<Vec<(u64, u64)>>>;

/// Reads a topic from its log end on, noting each record's latency.
struct Reader {
    seen: Seen,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    name: String,
}

impl Reader {
    /// A reader with a connection of its own: a long-polling fetch holds up every later
    /// request on its connection (the broker answers one connection's requests in order), so
    /// sharing the producer's would delay the producer.
    async fn start(bootstrap: &str, topic: &str, partitions: i32) -> anyhow::Result<Reader> {
        let cluster = Cluster::connect(ClusterConfig::new("reader", bootstrap)?).await?;
        let all: Vec<i32> = (0..partitions).collect();
        let ends = cluster
            .list_offsets(topic, &all, OffsetSpec::Latest, Isolation::ReadUncommitted)
            .await
            .with_context(|| format!("log ends of {topic} on {}", cluster.name()))?;
        let mut positions: Vec<FetchPosition> = ends
            .iter()
            .map(|(partition, end)| FetchPosition {
                topic: topic.to_owned(),
                partition: *partition,
                offset: end.offset,
                max_bytes: 1024 * 1024,
                last_fetched_epoch: None,
            })
            .collect();
        let leader = cluster.leader_id(topic, 0).await?;
        let seen: Seen = Arc::default();
        let (stop, mut stopped) = watch::channel(false);
        let name = format!("{topic} on {}", cluster.name());
        let record = seen.clone();
        let options = FetchOptions {
            max_wait: Duration::from_millis(500),
            ..FetchOptions::default()
        };
        let task = tokio::spawn(async move {
            while !*stopped.borrow() {
                let fetched = tokio::select! {
                    f = cluster.fetch_from(leader, &positions, &options) => f?,
                    _ = stopped.changed() => break,
                };
                let arrived = now_us();
                for f in fetched {
                    let Some(position) = positions.iter_mut().find(|p| p.partition == f.partition)
                    else {
                        continue;
                    };
                    for batch in f.batches() {
                        let batch = batch?;
                        position.offset = batch.next_offset();
                        for r in batch.decode()?.records {
                            let sent = r
                                .value
                                .as_deref()
                                .and_then(|v| std::str::from_utf8(v.get(..20)?).ok())
                                .and_then(|s| s.parse::<u64>().ok());
                            if let Some(sent) = sent {
                                let mut seen = record.lock().expect("latencies");
                                seen.push((sent, arrived.saturating_sub(sent)));
                            }
                        }
                    }
                }
            }
            Ok(())
        });
        Ok(Reader {
            seen,
            stop,
            task,
            name,
        })
    }

    /// Waits (up to 30 s) until `sent` records were seen, then stops; the latencies, sorted
    /// by when the records were sent.
    async fn finish(self, sent: u64) -> Vec<(u64, u64)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while (self.seen.lock().expect("latencies").len() as u64) < sent
            && Instant::now() < deadline
            && !self.task.is_finished()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(Err(e)) => eprintln!("  reading {}: {e:#}", self.name),
            Err(e) => eprintln!("  reading {}: {e}", self.name),
            Ok(Ok(())) => {}
        }
        let mut seen = std::mem::take(&mut *self.seen.lock().expect("latencies"));
        seen.sort_unstable();
        seen
    }
}

/// Per record seen by both readers, how much later it reached the target's reader than the
/// source's: (sent, that difference). A record the target's reader saw first counts as 0.
fn hop(floor: &[(u64, u64)], mirrored: &[(u64, u64)]) -> Vec<(u64, u64)> {
    pair(floor, mirrored, |source, target| {
        target.saturating_sub(source)
    })
}

/// Per record seen on both hops, its source hop's latency plus its target hop's: what a
/// mirror taking no time at all would see, estimated from both hops at the same moment.
fn two_hops(floor: &[(u64, u64)], target_hop: &[(u64, u64)]) -> Vec<(u64, u64)> {
    pair(floor, target_hop, |source, target| source + target)
}

/// Per record seen by both readers, (sent, `combine(first's latency, second's)`). Records sent
/// in the same microsecond pair up in order of arrival.
fn pair(
    first: &[(u64, u64)],
    second: &[(u64, u64)],
    combine: impl Fn(u64, u64) -> u64,
) -> Vec<(u64, u64)> {
    let mut in_first: std::collections::HashMap<u64, Vec<u64>> = Default::default();
    for (sent, latency) in first {
        in_first.entry(*sent).or_default().push(*latency);
    }
    for latencies in in_first.values_mut() {
        latencies.sort_unstable_by(|a, b| b.cmp(a));
    }
    second
        .iter()
        .filter_map(|(sent, latency)| {
            let first = in_first.get_mut(sent)?.pop()?;
            Some((*sent, combine(first, *latency)))
        })
        .collect()
}

/// p50, p99 and max of the latencies, in milliseconds.
fn percentiles(seen: &[(u64, u64)]) -> Option<(f64, f64, f64)> {
    let mut latencies: Vec<u64> = seen.iter().map(|(_, l)| *l).collect();
    latencies.sort_unstable();
    let at = |q: usize| latencies[(latencies.len() * q / 100).min(latencies.len() - 1)];
    let ms = |us: u64| us as f64 / 1000.0;
    (!latencies.is_empty()).then(|| (ms(at(50)), ms(at(99)), ms(*latencies.last().unwrap())))
}

/// What each reader saw: (sent, latency) per record, sorted by when they were sent.
struct Paths {
    floor: Vec<(u64, u64)>,
    target_hop: Vec<(u64, u64)>,
    strait: Vec<(u64, u64)>,
    java_loop: Vec<(u64, u64)>,
}

fn print_report(version: KafkaVersion, sent: u64, start: u64, paths: &Paths) {
    let warm_up = |seen: &[(u64, u64)]| {
        seen.iter()
            .filter(|(s, _)| *s < start + WARM_UP_US)
            .map(|(_, l)| *l)
            .max()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let steady = |seen: &[(u64, u64)]| -> Vec<(u64, u64)> {
        seen.iter()
            .filter(|(s, _)| *s >= start + WARM_UP_US)
            .copied()
            .collect()
    };
    let (floor, target_hop, mirrored, looped) = (
        &steady(&paths.floor)[..],
        &steady(&paths.target_hop)[..],
        &steady(&paths.strait)[..],
        &steady(&paths.java_loop)[..],
    );
    println!();
    println!(
        "strait bench --latency on Apache Kafka {version}: {sent} records sent; latency from \
         the producer's send to a reader's fetch answer (ms), after the first {} s",
        WARM_UP_US / 1_000_000
    );
    println!(
        "{:<40} {:>8} {:>8} {:>8} {:>8} {:>13}",
        "path", "records", "p50", "p99", "max", "warm-up max"
    );
    let row = |path: &str, seen: &[(u64, u64)], warm: Option<f64>| {
        let p = percentiles(seen);
        match p {
            Some((p50, p99, max)) => {
                let warm = warm.map_or(String::new(), |w| format!("{w:.1}"));
                println!(
                    "{path:<40} {:>8} {p50:>8.1} {p99:>8.1} {max:>8.1} {warm:>13}",
                    seen.len()
                );
            }
            None => println!("{path:<40} {:>8} (nothing arrived)", seen.len()),
        }
        p.map(|(_, p99, _)| p99)
    };
    let floor_p99 = row(
        "floor: producer -> source reader",
        floor,
        Some(warm_up(&paths.floor)),
    );
    row(
        "target hop: producer -> target reader",
        target_hop,
        Some(warm_up(&paths.target_hop)),
    );
    let two_hops_p99 = row(
        "two hops, nothing between (sum)",
        &two_hops(floor, target_hop),
        None,
    );
    let strait_p99 = row(
        "strait: producer -> target reader",
        mirrored,
        Some(warm_up(&paths.strait)),
    );
    let loop_p99 = row(
        "Java poll->send loop: -> target reader",
        looped,
        Some(warm_up(&paths.java_loop)),
    );
    let strait_added = row("added by strait", &hop(floor, mirrored), None);
    let loop_added = row("added by the Java loop", &hop(floor, looped), None);
    println!();
    let ratio = |what: &str, ours: Option<f64>, theirs: Option<f64>| {
        if let (Some(ours), Some(theirs)) = (ours, theirs) {
            println!("{what}: {ours:.1} / {theirs:.1} ms = {:.2}x", ours / theirs);
        }
    };
    ratio(
        "p99 through strait / p99 of the floor",
        strait_p99,
        floor_p99,
    );
    ratio(
        "p99 of two hops / p99 of the floor",
        two_hops_p99,
        floor_p99,
    );
    ratio(
        "p99 through strait / p99 of two hops",
        strait_p99,
        two_hops_p99,
    );
    ratio(
        "p99 through strait / p99 through the Java loop",
        strait_p99,
        loop_p99,
    );
    ratio(
        "p99 added by strait / p99 added by the Java loop",
        strait_added,
        loop_added,
    );
    for (path, seen) in [
        ("on the floor", floor),
        ("on the target hop", target_hop),
        ("through strait", mirrored),
    ] {
        println!(
            "slowest {path} (latency, sent after): {}",
            slowest(seen, start).join(", ")
        );
    }
}

/// The 8 slowest records of `seen`, one per produced batch (its records share a send time to
/// the 10 ms tick), as "latency at time since `start`".
fn slowest(seen: &[(u64, u64)], start: u64) -> Vec<String> {
    let mut slowest: Vec<&(u64, u64)> = seen.iter().collect();
    slowest.sort_unstable_by_key(|(_, latency)| std::cmp::Reverse(*latency));
    let mut ticks = std::collections::HashSet::new();
    slowest
        .iter()
        .filter(|(sent, _)| ticks.insert((sent - start) / 10_000))
        .take(8)
        .map(|(sent, latency)| {
            format!(
                "{:.1} ms at {:.2} s",
                *latency as f64 / 1000.0,
                (sent - start) as f64 / 1e6
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hop_pairs_each_record_with_its_arrival_on_the_source() {
        // (sent, latency) in µs; two records sent in the same microsecond at 200.
        let floor = [(100, 1_000), (200, 1_500), (200, 1_200), (300, 900)];
        let mirrored = [(100, 3_000), (200, 2_000), (200, 4_000), (400, 5_000)];
        assert_eq!(
            hop(&floor, &mirrored),
            vec![(100, 2_000), (200, 800), (200, 2_500)],
            "earliest with earliest; 300 never mirrored, 400 never seen on the source"
        );
        assert_eq!(hop(&[(1, 500)], &[(1, 400)]), vec![(1, 0)]);
    }

    #[test]
    fn two_hops_add_each_records_latency_on_both() {
        let floor = [(100, 1_000), (200, 1_500), (200, 1_200), (300, 900)];
        let target_hop = [(100, 3_000), (200, 2_000), (200, 4_000), (400, 5_000)];
        assert_eq!(
            two_hops(&floor, &target_hop),
            vec![(100, 4_000), (200, 3_200), (200, 5_500)],
            "earliest with earliest; 300 and 400 seen on one hop only"
        );
    }
}
