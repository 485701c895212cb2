//! Per-item results of admin requests that retry only the items that failed retriably.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::{admin_retriable, retry_marker};
use crate::error::{Error, Result};

/// Per-item results of an admin request that is retried for the items that failed retriably.
pub(super) struct Outcomes {
    /// Result of each item answered so far, and whether it is final.
    results: Mutex<BTreeMap<String, (Result<()>, bool)>>,
}

impl Outcomes {
    pub(super) fn new() -> Self {
        Outcomes {
            results: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether `name` still needs (another) attempt.
    pub(super) fn pending(&self, name: &str) -> bool {
        !matches!(
            self.results.lock().expect("outcomes lock").get(name),
            Some((_, true))
        )
    }

    /// Records the answer for `name`; an error worth retrying leaves it pending.
    pub(super) fn record(&self, name: String, result: Result<()>) -> Option<Error> {
        let retry = match &result {
            Err(e) if admin_retriable(e) => Some(retry_marker(e)),
            _ => None,
        };
        let settled = retry.is_none();
        self.results
            .lock()
            .expect("outcomes lock")
            .insert(name, (result, settled));
        retry
    }

    /// The results in `names` order; `Err(last)` if some item never got an answer.
    pub(super) fn finish<'a>(
        self,
        cluster: &str,
        what: &str,
        names: impl Iterator<Item = &'a str>,
        last: Result<()>,
    ) -> Result<Vec<(String, Result<()>)>> {
        let mut results = self.results.into_inner().expect("outcomes lock");
        let names: Vec<&str> = names.collect();
        if let Err(e) = last {
            if names.iter().any(|n| !results.contains_key(*n)) {
                return Err(e);
            }
        }
        let mut out = Vec::with_capacity(names.len());
        let mut seen = BTreeSet::new();
        for name in names {
            // A name listed twice gets the one answer the broker gave for it, once.
            if !seen.insert(name) {
                continue;
            }
            let result = match results.remove(name) {
                Some((result, _)) => result,
                None => Err(Error::Metadata {
                    cluster: cluster.to_owned(),
                    what: format!("{what}: no result for {name}"),
                }),
            };
            out.push((name.to_owned(), result));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::error::ResponseError;

    fn broker_error(code: ResponseError) -> Error {
        Error::Broker {
            cluster: "a".into(),
            op: "create topic t".into(),
            code,
            message: None,
            denied: None,
        }
    }

    #[test]
    fn outcomes_keep_input_order_and_retry_only_retriable_items() {
        let outcomes = Outcomes::new();
        assert!(outcomes
            .record("b".into(), Err(broker_error(ResponseError::NotController)))
            .is_some());
        assert!(outcomes.record("a".into(), Ok(())).is_none());
        let exists = Err(broker_error(ResponseError::TopicAlreadyExists));
        assert!(outcomes.record("c".into(), exists).is_none());
        assert!(outcomes.pending("b") && !outcomes.pending("a") && !outcomes.pending("c"));
        let results = outcomes
            .finish(
                "a",
                "create topics",
                ["c", "a", "b", "a"].into_iter(),
                Ok(()),
            )
            .unwrap();
        let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["c", "a", "b"]);
        assert_eq!(
            results[0].1.as_ref().unwrap_err().code(),
            Some(ResponseError::TopicAlreadyExists)
        );
        assert!(results[1].1.is_ok());
        assert_eq!(
            results[2].1.as_ref().unwrap_err().code(),
            Some(ResponseError::NotController)
        );
    }

    #[test]
    fn outcomes_without_any_answer_return_the_request_error() {
        let outcomes = Outcomes::new();
        let last = Err(Error::Config("unreachable".into()));
        let result = outcomes.finish("a", "delete topics", ["t"].into_iter(), last);
        assert!(matches!(result, Err(Error::Config(_))));
    }
}
