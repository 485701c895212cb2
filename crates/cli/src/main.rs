//! The `strait` command line.

mod bench;
mod client;
mod control;
mod demo;
mod failover;
mod inspect;
mod offsets;
mod run;
mod schemas;
mod serve;
mod status;

use clap::{Parser, Subcommand};

/// strait mirrors Kafka topics between clusters: a drop-in replacement for MirrorMaker 2 that
/// forwards compressed record batches untouched.
#[derive(Parser, Debug)]
#[command(
    name = "strait",
    version,
    about,
    after_help = "Examples:\n  strait run mm2.properties              # mirror like MirrorMaker 2 would\n  strait demo                           # two local clusters, batches moved between them\n  strait cluster 127.0.0.1:9092         # brokers, topics, leaders and offsets of a cluster\n  strait status                         # flows, lag and errors of a running strait\n  strait failover status mm2.properties # safe to cut over? lag per partition\n  strait offsets apply mm2.properties --flow 'a->b' --group g --execute  # move a group\n\nLogs: --log-level or RUST_LOG (e.g. RUST_LOG=strait_mirror=debug); --log-format json for one JSON object per line."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr: human (default) or json (one JSON object per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "STRAIT_LOG_FORMAT")]
    log_format: LogFormat,
    /// Log filter, e.g. info or warn,strait_mirror=debug (overrides RUST_LOG; default info).
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,
}

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line (timestamp, level, target, fields, message).
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Mirror the flows of an unchanged MirrorMaker 2 properties file until stopped.
    #[command(
        after_help = "Examples:\n  strait run mm2.properties\n  strait run mm2.properties --clusters backup\n  strait --log-format json run mm2.properties --http-listen 0.0.0.0:9464\n\nSIGTERM or Ctrl-C stops fetching, waits for in-flight batches, stores progress and exits 0.\nMetrics and the REST API: http://127.0.0.1:9464/metrics by default (strait.http.* keys); `strait status` reads them."
    )]
    Run(run::RunArgs),
    /// Start two local Kafka-protocol clusters and move sample data between them.
    #[command(
        after_help = "Examples:\n  strait demo                         # on noida (from PyPI): quick\n  strait demo --kafka                 # on Apache Kafka (from Maven Central; Java 17+, mvn)\n  strait demo --broker tansu --records 1000"
    )]
    Demo(demo::DemoArgs),
    /// Measure mirroring throughput and CPU: batches forwarded untouched vs re-encoded.
    #[command(
        after_help = "Examples:\n  strait bench\n  strait bench --records-per-partition 4000 --codec zstd\n  strait bench --on kafka                    # pass-through vs re-encode per codec on Apache Kafka\n  strait bench --against mm2                 # the real MirrorMaker 2 beside strait, lz4/zstd/none\n  strait bench --members 3                   # one flow shared by 1, 2 and 3 processes (its group)\n  strait bench --exactly-once --codec lz4    # what transactions cost, on Apache Kafka\n  strait bench --throttle 20000000           # one of two flows held to 20 MB/s, the other not\n  strait bench --wan 100                     # the source 100 ms RTT away (a delay proxy) vs 0 ms\n  strait bench --latency 1000                # end-to-end p50/p99 at 1,000 records/s vs two hops\n  strait bench --wide 10000 --on tansu       # one topic of 10,000 partitions: catch-up, RSS, new topics\n  strait bench --outage 20                   # the target down for 20 s: strait's memory meanwhile\n\nWithout a scenario: local noida clusters (--on kafka: Apache Kafka), pass-through vs\nre-encode, CPU of this process only.\nWith --exactly-once: Apache Kafka, idempotent pass-through vs exactly-once, CPU of this process.\nWith --against mm2: Apache Kafka and MM2 from Maven Central (needs Java 17 and mvn), each\nmirror its own process, CPU and peak RSS of that process; brokers are never counted."
    )]
    Bench(bench::BenchArgs),
    /// Show a cluster's brokers, topics, partitions, leaders and offsets.
    #[command(
        after_help = "Examples:\n  strait cluster 127.0.0.1:9092\n  strait cluster broker1:9092,broker2:9092 --topic orders\n  strait cluster backup:9092 --json   # with the replication view MM2's MirrorClient gives\n\nThe replication view lists upstream clusters (and hops), heartbeat, checkpoint and remote\ntopics exactly as RemoteClusterUtils/MirrorClient answer them (--replication-policy-* as in mm2.properties)."
    )]
    Cluster(inspect::ClusterArgs),
    /// Show the flows, lag and last errors of a running strait (from its REST API).
    #[command(
        after_help = "Examples:\n  strait status\n  strait status --json\n  strait status --url http://10.0.0.7:9464 --token-file /etc/strait/token\n  strait status --watch 2      # refresh every 2 s; progress bars on a terminal\n\nThe running strait must serve HTTP (strait.http.enabled, default on 127.0.0.1:9464)."
    )]
    Status(status::StatusArgs),
    /// Pause a flow (or one topic of it) of a running strait: nothing more is produced.
    #[command(
        after_help = "Examples:\n  strait pause 'primary->backup'\n  strait pause 'primary->backup' --topic orders\n\nLag keeps being reported while paused; `strait resume` continues exactly where it stopped."
    )]
    Pause(control::PauseArgs),
    /// Resume a paused flow or topic of a running strait.
    #[command(
        after_help = "Examples:\n  strait resume 'primary->backup'\n  strait resume 'primary->backup' --topic orders"
    )]
    Resume(control::PauseArgs),
    /// Ask a running strait to look for new topics and partitions of a flow now.
    #[command(after_help = "Examples:\n  strait refresh 'primary->backup'")]
    Refresh(control::RefreshArgs),
    /// Translate consumer group offsets to the other cluster and commit them there (failover,
    /// failback).
    #[command(
        subcommand,
        after_help = "Examples:\n  strait offsets translate mm2.properties --flow 'primary->backup' --group orders-app\n  strait offsets apply mm2.properties --flow 'primary->backup' --group orders-app --execute"
    )]
    Offsets(offsets::OffsetsCommand),
    /// Is it safe to fail over now? Replication lag and heartbeat age per flow and partition.
    #[command(
        subcommand,
        after_help = "Examples:\n  strait failover status mm2.properties\n  strait failover status mm2.properties --flow 'primary->backup' --json"
    )]
    Failover(failover::FailoverCommand),
    /// Sync a flow's Schema Registry subjects, versions and compatibility levels now.
    #[command(
        subcommand,
        after_help = "Examples:\n  strait schemas sync mm2.properties\n  strait schemas sync mm2.properties --flow 'primary->backup' --json"
    )]
    Schemas(schemas::SchemasCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strait: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.log_level.as_deref())?;
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Cluster(args) => inspect::run(args).await,
        Command::Status(args) => status::run(args).await,
        Command::Pause(args) => control::pause(args, true).await,
        Command::Resume(args) => control::pause(args, false).await,
        Command::Refresh(args) => control::refresh(args).await,
        Command::Offsets(command) => offsets::run(command).await,
        Command::Failover(command) => failover::run(command).await,
        Command::Schemas(command) => schemas::run(command).await,
    }
}

/// Whether logs are JSON: operator messages then go through tracing, not plain stderr lines.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tells the operator something: a `strait: ...` line on stderr, or a JSON log line with
/// `--log-format json` so log shippers see only JSON.
pub(crate) fn say(message: &str) {
    if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::info!(target: "strait", "{message}");
    } else {
        eprintln!("strait: {message}");
    }
}

/// Logs to stderr: `--log-level`, else `RUST_LOG`, else `info` (one line per significant
/// event: flow started, topic created, config synced, partition paused, errors).
fn init_logging(format: LogFormat, level: Option<&str>) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).map_err(|e| anyhow::anyhow!("--log-level {l}: {e}"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => {
            JSON_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
            builder.json().flatten_event(true).init()
        }
    }
    Ok(())
}
