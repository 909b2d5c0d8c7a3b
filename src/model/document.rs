//! Kinds and formats of the documents a bundle carries, and artifact subjects.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a document is about. Serialized exactly as bundle format v1 spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    Advisory,
    Vex,
    Sbom,
    /// A DSSE-signed completion event a site produced (export bundles only).
    Completion,
    /// A findings delta a site produced (export bundles only).
    Findings,
    /// Offline-kit metadata: chain heads, trust file, site public key.
    Kit,
}

impl DocumentKind {
    /// The kinds feeds bring in: what ingest parses and stores.
    pub const ALL: [DocumentKind; 3] = [Self::Advisory, Self::Vex, Self::Sbom];
    /// The kinds a site writes: completion bundles and offline kits carry them.
    pub const OUTPUT: [DocumentKind; 3] = [Self::Completion, Self::Findings, Self::Kit];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Advisory => "advisory",
            Self::Vex => "vex",
            Self::Sbom => "sbom",
            Self::Completion => "completion",
            Self::Findings => "findings",
            Self::Kit => "kit",
        }
    }

    /// Advisories, VEX and SBOMs: what a feed brings and the store versions.
    pub fn is_input(self) -> bool {
        Self::ALL.contains(&self)
    }

    /// The formats bundle format v1 allows for this kind.
    pub fn allows(self, format: DocumentFormat) -> bool {
        use DocumentFormat::*;
        matches!(
            (self, format),
            (Self::Advisory, Osv)
                | (Self::Vex, Openvex | Cyclonedx | Csaf)
                | (Self::Sbom, Cyclonedx | Spdx)
                | (Self::Completion, Dsse)
                | (Self::Findings, StellaFindings)
                | (Self::Kit, StellaKit)
        )
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DocumentKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .chain(Self::OUTPUT)
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown document kind {s:?} \
                     (expected advisory, vex, sbom, completion, findings or kit)"
                )
            })
    }
}

/// The serialization a document is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    Osv,
    Openvex,
    Cyclonedx,
    Csaf,
    Spdx,
    /// A DSSE envelope (JSON).
    Dsse,
    /// stella-scheduler's findings delta document (docs/scheduler.md).
    #[serde(rename = "stella-findings")]
    StellaFindings,
    /// stella-scheduler's offline-kit metadata (docs/offline-kit.md).
    #[serde(rename = "stella-kit")]
    StellaKit,
}

impl DocumentFormat {
    const ALL: [DocumentFormat; 8] = [
        Self::Osv,
        Self::Openvex,
        Self::Cyclonedx,
        Self::Csaf,
        Self::Spdx,
        Self::Dsse,
        Self::StellaFindings,
        Self::StellaKit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Osv => "osv",
            Self::Openvex => "openvex",
            Self::Cyclonedx => "cyclonedx",
            Self::Csaf => "csaf",
            Self::Spdx => "spdx",
            Self::Dsse => "dsse",
            Self::StellaFindings => "stella-findings",
            Self::StellaKit => "stella-kit",
        }
    }
}

impl FromStr for DocumentFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown document format {s:?}"))
    }
}

impl fmt::Display for DocumentFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `sha256:<64 lowercase hex>` digest naming an artifact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid digest {given:?}: expected sha256:<64 lowercase hex digits>")]
pub struct DigestError {
    pub given: String,
}

impl Digest {
    /// Builds a digest from a raw SHA-256 hash.
    pub fn from_sha256(hash: &[u8; 32]) -> Self {
        Self(format!("sha256:{}", hex::encode(hash)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex part, without the `sha256:` prefix.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex_part = s.strip_prefix("sha256:").unwrap_or("");
        let ok = hex_part.len() == 64
            && hex_part
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(DigestError {
                given: s.to_owned(),
            })
        }
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> Self {
        d.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The artifact an SBOM describes: a human name and its content digest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    pub digest: Digest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_accepts_only_lowercase_sha256() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert_eq!(good.parse::<Digest>().map(|d| d.hex().len()), Ok(64));
        for bad in [
            "",
            "sha256:",
            "sha512:aa",
            &format!("sha256:{}", "A".repeat(64)),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn kinds_allow_only_their_formats() {
        assert!(DocumentKind::Vex.allows(DocumentFormat::Csaf));
        assert!(!DocumentKind::Sbom.allows(DocumentFormat::Osv));
        assert!(!DocumentKind::Advisory.allows(DocumentFormat::Cyclonedx));
    }
}
