//! Property tests of `strait_kafka::batch`: lossless codec, producer rewrite, splitter, fuzzing.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, FileFailurePersistence};
use strait_kafka::batch::{
    split_batches, BatchBuilder, BatchError, Compression, Header, ProducerFields, RawBatch, Record,
    TimestampType,
};

/// `cases` per property; a failing case's seed is saved in `batch_props.regressions` beside
/// this file (commit it: every later run replays it first).
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// Header keys drawn from a small pool (so duplicates are common), including non-UTF-8 ones.
fn header_key() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        Just(Bytes::from_static(b"dup")),
        Just(Bytes::from_static(b"")),
        Just(Bytes::from_static(&[0xff, 0xc0, 0x80])),
        bytes(6),
    ]
}

fn header() -> impl Strategy<Value = Header> {
    (header_key(), proptest::option::of(bytes(8))).prop_map(|(key, value)| Header { key, value })
}

fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => 1_700_000_000_000i64..1_700_000_010_000,
        1 => any::<i64>(),
        1 => Just(-1i64),
    ]
}

/// Record content; offsets are assigned by `records`.
fn record_body() -> impl Strategy<Value = (u8, i64, Option<Bytes>, Option<Bytes>, Vec<Header>)> {
    (
        0u8..4,
        timestamp(),
        proptest::option::of(bytes(16)),
        proptest::option::of(bytes(64)),
        vec(header(), 0..4),
    )
}

/// Records with strictly increasing offsets from `base` (gaps of 0-3 extra), up to `max` of them.
fn records(max: usize) -> impl Strategy<Value = (i64, Vec<Record>)> {
    (0i64..1 << 50, vec(record_body(), 0..=max)).prop_map(|(base, bodies)| {
        let mut next = base;
        let records = bodies
            .into_iter()
            .map(|(gap, timestamp, key, value, headers)| {
                let offset = next + i64::from(gap);
                next = offset + 1;
                Record {
                    offset,
                    timestamp,
                    key,
                    value,
                    headers,
                }
            })
            .collect();
        (base, records)
    })
}

fn producer() -> impl Strategy<Value = ProducerFields> {
    (any::<i64>(), any::<i16>(), any::<i32>(), any::<bool>()).prop_map(
        |(producer_id, producer_epoch, base_sequence, transactional)| ProducerFields {
            producer_id,
            producer_epoch,
            base_sequence,
            transactional,
        },
    )
}

fn builder(max_records: usize) -> impl Strategy<Value = BatchBuilder> {
    (
        records(max_records),
        select(Compression::ALL.to_vec()),
        select(vec![
            TimestampType::CreateTime,
            TimestampType::LogAppendTime,
        ]),
        producer(),
        any::<bool>(),
        any::<i32>(),
    )
        .prop_map(
            |((base_offset, records), compression, timestamp_type, producer, is_control, epoch)| {
                BatchBuilder {
                    base_offset,
                    compression,
                    timestamp_type,
                    producer,
                    is_control,
                    partition_leader_epoch: epoch,
                    records,
                }
            },
        )
}

/// Consecutive non-empty batches: each starts at the previous batch's next offset.
fn batch_run() -> impl Strategy<Value = Vec<RawBatch>> {
    vec(builder(4), 1..6).prop_map(|builders| {
        let mut next = 0i64;
        builders
            .into_iter()
            .filter(|b| !b.records.is_empty())
            .map(|mut b| {
                let shift = next - b.base_offset;
                b.base_offset = next;
                for r in &mut b.records {
                    r.offset += shift;
                }
                let batch = b.encode().expect("valid builder encodes");
                next = batch.next_offset();
                batch
            })
            .collect()
    })
}

fn concat(batches: &[RawBatch]) -> Bytes {
    let mut buf = BytesMut::new();
    for b in batches {
        buf.put_slice(b.bytes());
    }
    buf.freeze()
}

/// Runs the splitter and checks its shape: Oks, then at most one Err, which is last.
fn split_checked(buf: &Bytes, fetch_offset: i64) -> (Vec<RawBatch>, Option<BatchError>) {
    let mut oks = Vec::new();
    let mut iter = split_batches(buf, fetch_offset);
    for item in iter.by_ref() {
        match item {
            Ok(batch) => {
                assert!(batch.len() <= buf.len());
                assert!(
                    RawBatch::new(batch.bytes().clone()).is_ok(),
                    "yielded batch revalidates"
                );
                oks.push(batch);
            }
            Err(e) => {
                assert!(iter.next().is_none(), "nothing after an error");
                return (oks, Some(e));
            }
        }
    }
    (oks, None)
}

/// Exercises every read path of a batch; must never panic.
fn exercise(batch: &RawBatch) {
    let _ = (
        batch.base_offset(),
        batch.last_offset(),
        batch.next_offset(),
        batch.magic(),
    );
    let _ = (
        batch.partition_leader_epoch(),
        batch.crc(),
        batch.attributes(),
    );
    let _ = (
        batch.compression(),
        batch.timestamp_type(),
        batch.is_transactional(),
    );
    let _ = (
        batch.is_control(),
        batch.base_timestamp(),
        batch.max_timestamp(),
    );
    let _ = (
        batch.producer(),
        batch.record_count(),
        batch.offsets_contiguous(),
    );
    let crc_ok = batch.verify_crc().is_ok();
    match batch.decode() {
        Ok(decoded) => {
            assert!(crc_ok);
            if batch.magic() == 2 {
                // Legacy entries report no record count in their header.
                assert_eq!(decoded.records.len(), batch.record_count() as usize);
            }
        }
        Err(BatchError::CrcMismatch { .. }) => assert!(!crc_ok),
        Err(_) => {}
    }
    let fields = ProducerFields {
        producer_id: 1,
        producer_epoch: 2,
        base_sequence: 3,
        transactional: true,
    };
    let rewritten = batch.rewrite_producer(&fields);
    assert_eq!(rewritten.len(), batch.len());
    assert_eq!(
        batch.try_rewrite_producer(&fields).is_ok(),
        crc_ok && batch.magic() == 2
    );
}

/// Recomputes a v2 batch's CRC so mutations reach the record parser and decompressors.
fn fix_crc(bytes: &mut [u8]) {
    if bytes.len() >= 61 {
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    }
}

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn encode_decode_is_lossless(b in builder(8)) {
        let batch = b.encode().unwrap();
        batch.verify_crc().unwrap();
        prop_assert_eq!(batch.compression().unwrap(), b.compression);
        prop_assert_eq!(batch.record_count() as usize, b.records.len());
        if let Some(last) = b.records.last() {
            prop_assert_eq!(batch.last_offset(), last.offset);
            prop_assert_eq!(batch.base_timestamp(), b.records[0].timestamp);
        }
        let decoded = batch.decode().unwrap();
        prop_assert_eq!(decoded.base_offset, b.base_offset);
        prop_assert_eq!(decoded.compression, b.compression);
        prop_assert_eq!(decoded.timestamp_type, b.timestamp_type);
        prop_assert_eq!(decoded.producer, b.producer);
        prop_assert_eq!(decoded.is_control, b.is_control);
        prop_assert_eq!(decoded.partition_leader_epoch, b.partition_leader_epoch);
        prop_assert_eq!(decoded.max_timestamp, b.records.iter().map(|r| r.timestamp).max().unwrap_or(-1));
        prop_assert_eq!(&decoded.records, &b.records);
        // Decoded → builder → bytes is a fixed point.
        let again = BatchBuilder::from(decoded).encode().unwrap();
        prop_assert_eq!(again.bytes(), batch.bytes());
    }

    #[test]
    fn rewrite_keeps_records_and_sets_producer(b in builder(6), fields in producer()) {
        let original = b.encode().unwrap();
        let rewritten = original.rewrite_producer(&fields);
        rewritten.verify_crc().unwrap();
        prop_assert_eq!(&original.try_rewrite_producer(&fields).unwrap(), &rewritten);
        prop_assert_eq!(rewritten.base_offset(), 0);
        prop_assert_eq!(rewritten.producer(), fields);
        prop_assert_eq!(rewritten.is_transactional(), fields.transactional);
        prop_assert_eq!(rewritten.compression().unwrap(), b.compression);
        prop_assert_eq!(rewritten.is_control(), b.is_control);
        prop_assert_eq!(rewritten.timestamp_type(), b.timestamp_type);
        prop_assert_eq!(rewritten.attributes() & !0x10, original.attributes() & !0x10);
        prop_assert_eq!(&rewritten.bytes()[8..17], &original.bytes()[8..17]);
        prop_assert_eq!(&rewritten.bytes()[23..43], &original.bytes()[23..43]);
        prop_assert_eq!(&rewritten.bytes()[57..], &original.bytes()[57..]);
        let decoded = rewritten.decode().unwrap();
        let expected: Vec<Record> = b
            .records
            .iter()
            .map(|r| Record { offset: r.offset - b.base_offset, ..r.clone() })
            .collect();
        prop_assert_eq!(decoded.records, expected);
    }

    #[test]
    fn splitter_yields_exactly_the_complete_batches(
        batches in batch_run(),
        cut in any::<Index>(),
        fetch in any::<Index>(),
    ) {
        let buf = concat(&batches);
        let cut = cut.index(buf.len() + 1);
        let end_offset = batches.last().map_or(0, RawBatch::next_offset);
        let fetch_offset = fetch.index(end_offset as usize + 2) as i64;
        let mut end = 0;
        let expected: Vec<RawBatch> = batches
            .iter()
            .filter(|b| {
                end += b.len();
                end <= cut && b.last_offset() >= fetch_offset
            })
            .cloned()
            .collect();
        let (got, err) = split_checked(&buf.slice(..cut), fetch_offset);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn splitter_on_valid_prefix_then_garbage(batches in batch_run(), garbage in vec(any::<u8>(), 0..512)) {
        let mut buf = BytesMut::from(&concat(&batches)[..]);
        buf.put_slice(&garbage);
        let (got, _) = split_checked(&buf.freeze(), 0);
        prop_assert!(got.len() >= batches.len());
        prop_assert_eq!(&got[..batches.len()], &batches[..]);
        for b in &got {
            exercise(b);
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn splitter_on_arbitrary_bytes(data in vec(any::<u8>(), 0..4096), fetch in any::<i64>()) {
        let buf = Bytes::from(data);
        split_checked(&buf, fetch);
        split_checked(&buf, 0);
    }
}

/// One batch of a run with bytes overwritten; `in_records` keeps edits after the 61-byte header.
#[derive(Clone, Debug)]
struct Mutation {
    target: Index,
    edits: Vec<(Index, u8)>,
    in_records: bool,
    recrc: bool,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        any::<Index>(),
        vec((any::<Index>(), any::<u8>()), 1..6),
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(target, edits, in_records, recrc)| Mutation {
            target,
            edits,
            in_records,
            recrc,
        })
}

/// Applies `m` to the concatenation of `batches`; with `recrc` the target's CRC is recomputed so
/// the mutation reaches the record parser and the decompressors.
fn mutate(batches: &[RawBatch], m: &Mutation) -> Bytes {
    let mut buf = concat(batches).to_vec();
    if batches.is_empty() {
        return Bytes::from(buf);
    }
    let t = m.target.index(batches.len());
    let start: usize = batches[..t].iter().map(RawBatch::len).sum();
    let end = start + batches[t].len();
    let from = if m.in_records { start + 61 } else { start };
    for (at, byte) in &m.edits {
        if from < end {
            buf[from + at.index(end - from)] = *byte;
        }
    }
    if m.recrc {
        fix_crc(&mut buf[start..end]);
    }
    Bytes::from(buf)
}

/// Raw material for the fuzz target: arbitrary bytes or mutated valid batches.
fn fuzz_input() -> impl Strategy<Value = Bytes> {
    let mutated = (batch_run(), mutation()).prop_map(|(batches, m)| mutate(&batches, &m));
    prop_oneof![
        1 => vec(any::<u8>(), 0..2048).prop_map(Bytes::from),
        3 => mutated,
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn fuzz_split_verify_decode(buf in fuzz_input(), fetch in -2i64..64) {
        let (batches, _) = split_checked(&buf, fetch);
        for b in &batches {
            exercise(b);
        }
    }
}
