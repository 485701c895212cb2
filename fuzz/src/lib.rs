//! Fuzz harness for strait's parsers of untrusted bytes (see `README.md`).
//!
//! Every `check_*` function is one fuzz target's body: it must never panic, whatever `data` is.
//! Panics are strait bugs, except for the `assert!`s here, which state documented invariants of
//! the APIs under test (a failing one is a strait bug too, or a wrong claim in its docs).
//!
//! # Input framing of `batches` (and of `forward` after its 3-byte prefix)
//! ```text
//! byte 0  op:  bits 0-1 mode   0 raw fetch buffer
//!                              1 raw fetch buffer, the CRC of every whole batch repaired
//!                              2 synthetic v2 batch: payload = uncompressed records section
//!                              3 synthetic legacy entry: payload = inner message set (codecs
//!                                1-4) or the message after its attributes (codec 0)
//!              bits 2-4 codec id for modes 2/3 (5-7: unknown ids, payload stored as is)
//!              bit 5    v2: transactional (producer id 7); legacy: magic 1 (else 0)
//!              bit 6    log-append time
//!              bit 7    v2: control batch
//! byte 1  fetch offset (i8)
//! modes 0/1: bytes 2.. the records buffer of a fetch response
//! modes 2/3: byte 2 record count (v2, i8) / wrapper offset (legacy, i8); byte 3 base offset
//!            (v2, i8) / wrapper timestamp in seconds (legacy); bytes 4.. payload
//! ```
//! Synthetic batches get valid CRCs (legacy inner messages too) and real compression, so the
//! fuzzer reaches the record and message-set parsers behind every codec.

use bytes::{BufMut, Bytes, BytesMut};
use strait_kafka::batch::legacy_builder;
use strait_kafka::batch::{
    split_batches, BatchBuilder, Compression, DecodedBatch, ProducerFields, RawBatch,
};
use strait_kafka::{AbortedTransaction, PartitionFetch};
use strait_mirror::engine::forward::{Forwarder, Step};
use strait_mirror::formats::{
    encode_offset_value, parse_offset_value, Checkpoint, ConnectOffsetKey, Heartbeat, OffsetSync,
};

pub mod seeds;

/// Decompression cap of the `batches` target (the engine's default is 256 MiB; `forward` uses it).
pub const DECODE_LIMIT: usize = 1 << 20;

/// Producer id of synthetic transactional batches (and of the seeds' transactional batches).
pub const TXN_PRODUCER_ID: i64 = 7;

/// Base timestamp of synthetic batches.
const BASE_TS: i64 = 1_700_000_000_000;

// ---------------------------------------------------------------------------------------------
// Input framing
// ---------------------------------------------------------------------------------------------

/// A decoded `batches` input: the fetch buffer to parse and the fetch offset.
pub struct BatchInput {
    /// The records buffer of a fetch response.
    pub buf: Bytes,
    /// Fetch offset (batches ending below it are skipped).
    pub fetch_offset: i64,
}

/// `op` byte values for [`BatchInput::parse`].
pub mod op {
    /// Raw fetch buffer.
    pub const RAW: u8 = 0;
    /// Raw fetch buffer with every whole batch's CRC repaired.
    pub const REPAIR: u8 = 1;
    /// Synthetic v2 batch.
    pub const V2: u8 = 2;
    /// Synthetic legacy entry.
    pub const LEGACY: u8 = 3;
    /// Codec id in bits 2-4.
    pub const fn codec(id: u8) -> u8 {
        (id & 7) << 2
    }
    /// v2: transactional; legacy: magic 1.
    pub const BIT5: u8 = 1 << 5;
    /// Log-append time.
    pub const LOG_APPEND: u8 = 1 << 6;
    /// v2: control batch.
    pub const CONTROL: u8 = 1 << 7;
}

impl BatchInput {
    /// Builds the fetch buffer described by `data` (see the crate docs).
    pub fn parse(data: &[u8]) -> BatchInput {
        let (op, fetch_offset, rest) = match data {
            [op, fetch, rest @ ..] => (*op, i64::from(*fetch as i8), rest),
            _ => (0, 0, data),
        };
        let codec = (op >> 2) & 7;
        let buf = match op & 3 {
            op::RAW => Bytes::copy_from_slice(rest),
            op::REPAIR => {
                let mut buf = rest.to_vec();
                repair_batch_crcs(&mut buf);
                Bytes::from(buf)
            }
            mode => {
                let (a, b, payload) = match rest {
                    [a, b, payload @ ..] => (*a as i8, *b as i8, payload),
                    _ => (0, 0, rest),
                };
                if mode == op::V2 {
                    synth_v2(op, codec, a, b, payload)
                } else {
                    synth_legacy(op, codec, a, b, payload)
                }
            }
        };
        BatchInput { buf, fetch_offset }
    }
}

/// `data` compressed with codec `codec_id` as Kafka's Java clients frame it; unknown ids (5-7)
/// and 0 pass the data through.
pub fn compress(codec_id: u8, data: &[u8]) -> Vec<u8> {
    match Compression::from_id(codec_id.into()) {
        Some(codec) => legacy_builder::compress(codec, data),
        None => data.to_vec(),
    }
}

/// Recomputes the CRC of every whole batch/entry in a fetch buffer (walking it like the splitter).
pub fn repair_batch_crcs(buf: &mut [u8]) {
    let mut pos = 0usize;
    while buf.len() - pos >= 17 {
        let length = i32::from_be_bytes(buf[pos + 8..pos + 12].try_into().unwrap());
        let Ok(length) = usize::try_from(length) else {
            return;
        };
        if length < 14 || buf.len() - pos - 12 < length {
            return;
        }
        let end = pos + 12 + length;
        match buf[pos + 16] {
            2 if length >= 49 => {
                let crc = crc32c::crc32c(&buf[pos + 21..end]);
                buf[pos + 17..pos + 21].copy_from_slice(&crc.to_be_bytes());
            }
            0 | 1 => {
                let crc = legacy_builder::crc32(&buf[pos + 16..end]);
                buf[pos + 12..pos + 16].copy_from_slice(&crc.to_be_bytes());
            }
            _ => return,
        }
        pos = end;
    }
}

/// Recomputes the CRC of every whole entry of a legacy (inner) message set.
pub fn repair_message_set_crcs(set: &mut [u8]) {
    let mut pos = 0usize;
    while set.len() - pos >= 16 {
        let size = i32::from_be_bytes(set[pos + 8..pos + 12].try_into().unwrap());
        let Ok(size) = usize::try_from(size) else {
            return;
        };
        if size < 4 || set.len() - pos - 12 < size {
            return;
        }
        let end = pos + 12 + size;
        let crc = legacy_builder::crc32(&set[pos + 16..end]);
        set[pos + 12..pos + 16].copy_from_slice(&crc.to_be_bytes());
        pos = end;
    }
}

/// A v2 batch around `records` (an uncompressed records section), compressed, CRC set.
fn synth_v2(op: u8, codec: u8, count: i8, base_offset: i8, records: &[u8]) -> Bytes {
    let transactional = op & op::BIT5 != 0;
    let mut attributes = i16::from(codec);
    if op & op::LOG_APPEND != 0 {
        attributes |= 1 << 3;
    }
    if transactional {
        attributes |= 1 << 4;
    }
    if op & op::CONTROL != 0 {
        attributes |= 1 << 5;
    }
    let count = i32::from(count);
    let producer = if transactional || op & op::CONTROL != 0 {
        (TXN_PRODUCER_ID, 0i16, 0i32)
    } else {
        (-1, -1, -1)
    };
    let packed = compress(codec, records);
    let mut out = BytesMut::with_capacity(61 + packed.len());
    out.put_i64(i64::from(base_offset));
    out.put_i32((49 + packed.len()) as i32);
    out.put_i32(0); // partition leader epoch
    out.put_i8(2);
    out.put_u32(0); // crc, below
    out.put_i16(attributes);
    out.put_i32((count - 1).max(0)); // last offset delta
    out.put_i64(BASE_TS);
    out.put_i64(BASE_TS + i64::from(count.max(0)));
    out.put_i64(producer.0);
    out.put_i16(producer.1);
    out.put_i32(producer.2);
    out.put_i32(count);
    out.put_slice(&packed);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out.freeze()
}

/// A legacy log entry: offset, size, crc, magic, attributes, [timestamp], then `tail`: the
/// key/value fields as given (codec 0), or a null key and the compressed inner set as value.
fn synth_legacy(op: u8, codec: u8, offset: i8, ts_secs: i8, payload: &[u8]) -> Bytes {
    let magic: i8 = if op & op::BIT5 != 0 { 1 } else { 0 };
    let mut attributes = codec as i8;
    if op & op::LOG_APPEND != 0 {
        attributes |= 1 << 3;
    }
    let mut message = BytesMut::new();
    message.put_u32(0); // crc, below
    message.put_i8(magic);
    message.put_i8(attributes);
    if magic == 1 {
        message.put_i64(BASE_TS + i64::from(ts_secs) * 1000);
    }
    if codec == 0 {
        message.put_slice(payload);
    } else {
        let mut inner = payload.to_vec();
        repair_message_set_crcs(&mut inner);
        let packed = compress(codec, &inner);
        message.put_i32(-1);
        message.put_i32(packed.len() as i32);
        message.put_slice(&packed);
    }
    let crc = legacy_builder::crc32(&message[4..]);
    message[..4].copy_from_slice(&crc.to_be_bytes());
    let mut out = BytesMut::with_capacity(12 + message.len());
    out.put_i64(i64::from(offset));
    out.put_i32(message.len() as i32);
    out.put_slice(&message);
    out.freeze()
}

// ---------------------------------------------------------------------------------------------
// Target: batches
// ---------------------------------------------------------------------------------------------

/// Splits a fetch buffer, checks every batch's header, CRC and producer rewrite, decodes it (v2
/// and legacy, every codec) and re-encodes what decoded.
pub fn check_batches(data: &[u8]) {
    let input = BatchInput::parse(data);
    // The whole buffer as one batch (RawBatch::new validates it).
    if let Ok(batch) = RawBatch::new(input.buf.clone()) {
        check_batch(&batch);
    }
    let mut split = split_batches(&input.buf, input.fetch_offset);
    let mut consumed = 0usize;
    while let Some(item) = split.next() {
        match item {
            Ok(batch) => {
                assert!(batch.last_offset() >= input.fetch_offset);
                assert!(batch.len() >= 12 + 14);
                consumed += batch.len();
                check_batch(&batch);
            }
            Err(_) => {
                // Iteration stops after an error.
                assert!(split.next().is_none());
                break;
            }
        }
    }
    assert!(consumed <= split.position() && split.position() <= input.buf.len());
}

/// Everything strait does to a batch it fetched.
pub fn check_batch(batch: &RawBatch) {
    // Header accessors never decompress and never fail.
    let _ = (
        batch.base_offset(),
        batch.last_offset(),
        batch.next_offset(),
        batch.partition_leader_epoch(),
        batch.attributes(),
        batch.compression(),
        batch.timestamp_type(),
        batch.is_control(),
        batch.has_delete_horizon(),
        batch.base_timestamp(),
        batch.max_timestamp(),
        batch.producer(),
        batch.record_count(),
        batch.offsets_contiguous(),
        batch.records_section(),
        batch.is_empty(),
    );
    let crc_ok = batch.verify_crc().is_ok();
    assert_eq!(crc_ok, batch.crc() == batch.computed_crc());

    let fields = ProducerFields {
        producer_id: 42,
        producer_epoch: 3,
        base_sequence: 9,
        transactional: !batch.is_transactional(),
    };
    let rewritten = batch.rewrite_producer(&fields);
    match batch.try_rewrite_producer(&fields) {
        Ok(tried) => {
            assert_eq!(batch.magic(), 2);
            assert!(crc_ok, "try_rewrite_producer accepted a bad CRC");
            assert_eq!(tried, rewritten);
            assert!(tried.verify_crc().is_ok());
            assert_eq!(tried.producer(), fields);
            assert_eq!(tried.records_section(), batch.records_section());
        }
        Err(_) => assert!(batch.magic() != 2 || !crc_ok),
    }
    if batch.magic() == 2 {
        // The CRC is updated for the header alone: right stays right, and a wrong one stays
        // wrong by exactly as much (the same difference from the computed CRC).
        assert_eq!(rewritten.verify_crc().is_ok(), crc_ok);
        assert_eq!(
            rewritten.crc() ^ rewritten.computed_crc(),
            batch.crc() ^ batch.computed_crc()
        );
        assert_eq!(rewritten.len(), batch.len());
    } else {
        assert_eq!(&rewritten, batch);
    }

    if let Ok(decoded) = batch.decode_with_limit(DECODE_LIMIT) {
        assert!(crc_ok, "decoded a batch whose CRC does not match");
        check_reencode(&decoded);
    }
}

/// The lossless fallback: what decoded re-encodes (when offsets allow) and decodes the same.
fn check_reencode(decoded: &DecodedBatch) {
    let Ok(encoded) = BatchBuilder::from(decoded.clone()).encode() else {
        return;
    };
    assert!(encoded.verify_crc().is_ok());
    let again = encoded
        .decode()
        .unwrap_or_else(|e| panic!("re-encoded batch does not decode: {e}"));
    assert_eq!(again.records, decoded.records);
    assert_eq!(again.base_offset, decoded.base_offset);
    assert_eq!(again.compression, decoded.compression);
    assert_eq!(again.timestamp_type, decoded.timestamp_type);
    assert_eq!(again.producer, decoded.producer);
    assert_eq!(again.is_control, decoded.is_control);
    assert_eq!(again.partition_leader_epoch, decoded.partition_leader_epoch);
}

// ---------------------------------------------------------------------------------------------
// Target: forward
// ---------------------------------------------------------------------------------------------

/// The engine's path: `Forwarder::plan` (split, skip, drop markers and aborted data, re-encode
/// legacy/compacted/log-append-time/too large batches) on a fetch response.
///
/// Framing: byte 0 bit 0 force re-encode, bit 1 an aborted transaction of producer 7 (bit 2:
/// producer 8) listed; byte 1 max batch bytes / 16 (0: unlimited); byte 2 the aborted
/// transaction's first offset (i8); bytes 3.. a `batches` input.
pub fn check_forward(data: &[u8]) {
    let (flags, max, first, rest) = match data {
        [f, m, a, rest @ ..] => (*f, *m, *a as i8, rest),
        _ => (0, 0, 0, data),
    };
    let input = BatchInput::parse(rest);
    let max_batch_bytes = if max == 0 {
        usize::MAX
    } else {
        usize::from(max) * 16
    };
    let mut aborted = Vec::new();
    if flags & 2 != 0 {
        aborted.push(AbortedTransaction {
            producer_id: TXN_PRODUCER_ID + i64::from(flags >> 2 & 1),
            first_offset: i64::from(first),
        });
    }
    let mut fetch = PartitionFetch {
        topic: "fuzz".into(),
        partition: 0,
        fetch_offset: input.fetch_offset,
        error: None,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        aborted,
        diverging: None,
        records: input.buf,
    };
    let mut forwarder = Forwarder::new(max_batch_bytes, flags & 1 != 0);
    let Ok(steps) = forwarder.plan(&fetch, fetch.fetch_offset) else {
        return;
    };
    check_steps(&steps);
    // The next fetch of the same partition carries the forwarder's transaction state over.
    if let Some(last) = steps.last() {
        fetch.fetch_offset = last.last_offset().saturating_add(1);
        fetch.aborted.clear();
        if let Ok(steps) = forwarder.plan(&fetch, fetch.fetch_offset) {
            check_steps(&steps);
        }
    }
}

fn check_steps(steps: &[Step]) {
    for step in steps {
        if let Step::Send {
            batch, reencoded, ..
        } = step
        {
            assert_eq!(batch.magic(), 2, "the forwarder sends only v2 batches");
            if reencoded.is_some() {
                assert!(batch.verify_crc().is_ok());
                assert!(batch.offsets_contiguous());
                assert!(batch.decode().is_ok(), "a re-encoded batch does not decode");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Target: mm2_formats
// ---------------------------------------------------------------------------------------------

/// Splits `data` into a record key and value: bytes 0-1 (u16, big-endian) give the key length
/// modulo the rest's length + 1; the rest is key then value.
pub fn split_key_value(data: &[u8]) -> (&[u8], &[u8]) {
    match data {
        [hi, lo, rest @ ..] => {
            let at = usize::from(u16::from_be_bytes([*hi, *lo])) % (rest.len() + 1);
            rest.split_at(at)
        }
        _ => (data, data),
    }
}

/// MM2's internal topic readers (offset syncs, checkpoints, heartbeats, Connect offsets) on a
/// key/value split of `data`; what decodes must re-encode and decode to the same.
pub fn check_mm2_formats(data: &[u8]) {
    let (key, value) = split_key_value(data);

    if let Ok(sync) = OffsetSync::decode(key, value) {
        let _ = sync.to_string();
        let k = sync.record_key().expect("a decoded offset sync re-encodes");
        assert_eq!(
            OffsetSync::decode(&k, &sync.record_value()).ok(),
            Some(sync)
        );
    }
    if let Ok(cp) = Checkpoint::decode(key, value) {
        let _ = cp.to_string();
        let k = cp
            .record_key()
            .expect("a decoded checkpoint key re-encodes");
        let v = cp
            .record_value()
            .expect("a decoded checkpoint value re-encodes");
        assert_eq!(Checkpoint::decode(&k, &v).ok(), Some(cp));
    }
    if let Ok(hb) = Heartbeat::decode(key, value) {
        let _ = hb.to_string();
        let k = hb.record_key().expect("a decoded heartbeat re-encodes");
        assert_eq!(Heartbeat::decode(&k, &hb.record_value()).ok(), Some(hb));
    }
    for bytes in [key, data] {
        if let Ok(k) = ConnectOffsetKey::parse(bytes) {
            let _ = k.connector_name();
            let _ = k.partition_in(25);
            let encoded = k.encode();
            assert_eq!(ConnectOffsetKey::parse(&encoded).ok(), Some(k));
        }
    }
    for bytes in [value, data] {
        if let Ok(Some(offset)) = parse_offset_value(Some(bytes)) {
            let encoded = encode_offset_value(offset);
            assert_eq!(parse_offset_value(Some(&encoded)).ok(), Some(Some(offset)));
        }
    }
    assert!(matches!(parse_offset_value(None), Ok(None)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_runs_and_synthetic_batches_decode() {
        for (target, seeds) in seeds::all() {
            for (name, data) in seeds {
                match target {
                    "batches" => check_batches(&data),
                    "forward" => check_forward(&data),
                    "mm2_formats" => check_mm2_formats(&data),
                    other => panic!("unknown target {other}"),
                }
                if target == "batches" && data[0] & 3 >= 2 {
                    let input = BatchInput::parse(&data);
                    let batch = RawBatch::new(input.buf).unwrap();
                    batch
                        .decode()
                        .unwrap_or_else(|e| panic!("seed {name} does not decode: {e}"));
                }
            }
        }
    }
}
