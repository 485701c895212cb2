//! Work shared by its callers (opening a broker's connection, refreshing metadata), done by one
//! task of its own at a time. A caller only waits: one that stops being polled (a future parked
//! in a `select!` while another branch runs) holds nothing the others need. Holding an async
//! mutex across the work instead stalls every caller behind a parked one: tokio's mutex hands
//! the lock to its first waiter whether or not it is polled again. A pipeline's
//! acknowledgement, retried from inside a `select!`, was once handed the metadata refresh's
//! lock that way, while its own pipeline waited for a refresh elsewhere: for good.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::error::{Error, Result};

/// State `S` kept by work done one task at a time.
pub(super) struct SingleFlight<S> {
    inner: Arc<Mutex<Flight<S>>>,
}

struct Flight<S> {
    state: S,
    /// Closed when the running work has ended: with its result kept (and this `None`), or by
    /// a panic or the runtime stopping (and this still set, but closed).
    running: Option<watch::Receiver<()>>,
}

impl<S> Clone for SingleFlight<S> {
    fn clone(&self) -> Self {
        SingleFlight {
            inner: self.inner.clone(),
        }
    }
}

impl<S: Default> Default for SingleFlight<S> {
    fn default() -> Self {
        SingleFlight::new(S::default())
    }
}

impl<S> SingleFlight<S> {
    /// Starting from `state`.
    pub(super) fn new(state: S) -> Self {
        SingleFlight {
            inner: Arc::new(Mutex::new(Flight {
                state,
                running: None,
            })),
        }
    }

    /// What `look` finds in the state now.
    pub(super) fn peek<T>(&self, look: impl FnOnce(&S) -> T) -> T {
        look(&self.inner.lock().expect("single flight lock").state)
    }
}

impl<S: Send + 'static> SingleFlight<S> {
    /// What `ready` finds in the state; else, once work already running has ended, what
    /// `ready` finds then; else the result of `work`, run in a task of its own that applies
    /// `keep` to the state before anyone waiting looks again. `cancelled` explains a task the
    /// runtime dropped (it is shutting down).
    pub(super) async fn get_or_run<T, W>(
        &self,
        ready: impl Fn(&S) -> Option<T>,
        work: impl FnOnce() -> W,
        keep: impl FnOnce(&mut S, &Result<T>) + Send + 'static,
        cancelled: impl FnOnce() -> Error,
    ) -> Result<T>
    where
        T: Send + 'static,
        W: Future<Output = Result<T>> + Send + 'static,
    {
        let mut work = Some(work);
        let mut keep = Some(keep);
        loop {
            let next = {
                let mut flight = self.inner.lock().expect("single flight lock");
                if let Some(value) = ready(&flight.state) {
                    return Ok(value);
                }
                let ended = |r: &watch::Receiver<()>| r.has_changed().is_err();
                match flight.running.as_ref().filter(|r| !ended(r)) {
                    Some(running) => Next::Wait(running.clone()),
                    None => {
                        let (done, running) = watch::channel(());
                        flight.running = Some(running);
                        let doing = (work.take().expect("work starts once"))();
                        let keep = keep.take().expect("work starts once");
                        let inner = self.inner.clone();
                        Next::Run(tokio::spawn(async move {
                            let result = doing.await;
                            let mut flight = inner.lock().expect("single flight lock");
                            keep(&mut flight.state, &result);
                            flight.running = None;
                            drop(done);
                            result
                        }))
                    }
                }
            };
            match next {
                // Ends (with an error: the sender is dropped) when the running work has ended.
                Next::Wait(mut running) => {
                    let _ = running.changed().await;
                }
                Next::Run(task) => {
                    return match task.await {
                        Ok(result) => result,
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Err(_) => Err(cancelled()),
                    }
                }
            }
        }
    }
}

/// What a caller does when nothing is ready.
enum Next<T> {
    /// Waits for the running work to end.
    Wait(watch::Receiver<()>),
    /// Waits for the work it started.
    Run(tokio::task::JoinHandle<Result<T>>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn cancelled() -> Error {
        Error::Config("cancelled".into())
    }

    #[tokio::test]
    async fn a_parked_caller_holds_nobody_up() {
        let flight: SingleFlight<Option<u32>> = SingleFlight::default();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        // The first caller starts the work, and is then never polled again.
        let first = flight.get_or_run(
            |s| *s,
            || async move {
                let _ = released.await;
                Ok(7)
            },
            |s, r| *s = r.as_ref().ok().copied(),
            cancelled,
        );
        let mut first = Box::pin(first);
        assert!(futures_poll_once(&mut first).await.is_none());
        release.send(()).unwrap();
        let second = tokio::time::timeout(
            Duration::from_secs(5),
            flight.get_or_run(
                |s| *s,
                || async { panic!("the first caller's work was enough") },
                |_, _| {},
                cancelled,
            ),
        )
        .await
        .expect("the second caller is not held up by the parked first one");
        assert_eq!(second.unwrap(), 7);
    }

    #[tokio::test]
    async fn callers_meanwhile_share_one_run_and_a_failed_run_is_tried_again() {
        let flight: SingleFlight<Option<u32>> = SingleFlight::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let attempt = |fail: bool| {
            let runs = runs.clone();
            move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                if fail {
                    Err(Error::Config("refused".into()))
                } else {
                    Ok(1)
                }
            }
        };
        let keep = |s: &mut Option<u32>, r: &Result<u32>| *s = r.as_ref().ok().copied();
        let (a, b) = tokio::join!(
            flight.get_or_run(|s| *s, attempt(true), keep, cancelled),
            async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                flight
                    .get_or_run(|s| *s, attempt(false), keep, cancelled)
                    .await
            }
        );
        assert!(a.is_err(), "the run's own caller gets its error");
        assert_eq!(b.unwrap(), 1, "a waiter whose run failed runs its own");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let c = flight
            .get_or_run(|s| *s, attempt(true), keep, cancelled)
            .await;
        assert_eq!(c.unwrap(), 1, "kept: no third run");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn work_that_panicked_is_run_again_by_the_next_caller() {
        let flight: SingleFlight<Option<u32>> = SingleFlight::default();
        let keep = |s: &mut Option<u32>, r: &Result<u32>| *s = r.as_ref().ok().copied();
        let panicked = tokio::spawn({
            let flight = flight.clone();
            async move {
                flight
                    .get_or_run(|s| *s, || async { panic!("broken") }, keep, cancelled)
                    .await
            }
        })
        .await;
        assert!(
            panicked.unwrap_err().is_panic(),
            "the caller sees the panic"
        );
        let next = tokio::time::timeout(
            Duration::from_secs(5),
            flight.get_or_run(|s| *s, || async { Ok(3) }, keep, cancelled),
        )
        .await
        .expect("the next caller neither waits for nor spins on the panicked run");
        assert_eq!(next.unwrap(), 3);
    }

    /// Polls `fut` once: its output if ready.
    async fn futures_poll_once<F: Future + Unpin>(fut: &mut F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut *fut).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
