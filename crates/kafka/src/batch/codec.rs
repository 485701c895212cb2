//! Compression and bounded decompression of a batch's records section.

use std::io::{Read, Write};

use bytes::Bytes;

use super::{BatchError, Compression};

/// Default cap on the decompressed size of one batch's records (256 MiB).
pub const MAX_DECOMPRESSED_SIZE: usize = 256 * 1024 * 1024;

/// Magic that starts a xerial (snappy-java) framed stream.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Xerial header: magic, version 1, minimum compatible version 1.
const XERIAL_HEADER: [u8; 16] = [
    0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
];
/// Uncompressed block size snappy-java uses.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;
/// Upper bound of snappy's expansion ratio (a 3-byte copy op yields at most 64 bytes).
const SNAPPY_MAX_RATIO: usize = 32;
/// zstd level Kafka's Java producer uses by default.
const ZSTD_LEVEL: i32 = 3;

fn failed(codec: Compression, err: impl std::fmt::Display) -> BatchError {
    BatchError::Compression {
        codec,
        reason: err.to_string(),
    }
}

/// Compresses `data` with `codec` in the framing Kafka's Java clients write.
pub(crate) fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, BatchError> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).map_err(|e| failed(codec, e))?;
            enc.finish().map_err(|e| failed(codec, e))
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(XERIAL_HEADER.len() + data.len() / 2);
            out.extend_from_slice(&XERIAL_HEADER);
            let mut enc = snap::raw::Encoder::new();
            for chunk in data.chunks(XERIAL_BLOCK_SIZE) {
                let block = enc.compress_vec(chunk).map_err(|e| failed(codec, e))?;
                let len = i32::try_from(block.len()).map_err(|e| failed(codec, e))?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(data).map_err(|e| failed(codec, e))?;
            enc.finish().map_err(|e| failed(codec, e))
        }
        Compression::Zstd => {
            zstd::stream::encode_all(data, ZSTD_LEVEL).map_err(|e| failed(codec, e))
        }
    }
}

/// Decompresses a records section; `None` passes `data` through without copying.
pub(crate) fn decompress(
    codec: Compression,
    data: Bytes,
    limit: usize,
) -> Result<Bytes, BatchError> {
    let out = match codec {
        Compression::None => return Ok(data),
        Compression::Gzip => {
            read_bounded(codec, flate2::read::MultiGzDecoder::new(&data[..]), limit)?
        }
        Compression::Snappy => snappy_decompress(&data, limit)?,
        Compression::Lz4 => {
            read_bounded(codec, lz4_flex::frame::FrameDecoder::new(&data[..]), limit)?
        }
        Compression::Zstd => {
            let dec = zstd::stream::read::Decoder::with_buffer(&data[..])
                .map_err(|e| failed(codec, e))?;
            read_bounded(codec, dec, limit)?
        }
    };
    Ok(Bytes::from(out))
}

/// Reads a decoder to the end, failing once more than `limit` bytes come out.
fn read_bounded(
    codec: Compression,
    reader: impl Read,
    limit: usize,
) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| failed(codec, e))?;
    if out.len() > limit {
        return Err(BatchError::DecompressedTooLarge { codec, limit });
    }
    Ok(out)
}

/// Snappy: xerial framing when the stream starts with its 16-byte header, else raw snappy.
fn snappy_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    let mut out = Vec::new();
    if data.len() < XERIAL_HEADER.len() || !data.starts_with(&XERIAL_MAGIC) {
        snappy_raw_into(data, &mut out, limit)?;
        return Ok(out);
    }
    let mut pos = XERIAL_HEADER.len();
    while pos < data.len() {
        let rest = &data[pos..];
        // snappy-java tolerates concatenated streams: a header may follow a block.
        if rest.starts_with(&XERIAL_MAGIC) {
            if rest.len() < XERIAL_HEADER.len() {
                return Err(failed(Compression::Snappy, "truncated xerial header"));
            }
            pos += XERIAL_HEADER.len();
            continue;
        }
        let Some(len_bytes) = rest.get(..4) else {
            return Err(failed(Compression::Snappy, "truncated xerial block length"));
        };
        let len = i32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let block = usize::try_from(len)
            .ok()
            .and_then(|len| rest.get(4..4 + len))
            .ok_or_else(|| {
                failed(
                    Compression::Snappy,
                    format!(
                        "xerial block length {len} exceeds the {} bytes left",
                        rest.len() - 4
                    ),
                )
            })?;
        snappy_raw_into(block, &mut out, limit)?;
        pos += 4 + block.len();
    }
    Ok(out)
}

/// Appends the raw snappy `block` to `out`, checking its claimed size before allocating.
fn snappy_raw_into(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), BatchError> {
    let codec = Compression::Snappy;
    let len = snap::raw::decompress_len(block).map_err(|e| failed(codec, e))?;
    if len > block.len().saturating_mul(SNAPPY_MAX_RATIO) {
        return Err(failed(
            codec,
            format!(
                "block claims {len} bytes from {} compressed bytes",
                block.len()
            ),
        ));
    }
    if out.len().saturating_add(len) > limit {
        return Err(BatchError::DecompressedTooLarge { codec, limit });
    }
    let start = out.len();
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| failed(codec, e))?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        for codec in Compression::ALL {
            let packed = compress(codec, &data).unwrap();
            let unpacked = decompress(codec, Bytes::from(packed), MAX_DECOMPRESSED_SIZE).unwrap();
            assert_eq!(unpacked, data, "{codec}");
        }
    }

    #[test]
    fn empty_input_round_trips() {
        for codec in Compression::ALL {
            let packed = compress(codec, &[]).unwrap();
            let unpacked = decompress(codec, Bytes::from(packed), MAX_DECOMPRESSED_SIZE).unwrap();
            assert!(unpacked.is_empty(), "{codec}");
        }
    }

    #[test]
    fn raw_snappy_is_accepted() {
        let data = sample();
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        let unpacked = decompress(Compression::Snappy, Bytes::from(raw), MAX_DECOMPRESSED_SIZE);
        assert_eq!(unpacked.unwrap(), data);
    }

    #[test]
    fn concatenated_xerial_streams_are_accepted() {
        let mut packed = compress(Compression::Snappy, b"hello ").unwrap();
        packed.extend(compress(Compression::Snappy, b"world").unwrap());
        let unpacked = decompress(Compression::Snappy, Bytes::from(packed), 1024).unwrap();
        assert_eq!(&unpacked[..], b"hello world");
    }

    #[test]
    fn output_beyond_the_limit_is_refused() {
        let data = vec![7u8; 10_000];
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let packed = Bytes::from(compress(codec, &data).unwrap());
            assert!(decompress(codec, packed.clone(), 10_000).is_ok(), "{codec}");
            let err = decompress(codec, packed, 9_999).unwrap_err();
            assert!(
                matches!(err, BatchError::DecompressedTooLarge { .. }),
                "{codec}: {err}"
            );
        }
    }

    #[test]
    fn snappy_claiming_a_huge_size_is_refused_without_allocating() {
        // Varint preamble claiming ~4 GiB followed by nothing.
        let bogus = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
        assert!(decompress(Compression::Snappy, bogus, usize::MAX).is_err());
    }

    #[test]
    fn garbage_is_an_error_for_every_codec() {
        let garbage = Bytes::from_static(b"definitely not compressed data");
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(decompress(codec, garbage.clone(), 1024).is_err(), "{codec}");
        }
    }
}
