//! Verification failures: which numbered step of docs/bundle-format.md failed, for
//! which member, and why.

use std::fmt;

use serde::Serialize;

use super::manifest::ManifestError;
use super::member_path::MemberPathError;

/// The steps of the verification procedure, numbered as in docs/bundle-format.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Open = 1,
    Decompress = 2,
    ManifestMember = 3,
    Envelope = 4,
    Signatures = 5,
    Manifest = 6,
    Threshold = 7,
    Expiry = 8,
    Members = 9,
    End = 10,
}

impl Step {
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Decompress => "decompress",
            Self::ManifestMember => "manifest-member",
            Self::Envelope => "envelope",
            Self::Signatures => "signatures",
            Self::Manifest => "manifest",
            Self::Threshold => "threshold",
            Self::Expiry => "expiry",
            Self::Members => "members",
            Self::End => "end",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {} ({})", self.number(), self.name())
    }
}

/// A refused bundle: the step, the member when one is at fault, and the reason.
#[derive(Debug)]
pub struct VerifyError {
    pub step: Step,
    pub member: Option<String>,
    pub reason: Reason,
}

impl VerifyError {
    pub fn new(step: Step, reason: Reason) -> Self {
        Self {
            step,
            member: None,
            reason,
        }
    }

    pub fn member(step: Step, member: impl Into<String>, reason: Reason) -> Self {
        Self {
            step,
            member: Some(member.into()),
            reason,
        }
    }

    /// True when the failure is about this machine (file unreadable), not the bundle.
    pub fn is_environment(&self) -> bool {
        matches!(self.reason, Reason::Open { .. })
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.member {
            Some(m) => write!(f, "{}: member {m}: {}", self.step, self.reason),
            None => write!(f, "{}: {}", self.step, self.reason),
        }
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.reason)
    }
}

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum Reason {
    #[error("cannot read the bundle file")]
    Open(#[source] std::io::Error),
    #[error("file is empty")]
    Empty,
    #[error("compressed size {size} bytes exceeds the limit of {limit}")]
    CompressedTooLarge { size: u64, limit: u64 },
    #[error("not a zstd stream (starts with {magic}, expected 28b52ffd)")]
    NotZstd { magic: String },
    #[error("zstd stream is corrupt or truncated")]
    Decompress(#[source] std::io::Error),
    #[error("decompressed data exceeds the limit of {limit} bytes (inflation bomb?)")]
    TotalTooLarge { limit: u64 },
    #[error("tar stream is malformed or cut short")]
    Tar(#[source] std::io::Error),
    #[error("extension header of {size} bytes exceeds the limit of {limit}")]
    ExtensionTooLarge { size: u64, limit: u64 },
    #[error("more than {limit} tar entries")]
    TooManyEntries { limit: u64 },
    #[error("archive holds no entries; the first member must be manifest.dsse.json")]
    NoManifest,
    #[error("first member is {got:?}; it must be manifest.dsse.json")]
    FirstMemberNotManifest { got: String },
    #[error("manifest.dsse.json is a {entry_type}, not a regular file")]
    ManifestNotRegular { entry_type: &'static str },
    #[error("manifest.dsse.json is {size} bytes, over the limit of {limit}")]
    ManifestTooLarge { size: u64, limit: u64 },
    #[error("manifest.dsse.json is not a DSSE envelope")]
    Envelope(#[source] serde_json::Error),
    #[error("payloadType is {got:?}, expected \"application/vnd.stella.bundle.v1+json\"")]
    PayloadType { got: String },
    #[error("payload is not standard base64")]
    PayloadBase64,
    #[error("envelope carries no signatures (unsigned)")]
    Unsigned,
    #[error("no valid signature from a trusted key: {}", list_rejections(.rejections))]
    NoTrustedSignature { rejections: Vec<Rejection> },
    #[error("manifest is invalid")]
    Manifest(#[source] ManifestError),
    #[error(
        "feed {feed:?} needs {threshold} valid signature(s) from distinct keys allowed for it, \
         got {counted}{}", not_allowed_note(.not_allowed)
    )]
    ThresholdNotMet {
        feed: String,
        threshold: u32,
        counted: u32,
        not_allowed: Vec<String>,
    },
    #[error("bundle expired at {expires_at}")]
    Expired { expires_at: String },
    #[error("entry is a {entry_type}; only regular files and directories are allowed")]
    EntryType { entry_type: &'static str },
    #[error("entry path is invalid")]
    Path(#[source] MemberPathError),
    #[error("not listed in the manifest")]
    Unlisted,
    #[error("appears twice in the archive")]
    Duplicate,
    #[error("size mismatch: manifest says {declared} bytes, tar header says {header}")]
    SizeMismatch { declared: u64, header: u64 },
    #[error("cut short: {read} of {expected} bytes present")]
    Truncated { read: u64, expected: u64 },
    #[error("sha256 mismatch: expected {expected}, got {got}")]
    DigestMismatch { expected: String, got: String },
    #[error("listed in the manifest but absent from the archive: {}", .paths.join(", "))]
    Missing { paths: Vec<String> },
    #[error("non-zero bytes after the end of the tar archive")]
    TrailingData,
    #[error("refused by the consumer")]
    Consumer(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why one signature did not count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    pub keyid: String,
    pub why: RejectReason,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum RejectReason {
    #[error("key is not in the trust file")]
    UnknownKey,
    #[error("key is revoked")]
    Revoked,
    #[error("key expired at {not_after}")]
    Expired { not_after: String },
    #[error("signature is not standard base64 of 64 bytes")]
    Encoding,
    #[error("signature does not verify")]
    BadSignature,
}

fn list_rejections(rejections: &[Rejection]) -> String {
    let parts: Vec<String> = rejections
        .iter()
        .map(|r| format!("key {}: {}", short(&r.keyid), r.why))
        .collect();
    parts.join("; ")
}

fn not_allowed_note(keys: &[String]) -> String {
    if keys.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = keys.iter().map(|k| short(k)).collect();
    format!(
        " (valid but not allowed for this feed: {})",
        shown.join(", ")
    )
}

/// The first 16 hex digits of a key id, enough to tell keys apart in a message.
pub fn short(keyid: &str) -> &str {
    keyid.get(..16).unwrap_or(keyid)
}
