//! The Python side of the interop tests: the virtual environment their scripts run in,
//! built once per test process by `setup-venv.sh` from the pinned `requirements.txt`.
//! Shared by tests/interop.rs and tests/interop_completion.rs (`#[path]` modules).
//!
//! Without python3 (or when the venv cannot be built) a test skips with a message on
//! stderr, except in CI (`CI=true`), where it fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// The venv's interpreter, made once per test process; `None` when the tests must skip.
pub fn venv_python() -> Option<&'static Path> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match VENV.get_or_init(prepare_venv) {
        Ok(python) => Some(python),
        Err(why) => unavailable(why),
    }
}

fn prepare_venv() -> Result<PathBuf, String> {
    find_python3()?;
    let venv = Path::new(ROOT).join("target/interop-venv");
    let script = Path::new(INTEROP).join("setup-venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&venv)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(venv.join("bin/python"))
}

fn find_python3() -> Result<(), String> {
    match Command::new("python3").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "python3 is not usable (`python3 --version` exited with {}: {})",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("python3 not found".into()),
        Err(e) => Err(format!("python3 cannot be started: {e}")),
    }
}

/// Fails in CI, where the interop tests must run; elsewhere says loudly that they were skipped.
/// The message goes straight to the process's stderr: the test harness captures `eprintln!`
/// of a passing test, and a silent skip would read as a pass.
fn unavailable(why: &str) -> Option<&'static Path> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("interop tests must run in CI (CI=true) but cannot: {why}");
    }
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let line = format!("SKIPPED: {why} (interop tests need it): {test}\n");
    // Nothing better to do if stderr itself is gone.
    let _ = std::io::stderr().write_all(line.as_bytes());
    None
}
