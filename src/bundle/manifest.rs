//! The bundle manifest (format v1): parsed strictly from signed bytes, validated
//! field by field, and written back as canonical JSON.
//!
//! Fields arrive as strings and are checked one by one so that each refusal says which
//! field was wrong and how, rather than surfacing a generic deserializer message.
//!
//! A snapshot can list hundreds of thousands of documents, and the verifier must hold
//! the manifest bytes while it parses them anyway (they are what the signatures cover).
//! So document paths point into those bytes rather than each taking an allocation of
//! its own, and once parsing is done the bytes are packed down to the paths alone.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::limits::Limits;
use super::member_path::{self, MemberPath, MemberPathError};
use crate::model::{Digest, DocumentFormat, DocumentKind, Subject};

pub const MANIFEST_SCHEMA: &str = "stella.bundle.v1";
pub const MANIFEST_PAYLOAD_TYPE: &str = "application/vnd.stella.bundle.v1+json";
pub const MANIFEST_MEMBER: &str = "manifest.dsse.json";

/// Lowercase hex SHA-256 of the manifest bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BundleId(String);

impl BundleId {
    pub fn of_manifest(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BundleId {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_sha256_hex(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ManifestError::Previous { got: s.to_owned() })
        }
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SHA-256 digest held as 32 bytes, written as 64 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 lowercase hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        if !is_sha256_hex(s) {
            return None;
        }
        let mut raw = [0u8; 32];
        hex::decode_to_slice(s, &mut raw).ok()?;
        Some(Self(raw))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// Delta or snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Delta,
    Snapshot,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Delta => "delta",
            Self::Snapshot => "snapshot",
        })
    }
}

impl FromStr for Mode {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "delta" => Ok(Self::Delta),
            "snapshot" => Ok(Self::Snapshot),
            other => Err(ManifestError::Mode { got: other.into() }),
        }
    }
}

/// A validated manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema: String,
    pub feed: String,
    pub sequence: u64,
    pub previous: Option<BundleId>,
    pub mode: Mode,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub documents: Vec<DocumentEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withdrawn: Vec<Withdrawal>,
}

/// One document listed in a manifest. Kept compact: a 200,000-document snapshot holds
/// 200,000 of these while its members stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocumentEntry {
    pub path: MemberPath,
    pub kind: DocumentKind,
    pub format: DocumentFormat,
    pub sha256: Sha256Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Box<Subject>>,
}

/// A document removed from the feed's state by a delta.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Withdrawal {
    pub kind: DocumentKind,
    pub id: String,
}

/// Why a manifest was refused. Each names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not JSON of the expected shape")]
    Json(#[source] serde_json::Error),
    #[error("schema is {got:?}, expected {MANIFEST_SCHEMA:?}")]
    Schema { got: String },
    #[error("feed {got:?} does not match [a-z0-9][a-z0-9._-]{{0,63}}")]
    Feed { got: String },
    #[error("sequence must be at least 1, got 0")]
    SequenceZero,
    #[error("previous is {got:?}, not a lowercase hex SHA-256 bundle id")]
    Previous { got: String },
    #[error("previous is null in a delta with sequence {sequence}; only sequence 1 or a snapshot may omit it")]
    PreviousMissing { sequence: u64 },
    #[error("mode is {got:?}, expected \"delta\" or \"snapshot\"")]
    Mode { got: String },
    #[error("{field} is {got:?}, not an RFC 3339 time")]
    Time { field: &'static str, got: String },
    #[error("documents[{index}]: kind is {got:?}, expected advisory, vex or sbom")]
    Kind { index: usize, got: String },
    #[error("documents[{index}]: format {got:?} is not allowed for kind {kind}")]
    Format {
        index: usize,
        kind: DocumentKind,
        got: String,
    },
    #[error("documents[{index}]: path is invalid")]
    Path {
        index: usize,
        #[source]
        source: MemberPathError,
    },
    #[error("documents[{index}]: path {path} is reserved for the manifest")]
    ReservedPath { index: usize, path: String },
    #[error("documents[{index}]: path {path} is listed twice")]
    DuplicatePath { index: usize, path: String },
    #[error("documents[{index}]: sha256 {got:?} is not 64 lowercase hex digits")]
    Sha256 { index: usize, got: String },
    #[error("documents[{index}]: an sbom needs a subject (the artifact it describes)")]
    SbomWithoutSubject { index: usize },
    #[error("documents[{index}]: subject is only allowed on an sbom")]
    SubjectNotSbom { index: usize },
    #[error("documents[{index}]: subject digest is invalid")]
    SubjectDigest {
        index: usize,
        #[source]
        source: crate::model::DigestError,
    },
    #[error("documents[{index}] ({path}): declared size {size} bytes exceeds the member limit of {limit}")]
    MemberTooLarge {
        index: usize,
        path: String,
        size: u64,
        limit: u64,
    },
    #[error("{count} documents exceed the limit of {limit}")]
    TooManyDocuments { count: u64, limit: u64 },
    #[error("declared sizes total {total} bytes, over the limit of {limit}")]
    TotalTooLarge { total: u64, limit: u64 },
    #[error("withdrawn[{index}]: kind is {got:?}, expected advisory, vex or sbom")]
    WithdrawnKind { index: usize, got: String },
    #[error("withdrawn[{index}]: id is empty")]
    WithdrawnId { index: usize },
    #[error("withdrawn is only allowed in a delta; a snapshot replaces the whole state")]
    WithdrawnInSnapshot,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawManifest {
    schema: String,
    feed: String,
    sequence: u64,
    previous: Option<String>,
    mode: String,
    created_at: String,
    #[serde(default)]
    expires_at: Option<String>,
    documents: Documents,
    #[serde(default)]
    withdrawn: Vec<RawWithdrawal>,
}

/// Documents validated one by one as the parser reads them, with their strings borrowed
/// from the manifest bytes: no second copy of a large manifest is ever built.
struct Documents(Result<Vec<DocumentEntry>, ManifestError>);

/// What the documents visitor needs from the parse it is part of.
#[derive(Clone, Default)]
struct Parsing {
    /// The manifest bytes, for document paths to point into.
    store: Arc<Vec<u8>>,
    /// How many documents to make room for, once.
    capacity: usize,
}

thread_local! {
    /// The parse running on this thread. A derived `Deserialize` cannot hand context down
    /// to one of its fields, so [`parsing_in`] puts it here for the length of one parse.
    static PARSING: RefCell<Option<Parsing>> = const { RefCell::new(None) };
}

/// Runs `parse` with `context` visible to the documents visitor.
fn parsing_in<T>(context: Parsing, parse: impl FnOnce() -> T) -> T {
    /// Puts back what was there before, also when `parse` unwinds.
    struct Restore(Option<Parsing>);
    impl Drop for Restore {
        fn drop(&mut self) {
            PARSING.set(self.0.take());
        }
    }
    let _restore = Restore(PARSING.replace(Some(context)));
    parse()
}

/// How many documents `bytes` lists, found by a pass that builds nothing; 0 when they
/// do not parse (the real parse then says why). Growing the vector instead would copy
/// it, and an allocator that keeps freed blocks resident then holds every old copy.
fn count_documents(bytes: &[u8]) -> usize {
    #[derive(Deserialize)]
    struct Outline {
        documents: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Outline>(bytes).map_or(0, |o| o.documents.len())
}

impl<'de> Deserialize<'de> for Documents {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(DocumentsVisitor)
    }
}

struct DocumentsVisitor;

impl<'de> serde::de::Visitor<'de> for DocumentsVisitor {
    type Value = Documents;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of documents")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Documents, A::Error> {
        // Outside `parsing_in` there is no store: every path is then copied.
        let Parsing { store, capacity } = PARSING.with_borrow(Clone::clone).unwrap_or_default();
        let mut docs = Vec::with_capacity(capacity);
        let mut unescaped = Unescaped::default();
        while let Some(raw) = seq.next_element::<RawDocument<'de>>()? {
            let escaped = matches!(raw.path, Cow::Owned(_));
            match raw.validate(docs.len(), &store) {
                Ok(doc) => docs.push(doc),
                Err(e) => {
                    // Keep reading so the JSON is still checked whole, but build nothing.
                    while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                    return Ok(Documents(Err(e)));
                }
            }
            if escaped {
                let index = docs.len() - 1;
                unescaped.add(&mut docs, index);
            }
        }
        unescaped.share(&mut docs);
        Ok(Documents(Ok(docs)))
    }
}

/// Paths the parser had to unescape (some JSON writers escape `/` as `\/`) cannot point
/// into the manifest bytes. Rather than one allocation each, they are gathered into
/// shared chunks; a document holds a copy of its own only until its chunk is full.
#[derive(Default)]
struct Unescaped {
    chunk: Vec<u8>,
    /// Documents whose path is in `chunk`, and where it starts there.
    pending: Vec<(usize, usize)>,
}

impl Unescaped {
    const CHUNK_BYTES: usize = 64 * 1024;

    /// Copies the path of `docs[index]` into the chunk.
    fn add(&mut self, docs: &mut [DocumentEntry], index: usize) {
        let len = docs[index].path.as_str().len();
        if self.chunk.len() + len > Self::CHUNK_BYTES {
            self.share(docs);
        }
        if self.chunk.capacity() == 0 {
            self.chunk.reserve_exact(Self::CHUNK_BYTES);
        }
        self.pending.push((index, self.chunk.len()));
        self.chunk
            .extend_from_slice(docs[index].path.as_str().as_bytes());
    }

    /// Points the pending documents' paths into the chunk, which they then share.
    fn share(&mut self, docs: &mut [DocumentEntry]) {
        if self.pending.is_empty() {
            return;
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.shrink_to_fit();
        let store = Arc::new(chunk);
        for (index, start) in self.pending.drain(..) {
            let path = &mut docs[index].path;
            let end = start + path.as_str().len();
            // Checked once already; were it refused now, the document keeps its copy.
            if let Ok(shared) = MemberPath::parse_in(&store, &store[start..end]) {
                *path = shared;
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument<'a> {
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    format: Cow<'a, str>,
    #[serde(borrow)]
    sha256: Cow<'a, str>,
    size: u64,
    #[serde(default, borrow)]
    subject: Option<RawSubject<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubject<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    digest: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWithdrawal {
    kind: String,
    id: String,
}

impl Manifest {
    /// Parses and validates a copy of manifest bytes (spec step 6); see
    /// [`Manifest::parse_owned`], which saves the copy.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, ManifestError> {
        Self::parse_owned(bytes.to_vec(), limits)
    }

    /// Parses and validates manifest bytes (spec step 6) and keeps the part of them that
    /// holds the document paths, which point into it.
    pub fn parse_owned(bytes: Vec<u8>, limits: &Limits) -> Result<Self, ManifestError> {
        let max = usize::try_from(limits.max_members).unwrap_or(usize::MAX);
        let capacity = count_documents(&bytes).min(max);
        let store = Arc::new(bytes);
        let context = Parsing {
            store: Arc::clone(&store),
            capacity,
        };
        let raw: RawManifest =
            parsing_in(context, || serde_json::from_slice(&store)).map_err(ManifestError::Json)?;
        let mut manifest = raw.validate(limits)?;
        member_path::compact(store, &mut manifest.documents, |d| &mut d.path);
        Ok(manifest)
    }

    /// Parses without enforcing limits, for inspection of a bundle's own claims.
    pub fn parse_unbounded(bytes: Vec<u8>) -> Result<Self, ManifestError> {
        let limits = Limits {
            max_member_bytes: u64::MAX,
            max_members: u64::MAX,
            max_total_bytes: u64::MAX,
            ..Limits::default()
        };
        Self::parse_owned(bytes, &limits)
    }

    /// Canonical JSON bytes: what the writer signs.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        crate::canonical::to_vec(self).expect("a manifest always serializes")
    }

    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        // Validated at parse time.
        self.expires_at.as_deref().and_then(|t| parse_time(t).ok())
    }
}

impl RawManifest {
    fn validate(self, limits: &Limits) -> Result<Manifest, ManifestError> {
        if self.schema != MANIFEST_SCHEMA {
            return Err(ManifestError::Schema { got: self.schema });
        }
        check_feed_name(&self.feed)?;
        let mode: Mode = self.mode.parse()?;
        let previous = check_chain(self.sequence, mode, self.previous)?;
        check_time("createdAt", &self.created_at)?;
        if let Some(t) = &self.expires_at {
            check_time("expiresAt", t)?;
        }
        let documents = check_documents(self.documents.0?, limits)?;
        let withdrawn = validate_withdrawals(self.withdrawn, mode)?;
        Ok(Manifest {
            schema: self.schema,
            feed: self.feed,
            sequence: self.sequence,
            previous,
            mode,
            created_at: self.created_at,
            expires_at: self.expires_at,
            documents,
            withdrawn,
        })
    }
}

fn check_chain(
    sequence: u64,
    mode: Mode,
    previous: Option<String>,
) -> Result<Option<BundleId>, ManifestError> {
    if sequence == 0 {
        return Err(ManifestError::SequenceZero);
    }
    let previous = previous.map(|p| p.parse::<BundleId>()).transpose()?;
    if previous.is_none() && mode == Mode::Delta && sequence > 1 {
        return Err(ManifestError::PreviousMissing { sequence });
    }
    Ok(previous)
}

/// The checks that need the limits or the whole list: count, sizes, duplicate paths.
fn check_documents(
    documents: Vec<DocumentEntry>,
    limits: &Limits,
) -> Result<Vec<DocumentEntry>, ManifestError> {
    let count = documents.len() as u64;
    if count > limits.max_members {
        let limit = limits.max_members;
        return Err(ManifestError::TooManyDocuments { count, limit });
    }
    let mut total: u64 = 0;
    for (index, doc) in documents.iter().enumerate() {
        if doc.size > limits.max_member_bytes {
            let (size, limit) = (doc.size, limits.max_member_bytes);
            let path = doc.path.to_string();
            return Err(ManifestError::MemberTooLarge {
                index,
                path,
                size,
                limit,
            });
        }
        total = total.saturating_add(doc.size);
    }
    if total > limits.max_total_bytes {
        let limit = limits.max_total_bytes;
        return Err(ManifestError::TotalTooLarge { total, limit });
    }
    check_unique_paths(&documents)?;
    Ok(documents)
}

/// Whether each path sorts strictly after the one before, which also makes them distinct.
/// `bundle create` lists documents so, and a sorted list needs no index to be searched.
pub(crate) fn sorted_by_path(documents: &[DocumentEntry]) -> bool {
    documents.is_sorted_by(|a, b| a.path < b.path)
}

/// Sorts indices by path (no copies of the paths) and compares neighbours, unless the
/// documents come sorted already.
fn check_unique_paths(documents: &[DocumentEntry]) -> Result<(), ManifestError> {
    if sorted_by_path(documents) {
        return Ok(());
    }
    let mut order: Vec<u32> = (0..documents.len() as u32).collect();
    order.sort_unstable_by(|a, b| {
        let (a, b) = (&documents[*a as usize], &documents[*b as usize]);
        a.path.cmp(&b.path)
    });
    for pair in order.windows(2) {
        let (first, second) = (pair[0] as usize, pair[1] as usize);
        if documents[first].path == documents[second].path {
            let index = first.max(second);
            let path = documents[index].path.to_string();
            return Err(ManifestError::DuplicatePath { index, path });
        }
    }
    Ok(())
}

impl RawDocument<'_> {
    /// Checks one document; its path points into `store` when it was borrowed from it.
    fn validate(self, index: usize, store: &Arc<Vec<u8>>) -> Result<DocumentEntry, ManifestError> {
        let path = MemberPath::parse_in(store, self.path.as_bytes())
            .map_err(|source| ManifestError::Path { index, source })?;
        if path.as_str() == MANIFEST_MEMBER {
            let path = path.to_string();
            return Err(ManifestError::ReservedPath { index, path });
        }
        let (kind, format) = parse_kind_format(index, &self.kind, &self.format)?;
        let sha256 = Sha256Digest::from_hex(&self.sha256).ok_or_else(|| {
            let got = self.sha256.clone().into_owned();
            ManifestError::Sha256 { index, got }
        })?;
        let subject = check_subject(index, kind, self.subject)?;
        Ok(DocumentEntry {
            path,
            kind,
            format,
            sha256,
            size: self.size,
            subject,
        })
    }
}

fn parse_kind_format(
    index: usize,
    kind: &str,
    format: &str,
) -> Result<(DocumentKind, DocumentFormat), ManifestError> {
    let kind: DocumentKind = kind.parse().map_err(|_| ManifestError::Kind {
        index,
        got: kind.to_owned(),
    })?;
    let parsed = serde_json::from_value(serde_json::Value::String(format.to_owned())).ok();
    match parsed {
        Some(f) if kind.allows(f) => Ok((kind, f)),
        _ => Err(ManifestError::Format {
            index,
            kind,
            got: format.to_owned(),
        }),
    }
}

fn check_subject(
    index: usize,
    kind: DocumentKind,
    subject: Option<RawSubject<'_>>,
) -> Result<Option<Box<Subject>>, ManifestError> {
    match (kind, subject) {
        (DocumentKind::Sbom, None) => Err(ManifestError::SbomWithoutSubject { index }),
        (DocumentKind::Sbom, Some(s)) => {
            let digest: Digest = s
                .digest
                .parse()
                .map_err(|source| ManifestError::SubjectDigest { index, source })?;
            let name = s.name.into_owned();
            Ok(Some(Box::new(Subject { name, digest })))
        }
        (_, Some(_)) => Err(ManifestError::SubjectNotSbom { index }),
        (_, None) => Ok(None),
    }
}

fn validate_withdrawals(
    raw: Vec<RawWithdrawal>,
    mode: Mode,
) -> Result<Vec<Withdrawal>, ManifestError> {
    if mode == Mode::Snapshot && !raw.is_empty() {
        return Err(ManifestError::WithdrawnInSnapshot);
    }
    raw.into_iter()
        .enumerate()
        .map(|(index, w)| {
            let kind = w.kind.parse().map_err(|_| ManifestError::WithdrawnKind {
                index,
                got: w.kind.clone(),
            })?;
            if w.id.is_empty() {
                return Err(ManifestError::WithdrawnId { index });
            }
            Ok(Withdrawal { kind, id: w.id })
        })
        .collect()
}

/// `[a-z0-9][a-z0-9._-]{0,63}`
pub fn check_feed_name(feed: &str) -> Result<(), ManifestError> {
    let bytes = feed.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes
        .iter()
        .skip(1)
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if first_ok && rest_ok && bytes.len() <= 64 {
        Ok(())
    } else {
        Err(ManifestError::Feed {
            got: feed.to_owned(),
        })
    }
}

pub fn parse_time(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(text, &Rfc3339)
}

fn check_time(field: &'static str, text: &str) -> Result<(), ManifestError> {
    parse_time(text)
        .map(|_| ())
        .map_err(|_| ManifestError::Time {
            field,
            got: text.to_owned(),
        })
}

pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({
            "schema": MANIFEST_SCHEMA, "feed": "osv-mirror", "sequence": 1, "previous": null,
            "mode": "delta", "createdAt": "2026-12-01T00:00:00Z",
            "documents": [{"path": "advisories/a.json", "kind": "advisory", "format": "osv",
                           "sha256": "a".repeat(64), "size": 10}]
        })
    }

    fn parse(v: serde_json::Value) -> Result<Manifest, ManifestError> {
        Manifest::parse(&serde_json::to_vec(&v).expect("json"), &Limits::default())
    }

    #[test]
    fn a_valid_manifest_round_trips_canonically() {
        let m = parse(base()).expect("valid");
        let again = Manifest::parse(&m.to_canonical_json(), &Limits::default()).expect("again");
        assert_eq!(m, again);
    }

    #[test]
    fn each_field_error_is_specific() {
        let mut v = base();
        v["sequence"] = json!(3);
        assert!(matches!(
            parse(v),
            Err(ManifestError::PreviousMissing { sequence: 3 })
        ));
        let mut v = base();
        v["mode"] = json!("full");
        assert!(matches!(parse(v), Err(ManifestError::Mode { got }) if got == "full"));
        let mut v = base();
        v["documents"][0]["format"] = json!("spdx");
        assert!(matches!(
            parse(v),
            Err(ManifestError::Format { index: 0, .. })
        ));
        let mut v = base();
        v["createdAt"] = json!("yesterday");
        assert!(matches!(
            parse(v),
            Err(ManifestError::Time {
                field: "createdAt",
                ..
            })
        ));
        let mut v = base();
        v["documents"][0]["path"] = json!(MANIFEST_MEMBER);
        assert!(matches!(parse(v), Err(ManifestError::ReservedPath { .. })));
    }

    #[test]
    fn a_document_entry_stays_at_72_bytes() {
        assert_eq!(size_of::<MemberPath>(), 16);
        assert!(size_of::<DocumentEntry>() <= 72);
    }

    #[test]
    fn document_paths_share_one_store_holding_only_them() {
        let doc = |path: &str| {
            json!({"path": path, "kind": "advisory", "format": "osv",
                   "sha256": "b".repeat(64), "size": 1})
        };
        let mut v = base();
        v["documents"] = json!([doc("b/2.json"), doc("a.json"), doc("c/3.json")]);
        let m = parse(v).expect("valid");
        let paths: Vec<&str> = m.documents.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["b/2.json", "a.json", "c/3.json"]);
        for d in &m.documents {
            assert_eq!(d.path.store_shared_with(&m.documents[0].path), (22, true));
        }
    }

    #[test]
    fn the_documents_are_allocated_once_at_their_count() {
        let doc = |i: usize| {
            json!({"path": format!("a/{i}.json"), "kind": "advisory", "format": "osv",
                   "sha256": "b".repeat(64), "size": 1})
        };
        let mut v = base();
        v["documents"] = (0..5).map(doc).collect();
        let m = parse(v.clone()).expect("valid");
        assert_eq!((m.documents.len(), m.documents.capacity()), (5, 5));
        let limits = Limits {
            max_members: 3,
            ..Limits::default()
        };
        let bytes = serde_json::to_vec(&v).expect("json");
        assert!(matches!(
            Manifest::parse_owned(bytes, &limits),
            Err(ManifestError::TooManyDocuments { count: 5, limit: 3 })
        ));
    }

    #[test]
    fn an_escaped_path_is_unescaped_into_a_store_apart() {
        let doc = |path: &str| {
            json!({"path": path, "kind": "advisory", "format": "osv",
                   "sha256": "b".repeat(64), "size": 1})
        };
        let mut v = base();
        v["documents"] = json!([doc("a/1.json"), doc("b/2.json")]);
        let text = serde_json::to_string(&v).expect("json");
        let text = text.replace("b/2.json", r"b\/2.json");
        let m = Manifest::parse(text.as_bytes(), &Limits::default()).expect("valid");
        let (plain, escaped) = (&m.documents[0].path, &m.documents[1].path);
        assert_eq!((plain.as_str(), escaped.as_str()), ("a/1.json", "b/2.json"));
        assert_eq!(plain.store_shared_with(escaped), (8, false));
        assert_eq!(escaped.store_shared_with(plain), (8, false));
    }

    #[test]
    fn unsorted_documents_are_still_checked_for_duplicates() {
        let doc = |path: &str| {
            json!({"path": path, "kind": "advisory", "format": "osv",
                   "sha256": "b".repeat(64), "size": 1})
        };
        let mut v = base();
        v["documents"] = json!([doc("c.json"), doc("a.json"), doc("b.json"), doc("a.json")]);
        assert!(matches!(
            parse(v),
            Err(ManifestError::DuplicatePath { index: 3, path }) if path == "a.json"
        ));
        let mut v = base();
        v["documents"] = json!([doc("a.json"), doc("a.json")]);
        assert!(matches!(
            parse(v),
            Err(ManifestError::DuplicatePath { index: 1, .. })
        ));
        let mut v = base();
        v["documents"] = json!([doc("c.json"), doc("a.json"), doc("b.json")]);
        let m = parse(v).expect("distinct paths in any order");
        assert!(!sorted_by_path(&m.documents));
    }

    #[test]
    fn escaped_paths_share_chunks_of_their_own() {
        let per_chunk = Unescaped::CHUNK_BYTES / 8;
        let paths: Vec<String> = (0..per_chunk + 1).map(|i| format!("a/{i:06}")).collect();
        let mut v = base();
        v["documents"] = paths
            .iter()
            .chain(["plain/path".to_owned()].iter())
            .map(|path| {
                json!({"path": path, "kind": "advisory", "format": "osv",
                       "sha256": "b".repeat(64), "size": 1})
            })
            .collect();
        let text = serde_json::to_string(&v)
            .expect("json")
            .replace("a/", r"a\/");
        let m = Manifest::parse(text.as_bytes(), &Limits::default()).expect("valid");
        let got: Vec<&str> = m.documents.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(got[..per_chunk + 1], paths);
        assert_eq!(got[per_chunk + 1], "plain/path");
        let (first, last) = (&m.documents[0].path, &m.documents[per_chunk].path);
        assert_eq!(
            m.documents[per_chunk - 1].path.store_shared_with(first),
            (8 * per_chunk, true)
        );
        assert_eq!(last.store_shared_with(first), (8, false));
        assert_eq!(
            m.documents[per_chunk + 1].path.store_shared_with(last),
            (10, false)
        );
    }

    #[test]
    fn feed_names_follow_the_pattern() {
        assert!(check_feed_name("osv-mirror").is_ok());
        assert!(check_feed_name(&"a".repeat(64)).is_ok());
        for bad in ["", "-a", "A", "a b", &"a".repeat(65)] {
            assert!(check_feed_name(bad).is_err(), "{bad:?}");
        }
    }
}
