//! OSV `affected` entries, compiled once and evaluated against component versions.
//!
//! Evaluation follows the OSV schema's algorithm: a range's events are sorted by version
//! (`introduced: "0"` first), then walked: `introduced` at or below the version makes it
//! affected, `fixed` at or below makes it safe again, `last_affected` strictly below makes
//! it safe; with `limit` events the version must also lie below one of them. The explicit
//! `versions` list counts as well. `SEMVER` ranges use SemVer whatever the ecosystem.
//!
//! What cannot be decided is said, never guessed: a component without a version, a
//! version or bound the scheme cannot read, an ecosystem we cannot order, an entry given
//! only by commits (`GIT` ranges) — each yields [`Verdict::Unknown`] with its reason.

use std::cmp::Ordering;

use super::version::{Scheme, Version};
use crate::model::{Affected, Range, RangeEvent, RangeKind};

/// The outcome of one entry (or one range) for one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Affected(Hit),
    NotAffected,
    Unknown(String),
}

/// Why a version is affected: the range (or `versions` list) that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The range, as the advisory wrote it; `None` when the `versions` list matched.
    pub range: Option<Range>,
    /// The first `fixed` version above the component's, when the range has one.
    pub fixed: Option<String>,
}

/// The reason given for a `GIT`-only entry.
pub const GIT_ONLY: &str = "cannot evaluate offline: the advisory gives only GIT commit ranges";

#[derive(Clone, Debug)]
pub struct CompiledAffected {
    scheme: Option<Scheme>,
    ecosystem: String,
    ranges: Vec<CompiledRange>,
    versions: Vec<String>,
    has_git: bool,
}

#[derive(Clone, Debug)]
enum CompiledRange {
    Ordered(OrderedRange),
    /// A range we cannot use, and why.
    Broken(String),
}

#[derive(Clone, Debug)]
struct OrderedRange {
    scheme: Scheme,
    raw: Range,
    /// Sorted; `None` is `introduced: "0"`.
    events: Vec<(EventKind, Option<Version>)>,
    /// `None` is `limit: "*"`.
    limits: Vec<Option<Version>>,
    fixes: Vec<(Version, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventKind {
    Introduced,
    Fixed,
    LastAffected,
}

impl CompiledAffected {
    /// Compiles an entry whose ecosystem orders versions by `scheme` (`None`: unknown).
    pub fn compile(affected: &Affected, ecosystem: &str, scheme: Option<Scheme>) -> Self {
        let ranges = affected
            .ranges
            .iter()
            .filter(|r| r.kind != RangeKind::Git)
            .map(|range| compile_range(range, ecosystem, scheme))
            .collect();
        CompiledAffected {
            scheme,
            ecosystem: ecosystem.to_owned(),
            ranges,
            versions: affected.versions.clone(),
            has_git: affected.ranges.iter().any(|r| r.kind == RangeKind::Git),
        }
    }

    /// Whether `version` (the component's, if it has one) is affected.
    pub fn evaluate(&self, version: Option<&str>) -> Verdict {
        let Some(version) = version.filter(|v| !v.trim().is_empty()) else {
            return Verdict::Unknown("the component has no version".to_owned());
        };
        if self.ranges.is_empty() && self.versions.is_empty() {
            return Verdict::Unknown(self.nothing_to_evaluate());
        }
        // Ranges first: a range hit names the range and its fix, a list hit neither.
        let ranged = self.ranges.iter().map(|r| r.evaluate(version));
        combine(ranged.chain(self.listed(version)))
    }

    fn nothing_to_evaluate(&self) -> String {
        if self.has_git {
            GIT_ONLY.to_owned()
        } else {
            "the advisory entry lists neither ranges nor versions".to_owned()
        }
    }

    /// The `versions` list: the same text, or an equal version in the ecosystem's scheme.
    fn listed(&self, version: &str) -> Option<Verdict> {
        if self.versions.is_empty() {
            return None;
        }
        let parsed = self.scheme.and_then(|s| s.parse(version).ok());
        let equal = |listed: &String| {
            listed == version || equal_versions(self.scheme, parsed.as_ref(), listed)
        };
        let hit = Hit {
            range: None,
            fixed: None,
        };
        Some(if self.versions.iter().any(equal) {
            Verdict::Affected(hit)
        } else {
            Verdict::NotAffected
        })
    }

    pub fn ecosystem(&self) -> &str {
        &self.ecosystem
    }
}

fn equal_versions(scheme: Option<Scheme>, version: Option<&Version>, listed: &str) -> bool {
    let (Some(scheme), Some(version)) = (scheme, version) else {
        return false;
    };
    let listed = scheme.parse(listed).ok();
    listed.and_then(|l| l.compare(version)) == Some(Ordering::Equal)
}

/// Affected if any says so; otherwise unknown if any cannot tell; otherwise not affected.
fn combine(verdicts: impl Iterator<Item = Verdict>) -> Verdict {
    let mut unknown = None;
    for verdict in verdicts {
        match verdict {
            Verdict::Affected(hit) => return Verdict::Affected(hit),
            Verdict::Unknown(reason) => unknown = unknown.or(Some(reason)),
            Verdict::NotAffected => {}
        }
    }
    unknown.map_or(Verdict::NotAffected, Verdict::Unknown)
}

fn compile_range(range: &Range, ecosystem: &str, scheme: Option<Scheme>) -> CompiledRange {
    let scheme = match range.kind {
        RangeKind::Semver => Some(Scheme::Semver),
        _ => scheme,
    };
    let Some(scheme) = scheme else {
        let reason =
            format!("cannot evaluate offline: no version ordering for ecosystem {ecosystem:?}");
        return CompiledRange::Broken(reason);
    };
    match OrderedRange::compile(range, scheme) {
        Ok(ordered) => CompiledRange::Ordered(ordered),
        Err(reason) => CompiledRange::Broken(reason),
    }
}

impl OrderedRange {
    fn compile(range: &Range, scheme: Scheme) -> Result<Self, String> {
        let mut events = Vec::new();
        let mut limits = Vec::new();
        let mut fixes = Vec::new();
        for event in &range.events {
            let text = event.version();
            let parse = || bound(scheme, text);
            match event {
                RangeEvent::Introduced(v) if v == "0" => events.push((EventKind::Introduced, None)),
                RangeEvent::Introduced(_) => events.push((EventKind::Introduced, Some(parse()?))),
                RangeEvent::Fixed(_) => {
                    let version = parse()?;
                    fixes.push((version.clone(), text.to_owned()));
                    events.push((EventKind::Fixed, Some(version)));
                }
                RangeEvent::LastAffected(_) => {
                    events.push((EventKind::LastAffected, Some(parse()?)))
                }
                RangeEvent::Limit(v) if v == "*" => limits.push(None),
                RangeEvent::Limit(_) => limits.push(Some(parse()?)),
            }
        }
        events.sort_by(|a, b| compare_bounds(a.1.as_ref(), b.1.as_ref()));
        fixes.sort_by(|a, b| compare_bounds(Some(&a.0), Some(&b.0)));
        Ok(OrderedRange {
            scheme,
            raw: range.clone(),
            events,
            limits,
            fixes,
        })
    }

    /// The walk of the OSV algorithm over sorted events.
    fn affects(&self, version: &Version) -> bool {
        let below_a_limit = self.limits.is_empty()
            || self.limits.iter().any(|limit| {
                limit
                    .as_ref()
                    .is_none_or(|l| is(version, Ordering::Less, l))
            });
        let mut affected = false;
        for (kind, bound) in &self.events {
            affected = match (kind, bound) {
                (EventKind::Introduced, None) => true,
                (EventKind::Introduced, Some(b)) => affected || !is(version, Ordering::Less, b),
                (EventKind::Fixed, Some(b)) => affected && is(version, Ordering::Less, b),
                (EventKind::LastAffected, Some(b)) => {
                    affected && !is(version, Ordering::Greater, b)
                }
                (_, None) => affected,
            };
        }
        affected && below_a_limit
    }

    fn first_fix_above(&self, version: &Version) -> Option<String> {
        let fix = self
            .fixes
            .iter()
            .find(|(fix, _)| is(fix, Ordering::Greater, version));
        fix.map(|(_, text)| text.clone())
    }

    fn verdict_at(&self, version: &Version) -> Verdict {
        if self.affects(version) {
            Verdict::Affected(Hit {
                range: Some(self.raw.clone()),
                fixed: self.first_fix_above(version),
            })
        } else {
            Verdict::NotAffected
        }
    }

    /// For a partial version (`0.14`): the verdict of its series when every version of
    /// the series gets the same one, `Unknown` when a bound falls inside it.
    fn series_verdict(&self, text: &str, low: &Version, high: &Version) -> Verdict {
        let inside = |b: &Version| is(b, Ordering::Greater, low) && is(b, Ordering::Less, high);
        let split = self
            .events
            .iter()
            .filter_map(|(_, b)| b.as_ref())
            .find(|b| inside(b));
        let split = split.or_else(|| self.limits.iter().flatten().find(|b| inside(b)));
        match (split, self.verdict_at(low)) {
            (None, verdict) => verdict,
            (Some(_), Verdict::Affected(_)) => Verdict::Unknown(format!(
                "partial version {text:?}: its lowest release is affected, but a bound of \
                 the range falls inside the {text} series"
            )),
            (Some(_), _) => Verdict::Unknown(format!(
                "partial version {text:?}: its lowest release is not affected, but a bound \
                 of the range falls inside the {text} series"
            )),
        }
    }
}

impl CompiledRange {
    fn evaluate(&self, text: &str) -> Verdict {
        let range = match self {
            CompiledRange::Broken(reason) => return Verdict::Unknown(reason.clone()),
            CompiledRange::Ordered(range) => range,
        };
        match range.scheme.parse(text) {
            Ok(version) => range.verdict_at(&version),
            Err(err) => match range.scheme.partial_series(text) {
                Some((low, high)) => range.series_verdict(text, &low, &high),
                None => Verdict::Unknown(err.to_string()),
            },
        }
    }
}

fn bound(scheme: Scheme, text: &str) -> Result<Version, String> {
    scheme
        .parse(text)
        .map_err(|err| format!("cannot evaluate the range: its bound {err}"))
}

fn is(a: &Version, expected: Ordering, b: &Version) -> bool {
    a.compare(b) == Some(expected)
}

/// Orders bounds, `None` (`"0"`) first.
fn compare_bounds(a: Option<&Version>, b: Option<&Version>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => a.compare(b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(kind: RangeKind, events: Vec<RangeEvent>, versions: &[&str]) -> Affected {
        Affected {
            package: None,
            ranges: vec![Range {
                kind,
                repo: None,
                events,
            }],
            versions: versions.iter().map(|v| v.to_string()).collect(),
            ecosystem_specific: None,
            database_specific: None,
        }
    }

    fn verdicts(affected: &Affected, scheme: Scheme, versions: &[&str]) -> Vec<bool> {
        let compiled = CompiledAffected::compile(affected, "x", Some(scheme));
        let affected = |v: &&str| matches!(compiled.evaluate(Some(v)), Verdict::Affected(_));
        versions.iter().map(affected).collect()
    }

    use RangeEvent::{Fixed, Introduced, LastAffected, Limit};

    #[test]
    fn unordered_events_are_sorted_before_the_walk() {
        let events = vec![
            Introduced("2.0.0".into()),
            Fixed("2.0.6".into()),
            Introduced("0".into()),
            Fixed("1.26.17".into()),
        ];
        let affected = entry(RangeKind::Ecosystem, events, &[]);
        let got = verdicts(
            &affected,
            Scheme::Pep440,
            &["1.26.16", "1.26.17", "2.0.5", "2.0.6"],
        );
        assert_eq!(got, [true, false, true, false]);
    }

    #[test]
    fn last_affected_is_inclusive_and_limit_exclusive() {
        let events = vec![Introduced("0".into()), LastAffected("3.9.19".into())];
        let affected = entry(RangeKind::Ecosystem, events, &[]);
        assert_eq!(
            verdicts(&affected, Scheme::Semver, &["3.9.19", "3.9.20"]),
            [true, false]
        );
        let events = vec![Introduced("1.13.0".into()), Limit("1.14.2".into())];
        let affected = entry(RangeKind::Ecosystem, events, &[]);
        let got = verdicts(
            &affected,
            Scheme::Pep440,
            &["1.12", "1.13.0", "1.14.1", "1.14.2"],
        );
        assert_eq!(got, [false, true, true, false]);
    }

    #[test]
    fn the_versions_list_matches_equal_versions() {
        let affected = entry(
            RangeKind::Ecosystem,
            vec![Introduced("5.0".into())],
            &["1.0"],
        );
        assert_eq!(
            verdicts(&affected, Scheme::Pep440, &["1.0.0", "1.1", "5.1"]),
            [true, false, true]
        );
    }

    /// Regression: PYSEC-2024-60 lists idna 2.10 and has the range [0.1, 3.7); the
    /// finding named neither the range nor the fix because the list was tried first.
    #[test]
    fn a_range_hit_is_preferred_to_a_versions_list_hit() {
        let events = vec![Introduced("0.1".into()), Fixed("3.7".into())];
        let affected = entry(RangeKind::Ecosystem, events, &["2.9", "2.10"]);
        let compiled = CompiledAffected::compile(&affected, "PyPI", Some(Scheme::Pep440));
        let Verdict::Affected(hit) = compiled.evaluate(Some("2.10")) else {
            panic!()
        };
        assert_eq!(hit.fixed.as_deref(), Some("3.7"));
        assert_eq!(hit.range, Some(affected.ranges[0].clone()));
    }

    #[test]
    fn git_only_and_missing_versions_are_unknown() {
        let mut affected = entry(RangeKind::Git, vec![Introduced("0".into())], &[]);
        let compiled = CompiledAffected::compile(&affected, "PyPI", Some(Scheme::Pep440));
        assert_eq!(
            compiled.evaluate(Some("1.0")),
            Verdict::Unknown(GIT_ONLY.to_owned())
        );
        affected.ranges[0].kind = RangeKind::Ecosystem;
        let compiled = CompiledAffected::compile(&affected, "PyPI", Some(Scheme::Pep440));
        let Verdict::Unknown(reason) = compiled.evaluate(None) else {
            panic!()
        };
        assert_eq!(reason, "the component has no version");
        let compiled = CompiledAffected::compile(&affected, "CRAN", None);
        let Verdict::Unknown(reason) = compiled.evaluate(Some("1")) else {
            panic!()
        };
        assert!(reason.starts_with("cannot evaluate offline"), "{reason}");
    }

    #[test]
    fn a_partial_version_is_decided_only_when_its_series_agrees() {
        let events = vec![Introduced("0.0.0-0".into()), Fixed("0.14.10".into())];
        let affected = entry(RangeKind::Semver, events, &[]);
        let compiled = CompiledAffected::compile(&affected, "crates.io", Some(Scheme::Semver));
        assert!(matches!(
            compiled.evaluate(Some("0.14")),
            Verdict::Unknown(_)
        ));
        assert!(matches!(
            compiled.evaluate(Some("0.13")),
            Verdict::Affected(_)
        ));
        assert_eq!(compiled.evaluate(Some("0.15")), Verdict::NotAffected);
    }

    #[test]
    fn the_fix_reported_is_the_first_above_the_version() {
        let events = vec![
            Introduced("0".into()),
            Fixed("1.0.0".into()),
            Introduced("2.0.0".into()),
            Fixed("2.0.6".into()),
        ];
        let affected = entry(RangeKind::Semver, events, &[]);
        let compiled = CompiledAffected::compile(&affected, "npm", Some(Scheme::Semver));
        let Verdict::Affected(hit) = compiled.evaluate(Some("2.0.1")) else {
            panic!()
        };
        assert_eq!(hit.fixed.as_deref(), Some("2.0.6"));
    }
}
