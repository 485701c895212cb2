//! `strait cluster`: what a cluster looks like through strait's client.

use strait_kafka::{Cluster, ClusterConfig, Isolation, OffsetSpec};

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
}

pub(crate) async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let cluster = Cluster::connect(ClusterConfig::new(&args.bootstrap, &args.bootstrap)?).await?;
    let metadata = cluster.metadata();
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
    for topic in metadata.topics.values() {
        if args.topic.as_ref().is_some_and(|t| *t != topic.name)
            || (!args.internal && (topic.internal || topic.name.starts_with("__")))
        {
            continue;
        }
        let partitions: Vec<i32> = topic.partitions.iter().map(|p| p.partition).collect();
        let earliest = cluster
            .list_offsets(
                &topic.name,
                &partitions,
                OffsetSpec::Earliest,
                Isolation::ReadUncommitted,
            )
            .await?;
        let latest = cluster
            .list_offsets(
                &topic.name,
                &partitions,
                OffsetSpec::Latest,
                Isolation::ReadUncommitted,
            )
            .await?;
        for p in &topic.partitions {
            let find = |list: &[(i32, strait_kafka::ListedOffset)]| {
                list.iter()
                    .find(|(i, _)| *i == p.partition)
                    .map_or("-".to_string(), |(_, o)| o.offset.to_string())
            };
            println!(
                "{:<40} {:>9} {:>7} {:>12} {:>12}",
                topic.name,
                p.partition,
                p.leader,
                find(&earliest),
                find(&latest)
            );
        }
    }
    Ok(())
}
