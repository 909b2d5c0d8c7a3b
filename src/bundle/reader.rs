//! The bundle verifier: the one door every untrusted bundle byte comes through.
//!
//! It follows the numbered procedure of docs/bundle-format.md; comments of the form
//! `(step N)` cite it. Signatures and trust are settled before any document member is
//! read, each member is hashed while it streams, and its bytes reach a consumer only
//! after its digest matched.

use std::io::{self, BufReader, Read};
use std::path::Path;

use sha2::{Digest as _, Sha256};
use tar::EntryType;
use time::OffsetDateTime;

use super::entries::{next_member, shown_name, Entries, Entry, Member};
use super::envelope::{self, SignatureOutcome, HEADROOM};
use super::error::{Reason, Step, VerifyError};
use super::limits::Limits;
use super::manifest::{sorted_by_path, BundleId, DocumentEntry, Manifest, MANIFEST_MEMBER};
use super::member_path::MemberPath;
use super::stream::{self, Decompressed, Probe};
use super::transcript::{ExpiryCheck, SignatureCheck, Transcript};
use super::trust::Trust;

const TAR_BUFFER: usize = 128 * 1024;
const HASH_CHUNK: usize = 64 * 1024;

/// Receives each document member once its digest has matched.
pub trait MemberSink {
    /// Called once the manifest is authenticated and checked (after step 8), before any
    /// member is read.
    fn on_manifest(&mut self, _manifest: &Manifest, _id: &BundleId) {}

    /// Whether the verifier should keep the bytes and hand them over. When false,
    /// members are hashed and dropped chunk by chunk.
    fn wants_bytes(&self) -> bool;

    fn accept(
        &mut self,
        entry: &DocumentEntry,
        bytes: Vec<u8>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// A sink that keeps nothing: plain verification.
#[derive(Debug, Default)]
pub struct Discard;

impl MemberSink for Discard {
    fn wants_bytes(&self) -> bool {
        false
    }

    fn accept(
        &mut self,
        _: &DocumentEntry,
        _: Vec<u8>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }
}

/// What to do with a bundle whose `expiresAt` has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryPolicy {
    Enforce,
    /// Accept it anyway; the transcript records that the opt-out was used.
    DangerouslyAcceptExpired,
}

/// The result of verifying one bundle.
#[derive(Debug)]
pub struct Report {
    pub transcript: Transcript,
    /// Present once step 6 parsed it, even when a later step failed.
    pub manifest: Option<Manifest>,
    pub error: Option<VerifyError>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.error.is_none()
    }
}

/// Verifies bundles against trust roots, limits, and a notion of "now".
#[derive(Debug, Clone)]
pub struct Verifier<'t> {
    trust: &'t Trust,
    limits: Limits,
    now: OffsetDateTime,
    expiry: ExpiryPolicy,
}

impl<'t> Verifier<'t> {
    pub fn new(trust: &'t Trust, limits: Limits) -> Self {
        Self {
            trust,
            limits,
            now: OffsetDateTime::now_utc(),
            expiry: ExpiryPolicy::Enforce,
        }
    }

    /// Judges key and bundle expiry as of `now` instead of the clock.
    pub fn at(mut self, now: OffsetDateTime) -> Self {
        self.now = now;
        self
    }

    pub fn expiry_policy(mut self, policy: ExpiryPolicy) -> Self {
        self.expiry = policy;
        self
    }

    /// Runs the whole procedure on one file.
    pub fn verify(&self, path: &Path, sink: &mut dyn MemberSink) -> Report {
        let mut transcript = Transcript::new(path.display().to_string(), self.limits);
        let mut manifest = None;
        let result = self.run(path, sink, &mut transcript, &mut manifest);
        if let Err(err) = &result {
            transcript.fail(err);
        }
        Report {
            transcript,
            manifest,
            error: result.err(),
        }
    }

    fn run(
        &self,
        path: &Path,
        sink: &mut dyn MemberSink,
        t: &mut Transcript,
        manifest_out: &mut Option<Manifest>,
    ) -> Result<(), VerifyError> {
        let (stream, probe) = stream::open(path, &self.limits)?; // (steps 1, 2)
        let mut archive = tar::Archive::new(BufReader::with_capacity(TAR_BUFFER, stream));
        let mut entries = archive
            .entries()
            .map_err(|e| stream::classify(&probe, &self.limits, e, Step::ManifestMember))?
            .raw(true);
        let mut opened = read_envelope(&mut entries, &probe, &self.limits)?; // (steps 3, 4)
        let signatures = opened.check_signatures(self.trust, self.now); // (step 5)
        record_signatures(t, &opened, signatures.as_ref().ok());
        let signatures = signatures?;
        let payload = opened.into_payload();
        let id = BundleId::of_manifest(&payload);
        // The manifest keeps the payload: its document paths point into it.
        let manifest =
            Manifest::parse_owned(payload, &self.limits) // (step 6)
                .map_err(|e| VerifyError::new(Step::Manifest, Reason::Manifest(e)))?;
        t.bundle_id = Some(id);
        let manifest = manifest_out.insert(manifest);
        self.check_threshold(manifest, &signatures, t)?; // (step 7)
        self.check_expiry(manifest, t)?; // (step 8)
        if let Some(id) = &t.bundle_id {
            sink.on_manifest(manifest, id);
        }
        let mut members = MemberReader::new(manifest, &probe, &self.limits, t);
        members.read_all(&mut entries, sink)?; // (step 9)
        check_end(archive.into_inner(), &probe, &self.limits) // (step 10)
    }

    fn check_threshold(
        &self,
        manifest: &Manifest,
        signatures: &SignatureOutcome,
        t: &mut Transcript,
    ) -> Result<(), VerifyError> {
        let threshold = self.trust.threshold(&manifest.feed);
        t.threshold = Some(threshold);
        let allowed = |keyid: &str| {
            self.trust
                .key(keyid)
                .is_some_and(|k| k.allows_feed(&manifest.feed))
        };
        for check in t.signatures.iter_mut().filter(|c| c.valid) {
            check.counted = allowed(&check.keyid);
        }
        let counted = signatures.valid.iter().filter(|k| allowed(k)).count() as u32;
        if counted >= threshold {
            return Ok(());
        }
        let not_allowed = signatures
            .valid
            .iter()
            .filter(|k| !allowed(k))
            .cloned()
            .collect();
        let feed = manifest.feed.clone();
        let reason = Reason::ThresholdNotMet {
            feed,
            threshold,
            counted,
            not_allowed,
        };
        Err(VerifyError::new(Step::Threshold, reason))
    }

    fn check_expiry(&self, manifest: &Manifest, t: &mut Transcript) -> Result<(), VerifyError> {
        let (Some(text), Some(at)) = (&manifest.expires_at, manifest.expires_at()) else {
            return Ok(());
        };
        let expired = self.now > at;
        let accepted = expired && self.expiry == ExpiryPolicy::DangerouslyAcceptExpired;
        t.expiry = Some(ExpiryCheck {
            expires_at: text.clone(),
            expired,
            accepted_by_opt_out: accepted,
        });
        if expired && !accepted {
            let reason = Reason::Expired {
                expires_at: text.clone(),
            };
            return Err(VerifyError::new(Step::Expiry, reason));
        }
        if accepted {
            tracing::warn!(expires_at = %text, "accepting an expired bundle: opt-out in force");
        }
        Ok(())
    }
}

/// Reads the manifest's envelope without any trust: for `bundle inspect`.
pub fn inspect(path: &Path, limits: &Limits) -> Result<Inspected, VerifyError> {
    let (stream, probe) = stream::open(path, limits)?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(TAR_BUFFER, stream));
    let mut entries = archive
        .entries()
        .map_err(|e| stream::classify(&probe, limits, e, Step::ManifestMember))?
        .raw(true);
    let opened = read_envelope(&mut entries, &probe, limits)?;
    let keyids = opened.keyids().map(str::to_owned).collect();
    let payload = opened.into_payload();
    let id = BundleId::of_manifest(&payload);
    let manifest = Manifest::parse_unbounded(payload)
        .map_err(|e| VerifyError::new(Step::Manifest, Reason::Manifest(e)))?;
    Ok(Inspected {
        id,
        manifest,
        keyids,
    })
}

/// A manifest read without checking any signature.
#[derive(Debug)]
pub struct Inspected {
    pub id: BundleId,
    pub manifest: Manifest,
    pub keyids: Vec<String>,
}

/// Steps 3 and 4: the first member must be the manifest envelope, within its limit.
fn read_envelope(
    entries: &mut Entries<'_>,
    probe: &Probe,
    limits: &Limits,
) -> Result<envelope::Opened, VerifyError> {
    let step = Step::ManifestMember;
    let fail = |reason| VerifyError::new(step, reason);
    let first = next_member(entries, probe, limits, step)?;
    let Member {
        mut entry,
        name,
        entry_type,
        size,
    } = first.ok_or_else(|| fail(Reason::NoManifest))?;
    if name != MANIFEST_MEMBER.as_bytes() {
        let got = shown_name(&name);
        return Err(fail(Reason::FirstMemberNotManifest { got }));
    }
    if !entry_type.is_file() {
        let entry_type = type_name(entry_type);
        return Err(fail(Reason::ManifestNotRegular { entry_type }));
    }
    if size > limits.max_manifest_bytes {
        let limit = limits.max_manifest_bytes;
        return Err(fail(Reason::ManifestTooLarge { size, limit }));
    }
    let mut buf = vec![0u8; HEADROOM];
    buf.reserve_exact(size as usize);
    let read = entry
        .read_to_end(&mut buf)
        .map_err(|e| stream::classify(probe, limits, e, step))?;
    if (read as u64) < size {
        let reason = Reason::Truncated {
            read: read as u64,
            expected: size,
        };
        return Err(VerifyError::member(step, MANIFEST_MEMBER, reason));
    }
    envelope::open(buf)
}

fn record_signatures(
    t: &mut Transcript,
    opened: &envelope::Opened,
    outcome: Option<&SignatureOutcome>,
) {
    let rejected =
        |keyid: &str| outcome.and_then(|o| o.rejections.iter().find(|r| r.keyid == keyid).cloned());
    t.signatures = opened
        .keyids()
        .map(|keyid| SignatureCheck {
            keyid: keyid.to_owned(),
            valid: outcome.is_some_and(|o| o.valid.contains(keyid)),
            counted: false,
            rejected: rejected(keyid),
        })
        .collect();
}

/// Step 9: every remaining tar entry, checked against the manifest.
struct MemberReader<'m> {
    manifest: &'m Manifest,
    by_path: PathIndex,
    seen: Vec<bool>,
    probe: &'m Probe,
    limits: &'m Limits,
    transcript: &'m mut Transcript,
    chunk: Vec<u8>,
}

impl<'m> MemberReader<'m> {
    fn new(
        manifest: &'m Manifest,
        probe: &'m Probe,
        limits: &'m Limits,
        transcript: &'m mut Transcript,
    ) -> Self {
        let docs = &manifest.documents;
        Self {
            manifest,
            by_path: PathIndex::new(docs),
            seen: vec![false; docs.len()],
            probe,
            limits,
            transcript,
            chunk: vec![0u8; HASH_CHUNK],
        }
    }

    fn read_all(
        &mut self,
        entries: &mut Entries<'_>,
        sink: &mut dyn MemberSink,
    ) -> Result<(), VerifyError> {
        let max_entries = self
            .limits
            .max_members
            .saturating_mul(2)
            .saturating_add(1024);
        let mut count: u64 = 0;
        while let Some(member) = next_member(entries, self.probe, self.limits, Step::Members)? {
            count += 1;
            if count > max_entries {
                let reason = Reason::TooManyEntries { limit: max_entries };
                return Err(VerifyError::new(Step::Members, reason));
            }
            self.read_one(member, sink)?;
        }
        self.check_all_present()
    }

    fn read_one(
        &mut self,
        member: Member<'_>,
        sink: &mut dyn MemberSink,
    ) -> Result<(), VerifyError> {
        let Member {
            mut entry,
            name: raw,
            entry_type,
            size: header,
        } = member;
        let shown = shown_name(&raw);
        let fail = |reason| VerifyError::member(Step::Members, shown.clone(), reason);
        if entry_type.is_dir() {
            let trimmed = raw.strip_suffix(b"/").unwrap_or(&raw);
            return MemberPath::parse(trimmed)
                .map(|_| ())
                .map_err(|e| fail(Reason::Path(e)));
        }
        if !entry_type.is_file() {
            return Err(fail(Reason::EntryType {
                entry_type: type_name(entry_type),
            }));
        }
        let path = MemberPath::parse(&raw).map_err(|e| fail(Reason::Path(e)))?;
        let index = self.claim(&path).map_err(fail)?;
        let doc = &self.manifest.documents[index];
        if header != doc.size {
            return Err(fail(Reason::SizeMismatch {
                declared: doc.size,
                header,
            }));
        }
        let bytes = self
            .hash_member(&mut entry, doc, sink.wants_bytes())
            .map_err(|r| match r {
                MemberFault::Reason(reason) => fail(reason),
                MemberFault::Io(e) => {
                    let mut err = stream::classify(self.probe, self.limits, e, Step::Members);
                    err.member = Some(shown.clone());
                    err
                }
            })?;
        self.transcript.checked.push(index as u32);
        self.transcript.bytes_checked += doc.size;
        if let Some(bytes) = bytes {
            sink.accept(doc, bytes)
                .map_err(|e| fail(Reason::Consumer(e)))?;
        }
        Ok(())
    }

    /// Finds the listed document for `path` and marks it seen.
    fn claim(&mut self, path: &MemberPath) -> Result<usize, Reason> {
        if path.as_str() == MANIFEST_MEMBER {
            return Err(Reason::Duplicate);
        }
        let docs = &self.manifest.documents;
        let index = self.by_path.find(docs, path).ok_or(Reason::Unlisted)?;
        if std::mem::replace(&mut self.seen[index], true) {
            return Err(Reason::Duplicate);
        }
        Ok(index)
    }

    /// Streams exactly `doc.size` bytes through SHA-256, keeping them if asked.
    fn hash_member(
        &mut self,
        entry: &mut Entry<'_>,
        doc: &DocumentEntry,
        keep: bool,
    ) -> Result<Option<Vec<u8>>, MemberFault> {
        let mut hasher = Sha256::new();
        let mut kept = keep.then(|| Vec::with_capacity(doc.size as usize));
        let mut read: u64 = 0;
        while read < doc.size {
            let n = entry.read(&mut self.chunk).map_err(MemberFault::Io)?;
            if n == 0 {
                let reason = Reason::Truncated {
                    read,
                    expected: doc.size,
                };
                return Err(MemberFault::Reason(reason));
            }
            hasher.update(&self.chunk[..n]);
            if let Some(kept) = kept.as_mut() {
                kept.extend_from_slice(&self.chunk[..n]);
            }
            read += n as u64;
        }
        let got: [u8; 32] = hasher.finalize().into();
        if got != doc.sha256.0 {
            let (expected, got) = (doc.sha256.to_hex(), hex::encode(got));
            return Err(MemberFault::Reason(Reason::DigestMismatch {
                expected,
                got,
            }));
        }
        Ok(kept)
    }

    fn check_all_present(&self) -> Result<(), VerifyError> {
        let paths: Vec<String> = self
            .seen
            .iter()
            .zip(&self.manifest.documents)
            .filter(|(seen, _)| !**seen)
            .map(|(_, d)| d.path.to_string())
            .collect();
        if paths.is_empty() {
            return Ok(());
        }
        Err(VerifyError::new(Step::Members, Reason::Missing { paths }))
    }
}

/// Finds a listed document by its path, by binary search.
struct PathIndex {
    /// Document indices sorted by path; `None` when the documents are listed in path
    /// order already (as `bundle create` writes them) and are searched directly.
    order: Option<Vec<u32>>,
}

impl PathIndex {
    fn new(docs: &[DocumentEntry]) -> Self {
        if sorted_by_path(docs) {
            return Self { order: None };
        }
        let mut order: Vec<u32> = (0..docs.len() as u32).collect();
        order.sort_unstable_by(|a, b| docs[*a as usize].path.cmp(&docs[*b as usize].path));
        Self { order: Some(order) }
    }

    /// The index in `docs` (the list this index was built from) of the one at `path`.
    fn find(&self, docs: &[DocumentEntry], path: &MemberPath) -> Option<usize> {
        let Some(order) = &self.order else {
            return docs.binary_search_by(|d| d.path.cmp(path)).ok();
        };
        let slot = order
            .binary_search_by(|i| docs[*i as usize].path.cmp(path))
            .ok()?;
        Some(order[slot] as usize)
    }
}

enum MemberFault {
    Reason(Reason),
    Io(io::Error),
}

/// Step 10: after the tar end marker only zero padding may follow, and the zstd
/// stream must end cleanly.
fn check_end(
    mut rest: BufReader<Decompressed>,
    probe: &Probe,
    limits: &Limits,
) -> Result<(), VerifyError> {
    let mut chunk = vec![0u8; HASH_CHUNK];
    loop {
        let n = rest
            .read(&mut chunk)
            .map_err(|e| stream::classify(probe, limits, e, Step::End))?;
        if n == 0 {
            return Ok(());
        }
        if chunk[..n].iter().any(|b| *b != 0) {
            return Err(VerifyError::new(Step::End, Reason::TrailingData));
        }
    }
}

fn type_name(t: EntryType) -> &'static str {
    match t {
        EntryType::Regular | EntryType::Continuous => "regular file",
        EntryType::Directory => "directory",
        EntryType::Symlink => "symlink",
        EntryType::Link => "hard link",
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "fifo",
        EntryType::GNUSparse => "GNU sparse file",
        EntryType::XGlobalHeader => "pax global header",
        _ => "special entry",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documents(paths: &[&str]) -> Vec<DocumentEntry> {
        let documents: Vec<_> = paths
            .iter()
            .map(|path| {
                serde_json::json!({"path": path, "kind": "advisory", "format": "osv",
                                   "sha256": "a".repeat(64), "size": 1})
            })
            .collect();
        let manifest = serde_json::json!({
            "schema": "stella.bundle.v1", "feed": "f", "sequence": 1, "previous": null,
            "mode": "snapshot", "createdAt": "2026-12-01T00:00:00Z", "documents": documents,
        });
        let bytes = serde_json::to_vec(&manifest).expect("json");
        Manifest::parse_owned(bytes, &Limits::default())
            .expect("valid")
            .documents
    }

    fn path(text: &str) -> MemberPath {
        MemberPath::parse(text.as_bytes()).expect("valid path")
    }

    #[test]
    fn finds_every_listed_path_in_sorted_and_unsorted_lists() {
        let listed = ["a.json", "b/c.json", "b/d.json", "e.json"];
        let unsorted = ["e.json", "b/c.json", "a.json", "b/d.json"];
        for paths in [&listed, &unsorted] {
            let docs = documents(paths);
            let index = PathIndex::new(&docs);
            assert_eq!(index.order.is_none(), paths == &listed);
            for (i, p) in paths.iter().enumerate() {
                assert_eq!(index.find(&docs, &path(p)), Some(i), "{p} in {paths:?}");
            }
            for absent in ["0.json", "b.json", "b/e.json", "f.json"] {
                assert_eq!(index.find(&docs, &path(absent)), None, "{absent}");
            }
        }
    }
}
