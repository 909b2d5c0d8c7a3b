//! Offline kits: a site's whole state as one signed bundle (format v1), to seed a new
//! site or replace a site's state across the air gap (docs/offline-kit.md).
//!
//! A kit carries every current document of every feed, the feed heads (so that the next
//! delta of each feed chains on at the importing site), the exporting site's trust file
//! and its public key. [`export`] reads one store position and writes the kit with the
//! bundle writer. [`import`] has the kit verified and loaded (`load.rs`: the bundle
//! verifier, then the metadata checks of `metadata.rs`, every document parsed) into a
//! store file of its own beside the old one, and renames that file into place only when
//! all of it succeeded.
//!
//! Known shortcomings: a kit carries the feeds' state, not the scheduler's (runs, jobs,
//! evaluations, exports), and the importing site's history starts at the kit: `--as-of`
//! before the import sees nothing. Export holds the current documents in memory while
//! it writes the kit.

mod error;
mod export;
mod import;
mod load;
mod metadata;

pub use error::{ExportError, ImportError, KitProblem};
pub use export::{export, Exported};
pub use import::{import, ImportOptions, Imported, ImportedFeed};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::bundle::{MemberPath, MemberPathError};
use crate::model::DocumentKind;

/// `schema` of the kit index.
pub const KIT_SCHEMA: &str = "stella.kit.v1";
/// The kit index: site, position, heads, and where each document goes.
pub const INDEX_MEMBER: &str = "kit/index.json";
/// The exporting site's trust file, byte for byte.
pub const TRUST_MEMBER: &str = "kit/trust.json";
/// The exporting site's public key, as `keys/site.pub` holds it.
pub const SITE_KEY_MEMBER: &str = "kit/site.pub";
/// Every metadata member's path starts so; every document's with `state/`.
const METADATA_PREFIX: &str = "kit/";
const FEED_SUFFIX: &str = ".kit";
const MAX_FEED_LEN: usize = 64;

/// `kit/index.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KitIndex {
    pub schema: String,
    pub site_id: String,
    pub site_key_id: String,
    /// The exporting store's change-log position the kit was read at.
    pub position: u64,
    /// In feed-name order.
    pub heads: Vec<KitHead>,
    /// In member-path order.
    pub documents: Vec<KitDocument>,
}

/// Where one feed's chain stood at the exporting site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KitHead {
    pub feed: String,
    pub sequence: u64,
    pub bundle_id: String,
    /// `createdAt` of the head bundle's manifest.
    pub created_at: String,
}

/// One document of the kit: its member, and what the store knows it by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KitDocument {
    pub member: String,
    pub feed: String,
    /// The document id (docs/bundle-format.md); for an SBOM, its subject digest.
    pub id: String,
    /// The path it had in the bundle that brought it; the store keeps it, and it picks
    /// the YAML reader for `*.yaml`/`*.yml`.
    pub path: String,
}

/// The kit's feed name: `<siteId>.kit`, the site id cut to 60 bytes when longer so that
/// the name stays within the 64 bytes of a feed name.
pub fn kit_feed(site_id: &str) -> String {
    let keep = site_id.len().min(MAX_FEED_LEN - FEED_SUFFIX.len());
    // Site ids are ASCII (they are feed names), so any cut is a char boundary.
    let cut = site_id.get(..keep).unwrap_or(site_id);
    format!("{cut}{FEED_SUFFIX}")
}

/// `state/<feed>/<kind>/<sha256 of the id>.<json|yaml>`: one path per (feed, kind, id),
/// which the store holds once, so no two documents of a kit can collide. The hash keeps
/// any id (URLs, `sha256:` digests) within the member-path alphabet and length.
pub fn member_path(
    feed: &str,
    kind: DocumentKind,
    id: &str,
    original: &str,
) -> Result<MemberPath, MemberPathError> {
    let name = hex::encode(Sha256::digest(id.as_bytes()));
    let ext = if is_yaml_name(original) {
        "yaml"
    } else {
        "json"
    };
    MemberPath::parse(format!("state/{feed}/{kind}/{name}.{ext}").as_bytes())
}

fn is_metadata(path: &str) -> bool {
    path.starts_with(METADATA_PREFIX)
}

/// The same rule as the document parser's: YAML by name, JSON otherwise.
fn is_yaml_name(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_paths_are_valid_distinct_and_keep_yaml() {
        let a = member_path("osv", DocumentKind::Advisory, "GHSA-1", "a/GHSA-1.json");
        let b = member_path("osv", DocumentKind::Advisory, "GHSA-2", "a/GHSA-1.json");
        let y = member_path("osv", DocumentKind::Advisory, "GHSA-1", "x/GHSA-1.YML");
        let (a, b, y) = (a.expect("valid"), b.expect("valid"), y.expect("valid"));
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("state/osv/advisory/"));
        assert!(a.as_str().ends_with(".json") && y.as_str().ends_with(".yaml"));
        let url = "https://vex.example/doc?x=1#frag";
        let vex = member_path("a.b-c_d", DocumentKind::Vex, url, "v.json").expect("valid");
        assert!(!vex.as_str().contains("https"));
    }

    #[test]
    fn the_kit_feed_is_a_valid_feed_name_even_for_the_longest_site_id() {
        assert_eq!(kit_feed("site-a"), "site-a.kit");
        let longest = "s".repeat(64);
        let feed = kit_feed(&longest);
        assert_eq!(feed.len(), 64);
        assert!(crate::bundle::manifest::check_feed_name(&feed).is_ok());
    }
}
