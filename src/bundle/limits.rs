//! Resource limits for reading untrusted bundles.
//!
//! Every limit is checked before the bytes it guards are read, so a hostile bundle
//! costs at most what the limits allow. The defaults suit daily advisory feeds and
//! full snapshots of the public OSV database; operators raise them explicitly.

use serde::Serialize;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Limits in force while a bundle is read. Shown in every verification transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Size of the `.tar.zst` file on disk.
    pub max_compressed_bytes: u64,
    /// All bytes that come out of the zstd decoder: tar headers, padding and members.
    pub max_total_bytes: u64,
    /// One document member.
    pub max_member_bytes: u64,
    /// Documents listed in the manifest.
    pub max_members: u64,
    /// The `manifest.dsse.json` member.
    pub max_manifest_bytes: u64,
    /// Base-2 log of the largest zstd window the decoder accepts.
    pub max_window_log: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_compressed_bytes: 4 * GIB,
            max_total_bytes: 16 * GIB,
            max_member_bytes: 64 * MIB,
            max_members: 1_000_000,
            max_manifest_bytes: 256 * MIB,
            max_window_log: 25,
        }
    }
}
