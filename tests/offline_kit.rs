//! `offline-kit export` and `import` through the real binary, over real data dirs: a kit
//! carries a site's state to an empty dir where the next delta chains on and gives the
//! same findings; kits are byte-identical from run to run; a kit that fails any check
//! leaves the importing site's store byte for byte as it was; an import replaces what
//! was there; and a store another process holds open is not replaced.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use stella_scheduler::bundle::{
    inspect, keys, write_bundle, BundleSpec, InMemory, Limits, MemberPath, NewDocument,
};
use stella_scheduler::model::{DocumentFormat, DocumentKind, Subject};
use stella_scheduler::offline_kit;
use support::*;

const SNAPSHOTS: [&str; 3] = [
    "demo-osv-1-snapshot.tar.zst",
    "demo-vex-1-snapshot.tar.zst",
    "demo-sbom-1-snapshot.tar.zst",
];
const DELTA: &str = "demo-osv-2-delta.tar.zst";

fn sample(name: &str) -> PathBuf {
    Path::new(ROOT).join("bundles").join(name)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A data dir initialized with the demo trust file, holding `bundles`.
fn site(root: &Path, name: &str, bundles: &[&str]) -> PathBuf {
    let dir = root.join(name);
    let trust = sample("demo-trust.json");
    ok(&[
        "init",
        "--data-dir",
        s(&dir),
        "--site-id",
        name,
        "--import-trust",
        s(&trust),
    ]);
    for bundle in bundles {
        ok(&["ingest", "--data-dir", s(&dir), s(&sample(bundle))]);
    }
    dir
}

fn export(dir: &Path, out: &Path) -> Value {
    let args = [
        "offline-kit",
        "export",
        "--json",
        "--data-dir",
        s(dir),
        "--out",
    ];
    let mut args = args.to_vec();
    args.push(s(out));
    serde_json::from_slice(&ok(&args).stdout).unwrap()
}

fn import(dir: &Path, key: &Path, kit: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["offline-kit", "import", "--json", "--data-dir", s(dir)];
    args.extend_from_slice(&["--key", s(key)]);
    args.extend_from_slice(extra);
    args.push(s(kit));
    run(&args)
}

fn site_pub(dir: &Path) -> PathBuf {
    dir.join("keys").join("site.pub")
}

fn findings(dir: &Path) -> Vec<u8> {
    ok(&["findings", "--json", "--data-dir", s(dir)]).stdout
}

/// (feed, sequence, bundle id) of every feed head.
fn heads(dir: &Path) -> Vec<(String, u64, String)> {
    let status = status(dir);
    let feeds = status["feeds"].as_array().unwrap();
    feeds
        .iter()
        .map(|f| {
            let feed = f["feed"].as_str().unwrap().to_owned();
            let bundle = f["bundleId"].as_str().unwrap().to_owned();
            (feed, f["sequence"].as_u64().unwrap(), bundle)
        })
        .collect()
}

fn finding_count(findings: &[u8]) -> usize {
    let report: Value = serde_json::from_slice(findings).unwrap();
    report["findings"].as_array().unwrap().len()
}

/// Names of the files in `dir/store`, sorted.
fn store_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Everything a failed import must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    store_bytes: Vec<u8>,
    store_files: Vec<String>,
    digest: Value,
    findings: Vec<u8>,
}

fn snapshot(dir: &Path) -> Snapshot {
    // The readers come first: the last of them to close copies whatever the write-ahead
    // log holds into the file (`ingest` leaves that to the next process, docs/state.md),
    // so the bytes read afterwards are the whole state, and anything an import had
    // written, even to the log alone, shows in them.
    let digest = status(dir)["stateDigest"].clone();
    let findings = findings(dir);
    Snapshot {
        store_bytes: std::fs::read(dir.join("store/state.sqlite")).unwrap(),
        store_files: store_files(dir),
        digest,
        findings,
    }
}

fn refused(out: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in {stderr}"
    );
}

#[test]
fn a_kit_seeds_an_empty_dir_where_the_next_delta_chains_on() {
    let tmp = tempfile::tempdir().unwrap();
    let a = site(tmp.path(), "site-a", &SNAPSHOTS);
    let kit = tmp.path().join("site-a.kit.tar.zst");
    let exported = export(&a, &kit);
    assert_eq!(exported["feed"], "site-a.kit");
    assert_eq!(exported["sequence"], 3);
    assert_eq!(exported["createdAt"], "2026-12-01T00:00:00Z");

    let keys_dir = tmp.path().join("keys");
    let generated = ok(&[
        "keys",
        "generate",
        "--json",
        "--out",
        s(&keys_dir),
        "--name",
        "b",
    ]);
    let generated: Value = serde_json::from_slice(&generated.stdout).unwrap();
    let b = tmp.path().join("site-b");
    let site_key = keys_dir.join("b.key");
    let out = import(&b, &site_pub(&a), &kit, &["--site-key", s(&site_key)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(imported["initialized"]["keyid"], generated["keyid"]);
    assert_eq!(imported["siteId"], "site-a");
    assert_eq!(imported["untrustedFeeds"], serde_json::json!([]));
    assert_eq!(
        std::fs::read(b.join("trust.json")).unwrap(),
        std::fs::read(a.join("trust.json")).unwrap(),
        "the new site starts from the kit's trust file"
    );
    assert_eq!(store_files(&b), ["state.sqlite"], "no scratch file is left");
    assert_eq!(heads(&b), heads(&a));
    assert_eq!(status(&b)["documents"], status(&a)["documents"]);
    assert_eq!(findings(&b), findings(&a));

    for dir in [&a, &b] {
        let out = ok(&["ingest", "--json", "--data-dir", s(dir), s(&sample(DELTA))]);
        let outcomes: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(outcomes[0]["outcome"], "applied", "{outcomes}");
    }
    assert_eq!(heads(&b), heads(&a));
    assert_eq!(heads(&b)[0].1, 2, "demo-osv moved to sequence 2");
    let (fa, fb) = (findings(&a), findings(&b));
    assert!(finding_count(&fa) > 10, "the sample state has findings");
    assert_eq!(
        String::from_utf8(fb).unwrap(),
        String::from_utf8(fa).unwrap()
    );
    let first = sample(SNAPSHOTS[0]);
    for dir in [&a, &b] {
        let args = ["ingest", "--json", "--data-dir", s(dir), s(&first)];
        let replay: Value = serde_json::from_slice(&ok(&args).stdout).unwrap();
        assert_eq!(replay[0]["outcome"], "duplicate", "{replay}");
    }
}

#[test]
fn exporting_the_same_state_twice_gives_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = site(tmp.path(), "site-a", &SNAPSHOTS);
    let (first, second) = (tmp.path().join("1.tar.zst"), tmp.path().join("2.tar.zst"));
    let one = export(&a, &first);
    ok(&["status", "--data-dir", s(&a)]);
    let two = export(&a, &second);
    assert_eq!(one["bundleId"], two["bundleId"]);
    assert!(std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap());

    let trust = tmp.path().join("kit-trust.json");
    ok(&[
        "trust",
        "add",
        "--trust",
        s(&trust),
        "--public-key",
        s(&site_pub(&a)),
        "--feed",
        "site-a.kit",
    ]);
    ok(&["bundle", "verify", "--trust", s(&trust), s(&first)]);

    ok(&["ingest", "--data-dir", s(&a), s(&sample(DELTA))]);
    let later = export(&a, &second);
    assert_eq!(later["sequence"], 4);
    assert_ne!(later["bundleId"], one["bundleId"], "a new state, a new kit");
}

/// Decompresses a kit, flips one byte of the first member under `prefix`, and writes
/// the result recompressed.
fn flip_member_byte(kit: &Path, prefix: &str, out: &Path) {
    let raw = zstd::decode_all(std::fs::File::open(kit).unwrap()).unwrap();
    let mut archive = tar::Archive::new(&raw[..]);
    let position = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap().to_string_lossy().starts_with(prefix))
        .map(|e| e.raw_file_position() as usize)
        .unwrap();
    let mut tampered = raw.clone();
    tampered[position + 10] ^= 0x20;
    std::fs::write(out, zstd::encode_all(&tampered[..], 3).unwrap()).unwrap();
}

/// The kit's members by path, read with the tar and zstd crates.
fn members(kit: &Path) -> BTreeMap<String, Vec<u8>> {
    let raw = zstd::decode_all(std::fs::File::open(kit).unwrap()).unwrap();
    let mut archive = tar::Archive::new(&raw[..]);
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        out.insert(path, bytes);
    }
    out
}

/// One member of a kit being rewritten by a test.
struct Member {
    path: String,
    kind: DocumentKind,
    format: DocumentFormat,
    subject: Option<Subject>,
    bytes: Vec<u8>,
}

/// The kit's members after `edit` changed them, signed again with the exporting site's
/// own key: every signature and digest of the result holds.
fn resign(kit: &Path, site_key: &Path, out: &Path, edit: impl FnOnce(&mut Vec<Member>)) {
    let manifest = inspect(kit, &Limits::default()).unwrap().manifest;
    let mut bytes = members(kit);
    let mut list: Vec<Member> = manifest
        .documents
        .iter()
        .map(|d| Member {
            path: d.path.to_string(),
            kind: d.kind,
            format: d.format,
            subject: d.subject.as_deref().cloned(),
            bytes: bytes.remove(d.path.as_str()).unwrap(),
        })
        .collect();
    edit(&mut list);
    let docs = list
        .into_iter()
        .map(|m| NewDocument {
            path: MemberPath::parse(m.path.as_bytes()).unwrap(),
            kind: m.kind,
            format: m.format,
            subject: m.subject,
            source: Box::new(InMemory {
                name: m.path,
                bytes: m.bytes,
            }),
        })
        .collect();
    let spec = BundleSpec {
        feed: manifest.feed,
        sequence: manifest.sequence,
        previous: None,
        mode: manifest.mode,
        created_at: manifest.created_at,
        expires_at: None,
        withdrawn: vec![],
    };
    let key = keys::read_signing_key(site_key).unwrap();
    write_bundle(spec, docs, &[key], out).unwrap();
}

/// The member at `path`, or the first one under it.
fn member<'a>(list: &'a mut [Member], path: &str) -> &'a mut Member {
    list.iter_mut().find(|m| m.path.starts_with(path)).unwrap()
}

/// Rewrites `kit/index.json` through `edit`.
fn edit_index(list: &mut [Member], edit: impl FnOnce(&mut Value)) {
    let index = member(list, "kit/index.json");
    let mut value: Value = serde_json::from_slice(&index.bytes).unwrap();
    edit(&mut value);
    index.bytes = serde_json::to_vec(&value).unwrap();
}

/// Gives the first VEX document the id `id` in the index; with `rename`, also moves it
/// to the member path that id has in the kit layout.
fn give_vex_the_id(list: &mut [Member], id: &str, rename: bool) {
    let vex = member(list, "state/demo-vex/");
    let old = vex.path.clone();
    let new = offline_kit::member_path("demo-vex", DocumentKind::Vex, id, "v.json").unwrap();
    if rename {
        vex.path = new.to_string();
    }
    let path = vex.path.clone();
    edit_index(list, |index| {
        let docs = index["documents"].as_array_mut().unwrap();
        let entry = docs.iter_mut().find(|d| d["member"] == *old).unwrap();
        entry["id"] = id.into();
        entry["member"] = path.into();
    });
}

#[test]
fn a_kit_that_fails_any_check_leaves_the_importing_site_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let a = site(tmp.path(), "site-a", &SNAPSHOTS);
    let b = site(tmp.path(), "site-b", &[SNAPSHOTS[0], DELTA]);
    let kit = tmp.path().join("kit.tar.zst");
    export(&a, &kit);
    let before = snapshot(&b);
    assert!(before.findings.len() > 20);

    let wrong_key = import(&b, &site_pub(&b), &kit, &[]);
    refused(&wrong_key, "step 5 (signatures)");
    assert_eq!(snapshot(&b), before);

    let tampered = tmp.path().join("tampered.tar.zst");
    flip_member_byte(&kit, "state/demo-sbom/", &tampered);
    refused(
        &import(&b, &site_pub(&a), &tampered, &[]),
        "step 9 (members)",
    );
    assert_eq!(snapshot(&b), before);

    let index = tmp.path().join("index.tar.zst");
    flip_member_byte(&kit, "kit/index.json", &index);
    refused(&import(&b, &site_pub(&a), &index, &[]), "kit/index.json");
    assert_eq!(snapshot(&b), before);

    let a_key = a.join("keys").join("site.key");
    let resigned = tmp.path().join("resigned.tar.zst");
    let broken = |list: &mut Vec<Member>| member(list, "state/demo-osv/").bytes = b"{".to_vec();
    resign(&kit, &a_key, &resigned, broken);
    refused(&import(&b, &site_pub(&a), &resigned, &[]), "does not parse");
    assert_eq!(snapshot(&b), before);

    resign(&kit, &a_key, &resigned, |list| {
        give_vex_the_id(list, "x", true)
    });
    refused(&import(&b, &site_pub(&a), &resigned, &[]), "says id \"x\"");
    assert_eq!(snapshot(&b), before);

    resign(&kit, &a_key, &resigned, |list| {
        give_vex_the_id(list, "x", false)
    });
    refused(
        &import(&b, &site_pub(&a), &resigned, &[]),
        "is not where a kit puts",
    );
    assert_eq!(snapshot(&b), before);

    let b_pub = std::fs::read(site_pub(&b)).unwrap();
    resign(&kit, &a_key, &resigned, |list| {
        member(list, "kit/site.pub").bytes = b_pub;
    });
    let out = import(&b, &site_pub(&a), &resigned, &[]);
    refused(&out, "but the kit was verified with key");
    assert_eq!(snapshot(&b), before);

    let bundle = sample(SNAPSHOTS[1]);
    let not_a_kit = import(&b, &demo_pub(), &bundle, &[]);
    refused(&not_a_kit, "is not an offline kit");
    assert_eq!(snapshot(&b), before);

    let empty = tmp.path().join("never-made");
    refused(&import(&empty, &site_pub(&b), &kit, &[]), "signatures");
    assert!(!empty.exists(), "a refused kit initializes nothing");
}

/// A bundle of feed `local` that only site B has: an SBOM of an app shipping left-pad
/// and an advisory about left-pad, so that B has a finding A does not.
fn local_bundle(out: &Path) {
    let bom = serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "components": [{"type": "library", "name": "left-pad", "version": "1.2.0",
                        "purl": "pkg:npm/left-pad@1.2.0"}]
    });
    let app = sbom(
        "sboms/app.cdx.json",
        serde_json::to_vec(&bom).unwrap(),
        "registry.local/app:1",
        &"5ca1ab1e".repeat(8),
    );
    let advisory = doc(
        "advisories/ONLY-B-1.json",
        DocumentKind::Advisory,
        DocumentFormat::Osv,
        osv("ONLY-B-1", "left-pad", "1.3.0"),
    );
    bundle(out, Spec::delta("local", 1, None), vec![app, advisory]);
}

#[test]
fn an_import_replaces_the_state_that_was_there() {
    let tmp = tempfile::tempdir().unwrap();
    let a = site(tmp.path(), "site-a", &SNAPSHOTS);
    let kit = tmp.path().join("kit.tar.zst");
    export(&a, &kit);
    let b = data_dir(&tmp.path().join("b"));
    let local = tmp.path().join("local.tar.zst");
    local_bundle(&local);
    ok(&[
        "ingest",
        "--data-dir",
        s(&b),
        s(&local),
        s(&sample(SNAPSHOTS[0])),
    ]);
    let only_b = String::from_utf8(findings(&b)).unwrap();
    assert!(only_b.contains("ONLY-B-1"), "{only_b}");
    let config = std::fs::read(b.join("config.json")).unwrap();
    let trust = std::fs::read(b.join("trust.json")).unwrap();

    let site_key = a.join("keys").join("site.key");
    let out = import(&b, &site_pub(&a), &kit, &["--site-key", s(&site_key)]);
    assert_eq!(out.status.code(), Some(2), "--site-key needs an empty dir");
    let out = import(&b, &site_pub(&a), &kit, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(imported["initialized"], Value::Null);

    assert_eq!(heads(&b), heads(&a), "feed local is gone");
    assert_eq!(status(&b)["documents"], status(&a)["documents"]);
    let after = String::from_utf8(findings(&b)).unwrap();
    assert!(!after.contains("ONLY-B-1"), "B's own documents are gone");
    assert_eq!(after, String::from_utf8(findings(&a)).unwrap());
    assert_eq!(std::fs::read(b.join("config.json")).unwrap(), config);
    assert_eq!(std::fs::read(b.join("trust.json")).unwrap(), trust);
    assert_eq!(store_files(&b), ["state.sqlite"]);
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_run(dir: &Path) -> Child {
    Command::new(BIN)
        .args(["run", "--settle-ms", "100", "--data-dir", s(dir)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_store_open_in_a_running_watcher_is_not_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let a = site(tmp.path(), "site-a", &SNAPSHOTS);
    let kit = tmp.path().join("kit.tar.zst");
    export(&a, &kit);
    let b = site(tmp.path(), "site-b", &[SNAPSHOTS[0]]);
    let digest = status(&b)["stateDigest"].clone();

    let mut watcher = start_run(&b);
    let wal = b.join("store").join("state.sqlite-wal");
    wait_until("the watcher to open the store", || wal.exists());
    let out = import(&b, &site_pub(&a), &kit, &[]);
    watcher.kill().unwrap();
    watcher.wait().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("open in another process"), "{stderr}");
    assert_eq!(status(&b)["stateDigest"], digest);
    assert!(!store_files(&b).iter().any(|f| f.contains("import")));

    let out = import(&b, &site_pub(&a), &kit, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(heads(&b), heads(&a));
}

/// The site feed of completion bundles keeps its chain across an import: the next
/// export of the importing site follows its last one, not sequence 1 again.
#[test]
fn an_import_keeps_the_sites_export_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let a = site(tmp.path(), "site-a", &SNAPSHOTS);
    let kit = tmp.path().join("kit.tar.zst");
    export(&a, &kit);
    let b = site(tmp.path(), "site-b", &[SNAPSHOTS[2], SNAPSHOTS[0]]);
    ok(&["run", "--once", "--settle-ms", "0", "--data-dir", s(&b)]);
    let outbox = b.join("outbox");
    let first = outbox.join("site-b-000001.tar.zst");
    assert!(first.exists(), "B exported its first completion bundle");
    let first_id = bundle_id(&first);

    let out = import(&b, &site_pub(&a), &kit, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&["run", "--once", "--settle-ms", "0", "--data-dir", s(&b)]);
    let second = outbox.join("site-b-000002.tar.zst");
    assert!(second.exists(), "the next export is sequence 2");
    let inspected = inspect_cli(&second);
    assert_eq!(inspected["manifest"]["sequence"], 2, "{inspected}");
    assert_eq!(
        inspected["manifest"]["previous"],
        first_id.as_str(),
        "{inspected}"
    );
}

fn bundle_id(bundle: &Path) -> String {
    inspect_cli(bundle)["bundleId"].as_str().unwrap().to_owned()
}

fn inspect_cli(bundle: &Path) -> Value {
    let out = Command::new(BIN)
        .args(["bundle", "inspect", "--json", s(bundle)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
