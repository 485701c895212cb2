//! `strait bench --against mm2`: the real MirrorMaker 2 (dedicated mode) and strait mirror the
//! same data between the same Apache Kafka clusters, one after the other, each as a process of
//! its own on the same mm2.properties (MM2 tuned as Kafka's geo-replication docs advise:
//! several tasks, producer batching and linger, the codec of the data, big fetches).
//!
//! Each run goes into a fresh target cluster and is measured from its first record on the target
//! to its last: records per second, CPU seconds of the mirror process per GB of record data,
//! and its peak resident memory. Brokers are other processes and not counted; start-up (the
//! JVM, Connect, strait's own) is shown apart.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use strait_kafka::batch::Compression;
use strait_kafka::{Cluster, ClusterConfig};
use strait_testkit::{
    JvmProfile, KafkaCluster, KafkaOptions, KafkaVersion, Mm2Options, Mm2Process,
};

use super::procstat::{cpu_seconds, status_kb};
use super::{load, one_way_properties, records_held, source_topic, BenchArgs, STALL_LIMIT, TOPIC};

/// Heap of the MM2 JVM: `connect-mirror-maker.sh`'s `-Xmx2G`. (With 1 GiB, MM2 4.3.1 ran out
/// of heap mirroring uncompressed 1 KiB records with 4 tasks.)
const MM2_HEAP_MB: u32 = 2048;

/// Which mirror a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mirror {
    Strait,
    Mm2,
}

impl Mirror {
    fn name(self) -> &'static str {
        match self {
            Mirror::Strait => "strait",
            Mirror::Mm2 => "MM2",
        }
    }
}

/// A running mirror process.
enum Running {
    Strait(Child),
    Mm2(Box<Mm2Process>),
}

impl Running {
    fn pid(&self) -> Option<u32> {
        match self {
            Running::Strait(child) => Some(child.id()),
            Running::Mm2(mm2) => mm2.pid(),
        }
    }

    /// What the mirror logged.
    fn log(&self, dir: &Path) -> String {
        match self {
            Running::Strait(_) => {
                std::fs::read_to_string(dir.join("strait.log")).unwrap_or_default()
            }
            Running::Mm2(mm2) => mm2.logs(),
        }
    }

    fn stop(self) {
        match self {
            Running::Strait(child) => stop_strait(child),
            Running::Mm2(mut mm2) => {
                mm2.stop();
            }
        }
    }
}

/// What one run measured.
struct Measured {
    codec: Compression,
    mirror: Mirror,
    /// Records that arrived while measured (after the first poll that saw any).
    records: u64,
    /// Wall seconds those took.
    seconds: f64,
    /// CPU seconds of the mirror process over the same span.
    cpu_seconds: f64,
    /// CPU seconds of the mirror process from its start to the first poll that saw a record.
    startup_cpu_seconds: f64,
    peak_rss_kb: Option<u64>,
    record_bytes: usize,
}

impl Measured {
    fn data_gb(&self) -> f64 {
        self.records as f64 * self.record_bytes as f64 / 1e9
    }

    fn cpu_per_gb(&self) -> f64 {
        self.cpu_seconds / self.data_gb()
    }

    fn mb_per_s(&self) -> f64 {
        self.data_gb() * 1e3 / self.seconds
    }
}

pub(super) async fn run(
    args: &BenchArgs,
    codecs: &[Compression],
    records_per_partition: u64,
) -> anyhow::Result<()> {
    let version = KafkaVersion::from_env();
    println!(
        "installing Apache Kafka {version} and MirrorMaker 2 (pinned, from Maven Central) if needed"
    );
    tokio::task::spawn_blocking(move || strait_testkit::ensure_kafka_installed(version)).await??;
    let total = records_per_partition * args.partitions as u64;
    let mut results = Vec::new();
    for &codec in codecs {
        let source_node = start_kafka(version).await?;
        let source = source_topic(&source_node.bootstrap(), args.partitions).await?;
        let (wire_bytes, seconds) = load(&source, args, codec, records_per_partition).await?;
        println!(
            "loaded {total} {} records into Kafka {} in {seconds:.2} s: {:.0} MB of batches",
            codec.name(),
            source_node.bootstrap(),
            wire_bytes as f64 / 1e6,
        );
        for mirror in [Mirror::Strait, Mirror::Mm2] {
            let target_node = start_kafka(version).await?;
            let measured = mirror_once(
                mirror,
                version,
                &source_node,
                &target_node,
                args,
                codec,
                total,
            )
            .await?;
            results.push(measured);
        }
    }
    print_table(version, &results);
    Ok(())
}

/// A one-node Apache Kafka cluster tuned for benchmarks.
pub(super) async fn start_kafka(version: KafkaVersion) -> anyhow::Result<KafkaCluster> {
    let options = KafkaOptions::default().version(version).for_bench();
    Ok(tokio::task::spawn_blocking(move || KafkaCluster::start(options)).await??)
}

/// The one mm2.properties both mirrors run on.
fn properties(
    source: &KafkaCluster,
    target: &KafkaCluster,
    args: &BenchArgs,
    codec: Compression,
) -> String {
    let codec = codec.name();
    let tasks = args.partitions.clamp(1, 4);
    let base = one_way_properties(&source.bootstrap(), &target.bootstrap());
    format!(
        "{base}\
         sync.topic.acls.enabled = false\n\
         refresh.topics.interval.seconds = 1\n\
         # MM2's tuning: tasks, producer batching and linger, the data's codec, big fetches\n\
         tasks.max = {tasks}\n\
         target.producer.compression.type = {codec}\n\
         target.producer.batch.size = 524288\n\
         target.producer.linger.ms = 10\n\
         target.producer.buffer.memory = 67108864\n\
         source.consumer.fetch.max.bytes = 16777216\n\
         source.consumer.max.partition.fetch.bytes = 4194304\n\
         source.consumer.max.poll.records = 2000\n"
    )
}

async fn mirror_once(
    mirror: Mirror,
    version: KafkaVersion,
    source: &KafkaCluster,
    target_node: &KafkaCluster,
    args: &BenchArgs,
    codec: Compression,
    total: u64,
) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir().context("a temp dir for the bench's mm2.properties")?;
    let text = properties(source, target_node, args, codec);
    let config = dir.path().join("mm2.properties");
    std::fs::write(&config, &text).with_context(|| format!("writing {}", config.display()))?;
    println!(
        "mirroring {} with {}: {} -> {} (fresh target)",
        codec.name(),
        mirror.name(),
        source.bootstrap(),
        target_node.bootstrap()
    );
    let running = match mirror {
        Mirror::Strait => Running::Strait(spawn_strait(&config, dir.path())?),
        Mirror::Mm2 => {
            let options = Mm2Options {
                version,
                profile: JvmProfile::Bench,
                heap_mb: MM2_HEAP_MB,
                ..Mm2Options::default()
            };
            let mm2 =
                tokio::task::spawn_blocking(move || Mm2Process::start(&text, options)).await??;
            Running::Mm2(Box::new(mm2))
        }
    };
    let pid = running.pid().context("the mirror process has no pid")?;
    let target = Cluster::connect(ClusterConfig::new("target", &target_node.bootstrap())?).await?;
    let result = watch(mirror, codec, pid, &target, args.partitions, total).await;
    let peak_rss_kb = status_kb(Some(pid), "VmHWM");
    if result.is_err() {
        let text = running.log(dir.path());
        let kept = std::env::temp_dir().join(format!("strait-bench-{}.log", mirror.name()));
        let _ = std::fs::write(&kept, &text);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("Exception"))
            .collect();
        println!(
            "{} warnings and errors (last 20; its whole log is kept at {}):\n{}",
            mirror.name(),
            kept.display(),
            lines[lines.len().saturating_sub(20)..].join("\n")
        );
    }
    tokio::task::spawn_blocking(move || running.stop()).await?;
    let watched = result?;
    Ok(Measured {
        codec,
        mirror,
        records: watched.records,
        seconds: watched.seconds,
        cpu_seconds: watched.cpu_seconds,
        startup_cpu_seconds: watched.startup_cpu_seconds,
        peak_rss_kb,
        record_bytes: args.record_bytes,
    })
}

/// Stops a `strait run` with SIGTERM, killing it if it has not exited within 30 s.
pub(super) fn stop_strait(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `strait run` of this binary, its output in `dir`.
pub(super) fn spawn_strait(config: &Path, dir: &Path) -> anyhow::Result<Child> {
    let log = std::fs::File::create(dir.join("strait.log"))?;
    let exe = std::env::current_exe().context("locating the strait binary")?;
    Command::new(exe)
        .args(["--log-level", "warn", "run"])
        .arg(config)
        .args(["--http-listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .context("starting strait run")
}

/// What a run's watcher saw: the records that arrived after the first poll that saw any, and
/// the wall and CPU seconds they took; the CPU seconds before that first poll.
struct Watched {
    records: u64,
    seconds: f64,
    cpu_seconds: f64,
    startup_cpu_seconds: f64,
}

/// Polls the target every 100 ms until it holds `total` records.
async fn watch(
    mirror: Mirror,
    codec: Compression,
    pid: u32,
    target: &Cluster,
    partitions: i32,
    total: u64,
) -> anyhow::Result<Watched> {
    let remote = format!("source.{TOPIC}");
    let all: Vec<i32> = (0..partitions).collect();
    let mut first: Option<(Instant, f64, u64)> = None;
    let (mut last_count, mut last_change) = (0, Instant::now());
    let mut last_report = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let count = records_held(target, &remote, &all).await;
        let now = Instant::now();
        let cpu = cpu_seconds(Some(pid))
            .with_context(|| format!("{} exited before mirroring everything", mirror.name()))?;
        if count > 0 && first.is_none() {
            first = Some((now, cpu, count));
        }
        if count >= total {
            let (t0, cpu0, c0) = first.expect("set at the first record");
            if (count - c0) * 2 < count {
                bail!(
                    "{}: the run was too short to measure ({c0} of {count} records arrived before \
                     the first poll); load more with --records-per-partition",
                    mirror.name()
                );
            }
            return Ok(Watched {
                records: count - c0,
                seconds: now.duration_since(t0).as_secs_f64(),
                cpu_seconds: cpu - cpu0,
                startup_cpu_seconds: cpu0,
            });
        }
        if count > last_count {
            (last_count, last_change) = (count, now);
        } else if last_change.elapsed() > STALL_LIMIT {
            bail!(
                "{} mirroring {}: stalled at {count} of {total} records for {STALL_LIMIT:?}",
                mirror.name(),
                codec.name()
            );
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            last_report = now;
            println!(
                "  {} {}: {count} / {total} records ({:.0}%)",
                mirror.name(),
                codec.name(),
                100.0 * count as f64 / total as f64
            );
        }
    }
}

fn print_table(version: KafkaVersion, results: &[Measured]) {
    let mb = |kb: Option<u64>| kb.map_or("?".to_owned(), |kb| format!("{} MB", kb / 1024));
    println!();
    println!(
        "strait bench --against mm2 (Apache Kafka and MirrorMaker 2 {version}; each mirror its own \
         process, measured from its first record on the target to the last; GB = 1e9 bytes of \
         record values, uncompressed; brokers not counted)"
    );
    println!(
        "{:<6} {:<7} {:>9} {:>7} {:>10} {:>8} {:>9} {:>12} {:>9}",
        "codec",
        "mirror",
        "records",
        "secs",
        "MB/s data",
        "CPU s",
        "CPU s/GB",
        "start-up CPU",
        "peak RSS"
    );
    for r in results {
        println!(
            "{:<6} {:<7} {:>9} {:>7.2} {:>10.1} {:>8.2} {:>9.2} {:>12.2} {:>9}",
            r.codec.name(),
            r.mirror.name(),
            r.records,
            r.seconds,
            r.mb_per_s(),
            r.cpu_seconds,
            r.cpu_per_gb(),
            r.startup_cpu_seconds,
            mb(r.peak_rss_kb),
        );
    }
    println!();
    for pair in results.chunks(2) {
        if let [ours, theirs] = pair {
            let rss = match (ours.peak_rss_kb, theirs.peak_rss_kb) {
                (Some(a), Some(b)) if a > 0 => format!("{:.1}x", b as f64 / a as f64),
                _ => "?".into(),
            };
            println!(
                "{}: MM2 / strait: CPU per GB {:.2} / {:.2} = {:.1}x; throughput {:.1} / {:.1} MB/s = {:.2}x; peak RSS {rss}",
                ours.codec.name(),
                theirs.cpu_per_gb(),
                ours.cpu_per_gb(),
                theirs.cpu_per_gb() / ours.cpu_per_gb(),
                theirs.mb_per_s(),
                ours.mb_per_s(),
                theirs.mb_per_s() / ours.mb_per_s(),
            );
        }
    }
}
