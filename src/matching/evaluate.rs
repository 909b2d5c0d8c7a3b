//! The findings of one artifact: its components against the advisory and VEX indexes.
//!
//! For each component, every advisory entry filed under one of its keys is evaluated;
//! advisories about the same flaw (sharing an id or alias) become one finding listing all
//! ids; trusted VEX statements then set the status. A trusted `affected` or
//! `under_investigation` statement about a component no advisory flags is a finding too.
//! Pure: the same inputs give the same findings in the same order.

use std::collections::{BTreeMap, BTreeSet};

use super::ecosystem::{component_lookups, release_covers, scheme_of_purl_type, Lookup};
use super::finding::{AdvisoryEvidence, Evidence, Finding, FindingSeverity, Status};
use super::index::{AdvisoryIndex, EntryRef, IndexedAdvisory};
use super::purl::Purl;
use super::range::Verdict;
use super::vex::{self, IssuedStatement, Target, Trust, VexIndex};
use crate::model::{Component, Digest, Severity, VexStatus};

/// What the findings of an artifact are computed against.
#[derive(Clone, Copy)]
pub struct Knowledge<'a> {
    pub advisories: &'a AdvisoryIndex,
    pub vex: &'a VexIndex,
    pub trust: &'a dyn Trust,
}

impl std::fmt::Debug for Knowledge<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knowledge")
            .field("advisories", &self.advisories.len())
            .field("vex", &self.vex.len())
            .finish_non_exhaustive()
    }
}

/// Every finding for the artifact `digest` with these components, sorted by component
/// then vulnerability. Components without a (valid) purl cannot be matched and are skipped.
pub fn findings(
    digest: &Digest,
    components: &[Component],
    knowledge: Knowledge<'_>,
) -> Vec<Finding> {
    let parsed: Vec<(&Component, Purl)> = components
        .iter()
        .filter_map(|c| Some((c, c.purl.as_deref()?.parse().ok()?)))
        .collect();
    let go_modules: Vec<String> = parsed
        .iter()
        .flat_map(|(c, p)| component_lookups(p, c.version.as_deref()))
        .filter_map(|l| l.key.go_path().map(str::to_owned))
        .collect();
    let mut all = BTreeMap::new();
    for (component, purl) in &parsed {
        let target = Target {
            artifact: digest,
            component,
            purl,
        };
        for finding in component_findings(target, &go_modules, knowledge) {
            let key = (finding.component.clone(), finding.vulnerability.clone());
            all.entry(key).or_insert(finding);
        }
    }
    all.into_values().collect()
}

/// One advisory's conclusion about one component.
struct Outcome<'a> {
    advisory: &'a IndexedAdvisory,
    status: Status,
    reason: Option<String>,
    evidence: Vec<AdvisoryEvidence>,
}

/// A set of ids naming one flaw, with the advisories that judged it.
struct Group<'a> {
    ids: Vec<String>,
    outcomes: Vec<Outcome<'a>>,
}

fn component_findings(target: Target<'_>, go_modules: &[String], k: Knowledge<'_>) -> Vec<Finding> {
    let lookups = component_lookups(target.purl, target.component.version.as_deref());
    let outcomes = outcomes(&lookups, go_modules, k.advisories);
    let mut groups = group(outcomes);
    add_vex_only_groups(&mut groups, &lookups, target, k);
    groups
        .into_iter()
        .filter_map(|g| finding(g, target, k))
        .collect()
}

/// Every advisory that judged the component affected or could not tell.
fn outcomes<'a>(
    lookups: &[Lookup],
    go_modules: &[String],
    index: &'a AdvisoryIndex,
) -> Vec<Outcome<'a>> {
    let mut judged: BTreeMap<usize, Vec<(EntryRef, &Lookup, Verdict)>> = BTreeMap::new();
    for lookup in lookups {
        for &at in index.lookup(&lookup.key) {
            if !applies(index, at, lookup, go_modules) {
                continue;
            }
            let verdict = index.entry(at).compiled.evaluate(lookup.version.as_deref());
            judged
                .entry(at.advisory)
                .or_default()
                .push((at, lookup, verdict));
        }
    }
    let judged = judged.into_iter();
    judged
        .filter_map(|(i, j)| outcome(index, index.advisory(i), &j))
        .collect()
}

/// The release and Go module filters of an index hit.
fn applies(index: &AdvisoryIndex, at: EntryRef, lookup: &Lookup, go_modules: &[String]) -> bool {
    let entry = index.entry(at);
    let release_ok = match (&entry.package.release, &lookup.release) {
        (Some(advisory), Some(component)) => release_covers(advisory, component),
        _ => true,
    };
    let module_ok =
        !at.go_prefix || module_owns(&lookup.key.name, &entry.package.key.name, go_modules);
    release_ok && module_ok
}

/// Whether Go module `module` contains package `package`: the package path continues the
/// module path at a `/`, not into a major-version suffix (`/v2` is another module), and
/// no longer module of the artifact contains it (Go resolves a package to the module with
/// the longest matching path).
fn module_owns(module: &str, package: &str, go_modules: &[String]) -> bool {
    let Some(rest) = package
        .strip_prefix(module)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let first = rest.split('/').next().unwrap_or(rest);
    let major_suffix = first
        .strip_prefix('v')
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n >= 2);
    let inside = |m: &String| package == m || package.starts_with(&format!("{m}/"));
    let longer = go_modules
        .iter()
        .any(|m| m.len() > module.len() && inside(m));
    !major_suffix && !longer
}

type Judgment<'a> = (EntryRef, &'a Lookup, Verdict);

fn outcome<'a>(
    index: &AdvisoryIndex,
    advisory: &'a IndexedAdvisory,
    judged: &[Judgment<'_>],
) -> Option<Outcome<'a>> {
    if let Some(reason) = release_ambiguity(index, judged) {
        let evidence = judged
            .iter()
            .map(|j| evidence(index, advisory, j))
            .collect();
        return Some(Outcome {
            advisory,
            status: Status::Unknown,
            reason: Some(reason),
            evidence,
        });
    }
    let affected: Vec<_> = judged
        .iter()
        .filter(|j| matches!(j.2, Verdict::Affected(_)))
        .collect();
    let unknown: Vec<_> = judged
        .iter()
        .filter(|j| matches!(j.2, Verdict::Unknown(_)))
        .collect();
    let (status, chosen) = match (affected.is_empty(), unknown.is_empty()) {
        (false, _) => (Status::Affected, affected),
        (true, false) => (Status::Unknown, unknown),
        (true, true) => return None,
    };
    let reason = chosen.iter().find_map(|j| match &j.2 {
        Verdict::Unknown(reason) => Some(reason.clone()),
        _ => None,
    });
    let evidence = chosen
        .iter()
        .map(|j| evidence(index, advisory, j))
        .collect();
    Some(Outcome {
        advisory,
        status,
        reason,
        evidence,
    })
}

/// A component that does not say its distribution release, judged differently by the
/// advisory's per-release entries, cannot be decided.
fn release_ambiguity(index: &AdvisoryIndex, judged: &[Judgment<'_>]) -> Option<String> {
    let per_release: Vec<_> = judged
        .iter()
        .filter(|(at, lookup, _)| {
            lookup.release.is_none() && index.entry(*at).package.release.is_some()
        })
        .collect();
    let kinds: BTreeSet<&str> = per_release.iter().map(|j| verdict_word(&j.2)).collect();
    let first = per_release.first()?;
    (kinds.len() > 1).then(|| {
        format!(
            "the component does not say which {} release it comes from, and the advisory's \
             verdict differs between releases",
            index
                .entry(first.0)
                .ecosystem
                .split(':')
                .next()
                .unwrap_or_default()
        )
    })
}

fn verdict_word(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Affected(_) => "affected",
        Verdict::NotAffected => "not_affected",
        Verdict::Unknown(_) => "unknown",
    }
}

fn evidence(
    index: &AdvisoryIndex,
    advisory: &IndexedAdvisory,
    judged: &Judgment<'_>,
) -> AdvisoryEvidence {
    let (at, lookup, verdict) = judged;
    let entry = index.entry(*at);
    let matched_by = match (at.go_prefix, lookup.source_package) {
        (true, _) => "go module prefix",
        (false, true) => "source package",
        (false, false) => "purl",
    };
    let (status, range, fixed, reason) = match verdict {
        Verdict::Affected(hit) => (Status::Affected, hit.range.clone(), hit.fixed.clone(), None),
        Verdict::Unknown(reason) => (Status::Unknown, None, None, Some(reason.clone())),
        Verdict::NotAffected => (Status::NotAffected, None, None, None),
    };
    AdvisoryEvidence {
        id: advisory.id.clone(),
        modified: advisory.modified,
        package: entry.package.key.to_string(),
        ecosystem: entry.ecosystem.clone(),
        verdict: status,
        range,
        fixed,
        reason,
        matched_by: matched_by.to_owned(),
    }
}

/// Merges outcomes whose ids or aliases overlap.
fn group(outcomes: Vec<Outcome<'_>>) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for outcome in outcomes {
        let ids: Vec<String> = std::iter::once(&outcome.advisory.id)
            .chain(&outcome.advisory.aliases)
            .cloned()
            .collect();
        let group = Group {
            ids,
            outcomes: vec![outcome],
        };
        merge_into(&mut groups, group);
    }
    groups
}

/// Adds `group`, absorbing every existing group it shares an id with.
fn merge_into<'a>(groups: &mut Vec<Group<'a>>, mut group: Group<'a>) {
    let mut i = 0;
    while i < groups.len() {
        if overlaps(&groups[i].ids, &group.ids) {
            let other = groups.swap_remove(i);
            group.ids.extend(other.ids);
            group.outcomes.extend(other.outcomes);
        } else {
            i += 1;
        }
    }
    groups.push(group);
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter()
        .any(|x| b.iter().any(|y| x.eq_ignore_ascii_case(y)))
}

/// Trusted `affected`/`under_investigation` statements naming the component, about a flaw
/// no advisory group covers, become groups of their own.
fn add_vex_only_groups(
    groups: &mut Vec<Group<'_>>,
    lookups: &[Lookup],
    target: Target<'_>,
    k: Knowledge<'_>,
) {
    for lookup in lookups {
        for issued in k.vex.naming(&lookup.key) {
            let raises = matches!(
                vex::status_for(&issued.statement, target),
                Some(VexStatus::Affected | VexStatus::UnderInvestigation)
            );
            if !raises || !k.trust.trusts(issued) {
                continue;
            }
            let name = &issued.statement.vulnerability;
            let ids = std::iter::once(&name.name)
                .chain(&name.aliases)
                .cloned()
                .collect();
            merge_into(
                groups,
                Group {
                    ids,
                    outcomes: Vec::new(),
                },
            );
        }
    }
}

fn finding(group: Group<'_>, target: Target<'_>, k: Knowledge<'_>) -> Option<Finding> {
    let ids = upper_ids(&group.ids);
    let applying: Vec<(&IssuedStatement, VexStatus)> = k
        .vex
        .about(&ids)
        .into_iter()
        .filter_map(|s| Some((s, vex::status_for(&s.statement, target)?)))
        .collect();
    let decision = vex::decide(applying, k.trust);
    let advisory_status = advisory_status(&group);
    let (status, reason) = match (&decision, advisory_status) {
        (Some(d), _) if d.status.is_some() => (d.status.expect("checked"), None),
        (Some(_), Some(found)) => found,
        (Some(_), None) => (
            Status::Unknown,
            Some("trusted VEX statements conflict".to_owned()),
        ),
        (None, Some(found)) => found,
        (None, None) => return None,
    };
    let (vulnerability, aliases) = names(&group.ids);
    let mut advisories: Vec<AdvisoryEvidence> = group
        .outcomes
        .iter()
        .flat_map(|o| o.evidence.clone())
        .collect();
    advisories.sort_by(|a, b| (&a.id, &a.package).cmp(&(&b.id, &b.package)));
    advisories.dedup();
    Some(Finding {
        artifact: target.artifact.clone(),
        vulnerability,
        aliases,
        component: component_text(target),
        status,
        justification: decision
            .as_ref()
            .filter(|_| status == Status::NotAffected)
            .and_then(|d| d.justification.clone()),
        reason,
        fixed_in: fixed_in(&advisories, target.purl),
        severity: severity(&group),
        vex_conflict: decision.as_ref().is_some_and(vex::Decision::is_conflict),
        evidence: Evidence {
            advisories,
            vex: decision.map(|d| d.evidence).unwrap_or_default(),
        },
    })
}

fn upper_ids(ids: &[String]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_uppercase()).collect()
}

/// Affected if an advisory says so, else unknown (with the first reason by advisory id).
fn advisory_status(group: &Group<'_>) -> Option<(Status, Option<String>)> {
    if group.outcomes.iter().any(|o| o.status == Status::Affected) {
        return Some((Status::Affected, None));
    }
    let mut unknown: Vec<&Outcome<'_>> = group.outcomes.iter().collect();
    unknown.sort_by(|a, b| a.advisory.id.cmp(&b.advisory.id));
    unknown.first().map(|o| (Status::Unknown, o.reason.clone()))
}

/// The preferred id (the smallest CVE, else the smallest id) and the other ids, sorted,
/// each spelled as first seen.
fn names(ids: &[String]) -> (String, Vec<String>) {
    let mut unique: BTreeMap<String, String> = BTreeMap::new();
    for id in ids {
        unique
            .entry(id.to_uppercase())
            .or_insert_with(|| id.clone());
    }
    let preferred = unique
        .keys()
        .find(|id| id.starts_with("CVE-"))
        .or_else(|| unique.keys().next())
        .cloned()
        .unwrap_or_default();
    let chosen = unique.remove(&preferred).unwrap_or_default();
    (chosen, unique.into_values().collect())
}

fn component_text(target: Target<'_>) -> String {
    let purl = target.purl;
    match (&purl.version, &target.component.version) {
        (None, Some(version)) => purl.with_version(Some(version)).to_string(),
        _ => purl.to_string(),
    }
}

/// The lowest fix any affected evidence gives, in the component's version order.
fn fixed_in(evidence: &[AdvisoryEvidence], purl: &Purl) -> Option<String> {
    let scheme = scheme_of_purl_type(&purl.ty);
    let fixes = evidence.iter().filter_map(|e| e.fixed.clone());
    fixes.min_by(|a, b| {
        let ordered = scheme.and_then(|s| s.compare(a, b).ok());
        ordered.unwrap_or_else(|| a.cmp(b))
    })
}

const LEVELS: [&str; 5] = ["low", "medium", "moderate", "high", "critical"];

fn severity(group: &Group<'_>) -> Option<FindingSeverity> {
    let advisories = group.outcomes.iter().map(|o| o.advisory);
    let level = advisories
        .clone()
        .filter_map(|a| a.database_severity.clone())
        .max_by_key(|word| LEVELS.iter().position(|l| l == word));
    let scores: BTreeSet<(String, String)> = advisories
        .flat_map(|a| &a.severity)
        .map(|s| (s.kind.clone(), s.score.clone()))
        .collect();
    let scores: Vec<Severity> = scores
        .into_iter()
        .map(|(kind, score)| Severity { kind, score })
        .collect();
    (level.is_some() || !scores.is_empty()).then_some(FindingSeverity { level, scores })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_go_package_belongs_to_the_longest_module_and_not_across_majors() {
        let modules = vec!["github.com/a/b".to_owned(), "github.com/a/b/sub".to_owned()];
        assert!(module_owns(
            "github.com/a/b",
            "github.com/a/b/pkg",
            &modules
        ));
        assert!(!module_owns(
            "github.com/a/b",
            "github.com/a/b/sub/pkg",
            &modules
        ));
        assert!(module_owns(
            "github.com/a/b/sub",
            "github.com/a/b/sub/pkg",
            &modules
        ));
        assert!(!module_owns(
            "github.com/a/b",
            "github.com/a/b/v2/pkg",
            &modules
        ));
        assert!(!module_owns(
            "github.com/a/b",
            "github.com/a/bc/pkg",
            &modules
        ));
    }

    #[test]
    fn the_preferred_name_is_the_smallest_cve() {
        let ids = [
            "GHSA-b",
            "CVE-2024-2",
            "cve-2024-2",
            "CVE-2023-9",
            "RUSTSEC-1",
        ]
        .map(String::from);
        let (name, aliases) = names(&ids);
        assert_eq!(name, "CVE-2023-9");
        assert_eq!(aliases, ["CVE-2024-2", "GHSA-b", "RUSTSEC-1"]);
        let (name, _) = names(&["GHSA-z".to_owned(), "GHSA-a".to_owned()]);
        assert_eq!(name, "GHSA-a");
    }
}
