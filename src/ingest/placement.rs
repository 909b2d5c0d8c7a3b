//! Where an input file ends: archive/, pending/ or quarantine/, by atomic rename.
//!
//! A file is never deleted and never copied over another: a name already taken at the
//! destination gets a numeric suffix. Both folders are fsynced after each move, and a
//! quarantine reason is written before its bundle moves, so a crash leaves the bundle in
//! its old place (to be processed again), never a bundle without its reason.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Moves `file` into `folder`; returns its new path.
pub fn move_into(file: &Path, folder: &Path) -> io::Result<PathBuf> {
    let name = file
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} has no file name", file.display())))?;
    let target = free_name(folder, &name.to_string_lossy());
    std::fs::rename(file, &target)?;
    crate::fsutil::sync_parent(&target)?;
    crate::fsutil::sync_parent(file)?;
    Ok(target)
}

/// Writes `NAME.reason.json` beside where `file` will land, then moves it there.
pub fn quarantine(file: &Path, folder: &Path, reason: &impl Serialize) -> io::Result<PathBuf> {
    let name = file
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} has no file name", file.display())))?;
    let target = free_name(folder, &name.to_string_lossy());
    let reason_path = reason_path(&target);
    let bytes = crate::canonical::to_vec_pretty(reason).map_err(io::Error::other)?;
    crate::fsutil::write_atomic(&reason_path, &bytes)?;
    std::fs::rename(file, &target)?;
    crate::fsutil::sync_parent(&target)?;
    crate::fsutil::sync_parent(file)?;
    Ok(target)
}

/// `quarantine/NAME.tar.zst` → `quarantine/NAME.reason.json`.
pub fn reason_path(bundle: &Path) -> PathBuf {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".tar.zst").unwrap_or(&name);
    bundle.with_file_name(format!("{stem}.reason.json"))
}

/// `NAME.tar.zst`, or `NAME.2.tar.zst`, `NAME.3.tar.zst`, … if a bundle holds the name.
/// A reason file alone does not: it is what a crash between writing a reason and moving
/// its bundle leaves behind, and the retry overwrites it.
fn free_name(folder: &Path, name: &str) -> PathBuf {
    let first = folder.join(name);
    if !first.exists() {
        return first;
    }
    let stem = name.strip_suffix(".tar.zst").unwrap_or(name);
    (2u32..)
        .map(|n| folder.join(format!("{stem}.{n}.tar.zst")))
        .find(|p| !p.exists())
        .expect("some suffix is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_never_overwrite_and_reasons_sit_beside_their_bundle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (inbox, out) = (dir.path().join("in"), dir.path().join("out"));
        std::fs::create_dir_all(&inbox).expect("mkdir");
        std::fs::create_dir_all(&out).expect("mkdir");
        let mut landed = Vec::new();
        for body in ["one", "two"] {
            let f = inbox.join("b.tar.zst");
            std::fs::write(&f, body).expect("write");
            landed.push(quarantine(&f, &out, &serde_json::json!({"why": body})).expect("moved"));
        }
        assert_eq!(landed[0], out.join("b.tar.zst"));
        assert_eq!(landed[1], out.join("b.2.tar.zst"));
        assert_eq!(std::fs::read_to_string(&landed[1]).expect("read"), "two");
        let reason = std::fs::read_to_string(out.join("b.2.reason.json")).expect("reason");
        assert!(reason.contains("\"two\""));
    }
}
