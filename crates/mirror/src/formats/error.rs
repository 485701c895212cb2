//! The error type shared by all internal-topic formats.

/// Failure to encode or decode an MM2 internal topic record.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// A STRING field's UTF-8 encoding exceeds 32767 bytes.
    #[error(
        "error writing field '{field}': string length {len} is larger than the maximum string \
         length {max}",
        max = crate::formats::wire::MAX_STRING_LEN
    )]
    StringTooLong {
        /// Schema name of the field.
        field: &'static str,
        /// UTF-8 length of the rejected string.
        len: usize,
    },
    /// The buffer ended before the field could be read completely.
    #[error("error reading field '{field}': needed {needed} bytes, only {remaining} available")]
    Truncated {
        /// Schema name of the field.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the buffer.
        remaining: usize,
    },
    /// A STRING field's length prefix is negative.
    #[error("error reading field '{field}': string length {len} cannot be negative")]
    NegativeLength {
        /// Schema name of the field.
        field: &'static str,
        /// The negative length prefix.
        len: i16,
    },
    /// A STRING field's bytes are not valid UTF-8.
    #[error("error reading field '{field}': invalid UTF-8: {source}")]
    InvalidUtf8 {
        /// Schema name of the field.
        field: &'static str,
        /// The underlying UTF-8 error.
        #[source]
        source: std::str::Utf8Error,
    },
    /// A Connect offsets key or value is not valid JSON.
    #[error("connect offsets {part} is not valid JSON: {source}")]
    Json {
        /// `"key"` or `"value"`.
        part: &'static str,
        /// The underlying JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A Connect offsets key or value is valid JSON of the wrong shape.
    #[error("unexpected connect offsets {part}: {reason}")]
    UnexpectedJson {
        /// `"key"` or `"value"`.
        part: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A Connect offsets key names a connector that is not one of MM2's three.
    #[error("connect offsets key names unknown connector '{0}'")]
    UnknownConnector(String),
}
