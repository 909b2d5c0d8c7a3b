//! The impact set of one window: the bundle applied at a change-log position.

use std::collections::BTreeMap;

use super::{Collector, ImpactError, ImpactSet, Level, Reason};
use crate::findings::parse;
use crate::formats::ParsedDocument;
use crate::matching::vex::{product_refs, ProductRef};
use crate::matching::{self, AdvisoryIndex, Finding, IssuedStatement, Knowledge, VexIndex};
use crate::model::{Advisory, Component, Digest, DocumentKind};
use crate::store::{Side, Store, StoredDocument};

/// The impact set of the window at `position`.
pub fn window(store: &Store, position: u64) -> Result<ImpactSet, ImpactError> {
    let last = store.position()?;
    match position {
        0 => return Err(ImpactError::NoWindow),
        p if p > last => return Err(ImpactError::FutureWindow { asked: p, last }),
        _ => {}
    }
    let mut collector = Collector::default();
    advisories(store, position, &mut collector)?;
    vex(store, position, &mut collector)?;
    sboms(store, position, &mut collector)?;
    Ok(collector.finish(store, position)?)
}

/// How a document changed at the window, from the sides present.
fn change_word(sides: &[Side], withdrawn_now: bool) -> &'static str {
    match (sides.contains(&Side::Old), sides.contains(&Side::New)) {
        (_, true) if withdrawn_now => "withdrawn",
        (true, true) => "changed",
        (false, true) => "added",
        _ => "withdrawn",
    }
}

/// Groups a window's versions by (feed, id), keeping both sides.
fn by_document(
    changed: Vec<(Side, StoredDocument)>,
) -> BTreeMap<(String, String), Vec<(Side, StoredDocument)>> {
    let mut out: BTreeMap<(String, String), Vec<(Side, StoredDocument)>> = BTreeMap::new();
    for (side, doc) in changed {
        out.entry((doc.feed.clone(), doc.doc_id.clone()))
            .or_default()
            .push((side, doc));
    }
    out
}

/// What a changed advisory id stands for in reasons.
struct AdvisoryChange {
    feed: String,
    id: String,
    change: &'static str,
    level: Level,
}

fn advisories(store: &Store, position: u64, out: &mut Collector) -> Result<(), ImpactError> {
    let changed = by_document(store.changed_at(DocumentKind::Advisory, position)?);
    let (mut old, mut new) = (Vec::new(), Vec::new());
    let mut changes: BTreeMap<String, Vec<AdvisoryChange>> = BTreeMap::new();
    for ((feed, id), versions) in changed {
        let sides: Vec<Side> = versions.iter().map(|(s, _)| *s).collect();
        let mut withdrawn_now = false;
        let mut level = Level::Low;
        for (side, doc) in &versions {
            let ParsedDocument::Advisory(advisory) = parse(doc, DocumentKind::Advisory)? else {
                continue;
            };
            level = level.max(Level::of_database_word(
                advisory.database_severity.as_deref(),
            ));
            match side {
                Side::Old => old.push(advisory),
                Side::New => {
                    withdrawn_now = advisory.withdrawn.is_some();
                    new.push(advisory)
                }
            }
        }
        let change = change_word(&sides, withdrawn_now);
        let record = AdvisoryChange {
            feed,
            id: id.clone(),
            change,
            level,
        };
        changes.entry(id).or_default().push(record);
    }
    for side in [old, new] {
        affected_by(store, position, side, &changes, out)?;
    }
    Ok(())
}

/// Adds every artifact with a component the advisories of one side judge.
fn affected_by(
    store: &Store,
    position: u64,
    advisories: Vec<Advisory>,
    changes: &BTreeMap<String, Vec<AdvisoryChange>>,
    out: &mut Collector,
) -> Result<(), ImpactError> {
    for (artifact, finding) in judged(store, position, advisories)? {
        for evidence in &finding.evidence.advisories {
            for change in changes.get(&evidence.id).into_iter().flatten() {
                let reason = Reason {
                    kind: "advisory".to_owned(),
                    feed: change.feed.clone(),
                    id: change.id.clone(),
                    change: change.change.to_owned(),
                    component: Some(finding.component.clone()),
                };
                out.add(&artifact, change.level, reason);
            }
        }
    }
    Ok(())
}

/// What `advisories` alone conclude about the artifacts holding at `position` that
/// ship one of their packages: (artifact, finding) pairs, VEX left out.
pub(super) fn judged(
    store: &Store,
    position: u64,
    advisories: Vec<Advisory>,
) -> Result<Vec<(String, Finding)>, ImpactError> {
    let index = AdvisoryIndex::new(advisories);
    let candidates = candidates(store, position, &index)?;
    let no_vex = VexIndex::default();
    let trust_all = |_: &IssuedStatement| true;
    let knowledge = Knowledge {
        advisories: &index,
        vex: &no_vex,
        trust: &trust_all,
    };
    let mut out = Vec::new();
    for (artifact, components) in candidates {
        let Ok(digest) = artifact.parse::<Digest>() else {
            continue;
        };
        let found = matching::findings(&digest, &components, knowledge);
        out.extend(found.into_iter().map(|f| (artifact.clone(), f)));
    }
    Ok(out)
}

/// The components, per artifact, filed under any key of `index`, as of `position`.
fn candidates(
    store: &Store,
    position: u64,
    index: &AdvisoryIndex,
) -> Result<BTreeMap<String, Vec<Component>>, ImpactError> {
    let mut out: BTreeMap<String, Vec<Component>> = BTreeMap::new();
    for key in index.keys() {
        for row in store.components_of(&key.text(), position)? {
            let components = out.entry(row.artifact).or_default();
            if components
                .iter()
                .any(|c| c.purl.as_deref() == Some(&row.purl))
            {
                continue;
            }
            components.push(Component {
                bom_ref: None,
                group: None,
                name: String::new(),
                version: row.version,
                purl: Some(row.purl),
                hashes: Vec::new(),
            });
        }
    }
    Ok(out)
}

/// Statements may name artifacts this site never described; only described ones count.
fn vex(store: &Store, position: u64, out: &mut Collector) -> Result<(), ImpactError> {
    let changed = by_document(store.changed_at(DocumentKind::Vex, position)?);
    if changed.is_empty() {
        return Ok(());
    }
    let described: std::collections::BTreeSet<String> = store
        .artifacts_as_of(position)?
        .into_iter()
        .map(|a| a.artifact)
        .collect();
    for ((feed, id), versions) in changed {
        let sides: Vec<Side> = versions.iter().map(|(s, _)| *s).collect();
        let change = change_word(&sides, false);
        for (_, doc) in &versions {
            let ParsedDocument::Vex(document) = parse(doc, DocumentKind::Vex)? else {
                continue;
            };
            let products = document.statements.iter().flat_map(|s| &s.products);
            for reference in products.flat_map(product_refs) {
                let reason = |component: Option<String>| Reason {
                    kind: "vex".to_owned(),
                    feed: feed.clone(),
                    id: id.clone(),
                    change: change.to_owned(),
                    component,
                };
                match reference {
                    ProductRef::Artifact(artifact) if described.contains(&artifact) => {
                        out.add(&artifact, Level::Medium, reason(None));
                    }
                    ProductRef::Artifact(_) => {}
                    ProductRef::Package(key) => {
                        for row in store.components_of(&key.text(), position)? {
                            out.add(&row.artifact, Level::Medium, reason(Some(row.purl)));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn sboms(store: &Store, position: u64, out: &mut Collector) -> Result<(), ImpactError> {
    let changed = by_document(store.changed_at(DocumentKind::Sbom, position)?);
    for ((feed, artifact), versions) in changed {
        let sides: Vec<Side> = versions.iter().map(|(s, _)| *s).collect();
        let reason = Reason {
            kind: "sbom".to_owned(),
            feed,
            id: artifact.clone(),
            change: change_word(&sides, false).to_owned(),
            component: None,
        };
        out.add(&artifact, Level::Medium, reason);
    }
    Ok(())
}
