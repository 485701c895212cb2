//! What a sync does with one source version, given what the target holds (pure), and the order
//! subjects are synced in (referenced subjects first).

use std::collections::{BTreeMap, BTreeSet};

use super::registry::{Found, SchemaVersion};

/// What to do with one version of the source's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The target's subject holds the same schema already.
    InSync(Found),
    /// The target lacks it: register it.
    Register,
    /// The target's subject holds another schema under this version number: never overwritten,
    /// and the subject's later versions wait (they would build on a different history).
    VersionTaken,
}

/// Decides for version `source_version` of a subject, from where the target's lookup found the
/// same schema (`found`) and the target subject's versions.
pub(crate) fn decide(
    source_version: i32,
    found: Option<Found>,
    target_versions: &[i32],
) -> Decision {
    match found {
        Some(found) => Decision::InSync(found),
        None if target_versions.contains(&source_version) => Decision::VersionTaken,
        None => Decision::Register,
    }
}

/// Subjects in the order they can be registered: every subject after the subjects its versions
/// reference (alphabetical otherwise; a reference cycle, which registries refuse, is broken
/// anywhere).
pub(crate) fn references_first(subjects: &BTreeMap<String, Vec<SchemaVersion>>) -> Vec<String> {
    fn visit(
        subject: &str,
        subjects: &BTreeMap<String, Vec<SchemaVersion>>,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) {
        if !seen.insert(subject.to_owned()) {
            return;
        }
        let Some(versions) = subjects.get(subject) else {
            return;
        };
        for reference in versions.iter().flat_map(|v| &v.references) {
            visit(&reference.subject, subjects, seen, order);
        }
        order.push(subject.to_owned());
    }
    let (mut seen, mut order) = (BTreeSet::new(), Vec::new());
    for subject in subjects.keys() {
        visit(subject, subjects, &mut seen, &mut order);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::super::registry::Reference;
    use super::*;

    #[test]
    fn a_found_schema_is_in_sync_whatever_its_number() {
        let found = Found { version: 1, id: 9 };
        assert_eq!(decide(2, Some(found), &[1]), Decision::InSync(found));
        assert_eq!(decide(1, None, &[]), Decision::Register);
        assert_eq!(decide(3, None, &[1, 2]), Decision::Register);
        assert_eq!(decide(2, None, &[1, 2]), Decision::VersionTaken);
    }

    fn version(subject: &str, refs: &[&str]) -> SchemaVersion {
        SchemaVersion {
            subject: subject.into(),
            version: 1,
            id: 1,
            schema: String::new(),
            schema_type: Some("PROTOBUF".into()),
            references: refs
                .iter()
                .map(|r| Reference {
                    name: format!("{r}.proto"),
                    subject: (*r).into(),
                    version: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn referenced_subjects_come_first() {
        let subjects: BTreeMap<String, Vec<SchemaVersion>> = [
            ("a-value", vec![version("a-value", &["z-common"])]),
            ("b-value", vec![version("b-value", &["a-value", "missing"])]),
            ("z-common", vec![version("z-common", &[])]),
            ("loop-1", vec![version("loop-1", &["loop-2"])]),
            ("loop-2", vec![version("loop-2", &["loop-1"])]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(
            references_first(&subjects),
            ["z-common", "a-value", "b-value", "loop-2", "loop-1"]
        );
    }
}
