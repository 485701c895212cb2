//! Record batches as raw bytes: header inspection, splitting, producer-field rewrite, lossless codec.
//!
//! The replicator forwards [`RawBatch`]es untouched (or with [`RawBatch::rewrite_producer`]);
//! [`RawBatch::decode`] and [`BatchBuilder::encode`] are the lossless fallback that keeps
//! duplicate and non-UTF-8 header keys, null vs empty keys/values and offset gaps.
//!
//! # Splitting
//! [`split_batches`] yields zero-copy slices of the fetch buffer. A trailing incomplete batch
//! (brokers cut responses at max_bytes) ends iteration silently. Batches whose last offset is
//! below the fetch offset are skipped. A negative or too small batchLength (magic 2: 49, v1: 22,
//! v0: 14) yields one [`BatchError::Corrupt`], an unknown magic one
//! [`BatchError::UnsupportedMagic`]; iteration stops after either. Nothing is allocated from a
//! claimed length: a huge length is just an incomplete tail.
//!
//! # Legacy message sets
//! Magic 0/1 entries (one, possibly compressed, wrapper message) are yielded as [`RawBatch`] so
//! callers can check [`RawBatch::magic`]: they cannot be produced as they are. For them
//! `base_offset`/`last_offset` both return the prefix offset (the wrapper's offset, i.e. the
//! LAST inner offset), `last_offset_delta` is 0, `partition_leader_epoch`, the producer fields
//! and `record_count` are -1, timestamps are the v1 wrapper timestamp (-1 for v0),
//! `is_transactional`/`is_control` are false, `crc`/`verify_crc` use the legacy CRC32, and
//! `rewrite_producer` returns them unchanged (`try_rewrite_producer` errs).
//! [`RawBatch::decode`] decodes them into a [`DecodedBatch`] (absolute offsets, `base_offset` the
//! first record's, empty headers, no producer) that [`BatchBuilder`] re-encodes as v2; the
//! `legacy` module documents relative inner offsets, log-append-time wrappers and Kafka 0.8's
//! LZ4 header checksum.
//!
//! # Producer rewrite
//! [`RawBatch::rewrite_producer`] keeps everything but the producer fields, the transactional
//! bit and baseOffset (set to 0): partition leader epoch, compression, timestamps, control bit
//! and the records bytes are untouched. It updates the CRC for the changed header bytes only,
//! without reading the records, so a batch that arrived corrupt stays detectably corrupt;
//! [`RawBatch::try_rewrite_producer`] also checks the old CRC (one read of the records).
//!
//! # Encoding
//! [`BatchBuilder`] record offsets are absolute, strictly increasing and at least
//! `base_offset`; gaps are kept (compacted data). baseTimestamp is the FIRST record's timestamp
//! (as Java's producer writes it), maxTimestamp the largest, lastOffsetDelta the last record's
//! offset minus `base_offset`; record timestamps are encoded as given, also for log-append-time
//! batches. Timestamp deltas wrap, so any i64 round-trips. An empty record list encodes
//! recordCount 0, lastOffsetDelta 0 and timestamps -1 (brokers accept that only from compaction).
//! Compressed output uses the framing of Kafka's Java clients: gzip, xerial snappy (32 KiB
//! blocks), LZ4 frame (64 KiB independent blocks, no checksums), zstd level 3.
//!
//! # Decoding limits
//! [`RawBatch::decode`] verifies the CRC first and caps decompressed records at
//! [`MAX_DECOMPRESSED_SIZE`] (see [`RawBatch::decode_with_limit`]); snappy blocks claiming more
//! than 32x their compressed size are refused before allocating, and record/header vectors are
//! never reserved beyond what the remaining bytes could hold. Snappy input may be xerial-framed
//! (including concatenated streams) or raw.

mod attributes;
mod builder;
mod codec;
mod crc_shift;
mod decode;
mod error;
mod layout;
mod legacy;
#[cfg(any(test, feature = "test-util"))]
pub mod legacy_builder;
mod raw;
mod record;
mod split;
mod wire;

#[cfg(test)]
mod tests;

pub use attributes::{Compression, TimestampType};
pub use builder::BatchBuilder;
pub use codec::MAX_DECOMPRESSED_SIZE;
pub use decode::DecodedBatch;
pub use error::BatchError;
pub use layout::{LOG_OVERHEAD, RECORD_BATCH_OVERHEAD};
pub use raw::{ProducerFields, RawBatch};
pub use record::{Header, Record};
pub use split::{split_batches, SplitBatches};
