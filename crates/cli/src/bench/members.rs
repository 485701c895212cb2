//! `strait bench --members N`: how one flow's work splits when 1, 2, … N `strait run` processes
//! share it through their group (on by default) on Apache Kafka.
//!
//! The source is loaded once. For each member count, the members start paused on a fresh target
//! cluster, wait until their group has settled (every partition assigned once, nothing being
//! handed over), and are then resumed together; the run is measured from the resume until the
//! target holds every record: wall time, and each member's CPU seconds and partitions. On a
//! machine with fewer cores than members, members compete for the same cores, so the CPU shares
//! show the split and the wall time what the machine can do.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use strait_kafka::batch::Compression;
use strait_kafka::{Cluster, ClusterConfig};
use strait_testkit::{KafkaCluster, KafkaVersion};

use super::procstat::cpu_seconds;
use super::versus_mm2::{spawn_strait, start_kafka, stop_strait};
use super::{
    install_kafka, load, one_way_properties, records_held, source_topic, BenchArgs, STALL_LIMIT,
    TOPIC,
};
use crate::client::Endpoint;

/// The flow every member runs.
const FLOW: &str = "/api/v1/flows/source/target";
/// How long members may take to form their group.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// One member count's run.
struct Split {
    members: usize,
    records: u64,
    seconds: f64,
    /// Per member: its partitions and CPU seconds over the run.
    shares: Vec<(usize, f64)>,
    record_bytes: usize,
}

impl Split {
    fn mb_per_s(&self) -> f64 {
        self.records as f64 * self.record_bytes as f64 / 1e6 / self.seconds
    }

    fn cpu(&self) -> f64 {
        self.shares.iter().map(|(_, c)| c).sum()
    }
}

/// A started member: its process and REST API.
struct Member {
    child: Child,
    api: Endpoint,
    _dir: tempfile::TempDir,
}

pub(super) async fn run(
    args: &BenchArgs,
    members: usize,
    codec: Compression,
    records_per_partition: u64,
) -> anyhow::Result<()> {
    if members < 1 || members as i32 > args.partitions {
        bail!(
            "--members must be between 1 and --partitions ({})",
            args.partitions
        );
    }
    let version = install_kafka().await?;
    let total = records_per_partition * args.partitions as u64;
    let source_node = start_kafka(version).await?;
    let source = source_topic(&source_node.bootstrap(), args.partitions).await?;
    let (wire_bytes, seconds) = load(&source, args, codec, records_per_partition).await?;
    println!(
        "loaded {total} {} records into Kafka {} in {seconds:.2} s: {:.0} MB of batches",
        codec.name(),
        source_node.bootstrap(),
        wire_bytes as f64 / 1e6,
    );
    let mut splits = Vec::new();
    for n in 1..=members {
        let target_node = start_kafka(version).await?;
        splits.push(split_once(&source_node, &target_node, args, n, total).await?);
    }
    print_table(version, codec, &splits);
    Ok(())
}

async fn split_once(
    source: &KafkaCluster,
    target_node: &KafkaCluster,
    args: &BenchArgs,
    n: usize,
    total: u64,
) -> anyhow::Result<Split> {
    let base = one_way_properties(&source.bootstrap(), &target_node.bootstrap());
    let text = format!(
        "{base}\
         sync.topic.acls.enabled = false\n\
         refresh.topics.interval.seconds = 1\n\
         strait.group.session.timeout.ms = 6000\n\
         strait.group.heartbeat.interval.ms = 500\n"
    );
    println!(
        "{n} member(s) sharing source->target: {} -> {} (fresh target)",
        source.bootstrap(),
        target_node.bootstrap()
    );
    let mut started = Vec::new();
    for _ in 0..n {
        started.push(start_paused(&text).await?);
    }
    let result = measure(&started, target_node, args, n, total).await;
    for m in started {
        tokio::task::spawn_blocking(move || stop_strait(m.child)).await?;
    }
    result
}

/// Starts one member and pauses its flow as soon as its REST API answers.
async fn start_paused(properties: &str) -> anyhow::Result<Member> {
    let dir = tempfile::tempdir().context("a temp dir for a member's mm2.properties")?;
    let config = dir.path().join("mm2.properties");
    std::fs::write(&config, properties).with_context(|| format!("writing {}", config.display()))?;
    let child = spawn_strait(&config, dir.path())?;
    let url = rest_address(dir.path()).await?;
    let api = Endpoint {
        url,
        token_file: None,
    };
    api.post(&format!("{FLOW}/pause")).await?;
    Ok(Member {
        child,
        api,
        _dir: dir,
    })
}

/// The REST address a member logs once it listens.
async fn rest_address(dir: &Path) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(dir.join("strait.log")).unwrap_or_default();
        if let Some(url) = log.lines().find_map(|l| {
            let (_, rest) = l.split_once("REST API and /metrics on ")?;
            Some(rest.split_whitespace().next()?.to_owned())
        }) {
            return Ok(url);
        }
        if started.elapsed() > SETTLE_LIMIT {
            bail!("a member did not start its REST API within {SETTLE_LIMIT:?}:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the group to settle, resumes every member, and measures until the target holds
/// `total` records.
async fn measure(
    members: &[Member],
    target_node: &KafkaCluster,
    args: &BenchArgs,
    n: usize,
    total: u64,
) -> anyhow::Result<Split> {
    let owned = settled(members, n, args.partitions as usize).await?;
    let target = Cluster::connect(ClusterConfig::new("target", &target_node.bootstrap())?).await?;
    let before = count(&target, args.partitions).await;
    let pids: Vec<Option<u32>> = members.iter().map(|m| Some(m.child.id())).collect();
    let cpu0 = pids
        .iter()
        .map(|p| cpu_seconds(*p))
        .collect::<anyhow::Result<Vec<f64>>>()?;
    let t0 = Instant::now();
    for m in members {
        m.api.post(&format!("{FLOW}/resume")).await?;
    }
    let (mut last, mut last_change, mut last_report) = (before, Instant::now(), Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = count(&target, args.partitions).await;
        if now >= total {
            break;
        }
        if now > last {
            (last, last_change) = (now, Instant::now());
        } else if last_change.elapsed() > STALL_LIMIT {
            bail!("{n} member(s): stalled at {now} of {total} records for {STALL_LIMIT:?}");
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            last_report = Instant::now();
            println!(
                "  {n} member(s): {now} / {total} records ({:.0}%)",
                100.0 * now as f64 / total as f64
            );
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let mut shares = Vec::new();
    for ((pid, c0), parts) in pids.iter().zip(cpu0).zip(owned) {
        shares.push((parts, cpu_seconds(*pid)? - c0));
    }
    if before * 2 > total {
        bail!("{n} member(s): {before} of {total} records moved before the resume; load more");
    }
    Ok(Split {
        members: n,
        records: total - before,
        seconds,
        shares,
        record_bytes: args.record_bytes,
    })
}

/// Waits until every member reports the same stable generation with `n` members, all
/// `partitions` assigned and nothing being handed over; then each member's partition count.
async fn settled(members: &[Member], n: usize, partitions: usize) -> anyhow::Result<Vec<usize>> {
    let started = Instant::now();
    loop {
        let mut views = Vec::new();
        for m in members {
            views.push(m.api.get(FLOW).await.map(|f| f["group"].clone()).ok());
        }
        let agreed = agreed(&views, n).filter(|o| o.iter().sum::<usize>() == partitions);
        if let Some(owned) = agreed {
            println!(
                "  group settled after {:.1} s: partitions per member {owned:?}",
                started.elapsed().as_secs_f64()
            );
            return Ok(owned);
        }
        if started.elapsed() > SETTLE_LIMIT {
            bail!("{n} members did not settle their group within {SETTLE_LIMIT:?}: {views:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each member's partition count, if all views agree on a settled generation of `n` members.
fn agreed(views: &[Option<Value>], n: usize) -> Option<Vec<usize>> {
    let first = views.first()?.as_ref()?;
    let mut owned = Vec::new();
    for view in views {
        let v = view.as_ref()?;
        let same =
            v["state"] == "stable" && v["generation"] == first["generation"] && v["held_back"] == 0;
        let listed = v["members"].as_object()?;
        if !same || listed.len() != n {
            return None;
        }
        let mine = listed.get(v["member_id"].as_str()?)?;
        let parts = mine["partitions"]
            .as_object()?
            .values()
            .filter_map(Value::as_array)
            .map(Vec::len)
            .sum();
        owned.push(parts);
    }
    Some(owned)
}

/// Records on the target's remote topic now (0 while it does not exist).
async fn count(target: &Cluster, partitions: i32) -> u64 {
    let all: Vec<i32> = (0..partitions).collect();
    records_held(target, &format!("source.{TOPIC}"), &all).await
}

fn print_table(version: KafkaVersion, codec: Compression, splits: &[Split]) {
    println!();
    println!(
        "strait bench --members {} ({} batches, Apache Kafka {version}; members are processes \
         sharing one flow through their group, measured from their resume to the last record on \
         the target; brokers not counted)",
        splits.len(),
        codec.name()
    );
    println!(
        "{:<8} {:>9} {:>7} {:>10} {:>8}  per member: partitions, CPU s (share of the members' CPU)",
        "members", "records", "secs", "MB/s data", "CPU s"
    );
    for s in splits {
        let cpu = s.cpu();
        let each: Vec<String> = s
            .shares
            .iter()
            .map(|(p, c)| format!("{p} p, {c:.2} s ({:.0}%)", 100.0 * c / cpu.max(1e-9)))
            .collect();
        println!(
            "{:<8} {:>9} {:>7.2} {:>10.1} {:>8.2}  {}",
            s.members,
            s.records,
            s.seconds,
            s.mb_per_s(),
            cpu,
            each.join(" | ")
        );
    }
    if let Some(one) = splits.first() {
        println!();
        for s in &splits[1..] {
            println!(
                "{} members / 1: throughput {:.1} / {:.1} MB/s = {:.2}x; CPU {:.2} / {:.2} s = {:.2}x",
                s.members,
                s.mb_per_s(),
                one.mb_per_s(),
                s.mb_per_s() / one.mb_per_s(),
                s.cpu(),
                one.cpu(),
                s.cpu() / one.cpu().max(1e-9)
            );
        }
    }
}
