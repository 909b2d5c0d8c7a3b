//! The trust file: which Ed25519 keys may sign bundles for which feeds.
//!
//! Loading a trust file checks every entry (key id matches its key, feed names valid,
//! thresholds at least one), so a verifier never has to second-guess its trust roots.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys::{key_id, parse_public_key, public_key_text};
use super::manifest::{check_feed_name, parse_time};
use crate::fsutil;

pub const TRUST_SCHEMA: &str = "stella.trust.v1";

/// A trust file as stored on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustFile {
    pub schema: String,
    pub keys: Vec<TrustedKeyEntry>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub feeds: BTreeMap<String, FeedPolicy>,
}

/// One key entry of a trust file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustedKeyEntry {
    pub keyid: String,
    pub public_key: String,
    pub feeds: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
}

/// Per-feed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedPolicy {
    pub threshold: u32,
}

/// Why a trust file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read trust file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("trust file {path} is not valid JSON of schema {TRUST_SCHEMA}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("trust file {path}: {problem}")]
    Invalid {
        path: PathBuf,
        problem: TrustProblem,
    },
    #[error("cannot write trust file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What is wrong inside a trust file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustProblem {
    #[error("schema is {got:?}, expected {TRUST_SCHEMA:?}")]
    Schema { got: String },
    #[error("key {keyid}: publicKey is not standard base64 of 32 raw bytes")]
    PublicKey { keyid: String },
    #[error("key {keyid}: keyid does not match its public key, whose SHA-256 is {computed}")]
    KeyIdMismatch { keyid: String, computed: String },
    #[error("key {keyid} is listed twice")]
    DuplicateKey { keyid: String },
    #[error("key {keyid}: no feeds listed (use [\"*\"] for every feed)")]
    NoFeeds { keyid: String },
    #[error("key {keyid}: feed {feed:?} is not a valid feed name")]
    FeedName { keyid: String, feed: String },
    #[error("key {keyid}: notAfter {value:?} is not an RFC 3339 time")]
    NotAfter { keyid: String, value: String },
    #[error("feeds: {feed:?} is not a valid feed name, so its threshold would never apply")]
    ThresholdFeed { feed: String },
    #[error("feed {feed:?}: threshold must be at least 1")]
    Threshold { feed: String },
}

/// A key ready to check signatures with.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub keyid: String,
    pub key: VerifyingKey,
    pub feeds: BTreeSet<String>,
    pub not_after: Option<OffsetDateTime>,
    pub revoked: bool,
}

impl TrustedKey {
    pub fn allows_feed(&self, feed: &str) -> bool {
        self.feeds.contains("*") || self.feeds.contains(feed)
    }

    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        self.not_after.is_some_and(|t| now > t)
    }
}

/// Validated trust roots.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    keys: BTreeMap<String, TrustedKey>,
    thresholds: BTreeMap<String, u32>,
}

impl Trust {
    pub fn load(path: &Path) -> Result<Self, TrustError> {
        let file = TrustFile::read(path)?;
        Self::from_file(&file).map_err(|problem| TrustError::Invalid {
            path: path.to_owned(),
            problem,
        })
    }

    pub fn from_file(file: &TrustFile) -> Result<Self, TrustProblem> {
        if file.schema != TRUST_SCHEMA {
            return Err(TrustProblem::Schema {
                got: file.schema.clone(),
            });
        }
        let mut keys = BTreeMap::new();
        for entry in &file.keys {
            let key = entry.validate()?;
            if keys.insert(key.keyid.clone(), key).is_some() {
                let keyid = entry.keyid.clone();
                return Err(TrustProblem::DuplicateKey { keyid });
            }
        }
        let mut thresholds = BTreeMap::new();
        for (feed, policy) in &file.feeds {
            if check_feed_name(feed).is_err() {
                return Err(TrustProblem::ThresholdFeed { feed: feed.clone() });
            }
            if policy.threshold == 0 {
                return Err(TrustProblem::Threshold { feed: feed.clone() });
            }
            thresholds.insert(feed.clone(), policy.threshold);
        }
        Ok(Self { keys, thresholds })
    }

    pub fn key(&self, keyid: &str) -> Option<&TrustedKey> {
        self.keys.get(keyid)
    }

    /// Valid signatures from distinct allowed keys needed for `feed` (default 1).
    pub fn threshold(&self, feed: &str) -> u32 {
        self.thresholds.get(feed).copied().unwrap_or(1)
    }
}

impl TrustedKeyEntry {
    fn validate(&self) -> Result<TrustedKey, TrustProblem> {
        let keyid = self.keyid.clone();
        let key = parse_public_key(&self.public_key).map_err(|_| TrustProblem::PublicKey {
            keyid: keyid.clone(),
        })?;
        let computed = key_id(&key);
        if computed != self.keyid {
            return Err(TrustProblem::KeyIdMismatch { keyid, computed });
        }
        if self.feeds.is_empty() {
            return Err(TrustProblem::NoFeeds { keyid });
        }
        for feed in self.feeds.iter().filter(|f| f.as_str() != "*") {
            check_feed_name(feed).map_err(|_| TrustProblem::FeedName {
                keyid: keyid.clone(),
                feed: feed.clone(),
            })?;
        }
        let not_after = self.not_after.as_deref().map(parse_time).transpose();
        let not_after = not_after.map_err(|_| TrustProblem::NotAfter {
            keyid: keyid.clone(),
            value: self.not_after.clone().unwrap_or_default(),
        })?;
        let feeds = self.feeds.iter().cloned().collect();
        Ok(TrustedKey {
            keyid,
            key,
            feeds,
            not_after,
            revoked: self.revoked,
        })
    }
}

impl TrustFile {
    pub fn empty() -> Self {
        Self {
            schema: TRUST_SCHEMA.to_owned(),
            ..Self::default()
        }
    }

    pub fn read(path: &Path) -> Result<Self, TrustError> {
        let bytes = std::fs::read(path).map_err(|source| TrustError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| TrustError::Json {
            path: path.to_owned(),
            source,
        })
    }

    /// Adds `key` for `feeds`, or updates its feeds (union) and `notAfter` when present.
    pub fn upsert(&mut self, key: &VerifyingKey, feeds: &[String], not_after: Option<String>) {
        let keyid = key_id(key);
        match self.keys.iter_mut().find(|k| k.keyid == keyid) {
            Some(entry) => {
                let mut all: BTreeSet<String> = entry.feeds.drain(..).collect();
                all.extend(feeds.iter().cloned());
                entry.feeds = all.into_iter().collect();
                entry.not_after = not_after.or(entry.not_after.take());
            }
            None => self.keys.push(TrustedKeyEntry {
                keyid,
                public_key: public_key_text(key),
                feeds: feeds
                    .iter()
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                not_after,
                revoked: false,
            }),
        }
        self.keys.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    }

    /// Validates, then writes atomically (temp file, fsync, rename).
    pub fn write(&self, path: &Path) -> Result<(), TrustError> {
        Trust::from_file(self).map_err(|problem| TrustError::Invalid {
            path: path.to_owned(),
            problem,
        })?;
        let bytes = crate::canonical::to_vec_pretty(self).expect("trust file serializes");
        fsutil::write_atomic(path, &bytes).map_err(|source| TrustError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key(n: u8) -> VerifyingKey {
        SigningKey::from_bytes(&[n; 32]).verifying_key()
    }

    #[test]
    fn upsert_merges_feeds_and_validates() {
        let mut file = TrustFile::empty();
        file.upsert(&key(1), &["osv".into()], None);
        file.upsert(
            &key(1),
            &["vex".into()],
            Some("2030-01-01T00:00:00Z".into()),
        );
        let trust = Trust::from_file(&file).expect("valid");
        let k = trust.key(&key_id(&key(1))).expect("present");
        assert!(k.allows_feed("osv") && k.allows_feed("vex") && !k.allows_feed("sbom"));
        assert_eq!(trust.threshold("osv"), 1);
    }

    #[test]
    fn keyid_that_does_not_match_its_key_is_refused() {
        let mut file = TrustFile::empty();
        file.upsert(&key(1), &["osv".into()], None);
        file.keys[0].keyid = key_id(&key(2));
        let err = Trust::from_file(&file).expect_err("mismatch");
        assert!(matches!(err, TrustProblem::KeyIdMismatch { computed, .. }
            if computed == key_id(&key(1))));
    }

    #[test]
    fn zero_threshold_and_bad_feed_are_refused() {
        let mut file = TrustFile::empty();
        file.upsert(&key(1), &["Bad Feed".into()], None);
        assert!(matches!(
            Trust::from_file(&file),
            Err(TrustProblem::FeedName { .. })
        ));
        let mut file = TrustFile::empty();
        file.feeds.insert("osv".into(), FeedPolicy { threshold: 0 });
        assert!(matches!(
            Trust::from_file(&file),
            Err(TrustProblem::Threshold { .. })
        ));
    }
}
