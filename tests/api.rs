//! The HTTP control plane through real HTTP on port 0, against a real store built from
//! the sample bundles: tokens and scopes, tenants, rechecks with idempotency keys,
//! runtime hooks, queue control, audit, health, metrics, and the committed OpenAPI
//! document. Responses are compared with times filtered out.
#![allow(clippy::unwrap_used)]
#![allow(clippy::print_stderr)]

#[path = "pg_support/mod.rs"]
mod pg_support;
mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use stella_scheduler::api::{self, ApiContext, Scope, Server, TokenFile};
use stella_scheduler::findings::VexPolicy;
use stella_scheduler::ingest::DataDir;
use stella_scheduler::jobs::{Policies, Tenants};
use support::*;

/// The samples ingested into a data dir whose SBOM feed belongs to tenant `blue`; with
/// `finished`, `run --once` has run every window too.
fn site(root: &Path, finished: bool) -> PathBuf {
    let dir = data_dir(root);
    let config_path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["tenants"] = json!({"demo-sbom": "blue"});
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let d = dir.to_str().unwrap().to_owned();
    let bundles = Path::new(ROOT).join("bundles");
    let mut args = vec!["ingest".to_owned(), "--data-dir".to_owned(), d.clone()];
    for name in bundle_names(&bundles) {
        args.push(bundles.join(name).to_str().unwrap().to_owned());
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    if finished {
        ok(&["run", "--once", "--settle-ms", "0", "--data-dir", &d]);
    }
    dir
}

/// Tokens by name: site admin (`*`), blue reader, blue rechecker, blue hooks, green
/// admin, and a blue reader allowed three requests a minute.
struct Tokens {
    site: String,
    blue: String,
    blue_recheck: String,
    blue_hooks: String,
    green: String,
    slow: String,
}

fn tokens(file: &mut TokenFile) -> Tokens {
    let mut add = |name: &str, scopes: &[Scope], tenant: &str, rate: u32| {
        file.add(name, scopes.to_vec(), tenant, rate).unwrap()
    };
    Tokens {
        site: add("site", &[Scope::Admin], "*", 10_000),
        blue: add("blue", &[Scope::Read], "blue", 10_000),
        blue_recheck: add(
            "blue-recheck",
            &[Scope::Read, Scope::Recheck],
            "blue",
            10_000,
        ),
        blue_hooks: add("blue-hooks", &[Scope::Hooks, Scope::Read], "blue", 10_000),
        green: add("green", &[Scope::Admin], "green", 10_000),
        slow: add("slow", &[Scope::Read], "blue", 3),
    }
}

/// A site served on port 0 with the [`Tokens`], and a client for it.
struct Api {
    /// Holds the data dir for as long as the server runs.
    _tmp: tempfile::TempDir,
    t: Tokens,
    server: Server,
    c: Client,
}

impl Api {
    /// See [`site`] for `finished`; with `hook_secret`, hooks must be signed with it.
    fn start(finished: bool, hook_secret: Option<&[u8]>) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = site(tmp.path(), finished);
        let mut file = TokenFile::default();
        let t = tokens(&mut file);
        let server = serve(&dir, file, hook_secret);
        let c = Client::new(server.addr);
        Self {
            _tmp: tmp,
            t,
            server,
            c,
        }
    }
}

fn serve(dir: &Path, file: TokenFile, hook_secret: Option<&[u8]>) -> Server {
    let data = DataDir::new(dir.to_owned());
    let policies = Policies {
        tenants: Tenants::new([("demo-sbom".to_owned(), "blue".to_owned())].into()),
        ..Policies::default()
    };
    let context = ApiContext::new(
        data,
        policies,
        VexPolicy::default(),
        file,
        hook_secret.map(<[u8]>::to_vec),
    );
    api::serve(context, "127.0.0.1:0".parse().unwrap()).unwrap()
}

/// A plain HTTP/1.1 client that reports every status instead of failing on 4xx/5xx.
struct Client {
    base: String,
    agent: ureq::Agent,
}

struct Reply {
    status: u16,
    body: Value,
    text: String,
    retry_after: Option<String>,
}

impl Client {
    fn new(addr: std::net::SocketAddr) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            base: format!("http://{addr}"),
            agent,
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = self.agent.get(&format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        reply(req.call().unwrap())
    }

    fn post(&self, path: &str, token: Option<&str>, body: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.post(&format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        reply(
            req.content_type("application/json")
                .send(body.as_bytes())
                .unwrap(),
        )
    }
}

fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.body_mut().read_to_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        text,
        retry_after,
    }
}

fn error_code(reply: &Reply) -> &str {
    reply.body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {}", reply.text))
}

/// Replaces wall-clock fields (`*Ms`) with 0, so that a response can be compared.
fn without_times(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if k.ends_with("Ms") && !child.is_null() {
                        *child = json!(0);
                    } else {
                        walk(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// Compares with a committed snapshot under tests/snapshots/; STELLA_BLESS=1 rewrites it.
fn matches_snapshot(name: &str, value: &Value) {
    let path = Path::new(ROOT).join("tests/snapshots").join(name);
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    if std::env::var_os("STELLA_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
        eprintln!("blessed {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing; run with STELLA_BLESS=1", path.display()));
    assert_eq!(
        text, committed,
        "{name} differs; if intended, re-run with STELLA_BLESS=1"
    );
}

#[test]
fn every_group_answers_with_a_token_and_refuses_without() {
    let Api {
        _tmp, t, server, c, ..
    } = Api::start(true, None);

    assert_eq!(c.get("/healthz", None).body, json!({"status": "ok"}));
    let ready = c.get("/readyz", None);
    assert_eq!(
        (ready.status, &ready.body["status"]),
        (200, &json!("ready"))
    );

    let reads = [
        "/metrics",
        "/api/v1/status",
        "/api/v1/feeds",
        "/api/v1/runs",
        "/api/v1/jobs?state=succeeded",
        "/api/v1/findings",
    ];
    for path in reads {
        let refused = c.get(path, None);
        assert_eq!(refused.status, 401, "{path}");
        assert_eq!(error_code(&refused), "unauthenticated");
        assert_eq!(c.get(path, Some("stl_not-a-token")).status, 401, "{path}");
        let answered = c.get(path, Some(&t.site));
        assert_eq!(answered.status, 200, "{path}: {}", answered.text);
    }
    let metrics = c.get("/metrics", Some(&t.site)).text;
    assert!(
        metrics.contains("stella_jobs{state=\"succeeded\"} 6"),
        "{metrics}"
    );
    let status = c.get("/api/v1/status", Some(&t.site)).body;
    assert_eq!(status["runs"], json!({"completed": 4}));

    // Mutations need their scope: a reader gets 403, as JSON.
    let forbidden = c.post("/api/v1/queue/pause", Some(&t.blue), "", &[]);
    assert_eq!(
        (forbidden.status, error_code(&forbidden)),
        (403, "forbidden")
    );
    let forbidden = c.post("/api/v1/rechecks", Some(&t.blue), r#"{"all":true}"#, &[]);
    assert_eq!(forbidden.status, 403);
    let unknown = c.get("/api/v1/nothing", Some(&t.site));
    assert_eq!((unknown.status, error_code(&unknown)), (404, "not_found"));

    // Queue control is site-wide: the site's admin may, a tenant's admin may not.
    assert_eq!(
        c.post("/api/v1/queue/pause", Some(&t.green), "", &[])
            .status,
        403
    );
    let paused = c.post("/api/v1/queue/pause", Some(&t.site), "", &[]);
    assert_eq!(paused.body, json!({"paused": true}));
    assert_eq!(
        c.get("/api/v1/status", Some(&t.site)).body["queuePaused"],
        true
    );
    assert_eq!(
        c.post("/api/v1/queue/resume", Some(&t.site), "", &[]).body,
        json!({"paused": false})
    );

    // Impact preview: an impact set, and no run created.
    let runs_before = c.get("/api/v1/runs", Some(&t.site)).body["runs"]
        .as_array()
        .unwrap()
        .len();
    let preview = c.post(
        "/api/v1/impact",
        Some(&t.blue_recheck),
        r#"{"all":true}"#,
        &[],
    );
    assert_eq!(preview.status, 200, "{}", preview.text);
    assert_eq!(preview.body["artifacts"].as_array().unwrap().len(), 6);
    let runs_after = c.get("/api/v1/runs", Some(&t.site)).body["runs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(runs_before, runs_after);
    let bad = c.post(
        "/api/v1/impact",
        Some(&t.blue_recheck),
        r#"{"all":false}"#,
        &[],
    );
    assert_eq!((bad.status, error_code(&bad)), (400, "invalid_selector"));

    // Runs and jobs by id; a dead-letter retry of a succeeded job is a conflict.
    // The first window (advisories before any SBOM) impacted nothing: no tenant's.
    let site_run = c.get("/api/v1/runs/run-00000001", Some(&t.site));
    assert_eq!(
        site_run.body["run"]["tenant"], "default",
        "{}",
        site_run.text
    );
    assert_eq!(
        c.get("/api/v1/runs/run-00000001", Some(&t.blue)).status,
        404
    );
    let run = c.get("/api/v1/runs/run-00000003", Some(&t.blue));
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.body["run"]["tenant"], "blue");
    assert_eq!(run.body["jobs"]["succeeded"], 6);
    let job_id = c.get("/api/v1/jobs?limit=1", Some(&t.blue)).body["jobs"][0]["jobId"].clone();
    let job = c.get(&format!("/api/v1/jobs/{job_id}"), Some(&t.blue));
    assert_eq!(job.body["job"]["state"], "succeeded");
    let retry = c.post(
        &format!("/api/v1/jobs/{job_id}/retry"),
        Some(&t.site),
        "",
        &[],
    );
    assert_eq!(
        (retry.status, error_code(&retry)),
        (409, "not_dead_lettered")
    );

    // Every mutating call was audited, refused ones too, with who and what.
    let audit = c.get("/api/v1/audit", Some(&t.site)).body;
    let lines: Vec<(String, String, u64)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["token"].as_str().unwrap().to_owned(),
                a["path"].as_str().unwrap().to_owned(),
                a["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        lines.contains(&("site".into(), "/api/v1/queue/pause".into(), 200)),
        "{lines:?}"
    );
    assert!(
        lines.contains(&("green".into(), "/api/v1/queue/pause".into(), 403)),
        "{lines:?}"
    );
    assert!(lines.contains(&("site".into(), format!("/api/v1/jobs/{job_id}/retry"), 409)));
    server.stop();
}

#[test]
fn one_tenant_cannot_read_or_change_another_tenants_rows() {
    let Api {
        _tmp, t, server, c, ..
    } = Api::start(true, None);

    let blue_runs = c.get("/api/v1/runs", Some(&t.blue)).body;
    let blue_runs = blue_runs["runs"].as_array().unwrap();
    assert!(!blue_runs.is_empty());
    assert!(
        blue_runs.iter().all(|r| r["tenant"] == "blue"),
        "{blue_runs:?}"
    );
    let blue_jobs = c.get("/api/v1/jobs", Some(&t.blue)).body;
    assert_eq!(blue_jobs["jobs"].as_array().unwrap().len(), 6);
    let blue_findings = c.get("/api/v1/findings", Some(&t.blue)).body;
    let found = blue_findings["findings"].as_array().unwrap();
    assert!(!found.is_empty());
    let artifact = found[0]["artifact"].as_str().unwrap().to_owned();
    let run_id = blue_runs[0]["runId"].as_str().unwrap().to_owned();

    // Green sees none of it, and blue's rows answer as missing ones.
    assert_eq!(
        c.get("/api/v1/runs", Some(&t.green)).body,
        json!({"runs": []})
    );
    assert_eq!(
        c.get("/api/v1/jobs", Some(&t.green)).body,
        json!({"jobs": []})
    );
    let green_findings = c.get("/api/v1/findings", Some(&t.green)).body;
    assert_eq!(green_findings["findings"], json!([]));
    for path in [
        format!("/api/v1/runs/{run_id}"),
        format!("/api/v1/findings?artifact={artifact}"),
        format!("/api/v1/jobs/{}", blue_jobs["jobs"][0]["jobId"]),
    ] {
        let hidden = c.get(&path, Some(&t.green));
        assert_eq!(
            (hidden.status, error_code(&hidden)),
            (404, "not_found"),
            "{path}"
        );
        assert_eq!(c.get(&path, Some(&t.blue)).status, 200, "{path}");
    }
    let cancel = c.post(
        &format!("/api/v1/runs/{run_id}/cancel"),
        Some(&t.green),
        "",
        &[],
    );
    assert_eq!(cancel.status, 404);
    let retry = c.post(
        &format!("/api/v1/runs/{run_id}/retry"),
        Some(&t.green),
        "",
        &[],
    );
    assert_eq!(retry.status, 404);

    // Green's recheck of everything covers none of blue's artifacts.
    let green_run = c.post("/api/v1/rechecks", Some(&t.green), r#"{"all":true}"#, &[]);
    assert_eq!(green_run.status, 201, "{}", green_run.text);
    assert_eq!(green_run.body["run"]["tenant"], "green");
    assert_eq!(green_run.body["run"]["artifacts"], 0);
    assert_eq!(
        c.get("/api/v1/jobs", Some(&t.green)).body,
        json!({"jobs": []})
    );

    // The site's operator sees both tenants' runs.
    let all = c.get("/api/v1/runs", Some(&t.site)).body;
    let tenants: std::collections::BTreeSet<&str> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tenant"].as_str().unwrap())
        .collect();
    assert!(
        tenants.contains("blue") && tenants.contains("green"),
        "{tenants:?}"
    );

    matches_snapshot(
        "api_runs_blue.json",
        &without_times(c.get("/api/v1/runs", Some(&t.blue)).body),
    );
    server.stop();
}

#[test]
fn the_same_idempotency_key_gives_one_run_and_a_runtime_hook_raises_its_jobs() {
    let Api {
        _tmp, t, server, c, ..
    } = Api::start(true, Some(b"hook-secret"));

    let key = [("Idempotency-Key", "nightly-2026-12-04")];
    let first = c.post(
        "/api/v1/rechecks",
        Some(&t.blue_recheck),
        r#"{"all":true}"#,
        &key,
    );
    assert_eq!(
        (first.status, &first.body["created"]),
        (201, &json!(true)),
        "{}",
        first.text
    );
    let again = c.post(
        "/api/v1/rechecks",
        Some(&t.blue_recheck),
        r#"{"all":true}"#,
        &key,
    );
    assert_eq!((again.status, &again.body["created"]), (200, &json!(false)));
    assert_eq!(first.body["run"]["runId"], again.body["run"]["runId"]);
    let other = c.post(
        "/api/v1/rechecks",
        Some(&t.blue_recheck),
        r#"{"purl":"pkg:npm/x"}"#,
        &key,
    );
    assert_eq!(
        (other.status, error_code(&other)),
        (409, "idempotency_conflict")
    );
    let run_id = first.body["run"]["runId"].as_str().unwrap().to_owned();
    let runs = c.get("/api/v1/runs", Some(&t.blue)).body;
    let with_key = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["runId"] == *run_id)
        .count();
    assert_eq!(with_key, 1);

    // No worker runs here: the recheck's jobs wait, all at priority 0.
    let queued = c
        .get(&format!("/api/v1/jobs?run={run_id}"), Some(&t.blue))
        .body;
    let jobs = queued["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 6);
    assert!(jobs
        .iter()
        .all(|j| j["state"] == "queued" && j["priority"] == 0));
    let target = jobs[3]["artifact"].as_str().unwrap().to_owned();
    let deadline_before = jobs[3]["deadlineMs"].as_i64().unwrap();

    let body = format!(r#"{{"artifact":"{target}","environment":"prod","event":"running"}}"#);
    let unsigned = c.post("/api/v1/hooks/runtime", Some(&t.blue_hooks), &body, &[]);
    assert_eq!(
        (unsigned.status, error_code(&unsigned)),
        (401, "unauthenticated")
    );
    let signature = format!("sha256={}", hmac_hex(b"hook-secret", body.as_bytes()));
    let sig = [("X-Stella-Signature", signature.as_str())];
    let hooked = c.post("/api/v1/hooks/runtime", Some(&t.blue_hooks), &body, &sig);
    assert_eq!(hooked.status, 200, "{}", hooked.text);
    assert_eq!(hooked.body["expeditedJobs"], 1);
    assert_eq!(
        hooked.body["run"],
        Value::Null,
        "evaluated before: no new run"
    );

    let after = c
        .get(&format!("/api/v1/jobs?run={run_id}"), Some(&t.blue))
        .body;
    for job in after["jobs"].as_array().unwrap() {
        let raised = job["artifact"] == *target;
        assert_eq!(job["priority"], if raised { 100 } else { 0 }, "{job}");
        if raised {
            assert!(job["deadlineMs"].as_i64().unwrap() < deadline_before);
        }
    }
    let wrong_tenant =
        format!(r#"{{"artifact":"{target}","environment":"prod","event":"retired"}}"#);
    let green_sig = format!(
        "sha256={}",
        hmac_hex(b"hook-secret", wrong_tenant.as_bytes())
    );
    let green = c.post(
        "/api/v1/hooks/runtime",
        Some(&t.green),
        &wrong_tenant,
        &[("X-Stella-Signature", green_sig.as_str())],
    );
    assert_eq!(green.status, 404);
    server.stop();
}

#[test]
fn a_deployed_artifact_never_evaluated_gets_a_run_of_its_own() {
    let Api {
        _tmp, t, server, c, ..
    } = Api::start(false, None);
    let preview = c.post("/api/v1/impact", Some(&t.site), r#"{"all":true}"#, &[]);
    let artifact = preview.body["artifacts"][0]["artifact"]
        .as_str()
        .unwrap()
        .to_owned();

    let body = format!(r#"{{"artifact":"{artifact}","environment":"staging","event":"deployed"}}"#);
    let first = c.post("/api/v1/hooks/runtime", Some(&t.blue_hooks), &body, &[]);
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["run"]["trigger"], "runtime");
    assert_eq!(first.body["run"]["tenant"], "blue");
    assert_eq!(first.body["run"]["artifacts"], 1);
    // A second agent reporting the same artifact does not make a second run.
    let second = c.post("/api/v1/hooks/runtime", Some(&t.blue_hooks), &body, &[]);
    assert_eq!(second.body["run"]["runId"], first.body["run"]["runId"]);
    let bad = c.post(
        "/api/v1/hooks/runtime",
        Some(&t.blue_hooks),
        r#"{"artifact":"sha256:1"}"#,
        &[],
    );
    assert_eq!((bad.status, error_code(&bad)), (400, "invalid_body"));
    server.stop();
}

#[test]
fn schedules_are_created_paused_and_deleted_by_their_tenant_only() {
    let Api {
        _tmp, t, server, c, ..
    } = Api::start(false, None);
    let body = r#"{"name":"green-nightly","cron":"0 3 * * *","timezone":"Europe/Berlin","selector":{"all":true}}"#;
    let created = c.post("/api/v1/schedules", Some(&t.green), body, &[]);
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["tenant"], "green");
    assert_eq!(created.body["paused"], false);
    let again = c.post("/api/v1/schedules", Some(&t.green), body, &[]);
    assert_eq!((again.status, error_code(&again)), (409, "schedule_exists"));
    let bad = body.replace("0 3 * * *", "0 25 * * *");
    let bad = c.post("/api/v1/schedules", Some(&t.green), &bad, &[]);
    assert_eq!(
        (bad.status, error_code(&bad)),
        (400, "invalid_cron"),
        "{}",
        bad.text
    );
    let bad_zone = body.replace("Europe/Berlin", "Mars/Olympus");
    let bad_zone = c.post("/api/v1/schedules", Some(&t.green), &bad_zone, &[]);
    assert_eq!(error_code(&bad_zone), "invalid_timezone");

    let green_list = c.get("/api/v1/schedules", Some(&t.green)).body;
    assert_eq!(green_list["schedules"].as_array().unwrap().len(), 1);
    assert_eq!(
        c.get("/api/v1/schedules", Some(&t.blue)).body,
        json!({"schedules": []})
    );
    let paused = c.post(
        "/api/v1/schedules/green-nightly/pause",
        Some(&t.green),
        "",
        &[],
    );
    assert_eq!(paused.body["paused"], true, "{}", paused.text);
    let resumed = c.post(
        "/api/v1/schedules/green-nightly/resume",
        Some(&t.green),
        "",
        &[],
    );
    assert_eq!(resumed.body["paused"], false);

    let mut request = c
        .agent
        .delete(&format!("{}/api/v1/schedules/green-nightly", c.base));
    request = request.header("Authorization", &format!("Bearer {}", t.green));
    let deleted = reply(request.call().unwrap());
    assert_eq!(deleted.body, json!({"deleted": "green-nightly"}));
    assert_eq!(
        c.get("/api/v1/schedules", Some(&t.site)).body,
        json!({"schedules": []})
    );
    server.stop();
}

#[test]
fn a_token_over_its_budget_gets_429_with_retry_after() {
    let Api {
        _tmp, t, server, c, ..
    } = Api::start(false, None);
    for _ in 0..3 {
        assert_eq!(c.get("/api/v1/runs", Some(&t.slow)).status, 200);
    }
    let limited = c.get("/api/v1/runs", Some(&t.slow));
    assert_eq!(
        (limited.status, error_code(&limited)),
        (429, "rate_limited")
    );
    let wait: u64 = limited.retry_after.unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Other tokens keep their own budgets.
    assert_eq!(c.get("/api/v1/runs", Some(&t.blue)).status, 200);
    server.stop();
}

#[test]
fn the_committed_openapi_document_is_the_served_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path(), false);
    let server = serve(&dir, TokenFile::default(), None);
    let served = Client::new(server.addr)
        .get("/api/v1/openapi.json", None)
        .body;
    let path = Path::new(ROOT).join("docs/openapi.json");
    let mut text = serde_json::to_string_pretty(&served).unwrap();
    text.push('\n');
    if std::env::var_os("STELLA_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text, committed,
        "docs/openapi.json is stale; re-run with STELLA_BLESS=1"
    );
    let paths = served["paths"].as_object().unwrap();
    for p in [
        "/api/v1/runs",
        "/api/v1/rechecks",
        "/api/v1/hooks/runtime",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
    server.stop();
}

/// `run --listen 127.0.0.1:0` as a user starts it: the address it prints answers.
#[test]
fn run_listen_serves_the_api_next_to_the_watcher() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path(), false);
    let d = dir.to_str().unwrap();
    let token = read_token(d);
    let stored = std::fs::read_to_string(dir.join("tokens.json")).unwrap();
    assert!(
        !stored.contains(&token),
        "the tokens file keeps only digests"
    );

    let (mut child, c, _stderr) = run_listen(d, &[]);
    assert_eq!(c.get("/healthz", None).status, 200);
    assert_eq!(c.get("/api/v1/runs", None).status, 401);
    // The watcher applied the samples and the workers ran them while the API answered.
    let status = four_runs_completed(&c, &token);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status["runs"]["completed"], 4, "{status}");
}

/// `run --listen 127.0.0.1:0` on `d` with `extra` flags, the API client of the address
/// it printed, and the rest of its stderr once it exits (see [`listening_on`]).
fn run_listen(d: &str, extra: &[&str]) -> (Child, Client, std::thread::JoinHandle<String>) {
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--settle-ms",
            "0",
            "--data-dir",
            d,
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (addr, stderr) = listening_on(&mut child);
    (child, Client::new(addr), stderr)
}

/// `/api/v1/status` once the samples' four runs completed (or after 10 s, for the
/// caller's assertion to show).
fn four_runs_completed(c: &Client, token: &str) -> Value {
    let mut status = Value::Null;
    for _ in 0..100 {
        status = c.get("/api/v1/status", Some(token)).body;
        if status["runs"]["completed"] == 4 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    status
}

/// `run --listen --database-url`: the API answers from PostgreSQL, and SIGINT (how a
/// service manager stops it) ends it at once, with exit 0 and nothing panicking on the
/// way out, though the API's idle stores, each with a runtime of its own, end inside the
/// API's.
#[test]
fn run_listen_on_postgresql_answers_and_stops_on_sigint() {
    let Some(db) =
        pg_support::TestDb::fresh("run_listen_on_postgresql_answers_and_stops_on_sigint")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let url = db.url.as_str();
    let token = read_token(d);
    let bundles = Path::new(ROOT).join("bundles");
    for name in bundle_names(&bundles) {
        let file = bundles.join(name);
        ok(&[
            "ingest",
            "--data-dir",
            d,
            "--database-url",
            url,
            file.to_str().unwrap(),
        ]);
    }
    let (mut child, c, stderr) = run_listen(d, &["--database-url", url]);
    let status = four_runs_completed(&c, &token);
    assert_eq!(status["position"], 4, "{status}");
    assert_eq!(status["runs"]["completed"], 4, "{status}");
    assert_eq!(c.get("/api/v1/runs", Some(&token)).status, 200);
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    // Well before the next rescan (30 s by default), which the loop may be asleep for.
    let exit = exit_within(&mut child, 15, "run after SIGINT");
    let stderr = stderr.join().unwrap();
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A new site-wide token with the read scope, as `tokens add` prints it once.
fn read_token(d: &str) -> String {
    let added = ok(&[
        "tokens",
        "add",
        "--data-dir",
        d,
        "--name",
        "ops",
        "--scope",
        "read",
        "--tenant",
        "*",
        "--json",
    ]);
    let token: Value = serde_json::from_slice(&added.stdout).unwrap();
    token["token"].as_str().unwrap().to_owned()
}

/// The address `run` printed, and a thread that keeps draining its stderr (so the child
/// never blocks on a full pipe) and gives back the rest of it once the child exits.
fn listening_on(child: &mut Child) -> (std::net::SocketAddr, std::thread::JoinHandle<String>) {
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("API listening on http://") {
            let addr = addr.trim().parse().unwrap();
            let rest = std::thread::spawn(move || {
                lines.map_while(Result::ok).collect::<Vec<_>>().join("\n")
            });
            return (addr, rest);
        }
    }
    panic!("run exited without listening");
}

fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac as _};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
