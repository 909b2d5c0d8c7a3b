//! Schedules: a cron expression in an IANA time zone that creates a recheck run (trigger
//! `schedule`) at each of its fire times.
//!
//! Rules, each chosen so that a restart, a second process or a long downtime never makes
//! two runs for one fire time:
//!
//! - A fire time is an instant, written RFC 3339 UTC (`2026-03-29T01:00:00Z`); the run it
//!   creates has the idempotency key `schedule:<id>:<fire time>`, so two passes (or two
//!   processes) that both see a schedule due agree on one run.
//! - A new schedule owes its most recent fire time (the latest at or before its
//!   creation): the first scheduler pass after `add` creates a recheck at once, a baseline
//!   that later runs compare with, and one that needs no clock to test.
//! - After a downtime spanning several fire times, a schedule fires once, for the latest
//!   of them, and says so in a log line: rechecks read the latest state, so the missed
//!   ones would only repeat it.
//! - A resumed schedule skips the fire times that passed while it was paused.
//! - Time zones (chrono-tz, compiled in) and daylight saving follow croner's rules: a
//!   fixed time of day in a spring-forward gap fires at the first minute after the gap;
//!   in a fall-back repeat it fires once, at its first instance; a pattern with `*` or a
//!   step in the minute or hour field skips the minutes the gap removes and fires in both
//!   instances of a repeated hour. The tests below pin this for Europe/Berlin.
//!
//! Wall-clock time enters only as the `now_ms` argument, so every rule is tested at fixed
//! instants.

use std::str::FromStr as _;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use super::plan::{recheck_as, Request};
use super::{JobsError, Policies};
use crate::impact::Selector;
use crate::store::{NewSchedule, RunRecord, ScheduleRecord, Store, StoreError};

/// The longest schedule name.
pub const NAME_MAX: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "schedule name {name:?} is invalid: {reason} (names match [a-z0-9][a-z0-9._-]{{0,63}})"
    )]
    Name { name: String, reason: String },
    #[error("cron expression {expr:?} has {found} field(s); a schedule takes 5: minute hour day-of-month month day-of-week")]
    CronFields { expr: String, found: usize },
    #[error("cron expression {expr:?} is invalid{place}")]
    Cron {
        expr: String,
        /// Which field croner refused, when one alone is at fault: ` in its hour field "25"`.
        place: String,
        #[source]
        source: CronError,
    },
    #[error("cron expression {expr:?} has no fire time in {timezone} (before the year 5000)")]
    NeverFires {
        expr: String,
        timezone: String,
        #[source]
        source: CronError,
    },
    #[error("time zone {given:?} is not an IANA zone name (such as Europe/Berlin or UTC; names are case-sensitive)")]
    Zone { given: String },
    #[error("schedule {0:?} exists")]
    Exists(String),
    #[error("no schedule {0:?}")]
    NotFound(String),
    #[error("the clock reads {0} ms since 1970, which is no date a schedule handles")]
    Clock(i64),
    #[error("stored schedule {schedule_id} does not parse (the store is damaged)")]
    Stored {
        schedule_id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Jobs(#[from] JobsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A parsed cron expression in its time zone: what computes fire times.
#[derive(Clone, Debug)]
pub struct Cadence {
    cron: Cron,
    zone: Tz,
}

impl Cadence {
    /// Parses a 5-field cron expression (or an `@daily`-style nickname) and an IANA zone
    /// name. Seconds and years are refused: a schedule fires on whole minutes.
    pub fn parse(expr: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let zone = Tz::from_str(timezone).map_err(|_| ScheduleError::Zone {
            given: timezone.to_owned(),
        })?;
        let trimmed = expr.trim();
        let found = trimmed.split_whitespace().count();
        if !trimmed.starts_with('@') && found != 5 {
            return Err(ScheduleError::CronFields {
                expr: expr.to_owned(),
                found,
            });
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser
            .parse(trimmed)
            .map_err(|source| ScheduleError::Cron {
                expr: expr.to_owned(),
                place: culprit(&parser, trimmed),
                source,
            })?;
        Ok(Self { cron, zone })
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>, ScheduleError> {
        let local = t.with_timezone(&self.zone);
        let next = self.cron.find_next_occurrence(&local, false);
        next.map(|n| n.with_timezone(&Utc))
            .map_err(|source| self.never_fires(source))
    }

    /// The last fire time at or before `now`, counting forward from `owed` (a fire time
    /// this cadence gave, not after `now`), or for a new schedule from its past.
    ///
    /// Counting forward keeps croner's forward rules (a fixed time fires once in a
    /// repeated hour). Counting from a long-past `owed` would take a step per missed
    /// fire time, so the count starts at most a day before `now`, from the fire time a
    /// backward search finds there (which also names the first instance of a repeated
    /// hour: a test pins it).
    pub fn latest_at(
        &self,
        owed: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, ScheduleError> {
        let day_before = (now - TimeDelta::days(1)).with_timezone(&self.zone);
        let backward = self.cron.find_previous_occurrence(&day_before, true);
        let backward = backward
            .map(|b| b.with_timezone(&Utc))
            .map_err(|source| self.never_fires(source))?;
        let mut latest = owed.map_or(backward, |o| o.max(backward));
        loop {
            let next = self.next_after(latest)?;
            if next > now {
                return Ok(latest);
            }
            latest = next;
        }
    }

    fn never_fires(&self, source: CronError) -> ScheduleError {
        ScheduleError::NeverFires {
            expr: self.cron.as_str().to_owned(),
            timezone: self.zone.name().to_owned(),
            source,
        }
    }
}

/// The names of the five fields, in order.
const FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];

/// Names the first field that croner refuses on its own (the others `*`), for an error
/// that says where; empty when no single field is at fault.
fn culprit(parser: &CronParser, expr: &str) -> String {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return String::new();
    }
    let refused = |i: usize| {
        let mut probe = ["*"; 5];
        probe[i] = fields[i];
        parser.parse(&probe.join(" ")).is_err()
    };
    match (0..FIELDS.len()).find(|&i| refused(i)) {
        Some(i) => format!(" in its {} field {:?}", FIELDS[i], fields[i]),
        None => String::new(),
    }
}

/// Checks a schedule name: [a-z0-9][a-z0-9._-]{0,63}. The name is the schedule's id.
pub fn check_name(name: &str) -> Result<(), ScheduleError> {
    let bad = |reason: String| {
        Err(ScheduleError::Name {
            name: name.to_owned(),
            reason,
        })
    };
    let Some(first) = name.chars().next() else {
        return bad("it is empty".to_owned());
    };
    if name.len() > NAME_MAX {
        return bad(format!("it is {} bytes long, over {NAME_MAX}", name.len()));
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return bad(format!("it starts with {first:?}, not a-z or 0-9"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    match name.char_indices().find(|(_, c)| !allowed(*c)) {
        Some((at, c)) => bad(format!(
            "{c:?} at byte {at} is not a-z, 0-9, '.', '_' or '-'"
        )),
        None => Ok(()),
    }
}

/// What creating a schedule takes.
#[derive(Clone, Copy, Debug)]
pub struct NewScheduleSpec<'a> {
    pub name: &'a str,
    /// The tenant whose artifacts the rechecks cover (`*`: every tenant's; see
    /// [`Request`]).
    pub tenant: &'a str,
    pub cron: &'a str,
    pub timezone: &'a str,
    pub selector: &'a Selector,
}

/// Validates and stores a new schedule, owing its latest fire time at or before `now_ms`.
pub fn add(
    store: &mut Store,
    spec: &NewScheduleSpec<'_>,
    now_ms: i64,
) -> Result<ScheduleRecord, ScheduleError> {
    check_name(spec.name)?;
    let cadence = Cadence::parse(spec.cron, spec.timezone)?;
    let now = instant(now_ms)?;
    // A pattern such as `0 0 30 2 *` parses but never fires: refuse it now.
    cadence.next_after(now)?;
    let owed = cadence.latest_at(None, now)?;
    let new = NewSchedule {
        schedule_id: spec.name.to_owned(),
        tenant: spec.tenant.to_owned(),
        cron: spec.cron.trim().to_owned(),
        timezone: spec.timezone.to_owned(),
        selector: spec.selector.canonical(),
        created_ms: now_ms,
        next_fire: rfc3339(owed),
    };
    store.create_schedule(&new).map_err(|e| match e {
        StoreError::ScheduleExists { schedule_id } => ScheduleError::Exists(schedule_id),
        other => other.into(),
    })
}

/// Deletes a schedule; its runs stay.
pub fn delete(store: &mut Store, name: &str) -> Result<(), ScheduleError> {
    match store.delete_schedule(name)? {
        true => Ok(()),
        false => Err(ScheduleError::NotFound(name.to_owned())),
    }
}

/// Pauses a schedule: no run is created for it until it is resumed.
pub fn pause(store: &mut Store, name: &str) -> Result<ScheduleRecord, ScheduleError> {
    if !store.set_schedule_paused(name, true, None)? {
        return Err(ScheduleError::NotFound(name.to_owned()));
    }
    found(store, name)
}

/// Resumes a paused schedule from its first fire time after `now_ms`: what passed while
/// it was paused is skipped. Resuming a running schedule changes nothing.
pub fn resume(store: &mut Store, name: &str, now_ms: i64) -> Result<ScheduleRecord, ScheduleError> {
    let schedule = found(store, name)?;
    if !schedule.paused {
        return Ok(schedule);
    }
    let next = cadence_of(&schedule)?.next_after(instant(now_ms)?)?;
    store.set_schedule_paused(name, false, Some(&rfc3339(next)))?;
    found(store, name)
}

/// Creates the recheck run of every unpaused schedule whose next fire time is at or
/// before `now_ms`, and moves each to its next fire time. Returns the runs created now:
/// a fire time whose run already exists (made by another process, or by this one before
/// a crash) creates none.
pub fn fire_due(
    store: &mut Store,
    policies: &Policies,
    now_ms: i64,
) -> Result<Vec<RunRecord>, ScheduleError> {
    let now = instant(now_ms)?;
    let mut created = Vec::new();
    for schedule in store.due_schedules(&rfc3339(now))? {
        created.extend(fire_one(store, policies, &schedule, now, now_ms)?);
    }
    Ok(created)
}

/// Fires one due schedule for its latest fire time, then records that time as handled.
fn fire_one(
    store: &mut Store,
    policies: &Policies,
    schedule: &ScheduleRecord,
    now: DateTime<Utc>,
    now_ms: i64,
) -> Result<Option<RunRecord>, ScheduleError> {
    let id = schedule.schedule_id.as_str();
    let cadence = cadence_of(schedule)?;
    let owed = stored_time(id, &schedule.next_fire)?;
    let fire = cadence.latest_at(Some(owed), now)?;
    if fire > owed {
        tracing::warn!(
            schedule_id = id,
            first_missed = %schedule.next_fire,
            fire_time = %rfc3339(fire),
            "fire times passed while no scheduler ran; firing once, for the latest"
        );
    }
    let selector = Selector::parse(&schedule.selector).map_err(|e| stored(id, e))?;
    let key = idempotency_key(id, fire);
    let request = Request {
        trigger: "schedule",
        tenant: &schedule.tenant,
    };
    let run = match recheck_as(store, &selector, Some(&key), &request, policies, now_ms) {
        Ok((run, true)) => {
            tracing::info!(schedule_id = id, run_id = %run.run_id, fire_time = %rfc3339(fire), "schedule fired");
            Some(run)
        }
        Ok((_, false)) => None,
        // A deleted schedule of the same name, with another selector, fired this very
        // time: that run stands for it, and the next fire time is this schedule's own.
        Err(JobsError::IdempotencyConflict { key, run_id }) => {
            tracing::warn!(
                schedule_id = id,
                run_id,
                key,
                "an earlier schedule of this name already fired this time; skipping it"
            );
            None
        }
        Err(e) => return Err(e.into()),
    };
    let next = cadence.next_after(fire)?;
    store.mark_schedule_fired(id, &rfc3339(fire), &rfc3339(next))?;
    Ok(run)
}

/// The idempotency key of the run for one fire time of a schedule.
pub fn idempotency_key(schedule_id: &str, fire: DateTime<Utc>) -> String {
    format!("schedule:{schedule_id}:{}", rfc3339(fire))
}

/// RFC 3339 UTC with whole seconds: fixed width, so text order is time order.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn instant(now_ms: i64) -> Result<DateTime<Utc>, ScheduleError> {
    DateTime::from_timestamp_millis(now_ms).ok_or(ScheduleError::Clock(now_ms))
}

fn found(store: &Store, name: &str) -> Result<ScheduleRecord, ScheduleError> {
    store
        .schedule(name)?
        .ok_or_else(|| ScheduleError::NotFound(name.to_owned()))
}

fn cadence_of(schedule: &ScheduleRecord) -> Result<Cadence, ScheduleError> {
    Cadence::parse(&schedule.cron, &schedule.timezone).map_err(|e| stored(&schedule.schedule_id, e))
}

fn stored_time(schedule_id: &str, text: &str) -> Result<DateTime<Utc>, ScheduleError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| stored(schedule_id, e))
}

fn stored(
    schedule_id: &str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> ScheduleError {
    ScheduleError::Stored {
        schedule_id: schedule_id.to_owned(),
        source: source.into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ms(text: &str) -> i64 {
        at(text).timestamp_millis()
    }

    /// The first `n` fire times after `start`, as RFC 3339 UTC.
    fn fires(expr: &str, zone: &str, start: &str, n: usize) -> Vec<String> {
        let cadence = Cadence::parse(expr, zone).unwrap();
        let mut t = at(start);
        let mut out = Vec::new();
        for _ in 0..n {
            t = cadence.next_after(t).unwrap();
            out.push(rfc3339(t));
        }
        out
    }

    #[test]
    fn names_are_checked_with_the_reason() {
        for good in ["nightly", "0", "a.b_c-d", &"a".repeat(64)] {
            check_name(good).unwrap();
        }
        let refused = |name: &str, says: &str| {
            let e = check_name(name).unwrap_err().to_string();
            assert!(e.contains(says), "{name:?}: {e}");
        };
        refused("", "empty");
        refused(&"a".repeat(65), "65 bytes");
        refused("-x", "starts with '-'");
        refused("Nightly", "starts with 'N'");
        refused("a/b", "'/' at byte 1");
        refused("a b", "' ' at byte 1");
    }

    #[test]
    fn cron_and_zone_errors_say_what_is_wrong_and_where() {
        let refused = |expr: &str, zone: &str, says: &str| {
            let e = Cadence::parse(expr, zone).unwrap_err();
            let chain = format!("{:#}", anyhow::Error::from(e));
            assert!(chain.contains(says), "{expr:?} {zone:?}: {chain}");
        };
        refused("* * * *", "UTC", "has 4 field(s); a schedule takes 5");
        refused("0 * * * * *", "UTC", "has 6 field(s)");
        refused("61 * * * *", "UTC", "in its minute field \"61\"");
        refused("0 25 * * *", "UTC", "in its hour field \"25\"");
        refused("0 0 * FOO *", "UTC", "in its month field \"FOO\"");
        refused("0 0 * * 9", "UTC", "in its day-of-week field \"9\"");
        refused("@reboot", "UTC", "\"@reboot\" is invalid");
        refused("0 0 * * *", "Europe/Nowhere", "not an IANA zone name");
        refused("0 0 * * *", "europe/berlin", "case-sensitive");
        let never = Cadence::parse("0 0 30 2 *", "UTC").unwrap();
        let e = never.next_after(at("2026-01-01T00:00:00Z")).unwrap_err();
        assert!(e.to_string().contains("no fire time in UTC"), "{e}");
        Cadence::parse("@daily", "UTC").unwrap();
        Cadence::parse(" 0 9 * * MON-FRI ", "America/New_York").unwrap();
    }

    #[test]
    fn next_fire_times_follow_the_zone() {
        // Friday 2026-12-04 evening: the next weekday 09:00 in Berlin (CET, +1) is Monday.
        assert_eq!(
            fires(
                "0 9 * * MON-FRI",
                "Europe/Berlin",
                "2026-12-04T18:00:00Z",
                2
            ),
            ["2026-12-07T08:00:00Z", "2026-12-08T08:00:00Z"]
        );
        assert_eq!(
            fires("*/20 * * * *", "UTC", "2026-12-04T10:00:00Z", 3),
            [
                "2026-12-04T10:20:00Z",
                "2026-12-04T10:40:00Z",
                "2026-12-04T11:00:00Z"
            ]
        );
        // Strictly after: a fire time is not its own successor.
        assert_eq!(
            fires("0 0 1 1 *", "Asia/Tokyo", "2025-12-31T15:00:00Z", 1),
            ["2026-12-31T15:00:00Z"]
        );
    }

    /// Europe/Berlin springs forward on 2026-03-29 at 02:00 CET (01:00Z) to 03:00 CEST.
    #[test]
    fn a_spring_forward_gap_moves_a_fixed_time_to_the_gap_end_and_skips_interval_minutes() {
        // 02:30 does not exist that day: it fires at 03:00 CEST, once.
        assert_eq!(
            fires("30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", 3),
            [
                "2026-03-28T01:30:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:30:00Z"
            ]
        );
        // Every 30 minutes: 02:00 and 02:30 do not exist and are skipped.
        assert_eq!(
            fires("*/30 * * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", 3),
            [
                "2026-03-29T00:30:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-29T01:30:00Z"
            ]
        );
    }

    /// Europe/Berlin falls back on 2026-10-25 at 03:00 CEST (01:00Z) to 02:00 CET.
    #[test]
    fn a_fall_back_repeat_fires_a_fixed_time_once_and_interval_minutes_twice() {
        // 02:30 happens twice (00:30Z and 01:30Z): it fires at the first only.
        assert_eq!(
            fires("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 3),
            [
                "2026-10-25T00:30:00Z",
                "2026-10-26T01:30:00Z",
                "2026-10-27T01:30:00Z"
            ]
        );
        // Every 30 minutes of hour 2: both passes through it fire.
        assert_eq!(
            fires("*/30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 5),
            [
                "2026-10-25T00:00:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-25T01:00:00Z",
                "2026-10-25T01:30:00Z",
                "2026-10-26T01:00:00Z"
            ]
        );
        // Counting back from a long downtime names the same (first) instance.
        let cadence = Cadence::parse("30 2 * * *", "Europe/Berlin").unwrap();
        let latest =
            cadence.latest_at(Some(at("2026-10-01T00:30:00Z")), at("2026-10-25T01:45:00Z"));
        assert_eq!(rfc3339(latest.unwrap()), "2026-10-25T00:30:00Z");
    }

    #[test]
    fn the_latest_fire_time_counts_forward_from_what_is_owed() {
        let cadence = Cadence::parse("*/15 * * * *", "UTC").unwrap();
        let latest = |owed: Option<&str>, now: &str| {
            rfc3339(cadence.latest_at(owed.map(at), at(now)).unwrap())
        };
        // A new schedule owes its latest fire time at or before now.
        assert_eq!(latest(None, "2026-12-04T10:07:00Z"), "2026-12-04T10:00:00Z");
        assert_eq!(latest(None, "2026-12-04T10:15:00Z"), "2026-12-04T10:15:00Z");
        // Owed and due: the owed time itself when nothing later has passed.
        let owed = Some("2026-12-04T10:15:00Z");
        assert_eq!(latest(owed, "2026-12-04T10:29:59Z"), "2026-12-04T10:15:00Z");
        // After a downtime: the latest of the missed ones.
        assert_eq!(latest(owed, "2026-12-04T13:01:00Z"), "2026-12-04T13:00:00Z");
        // After a long one (more than a day): the same, without walking every minute.
        assert_eq!(latest(owed, "2027-02-01T08:44:00Z"), "2027-02-01T08:30:00Z");
    }

    mod firing {
        use super::*;
        use crate::jobs::policy::ALL_TENANTS;

        struct Site {
            _tmp: tempfile::TempDir,
            path: std::path::PathBuf,
            store: Store,
        }

        fn site() -> Site {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("state.sqlite");
            let store = Store::open(&path).unwrap();
            Site {
                _tmp: tmp,
                path,
                store,
            }
        }

        fn add_at(store: &mut Store, name: &str, tenant: &str, now: &str) -> ScheduleRecord {
            let selector = Selector::parse(r#"{"all":true}"#).unwrap();
            let spec = NewScheduleSpec {
                name,
                tenant,
                cron: "*/15 * * * *",
                timezone: "UTC",
                selector: &selector,
            };
            add(store, &spec, ms(now)).unwrap()
        }

        fn fire(store: &mut Store, now: &str) -> Vec<RunRecord> {
            fire_due(store, &Policies::default(), ms(now)).unwrap()
        }

        fn keys(runs: &[RunRecord]) -> Vec<&str> {
            let keys = runs.iter().map(|r| r.idempotency_key.as_deref().unwrap());
            keys.collect()
        }

        #[test]
        fn a_new_schedule_fires_its_latest_time_once_then_each_later_one() {
            let mut s = site();
            let added = add_at(&mut s.store, "q", "acme", "2026-12-04T10:07:30Z");
            assert_eq!(added.next_fire, "2026-12-04T10:00:00Z");
            assert_eq!(added.last_fired, None);

            let runs = fire(&mut s.store, "2026-12-04T10:07:31Z");
            assert_eq!(keys(&runs), ["schedule:q:2026-12-04T10:00:00Z"]);
            assert_eq!(runs[0].trigger, "schedule");
            assert_eq!(runs[0].tenant, "acme");
            assert_eq!(runs[0].selector.as_deref(), Some(r#"{"all":true}"#));
            let after = s.store.schedule("q").unwrap().unwrap();
            assert_eq!(after.last_fired.as_deref(), Some("2026-12-04T10:00:00Z"));
            assert_eq!(after.next_fire, "2026-12-04T10:15:00Z");

            // Again within the same fire time, and just before the next: nothing.
            assert!(fire(&mut s.store, "2026-12-04T10:07:32Z").is_empty());
            assert!(fire(&mut s.store, "2026-12-04T10:14:59.999Z").is_empty());
            let runs = fire(&mut s.store, "2026-12-04T10:15:00Z");
            assert_eq!(keys(&runs), ["schedule:q:2026-12-04T10:15:00Z"]);
        }

        #[test]
        fn a_downtime_fires_once_for_the_latest_missed_time() {
            let mut s = site();
            add_at(&mut s.store, "q", ALL_TENANTS, "2026-12-04T10:00:00Z");
            fire(&mut s.store, "2026-12-04T10:00:00Z");
            // 10:15 .. 13:00 passed (12 fire times): one run, for 13:00.
            let runs = fire(&mut s.store, "2026-12-04T13:05:00Z");
            assert_eq!(keys(&runs), ["schedule:q:2026-12-04T13:00:00Z"]);
            let after = s.store.schedule("q").unwrap().unwrap();
            assert_eq!(after.next_fire, "2026-12-04T13:15:00Z");
            assert_eq!(s.store.runs(None, 100).unwrap().len(), 2);
        }

        #[test]
        fn two_processes_and_a_crash_make_one_run_per_fire_time() {
            let mut s = site();
            add_at(&mut s.store, "q", ALL_TENANTS, "2026-12-04T10:00:00Z");
            let mut other = Store::open(&s.path).unwrap();
            assert_eq!(fire(&mut s.store, "2026-12-04T10:01:00Z").len(), 1);
            assert!(fire(&mut other, "2026-12-04T10:01:00Z").is_empty());

            // A process that created the 10:15 run and died before recording it: the
            // next pass finds the run by its key, creates none, and moves on.
            let selector = Selector::parse(r#"{"all":true}"#).unwrap();
            let key = "schedule:q:2026-12-04T10:15:00Z";
            let request = Request {
                trigger: "schedule",
                tenant: ALL_TENANTS,
            };
            let policies = Policies::default();
            let now = ms("2026-12-04T10:15:00Z");
            recheck_as(&mut other, &selector, Some(key), &request, &policies, now).unwrap();
            assert!(fire(&mut s.store, "2026-12-04T10:16:00Z").is_empty());
            let after = s.store.schedule("q").unwrap().unwrap();
            assert_eq!(after.last_fired.as_deref(), Some("2026-12-04T10:15:00Z"));
            let runs = s.store.runs(None, 100).unwrap();
            assert_eq!(keys(&runs), [key, "schedule:q:2026-12-04T10:00:00Z"]);
        }

        #[test]
        fn a_paused_schedule_fires_nothing_and_resumes_after_what_it_skipped() {
            let mut s = site();
            add_at(&mut s.store, "q", ALL_TENANTS, "2026-12-04T10:00:00Z");
            let paused = pause(&mut s.store, "q").unwrap();
            assert!(paused.paused);
            assert!(fire(&mut s.store, "2026-12-04T11:00:00Z").is_empty());
            let resumed = resume(&mut s.store, "q", ms("2026-12-04T11:07:00Z")).unwrap();
            assert!(!resumed.paused);
            assert_eq!(resumed.next_fire, "2026-12-04T11:15:00Z");
            assert!(fire(&mut s.store, "2026-12-04T11:14:00Z").is_empty());
            let runs = fire(&mut s.store, "2026-12-04T11:15:00Z");
            assert_eq!(keys(&runs), ["schedule:q:2026-12-04T11:15:00Z"]);
            // Resuming a running schedule keeps what it owes.
            let again = resume(&mut s.store, "q", ms("2026-12-04T12:00:00Z")).unwrap();
            assert_eq!(again.next_fire, "2026-12-04T11:30:00Z");
        }

        #[test]
        fn names_are_unique_and_missing_ones_are_reported() {
            let mut s = site();
            add_at(&mut s.store, "q", ALL_TENANTS, "2026-12-04T10:00:00Z");
            let selector = Selector::parse(r#"{"all":true}"#).unwrap();
            let spec = NewScheduleSpec {
                name: "q",
                tenant: ALL_TENANTS,
                cron: "0 * * * *",
                timezone: "UTC",
                selector: &selector,
            };
            let e = add(&mut s.store, &spec, ms("2026-12-04T10:00:00Z")).unwrap_err();
            assert!(matches!(e, ScheduleError::Exists(ref n) if n == "q"), "{e}");
            delete(&mut s.store, "q").unwrap();
            let e = delete(&mut s.store, "q").unwrap_err();
            assert!(
                matches!(e, ScheduleError::NotFound(ref n) if n == "q"),
                "{e}"
            );
            assert!(matches!(
                pause(&mut s.store, "q"),
                Err(ScheduleError::NotFound(_))
            ));
            assert!(s.store.schedules(None).unwrap().is_empty());
        }

        #[test]
        fn a_recreated_name_with_another_selector_skips_the_time_its_predecessor_fired() {
            let mut s = site();
            add_at(&mut s.store, "q", ALL_TENANTS, "2026-12-04T10:00:00Z");
            assert_eq!(fire(&mut s.store, "2026-12-04T10:01:00Z").len(), 1);
            delete(&mut s.store, "q").unwrap();
            let selector = Selector::parse(r#"{"vulnerability":"CVE-2026-1"}"#).unwrap();
            let spec = NewScheduleSpec {
                name: "q",
                tenant: ALL_TENANTS,
                cron: "*/15 * * * *",
                timezone: "UTC",
                selector: &selector,
            };
            add(&mut s.store, &spec, ms("2026-12-04T10:02:00Z")).unwrap();
            assert!(fire(&mut s.store, "2026-12-04T10:03:00Z").is_empty());
            let runs = fire(&mut s.store, "2026-12-04T10:15:00Z");
            assert_eq!(
                runs[0].selector.as_deref(),
                Some(r#"{"vulnerability":"CVE-2026-1"}"#)
            );
        }
    }
}
