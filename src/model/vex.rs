//! VEX statements: what a producer says about one vulnerability in its products.
//!
//! OpenVEX, CycloneDX and CSAF each say this differently; the four statuses of OpenVEX are
//! the common ground, so every format is mapped onto them and the word the document used is
//! kept beside, for audit and for rules that care (CSAF `first_fixed`, CycloneDX
//! `false_positive`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Number;

use super::{Checksum, Timestamp};

/// One VEX document, whatever its format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexDocument {
    /// OpenVEX `@id`, CycloneDX `serialNumber`, CSAF `document.tracking.id`; CycloneDX makes
    /// it optional, hence `None` there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The document's own revision (OpenVEX and CycloneDX `version`, CSAF tracking version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When the document was issued (CSAF: its current release date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    pub statements: Vec<VexStatement>,
    /// CSAF `product_status.recommended`: advice, not a status, so kept out of statements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommended: Vec<Recommendation>,
}

/// The four statuses every VEX format is mapped onto.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    Affected,
    NotAffected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    pub const ALL: [VexStatus; 4] = [
        Self::Affected,
        Self::NotAffected,
        Self::Fixed,
        Self::UnderInvestigation,
    ];

    /// The OpenVEX spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Affected => "affected",
            Self::NotAffected => "not_affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }
}

impl fmt::Display for VexStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VexStatus {
    type Err = String;

    /// Accepts the OpenVEX spelling only.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| s.to_owned())
    }
}

/// What one document says about one vulnerability in some products.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexStatement {
    pub vulnerability: Vulnerability,
    /// Empty only in the pre-0.2 OpenVEX shape, where a statement named no product.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<VexProduct>,
    pub status: VexStatus,
    /// The status word as the document wrote it: an OpenVEX status, a CycloneDX analysis
    /// state (`exploitable`, `in_triage`, ...) or a CSAF category (`known_affected`, ...).
    pub original_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_statement: Option<String>,
    /// CycloneDX `analysis.response` words, or CSAF remediation categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<String>,
    /// CycloneDX `analysis.detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratings: Vec<Rating>,
    /// The statement's own time, or the document's when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

/// The vulnerability a statement is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// CVE-…, GHSA-…, or whatever id the document uses.
    pub name: String,
    /// OpenVEX `@id`, or the URL of the CycloneDX source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The database the id comes from (CycloneDX `source.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A product a statement covers; with subcomponents, the statement is about those
/// components as shipped inside this product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexProduct {
    /// OpenVEX `@id`, CycloneDX `affects[].ref`, CSAF `product_id`.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpe: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Checksum>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcomponents: Vec<VexProduct>,
    /// CycloneDX `affects[].versions`: which versions of the product the status is about.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<ProductVersion>,
}

impl VexProduct {
    /// A product known only by its identifier; a purl identifier is also its purl.
    pub fn from_id(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: None,
            purl: id.starts_with("pkg:").then(|| id.to_owned()),
            cpe: None,
            hashes: Vec::new(),
            subcomponents: Vec::new(),
            versions: Vec::new(),
        }
    }
}

/// One version or version range of a CycloneDX `affects` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductVersion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A `vers:` range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// `affected`, `unaffected` or `unknown`; CycloneDX defaults it to `affected`.
    pub status: String,
}

/// A severity rating from a CycloneDX vulnerability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
}

/// A product version a CSAF document recommends for a vulnerability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub vulnerability: Vulnerability,
    pub product: VexProduct,
}
