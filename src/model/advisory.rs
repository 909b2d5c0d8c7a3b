//! A vulnerability advisory, shaped after OSV because every source we take is OSV.
//!
//! Ranges keep their events in the order the advisory gives them: OSV defines a range by
//! walking its events, and sorting them would need a version scheme this room does not know.
//! Ecosystem- and database-specific blocks stay raw JSON for whoever understands them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Timestamp;

/// One advisory, as published by one database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    /// Other ids for the same flaw (CVE, GHSA, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Ids of the upstream flaws this record derives from (OSV `upstream`), kept apart from
    /// aliases because they name a different record, not the same one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    pub modified: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Timestamp>,
    /// Set when the database took the advisory back: it must no longer produce findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Severity>,
    /// The database's own severity word (`database_specific.severity`), lower-cased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_severity: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
}

/// A scored severity, e.g. `CVSS_V3` with its vector string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

/// One affected package (or, with no package, a bare repository) and its ranges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Versions listed one by one, in addition to the ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// A run of versions described by events; always holds at least one `introduced`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    /// The repository a `GIT` range's commits live in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub events: Vec<RangeEvent>,
}

/// How the versions of a range compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RangeKind {
    /// Semantic versioning 2.0.
    Semver,
    /// The ecosystem's own ordering (PyPI, Maven, Debian, ...).
    Ecosystem,
    /// Commit hashes in `repo`.
    Git,
}

/// One range event; serialized as OSV writes it, e.g. `{"fixed": "1.2.3"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeEvent {
    Introduced(String),
    Fixed(String),
    /// The last affected version, inclusive.
    LastAffected(String),
    /// An upper bound for the search, exclusive; not a statement that later versions are safe.
    Limit(String),
}

impl RangeEvent {
    /// The version or commit the event names.
    pub fn version(&self) -> &str {
        match self {
            Self::Introduced(v) | Self::Fixed(v) | Self::LastAffected(v) | Self::Limit(v) => v,
        }
    }
}
