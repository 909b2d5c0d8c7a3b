//! The findings of the store's state as of a change-log position: documents read as
//! they held then, parsed, indexed, and handed to the pure `matching` room.
//!
//! Which VEX issuers count is configured per feed (`vexIssuers` in config.json): a feed
//! absent from that map trusts every issuer of the documents it carries, since the feed
//! itself is signed by a key the site trusts.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::formats::{self, FormatError, ParsedDocument};
use crate::matching::{self, AdvisoryIndex, Finding, IssuedStatement, Knowledge, VexIndex};
use crate::model::{Digest, DocumentFormat, DocumentKind, Sbom};
use crate::store::{Store, StoreError, StoredDocument};

/// What to compute.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Defaults to the store's latest position.
    pub as_of: Option<u64>,
    pub artifact: Option<Digest>,
    /// Matches a finding's vulnerability or any of its aliases, without regard to case.
    pub vulnerability: Option<String>,
}

/// Per feed, the VEX issuers whose statements count; `*` trusts every issuer.
#[derive(Clone, Debug, Default)]
pub struct VexPolicy {
    pub per_feed: BTreeMap<String, BTreeSet<String>>,
}

impl VexPolicy {
    fn trusts(&self, feed: &str, issuer: &str) -> bool {
        match self.per_feed.get(feed) {
            None => true,
            Some(allowed) => allowed.contains("*") || allowed.contains(issuer),
        }
    }
}

/// The findings as of one position.
#[derive(Debug, Serialize)]
pub struct Report {
    pub position: u64,
    pub findings: Vec<Finding>,
}

#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    #[error("position {asked} is past the change log's last position {last}")]
    FutureAsOf { asked: u64, last: u64 },
    #[error("no SBOM describes artifact {artifact} as of position {position}")]
    UnknownArtifact { artifact: Digest, position: u64 },
    #[error("stored document {feed}/{id} no longer parses (the store is damaged)")]
    Stored {
        feed: String,
        id: String,
        #[source]
        source: Box<FormatError>,
    },
    #[error("stored sbom {feed}/{id} is not keyed by an artifact digest (the store is damaged)")]
    StoredId { feed: String, id: String },
    #[error("stored document {feed}/{id} has an unknown format {format:?}")]
    StoredFormat {
        feed: String,
        id: String,
        format: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The state as of a position, read, parsed and indexed: what matching runs against.
#[derive(Debug)]
pub struct Snapshot {
    pub position: u64,
    artifacts: BTreeMap<Digest, Sbom>,
    advisories: AdvisoryIndex,
    vex: VexIndex,
    policy: VexPolicy,
}

/// Reads the state `query` asks for: its position, and its artifact if it names one.
pub fn snapshot(
    store: &Store,
    query: &Query,
    policy: &VexPolicy,
) -> Result<Snapshot, FindingsError> {
    let position = position(store, query)?;
    let artifacts = artifacts(store, position, query.artifact.as_ref())?;
    if let Some(artifact) = query.artifact.as_ref().filter(|_| artifacts.is_empty()) {
        return Err(FindingsError::UnknownArtifact {
            artifact: artifact.clone(),
            position,
        });
    }
    Ok(Snapshot {
        position,
        artifacts,
        advisories: AdvisoryIndex::new(advisories(store, position)?),
        vex: VexIndex::new(statements(store, position)?),
        policy: policy.clone(),
    })
}

/// The advisories and VEX statements holding at `position`, without any artifact: what
/// a job keeps between artifacts of the same run, then asks [`Snapshot::artifact`].
pub fn knowledge_at(
    store: &Store,
    position: u64,
    policy: &VexPolicy,
) -> Result<Snapshot, FindingsError> {
    let position = self::position(
        store,
        &Query {
            as_of: Some(position),
            ..Query::default()
        },
    )?;
    Ok(Snapshot {
        position,
        artifacts: BTreeMap::new(),
        advisories: AdvisoryIndex::new(advisories(store, position)?),
        vex: VexIndex::new(statements(store, position)?),
        policy: policy.clone(),
    })
}

impl Snapshot {
    /// The findings of one artifact as of this snapshot's position, its SBOM read from
    /// `store`; none when no SBOM describes it then (it was withdrawn, or never came).
    pub fn artifact(
        &self,
        store: &Store,
        artifact: &Digest,
    ) -> Result<Vec<Finding>, FindingsError> {
        let Some(doc) = store.sbom_as_of(artifact.as_str(), self.position)? else {
            return Ok(Vec::new());
        };
        let ParsedDocument::Sbom(sbom) = parse(&doc, DocumentKind::Sbom)? else {
            return Ok(Vec::new());
        };
        let trust = |s: &IssuedStatement| self.policy.trusts(feed_of(&s.id), &s.issuer);
        let knowledge = Knowledge {
            advisories: &self.advisories,
            vex: &self.vex,
            trust: &trust,
        };
        Ok(matching::findings(artifact, &sbom.components, knowledge))
    }

    /// The findings `query` asks for, sorted by artifact digest, then component, then
    /// vulnerability. Each artifact is matched when the iterator reaches it, so a caller
    /// that writes findings as they come never holds them all.
    pub fn findings<'a>(&'a self, query: &'a Query) -> impl Iterator<Item = Finding> + 'a {
        self.artifacts.iter().flat_map(move |(digest, sbom)| {
            let trust = |s: &IssuedStatement| self.policy.trusts(feed_of(&s.id), &s.issuer);
            let knowledge = Knowledge {
                advisories: &self.advisories,
                vex: &self.vex,
                trust: &trust,
            };
            let found = matching::findings(digest, &sbom.components, knowledge);
            found.into_iter().filter(move |f| wanted(f, query))
        })
    }
}

/// The asked position (default: the latest), refused when past the change log.
fn position(store: &Store, query: &Query) -> Result<u64, FindingsError> {
    let last = store.position()?;
    match query.as_of {
        Some(asked) if asked > last => Err(FindingsError::FutureAsOf { asked, last }),
        Some(asked) => Ok(asked),
        None => Ok(last),
    }
}

/// Ids compare without case, as matching merges them.
fn wanted(finding: &Finding, query: &Query) -> bool {
    let Some(asked) = &query.vulnerability else {
        return true;
    };
    let mut names = std::iter::once(&finding.vulnerability).chain(&finding.aliases);
    names.any(|id| id.eq_ignore_ascii_case(asked))
}

/// Parses a stored document, whose format and bytes ingest already checked; failing
/// here means the store was damaged.
pub(crate) fn parse(
    doc: &StoredDocument,
    kind: DocumentKind,
) -> Result<ParsedDocument, FindingsError> {
    let format: DocumentFormat = doc
        .format
        .parse()
        .map_err(|_| FindingsError::StoredFormat {
            feed: doc.feed.clone(),
            id: doc.doc_id.clone(),
            format: doc.format.clone(),
        })?;
    formats::parse(&doc.path, kind, format, &doc.bytes).map_err(|e| FindingsError::Stored {
        feed: doc.feed.clone(),
        id: doc.doc_id.clone(),
        source: Box::new(e),
    })
}

fn advisories(store: &Store, position: u64) -> Result<Vec<crate::model::Advisory>, FindingsError> {
    let docs = store.documents_as_of(DocumentKind::Advisory, position)?;
    let mut out = Vec::with_capacity(docs.len());
    for doc in &docs {
        if let ParsedDocument::Advisory(a) = parse(doc, DocumentKind::Advisory)? {
            out.push(a);
        }
    }
    Ok(out)
}

/// Statement ids are `FEED/DOC_ID#INDEX`; a feed name never holds a `/`.
fn statements(store: &Store, position: u64) -> Result<Vec<IssuedStatement>, FindingsError> {
    let mut out = Vec::new();
    for doc in store.documents_as_of(DocumentKind::Vex, position)? {
        let ParsedDocument::Vex(vex) = parse(&doc, DocumentKind::Vex)? else {
            continue;
        };
        let issuer = vex.author.clone().unwrap_or_else(|| doc.feed.clone());
        for (i, statement) in vex.statements.into_iter().enumerate() {
            let id = format!("{}/{}#{i}", doc.feed, doc.doc_id);
            out.push(IssuedStatement {
                id,
                issuer: issuer.clone(),
                statement,
            });
        }
    }
    Ok(out)
}

fn feed_of(statement_id: &str) -> &str {
    statement_id.split('/').next().unwrap_or(statement_id)
}

/// The SBOMs holding at `position`, keyed (and so ordered) by artifact digest. When two
/// feeds describe the same artifact, the first feed in name order wins.
fn artifacts(
    store: &Store,
    position: u64,
    only: Option<&Digest>,
) -> Result<BTreeMap<Digest, Sbom>, FindingsError> {
    let mut out = BTreeMap::new();
    for doc in store.documents_as_of(DocumentKind::Sbom, position)? {
        // Ingest stores an SBOM under its subject digest; anything else is damage, and
        // skipping it would hide an artifact's findings.
        let digest: Digest = doc.doc_id.parse().map_err(|_| FindingsError::StoredId {
            feed: doc.feed.clone(),
            id: doc.doc_id.clone(),
        })?;
        if only.is_some_and(|o| *o != digest) || out.contains_key(&digest) {
            continue;
        }
        if let ParsedDocument::Sbom(sbom) = parse(&doc, DocumentKind::Sbom)? {
            out.insert(digest, sbom);
        }
    }
    Ok(out)
}
