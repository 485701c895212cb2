//! CPU time and memory of a process, from /proc (Linux): this process (`None`) or a child.

use anyhow::Context;

/// `sysconf(_SC_CLK_TCK)` on Linux.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

fn proc_file(pid: Option<u32>, name: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{name}"),
        None => format!("/proc/self/{name}"),
    }
}

/// utime + stime of the process, in seconds.
pub(super) fn cpu_seconds(pid: Option<u32>) -> anyhow::Result<f64> {
    let path = proc_file(pid, "stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .with_context(|| format!("malformed {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(n - 3)
            .with_context(|| format!("{path} lacks field {n}"))?
            .parse::<u64>()? as f64)
    };
    Ok((field(14)? + field(15)?) / CLOCK_TICKS_PER_SECOND)
}

/// A `kB` value of the process's status file, e.g. VmHWM (peak RSS) or VmRSS.
pub(super) fn status_kb(pid: Option<u32>, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(proc_file(pid, "status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets this process's VmHWM to its current RSS (Linux: write 5 to /proc/self/clear_refs).
pub(super) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        assert!(cpu_seconds(None).unwrap() >= 0.0);
        assert!(status_kb(None, "VmRSS").unwrap() > 0);
        let me = std::process::id();
        assert!(status_kb(Some(me), "VmHWM").unwrap() > 0);
        assert!(cpu_seconds(Some(u32::MAX)).is_err());
    }
}
