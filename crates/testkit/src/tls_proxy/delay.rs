//! The proxy's outputs: written at once, or through a delay line that lets each frame out
//! `delay` after it came in, in order, without one frame holding up the next: a long link's
//! latency, not its bandwidth (frames in flight overlap as on a real WAN).

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

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

    /// Sends `bytes` (a whole frame with its size prefix).
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
