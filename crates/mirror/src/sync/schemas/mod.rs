//! Schema Registry sync (docs/schema-registry.md): a flow's source registry's subjects,
//! versions and compatibility levels copied to its target registry, one pass at a time.
//!
//! Per subject, versions in order: a version whose schema the target's subject already holds is
//! in sync (the target's own lookup decides what "same schema" means); a missing one is
//! registered, with its source id and version when the target is in IMPORT mode; a version
//! number the target uses for another schema is a conflict, reported and never overwritten,
//! and the subject's later versions wait. Nothing is ever deleted on the target. Schema ids or
//! version numbers the target gave differently are reported: records carry the source's ids,
//! which then resolve to other schemas (or none) on the target's registry.

mod plan;
mod registry;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Mutex;

pub use registry::{Found, Reference, Registry, RegistryError, SchemaVersion};

use crate::config::SchemaSyncSettings;
use plan::{decide, references_first, Decision};

/// A version the target holds a different schema under, or refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct SchemaConflict {
    /// The subject.
    pub subject: String,
    /// The source's version.
    pub version: i32,
    /// Why it is not on the target.
    pub reason: String,
}

impl fmt::Display for SchemaConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "subject `{}` version {}: {}",
            self.subject, self.version, self.reason
        )
    }
}

/// A version on both registries under another id or version number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Renumbered {
    /// The source's version.
    pub version: i32,
    /// The source's schema id.
    pub source_id: i64,
    /// Where the target holds it.
    pub target: Found,
}

/// What one pass found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaReport {
    /// Subjects the pass looked at.
    pub subjects: usize,
    /// Source versions the target already held.
    pub in_sync: usize,
    /// Versions registered on the target by this pass.
    pub registered: usize,
    /// Compatibility levels set on the target by this pass.
    pub configs_set: usize,
    /// Whether registrations kept the source's ids and versions (target in IMPORT mode).
    pub ids_kept: bool,
    /// Versions not copied: conflicts and refusals.
    pub conflicts: Vec<SchemaConflict>,
    /// Versions the target holds under another id or version number, by subject.
    pub renumbered: BTreeMap<String, Vec<Renumbered>>,
    /// Versions only the target's subjects hold (say, registered there after a failover).
    pub target_only: usize,
    /// Requests that failed; retried at the next pass.
    pub failures: Vec<String>,
}

impl SchemaReport {
    /// How many versions sit under another id or version number on the target.
    pub fn renumbered_count(&self) -> usize {
        self.renumbered.values().map(Vec::len).sum()
    }
}

/// The schema sync of one flow: its registries and what earlier passes reported (so a
/// standing conflict is logged once, not every pass).
#[derive(Debug)]
pub struct SchemaSync {
    settings: SchemaSyncSettings,
    source: Registry,
    target: Registry,
    label: String,
    logged: Mutex<BTreeSet<String>>,
}

impl SchemaSync {
    /// The sync of flow `label` with `settings`.
    pub fn new(label: &str, settings: &SchemaSyncSettings) -> Result<SchemaSync, RegistryError> {
        Ok(SchemaSync {
            source: Registry::new(&settings.source)?,
            target: Registry::new(&settings.target)?,
            settings: settings.clone(),
            label: label.to_owned(),
            logged: Mutex::new(BTreeSet::new()),
        })
    }

    /// `registry of cluster A (url)` of the source and of the target.
    pub fn registries(&self) -> (String, String) {
        (self.source.describe(), self.target.describe())
    }

    /// One pass; logs what changed since the last one.
    pub async fn pass(&self) -> SchemaReport {
        let mut report = SchemaReport::default();
        if let Err(e) = self.run(&mut report).await {
            report.failures.push(e.to_string());
        }
        self.log(&report);
        report
    }

    async fn run(&self, report: &mut SchemaReport) -> Result<(), RegistryError> {
        report.ids_kept = self.target.mode().await?.as_deref() == Some("IMPORT");
        if self.settings.global_compatibility {
            self.sync_compatibility(None, report).await?;
        }
        let mut subjects = BTreeMap::new();
        for subject in self.source.subjects().await? {
            if !self.settings.selects(&subject) {
                continue;
            }
            let mut versions = Vec::new();
            for number in self.source.versions(&subject).await?.unwrap_or_default() {
                versions.extend(self.source.version(&subject, number).await?);
            }
            subjects.insert(subject, versions);
        }
        report.subjects = subjects.len();
        for subject in references_first(&subjects) {
            if let Err(e) = self
                .sync_subject(&subject, &subjects[&subject], report)
                .await
            {
                report.failures.push(e.to_string());
            }
        }
        Ok(())
    }

    async fn sync_subject(
        &self,
        subject: &str,
        versions: &[SchemaVersion],
        report: &mut SchemaReport,
    ) -> Result<(), RegistryError> {
        let target_versions = self.target.versions(subject).await?.unwrap_or_default();
        // The level first, so versions are checked on the target as on the source; a subject
        // new on the target gets it once it exists (some registries keep levels per subject).
        if !target_versions.is_empty() {
            self.sync_compatibility(Some(subject), report).await?;
        }
        let mut held = BTreeSet::new();
        for version in versions {
            let found = self.target.lookup(subject, version).await?;
            let found = match decide(version.version, found, &target_versions) {
                Decision::InSync(found) => {
                    report.in_sync += 1;
                    found
                }
                Decision::VersionTaken => {
                    report.conflicts.push(SchemaConflict {
                        subject: subject.to_owned(),
                        version: version.version,
                        reason: format!(
                            "the target's version {} is a different schema; not overwritten, \
                             later versions wait",
                            version.version
                        ),
                    });
                    break;
                }
                Decision::Register => match self.register(subject, version, report).await? {
                    Some(found) => found,
                    None => break,
                },
            };
            held.insert(found.version);
            if found.id != version.id || found.version != version.version {
                report
                    .renumbered
                    .entry(subject.to_owned())
                    .or_default()
                    .push(Renumbered {
                        version: version.version,
                        source_id: version.id,
                        target: found,
                    });
            }
        }
        let latest = self.target.versions(subject).await?.unwrap_or_default();
        report.target_only += latest.iter().filter(|v| !held.contains(v)).count();
        if target_versions.is_empty() && !latest.is_empty() {
            self.sync_compatibility(Some(subject), report).await?;
        }
        Ok(())
    }

    /// Registers one version; `None` when the target refused it (a conflict).
    async fn register(
        &self,
        subject: &str,
        version: &SchemaVersion,
        report: &mut SchemaReport,
    ) -> Result<Option<Found>, RegistryError> {
        let refused = |reason: String, report: &mut SchemaReport| {
            report.conflicts.push(SchemaConflict {
                subject: subject.to_owned(),
                version: version.version,
                reason,
            });
        };
        match self
            .target
            .register(subject, version, report.ids_kept)
            .await
        {
            Ok(_) => {}
            Err(e) if e.status() == Some(409) => {
                refused(
                    format!("the target refused it as incompatible: {e}"),
                    report,
                );
                return Ok(None);
            }
            Err(e) if e.status() == Some(422) => {
                refused(format!("the target refused it as invalid: {e}"), report);
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        report.registered += 1;
        tracing::info!(flow = %self.label, subject, version = version.version, source_id = version.id, "schema registered on {}", self.target.describe());
        let found = self.target.lookup(subject, version).await?;
        found.map(Some).ok_or_else(|| RegistryError::Answer {
            registry: self.target.describe(),
            what: format!("POST /subjects/{subject} after registering"),
            reason: format!(
                "version {} of the source is not found right after registering it",
                version.version
            ),
        })
    }

    /// Copies `subject`'s compatibility level (the registry-wide one for `None`) when the
    /// source sets one and the target's differs.
    async fn sync_compatibility(
        &self,
        subject: Option<&str>,
        report: &mut SchemaReport,
    ) -> Result<(), RegistryError> {
        let Some(level) = self.source.compatibility(subject).await? else {
            return Ok(());
        };
        if self.target.compatibility(subject).await?.as_deref() == Some(level.as_str()) {
            return Ok(());
        }
        self.target.set_compatibility(subject, &level).await?;
        report.configs_set += 1;
        let scope = subject.map_or("registry-wide".to_owned(), |s| format!("subject `{s}`"));
        tracing::info!(flow = %self.label, "schema compatibility of {scope} set to {level} on {}", self.target.describe());
        Ok(())
    }

    /// Logs conflicts and renumberings once, when they appear, and when they clear.
    fn log(&self, report: &SchemaReport) {
        let mut now = BTreeSet::new();
        for conflict in &report.conflicts {
            now.insert(format!("conflict: {conflict}"));
        }
        for (subject, renumbered) in &report.renumbered {
            for r in renumbered {
                now.insert(format!(
                    "subject `{subject}` version {} (id {}) is version {} with id {} on {}{}",
                    r.version,
                    r.source_id,
                    r.target.version,
                    r.target.id,
                    self.target.describe(),
                    if r.target.id != r.source_id {
                        ": records carrying the source's id do not resolve to it there"
                    } else {
                        ""
                    }
                ));
            }
        }
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        for line in now.difference(&logged) {
            tracing::warn!(flow = %self.label, "schema sync: {line}");
        }
        for failure in &report.failures {
            tracing::warn!(flow = %self.label, "schema sync pass incomplete, retrying at the next interval: {failure}");
        }
        if !report.failures.is_empty() {
            // An incomplete pass does not show what cleared.
            logged.extend(now);
            return;
        }
        for line in logged.difference(&now) {
            tracing::info!(flow = %self.label, "schema sync: cleared: {line}");
        }
        *logged = now;
    }
}
