//! Interop: the bundle contract checked by implementations we did not write.
//!
//! A verifier that only ever reads its own writer's output can agree with itself on a wrong
//! PAE, keyid or tar dialect. So both directions go through Python, with the real binary and
//! real corpus documents:
//! - `bundle create` output is verified by securesystemslib (`interop/verify_envelope.py`);
//! - a producer written from docs/bundle-format.md alone (`interop/produce_bundle.py`: PAX tar,
//!   pretty JSON, several zstd frames, PyNaCl) is accepted by `bundle verify`.
//!
//! Each direction has a negative control, so a check that cannot fail would show. The scripts
//! run in `target/interop-venv`, which `interop/setup-venv.sh` builds from the pinned
//! `interop/requirements.txt`. Without python3 (or when the venv cannot be built) the tests
//! skip with a message on stderr, except in CI (`CI=true`), where they fail.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;
use venv::venv_python;

#[path = "interop/venv.rs"]
mod venv;

const BIN: &str = env!("CARGO_BIN_EXE_stella-scheduler");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// The CycloneDX SBOM both directions carry, and the artifact it is said to describe.
const CDX_SBOM: &str = "cyclonedx/sbom/cdx-python-requirements-with-comments.cdx-1.6.json";
const CDX_SUBJECT: &str = "registry.local/python-app:1.0";

/// Longer than the 100-byte ustar name field, so Python's PAX writer puts it in a `path` record.
const LONG_MEMBER: &str = "advisories/a-folder-name-long-enough-that-the-ustar-name-field-\
                           cannot-hold-the-whole-path/GHSA-c7hr-j4mj-j2w6.json";

/// Documents for the Python producer: kind, format, member path, corpus file.
const PY_DOCS: [[&str; 4]; 6] = [
    [
        "advisory",
        "osv",
        "advisories/GHSA-jfh8-c2jp-5v3q.json",
        "osv/ghsa/GHSA-jfh8-c2jp-5v3q.json",
    ],
    [
        "advisory",
        "osv",
        LONG_MEMBER,
        "osv/ghsa/GHSA-c7hr-j4mj-j2w6.json",
    ],
    [
        "vex",
        "openvex",
        "vex/spec-example-fixed.json",
        "openvex/spec-example-fixed.json",
    ],
    [
        "vex",
        "csaf",
        "vex/oasis-sec-vex-2022-0001.json",
        "csaf/oasis-sec-vex-2022-0001.json",
    ],
    ["sbom", "cyclonedx", "sbom/python-app.cdx.json", CDX_SBOM],
    [
        "sbom",
        "spdx",
        "sbom/example11.spdx.json",
        "spdx/spdx-examples-example11.spdx.json",
    ],
];

// ---- the Python side -------------------------------------------------------------------

fn verify_envelope(python: &Path, bundle: &Path, public_key: &Path) -> Output {
    let script = Path::new(INTEROP).join("verify_envelope.py");
    run(Command::new(python).arg(script).arg(bundle).arg(public_key))
}

/// Runs produce_bundle.py over `PY_DOCS`, signing with the seed in `dir/py.seed`.
fn produce_bundle(python: &Path, dir: &Path, out: &str, extra: &[&str]) -> Value {
    let mut cmd = Command::new(python);
    cmd.arg(Path::new(INTEROP).join("produce_bundle.py"))
        .arg("--seed-file")
        .arg(dir.join("py.seed"))
        .arg("--pub-out")
        .arg(dir.join("py.pub"))
        .args(["--feed", "py-feed", "--sequence", "1", "--out"])
        .arg(dir.join(out))
        .args(extra);
    for [kind, format, member, file] in PY_DOCS {
        cmd.args(["--doc", kind, format, member]).arg(corpus(file));
    }
    let cdx = sha256_of(&corpus(CDX_SBOM));
    cmd.args(["--subject", PY_DOCS[4][2], CDX_SUBJECT, &cdx]);
    let spdx = sha256_of(&corpus(PY_DOCS[5][3]));
    cmd.args([
        "--subject",
        PY_DOCS[5][2],
        "registry.local/example11:1.0",
        &spdx,
    ]);
    json(&expect_success(run(&mut cmd), "produce_bundle.py"))
}

// ---- the Rust side ---------------------------------------------------------------------

/// A key pair written by `keys generate`.
struct Key {
    private: PathBuf,
    public: PathBuf,
    keyid: String,
}

fn generate_key(dir: &Path, name: &str) -> Key {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let out = run(stella()
        .args(["keys", "generate", "--name", name, "--out"])
        .arg(&keys));
    let keyid = String::from_utf8(expect_success(out, "keys generate").stdout).unwrap();
    Key {
        private: keys.join(format!("{name}.key")),
        public: keys.join(format!("{name}.pub")),
        keyid: keyid.trim().to_owned(),
    }
}

/// `bundle create` from the corpus GHSA advisories and one CycloneDX SBOM; returns the
/// bundle's path and id.
fn create_bundle(dir: &Path, key: &Key, name: &str) -> (PathBuf, String) {
    let out_path = dir.join(name);
    let sbom = corpus(CDX_SBOM);
    let subject = format!("{}={CDX_SUBJECT}@{}", sbom.display(), sha256_of(&sbom));
    let out = run(stella()
        .args(["bundle", "create", "--feed", "interop", "--sequence", "1"])
        .args([
            "--mode",
            "snapshot",
            "--created",
            "2026-01-01T00:00:00Z",
            "--json",
        ])
        .args(["--subject", &subject])
        .arg("--key")
        .arg(&key.private)
        .arg("--out")
        .arg(&out_path)
        .arg(corpus("osv/ghsa"))
        .arg(&sbom));
    let created = json(&expect_success(out, "bundle create"));
    assert_eq!(
        created["documents"], 14,
        "13 GHSA advisories and one SBOM: {created}"
    );
    let id = created["bundleId"].as_str().unwrap().to_owned();
    (out_path, id)
}

fn trust_add(dir: &Path, public_key: &Path, feed: &str) -> PathBuf {
    let trust = dir.join("trust.json");
    let out = run(stella()
        .args(["trust", "add", "--feed", feed, "--trust"])
        .arg(&trust)
        .arg("--public-key")
        .arg(public_key));
    expect_success(out, "trust add");
    trust
}

/// `bundle verify --json` on one bundle: its exit code and its transcript.
fn bundle_verify(trust: &Path, bundle: &Path) -> (Option<i32>, Value) {
    let out = run(stella()
        .args(["bundle", "verify", "--json", "--trust"])
        .arg(trust)
        .arg(bundle));
    (out.status.code(), json(&out))
}

// ---- plumbing --------------------------------------------------------------------------

fn stella() -> Command {
    Command::new(BIN)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn expect_success(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn corpus(relative: &str) -> PathBuf {
    Path::new(CORPUS).join(relative)
}

/// `sha256:<hex>` of a file, as an SBOM subject digest.
fn sha256_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).unwrap();
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn tempdir() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// A copy of `bundle` whose first signature has one base64 character changed, keyid intact,
/// so the check has to reach the Ed25519 verification itself to refuse it.
fn with_tampered_signature(bundle: &Path, out: &Path) {
    let mut tar = zstd::decode_all(std::fs::File::open(bundle).unwrap()).unwrap();
    let marker = b"\"sig\":\"";
    let at = tar
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("the envelope written by bundle create has a \"sig\" field")
        + marker.len();
    tar[at] = if tar[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(out, zstd::encode_all(&tar[..], 3).unwrap()).unwrap();
}

// ---- the tests -------------------------------------------------------------------------

#[test]
fn securesystemslib_verifies_envelopes_written_by_bundle_create() {
    let Some(python) = venv_python() else { return };
    let dir = tempdir();
    let ours = generate_key(dir.path(), "ours");
    let (bundle, bundle_id) = create_bundle(dir.path(), &ours, "ours.tar.zst");

    let out = expect_success(
        verify_envelope(python, &bundle, &ours.public),
        "verify_envelope.py on a bundle from bundle create",
    );
    let verdict = json(&out);
    assert_eq!(verdict["keyid"], ours.keyid.as_str(), "{verdict}");
    assert_eq!(verdict["bundleId"], bundle_id.as_str(), "{verdict}");
    assert_eq!(
        verdict["payloadType"], "application/vnd.stella.bundle.v1+json",
        "{verdict}"
    );
}

#[test]
fn securesystemslib_refuses_a_bundle_signed_by_another_key() {
    let Some(python) = venv_python() else { return };
    let dir = tempdir();
    let ours = generate_key(dir.path(), "ours");
    let other = generate_key(dir.path(), "other");
    let (foreign, _) = create_bundle(dir.path(), &other, "other.tar.zst");

    let out = verify_envelope(python, &foreign, &ours.public);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("Found: 0, Expected 1"), "{message}");
    assert!(
        message.contains("did not match a signature keyid"),
        "{message}"
    );
    assert!(
        message.contains(&other.keyid),
        "names the keyid that signed: {message}"
    );
}

#[test]
fn securesystemslib_refuses_a_tampered_signature_under_our_keyid() {
    let Some(python) = venv_python() else { return };
    let dir = tempdir();
    let ours = generate_key(dir.path(), "ours");
    let (bundle, _) = create_bundle(dir.path(), &ours, "ours.tar.zst");
    let tampered = dir.path().join("tampered.tar.zst");
    with_tampered_signature(&bundle, &tampered);

    let out = verify_envelope(python, &tampered, &ours.public);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("Found: 0, Expected 1"), "{message}");
    assert!(
        message.contains(&format!("key {} matched", ours.keyid)),
        "{message}"
    );
}

#[test]
fn bundle_verify_accepts_bundles_from_the_contract_only_python_producer() {
    let Some(python) = venv_python() else { return };
    let dir = tempdir();
    let styles: [(&str, &[&str], u64); 2] = [
        ("pretty.tar.zst", &["--frames", "3"], 3),
        ("canonical.tar.zst", &["--canonical", "--frames", "1"], 1),
    ];
    for (name, flags, frames) in styles {
        let produced = produce_bundle(python, dir.path(), name, flags);
        assert_eq!(produced["frames"], frames, "{produced}");
        let trust = trust_add(dir.path(), &dir.path().join("py.pub"), "py-feed");
        let (code, transcript) = bundle_verify(&trust, &dir.path().join(name));

        assert_eq!(code, Some(0), "{name}: {transcript}");
        assert_eq!(transcript["verdict"], "valid", "{name}: {transcript}");
        assert_eq!(transcript["membersChecked"], PY_DOCS.len(), "{transcript}");
        assert_eq!(transcript["bundleId"], produced["bundleId"], "{transcript}");
        assert_eq!(transcript["feed"], "py-feed", "{transcript}");
        assert_eq!(transcript["signatures"][0]["keyid"], produced["keyid"]);
        assert_eq!(transcript["signatures"][0]["counted"], true, "{transcript}");
        let checked: Vec<&str> = transcript["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["path"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = PY_DOCS.iter().map(|d| d[2]).collect();
        assert_eq!(
            checked, expected,
            "members in the producer's order, long path intact"
        );
    }
}

#[test]
fn bundle_verify_names_the_member_the_python_producer_corrupted() {
    let Some(python) = venv_python() else { return };
    let dir = tempdir();
    let corrupted = PY_DOCS[2][2];
    produce_bundle(
        python,
        dir.path(),
        "corrupt.tar.zst",
        &["--corrupt-member", corrupted],
    );
    let trust = trust_add(dir.path(), &dir.path().join("py.pub"), "py-feed");
    let (code, transcript) = bundle_verify(&trust, &dir.path().join("corrupt.tar.zst"));

    assert_eq!(code, Some(1), "{transcript}");
    assert_eq!(transcript["verdict"], "invalid", "{transcript}");
    let failure = &transcript["failure"];
    assert_eq!(failure["step"], 9, "{transcript}");
    assert_eq!(failure["stepName"], "members", "{transcript}");
    assert_eq!(failure["member"], corrupted, "{transcript}");
    let error = failure["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("member {corrupted}: sha256 mismatch")),
        "{error}"
    );
    assert_eq!(
        transcript["membersChecked"], 2,
        "the two members before it passed"
    );
}
