//! Loading the bench's source topic: pre-encoded batches of JSON-like events, written by several
//! idempotent producers with many batches in flight.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use strait_kafka::batch::{BatchBuilder, Compression, RawBatch, Record};
use strait_kafka::{Cluster, Producer};

use super::{BenchArgs, TOPIC};

/// Distinct pre-encoded batches per codec, cycled through while loading.
const POOL_BATCHES: usize = 8;
/// Produce requests in flight per loading producer.
const LOAD_IN_FLIGHT: usize = 16;

/// Loads the source topic; returns the batch bytes written and the seconds it took.
pub(super) async fn load(
    source: &Cluster,
    args: &BenchArgs,
    codec: Compression,
    records_per_partition: u64,
) -> anyhow::Result<(u64, f64)> {
    let per_batch = args.batch_records as u64;
    let full_batches = records_per_partition / per_batch;
    let tail_records = records_per_partition % per_batch;
    let encoding = Instant::now();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d ^ codec as u64);
    let pool: Vec<RawBatch> = (0..POOL_BATCHES.min(full_batches.max(1) as usize))
        .map(|_| encode_batch(&mut rng, codec, args.batch_records, args.record_bytes))
        .collect::<Result<_, _>>()?;
    let tail = (tail_records > 0)
        .then(|| encode_batch(&mut rng, codec, tail_records as usize, args.record_bytes))
        .transpose()?;
    let pool = Arc::new(pool);
    let tail = Arc::new(tail);
    println!(
        "loading {codec}: {} distinct batches of {} records pre-encoded in {:.2} s \
         ({} bytes each on average), {} producers",
        pool.len(),
        args.batch_records,
        encoding.elapsed().as_secs_f64(),
        pool.iter().map(RawBatch::len).sum::<usize>() / pool.len().max(1),
        args.producers,
    );

    let total = records_per_partition * args.partitions as u64;
    let done = Arc::new(AtomicU64::new(0));
    let wire = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.producers.min(args.partitions as usize) {
        let producer = Producer::idempotent(source).await?;
        let partitions: Vec<i32> = (0..args.partitions)
            .filter(|p| *p as usize % args.producers == i)
            .collect();
        let (pool, tail, done, wire) = (pool.clone(), tail.clone(), done.clone(), wire.clone());
        tasks.spawn(async move {
            let mut in_flight = VecDeque::new();
            let rounds = full_batches + u64::from(tail.is_some());
            for round in 0..rounds {
                for &p in &partitions {
                    let batch = if round < full_batches {
                        &pool[(round as usize + p as usize) % pool.len()]
                    } else {
                        tail.as_ref().as_ref().expect("tail round only with a tail")
                    };
                    in_flight.push_back(producer.submit(TOPIC, p, batch).await?);
                    while in_flight.len() >= LOAD_IN_FLIGHT {
                        settle(in_flight.pop_front(), &done, &wire).await?;
                    }
                }
            }
            while !in_flight.is_empty() {
                settle(in_flight.pop_front(), &done, &wire).await?;
            }
            anyhow::Ok(())
        });
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            finished = tasks.join_next() => match finished {
                Some(result) => result?.context("loading the source topic")?,
                None => break,
            },
            _ = tick.tick() => {
                let n = done.load(Ordering::Relaxed);
                println!(
                    "  loading {codec}: {n} / {total} records ({:.0}%), {:.0} MB/s of batches",
                    100.0 * n as f64 / total as f64,
                    wire.load(Ordering::Relaxed) as f64 / 1e6 / started.elapsed().as_secs_f64(),
                );
            }
        }
    }
    Ok((
        wire.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    ))
}

async fn settle(
    sent: Option<strait_kafka::InFlightBatch<'_>>,
    done: &AtomicU64,
    wire: &AtomicU64,
) -> anyhow::Result<()> {
    if let Some(sent) = sent {
        let (records, bytes) = (
            sent.batch().record_count() as u64,
            sent.batch().len() as u64,
        );
        sent.wait().await?;
        done.fetch_add(records, Ordering::Relaxed);
        wire.fetch_add(bytes, Ordering::Relaxed);
    }
    Ok(())
}

/// One batch of `count` records with JSON-like values of `bytes` bytes.
pub(super) fn one_batch(
    codec: Compression,
    count: usize,
    bytes: usize,
) -> anyhow::Result<RawBatch> {
    encode_batch(&mut XorShift(0x9e37_79b9_7f4a_7c15), codec, count, bytes)
}

/// A batch of `count` records with JSON-like values of `bytes` bytes.
fn encode_batch(
    rng: &mut XorShift,
    codec: Compression,
    count: usize,
    bytes: usize,
) -> anyhow::Result<RawBatch> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let records = (0..count)
        .map(|i| {
            let id = rng.next();
            Record {
                offset: i as i64,
                timestamp: now + i as i64,
                key: Some(Bytes::from(format!("user-{:06}", id % 1_000_000))),
                value: Some(Bytes::from(event_value(rng, id, bytes))),
                headers: vec![],
            }
        })
        .collect();
    Ok(BatchBuilder {
        compression: codec,
        records,
        ..BatchBuilder::default()
    }
    .encode()?)
}

/// A JSON-like event of exactly `bytes` bytes: fixed field names, varying numbers and words.
fn event_value(rng: &mut XorShift, id: u64, bytes: usize) -> Vec<u8> {
    const WORDS: [&str; 24] = [
        "order",
        "shipped",
        "customer",
        "payment",
        "refund",
        "warehouse",
        "berlin",
        "lisbon",
        "express",
        "standard",
        "pending",
        "confirmed",
        "cart",
        "checkout",
        "coupon",
        "basket",
        "invoice",
        "delivery",
        "parcel",
        "return",
        "review",
        "rating",
        "mobile",
        "desktop",
    ];
    let mut v = format!(
        "{{\"id\":{id},\"user\":\"user-{:06}\",\"event\":\"{}\",\"amount\":{}.{:02},\"ts\":{},\"note\":\"",
        id % 1_000_000,
        WORDS[(id % 24) as usize],
        rng.next() % 10_000,
        rng.next() % 100,
        1_700_000_000_000 + rng.next() % 100_000_000,
    )
    .into_bytes();
    while v.len() + 2 < bytes {
        let word = WORDS[(rng.next() % WORDS.len() as u64) as usize];
        v.extend_from_slice(word.as_bytes());
        v.push(b' ');
    }
    v.truncate(bytes.saturating_sub(2));
    v.extend_from_slice(b"\"}");
    v.truncate(bytes);
    v
}

/// xorshift64*: deterministic, dependency-free filler.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
