//! Configuration errors: every message names the key and its line when they are known.

use std::path::PathBuf;

use crate::filter::FilterError;
use crate::policy::PolicyError;

/// An `mm2.properties` file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid Java properties syntax.
    #[error("line {line}: {message}")]
    Syntax {
        /// Line (1-based) where the logical line starts.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The required `clusters` key is absent.
    #[error("missing required key `clusters`")]
    MissingClusters,
    /// A key's value (or the key itself) is invalid.
    #[error("{}key `{key}`: {problem}", line_prefix(*.line))]
    Key {
        /// The key as written in the file.
        key: String,
        /// Its line (1-based), `None` for keys not written in the file.
        line: Option<usize>,
        /// What is wrong with it.
        problem: KeyProblem,
    },
    /// No ordered cluster pair has replication or heartbeats enabled (MM2's message).
    #[error("No source->target replication flows.")]
    NoFlows,
}

fn line_prefix(line: Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

/// What is wrong with a key ([`ConfigError::Key`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// Not `true` or `false` (case-insensitive, surrounding whitespace ignored).
    #[error("invalid boolean `{value}`: expected true or false")]
    InvalidBoolean {
        /// The value as written.
        value: String,
    },
    /// Not a number of the expected type.
    #[error("invalid {kind} `{value}`")]
    InvalidNumber {
        /// The value as written.
        value: String,
        /// "int", "long" or "short".
        kind: &'static str,
    },
    /// A number outside the accepted range.
    #[error("value `{value}` {requirement}")]
    OutOfRange {
        /// The value as written.
        value: String,
        /// What is required, e.g. "must be positive".
        requirement: &'static str,
    },
    /// Not one of the accepted values.
    #[error("invalid value `{value}`: expected {expected}")]
    InvalidChoice {
        /// The value as written.
        value: String,
        /// The accepted values.
        expected: &'static str,
    },
    /// A regex in the list does not compile.
    #[error(transparent)]
    Regex(#[from] FilterError),
    /// The replication policy class is unknown.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A flow key names a cluster alias not listed in `clusters`.
    #[error("unknown cluster alias `{alias}`: it is not listed in `clusters`")]
    UnknownClusterAlias {
        /// The alias.
        alias: String,
    },
    /// `clusters` lists an empty alias.
    #[error("empty cluster alias")]
    EmptyClusterAlias,
    /// Any other invalid value.
    #[error("{reason}")]
    Invalid {
        /// What is wrong, e.g. "must not be empty".
        reason: String,
    },
    /// A flow uses a cluster whose bootstrap servers are not configured.
    #[error(
        "flow `{flow}` uses cluster `{cluster}`, which has no bootstrap servers: add \
         `{cluster}.bootstrap.servers`"
    )]
    MissingBootstrapServers {
        /// The flow, `source->target`.
        flow: String,
        /// The cluster alias.
        cluster: String,
    },
}
