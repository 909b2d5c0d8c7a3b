//! `bundle create`: classify documents, sign a manifest, write a deterministic bundle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::output::{self, CliError};
use crate::bundle::manifest::parse_time;
use crate::bundle::{
    keys, write_bundle, BundleId, BundleSpec, MemberPath, Mode, NewDocument, Withdrawal,
};
use crate::formats;
use crate::model::{DocumentKind, Subject};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    feed: String,
    #[arg(long)]
    sequence: u64,
    /// Private key (PKCS#8 PEM) to sign with; repeat for several signatures.
    #[arg(long = "key", required = true, value_name = "NAME.key")]
    keys: Vec<PathBuf>,
    /// Bundle id of this feed's previous bundle (required for a delta after sequence 1).
    #[arg(long, value_name = "BUNDLE_ID")]
    previous: Option<String>,
    #[arg(long, value_enum, default_value = "delta")]
    mode: ModeArg,
    /// createdAt (RFC 3339); defaults to SOURCE_DATE_EPOCH when set, else now.
    #[arg(long, value_name = "RFC3339")]
    created: Option<String>,
    /// expiresAt (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    expires: Option<String>,
    /// Subject of an SBOM: PATH=NAME@sha256:HEX (PATH as given, or its member path).
    #[arg(long = "subject", value_name = "PATH=NAME@sha256:HEX")]
    subjects: Vec<String>,
    /// Withdraw a document from the feed: KIND:ID (delta only).
    #[arg(long = "withdraw", value_name = "KIND:ID")]
    withdrawals: Vec<String>,
    /// Where to write the bundle.
    #[arg(long, value_name = "OUT.tar.zst")]
    out: PathBuf,
    #[arg(long)]
    json: bool,
    /// Document files, or folders walked in sorted order.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Delta,
    Snapshot,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created<'a> {
    bundle_id: &'a BundleId,
    out: String,
    feed: &'a str,
    sequence: u64,
    mode: Mode,
    documents: usize,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let signing: Vec<_> = args
        .keys
        .iter()
        .map(|p| keys::read_signing_key(p))
        .collect::<Result<_, _>>()
        .map_err(CliError::usage)?;
    let spec = spec(&args).map_err(CliError::usage)?;
    let inputs = collect_inputs(&args.paths).map_err(CliError::usage)?;
    let subjects = parse_subjects(&args.subjects).map_err(CliError::usage)?;
    let docs = classify_all(inputs, &subjects).map_err(CliError::refused)?;
    let count = docs.len();
    let written = write_bundle(spec, docs, &signing, &args.out).map_err(CliError::refused)?;
    let m = &written.manifest;
    if args.json {
        return output::json_pretty(&Created {
            bundle_id: &written.id,
            out: args.out.display().to_string(),
            feed: &m.feed,
            sequence: m.sequence,
            mode: m.mode,
            documents: count,
        });
    }
    output::text(&format!(
        "wrote {}: bundle {} (feed {} sequence {}, {count} documents)",
        args.out.display(),
        written.id,
        m.feed,
        m.sequence
    ))
}

fn spec(args: &Args) -> anyhow::Result<BundleSpec> {
    let previous = args
        .previous
        .as_deref()
        .map(|p| p.parse::<BundleId>())
        .transpose()
        .context("--previous must be a lowercase hex SHA-256 bundle id")?;
    let created_at = match &args.created {
        Some(t) => canonical_time("--created", t)?,
        None => default_created()?,
    };
    let expires_at = args
        .expires
        .as_deref()
        .map(|t| canonical_time("--expires", t))
        .transpose()?;
    let withdrawn = args
        .withdrawals
        .iter()
        .map(|w| parse_withdrawal(w))
        .collect::<Result<_, _>>()?;
    Ok(BundleSpec {
        feed: args.feed.clone(),
        sequence: args.sequence,
        previous,
        mode: match args.mode {
            ModeArg::Delta => Mode::Delta,
            ModeArg::Snapshot => Mode::Snapshot,
        },
        created_at,
        expires_at,
        withdrawn,
    })
}

/// Normalizes an RFC 3339 time to UTC with a `Z`, so equal instants give equal bytes.
fn canonical_time(flag: &str, text: &str) -> anyhow::Result<String> {
    let t = parse_time(text).with_context(|| format!("{flag} {text:?} is not an RFC 3339 time"))?;
    Ok(t.to_offset(UtcOffset::UTC).format(&Rfc3339)?)
}

fn default_created() -> anyhow::Result<String> {
    let now = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => {
            let secs: i64 = s
                .trim()
                .parse()
                .context("SOURCE_DATE_EPOCH is not an integer")?;
            OffsetDateTime::from_unix_timestamp(secs)
                .context("SOURCE_DATE_EPOCH is out of range")?
        }
        Err(_) => OffsetDateTime::now_utc().replace_nanosecond(0)?,
    };
    Ok(now.format(&Rfc3339)?)
}

fn parse_withdrawal(text: &str) -> anyhow::Result<Withdrawal> {
    let (kind, id) = text
        .split_once(':')
        .ok_or_else(|| anyhow!("--withdraw {text:?} must be KIND:ID"))?;
    let kind: DocumentKind = kind
        .parse()
        .map_err(|e: String| anyhow!("--withdraw {text:?}: {e}"))?;
    Ok(Withdrawal {
        kind,
        id: id.to_owned(),
    })
}

/// One input file: where it is, and the name it gets under its kind's folder.
#[derive(Debug)]
struct Input {
    given: PathBuf,
    relative: String,
}

fn collect_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    if paths.is_empty() {
        bail!("no documents given: pass files or folders");
    }
    let mut inputs = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            walk(path, path, &mut inputs)?;
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            inputs.push(Input {
                given: path.clone(),
                relative: name,
            });
        }
    }
    Ok(inputs)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Input>) -> anyhow::Result<()> {
    let mut children: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    children.sort();
    for child in children {
        let name = child
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if child.is_dir() {
            walk(root, &child, out)?;
        } else {
            let relative = child
                .strip_prefix(root)
                .unwrap_or(&child)
                .to_string_lossy()
                .into_owned();
            out.push(Input {
                given: child,
                relative,
            });
        }
    }
    Ok(())
}

fn parse_subjects(flags: &[String]) -> anyhow::Result<BTreeMap<String, Subject>> {
    flags
        .iter()
        .map(|flag| {
            let bad = || anyhow!("--subject {flag:?} must be PATH=NAME@sha256:HEX");
            let (path, rest) = flag.split_once('=').ok_or_else(bad)?;
            let (name, digest) = rest.rsplit_once("@sha256:").ok_or_else(bad)?;
            let digest = format!("sha256:{digest}")
                .parse()
                .context("--subject digest")?;
            Ok((
                path.to_owned(),
                Subject {
                    name: name.to_owned(),
                    digest,
                },
            ))
        })
        .collect()
}

fn classify_all(
    inputs: Vec<Input>,
    subjects: &BTreeMap<String, Subject>,
) -> anyhow::Result<Vec<NewDocument>> {
    let mut docs = Vec::with_capacity(inputs.len());
    let mut used = std::collections::BTreeSet::new();
    for input in inputs {
        let doc = classify_one(input, subjects, &mut used)?;
        docs.push(doc);
    }
    let unused: Vec<&String> = subjects.keys().filter(|k| !used.contains(*k)).collect();
    if !unused.is_empty() {
        bail!("--subject names documents that were not given: {unused:?}");
    }
    Ok(docs)
}

fn classify_one(
    input: Input,
    subjects: &BTreeMap<String, Subject>,
    used: &mut std::collections::BTreeSet<String>,
) -> anyhow::Result<NewDocument> {
    let shown = input.given.display().to_string();
    let bytes = std::fs::read(&input.given).with_context(|| format!("cannot read {shown}"))?;
    let found = formats::classify(&shown, &bytes)?;
    let folder = match found.kind {
        DocumentKind::Advisory => "advisories",
        DocumentKind::Vex => "vex",
        DocumentKind::Sbom => "sbom",
        // classify only recognizes feed documents.
        other => bail!("{shown} is a {other} document, which sites write, not feeds"),
    };
    let member = format!("{folder}/{}", input.relative);
    let path = MemberPath::parse(member.as_bytes())
        .with_context(|| format!("{shown} cannot be named {member:?} in a bundle"))?;
    let key = [&shown, &member]
        .into_iter()
        .find(|k| subjects.contains_key(*k));
    let subject = match key {
        Some(k) => {
            used.insert(k.clone());
            subjects.get(k).cloned()
        }
        None => found.subject,
    };
    if found.kind == DocumentKind::Sbom && subject.is_none() {
        bail!("{shown}: SBOM names no artifact digest; pass --subject {shown}=NAME@sha256:HEX");
    }
    if found.kind != DocumentKind::Sbom && key.is_some() {
        bail!(
            "{shown}: --subject given for a {} document; only SBOMs have subjects",
            found.kind
        );
    }
    Ok(NewDocument {
        path,
        kind: found.kind,
        format: found.format,
        subject,
        source: Box::new(input.given),
    })
}
