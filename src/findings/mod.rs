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
    /// Matches a finding's vulnerability or any of its aliases.
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
    #[error("stored document {feed}/{id} no longer parses (the store is damaged)")]
    Stored {
        feed: String,
        id: String,
        #[source]
        source: Box<FormatError>,
    },
    #[error("stored document {feed}/{id} has an unknown format {format:?}")]
    StoredFormat {
        feed: String,
        id: String,
        format: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every finding of every artifact (or the asked one) as of the asked position.
pub fn compute(store: &Store, query: &Query, policy: &VexPolicy) -> Result<Report, FindingsError> {
    let last = store.position()?;
    let position = query.as_of.unwrap_or(last);
    if position > last {
        return Err(FindingsError::FutureAsOf {
            asked: position,
            last,
        });
    }
    let advisories = AdvisoryIndex::new(advisories(store, position)?);
    let vex = VexIndex::new(statements(store, position)?);
    let trust = |s: &IssuedStatement| policy.trusts(feed_of(&s.id), &s.issuer);
    let knowledge = Knowledge {
        advisories: &advisories,
        vex: &vex,
        trust: &trust,
    };
    let mut findings = Vec::new();
    for (digest, sbom) in artifacts(store, position, query.artifact.as_ref())? {
        let found = matching::findings(&digest, &sbom.components, knowledge);
        findings.extend(found.into_iter().filter(|f| wanted(f, query)));
    }
    Ok(Report { position, findings })
}

fn wanted(finding: &Finding, query: &Query) -> bool {
    query
        .vulnerability
        .as_ref()
        .is_none_or(|v| finding.vulnerability == *v || finding.aliases.iter().any(|a| a == v))
}

fn parse(doc: &StoredDocument, kind: DocumentKind) -> Result<ParsedDocument, FindingsError> {
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
        let Ok(digest) = doc.doc_id.parse::<Digest>() else {
            continue;
        };
        if only.is_some_and(|o| *o != digest) || out.contains_key(&digest) {
            continue;
        }
        if let ParsedDocument::Sbom(sbom) = parse(&doc, DocumentKind::Sbom)? {
            out.insert(digest, sbom);
        }
    }
    Ok(out)
}
