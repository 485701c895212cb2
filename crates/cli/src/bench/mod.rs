//! `strait bench`: how much CPU forwarding compressed batches untouched saves over re-encoding,
//! and (`--exactly-once`) what writing in transactions costs.
//!
//! For each codec: a fresh local cluster (noida; Apache Kafka with `--exactly-once`) is loaded
//! with a multi-partition topic of compressed batches (pre-encoded, several idempotent
//! producers in parallel), then the mirror runs in this process twice, each time into a fresh
//! target cluster: forwarding batches untouched (pass-through) and, for comparison, decoding
//! and re-encoding every batch, or forwarding untouched in exactly-once mode. Each run is
//! measured from `Mirror::start` until the target has acknowledged (in exactly-once mode:
//! committed) every record: wall time, CPU time of this process (the brokers are other
//! processes and not counted) and peak resident memory.

mod latency;
mod load;
mod members;
mod outage;
mod partitions;
mod procstat;
mod throttle;
mod versus_mm2;
mod wan;

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use strait_kafka::batch::Compression;
use strait_kafka::{Cluster, ClusterConfig, Isolation, NewTopic, OffsetSpec};
use strait_mirror::config::parse_str;
use strait_mirror::engine::{EngineOptions, Mirror};
use strait_testkit::{BrokerKind, KafkaCluster, KafkaVersion, TestCluster};

use load::load;
use procstat::{cpu_seconds, reset_peak_rss, status_kb};

pub(super) const TOPIC: &str = "bench";
/// Default data per codec: ~256 MB of records (noida keeps its whole log in RAM and answers
/// every fetch with the whole backlog, so this stays modest unless raised).
const DEFAULT_BYTES_PER_CODEC: u64 = 256 * 1024 * 1024;
/// Default data per codec with `--against mm2`: ~1 GiB, so that strait's run (a few seconds)
/// spans enough CPU ticks to measure.
const DEFAULT_BYTES_AGAINST_MM2: u64 = 1024 * 1024 * 1024;
/// Default data with `--wan`: ~200 MB of records (each of the two runs crosses the link).
const DEFAULT_BYTES_WAN: u64 = 200 * 1024 * 1024;
/// A run fails when the target acknowledges nothing new for this long.
pub(super) const STALL_LIMIT: Duration = Duration::from_secs(120);

/// Arguments of `strait bench`.
#[derive(clap::Args, Debug)]
pub(crate) struct BenchArgs {
    /// Partitions of the source topic.
    #[arg(long, default_value_t = 16)]
    partitions: i32,
    /// Records per partition [default: ~256 MB of records per codec; ~1 GB with --against mm2].
    #[arg(long)]
    records_per_partition: Option<u64>,
    /// Size of each record's value in bytes (JSON-like text, compressible like real events).
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Codec of the loaded batches; repeat to bench several [default: lz4 then zstd].
    #[arg(long = "codec", value_parser = parse_codec)]
    codecs: Vec<Compression>,
    /// Records per produced batch.
    #[arg(long, default_value_t = 500)]
    batch_records: usize,
    /// Idempotent producers loading the source in parallel.
    #[arg(long, default_value_t = 4)]
    producers: usize,
    /// Measure against a real peer instead: `mm2` runs the real MirrorMaker 2 and strait (each
    /// its own process) between Apache Kafka clusters [codecs default to lz4, zstd, none].
    #[arg(long, value_enum)]
    against: Option<Peer>,
    /// Show how one flow's work splits across 1, 2, … N `strait run` processes sharing it
    /// through their group on Apache Kafka [codec defaults to lz4; ~1 GB of records].
    #[arg(long, value_name = "N", conflicts_with = "against")]
    members: Option<usize>,
    /// Compare exactly-once mode (transactions) with the default idempotent writes, on
    /// Apache Kafka [codecs default to lz4, zstd; ~1 GB of records per codec].
    #[arg(long, conflicts_with_all = ["against", "members"])]
    exactly_once: bool,
    /// Throttle one of two flows from one source to this many bytes per second
    /// (`strait.throttle.bytes.per.second`) and show the limit held and the other flow
    /// unaffected, on Apache Kafka [codec defaults to lz4].
    #[arg(long, value_name = "BYTES_PER_SECOND", conflicts_with_all = ["against", "members", "exactly_once"])]
    throttle: Option<u64>,
    /// Put the source behind a delay proxy with this round-trip time and show the share of
    /// throughput strait keeps against the same proxy without delay, on Apache Kafka [codec
    /// defaults to lz4; ~200 MB of records].
    #[arg(long, value_name = "RTT_MS", conflicts_with_all = ["against", "members", "exactly_once", "throttle"])]
    wan: Option<u64>,
    /// Write this many records per second to the source for 28 s (20 s measured) and show
    /// end-to-end latency (p50, p99, max) through strait against the floor (producer to
    /// consumer on the source), two hops with nothing between (the floor plus the target's own
    /// hop) and the Java client's poll->send loop, on Apache Kafka.
    #[arg(long, value_name = "RECORDS_PER_SECOND", conflicts_with_all = ["against", "members", "exactly_once", "throttle", "wan"])]
    latency: Option<u64>,
    /// Stop the target for this many seconds once a fifth is mirrored, and show strait's
    /// memory during the outage with a quarter of the default `strait.buffer.max.bytes` and
    /// the default, on Apache Kafka [codec defaults to lz4; ~1 GB of records].
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["against", "members", "exactly_once", "throttle", "wan", "latency"])]
    outage: Option<u64>,
    /// Mirror one topic of this many partitions (10000: a very large cluster's worth), a small
    /// batch in each, and show the catch-up time, peak RSS, whether strait's counters agree
    /// with the target, and how fast a new topic is picked up [codec defaults to lz4; 10
    /// records per partition].
    #[arg(long, value_name = "PARTITIONS", conflicts_with_all = ["against", "members", "exactly_once", "throttle", "wan", "latency", "outage"])]
    wide: Option<i32>,
    /// The brokers to run on: with `--wide` kafka (default), noida or tansu; without a
    /// scenario (pass-through against re-encode) noida (default) or kafka.
    #[arg(long, value_name = "BROKER", value_parser = parse_broker, conflicts_with_all = ["against", "members", "exactly_once", "throttle", "wan", "latency", "outage"])]
    on: Option<BrokerKind>,
}

/// A peer `strait bench` measures against.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// MirrorMaker 2 (dedicated mode) on Apache Kafka, from Maven Central.
    Mm2,
}

fn parse_broker(s: &str) -> Result<BrokerKind, String> {
    BrokerKind::parse(s)
        .ok_or_else(|| format!("unknown broker '{s}' (expected kafka, noida or tansu)"))
}

fn parse_codec(s: &str) -> Result<Compression, String> {
    Compression::from_name(s)
        .ok_or_else(|| format!("unknown codec '{s}' (expected none, gzip, snappy, lz4 or zstd)"))
}

/// How a run mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Batches forwarded untouched by idempotent producers (the default).
    PassThrough,
    /// Every batch decoded and re-encoded (the slow path).
    Reencode,
    /// Batches forwarded untouched in transactions (`exactly.once.source.support`).
    ExactlyOnce,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::PassThrough => "pass-through",
            Mode::Reencode => "re-encode",
            Mode::ExactlyOnce => "exactly-once",
        }
    }
}

/// The brokers a bench runs on.
#[derive(Clone, Copy, Debug)]
enum Brokers {
    Noida,
    Kafka(KafkaVersion),
}

/// A started cluster of either kind.
enum Node {
    Noida(TestCluster),
    Kafka(Box<KafkaCluster>),
}

impl Node {
    async fn start(brokers: Brokers) -> anyhow::Result<Node> {
        Ok(match brokers {
            Brokers::Noida => Node::Noida(
                tokio::task::spawn_blocking(|| TestCluster::start(BrokerKind::Noida)).await??,
            ),
            Brokers::Kafka(version) => {
                Node::Kafka(Box::new(versus_mm2::start_kafka(version).await?))
            }
        })
    }

    fn bootstrap(&self) -> String {
        match self {
            Node::Noida(n) => n.bootstrap(),
            Node::Kafka(k) => k.bootstrap(),
        }
    }
}

/// What one mirror run measured.
struct RunResult {
    codec: Compression,
    mode: Mode,
    records: u64,
    wire_bytes: u64,
    data_bytes: u64,
    seconds: f64,
    /// Seconds from the start to the first record acknowledged (start-up: connections,
    /// metadata, topic creation, the group), at the 20 ms the counters are polled.
    first_ack: f64,
    cpu_seconds: f64,
    peak_rss_kb: Option<u64>,
    start_rss_kb: Option<u64>,
    forwarded: u64,
    reencoded: u64,
}

impl RunResult {
    /// CPU seconds per GB of record data (uncompressed).
    fn cpu_per_gb(&self) -> f64 {
        self.cpu_seconds / (self.data_bytes as f64 / 1e9)
    }
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.partitions < 1 || args.batch_records < 1 || args.producers < 1 {
        bail!("--partitions, --batch-records and --producers must be at least 1");
    }
    let codecs = match (args.codecs.is_empty(), args.against) {
        (false, _) => args.codecs.clone(),
        (true, None) => vec![Compression::Lz4, Compression::Zstd],
        (true, Some(_)) => vec![Compression::Lz4, Compression::Zstd, Compression::None],
    };
    let on_kafka = args.against.is_some()
        || args.members.is_some()
        || args.exactly_once
        || args.throttle.is_some()
        || args.outage.is_some();
    let per_codec = if on_kafka {
        DEFAULT_BYTES_AGAINST_MM2
    } else {
        DEFAULT_BYTES_PER_CODEC
    };
    let per_codec = if args.wan.is_some() {
        DEFAULT_BYTES_WAN
    } else {
        per_codec
    };
    let records_per_partition = args.records_per_partition.unwrap_or_else(|| {
        (per_codec / args.partitions as u64 / args.record_bytes.max(1) as u64).max(1)
    });
    if let Some(wide) = args.wide {
        if wide < 1 {
            bail!("--wide must be at least 1 partition");
        }
        let per_partition = args.records_per_partition.unwrap_or(10);
        let (kind, codec) = (args.on.unwrap_or(BrokerKind::Kafka), codecs[0]);
        let args = BenchArgs {
            partitions: wide,
            ..args
        };
        return partitions::run(&args, kind, codec, per_partition).await;
    }
    if let Some(seconds) = args.outage {
        return outage::run(&args, seconds, codecs[0], records_per_partition).await;
    }
    if let Some(rate) = args.latency {
        return latency::run(&args, rate, codecs[0]).await;
    }
    if let Some(rtt_ms) = args.wan {
        return wan::run(&args, rtt_ms, codecs[0], records_per_partition).await;
    }
    if let Some(members) = args.members {
        return members::run(&args, members, codecs[0], records_per_partition).await;
    }
    if let Some(limit) = args.throttle {
        return throttle::run(&args, limit, codecs[0], records_per_partition).await;
    }
    let total = records_per_partition * args.partitions as u64;
    let (brokers, modes) = match (args.exactly_once, args.on) {
        (true, _) => (
            Brokers::Kafka(KafkaVersion::from_env()),
            [Mode::PassThrough, Mode::ExactlyOnce],
        ),
        (false, None | Some(BrokerKind::Noida)) => {
            (Brokers::Noida, [Mode::PassThrough, Mode::Reencode])
        }
        (false, Some(BrokerKind::Kafka)) => (
            Brokers::Kafka(KafkaVersion::from_env()),
            [Mode::PassThrough, Mode::Reencode],
        ),
        (false, Some(other)) => {
            bail!("--on {other}: pass-through against re-encode runs on noida or kafka (only --wide runs on {other})")
        }
    };
    let runs = match (args.against, args.exactly_once, brokers) {
        (Some(Peer::Mm2), _, _) => "strait, then MirrorMaker 2, on Apache Kafka",
        (None, true, _) => "idempotent pass-through, exactly-once, on Apache Kafka",
        (None, false, Brokers::Kafka(_)) => "pass-through, re-encode, on Apache Kafka",
        (None, false, Brokers::Noida) => "pass-through, re-encode, on noida",
    };
    println!(
        "strait bench: {} partitions x {records_per_partition} records of {} bytes = {total} records \
         ({:.0} MB) per codec; codecs {}; mirror runs: {runs}",
        args.partitions,
        args.record_bytes,
        (total * args.record_bytes as u64) as f64 / 1e6,
        codecs.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
    );
    if args.against == Some(Peer::Mm2) {
        return versus_mm2::run(&args, &codecs, records_per_partition).await;
    }
    match brokers {
        Brokers::Noida => {
            println!("installing test brokers (pinned, from PyPI) if needed");
            tokio::task::spawn_blocking(strait_testkit::ensure_installed).await??;
        }
        Brokers::Kafka(_) => {
            install_kafka().await?;
        }
    }

    let mut results = Vec::new();
    for &codec in &codecs {
        let source_node = Node::start(brokers).await?;
        let source = source_topic(&source_node.bootstrap(), args.partitions).await?;
        let (wire_bytes, seconds) = load(&source, &args, codec, records_per_partition).await?;
        println!(
            "loaded {total} {codec} records into {} in {seconds:.2} s: {:.0} MB of batches \
             (compression ratio {:.2})",
            source_node.bootstrap(),
            wire_bytes as f64 / 1e6,
            (total * args.record_bytes as u64) as f64 / wire_bytes as f64,
        );
        for mode in modes {
            let target_node = Node::start(brokers).await?;
            let result = mirror_once(
                &source_node.bootstrap(),
                target_node,
                &args,
                codec,
                mode,
                total,
            )
            .await?;
            results.push(result);
        }
    }
    print_table(brokers, &results);
    Ok(())
}

/// Mirrors the loaded topic once from `source` (a bootstrap) into `target_node` (fresh) and
/// measures it.
async fn mirror_once(
    source: &str,
    target_node: Node,
    args: &BenchArgs,
    codec: Compression,
    mode: Mode,
    total: u64,
) -> anyhow::Result<RunResult> {
    let mut properties = one_way_properties(source, &target_node.bootstrap());
    if mode == Mode::ExactlyOnce {
        properties.push_str("target.exactly.once.source.support = enabled\n");
    }
    let config = parse_str(&properties).context("the bench's mm2.properties")?;
    let mode_name = mode.name();
    println!(
        "mirroring {codec} {mode_name}: {source} -> {} (fresh target)",
        target_node.bootstrap()
    );

    let hwm_reset = reset_peak_rss();
    let start_rss_kb = status_kb(None, "VmRSS");
    let cpu_before = cpu_seconds(None)?;
    let started = Instant::now();
    let mut mirror = Mirror::start(
        config,
        EngineOptions {
            force_reencode: mode == Mode::Reencode,
            clusters: None,
        },
    );
    let mut last_report = Instant::now();
    let mut last_progress = (0, Instant::now());
    let mut first_ack = None;
    let snapshot = loop {
        tokio::select! {
            e = mirror.failed() => return Err(anyhow::Error::new(e).context(format!("mirroring {codec} {mode_name}"))),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        let stats = mirror.stats();
        let records: u64 = stats.iter().map(|(_, s)| s.records).sum();
        if records > 0 && first_ack.is_none() {
            first_ack = Some(started.elapsed().as_secs_f64());
        }
        if records >= total {
            break stats;
        }
        if records > last_progress.0 {
            last_progress = (records, Instant::now());
        } else if last_progress.1.elapsed() > STALL_LIMIT {
            bail!("mirroring {codec} {mode_name}: stalled at {records} of {total} records for {STALL_LIMIT:?}");
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            println!(
                "  mirroring {codec} {mode_name}: {records} / {total} records ({:.0}%)",
                100.0 * records as f64 / total as f64
            );
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(None)? - cpu_before;
    let peak_rss_kb = status_kb(None, "VmHWM");
    if !hwm_reset {
        eprintln!("  note: could not reset the peak RSS (/proc/self/clear_refs); it covers the whole process");
    }
    mirror.shutdown().await.context("stopping the mirror")?;

    let records: u64 = snapshot.iter().map(|(_, s)| s.records).sum();
    let target = Cluster::connect(ClusterConfig::new("target", &target_node.bootstrap())?).await?;
    let remote = format!("source.{TOPIC}");
    target.refresh_metadata().await?;
    // In exactly-once mode each commit adds a marker to the log. Kafka answers EndTxn once the
    // commit is decided and writes the markers after that: the last ones may still be coming.
    let markers = snapshot
        .iter()
        .map(|(_, s)| s.transactions_committed as i64)
        .sum::<i64>();
    let markers_landed = Instant::now();
    let held = loop {
        let all: Vec<i32> = (0..args.partitions).collect();
        let held = log_ends(&target, &remote, &all).await?.iter().sum::<i64>() - markers;
        if held == total as i64 || markers_landed.elapsed() > Duration::from_secs(10) {
            break held;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if held != total as i64 {
        println!("  warning: the target topic {remote} holds {held} records, loaded were {total}");
    }
    drop(target);
    drop(target_node);
    Ok(RunResult {
        codec,
        mode,
        records,
        wire_bytes: snapshot.iter().map(|(_, s)| s.bytes).sum(),
        data_bytes: records * args.record_bytes as u64,
        seconds,
        first_ack: first_ack.unwrap_or(seconds),
        cpu_seconds: cpu,
        peak_rss_kb,
        start_rss_kb,
        forwarded: snapshot.iter().map(|(_, s)| s.passed_through).sum(),
        reencoded: snapshot.iter().map(|(_, s)| s.reencoded).sum(),
    })
}

fn print_table(brokers: Brokers, results: &[RunResult]) {
    let mb = |kb: Option<u64>| kb.map_or("?".to_owned(), |kb| format!("{} MB", kb / 1024));
    println!();
    println!(
        "strait bench results on {} (CPU: this process only, the brokers excluded; \
         GB = 1e9 bytes of record values, uncompressed)",
        match brokers {
            Brokers::Noida => "noida".to_owned(),
            Brokers::Kafka(version) => format!("Apache Kafka {version}"),
        }
    );
    println!(
        "{:<6} {:<12} {:>9} {:>7} {:>10} {:>10} {:>10} {:>7} {:>9} {:>9} {:>10} {:>14}",
        "codec",
        "mode",
        "records",
        "secs",
        "records/s",
        "MB/s wire",
        "MB/s data",
        "CPU s",
        "CPU s/GB",
        "peak RSS",
        "RSS before",
        "batches fwd/re"
    );
    for r in results {
        println!(
            "{:<6} {:<12} {:>9} {:>7.2} {:>10.0} {:>10.1} {:>10.1} {:>7.2} {:>9.2} {:>9} {:>10} {:>14}",
            r.codec.name(),
            r.mode.name(),
            r.records,
            r.seconds,
            r.records as f64 / r.seconds,
            r.wire_bytes as f64 / 1e6 / r.seconds,
            r.data_bytes as f64 / 1e6 / r.seconds,
            r.cpu_seconds,
            r.cpu_per_gb(),
            mb(r.peak_rss_kb),
            mb(r.start_rss_kb),
            format!("{}/{}", r.forwarded, r.reencoded),
        );
    }
    println!(
        "MB/s wire: batch bytes acknowledged by the target; MB/s data: record values. Peak RSS: \
         VmHWM, reset before each run (RSS before: at that reset).{}",
        match (
            brokers,
            results.iter().any(|r| matches!(r.mode, Mode::ExactlyOnce)),
        ) {
            (Brokers::Noida, _) => {
                " noida answers each fetch with a partition's whole backlog (it ignores \
                 max_bytes), which the peak reflects."
            }
            (Brokers::Kafka(_), true) => " Exactly-once: records count once committed.",
            (Brokers::Kafka(_), false) => "",
        }
    );
    println!();
    for pair in results.chunks(2) {
        if let [pass, other] = pair {
            if pass.mode == Mode::PassThrough && pass.cpu_seconds > 0.0 {
                println!(
                    "{}: {} / pass-through: CPU per GB {:.2} / {:.2} = {:.2}x; throughput {:.1} / {:.1} MB/s = {:.2}x",
                    pass.codec.name(),
                    other.mode.name(),
                    other.cpu_per_gb(),
                    pass.cpu_per_gb(),
                    other.cpu_per_gb() / pass.cpu_per_gb(),
                    other.data_bytes as f64 / 1e6 / other.seconds,
                    pass.data_bytes as f64 / 1e6 / pass.seconds,
                    (other.data_bytes as f64 / other.seconds) / (pass.data_bytes as f64 / pass.seconds),
                );
            }
        }
    }
}

/// Installs the pinned Apache Kafka (`STRAIT_KAFKA_VERSION`) if needed, saying so.
pub(super) async fn install_kafka() -> anyhow::Result<KafkaVersion> {
    let version = KafkaVersion::from_env();
    println!("installing Apache Kafka {version} (pinned, from Maven Central) if needed");
    tokio::task::spawn_blocking(move || strait_testkit::ensure_kafka_installed(version)).await??;
    Ok(version)
}

/// A one-node Apache Kafka source loaded with the bench topic.
pub(super) struct LoadedSource {
    version: KafkaVersion,
    node: Node,
    /// Records loaded.
    total: u64,
    /// Batch bytes written.
    wire_bytes: u64,
}

/// Installs Apache Kafka if needed, starts a source node and loads the bench topic, saying
/// what loading it took.
pub(super) async fn loaded_kafka_source(
    args: &BenchArgs,
    codec: Compression,
    records_per_partition: u64,
) -> anyhow::Result<LoadedSource> {
    let version = install_kafka().await?;
    let node = Node::start(Brokers::Kafka(version)).await?;
    let source = source_topic(&node.bootstrap(), args.partitions).await?;
    let (wire_bytes, seconds) = load(&source, args, codec, records_per_partition).await?;
    let total = records_per_partition * args.partitions as u64;
    println!(
        "loaded {total} {codec} records into {} in {seconds:.2} s: {:.0} MB of batches",
        node.bootstrap(),
        wire_bytes as f64 / 1e6,
    );
    Ok(LoadedSource {
        version,
        node,
        total,
        wire_bytes,
    })
}

/// Connects to the source cluster at `bootstrap` and creates the bench topic there.
async fn source_topic(bootstrap: &str, partitions: i32) -> anyhow::Result<Cluster> {
    let source = Cluster::connect(ClusterConfig::new("source", bootstrap)?).await?;
    source
        .create_topic(&NewTopic {
            configs: vec![("retention.ms".into(), "-1".into())],
            ..NewTopic::new(TOPIC, partitions)
        })
        .await
        .context("creating the source topic")?;
    Ok(source)
}

/// The mm2.properties of a one-way source->target mirror of the bench topic on one-node
/// clusters: no heartbeats, no checkpoints, replication factor 1 everywhere.
fn one_way_properties(source: &str, target: &str) -> String {
    one_way_properties_of(source, target, TOPIC)
}

/// [`one_way_properties`] of the topics `topics` (a list or a pattern).
fn one_way_properties_of(source: &str, target: &str, topics: &str) -> String {
    format!(
        "clusters = source, target\n\
         source.bootstrap.servers = {source}\n\
         target.bootstrap.servers = {target}\n\
         source->target.enabled = true\n\
         source->target.topics = {topics}\n\
         target->source.enabled = false\n\
         emit.heartbeats.enabled = false\n\
         emit.checkpoints.enabled = false\n\
         replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\n\
         config.storage.replication.factor = 1\n"
    )
}

/// Records `mirror` has acknowledged so far, all flows together (its counters).
pub(super) fn acknowledged(mirror: &Mirror) -> u64 {
    mirror.stats().iter().map(|(_, s)| s.records).sum()
}

/// The log end of each of `partitions` of `topic` on `cluster` (what the target holds so far,
/// transaction markers included), in the order asked.
pub(super) async fn log_ends(
    cluster: &Cluster,
    topic: &str,
    partitions: &[i32],
) -> anyhow::Result<Vec<i64>> {
    let listed = cluster
        .list_offsets(
            topic,
            partitions,
            OffsetSpec::Latest,
            Isolation::ReadUncommitted,
        )
        .await
        .with_context(|| format!("log ends of {topic} on {}", cluster.name()))?;
    Ok(listed.iter().map(|(_, o)| o.offset.max(0)).collect())
}

/// The sum of [`log_ends`]; 0 while the topic does not answer (not created yet, a broker down).
pub(super) async fn records_held(cluster: &Cluster, topic: &str, partitions: &[i32]) -> u64 {
    log_ends(cluster, topic, partitions)
        .await
        .map_or(0, |ends| ends.iter().sum::<i64>() as u64)
}
