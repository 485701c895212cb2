//! Kafka protocol `Struct` primitives as used by MM2's internal records.
//!
//! Fields are written back-to-back in schema order with no tags or names: INT16/INT32/INT64
//! big-endian, STRING as an INT16 length followed by that many UTF-8 bytes (not nullable).
//! Readers consume fields in order and ignore trailing bytes, like Java's `Schema.read`.

use super::FormatError;

/// Largest UTF-8 length a STRING field may have (`Short.MAX_VALUE`).
pub const MAX_STRING_LEN: usize = i16::MAX as usize;

/// Appends `Struct` fields to a byte buffer in schema order.
#[derive(Debug, Default, Clone)]
pub struct StructWriter {
    buf: Vec<u8>,
}

impl StructWriter {
    /// Creates an empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an empty writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// Writes an INT16 (big-endian).
    pub fn int16(&mut self, value: i16) -> &mut Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Writes an INT32 (big-endian).
    pub fn int32(&mut self, value: i32) -> &mut Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Writes an INT64 (big-endian).
    pub fn int64(&mut self, value: i64) -> &mut Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Writes a STRING, failing if its UTF-8 length exceeds [`MAX_STRING_LEN`].
    pub fn string(&mut self, field: &'static str, value: &str) -> Result<&mut Self, FormatError> {
        let bytes = value.as_bytes();
        let len = i16::try_from(bytes.len()).map_err(|_| FormatError::StringTooLong {
            field,
            len: bytes.len(),
        })?;
        self.int16(len);
        self.buf.extend_from_slice(bytes);
        Ok(self)
    }

    /// Returns the encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads `Struct` fields in schema order from a byte slice, ignoring trailing bytes.
#[derive(Debug, Clone)]
pub struct StructReader<'a> {
    buf: &'a [u8],
}

impl<'a> StructReader<'a> {
    /// Creates a reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Number of unread bytes.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, field: &'static str, needed: usize) -> Result<&'a [u8], FormatError> {
        if self.buf.len() < needed {
            return Err(FormatError::Truncated {
                field,
                needed,
                remaining: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(needed);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], FormatError> {
        let bytes = self.take(field, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads an INT16 (big-endian).
    pub fn int16(&mut self, field: &'static str) -> Result<i16, FormatError> {
        self.array(field).map(i16::from_be_bytes)
    }

    /// Reads an INT32 (big-endian).
    pub fn int32(&mut self, field: &'static str) -> Result<i32, FormatError> {
        self.array(field).map(i32::from_be_bytes)
    }

    /// Reads an INT64 (big-endian).
    pub fn int64(&mut self, field: &'static str) -> Result<i64, FormatError> {
        self.array(field).map(i64::from_be_bytes)
    }

    /// Reads a STRING, rejecting negative lengths, truncation and invalid UTF-8.
    pub fn string(&mut self, field: &'static str) -> Result<String, FormatError> {
        let len = self.int16(field)?;
        let len_usize =
            usize::try_from(len).map_err(|_| FormatError::NegativeLength { field, len })?;
        let bytes = self.take(field, len_usize)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|source| FormatError::InvalidUtf8 { field, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        let mut w = StructWriter::new();
        w.int16(-2).int32(0x0102_0304).int64(-1);
        let bytes = w.into_bytes();
        assert_eq!(
            bytes,
            [0xff, 0xfe, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        let mut r = StructReader::new(&bytes);
        assert_eq!(r.int16("a").unwrap(), -2);
        assert_eq!(r.int32("b").unwrap(), 0x0102_0304);
        assert_eq!(r.int64("c").unwrap(), -1);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn string_is_length_prefixed_utf8() {
        let mut w = StructWriter::new();
        w.string("s", "hé").unwrap();
        let bytes = w.into_bytes();
        assert_eq!(bytes, [0, 3, b'h', 0xc3, 0xa9]);
        assert_eq!(StructReader::new(&bytes).string("s").unwrap(), "hé");
    }

    #[test]
    fn string_at_max_length_is_accepted_and_one_more_rejected() {
        let ok = "x".repeat(MAX_STRING_LEN);
        let mut w = StructWriter::new();
        w.string("s", &ok).unwrap();
        let bytes = w.into_bytes();
        assert_eq!(&bytes[..2], &[0x7f, 0xff]);
        assert_eq!(StructReader::new(&bytes).string("s").unwrap(), ok);

        let too_long = "x".repeat(MAX_STRING_LEN + 1);
        let err = StructWriter::new().string("topic", &too_long).unwrap_err();
        assert!(matches!(
            err,
            FormatError::StringTooLong {
                field: "topic",
                len: 32768
            }
        ));
        assert!(err.to_string().contains("'topic'"), "{err}");
    }

    #[test]
    fn negative_string_length_is_rejected() {
        let err = StructReader::new(&[0xff, 0xff])
            .string("group")
            .unwrap_err();
        assert!(matches!(
            err,
            FormatError::NegativeLength {
                field: "group",
                len: -1
            }
        ));
        assert!(err.to_string().contains("'group'"), "{err}");
    }

    #[test]
    fn truncation_names_the_field() {
        let err = StructReader::new(&[0, 5, b'a'])
            .string("topic")
            .unwrap_err();
        assert!(matches!(
            err,
            FormatError::Truncated {
                field: "topic",
                needed: 5,
                remaining: 1
            }
        ));
        let err = StructReader::new(&[0, 0, 0])
            .int32("partition")
            .unwrap_err();
        assert!(err.to_string().contains("'partition'"), "{err}");
        let err = StructReader::new(&[0]).string("metadata").unwrap_err();
        assert!(matches!(
            err,
            FormatError::Truncated {
                field: "metadata",
                ..
            }
        ));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let err = StructReader::new(&[0, 2, 0xc3, 0x28])
            .string("topic")
            .unwrap_err();
        assert!(matches!(
            err,
            FormatError::InvalidUtf8 { field: "topic", .. }
        ));
    }

    #[test]
    fn trailing_bytes_are_left_unread() {
        let mut r = StructReader::new(&[0, 1, 9, 9, 9]);
        assert_eq!(r.int16("a").unwrap(), 1);
        assert_eq!(r.remaining(), 3);
    }
}
