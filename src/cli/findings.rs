//! `findings`: every (artifact, component, vulnerability) finding as of a position.

use std::io::{self, Write};

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::canonical;
use crate::findings::{self, Query};
use crate::matching::Finding;
use crate::model::Digest;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// Only this artifact (sha256:HEX).
    #[arg(long, value_name = "sha256:HEX")]
    artifact: Option<Digest>,
    /// Only this vulnerability (matches its aliases too).
    #[arg(long, value_name = "ID")]
    vuln: Option<String>,
    /// Evaluate the state as it was at this change-log position (default: the latest).
    #[arg(long, value_name = "POSITION")]
    as_of: Option<u64>,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let config = dir.config().map_err(CliError::usage)?;
    let store = dir.open_store().map_err(CliError::usage)?;
    let policy = super::data_dir_args::vex_policy(&config);
    let query = Query {
        as_of: args.as_of,
        artifact: args.artifact,
        vulnerability: args.vuln,
    };
    let snapshot = findings::snapshot(&store, &query, &policy).map_err(CliError::usage)?;
    let found = snapshot.findings(&query);
    if args.json {
        let mut out = io::BufWriter::new(io::stdout().lock());
        let written = write_json(&mut out, snapshot.position, found).and_then(|()| out.flush());
        return written.map_err(CliError::usage);
    }
    output::text(&text(snapshot.position, found))
}

/// Writes `{"findings": [...], "position": N}` exactly as `canonical::to_vec_pretty` would,
/// one finding at a time: the whole report as one value tree took gigabytes at 600,000
/// findings.
fn write_json(
    out: &mut impl Write,
    position: u64,
    findings: impl Iterator<Item = Finding>,
) -> io::Result<()> {
    out.write_all(b"{\n  \"findings\": [")?;
    let mut first = true;
    for finding in findings {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        first = false;
        let bytes = canonical::to_vec_pretty(&finding).map_err(io::Error::other)?;
        // Pretty JSON escapes newlines inside strings: every raw newline is layout.
        for (i, line) in bytes.trim_ascii_end().split(|b| *b == b'\n').enumerate() {
            out.write_all(if i == 0 { b"    " } else { b"\n    " })?;
            out.write_all(line)?;
        }
    }
    out.write_all(if first { b"]" } else { b"\n  ]" })?;
    writeln!(out, ",\n  \"position\": {position}\n}}")
}

fn text(position: u64, findings: impl Iterator<Item = Finding>) -> String {
    let lines: Vec<String> = findings.map(|f| line(&f)).collect();
    let mut out = format!("position {position}: {} findings", lines.len());
    for line in lines {
        out.push('\n');
        out.push_str(&line);
    }
    out
}

fn line(f: &Finding) -> String {
    let fixed = f
        .fixed_in
        .as_deref()
        .map(|v| format!(" (fixed in {v})"))
        .unwrap_or_default();
    format!(
        "{}  {}  {:<20} {}{fixed}",
        f.artifact, f.component, f.status, f.vulnerability
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::findings::Report;

    fn finding(id: &str) -> Finding {
        serde_json::from_value(serde_json::json!({
            "artifact": format!("sha256:{}", "ab".repeat(32)),
            "vulnerability": id,
            "aliases": ["GHSA-xxxx-yyyy-zzzz"],
            "component": "pkg:npm/left-pad@1.2.0",
            "status": "unknown",
            "reason": "a reason\nwith a newline and \"quotes\"",
            "vexConflict": false,
            "evidence": {"advisories": [{
                "id": id, "modified": "2024-01-01T00:00:00Z", "package": "pkg:npm/left-pad",
                "ecosystem": "npm", "verdict": "affected", "fixed": "1.3.0",
                "range": {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]},
                "matchedBy": "purl"
            }], "vex": []}
        }))
        .unwrap()
    }

    #[test]
    fn streamed_json_is_the_canonical_report_byte_for_byte() {
        let cases = [
            vec![],
            vec![finding("A-1")],
            vec![finding("A-1"), finding("B-2")],
        ];
        for findings in cases {
            let report = Report {
                position: 7,
                findings: findings.clone(),
            };
            let expected = canonical::to_vec_pretty(&report).unwrap();
            let mut streamed = Vec::new();
            write_json(&mut streamed, 7, findings.into_iter()).unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
