//! Decoding a v2 batch into its records.

use super::codec::{self, MAX_DECOMPRESSED_SIZE};
use super::layout::RECORDS;
use super::record::{Record, MIN_RECORD_SIZE};
use super::wire::Reader;
use super::{BatchBuilder, BatchError, Compression, ProducerFields, RawBatch, TimestampType};

/// Decoded batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedBatch {
    /// Offset of the batch header.
    pub base_offset: i64,
    /// Codec the records were compressed with.
    pub compression: Compression,
    /// Timestamp type attribute bit.
    pub timestamp_type: TimestampType,
    /// Producer id/epoch/base sequence and the transactional bit.
    pub producer: ProducerFields,
    /// Control batch attribute bit.
    pub is_control: bool,
    /// Partition leader epoch from the header.
    pub partition_leader_epoch: i32,
    /// maxTimestamp from the header (the append time for log-append-time batches).
    pub max_timestamp: i64,
    /// The records, with absolute offsets and timestamps.
    pub records: Vec<Record>,
}

impl From<DecodedBatch> for BatchBuilder {
    fn from(b: DecodedBatch) -> Self {
        BatchBuilder {
            base_offset: b.base_offset,
            compression: b.compression,
            timestamp_type: b.timestamp_type,
            producer: b.producer,
            is_control: b.is_control,
            partition_leader_epoch: b.partition_leader_epoch,
            records: b.records,
        }
    }
}

impl RawBatch {
    /// Verifies the CRC and decodes the records (legacy magic 0/1 entries too, see the module docs), decompressing at most [`MAX_DECOMPRESSED_SIZE`] bytes.
    pub fn decode(&self) -> Result<DecodedBatch, BatchError> {
        self.decode_with_limit(MAX_DECOMPRESSED_SIZE)
    }

    /// Like [`RawBatch::decode`] with a custom cap on the decompressed records size.
    pub fn decode_with_limit(&self, max_decompressed: usize) -> Result<DecodedBatch, BatchError> {
        let offset = self.base_offset();
        match self.magic() {
            2 => {}
            0 | 1 => return super::legacy::decode(self, max_decompressed),
            magic => return Err(BatchError::UnsupportedMagic { offset, magic }),
        }
        self.verify_crc()?;
        let compression = self.compression()?;
        let corrupt = |reason: String| BatchError::Corrupt { offset, reason };
        let count = self.record_count();
        let count = usize::try_from(count)
            .map_err(|_| corrupt(format!("negative record count {count}")))?;
        let data = codec::decompress(compression, self.bytes().slice(RECORDS..), max_decompressed)?;
        let mut reader = Reader::new(data);
        // Never reserve more records than the bytes could hold.
        let mut records = Vec::with_capacity(count.min(reader.remaining() / MIN_RECORD_SIZE));
        let base_timestamp = self.base_timestamp();
        for i in 0..count {
            let record = Record::decode(&mut reader, offset, base_timestamp)
                .map_err(|reason| corrupt(format!("record {i} of {count}: {reason}")))?;
            records.push(record);
        }
        if reader.remaining() != 0 {
            return Err(corrupt(format!(
                "{} bytes left after the {count} records",
                reader.remaining()
            )));
        }
        Ok(DecodedBatch {
            base_offset: offset,
            compression,
            timestamp_type: self.timestamp_type(),
            producer: self.producer(),
            is_control: self.is_control(),
            partition_leader_epoch: self.partition_leader_epoch(),
            max_timestamp: self.max_timestamp(),
            records,
        })
    }
}
