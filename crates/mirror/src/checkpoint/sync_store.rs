//! MM2's `OffsetSyncStore` (spec §6.1): per source partition, 64 offset syncs kept at
//! exponentially growing distances, and the translation of a committed upstream offset.
//!
//! strait writes two syncs per forwarded batch (its first and its last source offset, each with
//! the target offset it got), so a group committed at a batch boundary, the log end included,
//! translates exactly; Java MM2's sparser syncs go through the same algorithm.
//!
//! Inside a batch strait is exact too: a sync strait writes claims, in a record header, that
//! every offset since its previous sync of the partition maps one to one (a batch forwarded
//! untouched keeps its offset span on the target; nothing dropped or duplicated between). The
//! store bridges two consecutive recent syncs only on such a claim, naming the sync before, with
//! equal spans. Equal spans alone would not do: after a crash that lost the syncs of written
//! records, a rewind's duplicates can make an unequal span look equal, and Java MM2's syncs carry
//! no claim, so they keep MM2's rule.

use std::collections::{HashMap, VecDeque};

use crate::formats::{ClaimedSync, OffsetSync};

/// Syncs kept per source partition (Java `SYNCS_PER_PARTITION`).
pub const SYNCS_PER_PARTITION: usize = 64;
/// Most recent syncs strait keeps per partition besides MM2's 64 (16 bytes each): with two
/// syncs per forwarded batch, a group up to half this many batches behind translates exactly
/// at any offset of a batch forwarded untouched.
pub const RECENT_SYNCS_PER_PARTITION: usize = 2048;

/// How a committed upstream offset maps to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translation {
    /// A sync for exactly this upstream offset or for the record just before it, or an offset
    /// between two syncs whose span strait's writer claimed one to one: the consumer resumes
    /// where it stopped, nothing re-read or skipped.
    Exact {
        /// Offset to resume from on the target.
        downstream: i64,
    },
    /// The offset lies after the newest usable sync: resume one past that sync's record, which
    /// may re-deliver records after the sync (at most one strait batch) but never skips one.
    Conservative {
        /// Offset to resume from on the target.
        downstream: i64,
        /// The used sync's offset on the side translated from.
        sync_from: i64,
    },
    /// Older than every retained sync: not translatable (MM2 answers -1).
    TooOld,
    /// No sync has been seen for the partition (nothing mirrored yet).
    NoSync,
    /// The store has not read the offset-syncs topic to its end yet.
    NotReady,
}

impl Translation {
    /// The target offset, for exact and conservative translations.
    pub fn downstream(&self) -> Option<i64> {
        match self {
            Translation::Exact { downstream } | Translation::Conservative { downstream, .. } => {
                Some(*downstream)
            }
            _ => None,
        }
    }

    /// Java's `translateDownstream` result: empty, `-1` (too old) or the offset.
    pub fn mm2_result(&self) -> Option<i64> {
        match self {
            Translation::TooOld => Some(-1),
            Translation::NoSync | Translation::NotReady => None,
            other => other.downstream(),
        }
    }

    /// A one-word name for tables: exact, conservative, too-old, no-sync, not-ready.
    pub fn how(&self) -> &'static str {
        match self {
            Translation::Exact { .. } => "exact",
            Translation::Conservative { .. } => "conservative",
            Translation::TooOld => "untranslatable",
            Translation::NoSync => "no-sync",
            Translation::NotReady => "not-ready",
        }
    }
}

/// One received sync; `id` gives it Java's reference identity.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: u64,
    up: i64,
    down: i64,
}

impl Entry {
    fn is(&self, other: &Entry) -> bool {
        self.id == other.id
    }
}

type Syncs = [Entry; SYNCS_PER_PARTITION];

/// One of the recent syncs, and whether the span from the sync before it maps one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Recent {
    up: i64,
    down: i64,
    /// Its writer claimed the span from the sync before it exact, and the spans are equal.
    bridges: bool,
}

impl Recent {
    /// `claimed` (see [`ClaimedSync::exact_since`]) after `before`: bridged when the claim names
    /// `before` and both spans are positive and equal.
    fn after(before: Option<&Recent>, up: i64, down: i64, claimed: Option<i64>) -> Recent {
        let bridges = before
            .is_some_and(|b| claimed == Some(b.up) && up > b.up && up - b.up == down - b.down);
        Recent { up, down, bridges }
    }
}

/// The offset syncs of every source partition, and the translation from them.
#[derive(Debug, Default)]
pub struct OffsetSyncStore {
    syncs: HashMap<(String, i32), Syncs>,
    /// The last `recent_cap` syncs per partition, oldest first (strait's addition).
    recent: HashMap<(String, i32), VecDeque<Recent>>,
    recent_cap: usize,
    read_to_end: bool,
    must_read_to_end: bool,
    next_id: u64,
}

impl OffsetSyncStore {
    /// An empty store; `must_read_to_end` (Java `initializationMustReadToEnd`) keeps only the
    /// last sync per partition until [`OffsetSyncStore::set_read_to_end`], which keeps
    /// translations monotonic when no earlier checkpoints are known.
    pub fn new(must_read_to_end: bool) -> Self {
        Self {
            must_read_to_end,
            ..Self::default()
        }
    }

    /// MM2's store plus the last `recent` syncs of every partition, consulted first: what
    /// strait's checkpoints and CLI use ([`RECENT_SYNCS_PER_PARTITION`]).
    pub fn with_recent(must_read_to_end: bool, recent: usize) -> Self {
        Self {
            must_read_to_end,
            recent_cap: recent,
            ..Self::default()
        }
    }

    /// Marks the initial read of the offset-syncs topic as finished: translation starts.
    pub fn set_read_to_end(&mut self) {
        self.read_to_end = true;
    }

    /// Whether translation has started.
    pub fn is_read_to_end(&self) -> bool {
        self.read_to_end
    }

    /// Takes in the next sync read from the offset-syncs topic, without a claim (as Java MM2
    /// writes them).
    pub fn handle(&mut self, sync: &OffsetSync) {
        self.handle_claimed(&ClaimedSync::unclaimed(sync.clone()));
    }

    /// Takes in the next sync read from the offset-syncs topic, with strait's claim if any.
    pub fn handle_claimed(&mut self, claimed: &ClaimedSync) {
        let sync = &claimed.sync;
        self.next_id += 1;
        let entry = Entry {
            id: self.next_id,
            up: sync.upstream_offset,
            down: sync.downstream_offset,
        };
        let key = (sync.topic.clone(), sync.partition);
        let only_last = !self.read_to_end && self.must_read_to_end;
        if self.recent_cap > 0 {
            let recent = self.recent.entry(key.clone()).or_default();
            if only_last || recent.back().is_some_and(|r| entry.up < r.up) {
                recent.clear();
            }
            let next = Recent::after(recent.back(), entry.up, entry.down, claimed.exact_since);
            if recent.len() == self.recent_cap {
                recent.pop_front();
            }
            recent.push_back(next);
        }
        match self.syncs.get_mut(&key) {
            None => {
                self.syncs.insert(key, [entry; SYNCS_PER_PARTITION]);
            }
            Some(syncs) if only_last || entry.up < syncs[0].up => {
                *syncs = [entry; SYNCS_PER_PARTITION];
            }
            Some(syncs) => *syncs = updated(syncs, entry),
        }
    }

    /// Translates `upstream` (a group's committed offset on the source) for `topic`-`partition`
    /// (the source topic name).
    pub fn translate(&self, topic: &str, partition: i32, upstream: i64) -> Translation {
        if !self.read_to_end {
            return Translation::NotReady;
        }
        let key = (topic.to_owned(), partition);
        if let Some(recent) = self.recent.get(&key) {
            let i = recent.partition_point(|r| r.up <= upstream);
            if i > 0 {
                let sync = recent[i - 1];
                if recent.get(i).is_some_and(|next| next.bridges) {
                    return Translation::Exact {
                        downstream: sync.down + (upstream - sync.up),
                    };
                }
                return classify(sync.up, sync.down, upstream);
            }
        }
        let Some(syncs) = self.syncs.get(&key) else {
            return Translation::NoSync;
        };
        let sync = syncs
            .iter()
            .find(|s| s.up <= upstream)
            .unwrap_or(&syncs[SYNCS_PER_PARTITION - 1]);
        if sync.up > upstream {
            Translation::TooOld
        } else {
            classify(sync.up, sync.down, upstream)
        }
    }

    /// Failback: translates a position in the *remote* copy of `topic`-`partition` (written by
    /// the flow whose syncs this store holds) back to `topic` on the cluster it came from. The
    /// newest kept sync at or before `downstream` answers: exact when the position is that
    /// sync's record or the one after it, or inside a claimed span, else one past it (may
    /// re-read, never skips).
    pub fn translate_back(&self, topic: &str, partition: i32, downstream: i64) -> Translation {
        if !self.read_to_end {
            return Translation::NotReady;
        }
        let key = (topic.to_owned(), partition);
        if let Some(recent) = self.recent.get(&key) {
            let i = recent.partition_point(|r| r.down <= downstream);
            if i > 0 {
                let sync = recent[i - 1];
                if recent.get(i).is_some_and(|next| next.bridges) {
                    return Translation::Exact {
                        downstream: sync.up + (downstream - sync.down),
                    };
                }
                return classify(sync.down, sync.up, downstream);
            }
        }
        let Some(syncs) = self.syncs.get(&key) else {
            return Translation::NoSync;
        };
        match syncs.iter().find(|s| s.down <= downstream) {
            None => Translation::TooOld,
            Some(s) => classify(s.down, s.up, downstream),
        }
    }

    /// The distinct syncs kept for a partition, newest first, as (upstream, downstream).
    pub fn kept(&self, topic: &str, partition: i32) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = Vec::new();
        let mut last: Option<u64> = None;
        for e in self
            .syncs
            .get(&(topic.to_owned(), partition))
            .into_iter()
            .flatten()
        {
            if last != Some(e.id) {
                out.push((e.up, e.down));
                last = Some(e.id);
            }
        }
        out
    }
}

/// Maps `offset` through the sync `from → to` (with `from <= offset`): exact at the synced
/// record or the one right after it (the consumer read the synced record last), otherwise one
/// past the sync: may re-read, never skips.
fn classify(from: i64, to: i64, offset: i64) -> Translation {
    if offset == from {
        Translation::Exact { downstream: to }
    } else if offset == from + 1 {
        Translation::Exact { downstream: to + 1 }
    } else {
        Translation::Conservative {
            downstream: to + 1,
            sync_from: from,
        }
    }
}

/// Java `updateSyncArray` on a copy of `orig` with the new sync `s` (spec §6.1 "Update").
fn updated(orig: &Syncs, s: Entry) -> Syncs {
    let mut syncs = *orig;
    syncs[0] = s;
    let mut replacement = s;
    let mut ri = 0;
    for cur in 1..SYNCS_PER_PARTITION {
        let prev = cur - 1;
        loop {
            let old = orig[ri];
            let is_recent = invariant_b(&syncs[prev], &old, prev, cur);
            let sep_prev = invariant_c(&syncs[prev], &old, prev);
            let sep_next =
                cur + 1 >= SYNCS_PER_PARTITION || invariant_c(&old, &syncs[cur + 1], cur);
            let dup = ri + 1 < SYNCS_PER_PARTITION && orig[ri + 1].is(&old);
            let promote = is_recent && sep_prev && sep_next;
            if promote {
                replacement = old;
            }
            let skip = dup || !sep_prev;
            if promote || skip {
                ri += 1;
            }
            if !(ri < cur && skip) {
                break;
            }
        }
        if invariant_b(&syncs[prev], &syncs[cur], prev, cur) {
            break;
        }
        syncs[cur] = replacement;
    }
    syncs
}

/// Invariant B: `x` is recent enough relative to `y` at positions `i`, `j`.
fn invariant_b(x: &Entry, y: &Entry, i: usize, j: usize) -> bool {
    let bound =
        y.up.wrapping_add(1i64.wrapping_shl(j as u32))
            .wrapping_sub(1i64.wrapping_shl(i as u32));
    x.is(y) || bound < 0 || x.up <= bound
}

/// Invariant C: `x` is far enough after `y` at position `i`.
fn invariant_c(x: &Entry, y: &Entry, i: usize) -> bool {
    let bound =
        y.up.wrapping_add(1i64.wrapping_shl(i.saturating_sub(2) as u32));
    x.is(y) || (bound >= 0 && x.up >= bound)
}
