//! The NATS server restarted while `run --nats-url` is up: the drop folder keeps
//! working, events written meanwhile wait in the outbox, and after the restart the
//! consumer and the publisher connect again: the next bundle published applies and every
//! event is on the events subject once, with nothing left unacked.
//!
//! This stops and starts the machine's nats-server (JetStream keeps its streams on
//! disk), so it lives alone in this test binary (cargo runs test binaries one after
//! another). Without the server or its daemon tools it says it skipped, except under
//! CI=true.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "nats_support/mod.rs"]
mod nats_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nats_support::*;

const DAEMON: &str = "/usr/sbin/nats-server";

fn stop_server() {
    let status = Command::new("start-stop-daemon")
        .args(["--stop", "--retry", "10", "--exec", DAEMON])
        .status()
        .unwrap();
    assert!(status.success(), "cannot stop nats-server: {status}");
}

fn start_server() {
    let status = Command::new("start-stop-daemon")
        .args([
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            DAEMON,
            "--",
        ])
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            "4222",
            "-js",
            "-sd",
            "/var/lib/nats-server",
        ])
        .args(["-l", "/var/log/nats-server.log"])
        .status()
        .unwrap();
    assert!(status.success(), "cannot start nats-server: {status}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect("127.0.0.1:4222").is_err() {
        assert!(Instant::now() < deadline, "nats-server did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn position(dir: &Path) -> u64 {
    support::status(dir)["position"].as_u64().unwrap()
}

fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn run_waits_out_a_nats_restart_and_loses_nothing() {
    let Some(url) = server() else { return };
    if !Path::new(DAEMON).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{DAEMON} is needed under CI=true"
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"\n!!!!!!!! SKIPPED run_waits_out_a_nats_restart: no nats-server daemon !!!!!!!!\n",
        );
        return;
    }
    let names = Names::new(url, "restart");
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let files = samples();
    let mut args = names.run_args(&dir);
    args.extend(["--rescan-secs".into(), "1".into()]);
    let mut run = Command::new(support::BIN)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    names.publish(&[files[0].as_path()], None);
    wait_for("the first bundle over NATS", 30, || position(&dir) == 1);

    stop_server();
    // The drop folder keeps working while NATS is down.
    std::fs::copy(
        &files[1],
        dir.join("inbox").join(files[1].file_name().unwrap()),
    )
    .unwrap();
    wait_for("a dropped bundle while NATS is down", 30, || {
        position(&dir) == 2
    });
    start_server();

    // Connected again: the rest arrives over NATS and applies.
    let rest: Vec<&Path> = files[2..].iter().map(|f| f.as_path()).collect();
    names.publish(&rest, None);
    wait_for("the bundles published after the restart", 60, || {
        position(&dir) == files.len() as u64
    });
    wait_for("every event published", 60, || {
        if !dir.join("outbox/events").exists() {
            return false;
        }
        let written = events_in_outbox(&dir).len();
        written > 0 && names.events().len() == written
    });
    assert!(run.try_wait().unwrap().is_none(), "run exited");
    run.kill().unwrap();
    run.wait().unwrap();
    assert_events_published(&names, &dir);
    assert_eq!(names.consumer_state(), (0, 0), "every message acked");
}
