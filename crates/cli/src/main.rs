//! The `strait` command line.

mod bench;
mod demo;
mod failover;
mod inspect;
mod offsets;
mod run;

use clap::{Parser, Subcommand};

/// strait mirrors Kafka topics between clusters: a drop-in replacement for MirrorMaker 2 that
/// forwards compressed record batches untouched.
#[derive(Parser, Debug)]
#[command(
    name = "strait",
    version,
    about,
    after_help = "Examples:\n  strait run mm2.properties              # mirror like MirrorMaker 2 would\n  strait demo                           # two local clusters, batches moved between them\n  strait cluster 127.0.0.1:9092         # brokers, topics, leaders and offsets of a cluster\n  strait failover status mm2.properties # safe to cut over? lag per partition\n  strait offsets apply mm2.properties --flow a->b --group g --execute  # move a group\n\nLogs: set RUST_LOG (e.g. RUST_LOG=strait=debug)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Mirror the flows of an unchanged MirrorMaker 2 properties file until stopped.
    #[command(
        after_help = "Examples:\n  strait run mm2.properties\n  strait run mm2.properties --clusters backup\n\nSIGTERM or Ctrl-C stops fetching, waits for in-flight batches, stores progress and exits 0."
    )]
    Run(run::RunArgs),
    /// Start two local Kafka-protocol clusters and move sample data between them.
    #[command(
        after_help = "Examples:\n  strait demo\n  strait demo --broker tansu --records 1000"
    )]
    Demo(demo::DemoArgs),
    /// Measure mirroring throughput and CPU: batches forwarded untouched vs re-encoded.
    #[command(
        after_help = "Examples:\n  strait bench\n  strait bench --records-per-partition 4000 --codec zstd\n\nStarts local noida clusters; CPU is this process only (brokers excluded)."
    )]
    Bench(bench::BenchArgs),
    /// Show a cluster's brokers, topics, partitions, leaders and offsets.
    #[command(
        after_help = "Examples:\n  strait cluster 127.0.0.1:9092\n  strait cluster broker1:9092,broker2:9092 --topic orders"
    )]
    Cluster(inspect::ClusterArgs),
    /// Translate consumer group offsets to the other cluster and commit them there (failover,
    /// failback).
    #[command(
        subcommand,
        after_help = "Examples:\n  strait offsets translate mm2.properties --flow primary->backup --group orders-app\n  strait offsets apply mm2.properties --flow primary->backup --group orders-app --execute"
    )]
    Offsets(offsets::OffsetsCommand),
    /// Is it safe to fail over now? Replication lag and heartbeat age per flow and partition.
    #[command(
        subcommand,
        after_help = "Examples:\n  strait failover status mm2.properties\n  strait failover status mm2.properties --flow primary->backup --json"
    )]
    Failover(failover::FailoverCommand),
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Run(args) => run::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Cluster(args) => inspect::run(args).await,
        Command::Offsets(command) => offsets::run(command).await,
        Command::Failover(command) => failover::run(command).await,
    }
}
