//! A time-bounded right to write, for processes that share work through a group: renewed by
//! the member's heartbeats, it lapses before the coordinator could hand the work to another
//! member, so a member frozen past its session (SIGSTOP, a long GC-like stall) finds its lease
//! lapsed when it wakes and writes nothing more. Producers holding one check it before every
//! write, retries included.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A shared write lease (cheap to clone); see the module docs.
#[derive(Debug, Clone)]
pub struct Lease {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// What holds it, for errors: e.g. `group strait-a-b member m-1`.
    holder: String,
    origin: Instant,
    /// Milliseconds after `origin` until which writing is allowed; 0: lapsed; `u64::MAX`:
    /// never lapses.
    until_ms: AtomicU64,
}

impl Lease {
    /// A lease that never lapses: a process working alone.
    pub fn unbounded(holder: &str) -> Lease {
        Lease::starting(holder, u64::MAX)
    }

    /// A lease that has lapsed until its first renewal.
    pub fn lapsed(holder: &str) -> Lease {
        Lease::starting(holder, 0)
    }

    fn starting(holder: &str, until_ms: u64) -> Lease {
        Lease {
            inner: Arc::new(Inner {
                holder: holder.to_owned(),
                origin: Instant::now(),
                until_ms: AtomicU64::new(until_ms),
            }),
        }
    }

    /// Extends the lease to `for_` after `since` (when the renewing request was sent), never
    /// shortening it.
    pub fn renew(&self, since: Instant, for_: Duration) {
        let until = since.saturating_duration_since(self.inner.origin) + for_;
        let until = u64::try_from(until.as_millis()).unwrap_or(u64::MAX - 1);
        self.inner.until_ms.fetch_max(until, Ordering::AcqRel);
    }

    /// Ends the lease now (the member was fenced or left).
    pub fn revoke(&self) {
        self.inner.until_ms.store(0, Ordering::Release);
    }

    /// Whether writing is allowed now.
    pub fn is_valid(&self) -> bool {
        let until = self.inner.until_ms.load(Ordering::Acquire);
        until == u64::MAX || (self.inner.origin.elapsed().as_millis() as u64) < until
    }

    /// What holds the lease.
    pub fn holder(&self) -> &str {
        &self.inner.holder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_lapses_unless_renewed() {
        let lease = Lease::lapsed("group g member m");
        assert!(!lease.is_valid());
        lease.renew(Instant::now(), Duration::from_secs(60));
        assert!(lease.is_valid());
        // A renewal sent long ago never shortens it.
        lease.renew(
            Instant::now() - Duration::from_secs(3600),
            Duration::from_secs(1),
        );
        assert!(lease.is_valid());
        lease.revoke();
        assert!(!lease.is_valid());
        lease.renew(Instant::now(), Duration::ZERO);
        assert!(!lease.is_valid(), "a renewal whose term ended already");
        assert!(Lease::unbounded("solo").is_valid());
    }

    #[test]
    fn clones_share_one_lease() {
        let lease = Lease::lapsed("g");
        let clone = lease.clone();
        lease.renew(Instant::now(), Duration::from_secs(60));
        assert!(clone.is_valid());
        clone.revoke();
        assert!(!lease.is_valid());
    }
}
