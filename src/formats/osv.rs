//! OSV advisories (schema 1.x), JSON or the YAML the PyPA database publishes.
//!
//! Beyond field types, one rule of the schema is enforced: every range needs an
//! `introduced` event, because a range without one matches no version and would hide the
//! advisory rather than fail loudly.

use super::error::Problem;
use super::tree::{Node, Obj};
use crate::model::{Advisory, Affected, Package, Range, RangeEvent, RangeKind, Severity};

pub(super) fn parse(root: &Obj) -> Result<Advisory, Problem> {
    Ok(Advisory {
        id: root.str("id")?.to_owned(),
        schema_version: root.opt_string("schema_version")?,
        aliases: root.strings("aliases")?,
        upstream: root.strings("upstream")?,
        modified: root.time("modified")?,
        published: root.opt_time("published")?,
        withdrawn: root.opt_time("withdrawn")?,
        summary: root.opt_string("summary")?,
        severity: each(root.objects("severity")?, severity)?,
        database_severity: database_severity(root)?,
        affected: each(root.objects("affected")?, affected)?,
    })
}

fn each<T>(objs: Vec<Obj>, read: fn(&Obj) -> Result<T, Problem>) -> Result<Vec<T>, Problem> {
    objs.iter().map(read).collect()
}

fn severity(obj: &Obj) -> Result<Severity, Problem> {
    Ok(Severity {
        kind: obj.str("type")?.to_owned(),
        score: obj.str("score")?.to_owned(),
    })
}

/// `database_specific.severity` when it is a word; its shape is the database's own, so
/// anything else there is not an error, just not a severity.
fn database_severity(root: &Obj) -> Result<Option<String>, Problem> {
    let Some(specific) = root.get("database_specific") else {
        return Ok(None);
    };
    let Ok(specific) = specific.obj() else {
        return Ok(None);
    };
    let word = specific
        .get("severity")
        .and_then(|node| node.value().as_str().map(str::to_owned));
    Ok(word.map(|w| w.to_lowercase()))
}

fn affected(obj: &Obj) -> Result<Affected, Problem> {
    Ok(Affected {
        package: obj.opt_obj("package")?.as_ref().map(package).transpose()?,
        ranges: each(obj.objects("ranges")?, range)?,
        versions: obj.strings("versions")?,
        ecosystem_specific: obj.raw("ecosystem_specific"),
        database_specific: obj.raw("database_specific"),
    })
}

fn package(obj: &Obj) -> Result<Package, Problem> {
    Ok(Package {
        ecosystem: obj.str("ecosystem")?.to_owned(),
        name: obj.str("name")?.to_owned(),
        purl: obj.opt_string("purl")?,
    })
}

fn range(obj: &Obj) -> Result<Range, Problem> {
    let kind = range_kind(obj)?;
    let events = obj.field("events")?.items()?;
    let events = events.iter().map(event).collect::<Result<Vec<_>, _>>()?;
    if !events
        .iter()
        .any(|e| matches!(e, RangeEvent::Introduced(_)))
    {
        return Err(Problem::NoIntroduced { path: obj.path() });
    }
    Ok(Range {
        kind,
        repo: obj.opt_string("repo")?,
        events,
    })
}

fn range_kind(obj: &Obj) -> Result<RangeKind, Problem> {
    match obj.str("type")? {
        "SEMVER" => Ok(RangeKind::Semver),
        "ECOSYSTEM" => Ok(RangeKind::Ecosystem),
        "GIT" => Ok(RangeKind::Git),
        other => Err(Problem::UnknownValue {
            path: obj.child_path("type"),
            what: "range type",
            value: other.to_owned(),
            expected: "SEMVER, ECOSYSTEM, GIT",
        }),
    }
}

/// An event is an object with exactly one of the four event fields.
fn event(node: &Node) -> Result<RangeEvent, Problem> {
    let obj = node.obj()?;
    let mut entries = obj.entries();
    let (Some((key, value)), None) = (entries.next(), entries.next()) else {
        let reason = "an event must have exactly one field".to_owned();
        return Err(Problem::Invalid {
            path: node.path(),
            reason,
        });
    };
    let version = value.str()?.to_owned();
    match key {
        "introduced" => Ok(RangeEvent::Introduced(version)),
        "fixed" => Ok(RangeEvent::Fixed(version)),
        "last_affected" => Ok(RangeEvent::LastAffected(version)),
        "limit" => Ok(RangeEvent::Limit(version)),
        other => Err(Problem::UnknownValue {
            path: node.path(),
            what: "event",
            value: other.to_owned(),
            expected: "introduced, fixed, last_affected, limit",
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::formats::tree;

    fn parse_yaml(text: &str) -> Result<Advisory, Problem> {
        let tree = tree::load("x.yaml", text.as_bytes())?;
        parse(&Node::root(&tree).obj()?)
    }

    const HEAD: &str = "id: T-1\nmodified: '2024-01-01T00:00:00Z'\naffected:\n- package:\n    \
                        ecosystem: PyPI\n    name: p\n  ranges:\n  - type: ECOSYSTEM\n";

    #[test]
    fn events_keep_their_order_and_kinds() {
        let events = "    - introduced: '0'\n    - last_affected: '1.0'\n    - limit: '2'\n";
        let text = format!("{HEAD}    events:\n{events}");
        let a = parse_yaml(&text).unwrap();
        let events = &a.affected[0].ranges[0].events;
        assert_eq!(
            events,
            &[
                RangeEvent::Introduced("0".into()),
                RangeEvent::LastAffected("1.0".into()),
                RangeEvent::Limit("2".into()),
            ]
        );
    }

    #[test]
    fn an_unquoted_yaml_number_is_refused_not_rounded() {
        let text = format!("{HEAD}    events:\n    - introduced: 2.10\n");
        let err = parse_yaml(&text).unwrap_err();
        let expected =
            "`affected[0].ranges[0].events[0].introduced`: expected a string, got a number";
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn an_event_with_two_fields_is_refused() {
        let text = format!("{HEAD}    events:\n    - introduced: '0'\n      fixed: '1'\n");
        let err = parse_yaml(&text).unwrap_err();
        let Problem::Invalid { path, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(path, "affected[0].ranges[0].events[0]");
    }

    #[test]
    fn unknown_range_types_and_events_are_named() {
        let text = format!("{HEAD}    events:\n    - introduced: '0'\n    - removed: '1'\n");
        let err = parse_yaml(&text).unwrap_err();
        assert!(
            err.to_string().contains("unknown event \"removed\""),
            "{err}"
        );
        let text = HEAD.replace("ECOSYSTEM", "NPM") + "    events:\n    - introduced: '0'\n";
        let err = parse_yaml(&text).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`affected[0].ranges[0].type`: unknown range type"),
            "{err}"
        );
    }

    #[test]
    fn database_severity_is_lower_cased_and_other_shapes_ignored() {
        let text =
            "id: T\nmodified: '2024-01-01T00:00:00Z'\ndatabase_specific:\n  severity: HIGH\n";
        assert_eq!(
            parse_yaml(text).unwrap().database_severity.as_deref(),
            Some("high")
        );
        let text = "id: T\nmodified: '2024-01-01T00:00:00Z'\ndatabase_specific:\n  severity: [1]\n";
        assert_eq!(parse_yaml(text).unwrap().database_severity, None);
    }

    #[test]
    fn a_bad_modified_time_is_refused() {
        let err = parse_yaml("id: T\nmodified: 'last week'\n").unwrap_err();
        assert!(
            matches!(err, Problem::BadTimestamp { ref path, .. } if path == "modified"),
            "{err}"
        );
    }
}
