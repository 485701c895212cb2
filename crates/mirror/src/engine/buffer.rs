//! A flow's fetch buffer budget (`strait.buffer.max.bytes`): the fetcher reserves a request's
//! most bytes before it asks the source, keeps what the response holds until every partition
//! answered in it has written its batches and had them acknowledged (batches go to the target
//! from the response's own buffer, so it lives that long), and returns the rest at once. A flow
//! whose target stalls fills its own budget and stops fetching; other flows have budgets of
//! their own.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes a flow may hold fetched and not yet written.
#[derive(Debug, Clone)]
pub(crate) struct FetchBudget {
    bytes: Arc<Semaphore>,
    limit: u32,
}

/// Budget held by bytes in memory, shared by everything that still reads them; returned when
/// the last copy is dropped (the permit is only ever dropped).
#[derive(Debug, Clone)]
pub(crate) struct Held(#[allow(dead_code)] Option<Arc<OwnedSemaphorePermit>>);

impl Held {
    /// Nothing held (an answer with no records).
    pub(crate) fn none() -> Held {
        Held(None)
    }

    /// How many bytes this holds.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |p| p.num_permits())
    }
}

impl FetchBudget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: u32) -> FetchBudget {
        FetchBudget {
            bytes: Arc::new(Semaphore::new(limit as usize)),
            limit,
        }
    }

    /// The most bytes one request may ask for: `wanted`, or the whole budget if less.
    pub(crate) fn clamp(&self, wanted: i32) -> i32 {
        wanted.clamp(1, i32::try_from(self.limit).unwrap_or(i32::MAX))
    }

    /// Waits until `least` bytes are free, then reserves up to `wanted` of what is free (both
    /// at most the whole budget). A budget partly held, say by a partition whose batches wait
    /// for acknowledgements, still lets smaller requests go.
    pub(crate) async fn reserve(&self, wanted: i32, least: i32) -> Reservation {
        let wanted = u32::try_from(self.clamp(wanted)).unwrap_or(1);
        let least = u32::try_from(self.clamp(least)).unwrap_or(1).min(wanted);
        let mut permit = self
            .bytes
            .clone()
            .acquire_many_owned(least)
            .await
            .expect("the budget's semaphore is never closed");
        let free = u32::try_from(self.bytes.available_permits()).unwrap_or(u32::MAX);
        let more = (wanted - least).min(free);
        if more > 0 {
            if let Ok(extra) = self.bytes.clone().try_acquire_many_owned(more) {
                permit.merge(extra);
            }
        }
        Reservation(permit)
    }

    /// Bytes reserved or held now.
    pub(crate) fn held(&self) -> usize {
        self.limit as usize - self.bytes.available_permits()
    }

    /// The budget.
    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }
}

/// Bytes reserved for one request's answer, handed out to its partitions.
#[derive(Debug)]
pub(crate) struct Reservation(OwnedSemaphorePermit);

impl Reservation {
    /// The bytes reserved, what the request may ask for.
    pub(crate) fn bytes(&self) -> i32 {
        i32::try_from(self.0.num_permits()).unwrap_or(i32::MAX)
    }

    /// Takes `bytes` of the reservation for what a response holds (what is left, if less: a
    /// broker returns a first batch larger than asked, KIP-74).
    pub(crate) fn take(&mut self, bytes: usize) -> Held {
        let bytes = bytes.min(self.0.num_permits());
        if bytes == 0 {
            return Held::none();
        }
        Held(self.0.split(bytes).map(Arc::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_answers_hold_is_returned_when_they_are_dropped() {
        let budget = FetchBudget::new(100);
        let mut reservation = budget.reserve(80, 80).await;
        assert_eq!((100 - budget.held()), 20);
        let a = reservation.take(30);
        let b = reservation.take(70);
        assert_eq!(
            (a.bytes(), b.bytes()),
            (30, 50),
            "the second gets what is left"
        );
        assert_eq!(reservation.take(10).bytes(), 0);
        drop(reservation);
        assert_eq!((100 - budget.held()), 20);
        drop(a);
        assert_eq!((100 - budget.held()), 50);
        drop(b);
        assert_eq!((100 - budget.held()), 100);
    }

    #[tokio::test]
    async fn a_response_shared_by_partitions_and_batches_is_held_until_the_last_lets_go() {
        let budget = FetchBudget::new(100);
        let response = budget.reserve(60, 60).await.take(60);
        let (partition, in_flight) = (response.clone(), response.clone());
        drop(response);
        drop(partition);
        assert_eq!(
            budget.held(),
            60,
            "a batch in flight still reads the response"
        );
        drop(in_flight);
        assert_eq!(budget.held(), 0);
    }

    #[tokio::test]
    async fn a_partly_held_budget_lets_a_smaller_request_go_at_once() {
        let budget = FetchBudget::new(100);
        let held = budget.reserve(70, 70).await.take(70);
        let smaller = budget.reserve(80, 20).await;
        assert_eq!(smaller.bytes(), 30, "what is free, not the 80 wanted");
        drop(smaller);
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.reserve(80, 40).await.bytes() }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "30 free, at least 40 needed");
        drop(held);
        assert_eq!(waiting.await.unwrap(), 80);
    }

    #[tokio::test]
    async fn a_full_budget_makes_the_next_request_wait() {
        let budget = FetchBudget::new(100);
        let mut first = budget.reserve(1000, 1000).await;
        assert_eq!(
            (100 - budget.held()),
            0,
            "a request asks at most the whole budget"
        );
        let held = first.take(60);
        drop(first);
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.reserve(50, 50).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "40 free, 50 wanted");
        drop(held);
        let second = waiting.await.unwrap();
        assert_eq!((100 - budget.held()), 50);
        drop(second);
        assert_eq!(budget.clamp(1 << 30), 100);
    }
}
