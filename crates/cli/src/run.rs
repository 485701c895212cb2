//! `strait run`: mirror the flows of an mm2.properties file until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use strait_mirror::config::{parse_file, ObserveConfig, HTTP_TOKEN_FILE};
use strait_mirror::engine::{EngineOptions, Mirror};
use strait_mirror::metrics::PartitionLabels;
use tokio::sync::watch;

use crate::serve::{serve, ServeState};

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
    /// Serve the REST API and /metrics on this address (overrides strait.http.listen).
    #[arg(long, value_name = "ADDR")]
    http_listen: Option<SocketAddr>,
    /// Do not serve the REST API and /metrics (overrides strait.http.enabled).
    #[arg(long, conflicts_with = "http_listen")]
    no_http: bool,
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
    crate::say(&format!(
        "mirroring {} (Ctrl-C or SIGTERM stops cleanly)",
        flows.join(", ")
    ));
    let options = EngineOptions {
        force_reencode: args.force_reencode,
        clusters: args.clusters.clone(),
    };
    let observe = ObserveConfig::from_properties(&config.properties)?;
    let mirror = Mirror::start(config, options);
    let (stop_http, http_stopped) = watch::channel(false);
    let http = match start_http(&args, &observe, &mirror, http_stopped).await {
        Ok(http) => http,
        Err(e) => {
            mirror.shutdown().await?;
            return Err(e);
        }
    };
    let mut mirror = mirror;
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
                    crate::say(&format!("{flow}: {} partitions, {} records, {} bytes, batches {} forwarded / {} re-encoded / {} dropped",
                        s.partitions, s.records, s.bytes, s.passed_through, s.reencoded, s.dropped
                    ));
                }
                for (flow, topics) in mirror.orphaned_topics() {
                    crate::say(&format!("{flow}: orphaned remote topics (source deleted, left in place): {}", topics.join(", ")));
                }
            }
        }
    }
    crate::say("stopping: draining in-flight batches and storing progress");
    mirror.shutdown().await?;
    let _ = stop_http.send(true);
    if let Some(task) = http {
        let _ = task.await;
    }
    crate::say("stopped");
    Ok(())
}

/// Starts the HTTP listener unless disabled. A busy default port is a warning (several strait
/// processes on one host); a busy configured address is an error.
async fn start_http(
    args: &RunArgs,
    observe: &ObserveConfig,
    mirror: &Mirror,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if args.no_http || !observe.http_enabled {
        return Ok(None);
    }
    let addr = args.http_listen.unwrap_or(observe.http_listen);
    let explicit = args.http_listen.is_some() || observe.http_listen_explicit;
    let token = match &observe.http_token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{HTTP_TOKEN_FILE}: reading {}", path.display()))?;
            let token = text.trim().to_owned();
            anyhow::ensure!(
                !token.is_empty(),
                "{HTTP_TOKEN_FILE}: {} is empty",
                path.display()
            );
            Some(token)
        }
        None => None,
    };
    let state = ServeState {
        flows: mirror.flows().to_vec(),
        labels: if observe.metrics_per_topic {
            PartitionLabels::Topic
        } else {
            PartitionLabels::Partition
        },
        token,
    };
    let shutdown = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    match serve(addr, state, shutdown).await {
        Ok((bound, task)) => {
            crate::say(&format!("REST API and /metrics on http://{bound}"));
            Ok(Some(task))
        }
        Err(e) if !explicit => {
            tracing::warn!(
                "no REST API or /metrics: {e:#} (set strait.http.listen or --http-listen)"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
