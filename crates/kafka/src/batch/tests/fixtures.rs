//! Shared builders for the unit tests.

use bytes::{BufMut, Bytes, BytesMut};

use crate::batch::{BatchBuilder, Compression, Header, ProducerFields, RawBatch, Record};

/// A record with an optional key/value and headers given as (key, value) pairs.
pub(super) fn record(
    offset: i64,
    timestamp: i64,
    key: Option<&'static str>,
    value: Option<&'static str>,
    headers: &[(&'static str, Option<&'static str>)],
) -> Record {
    Record {
        offset,
        timestamp,
        key: key.map(text),
        value: value.map(text),
        headers: headers
            .iter()
            .map(|(k, v)| Header {
                key: text(k),
                value: v.map(text),
            })
            .collect(),
    }
}

/// `Bytes` of a static str.
pub(super) fn text(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// Three records with distinct keys, a null key, an empty value and header variety.
pub(super) fn three_records(base: i64) -> Vec<Record> {
    vec![
        record(
            base,
            1_000,
            Some("k0"),
            Some("v0"),
            &[("h1", Some("a")), ("h2", None)],
        ),
        record(base + 1, 900, None, Some(""), &[]),
        record(base + 2, 1_100, Some("k2"), None, &[("trace", Some("xyz"))]),
    ]
}

/// An encoded batch of `n` single-byte records starting at `base`.
pub(super) fn batch(base: i64, n: i64, compression: Compression) -> RawBatch {
    BatchBuilder {
        base_offset: base,
        compression,
        records: (0..n)
            .map(|i| record(base + i, 10 * i, Some("k"), Some("v"), &[]))
            .collect(),
        ..BatchBuilder::new()
    }
    .encode()
    .unwrap()
}

/// A v2 header with the given fields followed by `records`, with a correct CRC.
#[allow(clippy::too_many_arguments)]
pub(super) fn hand_built(
    base_offset: i64,
    leader_epoch: i32,
    attributes: i16,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer: ProducerFields,
    record_count: i32,
    records: &[u8],
) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i64(base_offset);
    b.put_i32(49 + records.len() as i32);
    b.put_i32(leader_epoch);
    b.put_i8(2);
    b.put_u32(0);
    b.put_i16(attributes);
    b.put_i32(last_offset_delta);
    b.put_i64(base_timestamp);
    b.put_i64(max_timestamp);
    b.put_i64(producer.producer_id);
    b.put_i16(producer.producer_epoch);
    b.put_i32(producer.base_sequence);
    b.put_i32(record_count);
    b.put_slice(records);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}
