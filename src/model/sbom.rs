//! A software bill of materials reduced to what impact analysis needs: which artifact it
//! describes and which components, by purl, are inside.
//!
//! Nested CycloneDX components are flattened: a component inside another one still ships in
//! the artifact, and matching needs every purl, not the tree.

use serde::{Deserialize, Serialize};

use super::{Subject, Timestamp};

/// One SBOM, CycloneDX or SPDX.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    /// `specVersion` (CycloneDX) or `spdxVersion` (SPDX), as written.
    pub spec_version: String,
    /// CycloneDX `serialNumber` or SPDX `documentNamespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// When the SBOM was produced (CycloneDX `metadata.timestamp`, SPDX
    /// `creationInfo.created`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// The artifact, when the SBOM names it by a SHA-256 digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// What the SBOM describes (CycloneDX `metadata.component`, the first package SPDX
    /// says it describes); not repeated among the components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Component>,
    pub components: Vec<Component>,
}

/// One package found in the artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// CycloneDX `bom-ref` or SPDX `SPDXID`: how other parts of the document point at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// CycloneDX `group` (a Maven group id, an npm scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Checksum>,
}

/// A content hash. The algorithm is normalized (`SHA-256` and `SHA256` both become
/// `sha256`) and the value lower-cased, so equal hashes compare equal across formats.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Checksum {
    pub alg: String,
    pub value: String,
}

impl Checksum {
    pub fn new(alg: &str, value: &str) -> Self {
        Self {
            alg: normalize_alg(alg),
            value: value.to_ascii_lowercase(),
        }
    }
}

/// `SHA-256`, `SHA256` and `sha-256` all read `sha256`; other names are only lower-cased.
fn normalize_alg(alg: &str) -> String {
    let lower = alg.to_ascii_lowercase();
    match lower.strip_prefix("sha-") {
        Some(bits) if bits.bytes().all(|b| b.is_ascii_digit()) => format!("sha{bits}"),
        _ => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_algorithms_read_the_same_across_formats() {
        assert_eq!(
            Checksum::new("SHA-256", "AB"),
            Checksum::new("SHA256", "ab")
        );
        assert_eq!(Checksum::new("SHA-1", "x").alg, "sha1");
        assert_eq!(Checksum::new("SHA3-256", "x").alg, "sha3-256");
        assert_eq!(Checksum::new("BLAKE2b-256", "x").alg, "blake2b-256");
    }
}
