//! File writes that survive a crash: temp file in the same folder, fsync, rename,
//! fsync of the folder. Every file this project writes for others goes through here.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Creates `path` atomically from whatever `fill` writes into the temp file.
pub fn write_atomic_with<T>(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<T>,
) -> io::Result<T> {
    let temp = temp_path(path);
    let result = (|| {
        let mut file = File::create(&temp)?;
        let value = fill(&mut file)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        sync_parent(path)?;
        Ok(value)
    })();
    if result.is_err() {
        // Best effort: the temp name starts with '.', so a watcher never takes it.
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Fsyncs the folder holding `path`, making a rename into it durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// Removes the temp files that writes of processes no longer running left in `dir` (a
/// crash between create and rename); returns how many. Only names this module makes
/// (`.NAME.PID.partial`) are touched, and only when that process is gone.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_pid(&name) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The writer's pid in a temp name `.NAME.PID.partial`.
fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".partial")?;
    rest.rsplit_once('.')?.1.parse().ok()
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = format!(".{name}.{}.partial", std::process::id());
    path.with_file_name(temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temps_of_stopped_writers_are_removed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ours = temp_path(&dir.path().join("kept.json"));
        // Pid 0 is never a user process; /proc/0 does not exist.
        let stale = dir.path().join(".gone.json.0.partial");
        let producer = dir.path().join(".bundle.tar.zst.partial");
        for path in [&ours, &stale, &producer] {
            fs::write(path, b"x").unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(
            remove_stale_temps(dir.path()).unwrap_or_else(|e| panic!("{e}")),
            1
        );
        assert!(ours.exists() && producer.exists() && !stale.exists());
        assert_eq!(temp_pid(".a.b.42.partial"), Some(42));
        assert_eq!(temp_pid(".a.partial"), None);
    }

    #[test]
    fn writes_and_replaces_without_leaving_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.json");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(names.len(), 1);
    }
}
