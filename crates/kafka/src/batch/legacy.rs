//! Decoding legacy message sets (magic 0 and 1, Kafka's pre-0.11 "MessageSet" format) so they
//! can be re-encoded as v2 batches.
//!
//! # Format
//! A [`RawBatch`] of magic 0/1 is ONE log entry: offset i64, message size i32, then the message:
//! crc u32 (CRC-32/IEEE of everything after it), magic i8, attributes i8 (bits 0-2 codec, bit 3
//! log-append time for magic 1), timestamp i64 (magic 1 only), key and value (i32 length, -1 for
//! null, bytes). Legacy messages have no headers: records decode with empty headers.
//!
//! # Compressed wrappers
//! A compressed entry is a "wrapper" whose value is the compressed bytes of an inner message set
//! (gzip, xerial or raw snappy, LZ4 frame; zstd never existed for magic < 2 and is refused). The
//! wrapper's offset is the offset of the LAST inner message. Inner offsets are relative for magic
//! 1 wrappers (absolute = wrapper offset - last inner offset + inner offset, which keeps the
//! gaps compaction leaves) and absolute for magic 0 wrappers. For a magic 1 wrapper with
//! log-append time every magic 1 inner message takes the wrapper's timestamp; otherwise inner
//! messages keep their own (-1 for magic 0 messages). As in Kafka's Java client, inner messages
//! may have another magic than their wrapper. Every inner CRC is checked; a compressed inner
//! message (a wrapper inside a wrapper), an empty or null wrapper value and bytes left after the
//! last inner message are [`BatchError::Corrupt`].
//!
//! # LZ4 of magic 0
//! Kafka 0.8 computed the LZ4 frame header checksum over the frame magic too (KAFKA-1493, fixed
//! by KAFKA-3160 together with the introduction of magic 1), and Kafka's readers ignore that byte
//! for magic 0 wrappers. lz4_flex always verifies it, so for magic 0 wrappers the byte is
//! recomputed (xxHash32 of the frame descriptor) before decoding, which accepts both correct and
//! KAFKA-1493 frames. Magic 1 frames are decoded as they are, like Kafka does.
//!
//! # Output
//! The [`DecodedBatch`] has absolute offsets and its `base_offset` is the FIRST record's offset
//! (the entry's prefix offset is the last one), compression is the wrapper's codec, the timestamp
//! type comes from the attributes (create time for magic 0), producer fields are
//! [`ProducerFields::NONE`], the partition leader epoch -1 and `max_timestamp` the largest record
//! timestamp. Decompression is capped like for v2 batches.

use bytes::Bytes;

use super::codec;
use super::layout::LOG_OVERHEAD;
use super::wire::{i32_at, i64_at, u32_at, ParseResult, Reader};
use super::{
    BatchError, Compression, DecodedBatch, ProducerFields, RawBatch, Record, TimestampType,
};

/// Attribute bits 0-2 of a legacy message: the codec id.
const CODEC_MASK: i8 = 0x07;
/// Smallest message (after offset and size): crc, magic, attributes, key and value lengths.
const MIN_MESSAGE_SIZE: usize = 14;
/// Smallest inner log entry: offset, size and the smallest message.
const MIN_ENTRY_SIZE: usize = LOG_OVERHEAD + MIN_MESSAGE_SIZE;
/// Magic number starting an LZ4 frame (little-endian 0x184D2204).
const LZ4_FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4D, 0x18];

/// CRC-32/IEEE (polynomial 0xEDB88320), the legacy message checksum.
///
/// flate2 (already used for gzip and by [`RawBatch::computed_crc`]) exposes it, so no table of
/// our own is needed.
pub(super) fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// xxHash32 with seed 0 of fewer than 16 bytes (an LZ4 frame descriptor is at most 14).
fn xxh32_short(data: &[u8]) -> u32 {
    const P1: u32 = 0x9E37_79B1;
    const P2: u32 = 0x85EB_CA77;
    const P3: u32 = 0xC2B2_AE3D;
    const P4: u32 = 0x27D4_EB2F;
    const P5: u32 = 0x1656_67B1;
    let mut h = P5.wrapping_add(data.len() as u32);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        let k = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        h = h
            .wrapping_add(k.wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
    }
    for &b in words.remainder() {
        h = h
            .wrapping_add(u32::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

/// The LZ4 frame with its header checksum byte recomputed; unchanged when it is already right
/// or the bytes do not start with a whole frame header (the decoder then reports the error).
fn fix_lz4_header_checksum(frame: &Bytes) -> Bytes {
    let Some(&flg) = frame.get(4) else {
        return frame.clone();
    };
    if !frame.starts_with(&LZ4_FRAME_MAGIC) {
        return frame.clone();
    }
    // FLG, BD, then the content size (FLG bit 3) and the dictionary id (FLG bit 0).
    let mut hc_at = 6;
    if flg & 0x08 != 0 {
        hc_at += 8;
    }
    if flg & 0x01 != 0 {
        hc_at += 4;
    }
    let Some(&stored) = frame.get(hc_at) else {
        return frame.clone();
    };
    let expected = (xxh32_short(&frame[4..hc_at]) >> 8) as u8;
    if stored == expected {
        return frame.clone();
    }
    let mut fixed = frame.to_vec();
    fixed[hc_at] = expected;
    Bytes::from(fixed)
}

/// One legacy message (everything after the offset and size fields).
#[derive(Debug)]
struct Message {
    magic: i8,
    attributes: i8,
    /// -1 for magic 0.
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

impl Message {
    fn codec_id(&self) -> i8 {
        self.attributes & CODEC_MASK
    }
}

/// Why a message could not be read.
enum Bad {
    Crc { expected: u32, actual: u32 },
    Corrupt(String),
}

impl From<String> for Bad {
    fn from(reason: String) -> Self {
        Bad::Corrupt(reason)
    }
}

fn read_i32(r: &mut Reader, what: &str) -> ParseResult<i32> {
    r.bytes(4, what).map(|b| i32_at(&b, 0))
}

fn read_i64(r: &mut Reader, what: &str) -> ParseResult<i64> {
    r.bytes(8, what).map(|b| i64_at(&b, 0))
}

/// Reads an i32 length and that many bytes; -1 means null.
fn read_nullable(r: &mut Reader, what: &str) -> ParseResult<Option<Bytes>> {
    match read_i32(r, what)? {
        -1 => Ok(None),
        len if len < 0 => Err(format!("negative {what} length {len}")),
        len => r.bytes(len as usize, what).map(Some),
    }
}

/// Parses one message (crc onwards) after checking its CRC; the fields must fill it exactly.
fn parse_message(msg: Bytes) -> Result<Message, Bad> {
    if msg.len() < MIN_MESSAGE_SIZE {
        return Err(Bad::Corrupt(format!(
            "message of {} bytes is below the minimum {MIN_MESSAGE_SIZE}",
            msg.len()
        )));
    }
    let expected = u32_at(&msg, 0);
    let actual = crc32(&msg[4..]);
    if expected != actual {
        return Err(Bad::Crc { expected, actual });
    }
    let mut r = Reader::new(msg.slice(4..));
    let magic = r.i8("magic")?;
    if magic != 0 && magic != 1 {
        return Err(Bad::Corrupt(format!(
            "magic {magic} inside a legacy message set"
        )));
    }
    let attributes = r.i8("attributes")?;
    let timestamp = if magic == 1 {
        read_i64(&mut r, "timestamp")?
    } else {
        -1
    };
    let key = read_nullable(&mut r, "key")?;
    let value = read_nullable(&mut r, "value")?;
    if r.remaining() != 0 {
        return Err(Bad::Corrupt(format!(
            "{} bytes left after the value",
            r.remaining()
        )));
    }
    Ok(Message {
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

/// Parses a decompressed inner message set into (offset as stored, message) pairs.
fn parse_inner(data: Bytes, offset: i64) -> Result<Vec<(i64, Message)>, BatchError> {
    let corrupt = |reason: String| BatchError::Corrupt { offset, reason };
    let mut r = Reader::new(data);
    // Entries are pushed as parsed: no reservation from claimed sizes.
    let mut inner = Vec::new();
    while r.remaining() > 0 {
        let i = inner.len();
        let at = |reason: String| corrupt(format!("inner message {i}: {reason}"));
        if r.remaining() < MIN_ENTRY_SIZE {
            return Err(at(format!(
                "{} trailing bytes are too few for a message",
                r.remaining()
            )));
        }
        let inner_offset = read_i64(&mut r, "offset").map_err(at)?;
        let size = read_i32(&mut r, "message size").map_err(at)?;
        let size = usize::try_from(size).map_err(|_| at(format!("negative size {size}")))?;
        let msg = r.bytes(size, "message").map_err(at)?;
        let message = match parse_message(msg) {
            Ok(m) => m,
            Err(Bad::Corrupt(reason)) => return Err(at(reason)),
            Err(Bad::Crc { expected, actual }) => {
                return Err(BatchError::CrcMismatch {
                    base_offset: offset,
                    expected,
                    actual,
                })
            }
        };
        if message.codec_id() != 0 {
            return Err(at(format!(
                "nested compressed message (codec id {})",
                message.codec_id()
            )));
        }
        inner.push((inner_offset, message));
    }
    Ok(inner)
}

/// Decodes one legacy log entry (see the module docs); the caller checked the magic is 0 or 1.
pub(crate) fn decode(
    batch: &RawBatch,
    max_decompressed: usize,
) -> Result<DecodedBatch, BatchError> {
    let offset = batch.base_offset();
    let corrupt = |reason: String| BatchError::Corrupt { offset, reason };
    let wrapper = match parse_message(batch.bytes().slice(LOG_OVERHEAD..)) {
        Ok(m) => m,
        Err(Bad::Corrupt(reason)) => return Err(corrupt(reason)),
        Err(Bad::Crc { expected, actual }) => {
            return Err(BatchError::CrcMismatch {
                base_offset: offset,
                expected,
                actual,
            })
        }
    };
    let compression = batch.compression()?;
    let timestamp_type = batch.timestamp_type();
    let records = match compression {
        Compression::None => vec![Record {
            offset,
            timestamp: wrapper.timestamp,
            key: wrapper.key,
            value: wrapper.value,
            headers: Vec::new(),
        }],
        Compression::Zstd => {
            return Err(corrupt(format!(
                "zstd compression with magic {}",
                wrapper.magic
            )))
        }
        codec => {
            let value = wrapper
                .value
                .ok_or_else(|| corrupt("compressed wrapper with a null value".into()))?;
            let value = if codec == Compression::Lz4 && wrapper.magic == 0 {
                fix_lz4_header_checksum(&value)
            } else {
                value
            };
            let data = codec::decompress(codec, value, max_decompressed)?;
            let inner = parse_inner(data, offset)?;
            let Some(&(last, _)) = inner.last() else {
                return Err(corrupt("compressed wrapper without inner messages".into()));
            };
            // Magic 1: relative offsets, the wrapper's offset is the last one's absolute offset.
            let base = if wrapper.magic == 1 {
                offset
                    .checked_sub(last)
                    .filter(|b| *b >= 0)
                    .ok_or_else(|| {
                        corrupt(format!(
                            "wrapper offset {offset} is below the last relative offset {last}"
                        ))
                    })?
            } else {
                0
            };
            let log_append = wrapper.magic == 1 && timestamp_type == TimestampType::LogAppendTime;
            let mut records = Vec::with_capacity(inner.len());
            for (i, (inner_offset, m)) in inner.into_iter().enumerate() {
                let absolute = base.checked_add(inner_offset).ok_or_else(|| {
                    corrupt(format!(
                        "inner message {i}: offset {inner_offset} overflows from {base}"
                    ))
                })?;
                let timestamp = match m.magic {
                    0 => -1,
                    _ if log_append => wrapper.timestamp,
                    _ => m.timestamp,
                };
                records.push(Record {
                    offset: absolute,
                    timestamp,
                    key: m.key,
                    value: m.value,
                    headers: Vec::new(),
                });
            }
            records
        }
    };
    let base_offset = records.first().map_or(offset, |r| r.offset);
    let max_timestamp = records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
    Ok(DecodedBatch {
        base_offset,
        compression,
        timestamp_type,
        producer: ProducerFields::NONE,
        is_control: false,
        partition_leader_epoch: -1,
        max_timestamp,
        records,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::batch::legacy_builder::{self, entry, fix_crc, message, wrapper};
    use crate::batch::{split_batches, BatchBuilder, MAX_DECOMPRESSED_SIZE};

    fn raw(bytes: Vec<u8>) -> RawBatch {
        RawBatch::new(Bytes::from(bytes)).unwrap()
    }

    /// Three magic 1 create-time messages with relative offsets `rel`.
    fn three_v1(rel: [i64; 3]) -> Vec<u8> {
        let mut set = entry(rel[0], &message(1, 0, 1_000, Some(b"k0"), Some(b"v0")));
        set.extend(entry(rel[1], &message(1, 0, 3_000, None, Some(b""))));
        set.extend(entry(rel[2], &message(1, 0, 2_000, Some(b"k2"), None)));
        set
    }

    fn rec(
        offset: i64,
        timestamp: i64,
        key: Option<&'static [u8]>,
        value: Option<&'static [u8]>,
    ) -> Record {
        Record {
            offset,
            timestamp,
            key: key.map(Bytes::from_static),
            value: value.map(Bytes::from_static),
            headers: Vec::new(),
        }
    }

    fn expected_three(offsets: [i64; 3], ts: [i64; 3]) -> Vec<Record> {
        vec![
            rec(offsets[0], ts[0], Some(b"k0"), Some(b"v0")),
            rec(offsets[1], ts[1], None, Some(b"")),
            rec(offsets[2], ts[2], Some(b"k2"), None),
        ]
    }

    #[test]
    fn crc32_is_the_ieee_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn xxh32_matches_reference_vectors_and_lz4_flex_headers() {
        assert_eq!(xxh32_short(b""), 0x02CC_5D05);
        assert_eq!(xxh32_short(b"a"), 0x550D_7456);
        assert_eq!(xxh32_short(b"abc"), 0x32D1_53FF);
        let frame = codec::compress(Compression::Lz4, b"hello").unwrap();
        assert_eq!(frame[6], (xxh32_short(&frame[4..6]) >> 8) as u8);
    }

    #[test]
    fn uncompressed_v0_with_null_key() {
        let batch = raw(entry(7, &message(0, 0, 0, None, Some(b"value"))));
        let decoded = batch.decode().unwrap();
        assert_eq!(
            decoded,
            DecodedBatch {
                base_offset: 7,
                compression: Compression::None,
                timestamp_type: TimestampType::CreateTime,
                producer: ProducerFields::NONE,
                is_control: false,
                partition_leader_epoch: -1,
                max_timestamp: -1,
                records: vec![rec(7, -1, None, Some(b"value"))],
            }
        );
    }

    #[test]
    fn uncompressed_v1_keeps_timestamp_and_type() {
        let batch = raw(entry(3, &message(1, 0, 1_234, Some(b"k"), None)));
        let decoded = batch.decode().unwrap();
        assert_eq!(decoded.records, vec![rec(3, 1_234, Some(b"k"), None)]);
        assert_eq!(decoded.max_timestamp, 1_234);
        assert_eq!(decoded.timestamp_type, TimestampType::CreateTime);

        let batch = raw(entry(3, &message(1, 8, 5_678, Some(b""), Some(b"v"))));
        let decoded = batch.decode().unwrap();
        assert_eq!(decoded.records, vec![rec(3, 5_678, Some(b""), Some(b"v"))]);
        assert_eq!(decoded.timestamp_type, TimestampType::LogAppendTime);
    }

    #[test]
    fn gzip_v1_wrapper_resolves_relative_offsets() {
        let batch = raw(wrapper(
            102,
            1,
            0,
            3_000,
            Compression::Gzip,
            &three_v1([0, 1, 2]),
        ));
        assert_eq!(batch.last_offset(), 102);
        let decoded = batch.decode().unwrap();
        assert_eq!(
            decoded.records,
            expected_three([100, 101, 102], [1_000, 3_000, 2_000])
        );
        assert_eq!(decoded.base_offset, 100);
        assert_eq!(decoded.compression, Compression::Gzip);
        assert_eq!(decoded.timestamp_type, TimestampType::CreateTime);
        assert_eq!(decoded.max_timestamp, 3_000);
        assert_eq!(decoded.producer, ProducerFields::NONE);
        assert_eq!(decoded.partition_leader_epoch, -1);

        // Re-encodes as v2 losslessly.
        let v2 = BatchBuilder::from(decoded.clone()).encode().unwrap();
        assert_eq!(v2.magic(), 2);
        assert_eq!(v2.decode().unwrap(), decoded);
    }

    #[test]
    fn compacted_v1_wrapper_keeps_offset_gaps() {
        let batch = raw(wrapper(
            57,
            1,
            0,
            3_000,
            Compression::Gzip,
            &three_v1([0, 3, 7]),
        ));
        let offsets: Vec<_> = batch
            .decode()
            .unwrap()
            .records
            .iter()
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, [50, 53, 57]);
    }

    #[test]
    fn log_append_time_wrapper_stamps_every_inner_message() {
        let batch = raw(wrapper(
            2,
            1,
            8,
            9_999,
            Compression::Gzip,
            &three_v1([0, 1, 2]),
        ));
        let decoded = batch.decode().unwrap();
        assert_eq!(decoded.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(
            decoded.records,
            expected_three([0, 1, 2], [9_999, 9_999, 9_999])
        );
        assert_eq!(decoded.max_timestamp, 9_999);
    }

    #[test]
    fn v0_wrapper_has_absolute_inner_offsets_and_no_timestamps() {
        let mut set = entry(40, &message(0, 0, 0, Some(b"a"), Some(b"1")));
        set.extend(entry(41, &message(0, 0, 0, Some(b"b"), Some(b"2"))));
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
            let decoded = raw(wrapper(41, 0, 0, 0, codec, &set)).decode().unwrap();
            assert_eq!(
                decoded.records,
                vec![
                    rec(40, -1, Some(b"a"), Some(b"1")),
                    rec(41, -1, Some(b"b"), Some(b"2"))
                ],
                "{codec}"
            );
            assert_eq!(decoded.compression, codec);
            assert_eq!(decoded.max_timestamp, -1);
        }
    }

    #[test]
    fn snappy_and_lz4_v1_wrappers_decode() {
        for codec in [Compression::Snappy, Compression::Lz4] {
            let decoded = raw(wrapper(12, 1, 0, 3_000, codec, &three_v1([0, 1, 2])))
                .decode()
                .unwrap();
            assert_eq!(
                decoded.records,
                expected_three([10, 11, 12], [1_000, 3_000, 2_000]),
                "{codec}"
            );
        }
    }

    /// An LZ4 frame of `data` with the header checksum Kafka 0.8 wrote (KAFKA-1493): over the
    /// frame magic too.
    fn kafka_08_lz4(data: &[u8]) -> Vec<u8> {
        let mut frame = codec::compress(Compression::Lz4, data).unwrap();
        assert_eq!(frame[4] & 0x09, 0, "no content size or dictionary id");
        frame[6] = (xxh32_short(&frame[..6]) >> 8) as u8;
        assert_ne!(
            frame[6],
            (xxh32_short(&frame[4..6]) >> 8) as u8,
            "the broken checksum differs"
        );
        frame
    }

    #[test]
    fn v0_lz4_with_the_kafka_0_8_header_checksum_is_accepted() {
        let set = entry(5, &message(0, 0, 0, None, Some(b"old")));
        let frame = kafka_08_lz4(&set);
        let batch = raw(entry(5, &message(0, 3, 0, None, Some(&frame))));
        assert_eq!(
            batch.decode().unwrap().records,
            vec![rec(5, -1, None, Some(b"old"))]
        );
        // Magic 1 wrappers must carry a correct checksum, as in Kafka.
        let set = entry(0, &message(1, 0, 1, None, Some(b"new")));
        let frame = kafka_08_lz4(&set);
        let batch = raw(entry(0, &message(1, 3, 1, None, Some(&frame))));
        assert!(matches!(
            batch.decode(),
            Err(BatchError::Compression {
                codec: Compression::Lz4,
                ..
            })
        ));
    }

    #[test]
    fn wrong_crc_is_a_crc_mismatch() {
        let mut bytes = entry(9, &message(1, 0, 1, Some(b"k"), Some(b"v")));
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let batch = raw(bytes);
        assert!(matches!(
            batch.decode(),
            Err(BatchError::CrcMismatch { base_offset: 9, .. })
        ));
    }

    #[test]
    fn wrong_inner_crc_is_a_crc_mismatch() {
        let mut set = three_v1([0, 1, 2]);
        let last = set.len() - 1;
        set[last] ^= 0xff;
        let batch = raw(wrapper(2, 1, 0, 0, Compression::Gzip, &set));
        batch.verify_crc().unwrap();
        assert!(matches!(
            batch.decode(),
            Err(BatchError::CrcMismatch { base_offset: 2, .. })
        ));
    }

    fn assert_corrupt(batch: &RawBatch, needle: &str) {
        match batch.decode() {
            Err(BatchError::Corrupt { offset, reason }) => {
                assert_eq!(offset, batch.base_offset());
                assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
            }
            other => panic!("expected Corrupt({needle}), got {other:?}"),
        }
    }

    #[test]
    fn truncated_entries_are_errors_not_panics() {
        // A value length beyond the message, with a valid CRC.
        let mut msg = message(1, 0, 1, None, Some(b"value"));
        msg.truncate(msg.len() - 2);
        fix_crc(&mut msg);
        assert_corrupt(&raw(entry(0, &msg)), "value needs 5 bytes");

        // An inner message set cut in the middle of its last message.
        let mut set = three_v1([0, 1, 2]);
        set.truncate(set.len() - 3);
        assert_corrupt(
            &raw(wrapper(2, 1, 0, 0, Compression::Gzip, &set)),
            "inner message 2",
        );

        // A few bytes after the last inner message.
        let mut set = three_v1([0, 1, 2]);
        set.extend([0; 5]);
        assert_corrupt(
            &raw(wrapper(2, 1, 0, 0, Compression::Gzip, &set)),
            "trailing bytes",
        );

        // Bytes after the value of a message.
        let mut msg = message(0, 0, 0, None, Some(b"v"));
        msg.push(0);
        fix_crc(&mut msg);
        assert_corrupt(&raw(entry(0, &msg)), "left after the value");

        // A top-level entry cut short is just an incomplete tail for the splitter.
        let whole = entry(0, &message(1, 0, 1, None, Some(b"abc")));
        let cut = Bytes::from(whole[..whole.len() - 1].to_vec());
        assert_eq!(split_batches(&cut, 0).count(), 0);
        assert!(RawBatch::new(cut).is_err());
    }

    #[test]
    fn malformed_wrappers_are_corrupt() {
        let nested = raw(wrapper(0, 1, 0, 0, Compression::Gzip, &three_v1([0, 1, 2])));
        let nested_set = nested.bytes().to_vec();
        assert_corrupt(
            &raw(wrapper(0, 1, 0, 0, Compression::Gzip, &nested_set)),
            "nested compressed message",
        );
        assert_corrupt(
            &raw(wrapper(0, 1, 0, 0, Compression::Gzip, &[])),
            "without inner messages",
        );
        assert_corrupt(&raw(entry(0, &message(1, 1, 0, None, None))), "null value");
        assert_corrupt(&raw(entry(0, &message(1, 4, 0, None, Some(b"x")))), "zstd");
        // Offsets: wrapper offset below the last relative offset.
        assert_corrupt(
            &raw(wrapper(1, 1, 0, 0, Compression::Gzip, &three_v1([0, 1, 2]))),
            "below the last relative offset",
        );
        // An inner v2 magic.
        let mut set = entry(0, &message(1, 0, 0, None, Some(b"x")));
        set[LOG_OVERHEAD + 4] = 2;
        fix_crc(&mut set[LOG_OVERHEAD..]);
        assert_corrupt(
            &raw(wrapper(0, 1, 0, 0, Compression::Gzip, &set)),
            "magic 2",
        );
        // A negative inner size.
        let mut set = three_v1([0, 1, 2]);
        set[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert_corrupt(
            &raw(wrapper(2, 1, 0, 0, Compression::Gzip, &set)),
            "negative size",
        );
        // Unknown codec id.
        assert!(matches!(
            raw(entry(0, &message(1, 6, 0, None, Some(b"x")))).decode(),
            Err(BatchError::UnknownCompression { id: 6, .. })
        ));
    }

    #[test]
    fn decompression_is_capped() {
        let set = entry(0, &message(1, 0, 0, None, Some(&[7u8; 10_000])));
        let batch = raw(wrapper(0, 1, 0, 0, Compression::Gzip, &set));
        assert!(batch.decode_with_limit(set.len()).is_ok());
        assert!(matches!(
            batch.decode_with_limit(set.len() - 1),
            Err(BatchError::DecompressedTooLarge { .. })
        ));
        assert!(batch.decode_with_limit(MAX_DECOMPRESSED_SIZE).is_ok());
    }

    #[test]
    fn mixed_inner_magics_follow_kafka() {
        // A magic 0 message inside a log-append-time magic 1 wrapper has no timestamp.
        let mut set = entry(0, &message(0, 0, 0, None, Some(b"a")));
        set.extend(entry(1, &message(1, 0, 5, None, Some(b"b"))));
        let decoded = raw(wrapper(9, 1, 8, 77, Compression::Gzip, &set))
            .decode()
            .unwrap();
        assert_eq!(
            decoded.records,
            vec![rec(8, -1, None, Some(b"a")), rec(9, 77, None, Some(b"b"))]
        );
    }

    /// A legacy entry: valid 12-byte prefix, then `tail` with the magic set (and CRC fixed).
    fn legacy_entry(offset: i64, magic: i8, mut tail: Vec<u8>, fix_crc: bool) -> Bytes {
        tail[4] = magic as u8;
        if fix_crc {
            legacy_builder::fix_crc(&mut tail);
        }
        Bytes::from(entry(offset, &tail))
    }

    fn exercise(bytes: Bytes) {
        let Ok(batch) = RawBatch::new(bytes) else {
            return;
        };
        if let Ok(decoded) = batch.decode_with_limit(1 << 20) {
            assert!(!decoded.records.is_empty());
            assert_eq!(decoded.producer, ProducerFields::NONE);
            assert_eq!(decoded.partition_leader_epoch, -1);
            assert!(decoded.records.iter().all(|r| r.headers.is_empty()));
        }
    }

    fn codec_strategy() -> impl Strategy<Value = Compression> {
        prop::sample::select(vec![
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn arbitrary_bytes_never_panic(
            offset in any::<i64>(),
            magic in 0i8..=1,
            tail in prop::collection::vec(any::<u8>(), 22..400),
            fix_crc in any::<bool>(),
        ) {
            exercise(legacy_entry(offset, magic, tail, fix_crc));
        }

        #[test]
        fn arbitrary_inner_sets_never_panic(
            offset in any::<i64>(),
            magic in 0i8..=1,
            attributes in 0i8..16,
            codec in codec_strategy(),
            inner in prop::collection::vec(any::<u8>(), 0..400),
        ) {
            let packed = codec::compress(codec, &inner).unwrap();
            let attributes = (attributes & !CODEC_MASK) | codec.attribute_bits() as i8;
            exercise(Bytes::from(entry(offset, &message(magic, attributes, 1, None, Some(&packed)))));
        }

        #[test]
        fn mutated_wrappers_never_panic(
            offset in 0i64..1_000,
            magic in 0i8..=1,
            codec in codec_strategy(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            fix_crc in any::<bool>(),
        ) {
            let mut set = Vec::new();
            for i in 0..3 {
                set.extend(entry(i, &message(magic, 0, 10 + i, Some(b"k"), Some(b"value"))));
            }
            let packed = codec::compress(codec, &set).unwrap();
            let msg = message(magic, codec.attribute_bits() as i8, 1, None, Some(&packed));
            let mut tail = msg.clone();
            // Mutate the compressed value or the inner set's framing.
            for (index, byte) in flips {
                let at = 4 + index.index(tail.len() - 4);
                tail[at] ^= byte;
            }
            exercise(legacy_entry(offset, tail[4] as i8 & 1, tail, fix_crc));
        }
    }
}
