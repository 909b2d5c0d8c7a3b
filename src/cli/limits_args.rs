//! The `--max-*` flags shared by every command that reads bundles.

use crate::bundle::Limits;

/// Reading limits; each defaults to the library's safe default.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitsArgs {
    /// Largest .tar.zst file accepted, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_compressed_bytes: Option<u64>,
    /// Most bytes the zstd stream may decompress to, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_total_bytes: Option<u64>,
    /// Largest document member, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_member_bytes: Option<u64>,
    /// Most documents one manifest may list.
    #[arg(long, value_name = "N")]
    max_members: Option<u64>,
    /// Largest manifest.dsse.json member, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_manifest_bytes: Option<u64>,
    /// Largest zstd window accepted, as a base-2 log (10..=31).
    #[arg(long, value_name = "LOG2", value_parser = clap::value_parser!(u32).range(10..=31))]
    max_window_log: Option<u32>,
}

impl LimitsArgs {
    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        Limits {
            max_compressed_bytes: self.max_compressed_bytes.unwrap_or(d.max_compressed_bytes),
            max_total_bytes: self.max_total_bytes.unwrap_or(d.max_total_bytes),
            max_member_bytes: self.max_member_bytes.unwrap_or(d.max_member_bytes),
            max_members: self.max_members.unwrap_or(d.max_members),
            max_manifest_bytes: self.max_manifest_bytes.unwrap_or(d.max_manifest_bytes),
            max_window_log: self.max_window_log.unwrap_or(d.max_window_log),
        }
    }
}
