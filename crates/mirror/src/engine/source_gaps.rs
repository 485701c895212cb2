//! What happened when the source no longer has the offset a partition resumes at: records
//! deleted before they were mirrored (retention, DeleteRecords), a log truncated below what was
//! mirrored (unclean leader election), or a topic deleted and re-created under the same name
//! (a new topic id). Each is reported, counted and continued from; none stalls the partition.

use uuid::Uuid;

/// A gap between where strait resumes and what the source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceGap {
    /// The topic now has another id: its records are new; mirror it from its start.
    Recreated { old: Uuid, new: Uuid, start: i64 },
    /// Offsets `position..start` were deleted on the source before strait mirrored them.
    Deleted { position: i64, start: i64 },
    /// The log ends at `end`, below `position`: records strait mirrored are gone from the source.
    Truncated { position: i64, end: i64 },
    /// The leader's log leads up to `position` under another history: epoch `epoch` ends at
    /// `from` there, so the records mirrored from `from` are gone and new ones stand in their
    /// offsets (an unclean leader election, detected by the leader epoch, KIP-320).
    Diverged {
        position: i64,
        from: i64,
        epoch: i32,
    },
}

impl SourceGap {
    /// Where replication continues.
    pub(crate) fn resume_at(&self) -> i64 {
        match *self {
            SourceGap::Recreated { start, .. } | SourceGap::Deleted { start, .. } => start,
            SourceGap::Truncated { end, .. } => end,
            SourceGap::Diverged { from, .. } => from,
        }
    }

    /// The error-counter code (`strait_errors_total{op="source"}`).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            SourceGap::Recreated { .. } => "TopicRecreated",
            SourceGap::Deleted { .. } => "RecordsDeleted",
            SourceGap::Truncated { .. } | SourceGap::Diverged { .. } => "LogTruncated",
        }
    }

    /// Records deleted on the source before strait mirrored them.
    pub(crate) fn records_lost(&self) -> u64 {
        match *self {
            SourceGap::Deleted { position, start } => (start - position) as u64,
            _ => 0,
        }
    }

    /// The status line and log message for partition `partition` of `topic`.
    pub(crate) fn describe(&self, topic: &str, partition: i32) -> String {
        match *self {
            SourceGap::Recreated { old, new, start } => format!(
                "source topic {topic} was deleted and re-created (topic id {old} -> {new}): \
                 partition {partition} is mirrored again from offset {start} of the new topic; \
                 the remote topic keeps the old topic's records before them"
            ),
            SourceGap::Deleted { position, start } => format!(
                "offsets {position}..{} of {topic}-{partition} were deleted on the source \
                 (retention or DeleteRecords) before strait mirrored them: {} records never \
                 mirrored; continuing at {start}",
                start - 1,
                start - position
            ),
            SourceGap::Truncated { position, end } => format!(
                "{topic}-{partition} ends at offset {end} on the source, below the mirrored \
                 position {position}: the source lost {} records strait had mirrored (unclean \
                 leader election?); continuing at {end}, the remote topic keeps the lost records",
                position - end
            ),
            SourceGap::Diverged {
                position,
                from,
                epoch,
            } => format!(
                "{topic}-{partition} diverged on the source at offset {from} (its leader's \
                 epoch {epoch} ends there; an unclean leader election?): the {} records strait \
                 mirrored from {from} to {} are gone from the source and new records stand at \
                 those offsets; continuing at {from}, the remote topic keeps the lost records \
                 before the new ones",
                position - from,
                position - 1
            ),
        }
    }
}

/// Classifies resuming at `position` against the source's log `start..end` and topic id
/// (`stored`: the id the position counts in, `current`: the topic's id now; `None` when a
/// broker or an older progress record does not say). `None`: no gap, `position` is readable.
pub(crate) fn classify(
    position: i64,
    start: i64,
    end: i64,
    stored: Option<Uuid>,
    current: Option<Uuid>,
) -> Option<SourceGap> {
    if let (Some(old), Some(new)) = (stored, current) {
        if old != new {
            return Some(SourceGap::Recreated { old, new, start });
        }
    }
    if position < start {
        Some(SourceGap::Deleted { position, start })
    } else if position > end {
        Some(SourceGap::Truncated { position, end })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diverged_log_resumes_where_it_diverged_and_says_what_is_gone() {
        let gap = SourceGap::Diverged {
            position: 150,
            from: 100,
            epoch: 0,
        };
        assert_eq!(
            (gap.resume_at(), gap.code(), gap.records_lost()),
            (100, "LogTruncated", 0)
        );
        let text = gap.describe("orders", 2);
        assert!(
            text.contains("orders-2 diverged on the source at offset 100")
                && text.contains("the 50 records strait mirrored from 100 to 149"),
            "{text}"
        );
    }

    const A: Uuid = Uuid::from_u128(1);
    const B: Uuid = Uuid::from_u128(2);

    #[test]
    fn a_new_topic_id_wins_over_offsets_that_happen_to_fit() {
        let gap = classify(50, 0, 100, Some(A), Some(B)).expect("re-created");
        assert_eq!(gap.resume_at(), 0, "the new topic from its start");
        assert_eq!(gap.code(), "TopicRecreated");
    }

    #[test]
    fn deleted_records_resume_at_the_log_start_and_say_how_many_were_lost() {
        let gap = classify(10, 25, 100, Some(A), Some(A)).expect("deleted");
        assert_eq!(
            gap,
            SourceGap::Deleted {
                position: 10,
                start: 25
            }
        );
        assert_eq!(gap.resume_at(), 25);
        assert!(gap
            .describe("orders", 3)
            .contains("offsets 10..24 of orders-3"));
        assert!(gap
            .describe("orders", 3)
            .contains("15 records never mirrored"));
        assert_eq!(gap.records_lost(), 15);
    }

    #[test]
    fn a_log_shorter_than_the_mirrored_position_resumes_at_its_end() {
        let gap = classify(120, 0, 100, None, Some(A)).expect("truncated");
        assert_eq!(gap.resume_at(), 100, "new records get offsets from 100 on");
        assert!(gap.describe("orders", 0).contains("lost 20 records"));
    }

    #[test]
    fn readable_positions_and_unknown_ids_are_no_gap() {
        assert_eq!(
            classify(100, 0, 100, Some(A), Some(A)),
            None,
            "at the log end"
        );
        assert_eq!(classify(0, 0, 100, None, None), None);
        assert_eq!(
            classify(5, 0, 100, Some(A), None),
            None,
            "a broker without ids"
        );
    }
}
