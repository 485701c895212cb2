//! `strait bench --outage SECONDS`: memory while the target is down. The loaded source (Apache
//! Kafka) is mirrored into a fresh target; once a fifth of the records is acknowledged the
//! target is stopped for SECONDS and started again. strait keeps fetching until its buffer
//! (`strait.buffer.max.bytes`) is full, then waits: its resident memory during the outage must
//! follow that setting, not the backlog. Two runs, a quarter of the default buffer and the
//! default; each prints RSS before, at its peak and at the end of the outage, the buffer's
//! peak, the recovery, and the target's count.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use strait_kafka::batch::{Compression, RawBatch};
use strait_kafka::{Cluster, ClusterConfig, FetchOptions, FetchPosition, Isolation};
use strait_mirror::config::{parse_str, DEFAULT_BUFFER_MAX_BYTES};
use strait_mirror::engine::{EngineOptions, Mirror};
use strait_testkit::{KafkaCluster, KafkaVersion};

use super::procstat::status_kb;
use super::versus_mm2::start_kafka;
use super::{
    acknowledged, loaded_kafka_source, log_ends, one_way_properties, records_held, BenchArgs,
    LoadedSource, STALL_LIMIT, TOPIC,
};

/// What one run measured.
struct OutageRun {
    buffer_max_bytes: u64,
    rss_before_kb: u64,
    rss_peak_kb: u64,
    /// At the end of the outage.
    rss_end_kb: u64,
    /// The flow's buffer gauge at its highest during the outage.
    buffer_peak_bytes: u64,
    recovery_seconds: f64,
    held: i64,
}

pub(super) async fn run(
    args: &BenchArgs,
    outage_seconds: u64,
    codec: Compression,
    records_per_partition: u64,
) -> anyhow::Result<()> {
    if outage_seconds == 0 {
        bail!("--outage must be at least 1 second");
    }
    let LoadedSource {
        version,
        node: source_node,
        total,
        wire_bytes,
    } = loaded_kafka_source(args, codec, records_per_partition).await?;
    let mut runs = Vec::new();
    // The smaller buffer first: freed memory stays with the allocator, so a later run's RSS
    // starts from the earlier run's high-water mark.
    for buffer in [DEFAULT_BUFFER_MAX_BYTES / 4, DEFAULT_BUFFER_MAX_BYTES] {
        let buffer = u64::from(buffer);
        runs.push(
            mirror_through_outage(
                &source_node.bootstrap(),
                version,
                args,
                total,
                buffer,
                outage_seconds,
            )
            .await?,
        );
    }
    println!();
    println!(
        "strait bench --outage on Apache Kafka {version}: the target stopped for \
         {outage_seconds} s once a fifth of {total} {codec} records ({:.0} MB) was mirrored",
        wire_bytes as f64 / 1e6
    );
    println!(
        "{:>14} {:>14} {:>12} {:>12} {:>15} {:>11} {:>15}",
        "buffer max MB",
        "RSS before MB",
        "RSS peak MB",
        "RSS end MB",
        "buffer peak MB",
        "recovery s",
        "target records"
    );
    for r in &runs {
        println!(
            "{:>14.0} {:>14.0} {:>12.0} {:>12.0} {:>15.0} {:>11.1} {:>15}",
            r.buffer_max_bytes as f64 / 1e6,
            mb(r.rss_before_kb),
            mb(r.rss_peak_kb),
            mb(r.rss_end_kb),
            r.buffer_peak_bytes as f64 / 1e6,
            r.recovery_seconds,
            r.held,
        );
    }
    println!(
        "RSS peak / end: this process's resident memory at its highest while the target was \
         down, and at the end of the outage; the backlog stays on the source. recovery: from the \
         target's restart to every record on the target"
    );
    if let [quarter, full] = runs.as_slice() {
        println!(
            "\nwhile the target was down, the bytes fetched and not written peaked at {:.0} MB of a \
             {:.0} MB buffer and at {:.0} MB of {:.0} MB; RSS peaked at {:.0} and {:.0} MB, against \
             {:.0} and {:.0} MB while mirroring just before",
            full.buffer_peak_bytes as f64 / 1e6,
            full.buffer_max_bytes as f64 / 1e6,
            quarter.buffer_peak_bytes as f64 / 1e6,
            quarter.buffer_max_bytes as f64 / 1e6,
            mb(full.rss_peak_kb),
            mb(quarter.rss_peak_kb),
            mb(full.rss_before_kb),
            mb(quarter.rss_before_kb),
        );
    }
    Ok(())
}

/// Kilobytes (as /proc counts them, 1024 bytes) in MB (1e6 bytes).
fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

async fn mirror_through_outage(
    source: &str,
    version: KafkaVersion,
    args: &BenchArgs,
    total: u64,
    buffer_max_bytes: u64,
    outage_seconds: u64,
) -> anyhow::Result<OutageRun> {
    let mut target_node = start_kafka(version).await?;
    let mut properties = one_way_properties(source, &target_node.bootstrap());
    properties.push_str(&format!("strait.buffer.max.bytes = {buffer_max_bytes}\n"));
    let config = parse_str(&properties).context("the bench's mm2.properties")?;
    println!(
        "mirroring with strait.buffer.max.bytes = {buffer_max_bytes}: {source} -> {} (fresh target)",
        target_node.bootstrap()
    );
    let mut mirror = Mirror::start(config, EngineOptions::default());
    wait_for(&mut mirror, total / 5).await?;
    let rss_before_kb = status_kb(None, "VmRSS").unwrap_or(0);
    println!(
        "  {} records acknowledged, RSS {} MB: stopping the target for {outage_seconds} s",
        acknowledged(&mirror),
        rss_before_kb / 1024
    );
    target_node = tokio::task::spawn_blocking(move || {
        target_node.stop();
        target_node
    })
    .await?;
    let down = Instant::now();
    let (mut rss_peak_kb, mut buffer_peak_bytes) = (rss_before_kb, 0);
    let mut last_report = Instant::now();
    while down.elapsed() < Duration::from_secs(outage_seconds) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        rss_peak_kb = rss_peak_kb.max(status_kb(None, "VmRSS").unwrap_or(0));
        let buffered = mirror
            .flows()
            .iter()
            .filter_map(|f| f.stats.buffer())
            .map(|(held, _)| held)
            .max();
        buffer_peak_bytes = buffer_peak_bytes.max(buffered.unwrap_or(0));
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            println!(
                "  target down {:.0} s: RSS {} MB, buffered {:.0} MB",
                down.elapsed().as_secs_f64(),
                status_kb(None, "VmRSS").unwrap_or(0) / 1024,
                buffered.unwrap_or(0) as f64 / 1e6
            );
        }
    }
    let rss_end_kb = status_kb(None, "VmRSS").unwrap_or(0);
    println!("  starting the target again");
    let target_node: KafkaCluster = tokio::task::spawn_blocking(move || {
        let mut node = target_node;
        node.restart().map(|()| node)
    })
    .await??;
    let restarted = Instant::now();
    // The target's log ends, not strait's counters, say when everything arrived: batches
    // written just before the stop whose acks were lost are recognised after the restart,
    // not written (nor counted) again.
    let target = Cluster::connect(ClusterConfig::new("target", &target_node.bootstrap())?).await?;
    let remote = format!("source.{TOPIC}");
    let all: Vec<i32> = (0..args.partitions).collect();
    let mut last = (0, Instant::now());
    let held = loop {
        tokio::select! {
            e = mirror.failed() => return Err(anyhow::Error::new(e).context("mirroring")),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let held = records_held(&target, &remote, &all).await as i64;
        if held >= total as i64 {
            break held;
        }
        if held > last.0 {
            last = (held, Instant::now());
        } else if last.1.elapsed() > STALL_LIMIT {
            bail!("after the outage: the target stalled at {held} of {total} records for {STALL_LIMIT:?}");
        }
    };
    let recovery_seconds = restarted.elapsed().as_secs_f64();
    mirror.shutdown().await.context("stopping the mirror")?;
    if held != total as i64 {
        println!("  note: the target holds {held} records, {total} were loaded");
        let source = Cluster::connect(ClusterConfig::new("source", source)?).await?;
        let loaded = log_ends(&source, TOPIC, &all).await?;
        let written = log_ends(&target, &remote, &all).await?;
        for (partition, (loaded, written)) in all.iter().zip(loaded.iter().zip(&written)) {
            if loaded != written {
                println!("  note: partition {partition}: {written} records on the target, {loaded} on the source");
                report_divergence(&source, &target, &remote, *partition).await?;
            }
        }
    }
    Ok(OutageRun {
        buffer_max_bytes,
        rss_before_kb,
        rss_peak_kb,
        rss_end_kb,
        buffer_peak_bytes,
        recovery_seconds,
        held,
    })
}

/// Waits until strait has acknowledged `records` (failing when nothing moves for
/// [`STALL_LIMIT`]).
async fn wait_for(mirror: &mut Mirror, records: u64) -> anyhow::Result<()> {
    let mut last = (0, Instant::now());
    loop {
        tokio::select! {
            e = mirror.failed() => return Err(anyhow::Error::new(e).context("mirroring")),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        let so_far = acknowledged(mirror);
        if so_far >= records {
            return Ok(());
        }
        if so_far > last.0 {
            last = (so_far, Instant::now());
        } else if last.1.elapsed() > STALL_LIMIT {
            bail!("stalled at {so_far} of the {records} records awaited for {STALL_LIMIT:?}");
        }
    }
}

/// Prints where `remote`'s partition stops following the source partition batch for batch (the
/// bench loads repeating batches, so a repeat is found by position, not by content): the
/// target's batch there and the one before it, with the producer ids and sequences that wrote
/// them.
async fn report_divergence(
    source: &Cluster,
    target: &Cluster,
    remote: &str,
    partition: i32,
) -> anyhow::Result<()> {
    let loaded = read_batches(source, TOPIC, partition).await?;
    let written = read_batches(target, remote, partition).await?;
    let Some((at, repeat)) = divergence(&loaded, &written) else {
        return Ok(());
    };
    let described = |b: &RawBatch| {
        format!(
            "target offset {} (producer id {}, sequence {})",
            b.base_offset(),
            b.producer_id(),
            b.base_sequence()
        )
    };
    println!(
        "  note: partition {partition}: the target follows the source up to its batch {at} of {}; \
         there, {}{}",
        written.len(),
        described(&written[at]),
        if repeat {
            format!(
                " repeats the batch before it, {}",
                described(&written[at - 1])
            )
        } else {
            String::from(" holds another batch than the source's")
        }
    );
    Ok(())
}

/// The index of the first `written` batch that is not a copy of the `loaded` batch at the same
/// index, and whether it is a copy of the loaded batch before it (a batch written twice).
fn divergence(loaded: &[RawBatch], written: &[RawBatch]) -> Option<(usize, bool)> {
    let same = |a: &RawBatch, b: &RawBatch| {
        a.record_count() == b.record_count() && a.records_section() == b.records_section()
    };
    let at = (0..written.len()).find(|&i| loaded.get(i).is_none_or(|l| !same(l, &written[i])))?;
    Some((at, at > 0 && same(&written[at], &loaded[at - 1])))
}

/// Every batch of `topic`'s `partition`, in order.
async fn read_batches(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
) -> anyhow::Result<Vec<RawBatch>> {
    let options = FetchOptions {
        max_wait: Duration::from_millis(10),
        isolation: Isolation::ReadUncommitted,
        ..FetchOptions::default()
    };
    let mut batches: Vec<RawBatch> = Vec::new();
    loop {
        let offset = batches.last().map_or(0, RawBatch::next_offset);
        let position = FetchPosition::new(topic, partition, offset, 8 << 20);
        let fetched = cluster.fetch(&position, &options).await?;
        let before = batches.len();
        batches.extend(fetched.batches().map_while(Result::ok));
        if batches.len() == before {
            return Ok(batches);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_kafka::batch::{BatchBuilder, Record};

    fn batch(base: i64, value: &'static str) -> RawBatch {
        BatchBuilder {
            base_offset: base,
            records: vec![Record {
                offset: base,
                timestamp: 1,
                key: None,
                value: Some(bytes::Bytes::from_static(value.as_bytes())),
                headers: Vec::new(),
            }],
            ..BatchBuilder::default()
        }
        .encode()
        .unwrap()
    }

    #[test]
    fn a_batch_written_twice_is_found_by_position_among_repeating_batches() {
        let loaded = [batch(0, "a"), batch(1, "b"), batch(2, "a"), batch(3, "b")];
        assert_eq!(divergence(&loaded, &loaded), None, "the same batches");
        let twice = [batch(0, "a"), batch(1, "b"), batch(2, "b"), batch(3, "a")];
        assert_eq!(divergence(&loaded, &twice), Some((2, true)), "b again at 2");
        let other = [batch(0, "a"), batch(1, "c")];
        assert_eq!(divergence(&loaded, &other), Some((1, false)));
        let longer: Vec<RawBatch> = loaded.iter().cloned().chain([batch(4, "b")]).collect();
        assert_eq!(
            divergence(&loaded, &longer),
            Some((4, true)),
            "the last batch again"
        );
    }
}
