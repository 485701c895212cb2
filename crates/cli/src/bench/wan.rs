//! `strait bench --wan RTT_MS`: what a long link costs. The loaded source (Apache Kafka) is
//! reached through a proxy that delays every frame by half the RTT each way (the testkit's
//! delay line: frames in flight overlap, as on a real link); strait mirrors it once through the
//! proxy with no delay (the baseline: the same path, loopback latency) and once with the RTT,
//! each into a fresh target. Prints both and the share of the baseline's throughput kept.

use std::time::Duration;

use strait_kafka::batch::Compression;
use strait_testkit::{KafkaVersion, ProxyOptions, SecureProxy};

use super::{
    loaded_kafka_source, mirror_once, BenchArgs, Brokers, LoadedSource, Mode, Node, RunResult,
};

pub(super) async fn run(
    args: &BenchArgs,
    rtt_ms: u64,
    codec: Compression,
    records_per_partition: u64,
) -> anyhow::Result<()> {
    let LoadedSource {
        version,
        node: source_node,
        total,
        ..
    } = loaded_kafka_source(args, codec, records_per_partition).await?;
    let brokers = Brokers::Kafka(version);
    let mut results = Vec::new();
    for rtt in [0, rtt_ms] {
        let one_way = Duration::from_micros(rtt * 500);
        let options = ProxyOptions {
            delay: Some(one_way),
            ..ProxyOptions::default()
        };
        let proxy = SecureProxy::start(&source_node.bootstrap(), options).await?;
        println!(
            "source behind a delay proxy at {} ({rtt} ms RTT)",
            proxy.bootstrap()
        );
        let target_node = Node::start(brokers).await?;
        let result = mirror_once(
            &proxy.bootstrap(),
            target_node,
            args,
            codec,
            Mode::PassThrough,
            total,
        )
        .await?;
        let fetches = proxy.stats().requests(1);
        println!(
            "  {fetches} Fetch requests crossed the link, {:.2} MB of batches each on average",
            result.wire_bytes as f64 / 1e6 / fetches.max(1) as f64
        );
        results.push((rtt, result));
    }
    print_table(version, &results);
    Ok(())
}

fn print_table(version: KafkaVersion, results: &[(u64, RunResult)]) {
    println!();
    println!(
        "strait bench --wan on Apache Kafka {version}: the source behind a delay proxy \
         (CPU: this process only, the proxy included)"
    );
    println!(
        "{:>7} {:>9} {:>7} {:>9} {:>10} {:>12} {:>7} {:>9}",
        "RTT ms", "records", "secs", "start s", "MB/s wire", "MB/s steady", "CPU s", "CPU s/GB"
    );
    for (rtt, r) in results {
        println!(
            "{:>7} {:>9} {:>7.2} {:>9.2} {:>10.1} {:>12.1} {:>7.2} {:>9.2}",
            rtt,
            r.records,
            r.seconds,
            r.first_ack,
            r.wire_bytes as f64 / 1e6 / r.seconds,
            steady(r),
            r.cpu_seconds,
            r.cpu_per_gb(),
        );
    }
    println!(
        "start s: until the first record is acknowledged (connections, metadata, topic creation, \
         each some round trips); MB/s steady: batch bytes from then to the last acknowledgement"
    );
    if let [(_, base), (rtt, far)] = results {
        println!(
            "\nat {rtt} ms RTT strait keeps {:.2} of its steady throughput through the same proxy \
             without delay ({:.1} / {:.1} MB/s of batches; {:.2} of it counting start-up)",
            steady(far) / steady(base),
            steady(far),
            steady(base),
            base.seconds / far.seconds,
        );
    }
}

/// Batch MB/s from the first acknowledgement to the last.
fn steady(r: &RunResult) -> f64 {
    r.wire_bytes as f64 / 1e6 / (r.seconds - r.first_ack).max(1e-3)
}
