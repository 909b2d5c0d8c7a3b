//! Impact: which artifacts a change can affect, as of a change-log position.
//!
//! A window is one applied bundle, pinned to its position. Its impact set is derived from
//! the versions that began or stopped holding there:
//! - an advisory added, changed or withdrawn: the packages its old and new versions name,
//!   then the artifacts whose component of that package falls in the old or the new
//!   ranges (matching decides, so ranges, versions lists and ecosystems behave exactly as
//!   in findings);
//! - a VEX statement added, changed or withdrawn: the artifacts its products name, by
//!   digest, or by package in whatever artifact ships it;
//! - an SBOM added, changed or withdrawn: that artifact.
//!
//! A selector (`{"all": true}`, `{"artifact": ..}`, `{"purl": ..}`, `{"vulnerability":
//! ..}`) names artifacts directly, for rechecks. The set is sorted, every artifact carries
//! its reasons, and its digest is taken over its canonical JSON, so two sites with the
//! same state compute the same bytes.
//!
//! Known limits: a Go package under a module prefix is matched against the one component
//! alone, so an artifact whose longer module owns the package is still included (its job
//! then finds nothing); severity comes from the advisories' database words (CVSS vectors
//! are not scored), `medium` when none is given.

mod selector;
mod severity;
mod window;

pub use selector::{select, Selector, SelectorError};
pub use severity::Level;
pub use window::window;

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::findings::FindingsError;
use crate::store::StoreError;

/// The artifacts a window or a selector touches, as of `position`.
///
/// Fields are declared in the order of their JSON names, so plain `serde_json` output is
/// already canonical (sorted keys); a test holds this against `canonical::to_vec`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpactSet {
    pub artifacts: Vec<Impacted>,
    /// `sha256:<hex>` over the canonical JSON of `{artifacts, position}`.
    pub digest: String,
    pub position: u64,
}

/// One impacted artifact and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Impacted {
    pub artifact: String,
    /// The SBOM subject's name, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub reasons: Vec<Reason>,
    /// The strongest severity among the reasons: what the job's SLA follows.
    pub severity: Level,
}

/// One cause of an artifact's impact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub change: Change,
    /// The component that made the artifact match, when a package did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Empty for a selector.
    pub feed: Arc<str>,
    /// The document id (an advisory id, a VEX document key, an artifact digest), or the
    /// selector's canonical JSON.
    pub id: Arc<str>,
    pub kind: ReasonKind,
}

/// What kind of change (or request) a reason is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasonKind {
    Advisory,
    Vex,
    Sbom,
    Selector,
}

/// How the document behind a reason changed at the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Changed,
    Withdrawn,
    Selected,
}

#[derive(Debug, thiserror::Error)]
pub enum ImpactError {
    #[error("position {asked} is past the change log's last position {last}")]
    FutureWindow { asked: u64, last: u64 },
    #[error("position 0 is before anything was applied; windows start at 1")]
    NoWindow,
    #[error(transparent)]
    Selector(#[from] SelectorError),
    #[error(transparent)]
    Findings(#[from] FindingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl std::fmt::Display for ReasonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReasonKind::Advisory => "advisory",
            ReasonKind::Vex => "vex",
            ReasonKind::Sbom => "sbom",
            ReasonKind::Selector => "selector",
        })
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Change::Added => "added",
            Change::Changed => "changed",
            Change::Withdrawn => "withdrawn",
            Change::Selected => "selected",
        })
    }
}

/// Collects reasons per artifact, then seals them into a sorted, digested set.
#[derive(Debug, Default)]
struct Collector {
    by_artifact: HashMap<String, (Level, Vec<Reason>)>,
}

/// What the digest covers; fields in JSON-name order, so the output is canonical.
#[derive(Serialize)]
struct Digested<'a> {
    artifacts: &'a [Impacted],
    position: u64,
}

impl Collector {
    fn add(&mut self, artifact: &str, level: Level, reason: Reason) {
        if let Some(slot) = self.by_artifact.get_mut(artifact) {
            slot.0 = slot.0.max(level);
            slot.1.push(reason);
            return;
        }
        self.by_artifact
            .insert(artifact.to_owned(), (level, vec![reason]));
    }

    /// Sorts artifacts and their reasons (dropping repeated reasons) and names each
    /// artifact as its SBOM subject does at `position`.
    fn finish(self, store: &crate::store::Store, position: u64) -> Result<ImpactSet, StoreError> {
        let mut artifacts: Vec<Impacted> = self
            .by_artifact
            .into_iter()
            .map(|(artifact, (severity, mut reasons))| {
                reasons.sort_unstable();
                reasons.dedup();
                Impacted {
                    name: None,
                    artifact,
                    severity,
                    reasons,
                }
            })
            .collect();
        artifacts.sort_unstable_by(|a, b| a.artifact.cmp(&b.artifact));
        // Both sides in digest order: one merge, no map of every artifact's name.
        let mut next = 0;
        store.scan_artifacts(position, |artifact, name| {
            while next < artifacts.len() && artifacts[next].artifact.as_str() < artifact {
                next += 1;
            }
            if let Some(impacted) = artifacts.get_mut(next).filter(|i| i.artifact == artifact) {
                impacted.name = name.map(str::to_owned);
            }
        })?;
        Ok(ImpactSet::new(position, artifacts))
    }
}

impl ImpactSet {
    /// The same set with only the artifacts `keep` accepts, digested anew.
    pub fn only(self, keep: impl Fn(&Impacted) -> bool) -> Self {
        let artifacts = self.artifacts.into_iter().filter(|a| keep(a)).collect();
        Self::new(self.position, artifacts)
    }

    fn new(position: u64, artifacts: Vec<Impacted>) -> Self {
        let body = serde_json::to_vec(&Digested {
            artifacts: &artifacts,
            position,
        })
        .expect("plain structs with string keys always serialize");
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
        Self {
            position,
            artifacts,
            digest,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The digest and stored sets rely on plain serde output being canonical.
    #[test]
    fn plain_serialization_is_canonical() {
        let reason = |kind, change, component: Option<&str>| Reason {
            change,
            component: component.map(str::to_owned),
            feed: "osv".into(),
            id: "GHSA-1".into(),
            kind,
        };
        let set = ImpactSet::new(
            7,
            vec![Impacted {
                artifact: format!("sha256:{}", "a".repeat(64)),
                name: Some("registry.local/app:1".to_owned()),
                reasons: vec![
                    reason(ReasonKind::Advisory, Change::Added, Some("pkg:npm/x@1")),
                    reason(ReasonKind::Sbom, Change::Withdrawn, None),
                ],
                severity: Level::High,
            }],
        );
        let plain = serde_json::to_vec(&set).unwrap();
        assert_eq!(plain, crate::canonical::to_vec(&set).unwrap());
        let digested = Digested {
            artifacts: &set.artifacts,
            position: set.position,
        };
        assert_eq!(
            serde_json::to_vec(&digested).unwrap(),
            crate::canonical::to_vec(&digested).unwrap()
        );
        let text = String::from_utf8(plain).unwrap();
        assert!(text.contains(r#""change":"added""#) && text.contains(r#""kind":"sbom""#));
    }
}
