//! avg/min/max of a measurement over the last one to two minutes, like MM2's sampled
//! `*-avg`/`*-min`/`*-max` metrics (two 60 s samples).

use std::time::{Duration, Instant};

/// How long one sample lasts; a view covers the current and the previous sample.
const SAMPLE: Duration = Duration::from_secs(60);

/// Count, sum, min and max of some values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Aggregate {
    /// How many values.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest (0 when empty).
    pub min: f64,
    /// The largest (0 when empty).
    pub max: f64,
}

impl Aggregate {
    /// Adds one value.
    pub fn add(&mut self, value: f64) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
    }

    /// Both aggregates as one.
    pub fn merge(&self, other: &Aggregate) -> Aggregate {
        match (self.count, other.count) {
            (0, _) => *other,
            (_, 0) => *self,
            _ => Aggregate {
                count: self.count + other.count,
                sum: self.sum + other.sum,
                min: self.min.min(other.min),
                max: self.max.max(other.max),
            },
        }
    }

    /// The mean (0 when empty).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// A measurement over the current and the previous 60 s sample.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    started: Instant,
    current: Aggregate,
    previous: Aggregate,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            started: Instant::now(),
            current: Aggregate::default(),
            previous: Aggregate::default(),
        }
    }
}

impl Window {
    pub(crate) fn record(&mut self, value: f64) {
        self.rotate();
        self.current.add(value);
    }

    pub(crate) fn view(&mut self) -> Aggregate {
        self.rotate();
        self.previous.merge(&self.current)
    }

    fn rotate(&mut self) {
        let age = self.started.elapsed();
        if age < SAMPLE {
            return;
        }
        self.previous = if age < SAMPLE * 2 {
            self.current
        } else {
            Aggregate::default()
        };
        self.current = Aggregate::default();
        self.started = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::Aggregate;

    #[test]
    fn aggregates_merge() {
        let mut a = Aggregate::default();
        a.add(2.0);
        a.add(4.0);
        let mut b = Aggregate::default();
        b.add(9.0);
        let m = a.merge(&b);
        assert_eq!((m.count, m.min, m.max, m.avg()), (3, 2.0, 9.0, 5.0));
        assert_eq!(Aggregate::default().merge(&b), b);
        assert_eq!(Aggregate::default().avg(), 0.0);
    }
}
