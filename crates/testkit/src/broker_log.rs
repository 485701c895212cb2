//! A test broker's log file: every run of the broker appends to it, after a marker line.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::Stdio;

use crate::TestkitError;

/// The log file of one broker (or Kafka node).
#[derive(Debug)]
pub(crate) struct BrokerLog {
    path: PathBuf,
}

impl BrokerLog {
    /// The log at `path` (created on first write).
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Marks a new run with `msg`; returns where the run's output starts and the stdout and
    /// stderr handles that append to the log.
    pub(crate) fn start_run(&self, msg: &str) -> Result<(u64, Stdio, Stdio), TestkitError> {
        self.mark(msg);
        let offset = fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| TestkitError::io(format!("opening {}", self.path.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| TestkitError::io("duplicating the log file handle", e))?;
        Ok((offset, Stdio::from(out), Stdio::from(err)))
    }

    /// The log from byte `offset` on (lossy UTF-8); empty if unreadable.
    pub(crate) fn read_from(&self, offset: u64) -> String {
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(&self.path) {
            let _ = file
                .seek(SeekFrom::Start(offset))
                .and_then(|_| file.read_to_end(&mut bytes));
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Appends a testkit marker line.
    pub(crate) fn mark(&self, msg: &str) {
        let line = format!("===== strait-testkit: {msg} =====\n");
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            tracing::warn!("writing {}: {e}", self.path.display());
        }
    }
}
