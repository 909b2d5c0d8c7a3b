//! The impact set of one window: the bundle applied at a change-log position.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Change, Collector, ImpactError, ImpactSet, Level, Reason, ReasonKind};
use crate::findings::parse;
use crate::formats::ParsedDocument;
use crate::matching::ecosystem::release_covers;
use crate::matching::vex::{product_refs, ProductRef};
use crate::matching::{AdvisoryIndex, Verdict};
use crate::model::{Advisory, DocumentKind};
use crate::store::{ComponentRef, Side, Store, StoredDocument};

/// The impact set of the window at `position`.
pub fn window(store: &Store, position: u64) -> Result<ImpactSet, ImpactError> {
    let last = store.position()?;
    match position {
        0 => return Err(ImpactError::NoWindow),
        p if p > last => return Err(ImpactError::FutureWindow { asked: p, last }),
        _ => {}
    }
    let started = std::time::Instant::now();
    let mut collector = Collector::default();
    advisories(store, position, &mut collector)?;
    let advisories_ms = started.elapsed().as_secs_f64() * 1e3;
    vex(store, position, &mut collector)?;
    sboms(store, position, &mut collector)?;
    let set = collector.finish(store, position)?;
    tracing::debug!(
        position,
        advisories_ms,
        total_ms = started.elapsed().as_secs_f64() * 1e3,
        artifacts = set.artifacts.len(),
        "impact set computed"
    );
    Ok(set)
}

/// How a document changed at the window, from the sides present.
fn change_word(sides: &[Side], withdrawn_now: bool) -> Change {
    match (sides.contains(&Side::Old), sides.contains(&Side::New)) {
        (_, true) if withdrawn_now => Change::Withdrawn,
        (true, true) => Change::Changed,
        (false, true) => Change::Added,
        _ => Change::Withdrawn,
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
    feed: Arc<str>,
    id: Arc<str>,
    change: Change,
    level: Level,
}

fn advisories(store: &Store, position: u64, out: &mut Collector) -> Result<(), ImpactError> {
    let started = std::time::Instant::now();
    let changed = by_document(store.changed_at(DocumentKind::Advisory, position)?);
    tracing::debug!(
        read_ms = started.elapsed().as_secs_f64() * 1e3,
        "changed advisories read"
    );
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
            feed: feed.into(),
            id: id.as_str().into(),
            change,
            level,
        };
        changes.entry(id).or_default().push(record);
    }
    tracing::debug!(
        parsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "changed advisories parsed"
    );
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
    judged(store, position, advisories, |row, advisory| {
        for change in changes.get(advisory).into_iter().flatten() {
            let reason = Reason {
                kind: ReasonKind::Advisory,
                feed: change.feed.clone(),
                id: change.id.clone(),
                change: change.change,
                component: Some(row.purl.to_owned()),
            };
            out.add(row.artifact, change.level, reason);
        }
    })
}

/// Calls `hit` with every component of the artifacts holding at `position` that one of
/// `advisories` judges affected or cannot decide, and that advisory's id: exactly the
/// (component, advisory) pairs matching would turn into findings before VEX, read from
/// the impact index without parsing any SBOM. (One difference, on the safe side: a Go
/// package filed under a module prefix is not checked against longer modules of the same
/// artifact.)
pub(super) fn judged(
    store: &Store,
    position: u64,
    advisories: Vec<Advisory>,
    mut hit: impl FnMut(ComponentRef<'_>, &str),
) -> Result<(), ImpactError> {
    let index = AdvisoryIndex::new(advisories);
    let (started, mut rows) = (std::time::Instant::now(), 0u64);
    for key in index.keys() {
        let entries = index.lookup(key);
        store.scan_components(&key.text(), position, |row| {
            rows += 1;
            for at in entries {
                let entry = index.entry(*at);
                let release_ok = match (&entry.package.release, row.release) {
                    (Some(advisory), Some(component)) => release_covers(advisory, component),
                    _ => true,
                };
                if release_ok && entry.compiled.evaluate(row.version) != Verdict::NotAffected {
                    hit(row, &index.advisory(at.advisory).id);
                }
            }
        })?;
    }
    let judged_ms = started.elapsed().as_secs_f64() * 1e3;
    tracing::debug!(
        keys = index.keys().len(),
        rows,
        judged_ms,
        "components judged"
    );
    Ok(())
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
                    kind: ReasonKind::Vex,
                    feed: feed.as_str().into(),
                    id: id.as_str().into(),
                    change,
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
            kind: ReasonKind::Sbom,
            feed: feed.into(),
            id: artifact.as_str().into(),
            change: change_word(&sides, false),
            component: None,
        };
        out.add(&artifact, Level::Medium, reason);
    }
    Ok(())
}
