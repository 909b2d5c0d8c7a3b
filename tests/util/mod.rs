//! A small DSL for hostile bundle fixtures.
//!
//! Hostile input has to be built by hand: the library's writer only makes correct bundles,
//! and a test that used it (or its DSSE code) to sign would share any bug it tests for.
//! So this module signs with its own PAE and ed25519-dalek, keeps the manifest and the
//! trust file as `serde_json::Value` (so a test can put any wrong value in them), lays
//! out tar blocks itself (raw name bytes, any entry type, any declared size, pax and GNU
//! long names), and frames the result with zstd however the test asks: one frame, many,
//! cut short, or not at all.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use stella_scheduler::bundle::trust::TrustProblem;
use stella_scheduler::bundle::{
    Discard, Limits, MemberSink, Reason, Report, Step, Trust, TrustFile, Verifier,
};
use tar::{EntryType, Header};
use time::macros::datetime;
use time::OffsetDateTime;

pub const FEED: &str = "osv-mirror";
pub const MANIFEST: &str = "manifest.dsse.json";
pub const PAYLOAD_TYPE: &str = "application/vnd.stella.bundle.v1+json";
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
const BLOCK: usize = 512;

/// The instant every verification in these tests is judged at.
pub const NOW: OffsetDateTime = datetime!(2026-12-15 00:00:00 UTC);

// ---------------------------------------------------------------- keys

/// A deterministic Ed25519 key: the same seed always gives the same key.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// Lowercase hex SHA-256 of the raw public key, computed here, not by the library.
pub fn keyid(key: &SigningKey) -> String {
    sha256_hex(key.verifying_key().as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------- trust files

/// A trust file under construction, kept as JSON so any field can be wrong.
#[derive(Debug, Clone, Default)]
pub struct TrustSpec {
    keys: Vec<Value>,
    feeds: Map<String, Value>,
}

impl TrustSpec {
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` for `feeds` (`"*"` for all).
    pub fn key(self, key: &SigningKey, feeds: &[&str]) -> Self {
        self.key_with(key, feeds, json!({}))
    }

    /// Like [`TrustSpec::key`], with the fields of `extra` (`revoked`, `notAfter`, even a
    /// wrong `keyid`) laid over the entry.
    pub fn key_with(mut self, key: &SigningKey, feeds: &[&str], extra: Value) -> Self {
        let mut entry = json!({
            "keyid": keyid(key),
            "publicKey": BASE64.encode(key.verifying_key().as_bytes()),
            "feeds": feeds,
        });
        merge(&mut entry, extra);
        self.keys.push(entry);
        self
    }

    pub fn threshold(mut self, feed: &str, threshold: u32) -> Self {
        self.feeds
            .insert(feed.to_owned(), json!({ "threshold": threshold }));
        self
    }

    pub fn to_json(&self) -> Value {
        json!({ "schema": "stella.trust.v1", "keys": self.keys, "feeds": self.feeds })
    }

    /// The trust file as the library reads it from disk.
    pub fn file(&self) -> TrustFile {
        serde_json::from_value(self.to_json()).expect("trust JSON has the TrustFile shape")
    }

    pub fn load(&self) -> Result<Trust, TrustProblem> {
        Trust::from_file(&self.file())
    }

    /// For specs a test means to be valid.
    pub fn trust(&self) -> Trust {
        self.load().expect("the test's trust file is valid")
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, serde_json::to_vec_pretty(&self.to_json()).unwrap()).unwrap();
    }
}

/// Trust in one key for [`FEED`], threshold 1.
pub fn trust_one(key: &SigningKey) -> Trust {
    TrustSpec::new().key(key, &[FEED]).trust()
}

fn merge(target: &mut Value, extra: Value) {
    let (Value::Object(target), Value::Object(extra)) = (target, extra) else {
        panic!("merge takes two JSON objects");
    };
    target.extend(extra);
}

// ---------------------------------------------------------------- documents and manifests

/// A document member: its bytes and the manifest entry that describes them.
#[derive(Debug, Clone)]
pub struct Doc {
    pub path: String,
    pub bytes: Vec<u8>,
    pub entry: Value,
}

impl Doc {
    pub fn new(path: &str, kind: &str, format: &str, bytes: Vec<u8>) -> Self {
        let entry = json!({
            "path": path, "kind": kind, "format": format,
            "sha256": sha256_hex(&bytes), "size": bytes.len(),
        });
        Self {
            path: path.to_owned(),
            bytes,
            entry,
        }
    }

    pub fn advisory(path: &str, bytes: Vec<u8>) -> Self {
        Self::new(path, "advisory", "osv", bytes)
    }

    /// An sbom entry with a subject, as the contract requires.
    pub fn sbom(path: &str, bytes: Vec<u8>, subject_name: &str) -> Self {
        let mut doc = Self::new(path, "sbom", "cyclonedx", bytes);
        let digest = format!("sha256:{}", sha256_hex(subject_name.as_bytes()));
        doc.entry["subject"] = json!({ "name": subject_name, "digest": digest });
        doc
    }
}

/// A file of the shared third-party corpus.
pub fn corpus(relative: &str) -> Vec<u8> {
    let path = format!("{CORPUS}/{relative}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("corpus file {path}: {e}"))
}

/// Three real documents: an OSV advisory, an OpenVEX statement and a CycloneDX SBOM.
pub fn sample_docs() -> Vec<Doc> {
    vec![
        Doc::advisory(
            "advisories/GHSA-34jh-p97f-mpxf.json",
            corpus("osv/ghsa/GHSA-34jh-p97f-mpxf.json"),
        ),
        Doc::new(
            "vex/vexctl-demo.openvex.json",
            "vex",
            "openvex",
            corpus("openvex/vexctl-demo.vex.json"),
        ),
        Doc::sbom(
            "sbom/distroless-static.cdx.json",
            corpus("cyclonedx/sbom/guac-distroless-static.cdx-1.4.json"),
            "registry.local/distroless/static:nonroot",
        ),
    ]
}

/// A valid snapshot manifest, sequence 1, for [`FEED`], listing `docs`.
pub fn manifest(docs: &[Doc]) -> Value {
    let documents: Vec<&Value> = docs.iter().map(|d| &d.entry).collect();
    json!({
        "schema": "stella.bundle.v1", "feed": FEED, "sequence": 1, "previous": null,
        "mode": "snapshot", "createdAt": "2026-12-01T00:00:00Z",
        "expiresAt": "2027-01-01T00:00:00Z", "documents": documents,
    })
}

// ---------------------------------------------------------------- DSSE envelopes

/// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, written from the DSSE spec.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let head = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope under construction; signatures are kept as JSON so any can be wrong.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Value>,
}

impl Envelope {
    /// An envelope around `payload` with no signature yet.
    pub fn of_bytes(payload: Vec<u8>) -> Self {
        Self {
            payload_type: PAYLOAD_TYPE.to_owned(),
            payload,
            signatures: Vec::new(),
        }
    }

    pub fn unsigned(manifest: &Value) -> Self {
        Self::of_bytes(serde_json::to_vec(manifest).unwrap())
    }

    pub fn signed(manifest: &Value, keys: &[&SigningKey]) -> Self {
        keys.iter()
            .fold(Self::unsigned(manifest), |env, key| env.sign(key))
    }

    /// Adds a signature by `key` over the PAE of the current type and payload.
    pub fn sign(self, key: &SigningKey) -> Self {
        let id = keyid(key);
        self.sign_as(key, &id)
    }

    /// Adds a signature by `key` that claims to come from `claimed_keyid`.
    pub fn sign_as(mut self, key: &SigningKey, claimed_keyid: &str) -> Self {
        let sig = key.sign(&pae(&self.payload_type, &self.payload));
        let sig = BASE64.encode(sig.to_bytes());
        self.signatures
            .push(json!({ "keyid": claimed_keyid, "sig": sig }));
        self
    }

    /// Declares another payload type; signatures made after this cover it.
    pub fn payload_type(mut self, payload_type: &str) -> Self {
        self.payload_type = payload_type.to_owned();
        self
    }

    /// Flips bit `bit` (0..512) of signature `index`.
    pub fn flip_signature_bit(mut self, index: usize, bit: usize) -> Self {
        let text = self.signatures[index]["sig"].as_str().unwrap();
        let mut raw = BASE64.decode(text).unwrap();
        raw[bit / 8] ^= 1 << (bit % 8);
        self.signatures[index]["sig"] = json!(BASE64.encode(raw));
        self
    }

    pub fn to_json(&self) -> Value {
        json!({
            "payloadType": self.payload_type,
            "payload": BASE64.encode(&self.payload),
            "signatures": self.signatures,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).unwrap()
    }
}

// ---------------------------------------------------------------- tar streams

/// One tar entry with every field under the test's control.
#[derive(Debug, Clone)]
pub struct Entry {
    name: Vec<u8>,
    kind: EntryType,
    data: Vec<u8>,
    declared: Option<u64>,
    link: Vec<u8>,
    gnu: bool,
    sparse: bool,
}

impl Entry {
    /// A regular file; `name` is written into the header byte for byte (at most 100).
    pub fn file(name: impl AsRef<[u8]>, data: &[u8]) -> Self {
        Self {
            name: name.as_ref().to_vec(),
            kind: EntryType::Regular,
            data: data.to_vec(),
            declared: None,
            link: Vec::new(),
            gnu: false,
            sparse: false,
        }
    }

    pub fn kind(mut self, kind: EntryType) -> Self {
        self.kind = kind;
        self
    }

    /// The size the header claims, whatever the data really is.
    pub fn declared_size(mut self, size: u64) -> Self {
        self.declared = Some(size);
        self
    }

    pub fn link(mut self, target: impl AsRef<[u8]>) -> Self {
        self.link = target.as_ref().to_vec();
        self
    }

    /// A GNU header instead of ustar.
    pub fn gnu(mut self) -> Self {
        self.gnu = true;
        self
    }

    /// A GNU sparse file (`S`) whose one chunk is all of its data.
    pub fn gnu_sparse(mut self) -> Self {
        self.kind = EntryType::GNUSparse;
        self.gnu = true;
        self.sparse = true;
        self
    }

    fn header(&self) -> Header {
        let mut header = if self.gnu {
            Header::new_gnu()
        } else {
            Header::new_ustar()
        };
        put_raw(&mut header.as_old_mut().name, &self.name);
        put_raw(&mut header.as_old_mut().linkname, &self.link);
        header.set_size(self.declared.unwrap_or(self.data.len() as u64));
        header.set_mode(0o644);
        header.set_mtime(1_796_083_200); // 2026-12-01, the createdAt of `manifest`
        header.set_entry_type(self.kind);
        if self.sparse {
            self.map_one_sparse_chunk(&mut header);
        }
        header.set_cksum();
        header
    }
}

impl Entry {
    fn map_one_sparse_chunk(&self, header: &mut Header) {
        let len = self.data.len() as u64;
        let gnu = header
            .as_gnu_mut()
            .expect("sparse entries have GNU headers");
        gnu.set_real_size(len);
        gnu.sparse[0].set_offset(0);
        gnu.sparse[0].set_length(len);
    }
}

fn put_raw(field: &mut [u8], bytes: &[u8]) {
    assert!(
        bytes.len() <= field.len(),
        "{} bytes do not fit",
        bytes.len()
    );
    field[..bytes.len()].copy_from_slice(bytes);
}

/// A tar stream assembled block by block, mistakes included.
#[derive(Debug, Clone, Default)]
pub struct Tar {
    bytes: Vec<u8>,
}

impl Tar {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes the header, then the data padded to a block (not to the declared size).
    pub fn entry(mut self, entry: Entry) -> Self {
        self.bytes.extend_from_slice(entry.header().as_bytes());
        self.bytes.extend_from_slice(&entry.data);
        self.pad();
        self
    }

    pub fn file(self, name: impl AsRef<[u8]>, data: &[u8]) -> Self {
        self.entry(Entry::file(name, data))
    }

    /// `manifest.dsse.json` holding `envelope`.
    pub fn manifest(self, envelope: &Envelope) -> Self {
        self.file(MANIFEST, &envelope.to_bytes())
    }

    pub fn docs(self, docs: &[Doc]) -> Self {
        docs.iter().fold(self, |tar, d| tar.file(&d.path, &d.bytes))
    }

    pub fn dir(self, name: impl AsRef<[u8]>) -> Self {
        self.entry(Entry::file(name, b"").kind(EntryType::Directory))
    }

    /// An entry of `kind` (symlink, hard link, fifo, ...) pointing at `target`.
    pub fn special(self, name: &str, kind: EntryType, target: &str) -> Self {
        self.entry(Entry::file(name, b"").kind(kind).link(target))
    }

    /// A pax extended header carrying `path`, then a ustar entry with a stand-in name.
    pub fn pax_file(self, path: &str, data: &[u8]) -> Self {
        let records = pax_record("path", path);
        let stand_in = format!("PaxHeaders/{}", &path[path.len().saturating_sub(60)..]);
        self.entry(Entry::file("PaxHeaders/long", &records).kind(EntryType::XHeader))
            .file(stand_in, data)
    }

    /// A GNU `././@LongLink` entry carrying `path`, then a GNU entry with a cut name.
    pub fn gnu_long_file(self, path: &str, data: &[u8]) -> Self {
        let mut name = path.as_bytes().to_vec();
        name.push(0);
        let long = Entry::file("././@LongLink", &name)
            .kind(EntryType::GNULongName)
            .gnu();
        self.entry(long)
            .entry(Entry::file(&path.as_bytes()[..99], data).gnu())
    }

    /// A pax global header (`g`) with one record.
    pub fn pax_global(self, key: &str, value: &str) -> Self {
        let records = pax_record(key, value);
        self.entry(Entry::file("pax_global_header", &records).kind(EntryType::XGlobalHeader))
    }

    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// The end-of-archive marker: two zero blocks.
    pub fn end(self) -> Self {
        self.raw(&[0u8; 2 * BLOCK])
    }

    /// Keeps only the first `len` bytes.
    pub fn cut(mut self, len: usize) -> Self {
        self.bytes.truncate(len);
        self
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn pad(&mut self) {
        let rem = self.bytes.len() % BLOCK;
        if rem != 0 {
            self.bytes.resize(self.bytes.len() + BLOCK - rem, 0);
        }
    }
}

/// One pax record: `"<len> <key>=<value>\n"`, where len counts the whole record.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while len.to_string().len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

/// Manifest first, then `docs` in order, then the end marker, signed by `keys`.
pub fn signed_tar(manifest: &Value, docs: &[Doc], keys: &[&SigningKey]) -> Tar {
    Tar::new()
        .manifest(&Envelope::signed(manifest, keys))
        .docs(docs)
        .end()
}

// ---------------------------------------------------------------- zstd framing

/// One zstd frame at level 3 with a content checksum, as `bundle create` writes.
pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd_with(bytes, |_| ())
}

/// Each part compressed as its own frame, frames back to back.
pub fn zstd_frames(parts: &[&[u8]]) -> Vec<u8> {
    parts.iter().flat_map(|part| zstd(part)).collect()
}

/// One frame whose header asks the decoder for a window of `2^log` bytes.
pub fn zstd_window_log(bytes: &[u8], log: u32) -> Vec<u8> {
    zstd_with(bytes, |encoder| encoder.window_log(log).unwrap())
}

/// `total` zero bytes as identical frames of `frame` zeros each: a real zstd stream of
/// that many zeros for the price of compressing one frame.
pub fn zero_frames(total: u64, frame: usize) -> Vec<u8> {
    assert_eq!(total % frame as u64, 0, "total must be whole frames");
    zstd(&vec![0u8; frame]).repeat((total / frame as u64) as usize)
}

fn zstd_with(bytes: &[u8], tune: impl FnOnce(&mut zstd::Encoder<'static, Vec<u8>>)) -> Vec<u8> {
    let mut encoder = zstd::Encoder::new(Vec::new(), 3).unwrap();
    encoder.include_checksum(true).unwrap();
    tune(&mut encoder);
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

// ---------------------------------------------------------------- files and verdicts

/// A temp dir that holds one test's bundles and trust files.
#[derive(Debug)]
pub struct Dir(tempfile::TempDir);

impl Dir {
    pub fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes `bytes` to `name` in the dir and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

/// Writes `bytes` as a bundle file and verifies it against `trust` at [`NOW`].
pub fn verify(trust: &Trust, bytes: &[u8]) -> Report {
    verify_with(trust, bytes, Limits::default())
}

pub fn verify_with(trust: &Trust, bytes: &[u8], limits: Limits) -> Report {
    verify_into(trust, bytes, limits, &mut Discard)
}

/// Verifies with `sink` receiving the members whose digest matched.
pub fn verify_into(
    trust: &Trust,
    bytes: &[u8],
    limits: Limits,
    sink: &mut dyn MemberSink,
) -> Report {
    let dir = Dir::new();
    let path = dir.write("bundle.tar.zst", bytes);
    Verifier::new(trust, limits).at(NOW).verify(&path, sink)
}

/// Asserts the bundle was refused at `step`, blaming `member` (or no member), that the
/// message and the transcript say so, and returns the reason for a closer look.
pub fn refused<'r>(report: &'r Report, step: Step, member: Option<&str>) -> &'r Reason {
    let Some(err) = report.error.as_ref() else {
        panic!("expected a refusal at {step}, but the bundle verified");
    };
    let text = err.to_string();
    assert_eq!(err.step, step, "wrong step: {text}");
    assert_eq!(err.member.as_deref(), member, "wrong member: {text}");
    assert!(text.starts_with(&format!("{step}: ")), "message: {text}");
    if let Some(member) = member {
        assert!(
            text.contains(&format!("member {member}: ")),
            "message: {text}"
        );
    }
    let failure = report
        .transcript
        .failure
        .as_ref()
        .expect("transcript failure");
    assert_eq!(
        (failure.step, failure.member.as_deref()),
        (step.number(), member)
    );
    &err.reason
}
