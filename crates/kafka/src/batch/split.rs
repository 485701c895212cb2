//! Splitting a fetch response's records buffer into whole batches.

use std::iter::FusedIterator;

use bytes::Bytes;

use super::layout::{
    min_batch_length, BASE_OFFSET, LENGTH, LOG_OVERHEAD, MAGIC, MIN_ANY_BATCH_LENGTH,
};
use super::wire::{i32_at, i64_at, i8_at};
use super::{BatchError, RawBatch};

/// Splits a fetch response's records buffer into whole batches.
pub fn split_batches(buf: &Bytes, fetch_offset: i64) -> SplitBatches {
    SplitBatches {
        buf: buf.clone(),
        pos: 0,
        fetch_offset,
        done: false,
    }
}

/// Iterator over the whole batches of a records buffer; see [`split_batches`].
#[derive(Clone, Debug)]
pub struct SplitBatches {
    buf: Bytes,
    pos: usize,
    fetch_offset: i64,
    done: bool,
}

impl SplitBatches {
    /// Bytes consumed so far (whole batches, including skipped ones).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// One step: `Ok(Some(batch))` for a whole batch at `pos`, `Ok(None)` at the end.
    fn next_batch(&mut self) -> Result<Option<RawBatch>, BatchError> {
        loop {
            let rest = &self.buf[self.pos..];
            if rest.len() < LOG_OVERHEAD {
                return Ok(None);
            }
            let offset = i64_at(rest, BASE_OFFSET);
            let length = i32_at(rest, LENGTH);
            let corrupt = |reason: String| BatchError::Corrupt { offset, reason };
            if length < MIN_ANY_BATCH_LENGTH {
                return Err(corrupt(format!(
                    "batch length {length} is below the minimum {MIN_ANY_BATCH_LENGTH}"
                )));
            }
            if rest.len() <= MAGIC {
                return Ok(None);
            }
            let magic = i8_at(rest, MAGIC);
            let min =
                min_batch_length(magic).ok_or(BatchError::UnsupportedMagic { offset, magic })?;
            if length < min {
                return Err(corrupt(format!(
                    "batch length {length} is below the minimum {min} for magic {magic}"
                )));
            }
            let total = LOG_OVERHEAD + length as usize;
            if rest.len() < total {
                return Ok(None);
            }
            let batch = RawBatch::from_validated(self.buf.slice(self.pos..self.pos + total));
            self.pos += total;
            if batch.last_offset() >= self.fetch_offset {
                return Ok(Some(batch));
            }
        }
    }
}

impl Iterator for SplitBatches {
    type Item = Result<RawBatch, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl FusedIterator for SplitBatches {}
