//! SLA deadlines per severity, and the retry schedule.
//!
//! Backoff is exponential with jitter, and the jitter comes from SHA-256 of (job id,
//! attempt): a replay of the same failures gives the same schedule, and two jobs failing
//! together still spread out. A retry is never scheduled past the job's deadline.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use crate::impact::Level;

/// How long a job of each severity may take, from its run's creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlaPolicy {
    seconds: BTreeMap<Level, u64>,
}

impl Default for SlaPolicy {
    /// critical 1 h, high 4 h, medium 24 h, low 72 h.
    fn default() -> Self {
        let hours = [
            (Level::Critical, 1),
            (Level::High, 4),
            (Level::Medium, 24),
            (Level::Low, 72),
        ];
        Self {
            seconds: hours.into_iter().map(|(l, h)| (l, h * 3600)).collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("config slaSeconds: {0}")]
pub struct SlaConfigError(String);

impl SlaPolicy {
    /// The defaults, overridden by config.json `slaSeconds`.
    pub fn from_config(overrides: &BTreeMap<String, u64>) -> Result<Self, SlaConfigError> {
        let mut policy = Self::default();
        for (name, seconds) in overrides {
            let level: Level = name.parse().map_err(SlaConfigError)?;
            if *seconds == 0 {
                return Err(SlaConfigError(format!("{name} must be at least 1 second")));
            }
            policy.seconds.insert(level, *seconds);
        }
        Ok(policy)
    }

    /// The deadline of a job of `level` created at `created_ms`.
    pub fn deadline_ms(&self, level: Level, created_ms: i64) -> i64 {
        let seconds = self.seconds.get(&level).copied().unwrap_or(24 * 3600);
        created_ms.saturating_add((seconds as i64).saturating_mul(1000))
    }
}

/// Attempts and backoff bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_ms: i64,
    pub cap_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_ms: 1_000,
            cap_ms: 5 * 60_000,
        }
    }
}

impl RetryPolicy {
    /// When attempt `attempt` (1-based, just failed) of `job_id` may run again, or `None`
    /// when it was the last. The delay is `base · 2^(attempt-1)`, capped, scaled by a
    /// jitter factor in [0.5, 1.0) derived from (job id, attempt), and never past the
    /// deadline (a job already past it retries at once).
    pub fn next_attempt(
        &self,
        job_id: u64,
        attempt: u32,
        now_ms: i64,
        deadline_ms: i64,
    ) -> Option<i64> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exponent = attempt.saturating_sub(1).min(30);
        let raw = self
            .base_ms
            .saturating_mul(1i64 << exponent)
            .min(self.cap_ms);
        let delay = (raw as f64 * (0.5 + jitter(job_id, attempt) / 2.0)) as i64;
        let at = now_ms.saturating_add(delay);
        Some(at.min(deadline_ms.max(now_ms)))
    }
}

/// A fraction in [0, 1) from (job id, attempt).
fn jitter(job_id: u64, attempt: u32) -> f64 {
    let mut hasher = Sha256::new();
    hasher.update(job_id.to_be_bytes());
    hasher.update(attempt.to_be_bytes());
    let hash = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sla_defaults_and_overrides() {
        let p = SlaPolicy::default();
        assert_eq!(p.deadline_ms(Level::Critical, 0), 3_600_000);
        assert_eq!(p.deadline_ms(Level::Low, 1_000), 1_000 + 72 * 3_600_000);
        let over = BTreeMap::from([("high".to_owned(), 60)]);
        let p = SlaPolicy::from_config(&over).expect("valid");
        assert_eq!(p.deadline_ms(Level::High, 0), 60_000);
        assert_eq!(p.deadline_ms(Level::Medium, 0), 24 * 3_600_000);
        let bad = BTreeMap::from([("urgent".to_owned(), 60)]);
        let err = SlaPolicy::from_config(&bad).expect_err("unknown level");
        assert!(err.to_string().contains("urgent"), "{err}");
    }

    #[test]
    fn backoff_is_a_pure_function_of_job_and_attempt() {
        let r = RetryPolicy::default();
        let far = i64::MAX / 2;
        let a = r.next_attempt(7, 1, 0, far);
        assert_eq!(
            a,
            r.next_attempt(7, 1, 0, far),
            "same inputs, same schedule"
        );
        assert_ne!(a, r.next_attempt(8, 1, 0, far), "another job jitters apart");
        let delays: Vec<i64> = (1..5)
            .map(|n| r.next_attempt(7, n, 0, far).expect("retries left"))
            .collect();
        for (n, d) in delays.iter().enumerate() {
            let raw = 1_000i64 << n;
            assert!(
                (raw / 2..raw).contains(d),
                "attempt {}: {d} within [{}, {raw})",
                n + 1,
                raw / 2
            );
        }
        assert_eq!(
            r.next_attempt(7, 5, 0, far),
            None,
            "5 attempts, then dead letter"
        );
    }

    #[test]
    fn backoff_never_passes_the_deadline() {
        let r = RetryPolicy {
            max_attempts: 10,
            base_ms: 60_000,
            cap_ms: 600_000,
        };
        assert_eq!(r.next_attempt(1, 4, 1_000, 5_000), Some(5_000));
        assert_eq!(
            r.next_attempt(1, 4, 9_000, 5_000),
            Some(9_000),
            "past it: at once"
        );
    }
}

/// The queue priority of a job whose artifact a runtime agent reports running
/// (ordinary jobs have 0); its deadline is also pulled in to half its severity's SLA.
pub const RUNNING_PRIORITY: i64 = 100;

/// The tenant of the site's operator, who sees every tenant's rows.
pub const ALL_TENANTS: &str = "*";
/// The tenant of artifacts whose SBOM feed the config does not assign.
pub const DEFAULT_TENANT: &str = "default";

/// Which tenant owns an artifact: the one its SBOM's feed is assigned to in config.json
/// (`tenants`: feed → tenant); artifacts of unlisted feeds belong to `default`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tenants {
    by_feed: BTreeMap<String, String>,
}

impl Tenants {
    pub fn new(by_feed: BTreeMap<String, String>) -> Self {
        Self { by_feed }
    }

    /// The tenant of an artifact described by an SBOM of `feed` (`None`: no SBOM known).
    pub fn of_feed(&self, feed: Option<&str>) -> &str {
        feed.and_then(|f| self.by_feed.get(f))
            .map_or(DEFAULT_TENANT, String::as_str)
    }

    /// Whether `viewer` (a token's tenant) may see rows of `owner`.
    pub fn may_see(viewer: &str, owner: &str) -> bool {
        viewer == ALL_TENANTS || viewer == owner
    }
}
