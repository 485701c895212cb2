//! A request frame in pieces: what the codec writes is copied into small owned pieces, while the
//! large byte strings the request only carries (record batches) stay where they are and become
//! pieces of their own, written to the socket from there. A Produce request then costs no copy
//! of its batches in user space, not even of a batch whose header was rewritten: the request
//! names it by the bytes it was fetched as (the same length), and the frame holds the new header
//! and the fetched records in their place.

use std::io::IoSlice;
use std::ops::Range;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Pieces shorter than this are copied: a separate piece costs an iovec and a refcount.
const COPY_BELOW: usize = 4096;

/// A byte string a request carries: the frame holds `pieces` (together as long as `named_by`)
/// where the codec writes `named_by`.
#[derive(Debug, Clone)]
pub(crate) struct Carried {
    named_by: Bytes,
    pieces: Vec<Bytes>,
}

impl Carried {
    /// `bytes`, carried as they are.
    #[cfg(test)]
    pub(crate) fn whole(bytes: Bytes) -> Carried {
        Carried {
            pieces: vec![bytes.clone()],
            named_by: bytes,
        }
    }

    /// `pieces` written where the codec writes `named_by`; their lengths must add up to its.
    pub(crate) fn in_place_of(named_by: Bytes, pieces: Vec<Bytes>) -> Carried {
        debug_assert_eq!(pieces.iter().map(Bytes::len).sum::<usize>(), named_by.len());
        Carried { named_by, pieces }
    }

    /// The bytes the request names this by.
    pub(crate) fn named_by(&self) -> &Bytes {
        &self.named_by
    }

    /// Whether the carried bytes differ from those that name them (they must not be missed).
    fn replaces(&self) -> bool {
        self.pieces.len() != 1 || self.pieces[0].as_ptr() != self.named_by.as_ptr()
    }
}

/// An encoding target that keeps `carried` byte strings by reference.
pub(crate) struct ScatterBuf {
    done: Vec<Bytes>,
    done_len: usize,
    current: BytesMut,
    carried: Vec<Carried>,
    next: usize,
    placed: usize,
    /// The length of the shortest carried byte string: shorter slices are never looked up.
    shortest: usize,
}

impl ScatterBuf {
    /// A buffer for a frame of `size` bytes written by the codec, which passes the `carried`
    /// byte strings (in this order, ideally) to `put_slice` whole.
    pub(crate) fn new(size: usize, carried: Vec<Carried>) -> Self {
        let copied = size.saturating_sub(carried.iter().map(|c| c.named_by.len()).sum());
        ScatterBuf {
            done: Vec::with_capacity(3 * carried.len() + 1),
            done_len: 0,
            current: BytesMut::with_capacity(copied),
            next: 0,
            placed: 0,
            shortest: carried
                .iter()
                .map(|c| c.named_by.len())
                .min()
                .unwrap_or(usize::MAX),
            carried,
        }
    }

    /// The frame's pieces, in order; an error if a carried byte string that replaces the bytes
    /// naming it was never written (the frame would hold the wrong bytes).
    pub(crate) fn into_pieces(mut self) -> Result<Vec<Bytes>, String> {
        let replacing = self.carried.iter().filter(|c| c.replaces()).count();
        if self.placed < replacing {
            return Err(format!(
                "{} of {replacing} rewritten record batches were not where the request names them",
                replacing - self.placed
            ));
        }
        if !self.current.is_empty() {
            self.done.push(self.current.split().freeze());
        }
        Ok(self.done)
    }

    /// The carried byte string that `src` names, if any.
    fn carried(&mut self, src: &[u8]) -> Option<Carried> {
        let is = |c: &Carried| c.named_by.as_ptr() == src.as_ptr() && c.named_by.len() == src.len();
        let index = if self.carried.get(self.next).is_some_and(is) {
            self.next
        } else {
            self.carried.iter().position(is)?
        };
        self.next = index + 1;
        Some(self.carried[index].clone())
    }

    /// Ends the piece being copied into, if it holds anything.
    fn close_current(&mut self) {
        if !self.current.is_empty() {
            let written = self.current.split().freeze();
            self.done_len += written.len();
            self.done.push(written);
        }
    }
}

// SAFETY: `BufMut` is an unsafe trait because callers trust `chunk_mut` and `advance_mut` to
// describe memory they may write. Every such method here delegates to `current`, a `BytesMut`,
// whose implementation upholds that contract, and nothing else touches `current` in between
// (`put_slice` either delegates too, or splits off what was written, which leaves `current`
// an empty `BytesMut` with the same guarantees).
#[allow(unsafe_code)]
unsafe impl BufMut for ScatterBuf {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller's promise (`cnt` bytes of `chunk_mut` initialised) is about
        // `current`'s chunk, which is what `chunk_mut` returned.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        let carried = (src.len() >= self.shortest)
            .then(|| self.carried(src))
            .flatten();
        let Some(carried) = carried else {
            self.current.put_slice(src);
            return;
        };
        if carried.replaces() {
            self.placed += 1;
        }
        for piece in carried.pieces {
            if piece.len() < COPY_BELOW {
                self.current.put_slice(&piece);
            } else {
                self.close_current();
                self.done_len += piece.len();
                self.done.push(piece);
            }
        }
    }
}

impl ByteBufMut for ScatterBuf {
    fn offset(&self) -> usize {
        self.done_len + self.current.len()
    }

    /// Only within what was written since the last carried piece (request messages never seek;
    /// the codec seeks only inside record batches, which it encodes into buffers of its own).
    fn seek(&mut self, offset: usize) {
        let local = offset
            .checked_sub(self.done_len)
            .expect("no seek back across a carried piece");
        self.current.resize(local, 0);
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        let start = r
            .start
            .checked_sub(self.done_len)
            .expect("no range across a carried piece");
        &mut self.current[start..r.end - self.done_len]
    }
}

/// Writes `pieces` in order, several per system call where the stream takes vectored writes.
pub(crate) async fn write_pieces<W: AsyncWrite + Unpin>(
    writer: &mut W,
    pieces: &[Bytes],
) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let n = writer.write_vectored(rest).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn request(batches: &[Bytes]) -> ProduceRequest {
        let partitions = batches
            .iter()
            .enumerate()
            .map(|(i, b)| {
                PartitionProduceData::default()
                    .with_index(i as i32)
                    .with_records(Some(b.clone()))
            })
            .collect();
        ProduceRequest::default()
            .with_acks(-1)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partition_data(partitions)])
    }

    #[test]
    fn carried_batches_are_pieces_of_their_own_and_the_frame_is_unchanged() {
        let batches: Vec<Bytes> = (0..3u8)
            .map(|i| Bytes::from(vec![i; 5000 + usize::from(i)]))
            .chain([Bytes::from_static(b"small")])
            .collect();
        for version in [3, 8, 9, 12] {
            let produce = request(&batches);
            let mut whole = BytesMut::new();
            produce.encode(&mut whole, version).unwrap();
            let carried = batches.iter().cloned().map(Carried::whole).collect();
            let mut scatter = ScatterBuf::new(whole.len(), carried);
            produce.encode(&mut scatter, version).unwrap();
            assert_eq!(scatter.offset(), whole.len());
            let pieces = scatter.into_pieces().unwrap();
            assert_eq!(pieces.concat(), whole.to_vec(), "v{version}: same bytes");
            for b in &batches[..3] {
                assert!(
                    pieces.iter().any(|p| p.as_ptr() == b.as_ptr()),
                    "v{version}: a {}-byte batch was copied",
                    b.len()
                );
            }
            assert!(
                !pieces.iter().any(|p| p.as_ptr() == batches[3].as_ptr()),
                "a small batch is copied"
            );
        }
    }

    #[test]
    fn a_batch_named_by_its_fetched_bytes_goes_out_as_its_new_header_and_those_records() {
        let fetched: Vec<Bytes> = [9000, 100]
            .map(|n| Bytes::from((0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>()))
            .into();
        let headers: Vec<Bytes> = [0xAA, 0xBB].map(|b| Bytes::from(vec![b; 61])).into();
        let rewritten: Vec<Bytes> = fetched
            .iter()
            .zip(&headers)
            .map(|(f, h)| [&h[..], &f[61..]].concat().into())
            .collect();
        for version in [3, 9, 12] {
            let mut expected = BytesMut::new();
            request(&rewritten).encode(&mut expected, version).unwrap();
            let carried = fetched
                .iter()
                .zip(&headers)
                .map(|(f, h)| Carried::in_place_of(f.clone(), vec![h.clone(), f.slice(61..)]))
                .collect();
            let mut scatter = ScatterBuf::new(expected.len(), carried);
            request(&fetched).encode(&mut scatter, version).unwrap();
            let pieces = scatter.into_pieces().unwrap();
            assert_eq!(
                pieces.concat(),
                expected.to_vec(),
                "v{version}: the new headers"
            );
            assert!(
                pieces
                    .iter()
                    .any(|p| p.as_ptr() == fetched[0][61..].as_ptr()),
                "v{version}: the large batch's records were copied"
            );
        }
    }

    #[test]
    fn a_rewritten_batch_the_request_does_not_name_is_an_error() {
        let fetched = Bytes::from(vec![1u8; 5000]);
        let other = Bytes::from(vec![1u8; 5000]);
        let header = Bytes::from(vec![2u8; 61]);
        let carried = vec![Carried::in_place_of(
            fetched.clone(),
            vec![header, fetched.slice(61..)],
        )];
        let produce = request(std::slice::from_ref(&other));
        let mut scatter = ScatterBuf::new(6000, carried);
        produce.encode(&mut scatter, 9).unwrap();
        let error = scatter.into_pieces().unwrap_err();
        assert!(error.contains("1 of 1 rewritten"), "{error}");
    }

    #[tokio::test]
    async fn pieces_are_written_whole_and_in_order() {
        let pieces: Vec<Bytes> = (0..50u8).map(|i| Bytes::from(vec![i; 3000])).collect();
        let (mut a, mut b) = tokio::io::duplex(1024);
        let expected = pieces.concat();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut b, &mut got)
                .await
                .unwrap();
            got
        });
        write_pieces(&mut a, &pieces).await.unwrap();
        drop(a);
        assert_eq!(reader.await.unwrap(), expected);
    }
}
