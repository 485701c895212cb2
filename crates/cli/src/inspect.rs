//! `strait cluster`: what a cluster looks like through strait's client, and what MM2's
//! `MirrorClient` would say about it (upstream clusters, hops, heartbeat, checkpoint and remote
//! topics).

use anyhow::Context;
use strait_kafka::{Cluster, ClusterConfig, Isolation, OffsetSpec};
use strait_mirror::mirror_view::MirrorView;
use strait_mirror::policy::{ReplicationPolicy, DEFAULT_POLICY_CLASS, DEFAULT_SEPARATOR};

/// Arguments of `strait cluster`.
#[derive(clap::Args, Debug)]
pub(crate) struct ClusterArgs {
    /// Bootstrap servers, `host:port[,host:port...]`.
    bootstrap: String,
    /// Show only this topic.
    #[arg(long)]
    topic: Option<String>,
    /// Include internal topics (`__consumer_offsets`, ...).
    #[arg(long)]
    internal: bool,
    /// Print JSON (brokers, topics with partitions and offsets, and the replication view).
    #[arg(long)]
    json: bool,
    /// `replication.policy.class` the replication view reads topic names with.
    #[arg(long, default_value = DEFAULT_POLICY_CLASS)]
    replication_policy_class: String,
    /// `replication.policy.separator` the replication view reads topic names with.
    #[arg(long, default_value = DEFAULT_SEPARATOR)]
    replication_policy_separator: String,
}

#[derive(serde::Serialize)]
struct PartitionRow {
    topic: String,
    partition: i32,
    leader: i32,
    earliest: Option<i64>,
    latest: Option<i64>,
}

pub(crate) async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let policy = ReplicationPolicy::from_class(
        &args.replication_policy_class,
        &args.replication_policy_separator,
        true,
        None,
    )
    .context("--replication-policy-class")?;
    let cluster = Cluster::connect(ClusterConfig::new(&args.bootstrap, &args.bootstrap)?).await?;
    let metadata = cluster.metadata();
    let mut rows = Vec::new();
    for topic in metadata.topics.values() {
        if args.topic.as_ref().is_some_and(|t| *t != topic.name)
            || (!args.internal && (topic.internal || topic.name.starts_with("__")))
        {
            continue;
        }
        let partitions: Vec<i32> = topic.partitions.iter().map(|p| p.partition).collect();
        let listed =
            |spec| cluster.list_offsets(&topic.name, &partitions, spec, Isolation::ReadUncommitted);
        let earliest = listed(OffsetSpec::Earliest).await?;
        let latest = listed(OffsetSpec::Latest).await?;
        for p in &topic.partitions {
            let find = |list: &[(i32, strait_kafka::ListedOffset)]| {
                list.iter()
                    .find(|(i, _)| *i == p.partition)
                    .map(|(_, o)| o.offset)
            };
            rows.push(PartitionRow {
                topic: topic.name.clone(),
                partition: p.partition,
                leader: p.leader,
                earliest: find(&earliest),
                latest: find(&latest),
            });
        }
    }
    // MirrorClient lists topics as Kafka's Admin does: without Kafka's own internal topics.
    let listed = metadata
        .topics
        .values()
        .filter(|t| !t.internal)
        .map(|t| t.name.as_str());
    let view = MirrorView::of(&policy, listed);

    if args.json {
        let brokers: Vec<serde_json::Value> = metadata
            .brokers
            .iter()
            .map(
                |(id, b)| serde_json::json!({"id": id, "host": b.host.to_string(), "port": b.port}),
            )
            .collect();
        let doc = serde_json::json!({
            "clusterId": metadata.cluster_id,
            "controller": metadata.controller,
            "brokers": brokers,
            "partitions": rows,
            "mirror": view,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!(
        "cluster id {}  controller {}",
        metadata.cluster_id.as_deref().unwrap_or("-"),
        metadata.controller.map_or("-".into(), |c| c.to_string())
    );
    for (id, b) in &metadata.brokers {
        println!("broker {id}  {}:{}", b.host, b.port);
    }
    println!(
        "{:<40} {:>9} {:>7} {:>12} {:>12}",
        "TOPIC", "PARTITION", "LEADER", "EARLIEST", "LATEST"
    );
    let text = |o: Option<i64>| o.map_or("-".to_string(), |o| o.to_string());
    for r in &rows {
        println!(
            "{:<40} {:>9} {:>7} {:>12} {:>12}",
            r.topic,
            r.partition,
            r.leader,
            text(r.earliest),
            text(r.latest)
        );
    }
    print_view(&view);
    Ok(())
}

/// The replication view as MirrorClient would answer it.
fn print_view(view: &MirrorView) {
    let list = |items: Vec<String>| match items.is_empty() {
        true => "-".to_owned(),
        false => items.join(", "),
    };
    println!("\nreplication (what MM2's MirrorClient sees):");
    let upstream = view
        .replication_hops
        .iter()
        .map(|(alias, hops)| format!("{alias} ({hops} hop{})", if *hops == 1 { "" } else { "s" }))
        .collect();
    println!("  upstream clusters: {}", list(upstream));
    println!(
        "  heartbeat topics:  {}",
        list(view.heartbeat_topics.iter().cloned().collect())
    );
    println!(
        "  checkpoint topics: {}",
        list(view.checkpoint_topics.iter().cloned().collect())
    );
    let remote = view
        .remote_topics
        .iter()
        .map(|(topic, source)| format!("{topic} (from {source})"))
        .collect();
    println!("  remote topics:     {}", list(remote));
}
