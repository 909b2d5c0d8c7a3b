//! Why an export or an import failed. A [`KitProblem`] is about the kit's content and
//! refuses it; the other variants are about the data dir, the store or the files around.

use std::path::PathBuf;

use super::{INDEX_MEMBER, KIT_SCHEMA, SITE_KEY_MEMBER, TRUST_MEMBER};
use crate::bundle::keys::KeyError;
use crate::bundle::trust::TrustProblem;
use crate::bundle::{Mode, TrustError, VerifyError, WriteError};
use crate::formats::FormatError;
use crate::ingest::DataDirError;
use crate::model::DocumentKind;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("nothing to export: the store of {path} has applied no bundle")]
    Empty { path: PathBuf },
    #[error("the site key {path} cannot sign the kit")]
    SiteKey {
        path: PathBuf,
        #[source]
        source: KeyError,
    },
    #[error("the site's trust file cannot go into the kit")]
    Trust(#[source] TrustError),
    #[error("head of feed {feed}: createdAt {got:?} in the change log is not an RFC 3339 time")]
    HeadTime { feed: String, got: String },
    #[error("stored {kind} {id} of feed {feed}: {problem}")]
    Stored {
        feed: String,
        kind: DocumentKind,
        id: String,
        problem: String,
    },
    #[error("cannot write the kit")]
    Write(#[source] WriteError),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExportError {
    /// The site's state cannot make a kit (exit 1), rather than the environment failing.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Empty { .. })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the exporting site's public key")]
    ExporterKey(#[source] KeyError),
    #[error("cannot read the site key to initialize the data dir with")]
    SiteKey(#[source] KeyError),
    #[error("--site-key only applies when the import initializes the data dir, and {path} is initialized already")]
    SiteKeyOnInitialized { path: PathBuf },
    #[error("kit {file} failed verification with the exporting site's key {keyid}")]
    Verify {
        file: PathBuf,
        keyid: String,
        #[source]
        source: Box<VerifyError>,
    },
    #[error("kit {file} is not a valid offline kit")]
    Kit {
        file: PathBuf,
        #[source]
        source: Box<KitProblem>,
    },
    #[error(
        "the store {path} is open in another process; stop `stella-scheduler run` \
         (and any ingest) on this data dir, then import again"
    )]
    InUse { path: PathBuf },
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    /// The kit was refused (exit 1), rather than the environment failing (exit 2).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Verify { .. } | Self::Kit { .. })
    }
}

/// What is wrong inside a kit whose signature and digests verified.
#[derive(Debug, thiserror::Error)]
pub enum KitProblem {
    #[error("bundle of feed {feed} ({mode}) is not an offline kit: kits are snapshots of a feed named <siteId>.kit")]
    NotAKit { feed: String, mode: Mode },
    #[error("{path} is not a metadata member kits have")]
    UnknownMetadata { path: String },
    #[error("metadata member {path} comes after documents; kits list their metadata first")]
    MetadataLate { path: String },
    #[error("the kit has no {path}")]
    MissingMetadata { path: &'static str },
    #[error("{INDEX_MEMBER} is not JSON of schema {KIT_SCHEMA}")]
    Index(#[source] serde_json::Error),
    #[error("{INDEX_MEMBER}: schema is {got:?}, expected {KIT_SCHEMA:?}")]
    Schema { got: String },
    #[error("{INDEX_MEMBER}: {field} is {indexed}, but the signed manifest says {manifest}")]
    ManifestMismatch {
        field: &'static str,
        indexed: String,
        manifest: String,
    },
    #[error("{INDEX_MEMBER}: head of feed {feed:?}: {problem}")]
    Head { feed: String, problem: &'static str },
    #[error("{SITE_KEY_MEMBER} is not standard base64 of a 32-byte public key")]
    SiteKeyText,
    #[error("{SITE_KEY_MEMBER} is key {kit}, but the kit was verified with key {given}")]
    SiteKeyMismatch { kit: String, given: String },
    #[error("{INDEX_MEMBER} names site key {indexed}, but {SITE_KEY_MEMBER} is key {actual}")]
    SiteKeyId { indexed: String, actual: String },
    #[error("{TRUST_MEMBER} is not JSON of a trust file")]
    TrustJson(#[source] serde_json::Error),
    #[error("{TRUST_MEMBER} is not a valid trust file")]
    Trust(#[source] TrustProblem),
    #[error("member {member} is not listed in {INDEX_MEMBER}")]
    Unindexed { member: String },
    #[error("{INDEX_MEMBER} lists {member} twice")]
    IndexedTwice { member: String },
    #[error("{INDEX_MEMBER} lists {member}, which the kit does not carry")]
    NotCarried { member: String },
    #[error("{INDEX_MEMBER}: document {member} is of feed {feed}, which has no head")]
    NoHead { member: String, feed: String },
    #[error("member {member} is not where a kit puts {kind} {id:?} of feed {feed} ({expected})")]
    Layout {
        member: String,
        kind: DocumentKind,
        id: String,
        feed: String,
        expected: String,
    },
    #[error(
        "documents of feed {feed} are not listed together: {member} comes after another feed's"
    )]
    Scattered { feed: String, member: String },
    #[error("document {member} does not parse")]
    Parse {
        member: String,
        #[source]
        source: Box<FormatError>,
    },
    #[error(
        "document {member}: {INDEX_MEMBER} says id {indexed:?}, the document's id is {found:?}"
    )]
    IdMismatch {
        member: String,
        indexed: String,
        found: String,
    },
    #[error("document {member} is an sbom without a subject")]
    NoSubject { member: String },
    #[error("document {member} cannot be stored")]
    Duplicate {
        member: String,
        #[source]
        source: StoreError,
    },
}
