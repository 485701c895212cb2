//! Waiting for shutdown. One watch channel per engine says "stop"; every loop, wait and pass
//! of the engine ends when it does, so stopping never waits on a cluster that is slow or down.

use std::future::Future;
use std::time::Duration;

use strait_kafka::RetryPolicy;
use tokio::sync::watch;

/// How a flow's and a checkpoint loop's setup is retried until shutdown: 0.5 s doubling to 10 s.
pub(crate) const SETUP_RETRY: RetryPolicy =
    RetryPolicy::until_stopped(Duration::from_millis(500), Duration::from_secs(10));

/// The engine's stop signal (`true`: stop now).
pub(crate) type Shutdown = watch::Receiver<bool>;

/// Resolves once shutdown is requested (or the engine is gone).
pub(crate) async fn stopped(shutdown: &mut Shutdown) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Runs `work` to its end unless shutdown comes first; `None` if it was cut short.
pub(crate) async fn unless_stopped<T>(
    work: impl Future<Output = T>,
    shutdown: &Shutdown,
) -> Option<T> {
    let mut shutdown = shutdown.clone();
    tokio::select! {
        done = work => Some(done),
        () = stopped(&mut shutdown) => None,
    }
}

/// Sleeps for `duration` unless shutdown comes first; whether it slept the whole time.
pub(crate) async fn sleep_unless_stopped(duration: Duration, shutdown: &Shutdown) -> bool {
    unless_stopped(tokio::time::sleep(duration), shutdown)
        .await
        .is_some()
}

/// Runs `pass` now and then every `interval` until shutdown, a pass in progress included.
pub(crate) async fn every<F, Fut>(interval: Duration, shutdown: &Shutdown, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(interval);
    loop {
        let ticked = unless_stopped(tick.tick(), shutdown).await;
        if ticked.is_none() || unless_stopped(pass(), shutdown).await.is_none() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pass_in_progress_is_cut_short() {
        let (stop, shutdown) = watch::channel(false);
        let runs = std::sync::atomic::AtomicU32::new(0);
        let looping = every(Duration::from_millis(10), &shutdown, || async {
            runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            stop.send(true).unwrap();
        };
        tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(looping, stopper)
        })
        .await
        .expect("every ends at shutdown, mid-pass");
        assert_eq!(runs.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert!(!sleep_unless_stopped(Duration::from_secs(3600), &shutdown).await);
    }
}
