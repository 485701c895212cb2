//! `strait bench --throttle BYTES_PER_SECOND`: one source mirrored by two flows in one process,
//! `source->limited` throttled (`strait.throttle.bytes.per.second`) and `source->free` not,
//! each into a fresh Apache Kafka cluster; before that, `source->free` alone and beside an
//! unlimited twin, as baselines. Prints the rate the limited flow held against its limit
//! (beyond its one-second burst, from its first acknowledgement to its last) and the free
//! flow's rate beside the twin and beside the limited flow against its rate alone.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use strait_kafka::batch::Compression;
use strait_mirror::config::parse_str;
use strait_mirror::engine::{EngineOptions, Mirror};

use super::{loaded_kafka_source, BenchArgs, Brokers, LoadedSource, Node, STALL_LIMIT, TOPIC};

/// What a flow did in a run: wire bytes and when they were acknowledged.
#[derive(Debug, Default, Clone, Copy)]
struct FlowRun {
    bytes: u64,
    /// From the first acknowledgement to the last (start-up left out).
    seconds: f64,
    /// For a limited flow: the bytes beyond its one-second burst, and the seconds from its
    /// first acknowledgement to its last (a bucket lets the burst through at once, then paces).
    paced: Option<(u64, f64)>,
}

impl FlowRun {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds
    }

    /// The rate after the burst.
    fn paced_mb_per_s(&self) -> Option<f64> {
        self.paced.map(|(b, s)| b as f64 / 1e6 / s)
    }
}

pub(super) async fn run(
    args: &BenchArgs,
    limit: u64,
    codec: Compression,
    records_per_partition: u64,
) -> anyhow::Result<()> {
    if limit == 0 {
        bail!("--throttle must be a positive number of bytes per second");
    }
    let LoadedSource {
        version,
        node: source_node,
        total,
        ..
    } = loaded_kafka_source(args, codec, records_per_partition).await?;
    let brokers = Brokers::Kafka(version);
    println!("the limited flow may write {:.1} MB/s", limit as f64 / 1e6);

    println!("source->free alone (fresh target)");
    let free = Node::start(brokers).await?;
    let alone = mirror(&source_node, &[("free", &free, None)], total).await?[0];
    drop(free);
    println!("source->twin and source->free side by side, neither limited (fresh targets)");
    let (twin, free) = (Node::start(brokers).await?, Node::start(brokers).await?);
    let unlimited = mirror(
        &source_node,
        &[("twin", &twin, None), ("free", &free, None)],
        total,
    )
    .await?;
    drop((twin, free));
    println!("source->limited and source->free side by side (fresh targets)");
    let (limited, free) = (Node::start(brokers).await?, Node::start(brokers).await?);
    let both = mirror(
        &source_node,
        &[("limited", &limited, Some(limit)), ("free", &free, None)],
        total,
    )
    .await?;

    println!();
    println!(
        "strait bench --throttle (Apache Kafka {version}; MB = 1e6 bytes of record batches as \
         written to the target; secs from a flow's first acknowledgement to its last)"
    );
    println!(
        "{:<26} {:>10} {:>9} {:>8} {:>8}",
        "flow", "limit MB/s", "MB", "secs", "MB/s"
    );
    let row = |name: &str, limit: Option<u64>, r: &FlowRun| {
        println!(
            "{:<26} {:>10} {:>9.1} {:>8.2} {:>8.1}",
            name,
            limit.map_or("-".to_owned(), |l| format!("{:.1}", l as f64 / 1e6)),
            r.bytes as f64 / 1e6,
            r.seconds,
            r.mb_per_s()
        )
    };
    row("free alone", None, &alone);
    row("twin (not limited)", None, &unlimited[0]);
    row("free beside the twin", None, &unlimited[1]);
    row("limited", Some(limit), &both[0]);
    row("free beside the limited", None, &both[1]);
    println!();
    let limit_mb = limit as f64 / 1e6;
    match both[0].paced_mb_per_s() {
        Some(paced) => {
            let ratio = paced / limit_mb;
            let held = if (0.9..=1.1).contains(&ratio) {
                "within 10%"
            } else {
                "NOT within 10%"
            };
            println!(
                "limited flow beyond its 1 s burst: {paced:.2} MB/s against a limit of \
                 {limit_mb:.2} MB/s = {ratio:.3} ({held})"
            );
        }
        None => println!(
            "limited flow: finished within its burst; load more data or lower --throttle to see \
             it paced"
        ),
    }
    let free = |r: &FlowRun| r.mb_per_s() / alone.mb_per_s();
    println!(
        "free flow against its rate alone: beside the unlimited twin {:.2}x, beside the limited \
         one {:.2}x (the brokers and both flows share this machine's cores: any second flow \
         costs the first what it takes of them; a limited one takes less)",
        free(&unlimited[1]),
        free(&both[1])
    );
    Ok(())
}

/// Runs one mirror with a flow from the source to each `(alias, target, limit)` until every
/// flow has acknowledged `total` records; what each flow did, in the same order.
async fn mirror(
    source: &Node,
    flows: &[(&str, &Node, Option<u64>)],
    total: u64,
) -> anyhow::Result<Vec<FlowRun>> {
    let aliases: Vec<&str> = flows.iter().map(|(a, _, _)| *a).collect();
    let mut text = format!(
        "clusters = source, {}\nsource.bootstrap.servers = {}\n",
        aliases.join(", "),
        source.bootstrap()
    );
    for (alias, node, limit) in flows {
        text.push_str(&format!(
            "{alias}.bootstrap.servers = {}\n\
             source->{alias}.enabled = true\n\
             source->{alias}.topics = {TOPIC}\n",
            node.bootstrap()
        ));
        if let Some(limit) = limit {
            text.push_str(&format!(
                "source->{alias}.strait.throttle.bytes.per.second = {limit}\n"
            ));
        }
    }
    // One process: no group to share the flows with.
    text.push_str(
        "strait.group.enabled = false\n\
         emit.heartbeats.enabled = false\n\
         emit.checkpoints.enabled = false\n\
         replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n",
    );
    let config = parse_str(&text).context("the bench's mm2.properties")?;
    let mut mirror = Mirror::start(config, EngineOptions::default());
    let labels: Vec<String> = aliases.iter().map(|a| format!("source->{a}")).collect();
    let limits: Vec<Option<u64>> = flows.iter().map(|(_, _, l)| *l).collect();
    let started = Instant::now();
    let mut runs = vec![FlowRun::default(); flows.len()];
    let mut first_ack: Vec<Option<Instant>> = vec![None; flows.len()];
    let mut done = vec![false; flows.len()];
    let (mut last_total, mut last_change) = (0, Instant::now());
    while done.iter().any(|d| !d) {
        tokio::select! {
            e = mirror.failed() => return Err(anyhow::Error::new(e).context("mirroring")),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        let stats = mirror.stats();
        let now = Instant::now();
        let mut sum = 0;
        for (i, label) in labels.iter().enumerate() {
            let Some((_, s)) = stats.iter().find(|(l, _)| l == label) else {
                continue;
            };
            sum += s.records;
            if first_ack[i].is_none() && s.bytes > 0 {
                first_ack[i] = Some(now);
            }
            if !done[i] && s.records >= total {
                done[i] = true;
                let seconds = now
                    .duration_since(first_ack[i].unwrap_or(started))
                    .as_secs_f64();
                runs[i] = FlowRun {
                    bytes: s.bytes,
                    seconds,
                    paced: limits[i]
                        .zip(first_ack[i])
                        .filter(|(limit, _)| s.bytes > *limit)
                        .map(|(limit, at)| (s.bytes - limit, now.duration_since(at).as_secs_f64())),
                };
            }
        }
        if sum > last_total {
            (last_total, last_change) = (sum, now);
        } else if last_change.elapsed() > STALL_LIMIT {
            bail!("stalled at {sum} records for {STALL_LIMIT:?}");
        }
    }
    mirror.shutdown().await.context("stopping the mirror")?;
    Ok(runs)
}
