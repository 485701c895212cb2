//! Legacy (magic 0/1) message sets: recognised and yielded (decoding: `batch::legacy`).

use bytes::{BufMut, Bytes, BytesMut};

use crate::batch::legacy_builder::{entry, message};
use crate::batch::{split_batches, BatchError, Compression, RawBatch, TimestampType};

/// A legacy log entry with a null key, `value` and (magic 1) timestamp 123456.
fn legacy(offset: i64, magic: i8, attributes: i8, value: &[u8]) -> Bytes {
    Bytes::from(entry(
        offset,
        &message(magic, attributes, 123_456, None, Some(value)),
    ))
}

#[test]
fn v1_accessors_use_documented_defaults() {
    let batch = RawBatch::new(legacy(41, 1, 8 | 1, b"abc")).unwrap();
    assert_eq!(batch.magic(), 1);
    assert_eq!(
        (
            batch.base_offset(),
            batch.last_offset(),
            batch.next_offset()
        ),
        (41, 41, 42)
    );
    assert_eq!(batch.compression().unwrap(), Compression::Gzip);
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(
        (batch.base_timestamp(), batch.max_timestamp()),
        (123_456, 123_456)
    );
    assert_eq!(
        (
            batch.producer_id(),
            batch.producer_epoch(),
            batch.base_sequence()
        ),
        (-1, -1, -1)
    );
    assert_eq!(
        (batch.record_count(), batch.partition_leader_epoch()),
        (-1, -1)
    );
    assert!(!batch.is_transactional() && !batch.is_control());
    batch.verify_crc().unwrap();
    // Decoded since legacy support (batch::legacy); "abc" is no gzip stream.
    assert!(matches!(
        batch.decode(),
        Err(BatchError::Compression {
            codec: Compression::Gzip,
            ..
        })
    ));
    assert_eq!(batch.rewrite_producer(&Default::default()), batch);
    assert!(batch.try_rewrite_producer(&Default::default()).is_err());
}

#[test]
fn v0_has_no_timestamp() {
    let batch = RawBatch::new(legacy(0, 0, 0, b"")).unwrap();
    assert_eq!(batch.len(), 26);
    assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
    assert_eq!(batch.max_timestamp(), -1);
    batch.verify_crc().unwrap();
    let mut bad = batch.bytes().to_vec();
    bad[20] ^= 1;
    assert!(RawBatch::new(Bytes::from(bad))
        .unwrap()
        .verify_crc()
        .is_err());
}

#[test]
fn splitter_yields_and_skips_legacy_by_prefix_offset() {
    let mut buf = BytesMut::new();
    buf.put_slice(&legacy(5, 1, 0, b"a"));
    buf.put_slice(&legacy(9, 0, 0, b"b"));
    let buf = buf.freeze();
    let all: Vec<_> = split_batches(&buf, 0).map(Result::unwrap).collect();
    assert_eq!(
        all.iter().map(RawBatch::last_offset).collect::<Vec<_>>(),
        [5, 9]
    );
    let later: Vec<_> = split_batches(&buf, 6).map(Result::unwrap).collect();
    assert_eq!(later.iter().map(RawBatch::magic).collect::<Vec<_>>(), [0]);
}

#[test]
fn v1_shorter_than_its_minimum_is_corrupt() {
    // Claims magic 1 but only has the v0 minimum of 14 bytes.
    let mut b = legacy(0, 0, 0, b"").to_vec();
    b[16] = 1;
    assert!(matches!(
        RawBatch::new(Bytes::from(b.clone())),
        Err(BatchError::Corrupt { .. })
    ));
    let buf = Bytes::from(b);
    let out: Vec<_> = split_batches(&buf, 0).collect();
    assert!(matches!(
        out.as_slice(),
        [Err(BatchError::Corrupt { offset: 0, .. })]
    ));
}
