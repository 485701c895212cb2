//! Choosing one flow of an mm2.properties file on the command line, and connecting to it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use strait_kafka::Cluster;
use strait_mirror::clients::connect;
use strait_mirror::config::{parse_file, FlowConfig};

/// How long a CLI command waits for one cluster operation.
pub(crate) const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// The mm2.properties file and the flow (`--flow 'A->B'`, or `--source A --target B`).
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct FlowArgs {
    /// The MirrorMaker 2 properties file the mirror runs with.
    pub(crate) config: PathBuf,
    /// The flow, as `source->target` (e.g. `primary->backup`).
    #[arg(long, conflicts_with_all = ["source", "target"])]
    pub(crate) flow: Option<String>,
    /// Source cluster alias (the cluster the group consumed from).
    #[arg(long, requires = "target")]
    pub(crate) source: Option<String>,
    /// Target cluster alias (the cluster the group moves to).
    #[arg(long, requires = "source")]
    pub(crate) target: Option<String>,
}

impl FlowArgs {
    /// The selected flow, or every replicating flow of the file when none is named.
    pub(crate) fn flows_or_all(&self) -> anyhow::Result<Vec<FlowConfig>> {
        if self.flow.is_some() || self.source.is_some() {
            return Ok(vec![self.flow()?]);
        }
        let config = parse_file(&self.config)
            .with_context(|| format!("reading {}", self.config.display()))?;
        let flows: Vec<FlowConfig> = config
            .flows
            .into_iter()
            .filter(|f| f.replication_enabled)
            .collect();
        if flows.is_empty() {
            bail!("{} enables no flow", self.config.display());
        }
        Ok(flows)
    }

    /// The selected flow's configuration.
    pub(crate) fn flow(&self) -> anyhow::Result<FlowConfig> {
        let config = parse_file(&self.config)
            .with_context(|| format!("reading {}", self.config.display()))?;
        let (source, target) = match (&self.flow, &self.source, &self.target) {
            (Some(flow), _, _) => match flow.split_once("->") {
                Some((s, t)) => (s.trim().to_owned(), t.trim().to_owned()),
                None => bail!("--flow {flow:?}: expected source->target, e.g. primary->backup"),
            },
            (None, Some(s), Some(t)) => (s.clone(), t.clone()),
            _ => bail!("name the flow with --flow 'source->target' or --source and --target"),
        };
        let names: Vec<String> = config.flows.iter().map(FlowConfig::name).collect();
        config
            .flows
            .into_iter()
            .find(|f| f.source == source && f.target == target)
            .with_context(|| {
                format!(
                    "{} has no flow {source}->{target} (flows: {})",
                    self.config.display(),
                    names.join(", ")
                )
            })
    }
}

/// Connects to the flow's target cluster with its admin client settings.
pub(crate) async fn connect_target(flow: &FlowConfig, role: &str) -> anyhow::Result<Cluster> {
    within(
        format!("connecting to target cluster {}", flow.target),
        connect(&flow.target_admin, &flow.name(), role),
    )
    .await
}

/// Connects to the flow's source cluster with its admin client settings.
pub(crate) async fn connect_source(flow: &FlowConfig, role: &str) -> anyhow::Result<Cluster> {
    within(
        format!("connecting to source cluster {}", flow.source),
        connect(&flow.source_admin, &flow.name(), role),
    )
    .await
}

/// Runs `op` with [`CLUSTER_TIMEOUT`], naming `what` in errors.
pub(crate) async fn within<T, E>(
    what: String,
    op: impl std::future::Future<Output = Result<T, E>>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(CLUSTER_TIMEOUT, op).await {
        Ok(result) => result.with_context(|| what),
        Err(_) => bail!("{what}: no answer within {CLUSTER_TIMEOUT:?}"),
    }
}
