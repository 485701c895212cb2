//! Wire primitives: big-endian fixed fields, zigzag varints and a zero-copy reader.

use bytes::{BufMut, Bytes};

/// Reads the `N` bytes at `at`, or zeros when out of range (callers check lengths first).
pub(crate) fn array_at<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    buf.get(at..at.saturating_add(N))
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; N])
}

/// Big-endian i64 at `at`.
pub(crate) fn i64_at(buf: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(array_at(buf, at))
}

/// Big-endian i32 at `at`.
pub(crate) fn i32_at(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(array_at(buf, at))
}

/// Big-endian u32 at `at`.
pub(crate) fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array_at(buf, at))
}

/// Big-endian i16 at `at`.
pub(crate) fn i16_at(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(array_at(buf, at))
}

/// The i8 at `at`.
pub(crate) fn i8_at(buf: &[u8], at: usize) -> i8 {
    i8::from_be_bytes(array_at(buf, at))
}

/// Overwrites the bytes at `at` with `value` (no-op when out of range).
pub(crate) fn put_at(buf: &mut [u8], at: usize, value: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at.saturating_add(value.len())) {
        dst.copy_from_slice(value);
    }
}

/// Number of bytes of the zigzag varint encoding of `v`.
pub(crate) fn varint_len(v: i32) -> usize {
    varlong_len(i64::from(v))
}

/// Number of bytes of the zigzag varlong encoding of `v`.
pub(crate) fn varlong_len(v: i64) -> usize {
    let z = zigzag64(v);
    let bits = 64 - z.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn put_unsigned(out: &mut impl BufMut, mut z: u64) {
    while z >= 0x80 {
        out.put_u8((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.put_u8(z as u8);
}

/// Writes `v` as a zigzag varint.
pub(crate) fn put_varint(out: &mut impl BufMut, v: i32) {
    put_unsigned(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
}

/// Writes `v` as a zigzag varlong.
pub(crate) fn put_varlong(out: &mut impl BufMut, v: i64) {
    put_unsigned(out, zigzag64(v));
}

/// Parse failure reason; the caller adds the batch offset.
pub(crate) type ParseResult<T> = Result<T, String>;

/// Zero-copy cursor over a `Bytes` buffer; every read is bounds-checked.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    /// A reader at the start of `buf`.
    pub(crate) fn new(buf: Bytes) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Reads one byte as i8.
    pub(crate) fn i8(&mut self, what: &str) -> ParseResult<i8> {
        let b = self
            .buf
            .get(self.pos)
            .copied()
            .ok_or_else(|| format!("truncated {what}"))?;
        self.pos += 1;
        Ok(b as i8)
    }

    fn unsigned(&mut self, max_bytes: usize, what: &str) -> ParseResult<u64> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = self
                .buf
                .get(self.pos)
                .copied()
                .ok_or_else(|| format!("truncated varint {what}"))?;
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("varint {what} longer than {max_bytes} bytes"))
    }

    /// Reads a zigzag varint (at most 5 bytes).
    pub(crate) fn varint(&mut self, what: &str) -> ParseResult<i32> {
        let z = self.unsigned(5, what)? as u32;
        Ok(((z >> 1) as i32) ^ -((z & 1) as i32))
    }

    /// Reads a zigzag varlong (at most 10 bytes).
    pub(crate) fn varlong(&mut self, what: &str) -> ParseResult<i64> {
        let z = self.unsigned(10, what)?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    /// Takes the next `len` bytes as a zero-copy slice.
    pub(crate) fn bytes(&mut self, len: usize, what: &str) -> ParseResult<Bytes> {
        if len > self.remaining() {
            return Err(format!(
                "{what} needs {len} bytes, only {} left",
                self.remaining()
            ));
        }
        let out = self.buf.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(out)
    }

    /// Reads a varint length and that many bytes; length -1 means null.
    pub(crate) fn nullable_bytes(&mut self, what: &str) -> ParseResult<Option<Bytes>> {
        match self.varint(what)? {
            -1 => Ok(None),
            len if len < 0 => Err(format!("negative {what} length {len}")),
            len => self.bytes(len as usize, what).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    #[test]
    fn varints_round_trip_and_sizes_match() {
        for v in [0, 1, -1, 63, -64, 64, -65, 300, i32::MAX, i32::MIN] {
            let mut out = BytesMut::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            assert_eq!(Reader::new(out.freeze()).varint("v"), Ok(v));
        }
        for v in [0, -1, 1 << 40, i64::MAX, i64::MIN] {
            let mut out = BytesMut::new();
            put_varlong(&mut out, v);
            assert_eq!(out.len(), varlong_len(v), "{v}");
            assert_eq!(Reader::new(out.freeze()).varlong("v"), Ok(v));
        }
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors() {
        let mut r = Reader::new(Bytes::from_static(&[0xff; 6]));
        assert!(r.varint("v").is_err());
        let mut r = Reader::new(Bytes::from_static(&[0x80]));
        assert!(r.varint("v").is_err());
    }
}
