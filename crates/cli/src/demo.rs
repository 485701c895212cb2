//! `strait demo`: two real local clusters, sample data produced on one, mirrored to the other
//! by the same engine as `strait run`, and a record-by-record check of what arrived.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use strait_kafka::batch::{BatchBuilder, Compression, DecodedBatch, Header, RawBatch, Record};
use strait_kafka::{Cluster, ClusterConfig, FetchOptions, FetchPosition, NewTopic, Producer};
use strait_mirror::engine::{EngineOptions, Mirror, StatsSnapshot};
use strait_testkit::{BrokerKind, TestCluster};

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 3;
const CODECS: [Compression; 5] = Compression::ALL;

/// Arguments of `strait demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct DemoArgs {
    /// Broker implementation to run: noida, tansu or kafka.
    #[arg(long, default_value = "noida", value_parser = parse_kind)]
    broker: BrokerKind,
    /// Run on Apache Kafka (KRaft, from Maven Central; needs Java 17+ and mvn): `--broker kafka`.
    #[arg(long, conflicts_with = "broker")]
    kafka: bool,
    /// Records to produce per partition (spread over batches of each codec).
    #[arg(long, default_value_t = 200)]
    records: usize,
}

fn parse_kind(s: &str) -> Result<BrokerKind, String> {
    BrokerKind::parse(s)
        .ok_or_else(|| format!("unknown broker '{s}' (expected noida, tansu or kafka)"))
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let kind = if args.kafka {
        BrokerKind::Kafka
    } else {
        args.broker
    };
    let dir = match kind {
        BrokerKind::Kafka => {
            let version = strait_testkit::KafkaVersion::from_env();
            step(&format!(
                "installing Apache Kafka {version} (pinned, from Maven Central) if needed"
            ));
            tokio::task::spawn_blocking(move || strait_testkit::ensure_kafka_installed(version))
                .await??
        }
        _ => {
            step("installing test brokers (pinned, from PyPI) if needed");
            tokio::task::spawn_blocking(strait_testkit::ensure_installed).await??
        }
    };
    println!("       brokers in {}", dir.display());

    step(&format!(
        "starting two {} clusters, east and west",
        kind.name()
    ));
    let (east_node, west_node) = tokio::task::spawn_blocking(move || {
        Ok::<_, strait_testkit::TestkitError>((
            TestCluster::start(kind)?,
            TestCluster::start(kind)?,
        ))
    })
    .await??;
    println!(
        "       east at {}, west at {}",
        east_node.bootstrap(),
        west_node.bootstrap()
    );

    let east = Cluster::connect(ClusterConfig::new("east", &east_node.bootstrap())?).await?;
    let west = Cluster::connect(ClusterConfig::new("west", &west_node.bootstrap())?).await?;
    for cluster in [&east, &west] {
        let conn = cluster.any_broker().await?;
        println!(
            "       {}: {} broker(s), Produce v{}, Fetch v{}",
            cluster.name(),
            cluster.metadata().brokers.len(),
            conn.version_for::<strait_kafka::protocol::messages::ProduceRequest>()?,
            conn.version_for::<strait_kafka::protocol::messages::FetchRequest>()?,
        );
    }

    let remote = format!("east.{TOPIC}");
    step(&format!(
        "creating {TOPIC} on east ({PARTITIONS} partitions)"
    ));
    let retention = vec![("retention.ms".to_string(), "-1".to_string())];
    east.create_topic(&NewTopic {
        configs: retention,
        ..NewTopic::new(TOPIC, PARTITIONS)
    })
    .await?;

    step(&format!(
        "producing {} records per partition on east, one batch per codec in turn",
        args.records
    ));
    let producer = Producer::idempotent(&east).await?;
    let (mut produced, mut batches) = (0, 0);
    for partition in 0..PARTITIONS {
        for batch in sample_batches(partition, args.records) {
            producer.send(TOPIC, partition, &batch.encode()?).await?;
            produced += batch.records.len();
            batches += 1;
        }
    }
    println!("       {produced} records in {batches} batches");

    let properties = mm2_properties(&east_node.bootstrap(), &west_node.bootstrap());
    step("mirroring with `strait run`'s engine and this mm2.properties:");
    for line in properties.lines() {
        println!("       | {line}");
    }
    let config = strait_mirror::config::parse_str(&properties)?;
    let mirror = Mirror::start(config, EngineOptions::default());
    let deadline = Instant::now() + Duration::from_secs(60);
    while mirrored(&west, &remote).await < produced {
        if Instant::now() > deadline {
            bail!(
                "mirroring stalled at {} of {produced} records",
                mirrored(&west, &remote).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Counters move when acknowledgements are settled, a moment after the data is visible.
    while flow_stats(&mirror).records < produced as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = flow_stats(&mirror);
    println!(
        "       east->west: {} records in {} partitions (heartbeats included), batches {} forwarded untouched / {} re-encoded / {} dropped",
        stats.records, stats.partitions, stats.passed_through, stats.reencoded, stats.dropped
    );
    let mut east_batches = Vec::new();
    for partition in 0..PARTITIONS {
        east_batches.push(read_partition(&east, TOPIC, partition).await?);
    }

    step("reading west back and comparing record by record");
    let mut checked = 0;
    let mut same_codec = 0;
    let mut batches = 0;
    for partition in 0..PARTITIONS {
        let west_batches = read_partition(&west, &remote, partition).await?;
        let source = &east_batches[partition as usize];
        if west_batches.len() != source.len() {
            bail!(
                "partition {partition}: east has {} batches, west {}",
                source.len(),
                west_batches.len()
            );
        }
        for (e, w) in source.iter().zip(&west_batches) {
            let (de, dw) = (e.decode()?, w.decode()?);
            compare(partition, &de, &dw)?;
            checked += de.records.len();
            batches += 1;
            if e.compression()? == w.compression()? && e.bytes()[61..] == w.bytes()[61..] {
                same_codec += 1;
            }
        }
    }
    println!("       {checked} records identical: keys, values, headers (duplicates and nulls), timestamps");
    println!("       {same_codec} of {batches} batches arrived with the same codec and byte-identical record data");
    if same_codec != batches {
        bail!("some batches were re-encoded on the way");
    }
    step("internal topics, as MirrorMaker 2 would have written them:");
    for (cluster, name) in [(&east, "east"), (&west, "west")] {
        let metadata = cluster.refresh_metadata().await?;
        let topics: Vec<&str> = metadata
            .topics
            .keys()
            .map(String::as_str)
            .filter(|t| !t.starts_with("__"))
            .collect();
        println!("       {name}: {}", topics.join(", "));
    }
    mirror.shutdown().await?;
    step(&format!(
        "done in {:.1?}; progress stored, stopping both clusters",
        started.elapsed()
    ));
    Ok(())
}

/// The mm2.properties of the demo: east mirrored to west, MM2's defaults otherwise.
fn mm2_properties(east: &str, west: &str) -> String {
    format!(
        "clusters = east, west\n\
         east.bootstrap.servers = {east}\n\
         west.bootstrap.servers = {west}\n\
         east->west.enabled = true\n\
         east->west.topics = {TOPIC}\n\
         # single-broker clusters: one replica of everything\n\
         replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n"
    )
}

/// Records of `topic` on `cluster` so far (0 while it does not exist yet).
async fn mirrored(cluster: &Cluster, topic: &str) -> usize {
    let mut total = 0;
    for partition in 0..PARTITIONS {
        match read_partition(cluster, topic, partition).await {
            Ok(batches) => {
                total += batches
                    .iter()
                    .map(|b| b.record_count() as usize)
                    .sum::<usize>()
            }
            Err(_) => return 0,
        }
    }
    total
}

fn flow_stats(mirror: &Mirror) -> StatsSnapshot {
    mirror
        .stats()
        .into_iter()
        .find(|(flow, _)| flow == "east->west")
        .map(|(_, s)| s)
        .unwrap_or_default()
}

fn step(what: &str) {
    println!("strait demo: {what}");
}

/// Batches for one partition: codecs in turn, keys, JSON values, a tombstone, duplicate headers.
fn sample_batches(partition: i32, records: usize) -> Vec<BatchBuilder> {
    let per_batch = records.div_ceil(CODECS.len() * 2).max(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    (0..records)
        .collect::<Vec<_>>()
        .chunks(per_batch)
        .enumerate()
        .map(|(n, chunk)| BatchBuilder {
            compression: CODECS[n % CODECS.len()],
            records: chunk
                .iter()
                .enumerate()
                .map(|(i, &seq)| Record {
                    offset: i as i64,
                    timestamp: now + seq as i64,
                    key: Some(Bytes::from(format!("customer-{}", seq % 17))),
                    value: (seq % 50 != 49).then(|| {
                        Bytes::from(format!(
                            r#"{{"order":{seq},"partition":{partition},"amount":{}.{:02}}}"#,
                            seq * 7 % 100,
                            seq % 100
                        ))
                    }),
                    headers: vec![
                        Header {
                            key: Bytes::from_static(b"trace"),
                            value: Some(Bytes::from(format!("t{seq}"))),
                        },
                        Header {
                            key: Bytes::from_static(b"trace"),
                            value: Some(Bytes::from_static(b"again")),
                        },
                        Header {
                            key: Bytes::from_static(b"empty"),
                            value: None,
                        },
                    ],
                })
                .collect(),
            ..BatchBuilder::default()
        })
        .collect()
}

async fn read_partition(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
) -> anyhow::Result<Vec<RawBatch>> {
    let latest = cluster
        .list_offsets(
            topic,
            &[partition],
            strait_kafka::OffsetSpec::Latest,
            strait_kafka::Isolation::ReadCommitted,
        )
        .await?
        .first()
        .map_or(0, |(_, o)| o.offset);
    let mut batches = Vec::new();
    let mut offset = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let options = FetchOptions {
        max_wait: Duration::from_millis(100),
        ..FetchOptions::default()
    };
    while offset < latest {
        if Instant::now() > deadline {
            bail!(
                "{}: reading {topic} partition {partition} stalled at offset {offset} of {latest}",
                cluster.name()
            );
        }
        let position = FetchPosition::new(topic, partition, offset, 1 << 20);
        let fetched = cluster.fetch(&position, &options).await?;
        for batch in fetched.batches() {
            let batch = batch
                .with_context(|| format!("{topic} partition {partition} at offset {offset}"))?;
            offset = batch.next_offset();
            batches.push(batch);
        }
    }
    Ok(batches)
}

fn compare(partition: i32, east: &DecodedBatch, west: &DecodedBatch) -> anyhow::Result<()> {
    if east.records.len() != west.records.len() {
        bail!("partition {partition}: batch sizes differ");
    }
    for (e, w) in east.records.iter().zip(&west.records) {
        let same = e.key == w.key
            && e.value == w.value
            && e.headers == w.headers
            && e.timestamp == w.timestamp;
        if !same {
            bail!(
                "partition {partition}: east offset {} differs from west offset {}",
                e.offset,
                w.offset
            );
        }
    }
    Ok(())
}
