//! What matching concludes for one (artifact, component, vulnerability), and why.
//!
//! A finding carries its evidence: each advisory that judged the component (with the range
//! that hit) and each VEX statement that decided its status (with its issuer), so a user
//! can check the conclusion without rerunning it. Serialized with `canonical` it is stable
//! byte for byte: lists are sorted, nothing depends on the clock.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Digest, Range, Severity, Timestamp, VexStatus};

/// The status of a finding: a VEX status, or `unknown` when no one could decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Affected,
    NotAffected,
    Fixed,
    UnderInvestigation,
    /// The advisory names the package but the verdict cannot be computed (see `reason`).
    Unknown,
}

impl From<VexStatus> for Status {
    fn from(status: VexStatus) -> Self {
        match status {
            VexStatus::Affected => Status::Affected,
            VexStatus::NotAffected => Status::NotAffected,
            VexStatus::Fixed => Status::Fixed,
            VexStatus::UnderInvestigation => Status::UnderInvestigation,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Status::Affected => "affected",
            Status::NotAffected => "not_affected",
            Status::Fixed => "fixed",
            Status::UnderInvestigation => "under_investigation",
            Status::Unknown => "unknown",
        };
        f.write_str(text)
    }
}

/// One (artifact, component, vulnerability) conclusion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub artifact: Digest,
    /// The preferred id of the flaw: its CVE when one is known, else the smallest id.
    pub vulnerability: String,
    /// Every other id the advisories and statements give for the same flaw, sorted.
    pub aliases: Vec<String>,
    /// The component's canonical purl, with its version.
    pub component: String,
    pub status: Status,
    /// The VEX justification, for `not_affected`.
    pub justification: Option<String>,
    /// Why the status is `unknown`.
    pub reason: Option<String>,
    /// The first fixed version above the component's, when an advisory gives one.
    pub fixed_in: Option<String>,
    pub severity: Option<FindingSeverity>,
    /// Trusted statements of the same latest time disagree; `status` is then the
    /// advisories' verdict, and every disagreeing statement is in the evidence.
    pub vex_conflict: bool,
    pub evidence: Evidence,
}

/// The advisories' severity: the strongest database word, and every scored vector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingSeverity {
    pub level: Option<String>,
    pub scores: Vec<Severity>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub advisories: Vec<AdvisoryEvidence>,
    pub vex: Vec<VexEvidence>,
}

/// One advisory entry that judged the component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvisoryEvidence {
    pub id: String,
    pub modified: Timestamp,
    /// The package the entry names, as a key (`pkg:golang/golang.org/x/text/language`).
    pub package: String,
    pub ecosystem: String,
    /// `affected` or `unknown`.
    pub verdict: Status,
    /// The range that hit; `None` when the `versions` list did, or for `unknown`.
    pub range: Option<Range>,
    pub fixed: Option<String>,
    pub reason: Option<String>,
    /// How the component was found: `purl`, `source package` or `go module prefix`.
    pub matched_by: String,
}

/// One VEX statement that applies to the finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexEvidence {
    pub statement: String,
    pub issuer: String,
    pub vulnerability: String,
    pub status: Status,
    pub justification: Option<String>,
    pub timestamp: Option<Timestamp>,
    /// Whether this statement decided the status (the latest trusted one).
    pub decisive: bool,
}
