//! The batch module's error type.

use super::Compression;

/// Failure to parse, verify, decompress or build a record batch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The bytes are not a well-formed batch (bad length, truncated field, bad record).
    #[error("corrupt record batch at offset {offset}: {reason}")]
    Corrupt {
        /// Offset from the batch's 12-byte prefix (-1 when not even that could be read).
        offset: i64,
        /// What is wrong.
        reason: String,
    },
    /// The stored CRC does not match the batch contents.
    #[error("record batch at offset {base_offset}: CRC mismatch (stored {expected:#010x}, computed {actual:#010x})")]
    CrcMismatch {
        /// Base offset of the batch (the prefix offset for legacy message sets).
        base_offset: i64,
        /// CRC stored in the batch header.
        expected: u32,
        /// CRC computed over the batch contents.
        actual: u32,
    },
    /// The magic byte is not one this module handles for the requested operation.
    #[error("record batch at offset {offset}: unsupported magic {magic}")]
    UnsupportedMagic {
        /// Offset from the batch's 12-byte prefix.
        offset: i64,
        /// The magic byte found.
        magic: i8,
    },
    /// The attributes name a compression codec id that does not exist (5-7).
    #[error("record batch at offset {offset}: unknown compression codec id {id}")]
    UnknownCompression {
        /// Offset from the batch's 12-byte prefix.
        offset: i64,
        /// The codec id from the attribute bits 0-2.
        id: i16,
    },
    /// Compressing or decompressing the records failed.
    #[error("{codec} (de)compression failed: {reason}")]
    Compression {
        /// The codec that failed.
        codec: Compression,
        /// The codec's error message.
        reason: String,
    },
    /// Decompressed records would exceed the size limit.
    #[error("{codec} decompressed records exceed the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// The codec of the batch.
        codec: Compression,
        /// The limit in bytes.
        limit: usize,
    },
    /// The batch cannot be encoded (offsets out of order or out of range, sizes beyond i32).
    #[error("cannot encode record batch: {reason}")]
    Encode {
        /// Why encoding was refused.
        reason: String,
    },
}
