//! `strait pause`, `strait resume`, `strait refresh`: steer a running strait's flows through
//! its REST API.

use anyhow::Context;

use crate::client::Endpoint;

/// Arguments of `strait pause` and `strait resume`.
#[derive(clap::Args, Debug)]
pub(crate) struct PauseArgs {
    /// The flow, as `source->target` (quote it in a shell: 'primary->backup').
    flow: String,
    /// Only this source topic, not the whole flow.
    #[arg(long)]
    topic: Option<String>,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Arguments of `strait refresh`.
#[derive(clap::Args, Debug)]
pub(crate) struct RefreshArgs {
    /// The flow, as `source->target`.
    flow: String,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Pauses (`pause` = true) or resumes a flow or topic and prints what is paused now.
pub(crate) async fn pause(args: PauseArgs, pause: bool) -> anyhow::Result<()> {
    let (source, target) = split_flow(&args.flow)?;
    let verb = if pause { "pause" } else { "resume" };
    let path = match &args.topic {
        Some(t) => format!("/api/v1/flows/{source}/{target}/topics/{t}/{verb}"),
        None => format!("/api/v1/flows/{source}/{target}/{verb}"),
    };
    let answer = args.endpoint.post(&path).await?;
    let what = args
        .topic
        .as_ref()
        .map_or(format!("flow {}", args.flow), |t| {
            format!("topic {t} of {}", args.flow)
        });
    let done = if pause { "paused" } else { "resumed" };
    if answer["changed"].as_bool() == Some(true) {
        println!("{what} {done}");
    } else {
        println!("{what} was already {done}");
    }
    Ok(())
}

/// Asks a flow to look for new topics and partitions now.
pub(crate) async fn refresh(args: RefreshArgs) -> anyhow::Result<()> {
    let (source, target) = split_flow(&args.flow)?;
    args.endpoint
        .post(&format!("/api/v1/flows/{source}/{target}/refresh"))
        .await?;
    println!("topic refresh requested for {}", args.flow);
    Ok(())
}

fn split_flow(flow: &str) -> anyhow::Result<(&str, &str)> {
    flow.split_once("->")
        .filter(|(s, t)| !s.is_empty() && !t.is_empty())
        .with_context(|| format!("flow `{flow}`: expected source->target, e.g. primary->backup"))
}
