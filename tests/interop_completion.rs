//! Interop for what a site sends out (issue 5 §4): completion events and completion
//! bundles checked by code we did not write.
//!
//! A site made by `init` (its own generated key) runs the sample bundles and the golden
//! deltas in two `run --once` invocations, which export two completion bundles holding
//! three events. Then:
//! - securesystemslib verifies every event envelope, in `outbox/events/` and inside the
//!   bundles, with the site's Ed25519 public key, and the in-toto attestation framework's
//!   own Statement v1 schema accepts every statement (`interop/verify_completion.py`);
//!   the statement's fields are checked against the inputs, and its delta digest and
//!   counts against the findings document the bundle carries beside it;
//! - securesystemslib verifies each bundle's manifest envelope (`interop/verify_envelope.py`);
//! - `bundle verify` accepts the bundles with a trust file made by `trust add` from
//!   `keys/site.pub` for the site's feed, and refuses them under another feed or key.
//!
//! Negative controls: an event whose payload was altered and a bundle whose event
//! signature was altered are refused. The scripts run in the venv of tests/interop.rs.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "interop/venv.rs"]
mod venv;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;
use support::{ok, ROOT};
use venv::venv_python;

const SITE_ID: &str = "interop-site";
const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
const PREDICATE_TYPE: &str = "https://stella-scheduler.dev/attestations/completion/v1";

/// Each step is one `run --once` over these files.
const STEPS: [&[&str]; 2] = [
    &[
        "bundles/demo-osv-1-snapshot.tar.zst",
        "bundles/demo-sbom-1-snapshot.tar.zst",
    ],
    &[
        "bundles/demo-osv-2-delta.tar.zst",
        "bundles/demo-vex-1-snapshot.tar.zst",
        "golden-tests/inputs/demo-osv-3-delta.tar.zst",
        "golden-tests/inputs/demo-vex-2-delta.tar.zst",
    ],
];

fn path(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---- the site --------------------------------------------------------------------------

/// A site with the key `init` generated, trusting the demo feeds, that has run
/// [`STEPS`]; its data dir.
fn played_site(root: &Path) -> PathBuf {
    let dir = root.join("data");
    let trust = path("bundles/demo-trust.json");
    ok(&[
        "init",
        "--data-dir",
        text(&dir),
        "--site-id",
        SITE_ID,
        "--import-trust",
        text(&trust),
    ]);
    for step in STEPS {
        for rel in step {
            let file = path(rel);
            std::fs::copy(&file, dir.join("inbox").join(file.file_name().unwrap())).unwrap();
        }
        ok(&[
            "run",
            "--data-dir",
            text(&dir),
            "--once",
            "--settle-ms",
            "0",
        ]);
    }
    dir
}

/// Files of a folder whose names end with `suffix`, sorted.
fn files(folder: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

fn site_pub(dir: &Path) -> PathBuf {
    dir.join("keys/site.pub")
}

/// The bundle id and manifest of a bundle, from `bundle inspect`.
fn inspect(bundle: &Path) -> Value {
    serde_json::from_slice(&ok(&["bundle", "inspect", "--json", text(bundle)]).stdout).unwrap()
}

// ---- the scripts -----------------------------------------------------------------------

fn verify_completion(python: &Path, public_key: &Path, sources: &[PathBuf]) -> Output {
    Command::new(python)
        .arg(Path::new(INTEROP).join("verify_completion.py"))
        .arg(public_key)
        .args(sources)
        .output()
        .unwrap()
}

fn verify_envelope(python: &Path, bundle: &Path, public_key: &Path) -> Output {
    Command::new(python)
        .arg(Path::new(INTEROP).join("verify_envelope.py"))
        .arg(bundle)
        .arg(public_key)
        .output()
        .unwrap()
}

fn success_json(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---- what a statement must say ---------------------------------------------------------

/// `_type`, `predicateType` and subjects: sorted by digest, each named, each with exactly
/// one digest, a lowercase hex SHA-256.
fn assert_statement_shape(statement: &Value) {
    assert_eq!(statement["_type"], STATEMENT_TYPE, "{statement}");
    assert_eq!(statement["predicateType"], PREDICATE_TYPE, "{statement}");
    let subjects = statement["subject"].as_array().unwrap();
    assert!(!subjects.is_empty(), "{statement}");
    let mut digests = Vec::new();
    for subject in subjects {
        let digest = subject["digest"].as_object().unwrap();
        assert_eq!(digest.keys().collect::<Vec<_>>(), ["sha256"], "{subject}");
        let hex = digest["sha256"].as_str().unwrap();
        let lower_hex = hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        assert!(hex.len() == 64 && lower_hex, "{subject}");
        assert!(!subject["name"].as_str().unwrap().is_empty(), "{subject}");
        digests.push(hex.to_owned());
    }
    let mut sorted = digests.clone();
    sorted.sort();
    assert_eq!(digests, sorted, "subjects in digest order");
}

/// The predicate against the input bundle whose window the run was.
fn assert_window(predicate: &Value, input: &Value) {
    let manifest = &input["manifest"];
    let window = &predicate["window"];
    assert_eq!(window["bundleId"], input["bundleId"], "{predicate}");
    assert_eq!(window["feed"], manifest["feed"], "{predicate}");
    assert_eq!(window["sequence"], manifest["sequence"], "{predicate}");
    assert_eq!(window["position"], predicate["position"], "{predicate}");
    assert_eq!(predicate["trigger"], "window", "{predicate}");
    assert_eq!(predicate["state"], "completed", "{predicate}");
    assert_eq!(predicate["site"], SITE_ID, "{predicate}");
    let digest = predicate["impactDigest"].as_str().unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{predicate}"
    );
}

/// The summary against what verify_completion.py recomputed from the findings document.
fn assert_summary(predicate: &Value, recomputed: &Value) {
    let summary = &predicate["summary"];
    assert_eq!(recomputed["runId"], predicate["runId"], "{recomputed}");
    assert_eq!(
        recomputed["deltaDigest"], predicate["deltaDigest"],
        "{recomputed}"
    );
    for count in ["new", "resolved", "changed"] {
        assert_eq!(recomputed[count], summary[count], "{count}: {summary}");
    }
    assert_eq!(recomputed["deltas"], summary["jobsSucceeded"], "{summary}");
    assert_eq!(summary["jobsDead"], 0, "{summary}");
    let by_severity: u64 = summary["newBySeverity"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(Some(by_severity), summary["new"].as_u64(), "{summary}");
}

/// (name, sha256 hex) of every SBOM subject a bundle's manifest names.
fn sbom_subjects(input: &Value) -> BTreeSet<(String, String)> {
    let documents = input["manifest"]["documents"].as_array().unwrap();
    let subjects = documents.iter().filter_map(|d| d.get("subject")).map(|s| {
        let digest = s["digest"].as_str().unwrap();
        let hex = digest.strip_prefix("sha256:").unwrap();
        (s["name"].as_str().unwrap().to_owned(), hex.to_owned())
    });
    subjects.collect()
}

fn statement_subjects(statement: &Value) -> BTreeSet<(String, String)> {
    let subjects = statement["subject"].as_array().unwrap().iter().map(|s| {
        let name = s["name"].as_str().unwrap().to_owned();
        (name, s["digest"]["sha256"].as_str().unwrap().to_owned())
    });
    subjects.collect()
}

// ---- tampering -------------------------------------------------------------------------

/// The envelope with one character of its statement changed and its signature kept.
fn with_altered_payload(envelope: &[u8]) -> Vec<u8> {
    let mut envelope: Value = serde_json::from_slice(envelope).unwrap();
    let payload = BASE64
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let altered = String::from_utf8(payload).unwrap().replacen(
        "\"state\":\"completed\"",
        "\"state\":\"complated\"",
        1,
    );
    assert!(altered.contains("complated"), "the statement has a state");
    envelope["payload"] = Value::String(BASE64.encode(altered));
    serde_json::to_vec(&envelope).unwrap()
}

/// A copy of `bundle` in which the signature of member `member` has one base64 character
/// changed: sizes hold, so only the member digest and the signature check can notice.
fn with_tampered_member_signature(bundle: &Path, member: &str, out: &Path) {
    let mut tar = zstd::decode_all(std::fs::File::open(bundle).unwrap()).unwrap();
    let header = find(&tar, member.as_bytes(), 0).expect("the member is in the bundle");
    let marker = b"\"sig\":\"";
    let at = find(&tar, marker, header).expect("the event has a signature") + marker.len();
    tar[at] = if tar[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(out, zstd::encode_all(&tar[..], 3).unwrap()).unwrap();
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

// ---- the tests -------------------------------------------------------------------------

#[test]
fn securesystemslib_and_in_toto_accept_every_completion_event() {
    let Some(python) = venv_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = played_site(tmp.path());
    let outbox = dir.join("outbox");
    let events = files(&outbox.join("events"), ".dsse.json");
    let bundles = files(&outbox, ".tar.zst");
    assert_eq!(
        (events.len(), bundles.len()),
        (3, 2),
        "{events:?} {bundles:?}"
    );

    let sources = [events.clone(), bundles.clone()].concat();
    let out = verify_completion(python, &site_pub(&dir), &sources);
    let verdict = success_json(&out, "verify_completion.py");
    let config: Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(verdict["keyid"], config["siteKeyId"], "{verdict}");

    let checked = verdict["events"].as_array().unwrap();
    let (in_bundles, in_outbox): (Vec<&Value>, Vec<&Value>) =
        checked.iter().partition(|e| e["member"].is_string());
    assert_eq!((in_outbox.len(), in_bundles.len()), (3, 3), "{verdict}");
    let digests = |list: &[&Value]| -> BTreeSet<String> {
        list.iter()
            .map(|e| e["sha256"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        digests(&in_outbox),
        digests(&in_bundles),
        "the bundles carry the very bytes written to outbox/events"
    );
    for (file, event) in events.iter().zip(&in_outbox) {
        let run_id = file.file_name().unwrap().to_str().unwrap();
        let predicate = &event["statement"]["predicate"];
        assert_eq!(
            format!("{}.dsse.json", predicate["runId"].as_str().unwrap()),
            run_id
        );
    }

    let input = |rel: &str| inspect(&path(rel));
    let windows = [
        input("bundles/demo-sbom-1-snapshot.tar.zst"),
        input("golden-tests/inputs/demo-osv-3-delta.tar.zst"),
        input("golden-tests/inputs/demo-vex-2-delta.tar.zst"),
    ];
    for (event, window) in in_bundles.iter().zip(&windows) {
        let statement = &event["statement"];
        assert_statement_shape(statement);
        assert_window(&statement["predicate"], window);
        assert_summary(&statement["predicate"], &event["recomputed"]);
    }
    assert_eq!(
        statement_subjects(&in_bundles[0]["statement"]),
        sbom_subjects(&windows[0]),
        "the SBOM window impacts every image it describes, named as the manifest names it"
    );
    let names = |e: &Value| -> Vec<String> {
        statement_subjects(&e["statement"])
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    };
    assert_eq!(
        names(in_bundles[1]),
        [
            "registry.local/juice-shop:14.1.1",
            "registry.local/py-app:1.0"
        ],
        "jsonwebtoken and lodash in juice-shop, idna in py-app"
    );
    assert_eq!(names(in_bundles[2]), ["registry.local/juice-shop:14.1.1"]);
}

#[test]
fn securesystemslib_verifies_the_completion_bundle_manifests() {
    let Some(python) = venv_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = played_site(tmp.path());
    for bundle in files(&dir.join("outbox"), ".tar.zst") {
        let out = verify_envelope(python, &bundle, &site_pub(&dir));
        let verdict = success_json(&out, "verify_envelope.py on a completion bundle");
        assert_eq!(
            verdict["bundleId"],
            inspect(&bundle)["bundleId"],
            "{verdict}"
        );
        assert_eq!(
            verdict["payloadType"],
            "application/vnd.stella.bundle.v1+json"
        );
    }
}

/// `trust add --public-key keys/site.pub --feed <siteId>`; returns the trust file.
fn trust_for(dir: &Path, name: &str, public_key: &Path, feed: &str) -> PathBuf {
    let trust = dir.join(name);
    ok(&[
        "trust",
        "add",
        "--trust",
        text(&trust),
        "--public-key",
        text(public_key),
        "--feed",
        feed,
    ]);
    trust
}

/// `bundle verify --json`: exit code and transcript.
fn bundle_verify(trust: &Path, bundle: &Path) -> (Option<i32>, Value) {
    let out = support::run(&[
        "bundle",
        "verify",
        "--json",
        "--trust",
        text(trust),
        text(bundle),
    ]);
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

#[test]
fn bundle_verify_accepts_the_completion_bundles_with_the_site_key_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = played_site(tmp.path());
    let trust = trust_for(tmp.path(), "site-trust.json", &site_pub(&dir), SITE_ID);
    let bundles = files(&dir.join("outbox"), ".tar.zst");
    let mut previous = Value::Null;
    for (i, (bundle, runs)) in bundles.iter().zip([1, 2]).enumerate() {
        let (code, transcript) = bundle_verify(&trust, bundle);
        assert_eq!(code, Some(0), "{transcript}");
        assert_eq!(transcript["verdict"], "valid", "{transcript}");
        assert_eq!(transcript["feed"], SITE_ID, "{transcript}");
        assert_eq!(transcript["sequence"], i + 1, "{transcript}");
        assert_eq!(
            transcript["membersChecked"],
            2 * runs,
            "an event and findings per run"
        );
        let manifest = &inspect(bundle)["manifest"];
        assert_eq!(manifest.get("previous").unwrap_or(&Value::Null), &previous);
        previous = transcript["bundleId"].clone();
    }

    let other_feed = trust_for(
        tmp.path(),
        "other-feed.json",
        &site_pub(&dir),
        "another-site",
    );
    let demo = support::demo_pub();
    let other_key = trust_for(tmp.path(), "other-key.json", &demo, SITE_ID);
    for trust in [other_feed, other_key] {
        let (code, transcript) = bundle_verify(&trust, &bundles[0]);
        assert_eq!(code, Some(1), "{}: {transcript}", trust.display());
        assert_eq!(transcript["verdict"], "invalid", "{transcript}");
    }
}

#[test]
fn a_tampered_completion_event_is_refused() {
    let Some(python) = venv_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = played_site(tmp.path());
    let events = files(&dir.join("outbox/events"), ".dsse.json");

    let altered = tmp.path().join("altered.dsse.json");
    std::fs::write(
        &altered,
        with_altered_payload(&std::fs::read(&events[0]).unwrap()),
    )
    .unwrap();
    let out = verify_completion(python, &site_pub(&dir), &[altered]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("securesystemslib refused the envelope"),
        "{}",
        stderr(&out)
    );

    let foreign = verify_completion(python, &support::demo_pub(), &events[..1]);
    assert_eq!(
        foreign.status.code(),
        Some(1),
        "another key: {}",
        stderr(&foreign)
    );

    let bundle = files(&dir.join("outbox"), ".tar.zst").pop().unwrap();
    let member = inspect(&bundle)["manifest"]["documents"][0]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(member.starts_with("events/"), "{member}");
    let tampered = tmp.path().join("tampered.tar.zst");
    with_tampered_member_signature(&bundle, &member, &tampered);

    let out = verify_completion(python, &site_pub(&dir), std::slice::from_ref(&tampered));
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains(&member),
        "names the member: {}",
        stderr(&out)
    );
    let trust = trust_for(tmp.path(), "site-trust.json", &site_pub(&dir), SITE_ID);
    let (code, transcript) = bundle_verify(&trust, &tampered);
    assert_eq!(code, Some(1), "{transcript}");
    assert_eq!(transcript["failure"]["stepName"], "members", "{transcript}");
    assert_eq!(
        transcript["failure"]["member"],
        member.as_str(),
        "{transcript}"
    );
}
