//! Advisories indexed by package key, compiled once, for fast per-component lookups.
//!
//! Each `affected` entry is parsed (its key, scheme, release and sorted event versions)
//! when the index is built, so evaluating a component is one hash lookup plus a walk over
//! a few pre-parsed bounds. Withdrawn advisories are left out: they produce no findings.
//! When the same id arrives twice (a database republishes a record), the most recently
//! modified copy is kept.
//!
//! Go advisories may name a package (`golang.org/x/text/language`) where SBOMs list the
//! module (`golang.org/x/text`); their entries are also filed under every `/`-bounded
//! prefix of the path, marked, so that a module finds the packages inside it.

use std::collections::HashMap;

use super::ecosystem::{advisory_package, AdvisoryPackage, PackageKey};
use super::range::CompiledAffected;
use crate::model::{Advisory, Severity, Timestamp};

/// Advisories ready for matching.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    advisories: Vec<IndexedAdvisory>,
    by_key: HashMap<PackageKey, Vec<EntryRef>>,
    withdrawn: usize,
}

/// What a finding needs from an advisory.
#[derive(Debug)]
pub struct IndexedAdvisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub modified: Timestamp,
    pub severity: Vec<Severity>,
    pub database_severity: Option<String>,
    pub entries: Vec<IndexedEntry>,
}

/// One compiled `affected` entry.
#[derive(Debug)]
pub struct IndexedEntry {
    pub package: AdvisoryPackage,
    pub ecosystem: String,
    pub compiled: CompiledAffected,
}

/// Where a key points: advisory and entry, and whether the key is a module prefix of
/// the entry's Go package path rather than the path itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef {
    pub advisory: usize,
    pub entry: usize,
    pub go_prefix: bool,
}

impl AdvisoryIndex {
    pub fn new(advisories: impl IntoIterator<Item = Advisory>) -> Self {
        let mut index = AdvisoryIndex::default();
        let mut by_id: HashMap<String, Advisory> = HashMap::new();
        for advisory in advisories {
            if advisory.withdrawn.is_some() {
                index.withdrawn += 1;
                continue;
            }
            match by_id.get(&advisory.id) {
                Some(kept) if kept.modified >= advisory.modified => {}
                _ => {
                    by_id.insert(advisory.id.clone(), advisory);
                }
            }
        }
        let mut kept: Vec<Advisory> = by_id.into_values().collect();
        kept.sort_by(|a, b| a.id.cmp(&b.id));
        for advisory in kept {
            index.add(advisory);
        }
        index
    }

    fn add(&mut self, advisory: Advisory) {
        let position = self.advisories.len();
        let entries: Vec<IndexedEntry> = advisory.affected.iter().filter_map(compile).collect();
        for (entry, indexed) in entries.iter().enumerate() {
            self.file(&indexed.package.key, position, entry);
        }
        self.advisories.push(IndexedAdvisory {
            id: advisory.id,
            aliases: advisory.aliases,
            modified: advisory.modified,
            severity: advisory.severity,
            database_severity: advisory.database_severity,
            entries,
        });
    }

    fn file(&mut self, key: &PackageKey, advisory: usize, entry: usize) {
        let exact = EntryRef {
            advisory,
            entry,
            go_prefix: false,
        };
        self.by_key.entry(key.clone()).or_default().push(exact);
        let Some(path) = key.go_path() else { return };
        for (end, _) in path.match_indices('/') {
            let prefix = PackageKey {
                name: path[..end].to_owned(),
                ..key.clone()
            };
            let go_prefix = EntryRef {
                go_prefix: true,
                ..exact
            };
            self.by_key.entry(prefix).or_default().push(go_prefix);
        }
    }

    /// Every key an entry is filed under (Go module prefixes included), sorted.
    pub fn keys(&self) -> Vec<&PackageKey> {
        let mut keys: Vec<&PackageKey> = self.by_key.keys().collect();
        keys.sort();
        keys
    }

    /// The entries filed under `key`.
    pub fn lookup(&self, key: &PackageKey) -> &[EntryRef] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    pub fn advisory(&self, index: usize) -> &IndexedAdvisory {
        &self.advisories[index]
    }

    pub fn entry(&self, at: EntryRef) -> &IndexedEntry {
        &self.advisories[at.advisory].entries[at.entry]
    }

    /// Advisories kept (withdrawn ones and older duplicates left out).
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// How many withdrawn advisories were left out.
    pub fn withdrawn(&self) -> usize {
        self.withdrawn
    }
}

fn compile(affected: &crate::model::Affected) -> Option<IndexedEntry> {
    let package = affected.package.as_ref()?;
    let resolved = advisory_package(&package.ecosystem, &package.name, package.purl.as_deref())?;
    let compiled = CompiledAffected::compile(affected, &package.ecosystem, resolved.scheme);
    Some(IndexedEntry {
        package: resolved,
        ecosystem: package.ecosystem.clone(),
        compiled,
    })
}
