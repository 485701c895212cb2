//! How many bytes a partition asks for in one fetch. It starts at `max.partition.fetch.bytes`
//! and, over a long link ([`LONG_LINK`]), doubles while answers come back full (the broker has
//! more waiting than one answer carries, and the partition would wait a round trip per
//! answer), up to `fetch.max.bytes`; it halves back towards the start while answers are small.
//! A busy partition's asks so grow until one answer covers what arrives in a round trip; a
//! quiet one's, and every one on a short link, stay at the start (bigger answers there only
//! cost memory and page faults: measured, 12% more CPU per GB and 100 MB more RSS).

use std::time::Duration;

/// A source whose round trip is at least this long is a long link: one
/// `max.partition.fetch.bytes` per round trip may no longer keep a busy partition up (4 MiB
/// per 20 ms is 200 MB/s; per 250 ms, 16 MB/s). Any LAN or cloud zone is well under it.
pub(crate) const LONG_LINK: Duration = Duration::from_millis(20);

/// An answer at least this share of what was asked counts as full (a broker only sends whole
/// batches, so a full answer falls short of the ask by up to one batch).
const FULL_NUMERATOR: usize = 3;
const FULL_DENOMINATOR: usize = 4;
/// An answer under this share of what was asked counts as small.
const SMALL_DENOMINATOR: usize = 4;

/// One partition's fetch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FetchWindow {
    start: i32,
    most: i32,
    bytes: i32,
}

impl FetchWindow {
    /// Starts at `start` bytes (`max.partition.fetch.bytes`) and grows to at most `most`
    /// (`fetch.max.bytes`, never below `start`).
    pub(crate) fn new(start: i32, most: i32) -> FetchWindow {
        let start = start.max(1);
        FetchWindow {
            start,
            most: most.max(start),
            bytes: start,
        }
    }

    /// The bytes to ask for next.
    pub(crate) fn bytes(&self) -> i32 {
        self.bytes
    }

    /// Learns from an answer of `got` record bytes to an ask for `asked` bytes that crossed
    /// a `long_link` or not.
    pub(crate) fn answered(&mut self, asked: i32, got: usize, long_link: bool) {
        let asked = usize::try_from(asked).unwrap_or(0).max(1);
        if got * FULL_DENOMINATOR >= asked * FULL_NUMERATOR && long_link {
            self.bytes = self.bytes.saturating_mul(2).min(self.most);
        } else if got * SMALL_DENOMINATOR < asked {
            self.bytes = (self.bytes / 2).max(self.start);
        }
    }
}

/// Whether a broker whose connection has `round_trip` (the shortest a request took to start
/// being answered; `None` until measured) is a [`LONG_LINK`] away.
pub(crate) fn is_long_link(round_trip: Option<Duration>) -> bool {
    round_trip.is_some_and(|r| r >= LONG_LINK)
}

/// What each of `asks` partitions may ask for in one request of at most `request_max` bytes:
/// its own window, but no more than an even share of the request once the windows together
/// exceed it (a broker fills a response in request order, so the last partitions would get
/// nothing), and never less than `start` (`max.partition.fetch.bytes`, as before windows grew).
pub(crate) fn fair_share(asks: usize, request_max: i32, start: i32) -> i32 {
    let asks = i32::try_from(asks.max(1)).unwrap_or(i32::MAX);
    (request_max / asks).max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: i32 = 1024 * 1024;

    #[test]
    fn full_answers_double_the_window_up_to_the_request_limit() {
        let mut window = FetchWindow::new(4 * MIB, 50 * MIB);
        assert_eq!(window.bytes(), 4 * MIB);
        window.answered(4 * MIB, (4 * MIB - 9_000) as usize, true);
        assert_eq!(window.bytes(), 8 * MIB, "short of the ask by a batch: full");
        for _ in 0..5 {
            let asked = window.bytes();
            window.answered(asked, asked as usize, true);
        }
        assert_eq!(window.bytes(), 50 * MIB, "never past fetch.max.bytes");
    }

    #[test]
    fn on_a_short_link_full_answers_keep_it_and_small_ones_still_halve_it() {
        let mut window = FetchWindow::new(4 * MIB, 50 * MIB);
        window.answered(4 * MIB, (4 * MIB) as usize, false);
        assert_eq!(window.bytes(), 4 * MIB);
        window.answered(4 * MIB, (4 * MIB) as usize, true);
        window.answered(8 * MIB, 0, false);
        assert_eq!(
            window.bytes(),
            4 * MIB,
            "grown on a long link, back on a short one"
        );
    }

    #[test]
    fn the_round_trip_is_long_from_twenty_milliseconds_and_short_until_measured() {
        assert!(!is_long_link(None));
        assert!(!is_long_link(Some(Duration::from_millis(19))));
        assert!(is_long_link(Some(LONG_LINK)));
    }

    #[test]
    fn small_answers_halve_it_back_to_the_start_and_middling_ones_keep_it() {
        let mut window = FetchWindow::new(MIB, 64 * MIB);
        for _ in 0..4 {
            let asked = window.bytes();
            window.answered(asked, asked as usize, true);
        }
        assert_eq!(window.bytes(), 16 * MIB);
        window.answered(16 * MIB, (10 * MIB) as usize, true);
        assert_eq!(
            window.bytes(),
            16 * MIB,
            "between a quarter and three quarters"
        );
        window.answered(16 * MIB, 0, true);
        assert_eq!(window.bytes(), 8 * MIB);
        for _ in 0..10 {
            window.answered(window.bytes(), 100, true);
        }
        assert_eq!(window.bytes(), MIB, "never below max.partition.fetch.bytes");
    }

    #[test]
    fn an_answer_to_an_older_smaller_ask_is_judged_by_that_ask() {
        let mut window = FetchWindow::new(MIB, 64 * MIB);
        window.answered(MIB, MIB as usize, true);
        assert_eq!(window.bytes(), 2 * MIB);
        // The fetch asked ahead with the old window comes back full of its 1 MiB.
        window.answered(MIB, MIB as usize, true);
        assert_eq!(window.bytes(), 4 * MIB);
    }

    #[test]
    fn a_start_above_the_request_limit_stays_put() {
        let mut window = FetchWindow::new(8 * MIB, MIB);
        window.answered(8 * MIB, (8 * MIB) as usize, true);
        assert_eq!(window.bytes(), 8 * MIB);
    }

    #[test]
    fn a_crowded_request_shares_its_bytes_evenly_but_not_below_the_start() {
        assert_eq!(fair_share(8, 50 * MIB, 4 * MIB), 50 * MIB / 8);
        assert_eq!(fair_share(100, 50 * MIB, 4 * MIB), 4 * MIB);
        assert_eq!(fair_share(0, 50 * MIB, 4 * MIB), 50 * MIB);
    }
}
