//! SIGKILL at random points while bundles are being ingested, restart, repeat: the final
//! state must equal a run that was never killed, and every input file must end in
//! exactly one of archive/, pending/ or quarantine/.
//!
//! Files arrive in groups; a group enters the inbox only once the previous one has left
//! it, in both runs, so the order of application (and so every position) is the same
//! whatever the kills interrupt. The seed is printed; STELLA_KILL_SEED replays one.
#![allow(clippy::unwrap_used)]
// The seed and kill counts are printed on purpose: they make a failure reproducible.
#![allow(clippy::print_stderr)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use stella_scheduler::bundle::Withdrawal;
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use support::*;

const FEEDS: [&str; 3] = ["osv-a", "osv-b", "osv-c"];
const PER_FEED: u64 = 12;
const DOCS_PER_BUNDLE: usize = 150;
const MIN_KILLS: usize = 50;
/// Kills land within this share of the time an uninterrupted run took.
const KILL_SPAN: f64 = 0.75;
/// Kills per arrival group at most, before a last run finishes the group.
const KILLS_PER_GROUP: usize = 3;

fn advisories(feed: &str, seq: u64) -> Vec<stella_scheduler::bundle::NewDocument> {
    (0..DOCS_PER_BUNDLE)
        .map(|i| {
            // Every third id repeats across sequences, so later bundles change documents.
            let n = if i % 3 == 0 {
                i as u64
            } else {
                seq * 1000 + i as u64
            };
            let id = format!("{feed}-{n}");
            let fixed = format!("1.{seq}.{i}");
            let bytes = osv(&id, &format!("pkg-{}", i % 40), &fixed);
            doc(
                &format!("advisories/{id}.json"),
                DocumentKind::Advisory,
                DocumentFormat::Osv,
                bytes,
            )
        })
        .collect()
}

/// Writes every input bundle; returns them in arrival groups.
fn inputs(src: &Path) -> Vec<Vec<PathBuf>> {
    let mut files = Vec::new();
    for feed in FEEDS {
        let mut previous: Option<String> = None;
        for seq in 1..=PER_FEED {
            let name = src.join(format!("{feed}-{seq:02}.tar.zst"));
            let mut spec = match seq {
                7 => Spec::snapshot(feed, seq),
                _ => Spec::delta(feed, seq, previous.as_deref()),
            };
            if seq % 4 == 2 {
                let id = format!("{feed}-{}", (seq - 1) * 1000 + 1);
                spec.withdrawn = vec![Withdrawal {
                    kind: DocumentKind::Advisory,
                    id,
                }];
            }
            previous = Some(bundle(&name, spec, advisories(feed, seq)));
            files.push(name);
        }
    }
    let fork = src.join("osv-a-fork.tar.zst");
    let stranger = "ab".repeat(32);
    bundle(
        &fork,
        Spec::delta("osv-a", 3, Some(&stranger)),
        advisories("osv-a", 99),
    );
    std::fs::write(src.join("garbage.tar.zst"), vec![7u8; 4096]).unwrap();
    // Interleave feeds, and swap neighbours so some sequences arrive early and wait.
    files.sort_by_key(|f| {
        let n = f.file_name().unwrap().to_string_lossy().into_owned();
        let seq: u64 = n[6..8].parse().unwrap();
        (seq + (seq % 2) * 2, n)
    });
    let mut groups: Vec<Vec<PathBuf>> = files.chunks(2).map(|c| c.to_vec()).collect();
    groups.insert(5, vec![fork]);
    groups.insert(9, vec![src.join("garbage.tar.zst")]);
    groups
}

fn run_once(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--once", "--settle-ms", "0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn inbox_empty(dir: &Path) -> bool {
    bundle_names(&dir.join("inbox")).is_empty()
}

/// Starts a run and SIGKILLs it after a random delay below `KILL_SPAN` of `window` (how
/// long the uninterrupted run took on the same files), so that kills land inside the
/// work however fast this machine is; true if it was still working.
fn kill_one(dir: &Path, rng: &mut Rng, window: Duration) -> bool {
    let mut child = run_once(dir).spawn().unwrap();
    let micros = (window.mul_f64(KILL_SPAN).as_micros() as u64).max(1_000);
    std::thread::sleep(Duration::from_micros(rng.below(micros)));
    let alive = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    alive
}

/// Names in archive/, pending/, quarantine/, and whether the inbox is empty.
fn placement(dir: &Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    let names = |f: &str| bundle_names(&dir.join(f));
    (names("archive"), names("pending"), names("quarantine"))
}

fn comparable(dir: &Path) -> serde_json::Value {
    let mut s = status(dir);
    for feed in s["feeds"].as_array_mut().unwrap() {
        feed.as_object_mut().unwrap().remove("appliedAt");
    }
    s
}

#[test]
fn sigkill_during_ingest_never_loses_or_doubles_anything() {
    let seed: u64 = std::env::var("STELLA_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64 * 2_654_435_761 + 1);
    eprintln!("kill test seed: {seed} (replay with STELLA_KILL_SEED={seed})");
    let mut rng = Rng(seed | 1);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let groups = inputs(&src);
    let reference = data_dir(&tmp.path().join("reference"));
    let mut windows = Vec::new();
    for group in &groups {
        drop_group(group, &reference);
        let started = std::time::Instant::now();
        let _ = run_once(&reference).status().unwrap();
        windows.push(started.elapsed());
        assert!(inbox_empty(&reference));
    }

    let killed = data_dir(&tmp.path().join("killed"));
    let (mut kills, mut mid_work) = (0usize, 0usize);
    for (group, window) in groups.iter().zip(&windows) {
        drop_group(group, &killed);
        for _ in 0..KILLS_PER_GROUP {
            if inbox_empty(&killed) {
                break;
            }
            mid_work += kill_one(&killed, &mut rng, *window) as usize;
            kills += 1;
        }
        // Whatever the kills left, an uninterrupted run finishes.
        let _ = run_once(&killed).status().unwrap();
        assert!(inbox_empty(&killed));
    }
    let longest = windows.iter().max().copied().unwrap_or_default();
    while kills < MIN_KILLS {
        mid_work += kill_one(&killed, &mut rng, longest) as usize;
        kills += 1;
    }
    let _ = run_once(&killed).status().unwrap();
    eprintln!("kills: {kills}, of which {mid_work} hit a running process");
    assert!(kills >= MIN_KILLS);
    assert!(
        mid_work >= MIN_KILLS / 2,
        "too few kills hit a running process: {mid_work}"
    );

    assert_eq!(
        comparable(&killed),
        comparable(&reference),
        "state differs (seed {seed})"
    );
    let (archive, pending, quarantine) = placement(&killed);
    assert_eq!(
        (archive.clone(), pending.clone(), quarantine.clone()),
        placement(&reference)
    );
    let mut landed: Vec<String> = archive
        .into_iter()
        .chain(pending)
        .chain(quarantine)
        .collect();
    landed.sort();
    let mut expected: Vec<String> = groups
        .iter()
        .flatten()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    assert_eq!(
        landed, expected,
        "every input file ends in exactly one place"
    );
    assert!(inbox_empty(&killed));
    let s = status(&killed);
    assert_eq!(s["quarantined"], 2, "the fork and the garbage file");
    assert_eq!(s["position"], FEEDS.len() as u64 * PER_FEED);
}
