//! `strait bench`: how much CPU forwarding compressed batches untouched saves over re-encoding.
//!
//! For each codec: a fresh local noida cluster is loaded with a multi-partition topic of
//! compressed batches (pre-encoded, several idempotent producers in parallel), then the mirror
//! runs in this process twice, each time into a fresh target cluster: once forwarding batches
//! untouched (pass-through) and once decoding and re-encoding every batch. Each run is measured
//! from `Mirror::start` until the target has acknowledged every record: wall time, CPU time of
//! this process (the brokers are other processes and not counted) and peak resident memory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use strait_kafka::batch::{BatchBuilder, Compression, RawBatch, Record};
use strait_kafka::{Cluster, ClusterConfig, Isolation, NewTopic, OffsetSpec, Producer};
use strait_mirror::config::parse_str;
use strait_mirror::engine::{EngineOptions, Mirror};
use strait_testkit::{BrokerKind, TestCluster};

const TOPIC: &str = "bench";
/// Default data per codec: ~256 MB of records (noida keeps its whole log in RAM and answers
/// every fetch with the whole backlog, so this stays modest unless raised).
const DEFAULT_BYTES_PER_CODEC: u64 = 256 * 1024 * 1024;
/// Distinct pre-encoded batches per codec, cycled through while loading.
const POOL_BATCHES: usize = 8;
/// Produce requests in flight per loading producer.
const LOAD_IN_FLIGHT: usize = 16;
/// `sysconf(_SC_CLK_TCK)` on Linux.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;
/// A run fails when the target acknowledges nothing new for this long.
const STALL_LIMIT: Duration = Duration::from_secs(120);

/// Arguments of `strait bench`.
#[derive(clap::Args, Debug)]
pub(crate) struct BenchArgs {
    /// Partitions of the source topic.
    #[arg(long, default_value_t = 16)]
    partitions: i32,
    /// Records per partition [default: ~256 MB of records per codec].
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
}

fn parse_codec(s: &str) -> Result<Compression, String> {
    match Compression::from_name(s) {
        Some(Compression::None) | None => Err(format!(
            "unknown codec '{s}' (expected gzip, snappy, lz4 or zstd)"
        )),
        Some(c) => Ok(c),
    }
}

/// What one mirror run measured.
struct RunResult {
    codec: Compression,
    reencode: bool,
    records: u64,
    wire_bytes: u64,
    data_bytes: u64,
    seconds: f64,
    cpu_seconds: f64,
    peak_rss_kb: Option<u64>,
    start_rss_kb: Option<u64>,
    forwarded: u64,
    reencoded: u64,
}

impl RunResult {
    fn mode(&self) -> &'static str {
        if self.reencode {
            "re-encode"
        } else {
            "pass-through"
        }
    }

    /// CPU seconds per GB of record data (uncompressed).
    fn cpu_per_gb(&self) -> f64 {
        self.cpu_seconds / (self.data_bytes as f64 / 1e9)
    }
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.partitions < 1 || args.batch_records < 1 || args.producers < 1 {
        bail!("--partitions, --batch-records and --producers must be at least 1");
    }
    let codecs = if args.codecs.is_empty() {
        vec![Compression::Lz4, Compression::Zstd]
    } else {
        args.codecs.clone()
    };
    let records_per_partition = args.records_per_partition.unwrap_or_else(|| {
        (DEFAULT_BYTES_PER_CODEC / args.partitions as u64 / args.record_bytes.max(1) as u64).max(1)
    });
    let total = records_per_partition * args.partitions as u64;
    println!(
        "strait bench: {} partitions x {records_per_partition} records of {} bytes = {total} records \
         ({:.0} MB) per codec; codecs {}; mirror runs: pass-through, re-encode",
        args.partitions,
        args.record_bytes,
        (total * args.record_bytes as u64) as f64 / 1e6,
        codecs.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
    );
    println!("installing test brokers (pinned, from PyPI) if needed");
    tokio::task::spawn_blocking(strait_testkit::ensure_installed).await??;

    let mut results = Vec::new();
    for &codec in &codecs {
        let source_node = start_noida().await?;
        let source =
            Cluster::connect(ClusterConfig::new("source", &source_node.bootstrap())?).await?;
        source
            .create_topic(&NewTopic {
                configs: vec![("retention.ms".into(), "-1".into())],
                ..NewTopic::new(TOPIC, args.partitions)
            })
            .await
            .context("creating the source topic")?;
        let (wire_bytes, seconds) = load(&source, &args, codec, records_per_partition).await?;
        println!(
            "loaded {total} {codec} records into {} in {seconds:.2} s: {:.0} MB of batches \
             (compression ratio {:.2})",
            source_node.bootstrap(),
            wire_bytes as f64 / 1e6,
            (total * args.record_bytes as u64) as f64 / wire_bytes as f64,
        );
        for reencode in [false, true] {
            let result = mirror_once(&source_node, &args, codec, reencode, total).await?;
            results.push(result);
        }
    }
    print_table(&results);
    Ok(())
}

async fn start_noida() -> anyhow::Result<TestCluster> {
    Ok(tokio::task::spawn_blocking(|| TestCluster::start(BrokerKind::Noida)).await??)
}

/// Loads the source topic; returns the batch bytes written and the seconds it took.
async fn load(
    source: &Cluster,
    args: &BenchArgs,
    codec: Compression,
    records_per_partition: u64,
) -> anyhow::Result<(u64, f64)> {
    let per_batch = args.batch_records as u64;
    let full_batches = records_per_partition / per_batch;
    let tail_records = records_per_partition % per_batch;
    let encoding = Instant::now();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d ^ codec as u64);
    let pool: Vec<RawBatch> = (0..POOL_BATCHES.min(full_batches.max(1) as usize))
        .map(|_| encode_batch(&mut rng, codec, args.batch_records, args.record_bytes))
        .collect::<Result<_, _>>()?;
    let tail = (tail_records > 0)
        .then(|| encode_batch(&mut rng, codec, tail_records as usize, args.record_bytes))
        .transpose()?;
    let pool = Arc::new(pool);
    let tail = Arc::new(tail);
    println!(
        "loading {codec}: {} distinct batches of {} records pre-encoded in {:.2} s \
         ({} bytes each on average), {} producers",
        pool.len(),
        args.batch_records,
        encoding.elapsed().as_secs_f64(),
        pool.iter().map(RawBatch::len).sum::<usize>() / pool.len().max(1),
        args.producers,
    );

    let total = records_per_partition * args.partitions as u64;
    let done = Arc::new(AtomicU64::new(0));
    let wire = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.producers.min(args.partitions as usize) {
        let producer = Producer::idempotent(source).await?;
        let partitions: Vec<i32> = (0..args.partitions)
            .filter(|p| *p as usize % args.producers == i)
            .collect();
        let (pool, tail, done, wire) = (pool.clone(), tail.clone(), done.clone(), wire.clone());
        tasks.spawn(async move {
            let mut in_flight = VecDeque::new();
            let rounds = full_batches + u64::from(tail.is_some());
            for round in 0..rounds {
                for &p in &partitions {
                    let batch = if round < full_batches {
                        &pool[(round as usize + p as usize) % pool.len()]
                    } else {
                        tail.as_ref().as_ref().expect("tail round only with a tail")
                    };
                    in_flight.push_back(producer.submit(TOPIC, p, batch).await?);
                    while in_flight.len() >= LOAD_IN_FLIGHT {
                        settle(in_flight.pop_front(), &done, &wire).await?;
                    }
                }
            }
            while !in_flight.is_empty() {
                settle(in_flight.pop_front(), &done, &wire).await?;
            }
            anyhow::Ok(())
        });
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            finished = tasks.join_next() => match finished {
                Some(result) => result?.context("loading the source topic")?,
                None => break,
            },
            _ = tick.tick() => {
                let n = done.load(Ordering::Relaxed);
                println!(
                    "  loading {codec}: {n} / {total} records ({:.0}%), {:.0} MB/s of batches",
                    100.0 * n as f64 / total as f64,
                    wire.load(Ordering::Relaxed) as f64 / 1e6 / started.elapsed().as_secs_f64(),
                );
            }
        }
    }
    Ok((
        wire.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    ))
}

async fn settle(
    sent: Option<strait_kafka::InFlightBatch<'_>>,
    done: &AtomicU64,
    wire: &AtomicU64,
) -> anyhow::Result<()> {
    if let Some(sent) = sent {
        let (records, bytes) = (
            sent.batch().record_count() as u64,
            sent.batch().len() as u64,
        );
        sent.wait().await?;
        done.fetch_add(records, Ordering::Relaxed);
        wire.fetch_add(bytes, Ordering::Relaxed);
    }
    Ok(())
}

/// Mirrors the loaded topic once into a fresh target cluster and measures it.
async fn mirror_once(
    source_node: &TestCluster,
    args: &BenchArgs,
    codec: Compression,
    reencode: bool,
    total: u64,
) -> anyhow::Result<RunResult> {
    let mode = if reencode {
        "re-encode"
    } else {
        "pass-through"
    };
    let target_node = start_noida().await?;
    let properties = format!(
        "clusters = source, target\n\
         source.bootstrap.servers = {}\n\
         target.bootstrap.servers = {}\n\
         source->target.enabled = true\n\
         source->target.topics = {TOPIC}\n\
         target->source.enabled = false\n\
         emit.heartbeats.enabled = false\n\
         emit.checkpoints.enabled = false\n\
         replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\n\
         config.storage.replication.factor = 1\n",
        source_node.bootstrap(),
        target_node.bootstrap(),
    );
    let config = parse_str(&properties).context("the bench's mm2.properties")?;
    println!(
        "mirroring {codec} {mode}: {} -> {} (fresh target)",
        source_node.bootstrap(),
        target_node.bootstrap()
    );

    let hwm_reset = reset_peak_rss();
    let start_rss_kb = proc_status_kb("VmRSS");
    let cpu_before = cpu_seconds()?;
    let started = Instant::now();
    let mut mirror = Mirror::start(
        config,
        EngineOptions {
            force_reencode: reencode,
            clusters: None,
        },
    );
    let mut last_report = Instant::now();
    let mut last_progress = (0, Instant::now());
    let snapshot = loop {
        tokio::select! {
            e = mirror.failed() => return Err(anyhow::Error::new(e).context(format!("mirroring {codec} {mode}"))),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        let stats = mirror.stats();
        let records: u64 = stats.iter().map(|(_, s)| s.records).sum();
        if records >= total {
            break stats;
        }
        if records > last_progress.0 {
            last_progress = (records, Instant::now());
        } else if last_progress.1.elapsed() > STALL_LIMIT {
            bail!("mirroring {codec} {mode}: stalled at {records} of {total} records for {STALL_LIMIT:?}");
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            println!(
                "  mirroring {codec} {mode}: {records} / {total} records ({:.0}%)",
                100.0 * records as f64 / total as f64
            );
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds()? - cpu_before;
    let peak_rss_kb = proc_status_kb("VmHWM");
    if !hwm_reset {
        eprintln!("  note: could not reset the peak RSS (/proc/self/clear_refs); it covers the whole process");
    }
    mirror.shutdown().await.context("stopping the mirror")?;

    let records: u64 = snapshot.iter().map(|(_, s)| s.records).sum();
    let target = Cluster::connect(ClusterConfig::new("target", &target_node.bootstrap())?).await?;
    let remote = format!("source.{TOPIC}");
    target.refresh_metadata().await?;
    let latest = target
        .list_offsets(
            &remote,
            &(0..args.partitions).collect::<Vec<_>>(),
            OffsetSpec::Latest,
            Isolation::ReadUncommitted,
        )
        .await
        .with_context(|| format!("listing offsets of {remote} on the target"))?;
    let on_target: i64 = latest.iter().map(|(_, o)| o.offset).sum();
    if on_target as u64 != total {
        println!(
            "  warning: the target topic {remote} holds {on_target} records, loaded were {total}"
        );
    }
    drop(target);
    drop(target_node);
    Ok(RunResult {
        codec,
        reencode,
        records,
        wire_bytes: snapshot.iter().map(|(_, s)| s.bytes).sum(),
        data_bytes: records * args.record_bytes as u64,
        seconds,
        cpu_seconds: cpu,
        peak_rss_kb,
        start_rss_kb,
        forwarded: snapshot.iter().map(|(_, s)| s.passed_through).sum(),
        reencoded: snapshot.iter().map(|(_, s)| s.reencoded).sum(),
    })
}

fn print_table(results: &[RunResult]) {
    let mb = |kb: Option<u64>| kb.map_or("?".to_owned(), |kb| format!("{} MB", kb / 1024));
    println!();
    println!(
        "strait bench results (CPU: this process only, the brokers excluded; \
         GB = 1e9 bytes of record values, uncompressed)"
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
            r.mode(),
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
         VmHWM, reset before each run (RSS before: at that reset). noida answers each fetch with \
         a partition's whole backlog (it ignores max_bytes), which the peak reflects."
    );
    println!();
    for pair in results.chunks(2) {
        if let [pass, re] = pair {
            if !pass.reencode && re.reencode && pass.cpu_seconds > 0.0 {
                println!(
                    "{}: re-encode / pass-through CPU per GB = {:.2} / {:.2} = {:.1}x",
                    pass.codec.name(),
                    re.cpu_per_gb(),
                    pass.cpu_per_gb(),
                    re.cpu_per_gb() / pass.cpu_per_gb()
                );
            }
        }
    }
}

/// utime + stime of this process, in seconds.
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(n - 3)
            .with_context(|| format!("/proc/self/stat lacks field {n}"))?
            .parse::<u64>()? as f64)
    };
    Ok((field(14)? + field(15)?) / CLOCK_TICKS_PER_SECOND)
}

/// A `kB` value of /proc/self/status, e.g. VmHWM.
fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A batch of `count` records with JSON-like values of `bytes` bytes.
fn encode_batch(
    rng: &mut XorShift,
    codec: Compression,
    count: usize,
    bytes: usize,
) -> anyhow::Result<RawBatch> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let records = (0..count)
        .map(|i| {
            let id = rng.next();
            Record {
                offset: i as i64,
                timestamp: now + i as i64,
                key: Some(Bytes::from(format!("user-{:06}", id % 1_000_000))),
                value: Some(Bytes::from(event_value(rng, id, bytes))),
                headers: vec![],
            }
        })
        .collect();
    Ok(BatchBuilder {
        compression: codec,
        records,
        ..BatchBuilder::default()
    }
    .encode()?)
}

/// A JSON-like event of exactly `bytes` bytes: fixed field names, varying numbers and words.
fn event_value(rng: &mut XorShift, id: u64, bytes: usize) -> Vec<u8> {
    const WORDS: [&str; 24] = [
        "order",
        "shipped",
        "customer",
        "payment",
        "refund",
        "warehouse",
        "berlin",
        "lisbon",
        "express",
        "standard",
        "pending",
        "confirmed",
        "cart",
        "checkout",
        "coupon",
        "basket",
        "invoice",
        "delivery",
        "parcel",
        "return",
        "review",
        "rating",
        "mobile",
        "desktop",
    ];
    let mut v = format!(
        "{{\"id\":{id},\"user\":\"user-{:06}\",\"event\":\"{}\",\"amount\":{}.{:02},\"ts\":{},\"note\":\"",
        id % 1_000_000,
        WORDS[(id % 24) as usize],
        rng.next() % 10_000,
        rng.next() % 100,
        1_700_000_000_000 + rng.next() % 100_000_000,
    )
    .into_bytes();
    while v.len() + 2 < bytes {
        let word = WORDS[(rng.next() % WORDS.len() as u64) as usize];
        v.extend_from_slice(word.as_bytes());
        v.push(b' ');
    }
    v.truncate(bytes.saturating_sub(2));
    v.extend_from_slice(b"\"}");
    v.truncate(bytes);
    v
}

/// xorshift64*: deterministic, dependency-free filler.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
