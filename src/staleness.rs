//! Staleness budgets: how long a feed may go without a new bundle before the site warns,
//! and then fails (docs/state.md, "Staleness budgets").
//!
//! An air-gapped site learns of new vulnerabilities only as fast as bundles cross the
//! gap; a feed that stopped arriving looks exactly like a quiet week unless someone says
//! how quiet is too quiet. This module is pure: callers pass the store's feed heads and
//! the clock.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::bundle::manifest::check_feed_name;
use crate::store::FeedHead;

/// The key of `config.json`'s `staleness` map that applies to every feed not named.
pub const ANY_FEED: &str = "*";

/// One feed's budget, as `config.json` states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// From this age on, the feed is `warn`.
    pub warn_seconds: u64,
    /// From this age on, the feed is `fail`.
    pub fail_seconds: u64,
    /// Whether a failing feed makes the site not ready (`/readyz`); a feed that is
    /// expected to be quiet for long can fail on dashboards without stopping traffic.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub fail_readiness: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Where a feed stands against its budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    Warn,
    Fail,
}

/// One feed with a budget, assessed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedStaleness {
    pub feed: String,
    /// Seconds since the feed's last bundle was applied; `null` when the stored time
    /// does not parse (the feed then counts as failing).
    pub age_seconds: Option<u64>,
    pub warn_seconds: u64,
    pub fail_seconds: u64,
    pub state: State,
    pub fail_readiness: bool,
}

impl FeedStaleness {
    /// True when this feed makes the site not ready.
    pub fn blocks_readiness(&self) -> bool {
        self.state == State::Fail && self.fail_readiness
    }
}

/// Each feed that has a budget (its own, else `*`'s), with its age and state, in the
/// order of `feeds`. Feeds without a budget are left out. An applied time in the future
/// (a clock set back) counts as age 0.
pub fn assess(
    feeds: &[FeedHead],
    budgets: &BTreeMap<String, Budget>,
    now: SystemTime,
) -> Vec<FeedStaleness> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let assessed = feeds.iter().filter_map(|head| {
        let budget = budgets.get(&head.feed).or_else(|| budgets.get(ANY_FEED))?;
        let age = OffsetDateTime::parse(&head.applied_at, &Rfc3339)
            .ok()
            .map(|at| now.saturating_sub(at.unix_timestamp()).max(0) as u64);
        Some(FeedStaleness {
            feed: head.feed.clone(),
            age_seconds: age,
            warn_seconds: budget.warn_seconds,
            fail_seconds: budget.fail_seconds,
            state: state(age, budget),
            fail_readiness: budget.fail_readiness,
        })
    });
    assessed.collect()
}

fn state(age: Option<u64>, budget: &Budget) -> State {
    match age {
        None => State::Fail,
        Some(a) if a >= budget.fail_seconds => State::Fail,
        Some(a) if a >= budget.warn_seconds => State::Warn,
        Some(_) => State::Ok,
    }
}

/// Why a `staleness` map of `config.json` is refused.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("staleness budget {key:?}: the key must be a feed name or \"*\"")]
    Key { key: String },
    #[error(
        "staleness budget {key:?}: warnSeconds {warn} is above failSeconds {fail} \
         (a feed must warn before it fails)"
    )]
    Order { key: String, warn: u64, fail: u64 },
}

/// Checks every budget: its key names a feed or is `*`, and it warns no later than it
/// fails.
pub fn check(budgets: &BTreeMap<String, Budget>) -> Result<(), BudgetError> {
    for (key, b) in budgets {
        if key != ANY_FEED && check_feed_name(key).is_err() {
            return Err(BudgetError::Key { key: key.clone() });
        }
        if b.warn_seconds > b.fail_seconds {
            return Err(BudgetError::Order {
                key: key.clone(),
                warn: b.warn_seconds,
                fail: b.fail_seconds,
            });
        }
    }
    Ok(())
}

/// Reads and checks the `staleness` map of `config.json` (serde `deserialize_with`).
pub fn deserialize_budgets<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Budget>, D::Error> {
    let budgets = BTreeMap::<String, Budget>::deserialize(d)?;
    check(&budgets).map_err(serde::de::Error::custom)?;
    Ok(budgets)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn head(feed: &str, applied_at: &str) -> FeedHead {
        FeedHead {
            feed: feed.to_owned(),
            sequence: 1,
            bundle_id: "sha256:00".to_owned(),
            position: 1,
            applied_at: applied_at.to_owned(),
        }
    }

    fn budget(warn: u64, fail: u64) -> Budget {
        Budget {
            warn_seconds: warn,
            fail_seconds: fail,
            fail_readiness: true,
        }
    }

    /// 2026-12-01T00:00:00Z plus `secs`.
    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_083_200 + secs)
    }

    #[test]
    fn ages_cross_warn_then_fail() {
        let feeds = [head("osv", "2026-12-01T00:00:00Z")];
        let budgets = BTreeMap::from([("osv".to_owned(), budget(100, 200))]);
        let states: Vec<_> = [0, 99, 100, 199, 200, 5000]
            .into_iter()
            .map(|s| assess(&feeds, &budgets, at(s))[0].state)
            .collect();
        use State::*;
        assert_eq!(states, [Ok, Ok, Warn, Warn, Fail, Fail]);
        assert_eq!(assess(&feeds, &budgets, at(150))[0].age_seconds, Some(150));
    }

    #[test]
    fn own_budget_wins_over_star_and_unbudgeted_feeds_are_left_out() {
        let feeds = [
            head("osv", "2026-12-01T00:00:00Z"),
            head("vex", "2026-12-01T00:00:00Z"),
        ];
        let budgets = BTreeMap::from([
            ("*".to_owned(), budget(10, 20)),
            ("osv".to_owned(), budget(1000, 2000)),
        ]);
        let got = assess(&feeds, &budgets, at(15));
        assert_eq!(got[0].state, State::Ok);
        assert_eq!(got[1].state, State::Warn);
        assert_eq!(got[1].fail_seconds, 20);
        let only_osv = BTreeMap::from([("osv".to_owned(), budget(1, 2))]);
        assert_eq!(assess(&feeds, &only_osv, at(15)).len(), 1);
    }

    #[test]
    fn future_and_unreadable_times() {
        let budgets = BTreeMap::from([("*".to_owned(), budget(10, 20))]);
        let future = assess(&[head("a", "2026-12-02T00:00:00Z")], &budgets, at(0));
        assert_eq!(
            (future[0].age_seconds, future[0].state),
            (Some(0), State::Ok)
        );
        let broken = assess(&[head("a", "last tuesday")], &budgets, at(0));
        assert_eq!(
            (broken[0].age_seconds, broken[0].state),
            (None, State::Fail)
        );
        assert!(broken[0].blocks_readiness());
    }

    #[test]
    fn fail_readiness_defaults_to_true_and_can_be_turned_off() {
        let b: Budget =
            serde_json::from_str(r#"{"warnSeconds":1,"failSeconds":2}"#).expect("a budget");
        assert!(b.fail_readiness);
        let quiet: Budget =
            serde_json::from_str(r#"{"warnSeconds":1,"failSeconds":2,"failReadiness":false}"#)
                .expect("a budget");
        let budgets = BTreeMap::from([("a".to_owned(), quiet)]);
        let got = assess(&[head("a", "2026-12-01T00:00:00Z")], &budgets, at(9));
        assert_eq!(got[0].state, State::Fail);
        assert!(!got[0].blocks_readiness());
    }

    #[test]
    fn bad_budgets_are_refused_with_the_key() {
        let order = BTreeMap::from([("osv".to_owned(), budget(300, 100))]);
        let err = check(&order).expect_err("refused").to_string();
        assert!(
            err.contains("\"osv\"") && err.contains("warnSeconds 300"),
            "{err}"
        );
        let key = BTreeMap::from([("Bad Feed!".to_owned(), budget(1, 2))]);
        assert!(matches!(check(&key), Err(BudgetError::Key { .. })));
        let unknown = serde_json::from_str::<Budget>(r#"{"warnSeconds":1,"failSecs":2}"#);
        assert!(unknown.is_err());
    }
}
