//! Who may do what: bearer tokens from a tokens file, stored as SHA-256 digests, each
//! with scopes and a tenant; and a request budget per token.
//!
//! The tokens file (default `DATA_DIR/tokens.json`, written by `tokens add`):
//! `{"tokens": [{"name", "sha256", "scopes": ["read", ...], "tenant", "requestsPerMinute"}]}`.
//! A token is `stl_` followed by 43 base64url characters (32 random bytes); only its
//! digest is kept, so the file grants nothing to whoever reads it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::error::ApiError;

/// What a token may do. `admin` includes every other scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read runs, jobs, findings, feeds, status, schedules, metrics.
    Read,
    /// Create rechecks and impact previews.
    Recheck,
    /// Post runtime events.
    Hooks,
    /// Cancel and retry runs, retry jobs, pause the queue, manage schedules.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Recheck => "recheck",
            Scope::Hooks => "hooks",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Scope::Read),
            "recheck" => Some(Scope::Recheck),
            "hooks" => Some(Scope::Hooks),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// Requests per minute a token gets unless its entry says otherwise.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 600;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenEntry {
    pub name: String,
    /// Hex SHA-256 of the whole token string.
    pub sha256: String,
    pub scopes: Vec<Scope>,
    /// `*` sees every tenant.
    pub tenant: String,
    #[serde(default = "default_rate")]
    pub requests_per_minute: u32,
}

fn default_rate() -> u32 {
    DEFAULT_REQUESTS_PER_MINUTE
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    pub tokens: Vec<TokenEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read the tokens file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the tokens file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the tokens file {path} names token {name:?} twice")]
    Duplicate { path: PathBuf, name: String },
    #[error("token {name:?} in {path}: sha256 must be 64 lowercase hex characters")]
    Digest { path: PathBuf, name: String },
    #[error("token name {0:?} must match [A-Za-z0-9._-]{{1,64}}")]
    Name(String),
    #[error("cannot write the tokens file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl TokenFile {
    /// Reads the file; a missing file is an empty one (every request is refused).
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(TokenFileError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let file: Self =
            serde_json::from_slice(&bytes).map_err(|source| TokenFileError::Parse {
                path: path.to_owned(),
                source,
            })?;
        file.check(path)?;
        Ok(file)
    }

    fn check(&self, path: &Path) -> Result<(), TokenFileError> {
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.tokens {
            if !seen.insert(t.name.as_str()) {
                return Err(TokenFileError::Duplicate {
                    path: path.to_owned(),
                    name: t.name.clone(),
                });
            }
            let hex_ok = t.sha256.len() == 64
                && t.sha256
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !hex_ok {
                return Err(TokenFileError::Digest {
                    path: path.to_owned(),
                    name: t.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Adds a new token; returns the token string, which is shown once and kept nowhere.
    pub fn add(
        &mut self,
        name: &str,
        scopes: Vec<Scope>,
        tenant: &str,
        requests_per_minute: u32,
    ) -> Result<String, TokenFileError> {
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(TokenFileError::Name(name.to_owned()));
        }
        if self.tokens.iter().any(|t| t.name == name) {
            return Err(TokenFileError::Duplicate {
                path: PathBuf::from("(tokens file)"),
                name: name.to_owned(),
            });
        }
        let token = new_token();
        self.tokens.push(TokenEntry {
            name: name.to_owned(),
            sha256: digest(&token),
            scopes,
            tenant: tenant.to_owned(),
            requests_per_minute,
        });
        Ok(token)
    }

    /// Writes the file atomically (temp file, fsync, rename).
    pub fn write(&self, path: &Path) -> Result<(), TokenFileError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("token entries always serialize");
        bytes.push(b'\n');
        crate::fsutil::write_atomic(path, &bytes).map_err(|source| TokenFileError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

fn new_token() -> String {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).expect("the OS random source is available");
    format!(
        "stl_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The caller of a request, once its token is known.
#[derive(Clone, Debug)]
pub struct Principal {
    pub name: String,
    pub tenant: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }
}

/// The tokens, by digest, and each token's request budget.
#[derive(Debug)]
pub struct Gate {
    by_digest: HashMap<String, TokenEntry>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// A token bucket: `requests_per_minute` capacity, refilled continuously.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Gate {
    pub fn new(file: TokenFile) -> Self {
        let by_digest = file
            .tokens
            .into_iter()
            .map(|t| (t.sha256.clone(), t))
            .collect();
        Self {
            by_digest,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The principal behind an `Authorization` header value, if it holds `scope`:
    /// 401 without a known bearer token, 403 without the scope, 429 over budget.
    pub fn admit(&self, authorization: Option<&str>, scope: Scope) -> Result<Principal, ApiError> {
        let Some(value) = authorization else {
            return Err(ApiError::unauthenticated(
                "this endpoint needs an `Authorization: Bearer <token>` header",
            ));
        };
        let Some(token) = value.strip_prefix("Bearer ") else {
            return Err(ApiError::unauthenticated(
                "the Authorization header must be `Bearer <token>`",
            ));
        };
        let Some(entry) = self.by_digest.get(&digest(token.trim())) else {
            return Err(ApiError::unauthenticated("unknown token"));
        };
        let principal = Principal {
            name: entry.name.clone(),
            tenant: entry.tenant.clone(),
            scopes: entry.scopes.clone(),
        };
        if !principal.may(scope) {
            return Err(ApiError::forbidden(format!(
                "token {:?} lacks the {:?} scope this endpoint needs",
                entry.name,
                scope.as_str()
            )));
        }
        self.spend(entry)?;
        Ok(principal)
    }

    fn spend(&self, entry: &TokenEntry) -> Result<(), ApiError> {
        let capacity = f64::from(entry.requests_per_minute.max(1));
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(entry.name.clone()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / per_second).ceil() as u64;
        Err(ApiError::rate_limited(wait.max(1)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn gate(rate: u32) -> (Gate, String) {
        let mut file = TokenFile::default();
        let token = file.add("ops", vec![Scope::Read], "acme", rate).unwrap();
        (Gate::new(file), token)
    }

    #[test]
    fn a_token_is_known_by_its_digest_only() {
        let mut file = TokenFile::default();
        let token = file.add("ops", vec![Scope::Read], "acme", 10).unwrap();
        let text = serde_json::to_string(&file).unwrap();
        assert!(!text.contains(&token));
        assert!(text.contains(&digest(&token)));
        assert!(token.starts_with("stl_") && token.len() == 47);
    }

    #[test]
    fn missing_wrong_and_unscoped_tokens_are_refused_with_their_status() {
        let (gate, token) = gate(10);
        let header = format!("Bearer {token}");
        assert_eq!(gate.admit(None, Scope::Read).unwrap_err().status, 401);
        assert_eq!(
            gate.admit(Some("Bearer nope"), Scope::Read)
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(
            gate.admit(Some(&token), Scope::Read).unwrap_err().status,
            401
        );
        assert_eq!(
            gate.admit(Some(&header), Scope::Admin).unwrap_err().status,
            403
        );
        let who = gate.admit(Some(&header), Scope::Read).unwrap();
        assert_eq!((who.name.as_str(), who.tenant.as_str()), ("ops", "acme"));
    }

    #[test]
    fn a_token_over_its_budget_is_told_when_to_come_back() {
        let (gate, token) = gate(2);
        let header = format!("Bearer {token}");
        gate.admit(Some(&header), Scope::Read).unwrap();
        gate.admit(Some(&header), Scope::Read).unwrap();
        let refused = gate.admit(Some(&header), Scope::Read).unwrap_err();
        assert_eq!(refused.status, 429);
        assert!(refused.retry_after.unwrap() >= 1);
    }

    #[test]
    fn a_tokens_file_with_a_bad_digest_or_a_repeated_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let entry = r#"{"name":"a","sha256":"XYZ","scopes":["read"],"tenant":"t"}"#;
        std::fs::write(&path, format!(r#"{{"tokens":[{entry}]}}"#)).unwrap();
        let err = TokenFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("64 lowercase hex"), "{err}");
        let ok = format!(
            r#"{{"name":"a","sha256":"{}","scopes":["read"],"tenant":"t"}}"#,
            "a".repeat(64)
        );
        std::fs::write(&path, format!(r#"{{"tokens":[{ok},{ok}]}}"#)).unwrap();
        let err = TokenFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
    }
}
