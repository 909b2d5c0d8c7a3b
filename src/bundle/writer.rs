//! Writes bundles in format v1, byte-identical for identical inputs.
//!
//! Determinism comes from: members sorted by path after the manifest, fixed tar
//! metadata (mode 0644, owner 0, mtime = `createdAt`), a canonical JSON manifest and
//! envelope, Ed25519's deterministic signatures, and one zstd level and thread.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use sha2::{Digest as _, Sha256};

use super::dsse;
use super::limits::Limits;
use super::manifest::{
    parse_time, BundleId, DocumentEntry, Manifest, ManifestError, Mode, Sha256Digest, Withdrawal,
    MANIFEST_MEMBER, MANIFEST_PAYLOAD_TYPE, MANIFEST_SCHEMA,
};
use super::member_path::MemberPath;
use crate::model::{DocumentFormat, DocumentKind, Subject};

const ZSTD_LEVEL: i32 = 3;

/// Where a document's bytes come from. Read twice: once to hash, once to archive.
pub trait DocumentSource {
    fn open(&self) -> io::Result<Box<dyn Read + '_>>;
    /// Names the source in errors.
    fn describe(&self) -> String;
}

impl DocumentSource for PathBuf {
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(io::BufReader::new(File::open(self)?)))
    }

    fn describe(&self) -> String {
        self.display().to_string()
    }
}

/// Bytes already in memory, named for errors.
#[derive(Debug, Clone)]
pub struct InMemory {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl DocumentSource for InMemory {
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(&self.bytes[..]))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// The bundle-level fields of a new bundle.
#[derive(Debug, Clone)]
pub struct BundleSpec {
    pub feed: String,
    pub sequence: u64,
    pub previous: Option<BundleId>,
    pub mode: Mode,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub withdrawn: Vec<Withdrawal>,
}

/// One document to put in a new bundle.
pub struct NewDocument {
    pub path: MemberPath,
    pub kind: DocumentKind,
    pub format: DocumentFormat,
    pub subject: Option<Subject>,
    pub source: Box<dyn DocumentSource>,
}

impl std::fmt::Debug for NewDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDocument")
            .field("path", &self.path)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot read document {source_name}")]
    ReadDocument {
        source_name: String,
        #[source]
        source: io::Error,
    },
    #[error("document {source_name} changed while the bundle was written")]
    DocumentChanged { source_name: String },
    #[error("the bundle would be invalid")]
    Invalid(#[source] ManifestError),
    #[error("at least one signing key is required")]
    NoKeys,
    #[error("cannot write {path}")]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    pub id: BundleId,
    pub manifest: Manifest,
}

/// Hashes the documents, signs the manifest with every key, and writes `out` atomically.
pub fn write_bundle(
    spec: BundleSpec,
    mut docs: Vec<NewDocument>,
    keys: &[SigningKey],
    out: &Path,
) -> Result<Written, WriteError> {
    if keys.is_empty() {
        return Err(WriteError::NoKeys);
    }
    docs.sort_by(|a, b| a.path.cmp(&b.path));
    let entries = docs.iter().map(describe).collect::<Result<Vec<_>, _>>()?;
    let manifest = build_manifest(spec, entries)?;
    let payload = manifest.to_canonical_json();
    let envelope = dsse::sign(MANIFEST_PAYLOAD_TYPE, &payload, keys);
    let envelope = crate::canonical::to_vec(&envelope).expect("an envelope serializes");
    let mtime = created_unix(&manifest);
    crate::fsutil::write_atomic_with(out, |file| {
        write_archive(file, &envelope, &docs, &manifest.documents, mtime)
    })
    .map_err(|e| classify_write(out, e))?;
    Ok(Written {
        id: BundleId::of_manifest(&payload),
        manifest,
    })
}

fn describe(doc: &NewDocument) -> Result<DocumentEntry, WriteError> {
    let (sha256, size) = hash_source(doc.source.as_ref())?;
    Ok(DocumentEntry {
        path: doc.path.clone(),
        kind: doc.kind,
        format: doc.format,
        sha256,
        size,
        subject: doc.subject.clone().map(Box::new),
    })
}

fn hash_source(source: &dyn DocumentSource) -> Result<(Sha256Digest, u64), WriteError> {
    let read_err = |e| WriteError::ReadDocument {
        source_name: source.describe(),
        source: e,
    };
    let mut reader = source.open().map_err(read_err)?;
    let mut hasher = Sha256::new();
    let size = io::copy(&mut reader, &mut hasher).map_err(read_err)?;
    Ok((Sha256Digest(hasher.finalize().into()), size))
}

/// Builds the manifest and validates it with the same rules the reader applies.
fn build_manifest(spec: BundleSpec, documents: Vec<DocumentEntry>) -> Result<Manifest, WriteError> {
    let mut withdrawn = spec.withdrawn;
    withdrawn.sort();
    withdrawn.dedup();
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA.to_owned(),
        feed: spec.feed,
        sequence: spec.sequence,
        previous: spec.previous,
        mode: spec.mode,
        created_at: spec.created_at,
        expires_at: spec.expires_at,
        documents,
        withdrawn,
    };
    let unbounded = Limits {
        max_member_bytes: u64::MAX,
        max_members: u64::MAX,
        max_total_bytes: u64::MAX,
        ..Limits::default()
    };
    Manifest::parse_owned(manifest.to_canonical_json(), &unbounded).map_err(WriteError::Invalid)
}

fn created_unix(manifest: &Manifest) -> u64 {
    parse_time(&manifest.created_at)
        .map(|t| t.unix_timestamp().max(0) as u64)
        .unwrap_or(0)
}

/// Marks an error as coming from a document rather than the output file.
#[derive(Debug)]
struct SourceFailure(WriteError);

impl std::fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceFailure {}

fn classify_write(out: &Path, e: io::Error) -> WriteError {
    if e.get_ref().is_some_and(|inner| inner.is::<SourceFailure>()) {
        let inner = e.into_inner().expect("checked above");
        let failure = inner.downcast::<SourceFailure>().expect("checked above");
        return failure.0;
    }
    WriteError::Output {
        path: out.to_owned(),
        source: e,
    }
}

fn write_archive(
    file: &mut File,
    envelope: &[u8],
    docs: &[NewDocument],
    entries: &[DocumentEntry],
    mtime: u64,
) -> io::Result<()> {
    let mut encoder = zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)?;
    encoder.include_checksum(true)?;
    let mut tar = tar::Builder::new(io::BufWriter::with_capacity(256 * 1024, encoder));
    tar.mode(tar::HeaderMode::Deterministic);
    append(
        &mut tar,
        MANIFEST_MEMBER,
        envelope.len() as u64,
        envelope,
        mtime,
    )?;
    for (doc, entry) in docs.iter().zip(entries) {
        let reader = doc.source.open()?;
        let mut checked = CheckedSource::new(reader, doc, entry);
        append(
            &mut tar,
            entry.path.as_str(),
            entry.size,
            &mut checked,
            mtime,
        )?;
        checked.finish()?;
    }
    let writer = tar.into_inner()?;
    let encoder = writer.into_inner().map_err(|e| e.into_error())?;
    encoder.finish()?.flush()
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: impl Read,
    mtime: u64,
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, data)
}

/// Re-hashes a document on its second read, so a file edited between the two reads
/// cannot produce a bundle whose manifest lies about it.
struct CheckedSource<'a, R> {
    inner: R,
    hasher: Sha256,
    doc: &'a NewDocument,
    entry: &'a DocumentEntry,
}

impl<'a, R: Read> CheckedSource<'a, R> {
    fn new(inner: R, doc: &'a NewDocument, entry: &'a DocumentEntry) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            doc,
            entry,
        }
    }

    fn finish(self) -> io::Result<()> {
        if self.hasher.finalize()[..] == self.entry.sha256.0 {
            return Ok(());
        }
        let source_name = self.doc.source.describe();
        Err(io::Error::other(SourceFailure(
            WriteError::DocumentChanged { source_name },
        )))
    }
}

impl<R: Read> Read for CheckedSource<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
