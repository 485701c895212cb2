//! `strait.cycle.detection = producer.id` for one flow (docs/active-active.md): who wrote each
//! source batch, from the source's `strait-writers.internal`, and the registration of this
//! flow's producers on the target before their first write.
//!
//! A mirror writer is registered with the path of its records: the ids of the clusters they
//! were on before, first-written first. A batch whose path holds the flow's target is not sent
//! back; any other mirrored batch is relayed by a producer registered with the path plus the
//! source. So records go round no cycle, however many clusters mirror one topic, as long as
//! one path of flows leads from any cluster to any other (a tree whose links may go both ways).
//!
//! Why a lookup is never wrong: a mirror registers a producer id (acknowledged by all replicas)
//! before it writes with it, so a read of the registry that starts after a batch was fetched
//! lists the batch's producer id if a mirror wrote it. A producer id that read does not list
//! is an application's, for good (Kafka never hands out a producer id twice).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use strait_kafka::{Cluster, PartitionFetch};

use super::error::EngineError;
use super::forward::Provenance;
use crate::internal::{ensure_writers_topic, read_writers, WriterRegistry};

/// Separates the cluster ids of a path (cluster ids are base64; aliases hold no commas).
const PATH_SEPARATOR: char = ',';

/// One flow's view of the source's writers and its registry on the target.
#[derive(Debug)]
pub(crate) struct Cycles {
    source: Cluster,
    known: Mutex<Known>,
    /// When the last read of the source's registry started.
    last_read: tokio::sync::Mutex<Instant>,
    registry: WriterRegistry,
}

/// The source's producer ids looked up so far, and what they mean for the flow.
#[derive(Debug)]
struct Known {
    /// The source cluster's id: where applications' records were first written.
    source_id: String,
    /// The target cluster's id: what was there before does not go back.
    target_id: String,
    /// Mirror writers, with their records' path (joined).
    mirrors: HashMap<i64, Arc<str>>,
    /// Producer ids no mirror registered.
    applications: HashSet<i64>,
}

impl Known {
    fn new(source_id: String, target_id: String) -> Self {
        Known {
            source_id,
            target_id,
            mirrors: HashMap::new(),
            applications: HashSet::new(),
        }
    }

    /// Takes a fresh read of the registry.
    fn set_mirrors(&mut self, registered: HashMap<i64, Vec<String>>) {
        let mut paths: HashMap<Vec<String>, Arc<str>> = HashMap::new();
        self.mirrors = registered
            .into_iter()
            .map(|(producer_id, path)| {
                let joined = paths
                    .entry(path)
                    .or_insert_with_key(|p| Arc::from(p.join(&PATH_SEPARATOR.to_string())))
                    .clone();
                (producer_id, joined)
            })
            .collect();
    }

    fn is_known(&self, producer_id: i64) -> bool {
        self.mirrors.contains_key(&producer_id) || self.applications.contains(&producer_id)
    }

    fn provenance(&self, producer_id: i64) -> Provenance {
        match self.mirrors.get(&producer_id) {
            Some(path) if path.split(PATH_SEPARATOR).any(|c| c == self.target_id) => {
                Provenance::Returning
            }
            Some(path) => Provenance::Relayed(path.clone()),
            None => Provenance::Application,
        }
    }

    /// The path a producer of this flow registers: the records' path, then the source.
    fn path_of(&self, relayed: Option<&Arc<str>>) -> Vec<String> {
        let before = relayed.into_iter().flat_map(|p| p.split(PATH_SEPARATOR));
        before
            .map(str::to_owned)
            .chain([self.source_id.clone()])
            .collect()
    }
}

impl Cycles {
    /// Creates the registry topic on both clusters (if missing) and reads the source's.
    pub(crate) async fn open(
        source: &Cluster,
        target: &Cluster,
        replication_factor: i16,
        label: &str,
    ) -> Result<Self, EngineError> {
        ensure_writers_topic(source, replication_factor).await?;
        ensure_writers_topic(target, replication_factor).await?;
        let (source_id, target_id) = (cluster_id(source).await?, cluster_id(target).await?);
        if source_id == target_id {
            return Err(EngineError::Unsupported(format!(
                "flow {label}: strait.cycle.detection = producer.id needs two clusters, but {} \
                 and {} are the same cluster ({source_id})",
                source.name(),
                target.name()
            )));
        }
        let started = Instant::now();
        let mut known = Known::new(source_id, target_id);
        known.set_mirrors(read_writers(source).await?);
        tracing::info!(
            flow = label,
            "cycle detection by producer id: {} mirror writers registered on {} (cluster id {}); records that were on {} (cluster id {}) are not sent back",
            known.mirrors.len(),
            source.name(),
            known.source_id,
            target.name(),
            known.target_id,
        );
        Ok(Cycles {
            source: source.clone(),
            known: Mutex::new(known),
            last_read: tokio::sync::Mutex::new(started),
            registry: WriterRegistry::open(target, label).await?,
        })
    }

    /// Makes the producer id of every data batch in `fetch` known, reading the source's
    /// registry again (unless a read started after `fetched_at`, when the batches were fetched)
    /// if one is not.
    pub(crate) async fn learn(
        &self,
        fetch: &PartitionFetch,
        fetched_at: Instant,
    ) -> Result<(), EngineError> {
        let unknown: Vec<i64> = {
            let known = self.known();
            producer_ids(fetch)
                .filter(|&p| !known.is_known(p))
                .collect()
        };
        if unknown.is_empty() {
            return Ok(());
        }
        let mut last_read = self.last_read.lock().await;
        if *last_read <= fetched_at {
            let started = Instant::now();
            let registered = read_writers(&self.source).await?;
            *last_read = started;
            self.known().set_mirrors(registered);
        }
        let mut known = self.known();
        for producer_id in unknown {
            if !known.mirrors.contains_key(&producer_id) {
                known.applications.insert(producer_id);
            }
        }
        Ok(())
    }

    /// Who wrote a batch with `producer_id` (learnt before).
    pub(crate) fn provenance(&self, producer_id: i64) -> Provenance {
        self.known().provenance(producer_id)
    }

    /// Registers on the target that `producer_id` writes records that were on the clusters
    /// `relayed` before the source (`None`: written to the source by an application).
    pub(crate) async fn register(
        &self,
        producer_id: i64,
        relayed: Option<&Arc<str>>,
    ) -> Result<(), EngineError> {
        let path = self.known().path_of(relayed);
        Ok(self.registry.register(producer_id, path).await?)
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().expect("cycles lock")
    }
}

/// The producer ids of a fetch's data batches (legacy and non-idempotent batches have none).
fn producer_ids(fetch: &PartitionFetch) -> impl Iterator<Item = i64> + '_ {
    fetch
        .batches()
        .filter_map(Result::ok)
        .filter(|b| b.magic() == 2 && !b.is_control())
        .map(|b| b.producer_id())
        .filter(|&p| p >= 0)
}

/// The cluster's id from metadata; a cluster that reports none is known by its alias.
async fn cluster_id(cluster: &Cluster) -> Result<String, EngineError> {
    let mut metadata = cluster.metadata();
    if metadata.cluster_id.is_none() {
        metadata = cluster.refresh_metadata().await?;
    }
    Ok(match &metadata.cluster_id {
        Some(id) if !id.is_empty() && !id.contains(PATH_SEPARATOR) => id.clone(),
        _ => {
            let name = cluster.name();
            tracing::warn!(
                cluster = name,
                "cluster {name} reports no cluster id: strait-writers.internal names it \
                 alias:{name}, so every strait mirroring it must call it {name}"
            );
            format!("alias:{name}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view of flow b->c: 1 wrote on b for an application of a; 2 relayed c's records
    /// through a; 3 relayed a third cluster's records.
    fn flow_b_to_c() -> Known {
        let mut known = Known::new("b".into(), "c".into());
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        known.set_mirrors(HashMap::from([
            (1, path(&["a"])),
            (2, path(&["c", "a"])),
            (3, path(&["d", "a"])),
        ]));
        known
    }

    #[test]
    fn a_batch_goes_nowhere_it_has_been() {
        let known = flow_b_to_c();
        assert_eq!(known.provenance(1), Provenance::Relayed("a".into()));
        assert_eq!(known.provenance(2), Provenance::Returning);
        assert_eq!(known.provenance(3), Provenance::Relayed("d,a".into()));
        assert_eq!(known.provenance(4), Provenance::Application);
    }

    #[test]
    fn a_producer_registers_the_records_path_then_the_source() {
        let known = flow_b_to_c();
        assert_eq!(known.path_of(None), vec!["b"]);
        let relayed: Arc<str> = "d,a".into();
        assert_eq!(known.path_of(Some(&relayed)), vec!["d", "a", "b"]);
    }

    #[test]
    fn equal_paths_share_one_string() {
        let mut known = Known::new("b".into(), "c".into());
        known.set_mirrors(HashMap::from([
            (1, vec!["a".into()]),
            (2, vec!["a".into()]),
        ]));
        let (Provenance::Relayed(one), Provenance::Relayed(two)) =
            (known.provenance(1), known.provenance(2))
        else {
            panic!()
        };
        assert!(Arc::ptr_eq(&one, &two));
    }
}
