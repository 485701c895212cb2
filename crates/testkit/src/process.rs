//! One running broker process, with a watchdog that kills it if the test process dies abruptly.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Blocks on its stdin (a pipe only the test process holds); EOF means the test process died
/// without running `Drop` (SIGKILL, abort, a runner's timeout), so it SIGKILLs the broker.
const WATCHDOG_SCRIPT: &str = r#"trap '' INT HUP TERM; read _unused; kill -KILL "$1" 2>/dev/null"#;

/// A spawned broker; dropping it SIGKILLs and reaps the broker.
pub(crate) struct BrokerProcess {
    child: Child,
    watchdog: Option<Child>,
}

impl BrokerProcess {
    /// Spawns `cmd` and its watchdog (a watchdog that fails to start is only logged).
    pub(crate) fn spawn(cmd: &mut Command) -> std::io::Result<BrokerProcess> {
        let child = cmd.spawn()?;
        let watchdog = Command::new("sh")
            .args(["-c", WATCHDOG_SCRIPT, "strait-testkit-watchdog"])
            .arg(child.id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .inspect_err(|e| tracing::warn!("could not start broker watchdog: {e}"))
            .ok();
        Ok(BrokerProcess { child, watchdog })
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends signal `name` (`STOP`, `CONT`, ...) to the broker.
    pub(crate) fn signal(&mut self, name: &str) {
        if self.exit_status().is_some() {
            return;
        }
        // Not reaped yet, so the pid is still ours.
        let pid = self.child.id().to_string();
        let sent = Command::new("sh")
            .args([
                "-c",
                r#"kill -"$1" "$2""#,
                "strait-testkit-kill",
                name,
                &pid,
            ])
            .stdin(Stdio::null())
            .status();
        if !matches!(sent, Ok(s) if s.success()) {
            tracing::warn!(?sent, "sending SIG{name} to broker {pid} failed");
        }
    }

    /// The exit status if the broker has exited.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM, waits up to `grace` for the exit, then SIGKILLs; returns how it ended.
    pub(crate) fn terminate(mut self, grace: Duration) -> String {
        self.stop_watchdog();
        // A frozen broker handles SIGTERM only once it runs again.
        self.signal("CONT");
        if self.exit_status().is_none() {
            // Not reaped yet, so the pid is still ours. std can only SIGKILL: use sh's kill.
            let pid = self.child.id().to_string();
            let sent = Command::new("sh")
                .args(["-c", r#"kill -TERM "$1""#, "strait-testkit-kill", &pid])
                .stdin(Stdio::null())
                .status();
            if !matches!(sent, Ok(s) if s.success()) {
                tracing::warn!(?sent, "sending SIGTERM to broker {pid} failed; killing it");
            } else {
                let deadline = Instant::now() + grace;
                while self.exit_status().is_none() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(20));
                }
            }
        }
        match self.exit_status() {
            Some(status) => format!("exited: {status}"),
            None => {
                self.kill();
                format!(
                    "did not exit within {} ms of SIGTERM; killed",
                    grace.as_millis()
                )
            }
        }
    }

    fn kill(&mut self) {
        self.stop_watchdog();
        if self.exit_status().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn stop_watchdog(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> &str {
    let text = text.trim_end_matches('\n');
    match text
        .char_indices()
        .rev()
        .filter(|&(_, c)| c == '\n')
        .nth(lines.saturating_sub(1))
    {
        Some((i, _)) if lines > 0 => &text[i + 1..],
        _ if lines == 0 => "",
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a\nb\nc", 5), "a\nb\nc");
        assert_eq!(tail("a\nb", 0), "");
        assert_eq!(tail("", 3), "");
    }
}
