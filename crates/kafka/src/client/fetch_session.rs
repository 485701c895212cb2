//! Incremental fetch sessions (KIP-227), as a pure core: which partitions a request must name,
//! which it must forget, and how an incremental answer (which leaves out every partition
//! without news) becomes one answer per partition asked.
//!
//! The session always holds exactly the partitions of its latest request: the broker fetches
//! every session partition from the offset it holds, so a partition that did not ask this
//! round is forgotten, and one that asks again from the same place is not named at all.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use super::fetch::{FetchPosition, PartitionFetch};

/// A broker's fetch session, as the client knows it; one per broker, used by one request at a
/// time. `Default` is "no session yet": the next request asks the broker to open one.
#[derive(Debug, Clone, Default)]
pub struct FetchSession {
    /// The broker's session id; 0 while there is none.
    id: i32,
    /// The epoch the next request sends (0: open a new session).
    epoch: i32,
    /// What the broker holds for each session partition, and what it last said of it, by
    /// topic and partition (looked up by `&str`: a request may name thousands).
    partitions: HashMap<String, HashMap<i32, SessionPartition>>,
}

/// One session partition: where the broker fetches it from, and its last reported offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionPartition {
    offset: i64,
    max_bytes: i32,
    last_fetched_epoch: Option<i32>,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

/// What one request of a session sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    /// The session id (0: none).
    pub(crate) id: i32,
    /// The epoch (0: open a session; then 1, 2, …).
    pub(crate) epoch: i32,
    /// Indexes of the positions the request names (all of them in a full request).
    pub(crate) named: Vec<usize>,
    /// Session partitions that did not ask this round.
    pub(crate) forget: Vec<(String, i32)>,
}

impl SessionRequest {
    /// Whether this request opens a session (and so names every partition).
    pub(crate) fn is_full(&self) -> bool {
        self.epoch == 0
    }
}

impl FetchSession {
    /// Whether the broker holds a session for this client (it may answer with none).
    pub fn is_open(&self) -> bool {
        self.id != 0
    }

    /// The broker's session id, 0 if none.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Forgets the session: the next request opens a new one (after an error, or an answer
    /// that may have been lost, nothing the client knows of the session can be trusted).
    pub fn reset(&mut self) {
        *self = FetchSession::default();
    }

    /// The request that closes the open session (it names nothing), and forgets the session;
    /// `None` when none is open.
    pub(crate) fn close(&mut self) -> Option<SessionRequest> {
        let id = self.id;
        self.reset();
        (id != 0).then(|| SessionRequest {
            id,
            epoch: FINAL_EPOCH,
            named: Vec::new(),
            forget: Vec::new(),
        })
    }

    /// The request for `positions`: every position when no session is open, otherwise those
    /// new to the session or asking from another place, and the session partitions not asked.
    pub(crate) fn plan(&self, positions: &[FetchPosition]) -> SessionRequest {
        if !self.is_open() {
            return SessionRequest {
                id: 0,
                epoch: 0,
                named: (0..positions.len()).collect(),
                forget: Vec::new(),
            };
        }
        let named = positions
            .iter()
            .enumerate()
            .filter(|(_, p)| self.held(p).is_none_or(|held| !held.fetches_like(p)))
            .map(|(i, _)| i)
            .collect();
        let asked: HashSet<(&str, i32)> = positions
            .iter()
            .map(|p| (p.topic.as_str(), p.partition))
            .collect();
        let mut forget: Vec<(String, i32)> = self
            .partitions
            .iter()
            .flat_map(|(topic, partitions)| {
                partitions
                    .keys()
                    .filter(|&&partition| !asked.contains(&(topic.as_str(), partition)))
                    .map(|&partition| (topic.clone(), partition))
            })
            .collect();
        forget.sort();
        SessionRequest {
            id: self.id,
            epoch: self.epoch,
            named,
            forget,
        }
    }

    /// Takes the broker's answer to `request` (session id `answered_id`, the partitions it
    /// named) and returns one answer per position: a partition the answer left out had no
    /// news, so it gets no records and the offsets the broker last reported for it. A position
    /// the session knows nothing of and the answer left out stays out.
    pub(crate) fn complete(
        &mut self,
        request: &SessionRequest,
        positions: &[FetchPosition],
        answered_id: i32,
        answered: Vec<PartitionFetch>,
    ) -> Vec<PartitionFetch> {
        if request.is_full() {
            self.partitions.clear();
            if answered_id == 0 {
                self.reset();
                return answered;
            }
            self.id = answered_id;
        } else {
            for (topic, partition) in &request.forget {
                if let Some(partitions) = self.partitions.get_mut(topic) {
                    partitions.remove(partition);
                }
            }
        }
        self.epoch = next_epoch(self.epoch);
        let mut by_key: HashMap<(String, i32), PartitionFetch> = answered
            .into_iter()
            .map(|f| ((f.topic.clone(), f.partition), f))
            .collect();
        let mut out = Vec::with_capacity(positions.len());
        for p in positions {
            let answered = if by_key.is_empty() {
                None
            } else {
                by_key.remove(&(p.topic.clone(), p.partition))
            };
            let fetched = match (answered, self.held(p)) {
                (Some(f), _) => f,
                (None, Some(held)) => held.no_news(p),
                (None, None) => continue,
            };
            let now = SessionPartition::from_answer(p, &fetched);
            match self.partitions.get_mut(p.topic.as_str()) {
                Some(partitions) => {
                    partitions.insert(p.partition, now);
                }
                None => {
                    self.partitions
                        .insert(p.topic.clone(), HashMap::from([(p.partition, now)]));
                }
            }
            out.push(fetched);
        }
        out
    }
}

impl FetchSession {
    /// What the session holds for `position`'s partition.
    fn held(&self, position: &FetchPosition) -> Option<&SessionPartition> {
        self.partitions
            .get(position.topic.as_str())?
            .get(&position.partition)
    }
}

/// The epoch that closes a session (KIP-227's FINAL_EPOCH).
const FINAL_EPOCH: i32 = -1;

/// Session epochs run 1, 2, … and wrap back to 1 (0 opens a session, -1 closes one).
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

impl SessionPartition {
    fn from_answer(position: &FetchPosition, fetched: &PartitionFetch) -> Self {
        SessionPartition {
            offset: position.offset,
            max_bytes: position.max_bytes,
            last_fetched_epoch: position.last_fetched_epoch,
            high_watermark: fetched.high_watermark,
            last_stable_offset: fetched.last_stable_offset,
            log_start_offset: fetched.log_start_offset,
        }
    }

    /// Whether the broker, fetching this session partition, fetches what `position` asks for.
    fn fetches_like(&self, position: &FetchPosition) -> bool {
        self.offset == position.offset
            && self.max_bytes == position.max_bytes
            && self.last_fetched_epoch == position.last_fetched_epoch
    }

    /// The answer to `position` when the broker had nothing new for it.
    fn no_news(&self, position: &FetchPosition) -> PartitionFetch {
        PartitionFetch {
            topic: position.topic.clone(),
            partition: position.partition,
            fetch_offset: position.offset,
            error: None,
            high_watermark: self.high_watermark,
            last_stable_offset: self.last_stable_offset,
            log_start_offset: self.log_start_offset,
            aborted: Vec::new(),
            diverging: None,
            records: Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(partition: i32, offset: i64) -> FetchPosition {
        FetchPosition::new("t", partition, offset, 1024)
    }

    fn answer(
        position: &FetchPosition,
        high_watermark: i64,
        records: &'static [u8],
    ) -> PartitionFetch {
        PartitionFetch {
            topic: position.topic.clone(),
            partition: position.partition,
            fetch_offset: position.offset,
            error: None,
            high_watermark,
            last_stable_offset: high_watermark,
            log_start_offset: 0,
            aborted: Vec::new(),
            diverging: None,
            records: Bytes::from_static(records),
        }
    }

    /// A session opened on partitions 0..3, each answered with high watermark 10.
    fn opened() -> FetchSession {
        let mut session = FetchSession::default();
        let positions = [at(0, 5), at(1, 5), at(2, 5)];
        let request = session.plan(&positions);
        assert!(request.is_full());
        assert_eq!(request.named, vec![0, 1, 2]);
        let answers = positions.iter().map(|p| answer(p, 10, b"")).collect();
        let out = session.complete(&request, &positions, 77, answers);
        assert_eq!(out.len(), 3);
        session
    }

    #[test]
    fn an_incremental_request_names_only_what_changed_and_forgets_what_did_not_ask() {
        let session = opened();
        assert!(session.is_open());
        // 0 asks from the same place, 1 from further on, 2 did not ask, 3 is new.
        let request = session.plan(&[at(0, 5), at(1, 9), at(3, 0)]);
        assert_eq!((request.id, request.epoch), (77, 1));
        assert_eq!(request.named, vec![1, 2], "1 moved, 3 is new; 0 not named");
        assert_eq!(request.forget, vec![("t".to_owned(), 2)]);
        let mut smaller = at(0, 5);
        smaller.max_bytes = 100;
        assert_eq!(session.plan(&[smaller]).named, vec![0], "max bytes changed");
    }

    #[test]
    fn partitions_left_out_of_the_answer_get_their_last_offsets_and_no_records() {
        let mut session = opened();
        let positions = [at(0, 5), at(1, 9), at(3, 0)];
        let request = session.plan(&positions);
        // The broker answers only 3 (new) and 1 (with records).
        let answers = vec![
            answer(&positions[2], 4, b""),
            answer(&positions[1], 12, b"x"),
        ];
        let out = session.complete(&request, &positions, 77, answers);
        let by_partition: HashMap<i32, &PartitionFetch> =
            out.iter().map(|f| (f.partition, f)).collect();
        assert_eq!(out.len(), 3, "one answer per position");
        assert_eq!(by_partition[&0].high_watermark, 10, "0: last reported");
        assert!(by_partition[&0].records.is_empty());
        assert_eq!(by_partition[&0].fetch_offset, 5);
        assert_eq!(by_partition[&1].records.as_ref(), b"x");
        assert_eq!(by_partition[&3].high_watermark, 4);
        // The session now holds 0, 1 and 3; the next request from the same places names none.
        let next = session.plan(&positions);
        assert_eq!((next.epoch, next.named.len(), next.forget.len()), (2, 0, 0));
        // And what it last said of 1 is what a later silent answer repeats.
        let out = session.complete(&next, &positions, 77, Vec::new());
        assert_eq!(
            out.iter()
                .find(|f| f.partition == 1)
                .unwrap()
                .high_watermark,
            12
        );
    }

    #[test]
    fn a_broker_without_sessions_gets_full_requests() {
        let mut session = FetchSession::default();
        let positions = [at(0, 5)];
        let request = session.plan(&positions);
        let out = session.complete(&request, &positions, 0, vec![answer(&positions[0], 3, b"")]);
        assert_eq!(out.len(), 1);
        assert!(!session.is_open());
        assert!(session.plan(&positions).is_full(), "asks to open one again");
    }

    #[test]
    fn a_position_unknown_to_the_session_and_left_out_stays_out() {
        let mut session = opened();
        let positions = [at(0, 5), at(8, 0)];
        let request = session.plan(&positions);
        let out = session.complete(&request, &positions, 77, Vec::new());
        assert_eq!(out.len(), 1, "8 unanswered: the caller sees it missing");
        assert_eq!(out[0].partition, 0);
    }

    #[test]
    fn reset_opens_a_new_session_and_epochs_wrap_to_one() {
        let mut session = opened();
        session.reset();
        assert!(session.plan(&[at(0, 5)]).is_full());
        assert_eq!(next_epoch(i32::MAX), 1);
        assert_eq!(next_epoch(1), 2);
    }
}
