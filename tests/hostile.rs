//! Hostile bundles against the verifier: each case of issue 2 §4 gets a bundle built by
//! hand (see `util`) and must be refused at its own step of docs/bundle-format.md, for
//! its own reason, naming the member at fault. Every case ends in a report: a panic in
//! the verifier fails the test that caused it.

#![allow(clippy::unwrap_used)]

mod util;

use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use sha2::Digest as _;
use stella_scheduler::bundle::trust::TrustProblem;
use stella_scheduler::bundle::{
    dsse, keys, DocumentEntry, Limits, ManifestError, MemberPathError, MemberSink, Reason,
    RejectReason, Report, Step, Trust, TrustError,
};
use tar::EntryType;

use util::{
    key, keyid, manifest, refused, sample_docs, sha256_hex, signed_tar, verify, verify_with,
    zero_frames, zstd, zstd_frames, zstd_window_log, Dir, Doc, Entry, Envelope, Tar, TrustSpec,
    FEED, MANIFEST,
};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Fails with the value when it does not match the pattern.
macro_rules! assert_matches {
    ($value:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {
        match $value {
            $pattern $(if $guard)? => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
}

fn alice() -> SigningKey {
    key(1)
}

fn bob() -> SigningKey {
    key(2)
}

fn mallory() -> SigningKey {
    key(66)
}

/// Alice is trusted for the feed with threshold 1.
fn trust() -> Trust {
    util::trust_one(&alice())
}

/// The sample documents, signed by alice, as a compressed bundle.
fn good_bundle() -> (Vec<Doc>, Vec<u8>) {
    let docs = sample_docs();
    let tar = signed_tar(&manifest(&docs), &docs, &[&alice()]);
    (docs, zstd(tar.bytes()))
}

/// Alice signs the sample manifest; the tar after it is up to the test.
fn sample_envelope() -> (Vec<Doc>, Envelope) {
    let docs = sample_docs();
    let envelope = Envelope::signed(&manifest(&docs), &[&alice()]);
    (docs, envelope)
}

/// Verifies a bundle whose tar is the sample manifest signed by alice plus `rest`.
fn verify_members(rest: impl FnOnce(Tar, &[Doc]) -> Tar) -> Report {
    let (docs, envelope) = sample_envelope();
    let tar = rest(Tar::new().manifest(&envelope), &docs);
    verify(&trust(), &zstd(tar.bytes()))
}

/// Verifies the sample documents under a manifest changed by `edit`, signed by alice.
fn verify_manifest(edit: impl FnOnce(&mut Value)) -> Report {
    let docs = sample_docs();
    let mut m = manifest(&docs);
    edit(&mut m);
    let tar = signed_tar(&m, &docs, &[&alice()]);
    verify(&trust(), &zstd(tar.bytes()))
}

/// The manifest error of a bundle refused at step 6.
fn manifest_error(report: &Report) -> &ManifestError {
    match refused(report, Step::Manifest, None) {
        Reason::Manifest(e) => e,
        other => panic!("expected a manifest error, got {other:?}"),
    }
}

/// The rejections of a bundle refused at step 5, with the message naming each key.
fn rejections(report: &Report) -> Vec<(String, RejectReason)> {
    let reason = refused(report, Step::Signatures, None);
    let Reason::NoTrustedSignature { rejections } = reason else {
        panic!("expected no trusted signature, got {reason:?}");
    };
    let text = report.error.as_ref().unwrap().to_string();
    for r in rejections {
        assert!(
            text.contains(&format!("key {}: {}", &r.keyid[..16], r.why)),
            "{text}"
        );
    }
    rejections
        .iter()
        .map(|r| (r.keyid.clone(), r.why.clone()))
        .collect()
}

/// The path error of a member refused at step 9.
fn path_error<'r>(report: &'r Report, member: &str) -> &'r MemberPathError {
    match refused(report, Step::Members, Some(member)) {
        Reason::Path(e) => e,
        other => panic!("expected a path error, got {other:?}"),
    }
}

fn total_size(docs: &[Doc]) -> u64 {
    docs.iter().map(|d| d.bytes.len() as u64).sum()
}

// ---------------------------------------------------------------- the DSL itself

#[test]
fn valid_bundle_verifies_with_members_and_bytes_counted() {
    let (docs, bundle) = good_bundle();
    let report = verify(&trust(), &bundle);
    assert!(report.is_valid(), "{:?}", report.error);
    let t = &report.transcript;
    assert_eq!(t.checked, vec![0, 1, 2]);
    assert_eq!(t.bytes_checked, total_size(&docs));
    assert!(t.bytes_checked > 1000, "real corpus documents, not stubs");
    let payload = serde_json::to_vec(&manifest(&docs)).unwrap();
    let id = t.bundle_id.as_ref().unwrap().as_str();
    assert_eq!(id, sha256_hex(&payload));
    assert_eq!(t.signatures.len(), 1);
    assert!(t.signatures[0].valid && t.signatures[0].counted);
    assert_eq!(t.signatures[0].keyid, keyid(&alice()));
    assert_eq!(report.manifest.as_ref().unwrap().feed, FEED);
}

#[test]
fn dsl_signs_as_the_dsse_spec_and_the_library_do() {
    let spec_vector = b"DSSEv1 29 http://example.com/HelloWorld 11 hello world";
    assert_eq!(
        util::pae("http://example.com/HelloWorld", b"hello world"),
        spec_vector
    );
    let payload = serde_json::to_vec(&manifest(&sample_docs())).unwrap();
    assert_eq!(
        util::pae(util::PAYLOAD_TYPE, &payload),
        dsse::pae(util::PAYLOAD_TYPE, &payload)
    );
    assert_eq!(keyid(&alice()), keys::key_id(&alice().verifying_key()));
}

/// Keeps the path of every member the verifier hands over.
#[derive(Debug, Default)]
struct Received(Vec<String>);

impl MemberSink for Received {
    fn wants_bytes(&self) -> bool {
        true
    }

    fn accept(
        &mut self,
        entry: &DocumentEntry,
        bytes: Vec<u8>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        assert_eq!(sha256_hex(&bytes), entry.sha256.to_hex());
        self.0.push(entry.path.to_string());
        Ok(())
    }
}

#[test]
fn only_members_whose_digest_matched_are_handed_on() {
    let (docs, envelope) = sample_envelope();
    let mut changed = docs[2].bytes.clone();
    changed[0] ^= 0x01;
    let tar = Tar::new()
        .manifest(&envelope)
        .docs(&docs[..2])
        .file(&docs[2].path, &changed)
        .end();
    let mut received = Received::default();
    let report = util::verify_into(
        &trust(),
        &zstd(tar.bytes()),
        Limits::default(),
        &mut received,
    );
    let reason = refused(&report, Step::Members, Some(&docs[2].path));
    assert_matches!(reason, Reason::DigestMismatch { .. });
    assert_eq!(received.0, vec![docs[0].path.clone(), docs[1].path.clone()]);
}

#[test]
fn directory_entries_are_ignored() {
    let report = verify_members(|tar, docs| {
        tar.dir("advisories/")
            .dir("vex")
            .docs(docs)
            .dir("sbom/")
            .end()
    });
    assert!(report.is_valid(), "{:?}", report.error);
    assert_eq!(report.transcript.checked.len(), 3);
}

#[test]
fn directory_with_a_parent_component_is_refused() {
    let report = verify_members(|tar, docs| tar.dir("advisories/../../").docs(docs).end());
    let err = path_error(&report, "advisories/../../");
    assert_matches!(err, MemberPathError::ParentComponent { .. });
}

#[test]
fn multi_frame_zstd_is_accepted() {
    let (docs, envelope) = sample_envelope();
    let tar = Tar::new().manifest(&envelope).docs(&docs).end();
    let b = tar.bytes();
    // Frame borders fall inside a header, inside a member and inside the end marker.
    let frames = zstd_frames(&[
        &b[..700],
        &b[700..5000],
        &b[5000..b.len() - 600],
        &b[b.len() - 600..],
    ]);
    let report = verify(&trust(), &frames);
    assert!(report.is_valid(), "{:?}", report.error);
    assert_eq!(report.transcript.bytes_checked, total_size(&docs));
}

/// A valid path of 216 bytes: too long for the 100-byte ustar name field.
fn long_path() -> String {
    let path = format!("advisories/{}.json", "GHSA-long-".repeat(20));
    assert!(path.len() > 200 && path.len() <= 240);
    path
}

fn verify_long_name(write: impl FnOnce(Tar, &str, &[u8]) -> Tar) -> Report {
    let doc = Doc::advisory(&long_path(), corpus_advisory());
    let envelope = Envelope::signed(&manifest(std::slice::from_ref(&doc)), &[&alice()]);
    let tar = write(Tar::new().manifest(&envelope), &doc.path, &doc.bytes).end();
    verify(&trust(), &zstd(tar.bytes()))
}

fn corpus_advisory() -> Vec<u8> {
    util::corpus("osv/go/GO-2022-1059.json")
}

#[test]
fn pax_long_name_is_accepted() {
    let report = verify_long_name(|tar, path, data| tar.pax_file(path, data));
    assert!(report.is_valid(), "{:?}", report.error);
    assert_eq!(report.transcript.checked, vec![0]);
}

#[test]
fn gnu_long_name_is_accepted() {
    let report = verify_long_name(|tar, path, data| tar.gnu_long_file(path, data));
    assert!(report.is_valid(), "{:?}", report.error);
    assert_eq!(report.transcript.checked, vec![0]);
}

#[test]
fn tar_path_of_241_bytes_is_refused() {
    let too_long = format!("advisories/{}.json", "x".repeat(225));
    assert_eq!(too_long.len(), 241);
    let report = verify_long_name(|tar, _, data| tar.pax_file(&too_long, data));
    let err = path_error(&report, &too_long);
    assert_matches!(err, MemberPathError::TooLong { len: 241, .. });
}

// ---------------------------------------------------------------- signatures and trust

#[test]
fn unsigned_bundle_is_refused() {
    let docs = sample_docs();
    let tar = Tar::new()
        .manifest(&Envelope::unsigned(&manifest(&docs)))
        .docs(&docs)
        .end();
    let report = verify(&trust(), &zstd(tar.bytes()));
    assert_matches!(refused(&report, Step::Signatures, None), Reason::Unsigned);
    assert!(
        report.manifest.is_none(),
        "manifest parsed before the signature check"
    );
}

#[test]
fn unknown_key_is_refused() {
    let docs = sample_docs();
    let tar = signed_tar(&manifest(&docs), &docs, &[&mallory()]);
    let report = verify(&trust(), &zstd(tar.bytes()));
    assert_eq!(
        rejections(&report),
        vec![(keyid(&mallory()), RejectReason::UnknownKey)]
    );
}

fn verify_signed_by_alice_under(trust: &TrustSpec) -> Report {
    let (_, bundle) = good_bundle();
    verify(&trust.trust(), &bundle)
}

#[test]
fn revoked_key_is_refused() {
    let spec = TrustSpec::new().key_with(&alice(), &[FEED], json!({"revoked": true}));
    let report = verify_signed_by_alice_under(&spec);
    assert_eq!(
        rejections(&report),
        vec![(keyid(&alice()), RejectReason::Revoked)]
    );
}

#[test]
fn expired_key_is_refused() {
    let until = json!({"notAfter": "2026-12-01T00:00:00Z"});
    let spec = TrustSpec::new().key_with(&alice(), &[FEED], until);
    let report = verify_signed_by_alice_under(&spec);
    let rejected = rejections(&report);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, keyid(&alice()));
    assert_matches!(
        &rejected[0].1,
        RejectReason::Expired { not_after } if not_after.contains("2026-12-01")
    );
}

#[test]
fn key_not_allowed_for_the_feed_is_refused_at_threshold() {
    let spec = TrustSpec::new().key(&alice(), &["vex-feed"]);
    let report = verify_signed_by_alice_under(&spec);
    let reason = refused(&report, Step::Threshold, None);
    assert_matches!(
        reason,
        Reason::ThresholdNotMet { feed, threshold: 1, counted: 0, not_allowed }
            if feed == FEED && *not_allowed == vec![keyid(&alice())]
    );
    let text = report.error.as_ref().unwrap().to_string();
    assert!(text.contains(&keyid(&alice())[..16]), "{text}");
    assert!(
        report.transcript.checked.is_empty(),
        "no member may be read"
    );
}

#[test]
fn flipped_signature_bit_is_refused() {
    for bit in [0, 255, 300, 511] {
        let (docs, envelope) = sample_envelope();
        let envelope = envelope.flip_signature_bit(0, bit);
        let tar = Tar::new().manifest(&envelope).docs(&docs).end();
        let report = verify(&trust(), &zstd(tar.bytes()));
        let rejected = rejections(&report);
        assert_eq!(
            rejected,
            vec![(keyid(&alice()), RejectReason::BadSignature)],
            "bit {bit}"
        );
    }
}

#[test]
fn signature_by_another_key_under_a_trusted_keyid_is_refused() {
    let docs = sample_docs();
    let envelope = Envelope::unsigned(&manifest(&docs)).sign_as(&mallory(), &keyid(&alice()));
    let tar = Tar::new().manifest(&envelope).docs(&docs).end();
    let report = verify(&trust(), &zstd(tar.bytes()));
    assert_eq!(
        rejections(&report),
        vec![(keyid(&alice()), RejectReason::BadSignature)]
    );
}

fn threshold_two() -> Trust {
    TrustSpec::new()
        .key(&alice(), &[FEED])
        .key(&bob(), &["*"])
        .key(&mallory(), &["vex-feed"])
        .threshold(FEED, 2)
        .trust()
}

fn verify_signed_by(envelope: Envelope, trust: &Trust) -> Report {
    let docs = sample_docs();
    let tar = Tar::new().manifest(&envelope).docs(&docs).end();
    verify(trust, &zstd(tar.bytes()))
}

#[test]
fn threshold_two_with_one_signature_is_refused() {
    let (_, envelope) = sample_envelope();
    let report = verify_signed_by(envelope, &threshold_two());
    let reason = refused(&report, Step::Threshold, None);
    assert_matches!(
        reason,
        Reason::ThresholdNotMet { threshold: 2, counted: 1, not_allowed, .. }
            if not_allowed.is_empty()
    );
    assert!(report
        .error
        .as_ref()
        .unwrap()
        .to_string()
        .contains("needs 2"));
}

#[test]
fn threshold_two_is_not_met_by_a_key_outside_the_feed() {
    let envelope = Envelope::signed(&manifest(&sample_docs()), &[&alice(), &mallory()]);
    let report = verify_signed_by(envelope, &threshold_two());
    let reason = refused(&report, Step::Threshold, None);
    assert_matches!(
        reason,
        Reason::ThresholdNotMet { threshold: 2, counted: 1, not_allowed, .. }
            if *not_allowed == vec![keyid(&mallory())]
    );
}

#[test]
fn the_same_key_signing_twice_counts_once() {
    let (_, envelope) = sample_envelope();
    let envelope = envelope.sign(&alice());
    assert_eq!(envelope.signatures.len(), 2);
    let report = verify_signed_by(envelope, &threshold_two());
    let reason = refused(&report, Step::Threshold, None);
    assert_matches!(
        reason,
        Reason::ThresholdNotMet {
            threshold: 2,
            counted: 1,
            ..
        }
    );
}

#[test]
fn two_distinct_keys_meet_threshold_two() {
    let envelope = Envelope::signed(&manifest(&sample_docs()), &[&alice(), &bob()]);
    let report = verify_signed_by(envelope, &threshold_two());
    assert!(report.is_valid(), "{:?}", report.error);
    let counted = report
        .transcript
        .signatures
        .iter()
        .filter(|s| s.counted)
        .count();
    assert_eq!(counted, 2);
}

#[test]
fn wrong_payload_type_is_refused() {
    // Signed consistently over the wrong type, so only the type check can catch it.
    let docs = sample_docs();
    let envelope = Envelope::unsigned(&manifest(&docs))
        .payload_type("application/vnd.in-toto+json")
        .sign(&alice());
    let report = verify_signed_by(envelope, &trust());
    let reason = refused(&report, Step::Envelope, None);
    assert_matches!(reason, Reason::PayloadType { got } if got == "application/vnd.in-toto+json");
}

#[test]
fn trust_file_keyid_that_does_not_match_its_key_is_refused() {
    let wrong = json!({"keyid": keyid(&bob())});
    let spec = TrustSpec::new().key_with(&alice(), &[FEED], wrong);
    let problem = spec.load().expect_err("a mismatched keyid must be refused");
    assert_matches!(
        &problem,
        TrustProblem::KeyIdMismatch { keyid: k, computed }
            if *k == keyid(&bob()) && *computed == keyid(&alice())
    );
    let dir = Dir::new();
    let path = dir.path("trust.json");
    spec.write(&path);
    let err = Trust::load(&path).expect_err("refused from disk too");
    assert_matches!(
        err,
        TrustError::Invalid {
            problem: TrustProblem::KeyIdMismatch { .. },
            ..
        }
    );
    assert!(err.to_string().contains("trust.json"), "{err}");
}

#[test]
fn unsigned_bundle_is_refused_before_its_broken_manifest_and_members() {
    let docs = sample_docs();
    let mut m = manifest(&docs);
    m["sequence"] = json!(0);
    let tar = Tar::new()
        .manifest(&Envelope::unsigned(&m))
        .file("/etc/passwd", b"root")
        .end();
    let report = verify(&trust(), &zstd(tar.bytes()));
    assert_matches!(refused(&report, Step::Signatures, None), Reason::Unsigned);
}

// ---------------------------------------------------------------- the container

#[test]
fn manifest_not_first_is_refused() {
    let (docs, envelope) = sample_envelope();
    let tar = Tar::new()
        .docs(&docs[..1])
        .manifest(&envelope)
        .docs(&docs[1..])
        .end();
    let report = verify(&trust(), &zstd(tar.bytes()));
    let reason = refused(&report, Step::ManifestMember, None);
    assert_matches!(reason, Reason::FirstMemberNotManifest { got } if *got == docs[0].path);
    assert!(report
        .error
        .as_ref()
        .unwrap()
        .to_string()
        .contains(&docs[0].path));
}

#[test]
fn manifest_that_is_a_symlink_is_refused() {
    let tar = Tar::new()
        .special(MANIFEST, EntryType::Symlink, "/etc/passwd")
        .end();
    let report = verify(&trust(), &zstd(tar.bytes()));
    let reason = refused(&report, Step::ManifestMember, None);
    assert_matches!(
        reason,
        Reason::ManifestNotRegular {
            entry_type: "symlink"
        }
    );
}

#[test]
fn manifest_member_cut_short_is_refused() {
    let (_, envelope) = sample_envelope();
    let full = Tar::new().manifest(&envelope);
    let tar = full.clone().cut(512 + 300);
    let report = verify(&trust(), &zstd(tar.bytes()));
    let reason = refused(&report, Step::ManifestMember, Some(MANIFEST));
    let expected = envelope.to_bytes().len() as u64;
    assert_matches!(reason, Reason::Truncated { read: 300, expected: e } if *e == expected);
}

#[test]
fn missing_member_is_refused() {
    let report = verify_members(|tar, docs| tar.docs(&docs[..1]).docs(&docs[2..]).end());
    let missing = sample_docs()[1].path.clone();
    let reason = refused(&report, Step::Members, None);
    assert_matches!(reason, Reason::Missing { paths } if *paths == vec![missing.clone()]);
    assert!(report
        .error
        .as_ref()
        .unwrap()
        .to_string()
        .contains(&missing));
}

#[test]
fn unlisted_member_is_refused() {
    let extra = "advisories/GHSA-extra.json";
    let report = verify_members(|tar, docs| tar.docs(docs).file(extra, b"{}").end());
    assert_matches!(
        refused(&report, Step::Members, Some(extra)),
        Reason::Unlisted
    );
}

#[test]
fn duplicate_member_is_refused() {
    let report = verify_members(|tar, docs| tar.docs(docs).docs(&docs[..1]).end());
    let path = &sample_docs()[0].path;
    assert_matches!(
        refused(&report, Step::Members, Some(path)),
        Reason::Duplicate
    );
}

#[test]
fn second_manifest_member_is_refused_as_a_duplicate() {
    let (_, envelope) = sample_envelope();
    let report = verify_members(|tar, docs| tar.docs(docs).manifest(&envelope).end());
    assert_matches!(
        refused(&report, Step::Members, Some(MANIFEST)),
        Reason::Duplicate
    );
}

#[test]
fn size_mismatch_is_refused() {
    let report = verify_members(|tar, docs| {
        let mut longer = docs[0].bytes.clone();
        longer.push(b'\n');
        tar.file(&docs[0].path, &longer).docs(&docs[1..]).end()
    });
    let doc = &sample_docs()[0];
    let n = doc.bytes.len() as u64;
    let reason = refused(&report, Step::Members, Some(&doc.path));
    assert_matches!(
        reason,
        Reason::SizeMismatch { declared, header } if *declared == n && *header == n + 1
    );
}

#[test]
fn header_size_that_lies_about_the_data_is_refused() {
    // Header and manifest agree on the size; the data behind the header is shorter, so
    // the member swallows the next header and its digest no longer matches.
    let report = verify_members(|tar, docs| {
        let short = &docs[0].bytes[..docs[0].bytes.len() - 700];
        let entry = Entry::file(&docs[0].path, short).declared_size(docs[0].bytes.len() as u64);
        tar.entry(entry).docs(&docs[1..]).end()
    });
    let path = &sample_docs()[0].path;
    assert_matches!(
        refused(&report, Step::Members, Some(path)),
        Reason::DigestMismatch { .. }
    );
}

#[test]
fn digest_mismatch_with_the_same_size_is_refused() {
    let report = verify_members(|tar, docs| {
        let mut changed = docs[0].bytes.clone();
        changed[100] ^= 0x01;
        tar.file(&docs[0].path, &changed).docs(&docs[1..]).end()
    });
    let doc = &sample_docs()[0];
    let mut changed = doc.bytes.clone();
    changed[100] ^= 0x01;
    let reason = refused(&report, Step::Members, Some(&doc.path));
    assert_matches!(
        reason,
        Reason::DigestMismatch { expected, got }
            if *expected == sha256_hex(&doc.bytes) && *got == sha256_hex(&changed)
    );
    let text = report.error.as_ref().unwrap().to_string();
    assert!(text.contains("sha256 mismatch"), "{text}");
}

/// The first sample document stored under `name` instead of its own path.
fn verify_renamed(name: &[u8]) -> Report {
    verify_members(|tar, docs| tar.file(name, &docs[0].bytes).docs(&docs[1..]).end())
}

#[test]
fn absolute_path_is_refused() {
    let report = verify_renamed(b"/advisories/GHSA-34jh-p97f-mpxf.json");
    let err = path_error(&report, "/advisories/GHSA-34jh-p97f-mpxf.json");
    assert_matches!(err, MemberPathError::Absolute { .. });
}

#[test]
fn parent_component_is_refused() {
    let name = "advisories/../advisories/GHSA-34jh-p97f-mpxf.json";
    let report = verify_renamed(name.as_bytes());
    assert_matches!(
        path_error(&report, name),
        MemberPathError::ParentComponent { .. }
    );
}

#[test]
fn characters_outside_the_allowed_set_are_refused() {
    for bad in [b' ', b';', b'\\', b':', b'~', b'\n', 0x7f, 0xc3] {
        let mut name = b"advisories/GHSA.json".to_vec();
        name[15] = bad;
        let report = verify_renamed(&name);
        let shown = String::from_utf8_lossy(&name).into_owned();
        let err = path_error(&report, &shown);
        assert_matches!(
            err,
            MemberPathError::ForbiddenByte { byte, offset: 15, .. } if *byte == bad
        );
    }
}

fn verify_special(kind: EntryType) -> Report {
    verify_members(|tar, docs| {
        tar.docs(docs)
            .special("advisories/link.json", kind, "/etc/passwd")
            .end()
    })
}

#[test]
fn symlink_is_refused() {
    let report = verify_special(EntryType::Symlink);
    let reason = refused(&report, Step::Members, Some("advisories/link.json"));
    assert_matches!(
        reason,
        Reason::EntryType {
            entry_type: "symlink"
        }
    );
}

#[test]
fn hard_link_is_refused() {
    let report = verify_special(EntryType::Link);
    let reason = refused(&report, Step::Members, Some("advisories/link.json"));
    assert_matches!(
        reason,
        Reason::EntryType {
            entry_type: "hard link"
        }
    );
}

#[test]
fn fifo_is_refused() {
    let report = verify_special(EntryType::Fifo);
    let reason = refused(&report, Step::Members, Some("advisories/link.json"));
    assert_matches!(reason, Reason::EntryType { entry_type: "fifo" });
}

#[test]
fn devices_are_refused() {
    for (kind, name) in [
        (EntryType::Char, "character device"),
        (EntryType::Block, "block device"),
    ] {
        let report = verify_special(kind);
        let reason = refused(&report, Step::Members, Some("advisories/link.json"));
        assert_matches!(reason, Reason::EntryType { entry_type } if *entry_type == name);
    }
}

#[test]
fn gnu_sparse_file_is_refused() {
    let report = verify_members(|tar, docs| {
        let sparse = Entry::file("advisories/sparse.json", &[b'x'; 512]).gnu_sparse();
        tar.docs(docs).entry(sparse).end()
    });
    let reason = refused(&report, Step::Members, Some("advisories/sparse.json"));
    assert_matches!(
        reason,
        Reason::EntryType {
            entry_type: "GNU sparse file"
        }
    );
}

#[test]
fn pax_global_header_is_refused() {
    let report = verify_members(|tar, docs| tar.pax_global("comment", "hi").docs(docs).end());
    let reason = refused(&report, Step::Members, Some("pax_global_header"));
    assert_matches!(
        reason,
        Reason::EntryType {
            entry_type: "pax global header"
        }
    );
}

#[test]
fn non_zero_bytes_after_the_end_marker_are_refused() {
    let report = verify_members(|tar, docs| tar.docs(docs).end().raw(&[0x41; 512]));
    assert_matches!(refused(&report, Step::End, None), Reason::TrailingData);
}

// ---------------------------------------------------------------- the manifest

#[test]
fn bad_schema_value_is_refused() {
    let report = verify_manifest(|m| m["schema"] = json!("stella.bundle.v2"));
    let err = manifest_error(&report);
    assert_matches!(err, ManifestError::Schema { got } if got == "stella.bundle.v2");
}

#[test]
fn sequence_zero_is_refused() {
    let report = verify_manifest(|m| m["sequence"] = json!(0));
    assert_matches!(manifest_error(&report), ManifestError::SequenceZero);
}

#[test]
fn delta_after_sequence_one_without_previous_is_refused() {
    let report = verify_manifest(|m| {
        m["mode"] = json!("delta");
        m["sequence"] = json!(7);
    });
    assert_matches!(
        manifest_error(&report),
        ManifestError::PreviousMissing { sequence: 7 }
    );
}

#[test]
fn bad_feed_name_is_refused() {
    for feed in ["OSV-Mirror", "-osv", "osv mirror", "", &"a".repeat(65)] {
        let report = verify_manifest(|m| m["feed"] = json!(feed));
        assert_matches!(manifest_error(&report), ManifestError::Feed { got } if got == feed);
    }
}

#[test]
fn unknown_mode_is_refused() {
    let report = verify_manifest(|m| m["mode"] = json!("incremental"));
    assert_matches!(manifest_error(&report), ManifestError::Mode { got } if got == "incremental");
}

#[test]
fn unknown_kind_is_refused() {
    let report = verify_manifest(|m| m["documents"][1]["kind"] = json!("exploit"));
    let err = manifest_error(&report);
    assert_matches!(err, ManifestError::Kind { index: 1, got } if got == "exploit");
}

#[test]
fn sbom_without_subject_is_refused() {
    let report = verify_manifest(|m| {
        m["documents"][2].as_object_mut().unwrap().remove("subject");
    });
    assert_matches!(
        manifest_error(&report),
        ManifestError::SbomWithoutSubject { index: 2 }
    );
}

#[test]
fn unknown_manifest_field_is_refused() {
    let report = verify_manifest(|m| m["sequnce"] = json!(2));
    assert_matches!(manifest_error(&report), ManifestError::Json(_));
}

#[test]
fn manifest_that_is_not_json_is_refused() {
    let envelope = Envelope::of_bytes(b"feed: osv-mirror\nsequence: 1\n".to_vec()).sign(&alice());
    let report = verify_signed_by(envelope, &trust());
    assert_matches!(manifest_error(&report), ManifestError::Json(_));
}

#[test]
fn manifest_with_a_duplicate_field_is_refused() {
    let text = serde_json::to_string(&manifest(&sample_docs())).unwrap();
    let twice = text.replacen("\"sequence\":1", "\"sequence\":1,\"sequence\":9", 1);
    assert_ne!(text, twice);
    let envelope = Envelope::of_bytes(twice.into_bytes()).sign(&alice());
    let report = verify_signed_by(envelope, &trust());
    assert_matches!(manifest_error(&report), ManifestError::Json(_));
}

#[test]
fn envelope_that_is_not_json_is_refused() {
    let tar = Tar::new().file(MANIFEST, b"{\"payloadType\": ").end();
    let report = verify(&trust(), &zstd(tar.bytes()));
    assert_matches!(refused(&report, Step::Envelope, None), Reason::Envelope(_));
}

#[test]
fn expired_bundle_is_refused() {
    let report = verify_manifest(|m| m["expiresAt"] = json!("2026-12-14T23:59:59Z"));
    let reason = refused(&report, Step::Expiry, None);
    assert_matches!(reason, Reason::Expired { expires_at } if expires_at == "2026-12-14T23:59:59Z");
}

/// SHA-256 of 4 GiB of zero bytes, computed once with
/// `head -c 4294967296 /dev/zero | sha256sum` (hashing it here would take minutes in a
/// debug build).
const SHA256_OF_4_GIB_OF_ZEROS: &str =
    "8479e43911dc45e89f934fe48d01297e16f51d17aa561d4d1c216b1ae0fcddca";

/// A bundle with one member of `size` zeros, streamed through zstd as identical 1 MiB
/// frames after the frame that holds the manifest and the member's header.
fn zero_member_bundle(size: u64, sha256: &str) -> Vec<u8> {
    let path = "advisories/zeros.json";
    let mut doc = Doc::advisory(path, Vec::new());
    doc.entry["size"] = json!(size);
    doc.entry["sha256"] = json!(sha256);
    let envelope = Envelope::signed(&manifest(&[doc]), &[&alice()]);
    let head = Tar::new()
        .manifest(&envelope)
        .entry(Entry::file(path, b"").declared_size(size));
    let mut bundle = zstd(head.bytes());
    bundle.extend(zero_frames(size, MIB as usize));
    bundle.extend(zstd(Tar::new().end().bytes()));
    bundle
}

#[test]
fn zero_member_construction_makes_a_valid_bundle() {
    // Proves the construction used for 4 GiB below at a size a test can read whole.
    let size = 8 * MIB;
    let bundle = zero_member_bundle(size, &sha256_hex(&vec![0u8; size as usize]));
    let report = verify(&trust(), &bundle);
    assert!(report.is_valid(), "{:?}", report.error);
    assert_eq!(report.transcript.bytes_checked, size);
}

#[test]
fn member_of_4_gib_declared_honestly_is_refused_at_the_member_limit() {
    // A real 4 GiB member: the header declares 4 GiB, and 4096 zstd frames of 1 MiB of
    // zeros follow it (about a hundred kilobytes on disk). Compressing one frame and
    // repeating it keeps building the bundle well under a second in a debug build. The
    // verifier must refuse it from the signed manifest, before reading any of it.
    let bundle = zero_member_bundle(4 * GIB, SHA256_OF_4_GIB_OF_ZEROS);
    assert!(bundle.len() < 4 * MIB as usize);
    let report = verify(&trust(), &bundle);
    assert_matches!(
        manifest_error(&report),
        ManifestError::MemberTooLarge { index: 0, path, size, limit }
            if path == "advisories/zeros.json" && *size == 4 * GIB && *limit == 64 * MIB
    );
    assert_eq!(report.transcript.bytes_checked, 0);
}

// ---------------------------------------------------------------- the stream

#[test]
fn truncated_zstd_is_refused() {
    // The whole tar fits in one zstd block, so a frame cut in half yields no output at
    // all: the decoder fails on the first read, before any member is named.
    let (_, bundle) = good_bundle();
    let report = verify(&trust(), &bundle[..bundle.len() / 2]);
    assert_matches!(
        refused(&report, Step::Decompress, None),
        Reason::Decompress(_)
    );
}

#[test]
fn zstd_missing_its_frame_checksum_is_refused() {
    let (_, bundle) = good_bundle();
    let report = verify(&trust(), &bundle[..bundle.len() - 4]);
    assert_matches!(
        refused(&report, Step::Decompress, None),
        Reason::Decompress(_)
    );
}

#[test]
fn tar_cut_inside_a_member_is_refused() {
    let (docs, envelope) = sample_envelope();
    let before = Tar::new().manifest(&envelope).docs(&docs[..1]);
    let cut = before.len() + 512 + 100;
    let tar = Tar::new().manifest(&envelope).docs(&docs).cut(cut);
    let report = verify(&trust(), &zstd(tar.bytes()));
    let expected = docs[1].bytes.len() as u64;
    let reason = refused(&report, Step::Members, Some(&docs[1].path));
    assert_matches!(reason, Reason::Truncated { read: 100, expected: e } if *e == expected);
}

#[test]
fn tar_cut_inside_a_header_is_refused() {
    let (docs, envelope) = sample_envelope();
    let before = Tar::new().manifest(&envelope).docs(&docs[..1]);
    let tar = Tar::new()
        .manifest(&envelope)
        .docs(&docs)
        .cut(before.len() + 200);
    let report = verify(&trust(), &zstd(tar.bytes()));
    assert_matches!(refused(&report, Step::Members, None), Reason::Tar(_));
}

#[test]
fn plain_tar_is_refused() {
    let (docs, envelope) = sample_envelope();
    let tar = Tar::new().manifest(&envelope).docs(&docs).end();
    let report = verify(&trust(), tar.bytes());
    let reason = refused(&report, Step::Decompress, None);
    assert_matches!(reason, Reason::NotZstd { magic } if magic == "6d616e69");
}

/// Deterministic noise: a SHA-256 chain.
fn noise(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = sha2::Sha256::digest(b"hostile");
    while out.len() < len {
        out.extend_from_slice(&block);
        block = sha2::Sha256::digest(block);
    }
    out.truncate(len);
    out
}

#[test]
fn random_bytes_are_refused() {
    let bytes = noise(4096);
    let report = verify(&trust(), &bytes);
    let reason = refused(&report, Step::Decompress, None);
    assert_matches!(reason, Reason::NotZstd { magic } if *magic == hex::encode(&bytes[..4]));
}

#[test]
fn random_bytes_after_the_zstd_magic_are_refused() {
    let mut bytes = vec![0x28, 0xb5, 0x2f, 0xfd];
    bytes.extend(noise(4096));
    let report = verify(&trust(), &bytes);
    assert_matches!(
        refused(&report, Step::Decompress, None),
        Reason::Decompress(_)
    );
}

#[test]
fn empty_file_is_refused() {
    let report = verify(&trust(), b"");
    assert_matches!(refused(&report, Step::Decompress, None), Reason::Empty);
}

#[test]
fn inflation_bomb_after_a_valid_bundle_is_refused_at_the_total_limit() {
    // A correct bundle followed by 64 MiB of zeros: zero padding is allowed after the end
    // marker, so only the decompressed-bytes limit stops it.
    let (docs, envelope) = sample_envelope();
    let tar = Tar::new().manifest(&envelope).docs(&docs).end();
    let mut bundle = zstd(tar.bytes());
    bundle.extend(zero_frames(64 * MIB, 8 * MIB as usize));
    assert!(
        bundle.len() < 64 * 1024,
        "{} bytes is not small",
        bundle.len()
    );
    let limits = Limits {
        max_total_bytes: 4 * MIB,
        ..Limits::default()
    };
    let report = verify_with(&trust(), &bundle, limits);
    let reason = refused(&report, Step::Decompress, None);
    assert_matches!(reason, Reason::TotalTooLarge { limit } if *limit == 4 * MIB);
}

#[test]
fn inflation_bomb_inside_an_unsigned_manifest_member_is_refused_at_the_total_limit() {
    let size = 64 * MIB;
    let head = Tar::new().entry(Entry::file(MANIFEST, b"").declared_size(size));
    let mut bundle = zstd(head.bytes());
    bundle.extend(zero_frames(size, 8 * MIB as usize));
    let limits = Limits {
        max_total_bytes: 4 * MIB,
        ..Limits::default()
    };
    let report = verify_with(&trust(), &bundle, limits);
    let reason = refused(&report, Step::Decompress, None);
    assert_matches!(reason, Reason::TotalTooLarge { .. });
}

#[test]
fn zstd_window_above_the_limit_is_refused() {
    let (docs, envelope) = sample_envelope();
    let tar = Tar::new().manifest(&envelope).docs(&docs).end();
    let report = verify(&trust(), &zstd_window_log(tar.bytes(), 28));
    assert_matches!(
        refused(&report, Step::Decompress, None),
        Reason::Decompress(_)
    );
}

// ---------------------------------------------------------------- the other limits

#[test]
fn compressed_file_over_the_limit_is_refused_at_open() {
    let (_, bundle) = good_bundle();
    let limits = Limits {
        max_compressed_bytes: 1000,
        ..Limits::default()
    };
    let report = verify_with(&trust(), &bundle, limits);
    let reason = refused(&report, Step::Open, None);
    assert_matches!(
        reason,
        Reason::CompressedTooLarge { size, limit: 1000 } if *size == bundle.len() as u64
    );
}

#[test]
fn manifest_member_over_its_limit_is_refused() {
    let (_, bundle) = good_bundle();
    let limits = Limits {
        max_manifest_bytes: 100,
        ..Limits::default()
    };
    let report = verify_with(&trust(), &bundle, limits);
    let reason = refused(&report, Step::ManifestMember, None);
    assert_matches!(reason, Reason::ManifestTooLarge { limit: 100, .. });
}

#[test]
fn more_documents_than_the_limit_are_refused() {
    let (_, bundle) = good_bundle();
    let limits = Limits {
        max_members: 2,
        ..Limits::default()
    };
    let report = verify_with(&trust(), &bundle, limits);
    let err = manifest_error(&report);
    assert_matches!(err, ManifestError::TooManyDocuments { count: 3, limit: 2 });
}

#[test]
fn declared_sizes_over_the_total_limit_are_refused() {
    let (docs, bundle) = good_bundle();
    let limits = Limits {
        max_total_bytes: total_size(&docs) - 1,
        ..Limits::default()
    };
    let report = verify_with(&trust(), &bundle, limits);
    let err = manifest_error(&report);
    assert_matches!(err, ManifestError::TotalTooLarge { total, .. } if *total == total_size(&docs));
}

// ---------------------------------------------------------------- the binary

fn stella(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stella-scheduler"))
        .args(args)
        .env("STELLA_LOG", "warn")
        .output()
        .unwrap()
}

fn text_of(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    format!("{stdout}{stderr}")
}

#[test]
fn cli_names_the_step_and_member_and_uses_the_documented_exit_codes() {
    let dir = Dir::new();
    let trust_path = dir.path("trust.json");
    TrustSpec::new().key(&alice(), &[FEED]).write(&trust_path);
    let docs = sample_docs();
    let mut m = manifest(&docs);
    // The binary judges expiry by the real clock.
    m.as_object_mut().unwrap().remove("expiresAt");
    let mut changed = docs[0].bytes.clone();
    changed[10] ^= 0x20;
    let tar = Tar::new()
        .manifest(&Envelope::signed(&m, &[&alice()]))
        .file(&docs[0].path, &changed)
        .docs(&docs[1..])
        .end();
    let bundle = dir.write("bad.tar.zst", &zstd(tar.bytes()));
    let (trust_arg, bundle_arg) = (trust_path.to_str().unwrap(), bundle.to_str().unwrap());

    let out = stella(&["bundle", "verify", "--trust", trust_arg, bundle_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let text = text_of(&out);
    assert!(text.contains("step 9 (members)"), "{text}");
    assert!(
        text.contains(&format!("member {}: sha256 mismatch", docs[0].path)),
        "{text}"
    );

    let missing = dir.path("absent.tar.zst");
    let out = stella(&[
        "bundle",
        "verify",
        "--trust",
        trust_arg,
        missing.to_str().unwrap(),
    ]);
    let text = text_of(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("step 1 (open)") && text.contains("absent.tar.zst"),
        "{text}"
    );

    let out = stella(&[
        "bundle", "verify", "--json", "--trust", trust_arg, bundle_arg,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let transcript: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(transcript["verdict"], "invalid");
    assert_eq!(transcript["failure"]["step"], 9);
    assert_eq!(transcript["failure"]["stepName"], "members");
    assert_eq!(transcript["failure"]["member"], docs[0].path.as_str());
}

// ---------------------------------------------------------------- verifier bugs found here

#[test]
fn payload_with_padding_in_the_middle_is_refused() {
    // envelope.rs decodes the payload chunk by chunk; a chunk that ends in `==` is valid
    // on its own, so `base64(first 12286 bytes) + base64(rest)` decodes, although the
    // whole string is not standard base64 and other DSSE readers refuse or read it
    // differently.
    let docs = sample_docs();
    let mut payload = serde_json::to_vec(&manifest(&docs)).unwrap();
    payload.resize(13_000, b' ');
    let envelope = Envelope::of_bytes(payload.clone()).sign(&alice());
    let mut wire = envelope.to_json();
    let (head, tail) = payload.split_at(12_286);
    let text = format!("{}{}", BASE64.encode(head), BASE64.encode(tail));
    assert!(
        BASE64.decode(&text).is_err(),
        "the text is not standard base64"
    );
    wire["payload"] = json!(text);
    let tar = Tar::new()
        .file(MANIFEST, &serde_json::to_vec(&wire).unwrap())
        .docs(&docs)
        .end();
    let report = verify(&trust(), &zstd(tar.bytes()));
    assert_matches!(
        refused(&report, Step::Envelope, None),
        Reason::PayloadBase64
    );
}

#[test]
fn trust_file_threshold_for_an_invalid_feed_name_is_refused() {
    // An operator who means "osv-mirror needs two keys" and types the feed in capitals
    // gets a trust file that loads, and osv-mirror silently keeps threshold 1.
    let spec = TrustSpec::new()
        .key(&alice(), &[FEED])
        .threshold("OSV-Mirror", 2);
    let problem = spec
        .load()
        .expect_err("an invalid feed name must be refused");
    assert!(problem.to_string().contains("OSV-Mirror"), "{problem}");
}

#[test]
fn long_name_header_is_neither_buffered_nor_echoed_whole() {
    // The tar crate reads a GNU long-name or pax header's data into memory whole, before
    // the verifier sees the entry, and the verifier echoes the name in its message. With
    // 1 GiB of 'a' as a long name (a 55 KB file, no key needed) `bundle verify` peaks at
    // 4.2 GB RSS and prints a 1 GiB line; the default 16 GiB total limit allows far more.
    // Names over 240 bytes are refused anyway, so the reader can stop at that bound.
    let name = "a".repeat(MIB as usize);
    let mut gnu_name = name.clone().into_bytes();
    gnu_name.push(0);
    let gnu = Entry::file("././@LongLink", &gnu_name)
        .kind(EntryType::GNULongName)
        .gnu();
    let tars = [
        Tar::new().entry(gnu).file("x", b"").end(),
        Tar::new().pax_file(&name, b"").end(),
    ];
    for tar in tars {
        let report = verify(&trust(), &zstd(tar.bytes()));
        let _ = refused(&report, Step::ManifestMember, None);
        let text = report.error.as_ref().unwrap().to_string();
        assert!(text.len() < 1024, "a {} byte message", text.len());
    }
}
