//! The whole file: cluster aliases and the flows MM2 would run (§1.2).

use super::error::{ConfigError, KeyProblem};
use super::flow::{build_flow, FlowConfig};
use super::keys::is_known_top_level;
use super::properties::{Properties, Property};
use super::values::{java_parse_boolean, java_trim, parse_bool, parse_list, Val};

/// The typed configuration of a dedicated-mode MM2 file.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// Cluster aliases from `clusters`, in file order, without duplicates.
    pub clusters: Vec<String>,
    /// Every ordered pair `s->t` (s ≠ t) with replication or heartbeats enabled, in `clusters` order.
    pub flows: Vec<FlowConfig>,
    /// The file's entries, for settings not typed here (config providers, REST listeners...).
    pub properties: Properties,
}

impl MirrorConfig {
    /// Derives clusters and flows from parsed properties, validating everything flows use.
    pub fn from_properties(properties: Properties) -> Result<Self, ConfigError> {
        let clusters = clusters(&properties)?;
        validate_security_protocols(&properties)?;
        check_keys(&properties, &clusters)?;
        let global_heartbeats = properties.get("emit.heartbeats.enabled");
        if let Some(p) = global_heartbeats {
            typed_bool(p)?;
        }
        let mut flows = Vec::new();
        for source in &clusters {
            for target in clusters.iter().filter(|t| *t != source) {
                let prefix = format!("{source}->{target}.");
                let enabled = properties.get(&format!("{prefix}enabled"));
                let heartbeats = match properties.get(&format!("{prefix}emit.heartbeats.enabled")) {
                    Some(p) => {
                        typed_bool(p)?;
                        java_parse_boolean(Some(&p.value))
                    }
                    None => global_heartbeats.is_none_or(|p| java_parse_boolean(Some(&p.value))),
                };
                let pair_enabled = enabled.is_some_and(|p| {
                    warn_untrimmed(p);
                    java_parse_boolean(Some(&p.value))
                });
                if pair_enabled || heartbeats {
                    flows.push(build_flow(&properties, source, target)?);
                }
            }
        }
        if flows.is_empty() {
            return Err(ConfigError::NoFlows);
        }
        Ok(Self {
            clusters,
            flows,
            properties,
        })
    }

    /// The flow `source->target`, if it exists.
    pub fn flow(&self, source: &str, target: &str) -> Option<&FlowConfig> {
        self.flows
            .iter()
            .find(|f| f.source == source && f.target == target)
    }
}

fn key_error(p: &Property, problem: KeyProblem) -> ConfigError {
    Val::from_property(p).error(&p.key, problem)
}

/// A `ConfigDef` boolean, validated where MM2 itself only uses `Boolean.parseBoolean`.
fn typed_bool(p: &Property) -> Result<bool, ConfigError> {
    parse_bool(&p.value).ok_or_else(|| {
        key_error(
            p,
            KeyProblem::InvalidBoolean {
                value: p.value.clone(),
            },
        )
    })
}

/// `Boolean.parseBoolean` ignores a value with surrounding whitespace; say so.
fn warn_untrimmed(p: &Property) {
    if !java_parse_boolean(Some(&p.value)) && parse_bool(&p.value) == Some(true) {
        tracing::warn!(
            "line {}: `{}` is `{:?}`, which MM2 reads as false when deciding which flows run \
             (Boolean.parseBoolean does not trim); remove the surrounding whitespace",
            p.line,
            p.key,
            p.value
        );
    }
}

/// `clusters`: required, de-duplicated, no empty aliases.
fn clusters(props: &Properties) -> Result<Vec<String>, ConfigError> {
    let p = props.get("clusters").ok_or(ConfigError::MissingClusters)?;
    let mut clusters: Vec<String> = Vec::new();
    for alias in parse_list(&p.value) {
        if alias.is_empty() {
            return Err(key_error(p, KeyProblem::EmptyClusterAlias));
        }
        if !clusters.contains(&alias) {
            clusters.push(alias);
        }
    }
    Ok(clusters)
}

/// `security.protocol`, wherever it is set, must name a Kafka security protocol.
fn validate_security_protocols(props: &Properties) -> Result<(), ConfigError> {
    const PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
    for p in props.iter() {
        if p.key != "security.protocol" && !p.key.ends_with(".security.protocol") {
            continue;
        }
        let value = java_trim(&p.value);
        if !PROTOCOLS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(value))
        {
            return Err(key_error(
                p,
                KeyProblem::InvalidChoice {
                    value: p.value.clone(),
                    expected: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (case-insensitive)",
                },
            ));
        }
    }
    Ok(())
}

/// Flags flow keys naming unknown clusters; logs keys MM2 would ignore.
fn check_keys(props: &Properties, clusters: &[String]) -> Result<(), ConfigError> {
    for p in props.iter() {
        if is_known_top_level(&p.key)
            || clusters.iter().any(|c| p.key.starts_with(&format!("{c}.")))
        {
            continue;
        }
        let Some((source, rest)) = p.key.split_once("->") else {
            if p.key.starts_with("strait.") {
                tracing::warn!("line {}: ignoring unknown strait key `{}`", p.line, p.key);
            } else {
                tracing::debug!("line {}: ignoring unknown key `{}`", p.line, p.key);
            }
            continue;
        };
        let known_target = clusters.iter().find(|t| rest.starts_with(&format!("{t}.")));
        let known_source = clusters.iter().any(|c| c == source);
        if let (true, Some(target)) = (known_source, known_target) {
            if source == target {
                tracing::warn!(
                    "line {}: ignoring `{}`: a cluster cannot replicate to itself",
                    p.line,
                    p.key
                );
            }
            continue;
        }
        let (target, setting) = rest.split_once('.').unwrap_or((rest, ""));
        let alias = if known_source { target } else { source };
        if setting == "enabled" && parse_bool(&p.value) == Some(true) {
            return Err(key_error(
                p,
                KeyProblem::UnknownClusterAlias {
                    alias: alias.to_owned(),
                },
            ));
        }
        tracing::warn!(
            "line {}: ignoring `{}`: cluster alias `{alias}` is not listed in `clusters`",
            p.line,
            p.key
        );
    }
    Ok(())
}
