//! What changed in an artifact's findings between two positions, and a run's summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::impact::Level;
use crate::matching::Finding;

/// The findings of one artifact at `position` against those at `basePosition`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delta {
    pub artifact: String,
    pub position: u64,
    /// `None`: the artifact was never evaluated before; every finding is new.
    pub base_position: Option<u64>,
    pub new: Vec<Finding>,
    pub resolved: Vec<Finding>,
    pub changed: Vec<Changed>,
}

/// A finding whose (component, vulnerability) held on both sides with another content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    pub before: Finding,
    pub after: Finding,
}

/// Findings matched by (component, vulnerability); both lists as matching sorts them.
pub fn diff(
    artifact: &str,
    position: u64,
    base_position: Option<u64>,
    before: Vec<Finding>,
    after: Vec<Finding>,
) -> Delta {
    let key = |f: &Finding| (f.component.clone(), f.vulnerability.clone());
    let mut old: BTreeMap<_, Finding> = before.into_iter().map(|f| (key(&f), f)).collect();
    let mut delta = Delta {
        artifact: artifact.to_owned(),
        position,
        base_position,
        new: Vec::new(),
        resolved: Vec::new(),
        changed: Vec::new(),
    };
    for finding in after {
        match old.remove(&key(&finding)) {
            None => delta.new.push(finding),
            Some(prior) if prior == finding => {}
            Some(prior) => delta.changed.push(Changed {
                before: prior,
                after: finding,
            }),
        }
    }
    delta.resolved = old.into_values().collect();
    delta
}

/// A run's outcome in numbers: what the completion event carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub artifacts: u64,
    pub jobs_succeeded: u64,
    pub jobs_dead: u64,
    pub new: u64,
    pub resolved: u64,
    pub changed: u64,
    /// New findings by severity (`critical`, `high`, `medium`, `low`, `unrated`).
    pub new_by_severity: BTreeMap<String, u64>,
}

impl Summary {
    pub fn add(&mut self, delta: &Delta) {
        self.new += delta.new.len() as u64;
        self.resolved += delta.resolved.len() as u64;
        self.changed += delta.changed.len() as u64;
        for finding in &delta.new {
            let word = finding.severity.as_ref().and_then(|s| s.level.as_deref());
            let name = match word {
                Some(w) => Level::of_database_word(Some(w)).as_str(),
                None => "unrated",
            };
            *self.new_by_severity.entry(name.to_owned()).or_default() += 1;
        }
    }
}
