//! One record of a v2 batch and its lossless wire codec (duplicate and non-UTF-8 header keys kept).

use bytes::{BufMut, Bytes};

use super::wire::{put_varint, put_varlong, varint_len, varlong_len, ParseResult, Reader};
use super::BatchError;

/// One record header; keys are raw bytes and may repeat within a record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Header key (not necessarily UTF-8 on the wire).
    pub key: Bytes,
    /// Header value, `None` for null.
    pub value: Option<Bytes>,
}

/// One record with its absolute offset and timestamp.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Record {
    /// Absolute offset (batch base offset + offset delta).
    pub offset: i64,
    /// Absolute timestamp (batch base timestamp + timestamp delta) as encoded in the record.
    pub timestamp: i64,
    /// Record key, `None` for null.
    pub key: Option<Bytes>,
    /// Record value, `None` for null (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order.
    pub headers: Vec<Header>,
}

/// Smallest possible encoded record: length, attributes, three deltas/lengths, header count.
pub(crate) const MIN_RECORD_SIZE: usize = 7;

fn too_big(what: &str, len: usize) -> BatchError {
    BatchError::Encode {
        reason: format!("{what} of {len} bytes does not fit a varint"),
    }
}

/// Varint length field for `value` (-1 when null), or an error when it exceeds i32.
fn length_of(value: Option<&Bytes>, what: &str) -> Result<i32, BatchError> {
    match value {
        None => Ok(-1),
        Some(b) => i32::try_from(b.len()).map_err(|_| too_big(what, b.len())),
    }
}

impl Record {
    /// Size of the record body (everything after its length varint).
    fn body_len(&self, offset_delta: i32, timestamp_delta: i64) -> Result<usize, BatchError> {
        let mut len = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
        for (field, what) in [(&self.key, "key"), (&self.value, "value")] {
            len +=
                varint_len(length_of(field.as_ref(), what)?) + field.as_ref().map_or(0, Bytes::len);
        }
        let count = i32::try_from(self.headers.len())
            .map_err(|_| too_big("header list", self.headers.len()))?;
        len += varint_len(count);
        for h in &self.headers {
            len += varint_len(length_of(Some(&h.key), "header key")?) + h.key.len();
            len += varint_len(length_of(h.value.as_ref(), "header value")?)
                + h.value.as_ref().map_or(0, Bytes::len);
        }
        Ok(len)
    }

    /// Appends the encoded record (length-prefixed) to `out`; returns the bytes written.
    pub(crate) fn encode_into(
        &self,
        out: &mut impl BufMut,
        offset_delta: i32,
        timestamp_delta: i64,
    ) -> Result<usize, BatchError> {
        let body = self.body_len(offset_delta, timestamp_delta)?;
        let body_i32 = i32::try_from(body).map_err(|_| too_big("record", body))?;
        put_varint(out, body_i32);
        out.put_i8(0); // attributes: unused
        put_varlong(out, timestamp_delta);
        put_varint(out, offset_delta);
        for field in [&self.key, &self.value] {
            put_nullable(out, field.as_ref());
        }
        put_varint(out, self.headers.len() as i32);
        for h in &self.headers {
            put_nullable(out, Some(&h.key));
            put_nullable(out, h.value.as_ref());
        }
        Ok(varint_len(body_i32) + body)
    }

    /// Reads one record; offsets and timestamps are made absolute (wrapping, mirroring the encoder).
    pub(crate) fn decode(
        r: &mut Reader,
        base_offset: i64,
        base_timestamp: i64,
    ) -> ParseResult<Record> {
        let len = r.varint("record length")?;
        let len = usize::try_from(len).map_err(|_| format!("negative record length {len}"))?;
        let mut body = Reader::new(r.bytes(len, "record")?);
        let _attributes = body.i8("record attributes")?;
        let timestamp_delta = body.varlong("timestamp delta")?;
        let offset_delta = body.varint("offset delta")?;
        let key = body.nullable_bytes("key")?;
        let value = body.nullable_bytes("value")?;
        let count = body.varint("header count")?;
        let count = usize::try_from(count).map_err(|_| format!("negative header count {count}"))?;
        // Each header takes at least 2 bytes: never reserve more than the bytes could hold.
        let mut headers = Vec::with_capacity(count.min(body.remaining() / 2));
        for _ in 0..count {
            let key_len = body.varint("header key length")?;
            let key_len = usize::try_from(key_len)
                .map_err(|_| format!("negative header key length {key_len}"))?;
            let key = body.bytes(key_len, "header key")?;
            let value = body.nullable_bytes("header value")?;
            headers.push(Header { key, value });
        }
        if body.remaining() != 0 {
            return Err(format!(
                "record length {len} leaves {} unread bytes",
                body.remaining()
            ));
        }
        Ok(Record {
            offset: base_offset.wrapping_add(i64::from(offset_delta)),
            timestamp: base_timestamp.wrapping_add(timestamp_delta),
            key,
            value,
            headers,
        })
    }
}

/// Writes a varint length (-1 for null) and the bytes; lengths were checked by `body_len`.
fn put_nullable(out: &mut impl BufMut, value: Option<&Bytes>) {
    match value {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.put_slice(b);
        }
    }
}
