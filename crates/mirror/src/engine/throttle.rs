//! Throttling a flow's writes (`strait.throttle.*`): token buckets of bytes per second, one for
//! the whole flow and one per topic rule. A partition reserves a batch's bytes before writing it
//! and waits as long as its buckets say; buckets may go into debt, so writers queue behind each
//! other and the rate holds however many partitions share it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{ThrottleRule, ThrottleSettings};

/// The label of the flow-wide bucket in the wait counters.
pub(crate) const FLOW_LABEL: &str = "flow";

/// Bytes per second with a burst of one second's worth.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket of `bytes_per_second`.
    pub(crate) fn new(bytes_per_second: u64, now: Instant) -> Self {
        let rate = bytes_per_second as f64;
        TokenBucket {
            rate,
            state: Mutex::new((rate, now)),
        }
    }

    /// Takes `bytes` at `now`; returns how long the caller waits before writing them (zero
    /// while the bucket holds them; otherwise until the debt is refilled).
    pub(crate) fn reserve(&self, bytes: u64, now: Instant) -> Duration {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, at) = *state;
        let refilled = now.saturating_duration_since(at).as_secs_f64() * self.rate;
        let left = (tokens + refilled).min(self.rate) - bytes as f64;
        *state = (left, now.max(at));
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.rate)
        }
    }
}

/// A flow's buckets.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    flow: Option<TokenBucket>,
    /// Per rule (in the settings' order): the rule and its bucket.
    rules: Vec<(ThrottleRule, TokenBucket)>,
}

impl Throttle {
    /// The buckets of `settings`, full.
    pub(crate) fn new(settings: &ThrottleSettings) -> Self {
        let now = Instant::now();
        Throttle {
            flow: settings.flow.map(|rate| TokenBucket::new(rate, now)),
            rules: settings
                .rules
                .iter()
                .map(|r| (r.clone(), TokenBucket::new(r.bytes_per_second, now)))
                .collect(),
        }
    }

    /// The rule governing `topic` (the first whose patterns match), as an index for
    /// [`Throttle::reserve`].
    pub(crate) fn rule_of(&self, topic: &str) -> Option<usize> {
        self.rules.iter().position(|(r, _)| r.topics.matches(topic))
    }

    /// The labels of the buckets, for the wait counters.
    pub(crate) fn labels(&self) -> Vec<String> {
        let flow = self.flow.as_ref().map(|_| FLOW_LABEL.to_owned());
        flow.into_iter()
            .chain(self.rules.iter().map(|(r, _)| r.name.clone()))
            .collect()
    }

    /// Reserves `bytes` of a topic governed by rule `rule` ([`Throttle::rule_of`]); returns
    /// the wait and the label of the bucket that set it, or `None` when nothing holds the write.
    pub(crate) fn reserve(&self, rule: Option<usize>, bytes: u64) -> Option<(Duration, &str)> {
        let now = Instant::now();
        let flow = self
            .flow
            .as_ref()
            .map(|b| (b.reserve(bytes, now), FLOW_LABEL));
        let rule = rule
            .and_then(|i| self.rules.get(i))
            .map(|(r, b)| (b.reserve(bytes, now), r.name.as_str()));
        [flow, rule]
            .into_iter()
            .flatten()
            .filter(|(wait, _)| !wait.is_zero())
            .max_by_key(|(wait, _)| *wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    #[test]
    fn a_full_bucket_lets_a_second_through_then_paces_to_the_rate() {
        let t0 = Instant::now();
        let bucket = TokenBucket::new(MB, t0);
        assert_eq!(bucket.reserve(MB, t0), Duration::ZERO, "the burst");
        assert_eq!(bucket.reserve(MB / 2, t0), Duration::from_millis(500));
        // A second writer queues behind the first one's debt.
        assert_eq!(bucket.reserve(MB / 2, t0), Duration::from_millis(1000));
        // Time pays the debt back: 1.5 s later the bucket is even.
        let later = t0 + Duration::from_millis(1500);
        assert_eq!(bucket.reserve(0, later), Duration::ZERO);
    }

    #[test]
    fn the_rate_holds_over_many_writes() {
        let t0 = Instant::now();
        let bucket = TokenBucket::new(10 * MB, t0);
        // Writers that always wait what they are told: 100 MB of 256 KB batches.
        let mut now = t0;
        let mut written = 0;
        while written < 100 * MB {
            now += bucket.reserve(256_000, now);
            written += 256_000;
        }
        let secs = now.duration_since(t0).as_secs_f64();
        // 10 MB at once (the burst), the other 90 MB at 10 MB/s.
        assert!((secs - 9.0).abs() < 0.1, "{secs}");
    }

    #[test]
    fn the_tighter_of_flow_and_rule_sets_the_wait() {
        let settings = ThrottleSettings {
            flow: Some(10 * MB),
            rules: vec![crate::config::ThrottleRule {
                name: "audit".into(),
                patterns: vec!["audit.*".into()],
                topics: crate::filter::PatternList::new(&["audit.*".to_owned()]).unwrap(),
                bytes_per_second: MB,
            }],
        };
        let throttle = Throttle::new(&settings);
        assert_eq!(throttle.labels(), ["flow", "audit"]);
        assert_eq!(
            (throttle.rule_of("audit.log"), throttle.rule_of("orders")),
            (Some(0), None)
        );
        assert_eq!(throttle.reserve(Some(0), MB), None, "both bursts hold it");
        let (wait, label) = throttle.reserve(Some(0), MB).expect("the rule's debt");
        assert_eq!(label, "audit");
        assert!(wait > Duration::from_millis(900), "{wait:?}");
        assert!(
            throttle.reserve(None, 5 * MB).is_none(),
            "other topics: the flow's burst"
        );
        assert!(Throttle::new(&ThrottleSettings::default())
            .reserve(None, MB)
            .is_none());
    }
}
