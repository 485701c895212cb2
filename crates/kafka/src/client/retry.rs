//! Bounded exponential backoff for retriable errors.

use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First backoff.
    pub min_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
    /// Attempts in all (the first try included).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            max_attempts: 10,
        }
    }
}

impl RetryPolicy {
    /// Backoff from `min` doubling up to `max`, for loops that retry until shutdown (a partition
    /// pipeline, a flow): no attempt limit, and [`RetryPolicy::nominal`] keeps logs exact.
    pub const fn until_stopped(min: Duration, max: Duration) -> Self {
        RetryPolicy {
            min_backoff: min,
            max_backoff: max,
            max_attempts: u32::MAX,
        }
    }

    /// The backoff before attempt `attempt` (1-based retry count), without jitter.
    pub fn nominal(&self, attempt: u32) -> Duration {
        self.min_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff)
    }

    /// [`RetryPolicy::nominal`] with ±20% jitter, so clients retrying together spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let jitter = rand::random_range(0.8..1.2);
        self.nominal(attempt).mul_f64(jitter).min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        let p = RetryPolicy::default();
        assert!(p.backoff(1) <= Duration::from_millis(60));
        assert!(p.backoff(3) >= Duration::from_millis(160));
        for attempt in 1..40 {
            assert!(p.backoff(attempt) <= p.max_backoff);
        }
        let loop_policy =
            RetryPolicy::until_stopped(Duration::from_millis(500), Duration::from_secs(10));
        let steps: Vec<u128> = (1..7).map(|a| loop_policy.nominal(a).as_millis()).collect();
        assert_eq!(steps, [500, 1000, 2000, 4000, 8000, 10000]);
    }
}
