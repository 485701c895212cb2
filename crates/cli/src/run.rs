//! `strait run`: mirror the flows of an mm2.properties file until stopped.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use strait_mirror::config::parse_file;
use strait_mirror::engine::{EngineOptions, Mirror};

/// Arguments of `strait run`.
#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// The MirrorMaker 2 properties file (unchanged from a Java MM2 deployment).
    config: PathBuf,
    /// Serve only flows whose target is one of these cluster aliases (like MM2's --clusters).
    #[arg(long, num_args = 1..)]
    clusters: Option<Vec<String>>,
    /// Re-encode every batch instead of forwarding it untouched (for benchmarks).
    #[arg(long, hide = true)]
    force_reencode: bool,
    /// Print per-flow counters every this many seconds (0: never).
    #[arg(long, default_value_t = 10)]
    report_every: u64,
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let config =
        parse_file(&args.config).with_context(|| format!("reading {}", args.config.display()))?;
    let flows: Vec<String> = config
        .flows
        .iter()
        .filter(|f| f.replication_enabled)
        .map(|f| format!("{}->{}", f.source, f.target))
        .collect();
    tracing::info!("mirroring {}", flows.join(", "));
    eprintln!(
        "strait: mirroring {} (Ctrl-C or SIGTERM stops cleanly)",
        flows.join(", ")
    );
    let options = EngineOptions {
        force_reencode: args.force_reencode,
        clusters: args.clusters,
    };
    let mut mirror = Mirror::start(config, options);
    let mut report = tokio::time::interval(Duration::from_secs(args.report_every.max(1)));
    report.tick().await;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            e = mirror.failed() => return Err(e.into()),
            _ = report.tick(), if args.report_every > 0 => {
                for (flow, s) in mirror.stats() {
                    eprintln!(
                        "strait: {flow}: {} partitions, {} records, {} bytes, batches {} forwarded / {} re-encoded / {} dropped",
                        s.partitions, s.records, s.bytes, s.passed_through, s.reencoded, s.dropped
                    );
                }
                for (flow, topics) in mirror.orphaned_topics() {
                    eprintln!("strait: {flow}: orphaned remote topics (source deleted, left in place): {}", topics.join(", "));
                }
            }
        }
    }
    eprintln!("strait: stopping: draining in-flight batches and storing progress");
    mirror.shutdown().await?;
    eprintln!("strait: stopped");
    Ok(())
}
