//! Legacy (magic 0/1, pre-0.11) message sets built by hand, with correct CRCs: for tests and fuzz
//! seeds (cargo feature `test-util`; always there for this crate's own unit tests).
//!
//! A log entry is `offset: i64, size: i32, message`; a message is `crc: u32` (CRC-32/IEEE of the
//! rest), `magic: i8, attributes: i8`, `timestamp: i64` (magic 1 only), then key and value, each
//! an `i32` length (-1 for null) and its bytes. A compressed entry ("wrapper") has the codec in
//! attribute bits 0-2 and, as its value, a compressed message set of inner entries (magic 1:
//! offsets relative to the first inner message, the wrapper's offset being the last inner
//! offset; magic 0: absolute offsets). See [`RawBatch::decode`](super::RawBatch::decode).
//!
//! ```
//! use bytes::Bytes;
//! use strait_kafka::batch::legacy_builder::{entry, message, wrapper};
//! use strait_kafka::batch::{Compression, RawBatch};
//!
//! // Inner messages at relative offsets 0 and 1, in a gzip wrapper at absolute offset 11.
//! let mut inner = entry(0, &message(1, 0, 1_000, Some(b"k"), Some(b"v")));
//! inner.extend(entry(1, &message(1, 0, 1_001, None, Some(b"w"))));
//! let set = wrapper(11, 1, 0, 1_001, Compression::Gzip, &inner);
//! let batch = RawBatch::new(Bytes::from(set)).unwrap();
//! let offsets: Vec<i64> = batch.decode().unwrap().records.iter().map(|r| r.offset).collect();
//! assert_eq!(offsets, [10, 11]);
//! ```

use bytes::{BufMut, BytesMut};

use super::{codec, legacy, Compression};

/// CRC-32/IEEE, the legacy message checksum.
pub fn crc32(data: &[u8]) -> u32 {
    legacy::crc32(data)
}

/// `data` compressed as Kafka's Java clients frame it (gzip, xerial snappy, LZ4 frame, zstd);
/// `None` passes it through.
pub fn compress(codec: Compression, data: &[u8]) -> Vec<u8> {
    codec::compress(codec, data).expect("compress in memory")
}

/// A message (CRC onwards) with a correct CRC: `magic` 0 or 1, `attributes` (codec in bits 0-2,
/// bit 3 log-append time), `timestamp` (written for magic 1 only), `key` and `value` (`None`:
/// null).
pub fn message(
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = BytesMut::new();
    body.put_i8(magic);
    body.put_i8(attributes);
    if magic == 1 {
        body.put_i64(timestamp);
    }
    for field in [key, value] {
        match field {
            None => body.put_i32(-1),
            Some(b) => {
                body.put_i32(b.len() as i32);
                body.put_slice(b);
            }
        }
    }
    let mut out = crc32(&body).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// Recomputes the CRC (the first 4 bytes) of a `message` edited after [`message`] built it.
pub fn fix_crc(message: &mut [u8]) {
    let crc = crc32(&message[4..]);
    message[..4].copy_from_slice(&crc.to_be_bytes());
}

/// A log entry: `offset`, the message's size, the `message`.
pub fn entry(offset: i64, message: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_i64(offset);
    out.put_i32(message.len() as i32);
    out.put_slice(message);
    out.to_vec()
}

/// A compressed wrapper entry at `offset` holding the message set `inner` (log entries)
/// compressed with `codec` (gzip, snappy or lz4 in Kafka; the codec's bits are added to
/// `attributes`), the wrapper message being of `magic` with `timestamp` and a null key.
pub fn wrapper(
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    codec: Compression,
    inner: &[u8],
) -> Vec<u8> {
    let packed = compress(codec, inner);
    let attributes = attributes | codec.attribute_bits() as i8;
    entry(
        offset,
        &message(magic, attributes, timestamp, None, Some(&packed)),
    )
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::batch::{RawBatch, TimestampType};

    #[test]
    fn a_v0_entry_is_laid_out_as_kafka_writes_it() {
        let bytes = entry(7, &message(0, 0, 123, None, Some(b"abc")));
        // offset, size 17, crc, magic 0, attributes 0, key -1, value length 3, "abc".
        assert_eq!(bytes.len(), 12 + 17);
        assert_eq!(&bytes[..12], &[0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 17]);
        assert_eq!(
            &bytes[16..],
            &[0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 3, b'a', b'b', b'c']
        );
        let crc = u32::from_be_bytes(bytes[12..16].try_into().unwrap());
        assert_eq!(crc, crc32(&bytes[16..]));
        let batch = RawBatch::new(Bytes::from(bytes)).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!((batch.magic(), batch.max_timestamp()), (0, -1));
    }

    #[test]
    fn a_v1_wrapper_decodes_to_its_inner_messages() {
        let mut inner = entry(0, &message(1, 0, 5, Some(b"k"), None));
        inner.extend(entry(1, &message(1, 0, 6, None, Some(b"v"))));
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
            let batch = RawBatch::new(Bytes::from(wrapper(4, 1, 8, 9, codec, &inner))).unwrap();
            let decoded = batch.decode().unwrap();
            assert_eq!(decoded.compression, codec);
            assert_eq!(decoded.timestamp_type, TimestampType::LogAppendTime);
            let got: Vec<(i64, i64)> = decoded
                .records
                .iter()
                .map(|r| (r.offset, r.timestamp))
                .collect();
            assert_eq!(got, [(3, 9), (4, 9)], "{codec}");
        }
    }

    #[test]
    fn fix_crc_repairs_an_edited_message() {
        let mut msg = message(1, 0, 1, None, Some(b"value"));
        msg[5] = 8;
        assert_ne!(&msg[..4], &crc32(&msg[4..]).to_be_bytes());
        fix_crc(&mut msg);
        RawBatch::new(Bytes::from(entry(0, &msg)))
            .unwrap()
            .verify_crc()
            .unwrap();
    }
}
