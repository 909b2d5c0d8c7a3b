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
