//! `strait failover status`: per flow and source partition, how far the target is behind
//! (records, bytes, seconds), how old the flow's last heartbeat is, and whether failing over
//! now loses nothing (the RPO a user accepts by cutting over now).

use std::collections::BTreeMap;
use std::time::Duration;

use strait_kafka::batch::Record;
use strait_kafka::{Cluster, FetchOptions, FetchPosition, Isolation, OffsetSpec};
use strait_mirror::config::FlowConfig;
use strait_mirror::formats::{parse_offset_value, ConnectOffsetKey, Heartbeat};
use strait_mirror::internal::read_topic;

use crate::offsets::flow::{connect_source, connect_target, within, FlowArgs};

/// Most bytes read from the source to measure one partition's lag in bytes.
const MAX_LAG_BYTES_READ: i64 = 8 * 1024 * 1024;

/// `strait failover` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum FailoverCommand {
    /// Replication lag per partition, heartbeat age, and whether cutting over now is safe.
    #[command(
        after_help = "Examples:\n  strait failover status mm2.properties                  # every flow\n  strait failover status mm2.properties --flow 'primary->backup'\n  strait failover status mm2.properties --source primary --target backup --json\n\nExit status 0 when it is safe to cut over (every partition mirrored), 2 when not or unknown."
    )]
    Status(StatusArgs),
}

/// Arguments of `strait failover status`.
#[derive(clap::Args, Debug)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    flow: FlowArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Lag of one source partition.
#[derive(Debug)]
struct PartitionLag {
    topic: String,
    partition: i32,
    /// Next source offset to mirror (from the mirror's stored progress).
    mirrored: i64,
    /// Source log end (last stable offset); `None` when the source is unreachable.
    source_end: Option<i64>,
    lag_records: Option<i64>,
    lag_bytes: Option<i64>,
    /// Age of the oldest record not mirrored yet.
    lag_seconds: Option<f64>,
}

/// Runs a `failover` subcommand.
pub(crate) async fn run(command: FailoverCommand) -> anyhow::Result<()> {
    let FailoverCommand::Status(args) = command;
    let mut all_safe = true;
    let mut reports = Vec::new();
    for flow in args.flow.flows_or_all()? {
        let (report, safe) = status(&flow, args.json).await?;
        all_safe &= safe;
        reports.push(report);
    }
    if args.json {
        let value = match reports.len() {
            1 => reports.pop().expect("one report"),
            _ => serde_json::Value::Array(reports),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON of plain values")
        );
    }
    if all_safe {
        Ok(())
    } else {
        std::process::exit(2)
    }
}

/// Measures one flow and prints its table unless `--json`; returns its JSON and whether
/// cutting over is safe.
async fn status(flow: &FlowConfig, json: bool) -> anyhow::Result<(serde_json::Value, bool)> {
    let target = connect_target(flow, "failover-status").await?;
    let mirrored = progress(flow, &target).await?;
    let heartbeat_age = heartbeat_age(flow, &target).await?;
    let source = match tokio::time::timeout(
        Duration::from_secs(10),
        connect_source(flow, "failover-status"),
    )
    .await
    {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => {
            eprintln!("strait: source cluster {} unreachable: {e:#}", flow.source);
            None
        }
        Err(_) => {
            eprintln!(
                "strait: source cluster {} unreachable: no answer within 10s",
                flow.source
            );
            None
        }
    };
    let mut lags = Vec::new();
    for ((topic, partition), next) in mirrored {
        let mut lag = PartitionLag {
            topic,
            partition,
            mirrored: next,
            source_end: None,
            lag_records: None,
            lag_bytes: None,
            lag_seconds: None,
        };
        if let Some(source) = &source {
            measure(source, flow, &mut lag).await?;
        }
        lags.push(lag);
    }
    let known = source.is_some();
    let behind: i64 = lags.iter().filter_map(|l| l.lag_records).sum();
    let safe = known && behind == 0 && !lags.is_empty();
    if !json {
        print_table(flow, &lags, heartbeat_age, known, safe);
    }
    Ok((to_json(flow, &lags, heartbeat_age, known, safe), safe))
}

/// The mirror's stored progress for the flow's source: next offset to mirror per partition.
async fn progress(
    flow: &FlowConfig,
    target: &Cluster,
) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
    let topic = &flow.offset_storage_topic;
    let records = within(
        format!("reading progress topic {topic} on cluster {}", flow.target),
        read_topic(target, topic),
    )
    .await?;
    let mut out = BTreeMap::new();
    for (_, r) in records {
        let Some(key) = r.key.as_deref() else {
            continue;
        };
        let Ok(ConnectOffsetKey::Source {
            cluster,
            topic,
            partition,
        }) = ConnectOffsetKey::parse(key)
        else {
            continue;
        };
        if cluster != flow.source {
            continue;
        }
        match parse_offset_value(r.value.as_deref()) {
            Ok(Some(last)) if last >= 0 => {
                out.insert((topic, partition), last + 1);
            }
            Ok(_) => {
                out.remove(&(topic, partition));
            }
            Err(_) => {}
        }
    }
    Ok(out)
}

/// Fills the lag of one partition from the source cluster.
async fn measure(
    source: &Cluster,
    flow: &FlowConfig,
    lag: &mut PartitionLag,
) -> anyhow::Result<()> {
    let what = format!(
        "cluster {}: topic {} partition {}",
        flow.source, lag.topic, lag.partition
    );
    let end = within(
        format!("{what}: latest offset"),
        source.list_offsets(
            &lag.topic,
            &[lag.partition],
            OffsetSpec::Latest,
            Isolation::ReadCommitted,
        ),
    )
    .await?;
    let end = end.first().map_or(0, |(_, o)| o.offset);
    lag.source_end = Some(end);
    lag.lag_records = Some((end - lag.mirrored).max(0));
    if end <= lag.mirrored {
        lag.lag_bytes = Some(0);
        lag.lag_seconds = Some(0.0);
        return Ok(());
    }
    let (mut offset, mut bytes, mut oldest) = (lag.mirrored, 0i64, None);
    let options = FetchOptions {
        max_wait: Duration::from_millis(50),
        isolation: Isolation::ReadCommitted,
        ..FetchOptions::default()
    };
    while offset < end && bytes < MAX_LAG_BYTES_READ {
        let position = FetchPosition::new(&lag.topic, lag.partition, offset, 1024 * 1024);
        let fetched = within(
            format!("{what}: fetch at {offset}"),
            source.fetch(&position, &options),
        )
        .await?;
        let before = offset;
        for batch in fetched.batches().flatten() {
            if batch.next_offset() <= offset || batch.base_offset() >= end {
                continue;
            }
            offset = batch.next_offset();
            if batch.is_control() {
                continue;
            }
            bytes += batch.len() as i64;
            oldest.get_or_insert(batch.base_timestamp());
        }
        if offset == before {
            break;
        }
    }
    lag.lag_bytes = Some(bytes);
    lag.lag_seconds = oldest.map(|ts| ((now_ms() - ts).max(0)) as f64 / 1000.0);
    Ok(())
}

/// Seconds since the flow's last heartbeat on the target, `None` without one.
async fn heartbeat_age(flow: &FlowConfig, target: &Cluster) -> anyhow::Result<Option<f64>> {
    let topic = flow.policy.heartbeats_topic();
    let Ok(records) = tail(target, topic, 500).await else {
        return Ok(None);
    };
    let last = records
        .iter()
        .filter_map(|r| Heartbeat::decode(r.key.as_deref()?, r.value.as_deref()?).ok())
        .filter(|h| h.source_cluster_alias == flow.source && h.target_cluster_alias == flow.target)
        .map(|h| h.timestamp)
        .max();
    Ok(last.map(|ts| (now_ms() - ts).max(0) as f64 / 1000.0))
}

/// The records of partition 0 of `topic` from about `last` records before its end.
async fn tail(cluster: &Cluster, topic: &str, last: i64) -> anyhow::Result<Vec<Record>> {
    let what = format!("cluster {}: topic {topic}", cluster.name());
    let earliest = within(
        what.clone(),
        cluster.list_offsets(
            topic,
            &[0],
            OffsetSpec::Earliest,
            Isolation::ReadUncommitted,
        ),
    )
    .await?;
    let latest = within(
        what.clone(),
        cluster.list_offsets(topic, &[0], OffsetSpec::Latest, Isolation::ReadUncommitted),
    )
    .await?;
    let first = earliest.first().map_or(0, |(_, o)| o.offset);
    let end = latest.first().map_or(0, |(_, o)| o.offset);
    let mut offset = (end - last).max(first).max(0);
    let options = FetchOptions {
        max_wait: Duration::from_millis(50),
        isolation: Isolation::ReadUncommitted,
        ..FetchOptions::default()
    };
    let mut out = Vec::new();
    loop {
        let position = FetchPosition::new(topic, 0, offset, 4 * 1024 * 1024);
        let fetched = within(what.clone(), cluster.fetch(&position, &options)).await?;
        let before = offset;
        for batch in fetched.batches().flatten() {
            if batch.next_offset() <= offset {
                continue;
            }
            let from = offset;
            offset = batch.next_offset();
            if let Ok(decoded) = batch.decode() {
                out.extend(decoded.records.into_iter().filter(|r| r.offset >= from));
            }
        }
        if offset == before {
            return Ok(out);
        }
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "?".to_owned(), |v| v.to_string())
}

fn print_table(
    flow: &FlowConfig,
    lags: &[PartitionLag],
    heartbeat: Option<f64>,
    known: bool,
    safe: bool,
) {
    let mut lines = vec![[
        "TOPIC",
        "PARTITION",
        "MIRRORED-UP-TO",
        "SOURCE-END",
        "LAG-RECORDS",
        "LAG-BYTES",
        "LAG-SECONDS",
    ]
    .map(str::to_owned)];
    for l in lags {
        lines.push([
            l.topic.clone(),
            l.partition.to_string(),
            l.mirrored.to_string(),
            opt(l.source_end),
            opt(l.lag_records),
            opt(l.lag_bytes),
            opt(l.lag_seconds.map(|s| format!("{s:.1}"))),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    println!("flow {}", flow.name());
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("  {}", cells.join("  ").trim_end());
    }
    match heartbeat {
        Some(age) => println!("last heartbeat: {age:.1} s ago"),
        None => println!("last heartbeat: none found on {}", flow.target),
    }
    let behind: i64 = lags.iter().filter_map(|l| l.lag_records).sum();
    if safe {
        println!("safe to cut over: yes (every partition mirrored; RPO 0 records)");
    } else if !known {
        println!(
            "safe to cut over: unknown (source {} unreachable): records written there after the last mirrored offsets above are lost by failing over now",
            flow.source
        );
    } else if lags.is_empty() {
        println!("safe to cut over: unknown (no mirrored partitions recorded yet)");
    } else {
        let bytes: i64 = lags.iter().filter_map(|l| l.lag_bytes).sum();
        let oldest = lags
            .iter()
            .filter_map(|l| l.lag_seconds)
            .fold(0.0, f64::max);
        println!("safe to cut over: no: {behind} records ({bytes} bytes, oldest {oldest:.1} s) not mirrored yet");
    }
}

fn to_json(
    flow: &FlowConfig,
    lags: &[PartitionLag],
    heartbeat: Option<f64>,
    known: bool,
    safe: bool,
) -> serde_json::Value {
    let partitions: Vec<serde_json::Value> = lags
        .iter()
        .map(|l| {
            serde_json::json!({
                "topic": l.topic,
                "partition": l.partition,
                "mirrored_up_to": l.mirrored,
                "source_end": l.source_end,
                "lag_records": l.lag_records,
                "lag_bytes": l.lag_bytes,
                "lag_seconds": l.lag_seconds,
            })
        })
        .collect();
    serde_json::json!({
        "flow": flow.name(),
        "source_reachable": known,
        "heartbeat_age_seconds": heartbeat,
        "lag_records": lags.iter().filter_map(|l| l.lag_records).sum::<i64>(),
        "safe_to_cut_over": safe,
        "partitions": partitions,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
