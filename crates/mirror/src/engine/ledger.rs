//! One source partition's replication bookkeeping, without I/O: where to fetch next, the
//! batches written to the target and not yet settled (in source order), and what each
//! settled batch yields: the progress to store, the offset syncs to write, the counters.
//!
//! The pipeline (`pipeline.rs`) moves the bytes; this decides. Acknowledgements may arrive in
//! any order, but entries settle strictly in order, so progress never runs ahead of a batch
//! still unacknowledged.

use std::collections::VecDeque;

use uuid::Uuid;

/// Batches written but not yet settled, per partition: bounds memory while the target is
/// slow. Kafka remembers the last 5 batches per producer and partition to recognise a re-sent
/// batch as a duplicate, so more than 5 in flight could turn a retry into a sequence error.
pub(crate) const MAX_IN_FLIGHT: usize = 5;

/// A batch written to the target, as the ledger remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// Source offset of its first record.
    pub(crate) first_offset: i64,
    /// Source offset of its last record (or of the last offset it covers).
    pub(crate) last_offset: i64,
    /// The written batch's last offset delta: its last record lands at base + this.
    pub(crate) last_delta: i32,
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    pub(crate) max_timestamp: i64,
    /// Whether it was decoded and re-encoded rather than forwarded untouched.
    pub(crate) reencoded: bool,
    /// The leader epoch the source wrote it under, if known.
    pub(crate) leader_epoch: Option<i32>,
}

/// Identifies a ledger entry between writing and acknowledging it.
pub(crate) type EntryId = u64;

#[derive(Debug)]
enum Entry {
    Written {
        batch: Written,
        /// The target's base offset, once acknowledged.
        base_offset: Option<i64>,
    },
    /// Source offsets up to `last_offset` that produce nothing (markers, aborted data).
    Skipped {
        last_offset: i64,
        leader_epoch: Option<i32>,
    },
}

/// What one settled entry yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settled {
    /// The last source offset now replicated: the progress to store.
    pub(crate) last_offset: i64,
    /// Offset syncs: both ends of a written batch, so a group committed anywhere in it or
    /// right after its end (where a caught-up consumer commits) translates exactly.
    pub(crate) syncs: Vec<SyncPoint>,
    /// The written batch, for the counters; `None` for skipped offsets.
    pub(crate) written: Option<Written>,
    /// Where the record after `last_offset` goes on the target (the end of the last settled
    /// write), when known: stored with the progress so a restart can recognise what a crashed
    /// run wrote after it.
    pub(crate) downstream_next: Option<i64>,
    /// The source leader epoch of `last_offset`, if known: stored with the progress so a
    /// restart can ask the source whether its log still leads there (KIP-320).
    pub(crate) leader_epoch: Option<i32>,
}

/// One offset sync to write, and what strait knows about the span before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyncPoint {
    pub(crate) upstream: i64,
    pub(crate) downstream: i64,
    /// The upstream offset of the previous sync of this run, when every offset since it maps
    /// one to one: equal spans, written by this run (so no duplicates in between).
    pub(crate) exact_since: Option<i64>,
}

/// Where a ledger that failed resumes: [`PartitionLedger::failed_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rewound {
    pub(crate) position: i64,
    /// Where the record at `position` would go on the target, if known.
    pub(crate) target_next: Option<i64>,
    pub(crate) topic_id: Option<Uuid>,
    /// The source leader epoch of the record before `position`, if known.
    pub(crate) leader_epoch: Option<i32>,
}

/// The bookkeeping of one source partition.
#[derive(Debug)]
pub(crate) struct PartitionLedger {
    /// The next source offset to fetch and plan.
    next: i64,
    /// The offset after the last settled entry: where replication resumes after a failure.
    replicated: i64,
    window: VecDeque<Entry>,
    /// The id of the window's front entry.
    front_id: EntryId,
    /// The last sync settled since starting or rewinding, `(upstream, downstream)`.
    last_sync: Option<(i64, i64)>,
    /// The target offset after the last settled write, when known.
    downstream_next: Option<i64>,
    /// The id of the source topic incarnation replicated, when known.
    topic_id: Option<Uuid>,
    /// The source leader epoch of the record before `next`, when known.
    last_epoch: Option<i32>,
    /// The source leader epoch of the record before `replicated`, when known.
    replicated_epoch: Option<i32>,
}

impl PartitionLedger {
    /// A ledger starting at source offset `position` (stored progress + 1, or the reset offset).
    pub(crate) fn new(position: i64) -> Self {
        PartitionLedger {
            next: position,
            replicated: position,
            window: VecDeque::new(),
            front_id: 0,
            last_sync: None,
            downstream_next: None,
            topic_id: None,
            last_epoch: None,
            replicated_epoch: None,
        }
    }

    /// The same ledger, knowing the source leader epoch of the record before its position.
    pub(crate) fn with_leader_epoch(mut self, epoch: Option<i32>) -> Self {
        self.last_epoch = epoch;
        self.replicated_epoch = epoch;
        self
    }

    /// The source leader epoch of the record before [`position`](Self::position), when known:
    /// what the next fetch asks the leader to confirm.
    pub(crate) fn last_epoch(&self) -> Option<i32> {
        self.last_epoch
    }

    /// The same ledger, replicating incarnation `topic_id` of the source topic.
    pub(crate) fn with_topic_id(mut self, topic_id: Option<Uuid>) -> Self {
        self.topic_id = topic_id;
        self
    }

    /// The id of the source topic the positions count in, when known.
    pub(crate) fn topic_id(&self) -> Option<Uuid> {
        self.topic_id
    }

    /// The same ledger, knowing that the record at `position` goes to target offset
    /// `downstream_next` (stored with the progress, or found on the target).
    pub(crate) fn with_downstream(mut self, downstream_next: Option<i64>) -> Self {
        self.downstream_next = downstream_next;
        self
    }

    /// The next source offset to fetch.
    pub(crate) fn position(&self) -> i64 {
        self.next
    }

    /// The offset after everything settled: nothing before it is waiting.
    #[cfg(test)]
    pub(crate) fn replicated(&self) -> i64 {
        self.replicated
    }

    /// Entries written or skipped and not yet settled.
    pub(crate) fn in_flight(&self) -> usize {
        self.window.len()
    }

    /// Whether another batch may be written now.
    pub(crate) fn has_room(&self) -> bool {
        self.window.len() < MAX_IN_FLIGHT
    }

    /// Notes a batch written to the target; the next fetch starts after it.
    pub(crate) fn written(&mut self, batch: Written) -> EntryId {
        debug_assert!(batch.first_offset >= self.next && batch.last_offset >= batch.first_offset);
        self.next = batch.last_offset + 1;
        self.last_epoch = batch.leader_epoch;
        self.push(Entry::Written {
            batch,
            base_offset: None,
        })
    }

    /// Notes source offsets up to `last_offset` (written under `leader_epoch`) that produce
    /// nothing.
    pub(crate) fn skipped(&mut self, last_offset: i64, leader_epoch: Option<i32>) -> EntryId {
        debug_assert!(last_offset >= self.next - 1);
        self.next = last_offset + 1;
        self.last_epoch = leader_epoch;
        self.push(Entry::Skipped {
            last_offset,
            leader_epoch,
        })
    }

    fn push(&mut self, entry: Entry) -> EntryId {
        self.window.push_back(entry);
        self.front_id + self.window.len() as u64 - 1
    }

    /// Notes the target's acknowledgement of written entry `id` at `base_offset` (in any order).
    pub(crate) fn acknowledged(&mut self, id: EntryId, base_offset: i64) {
        let index = id
            .checked_sub(self.front_id)
            .and_then(|i| self.window.get_mut(i as usize));
        match index {
            Some(Entry::Written { base_offset: b, .. }) => *b = Some(base_offset),
            other => debug_assert!(false, "no written entry {id}: {other:?}"),
        }
    }

    /// Takes the entries that are settled, in order: the front ones that are skipped or
    /// acknowledged, up to the first that is still waiting.
    pub(crate) fn settle(&mut self) -> Vec<Settled> {
        let mut settled = Vec::new();
        while let Some(front) = self.window.front() {
            let done = match front {
                Entry::Skipped {
                    last_offset,
                    leader_epoch,
                } => Settled {
                    last_offset: *last_offset,
                    syncs: Vec::new(),
                    written: None,
                    downstream_next: self.downstream_next,
                    leader_epoch: *leader_epoch,
                },
                Entry::Written {
                    base_offset: None, ..
                } => break,
                Entry::Written {
                    batch,
                    base_offset: Some(base),
                } => {
                    let mut ends = vec![(batch.first_offset, *base)];
                    if batch.last_offset > batch.first_offset {
                        ends.push((batch.last_offset, base + i64::from(batch.last_delta)));
                    }
                    let syncs = ends
                        .into_iter()
                        .map(|(upstream, downstream)| {
                            let exact_since = self
                                .last_sync
                                .filter(|&(u, d)| upstream > u && upstream - u == downstream - d)
                                .map(|(u, _)| u);
                            self.last_sync = Some((upstream, downstream));
                            SyncPoint {
                                upstream,
                                downstream,
                                exact_since,
                            }
                        })
                        .collect();
                    let next = base + i64::from(batch.last_delta) + 1;
                    self.downstream_next = Some(next);
                    Settled {
                        last_offset: batch.last_offset,
                        syncs,
                        written: Some(batch.clone()),
                        downstream_next: Some(next),
                        leader_epoch: batch.leader_epoch,
                    }
                }
            };
            self.replicated = done.last_offset + 1;
            self.replicated_epoch = done.leader_epoch;
            self.window.pop_front();
            self.front_id += 1;
            settled.push(done);
        }
        settled
    }

    /// A write failed (its producer's state on the target is unknown now): forgets the
    /// unsettled entries and returns where to resume, right after the last settled one.
    pub(crate) fn failed(&mut self) -> i64 {
        self.front_id += self.window.len() as u64;
        self.window.clear();
        self.next = self.replicated;
        self.last_epoch = self.replicated_epoch;
        self.last_sync = None;
        self.next
    }

    /// [`failed`](Self::failed), returning where to resume and where the record there would
    /// go on the target (the end of the last settled write), if known.
    pub(crate) fn failed_at(mut self) -> Rewound {
        Rewound {
            position: self.failed(),
            target_next: self.downstream_next,
            topic_id: self.topic_id,
            leader_epoch: self.last_epoch,
        }
    }

    /// Moves to `position` of source topic incarnation `topic_id` (a gap in the source: see
    /// `source_gaps.rs`). Everything in flight must be settled first.
    pub(crate) fn reposition(&mut self, position: i64, topic_id: Option<Uuid>) {
        self.topic_id = topic_id;
        debug_assert!(self.window.is_empty(), "reposition with entries in flight");
        self.next = position;
        self.replicated = position;
        self.last_epoch = None;
        self.replicated_epoch = None;
        self.last_sync = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn batch(first: i64, last: i64) -> Written {
        Written {
            first_offset: first,
            last_offset: last,
            last_delta: (last - first) as i32,
            records: (last - first + 1) as u64,
            bytes: 100,
            max_timestamp: 7,
            reencoded: false,
            leader_epoch: None,
        }
    }

    /// A settled entry's syncs as `(upstream, downstream, exact_since)`.
    fn points(s: &Settled) -> Vec<(i64, i64, Option<i64>)> {
        s.syncs
            .iter()
            .map(|p| (p.upstream, p.downstream, p.exact_since))
            .collect()
    }

    #[test]
    fn acks_in_order_settle_one_by_one() {
        let mut l = PartitionLedger::new(10);
        let a = l.written(batch(10, 14));
        let b = l.written(batch(15, 19));
        assert_eq!((l.position(), l.replicated(), l.in_flight()), (20, 10, 2));
        assert!(l.settle().is_empty(), "nothing acknowledged yet");
        l.acknowledged(a, 100);
        let s = l.settle();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].last_offset, 14);
        assert_eq!(
            points(&s[0]),
            [(10, 100, None), (14, 104, Some(10))],
            "nothing claimed before the first sync since starting"
        );
        assert_eq!(s[0].written, Some(batch(10, 14)));
        assert_eq!(l.replicated(), 15);
        l.acknowledged(b, 105);
        assert_eq!(
            points(&l.settle()[0]),
            [(15, 105, Some(14)), (19, 109, Some(15))]
        );
        assert_eq!((l.replicated(), l.in_flight()), (20, 0));
    }

    #[test]
    fn acks_out_of_order_settle_in_order() {
        let mut l = PartitionLedger::new(0);
        let ids: Vec<_> = (0..3)
            .map(|i| l.written(batch(i * 10, i * 10 + 9)))
            .collect();
        l.acknowledged(ids[2], 20);
        l.acknowledged(ids[1], 10);
        assert!(l.settle().is_empty(), "the first is still waiting");
        assert_eq!(l.replicated(), 0);
        l.acknowledged(ids[0], 0);
        let offsets: Vec<i64> = l.settle().iter().map(|s| s.last_offset).collect();
        assert_eq!(offsets, [9, 19, 29]);
    }

    #[test]
    fn settled_entries_say_where_the_next_record_goes_on_the_target() {
        let mut l = PartitionLedger::new(10);
        l.skipped(11, None);
        assert_eq!(l.settle()[0].downstream_next, None, "nothing known yet");
        let mut l = PartitionLedger::new(10).with_downstream(Some(500));
        l.skipped(11, None);
        let a = l.written(batch(12, 15));
        l.skipped(16, None);
        l.acknowledged(a, 700);
        let next: Vec<_> = l.settle().iter().map(|s| s.downstream_next).collect();
        assert_eq!(next, [Some(500), Some(704), Some(704)]);
        l.failed();
        let b = l.written(batch(17, 17));
        l.acknowledged(b, 710);
        assert_eq!(l.settle()[0].downstream_next, Some(711));
    }

    #[test]
    fn single_record_batches_have_one_sync() {
        let mut l = PartitionLedger::new(5);
        let id = l.written(batch(5, 5));
        l.acknowledged(id, 42);
        assert_eq!(points(&l.settle()[0]), [(5, 42, None)]);
        let id = l.written(batch(6, 6));
        l.acknowledged(id, 43);
        assert_eq!(points(&l.settle()[0]), [(6, 43, Some(5))]);
    }

    #[test]
    fn spans_with_offsets_dropped_or_added_are_not_claimed() {
        let mut l = PartitionLedger::new(0);
        let a = l.written(batch(0, 4));
        l.skipped(5, None);
        let b = l.written(batch(6, 9));
        let c = l.written(batch(10, 11));
        l.acknowledged(a, 0);
        l.acknowledged(b, 5);
        // Something else wrote to the target partition between b and c.
        l.acknowledged(c, 10);
        let s = l.settle();
        assert_eq!(points(&s[0]), [(0, 0, None), (4, 4, Some(0))]);
        assert_eq!(
            points(&s[2]),
            [(6, 5, None), (9, 8, Some(6))],
            "offset 5 dropped"
        );
        assert_eq!(
            points(&s[3]),
            [(10, 10, None), (11, 11, Some(10))],
            "one record more on the target"
        );
    }

    #[test]
    fn skips_settle_at_once_unless_behind_a_waiting_write() {
        let mut l = PartitionLedger::new(0);
        l.skipped(3, None);
        let s = l.settle();
        assert_eq!((s[0].last_offset, s[0].written.clone()), (3, None));
        assert!(s[0].syncs.is_empty());
        let id = l.written(batch(4, 8));
        l.skipped(9, None);
        assert!(
            l.settle().is_empty(),
            "the marker waits for the batch before it"
        );
        assert_eq!(l.position(), 10);
        l.acknowledged(id, 0);
        let offsets: Vec<i64> = l.settle().iter().map(|s| s.last_offset).collect();
        assert_eq!(offsets, [8, 9]);
        assert_eq!(l.replicated(), 10);
    }

    #[test]
    fn room_for_five() {
        let mut l = PartitionLedger::new(0);
        for i in 0..MAX_IN_FLIGHT as i64 {
            assert!(l.has_room());
            l.written(batch(i, i));
        }
        assert!(!l.has_room());
        l.acknowledged(0, 0);
        l.settle();
        assert!(l.has_room());
    }

    #[test]
    fn a_failure_mid_window_resumes_after_the_last_settled() {
        let mut l = PartitionLedger::new(0);
        let a = l.written(batch(0, 9));
        let _b = l.written(batch(10, 19));
        let c = l.written(batch(20, 29));
        l.acknowledged(a, 0);
        l.acknowledged(c, 20);
        assert_eq!(l.settle().len(), 1);
        assert_eq!(l.failed(), 10, "resume at the first unsettled batch");
        assert_eq!((l.position(), l.in_flight()), (10, 0));
        // The retry: the same batches again, under fresh ids.
        let b2 = l.written(batch(10, 19));
        let c2 = l.written(batch(20, 29));
        assert!(b2 > c, "ids are never reused");
        l.acknowledged(c2, 110);
        l.acknowledged(b2, 100);
        let s = l.settle();
        assert_eq!(
            points(&s[0]),
            [(10, 100, None), (19, 109, Some(10))],
            "after a rewind the span before is not claimed (the lost write may have landed)"
        );
        assert_eq!(points(&s[1]), [(20, 110, Some(19)), (29, 119, Some(20))]);
        assert_eq!(l.replicated(), 30);
    }

    #[test]
    fn the_epoch_before_the_position_follows_writes_skips_rewinds_and_repositions() {
        let epoch = |first, last, e| Written {
            leader_epoch: Some(e),
            ..batch(first, last)
        };
        let mut l = PartitionLedger::new(10).with_leader_epoch(Some(3));
        assert_eq!(l.last_epoch(), Some(3), "from the stored progress");
        let a = l.written(epoch(10, 14, 3));
        l.skipped(15, Some(4));
        let _b = l.written(epoch(16, 19, 4));
        assert_eq!(l.last_epoch(), Some(4), "the last planned batch's");
        l.acknowledged(a, 0);
        let settled = l.settle();
        let epochs: Vec<_> = settled.iter().map(|s| s.leader_epoch).collect();
        assert_eq!(epochs, [Some(3), Some(4)], "each settled entry its own");
        assert_eq!(l.failed(), 16);
        assert_eq!(
            l.last_epoch(),
            Some(4),
            "a rewind goes back to the last settled entry's epoch"
        );
        l.reposition(100, None);
        assert_eq!(l.last_epoch(), None, "nothing known after a gap");
    }

    #[test]
    fn restart_and_reposition() {
        let mut l = PartitionLedger::new(1234);
        assert_eq!((l.position(), l.replicated()), (1234, 1234));
        l.reposition(0, None);
        assert_eq!((l.position(), l.replicated()), (0, 0));
        assert_eq!(l.failed(), 0, "nothing in flight: resume where it is");
        let id = l.written(batch(0, 3));
        l.acknowledged(id, 7);
        l.settle();
        l.reposition(50, None);
        let id = l.written(batch(50, 51));
        l.acknowledged(id, 11);
        assert_eq!(
            points(&l.settle()[0]),
            [(50, 11, None), (51, 12, Some(50))],
            "nothing claimed across a reposition"
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write(i64),
        Skip(i64),
    }

    proptest! {
        /// Any plan of writes and skips, acknowledged in any order: every entry settles once,
        /// in source order, progress only grows, and each sync maps the batch's ends to where
        /// the target put them.
        #[test]
        fn settles_everything_once_in_order(
            ops in prop::collection::vec(
                prop_oneof![(1i64..20).prop_map(Op::Write), (1i64..5).prop_map(Op::Skip)],
                1..40,
            ),
            order in prop::collection::vec(any::<prop::sample::Index>(), 40),
            gap in 0i64..3,
        ) {
            let mut l = PartitionLedger::new(100);
            let mut pending: Vec<(EntryId, Written)> = Vec::new();
            let mut settled = Vec::new();
            let mut next_base = 0;
            let mut bases = std::collections::BTreeMap::new();
            let mut order = order.into_iter();
            let mut ack_one = |l: &mut PartitionLedger, pending: &mut Vec<(EntryId, Written)>, settled: &mut Vec<Settled>| {
                let i = order.next().map_or(0, |x| x.index(pending.len()));
                let (id, w) = pending.remove(i);
                let base = *bases.entry(w.first_offset).or_insert_with(|| {
                    let b = next_base;
                    next_base += w.records as i64;
                    b
                });
                l.acknowledged(id, base);
                settled.extend(l.settle());
            };
            for op in &ops {
                while !l.has_room() {
                    ack_one(&mut l, &mut pending, &mut settled);
                }
                let first = l.position() + gap;
                match *op {
                    Op::Write(n) => {
                        let w = batch(first, first + n - 1);
                        let id = l.written(w.clone());
                        pending.push((id, w));
                    }
                    Op::Skip(n) => {
                        l.skipped(first + n - 1, None);
                    }
                }
                settled.extend(l.settle());
            }
            while !pending.is_empty() {
                ack_one(&mut l, &mut pending, &mut settled);
            }
            settled.extend(l.settle());
            prop_assert_eq!(settled.len(), ops.len());
            prop_assert_eq!(l.in_flight(), 0);
            prop_assert_eq!(l.replicated(), l.position());
            let lasts: Vec<i64> = settled.iter().map(|s| s.last_offset).collect();
            prop_assert!(lasts.windows(2).all(|w| w[0] < w[1]), "{:?}", lasts);
            let mut previous: Option<(i64, i64)> = None;
            for s in &settled {
                if let Some(w) = &s.written {
                    let base = bases[&w.first_offset];
                    let p = points(s);
                    prop_assert_eq!((p[0].0, p[0].1), (w.first_offset, base));
                    if w.last_offset > w.first_offset {
                        prop_assert_eq!((p[1].0, p[1].1), (w.last_offset, base + i64::from(w.last_delta)));
                    }
                    for (up, down, claim) in p {
                        let spans_equal = previous.is_some_and(|(u, d)| up - u == down - d);
                        prop_assert_eq!(claim, previous.filter(|_| spans_equal).map(|(u, _)| u));
                        previous = Some((up, down));
                    }
                }
            }
        }
    }
}
