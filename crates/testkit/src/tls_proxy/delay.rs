//! The proxy's outputs: written at once, or through a delay line that lets each piece out
//! `delay` after it came in, in order, without one piece holding up the next: a long link's
//! latency, not its bandwidth (frames in flight overlap as on a real WAN). A frame passed on
//! unchanged is streamed in pieces as it arrives, so a big one is not held back until its
//! last byte came in (a link delays every byte by its latency, not a frame by its size).

use std::time::Duration;

use bytes::Bytes;
use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// At most this many bytes of a streamed frame are passed on at a time.
const STREAM_PIECE: usize = 256 * 1024;

/// Where the proxy writes one direction's frames.
pub(super) enum Output<W> {
    /// Straight to the stream.
    Direct(W),
    /// Through a delay line (its task owns the stream).
    Delayed(mpsc::UnboundedSender<(Instant, Bytes)>),
}

impl<W: AsyncWrite + Unpin + Send + 'static> Output<W> {
    /// Writes to `stream` directly, or `delay` later when set.
    pub(super) fn new(mut stream: W, delay: Option<Duration>) -> Output<W> {
        let Some(delay) = delay else {
            return Output::Direct(stream);
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Bytes)>();
        tokio::spawn(async move {
            while let Some((due, bytes)) = rx.recv().await {
                tokio::time::sleep_until(due + delay).await;
                if stream.write_all(&bytes).await.is_err() || stream.flush().await.is_err() {
                    break;
                }
            }
            let _ = stream.shutdown().await;
        });
        Output::Delayed(tx)
    }

    /// Passes on a frame of `size` bytes whose correlation id was read already, the rest read
    /// from `from` and sent in pieces as it arrives.
    pub(super) async fn stream<R: AsyncRead + Unpin>(
        &mut self,
        from: &mut R,
        size: usize,
        correlation_id: i32,
    ) -> std::io::Result<()> {
        let mut head = BytesMut::with_capacity(8);
        head.put_i32(size as i32);
        head.put_i32(correlation_id);
        self.send(head.freeze()).await?;
        let mut left = size - 4;
        while left > 0 {
            let mut piece = BytesMut::with_capacity(left.min(STREAM_PIECE));
            let read = from.read_buf(&mut piece).await?;
            if read == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            left -= read;
            self.send(piece.freeze()).await?;
        }
        Ok(())
    }

    /// Sends `bytes` (a whole frame with its size prefix, or a piece of one).
    pub(super) async fn send(&mut self, bytes: Bytes) -> std::io::Result<()> {
        match self {
            Output::Direct(stream) => {
                stream.write_all(&bytes).await?;
                stream.flush().await
            }
            Output::Delayed(line) => line
                .send((Instant::now(), bytes))
                .map_err(|_| std::io::Error::other("the delay line's stream is closed")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_streamed_frame_starts_coming_out_a_delay_after_its_first_bytes_came_in() {
        let (mut feed, mut from) = tokio::io::duplex(1 << 20);
        let (writer, mut reader) = tokio::io::duplex(4 << 20);
        let mut out = Output::new(writer, Some(Duration::from_millis(200)));
        let started = Instant::now();
        let body: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let sent = body.clone();
        let feeder = tokio::spawn(async move {
            feed.write_all(&sent[..1000]).await.unwrap();
            // The rest comes in 300 ms later, as a long frame would over a slow broker.
            tokio::time::sleep(Duration::from_millis(300)).await;
            feed.write_all(&sent[1000..]).await.unwrap();
        });
        let size = body.len() + 4;
        let streamer = tokio::spawn(async move {
            out.stream(&mut from, size, 7).await.unwrap();
            out
        });
        let mut head = [0u8; 8 + 1000];
        reader.read_exact(&mut head).await.unwrap();
        let first = started.elapsed();
        let mut rest = vec![0u8; body.len() - 1000];
        reader.read_exact(&mut rest).await.unwrap();
        feeder.await.unwrap();
        drop(streamer.await.unwrap());
        assert!(first >= Duration::from_millis(200), "{first:?}");
        assert!(
            first < Duration::from_millis(300),
            "the first piece was held back until the frame was whole: {first:?}"
        );
        assert_eq!(i32::from_be_bytes(head[..4].try_into().unwrap()), 1_000_004);
        assert_eq!(i32::from_be_bytes(head[4..8].try_into().unwrap()), 7);
        assert_eq!(&head[8..], &body[..1000]);
        assert_eq!(rest, body[1000..]);
    }

    #[tokio::test]
    async fn frames_come_out_late_in_order_and_overlapping() {
        let (writer, mut reader) = tokio::io::duplex(1 << 20);
        let mut out = Output::new(writer, Some(Duration::from_millis(200)));
        let started = Instant::now();
        for i in 0..10u8 {
            out.send(Bytes::from(vec![i; 100])).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut all = vec![0u8; 1000];
        reader.read_exact(&mut all[..100]).await.unwrap();
        let first = started.elapsed();
        reader.read_exact(&mut all[100..]).await.unwrap();
        let last = started.elapsed();
        assert!(first >= Duration::from_millis(200), "{first:?}");
        // Ten frames sent 10 ms apart arrive 10 ms apart, not 200 ms apart.
        assert!(last < Duration::from_millis(200 + 100 + 150), "{last:?}");
        for (i, chunk) in all.chunks(100).enumerate() {
            assert!(chunk.iter().all(|b| *b == i as u8));
        }
    }
}
