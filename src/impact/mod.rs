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

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::findings::FindingsError;
use crate::store::StoreError;

/// The artifacts a window or a selector touches, as of `position`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImpactSet {
    pub position: u64,
    pub artifacts: Vec<Impacted>,
    /// `sha256:<hex>` over the canonical JSON of `{position, artifacts}`.
    pub digest: String,
}

/// One impacted artifact and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Impacted {
    pub artifact: String,
    /// The SBOM subject's name, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The strongest severity among the reasons: what the job's SLA follows.
    pub severity: Level,
    pub reasons: Vec<Reason>,
}

/// One cause of an artifact's impact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    /// `advisory`, `vex`, `sbom` or `selector`.
    pub kind: String,
    pub feed: String,
    /// The document id (an advisory id, a VEX document key, an artifact digest), or the
    /// selector's canonical JSON.
    pub id: String,
    /// `added`, `changed`, `withdrawn` or `selected`.
    pub change: String,
    /// The component that made the artifact match, when a package did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
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

/// Collects reasons per artifact, then seals them into a sorted, digested set.
#[derive(Debug, Default)]
struct Collector {
    by_artifact: BTreeMap<String, (Level, BTreeSet<Reason>)>,
}

impl Collector {
    fn add(&mut self, artifact: &str, level: Level, reason: Reason) {
        let slot = self
            .by_artifact
            .entry(artifact.to_owned())
            .or_insert((Level::Low, BTreeSet::new()));
        slot.0 = slot.0.max(level);
        slot.1.insert(reason);
    }

    fn finish(self, store: &crate::store::Store, position: u64) -> Result<ImpactSet, StoreError> {
        let names: BTreeMap<String, Option<String>> = store
            .artifacts_as_of(position)?
            .into_iter()
            .map(|a| (a.artifact, a.name))
            .collect();
        let artifacts = self
            .by_artifact
            .into_iter()
            .map(|(artifact, (severity, reasons))| Impacted {
                name: names.get(&artifact).cloned().flatten(),
                artifact,
                severity,
                reasons: reasons.into_iter().collect(),
            })
            .collect();
        Ok(ImpactSet::new(position, artifacts))
    }
}

impl ImpactSet {
    fn new(position: u64, artifacts: Vec<Impacted>) -> Self {
        #[derive(Serialize)]
        struct Digested<'a> {
            position: u64,
            artifacts: &'a [Impacted],
        }
        let body = crate::canonical::to_vec(&Digested {
            position,
            artifacts: &artifacts,
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
