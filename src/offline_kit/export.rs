//! `offline-kit export`: the store read at one position, written as one signed kit.
//!
//! Everything comes from that position: the documents holding then, each feed's head
//! then, and `createdAt`, the latest `createdAt` of the head bundles. With the bundle
//! writer's fixed tar metadata and Ed25519's deterministic signatures, exporting the same
//! state twice gives the same bytes. Reading at a position also keeps the kit whole while
//! a `run` watcher applies bundles: what arrives later is simply not in it.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::{
    kit_feed, member_path, ExportError, KitDocument, KitHead, KitIndex, INDEX_MEMBER, KIT_SCHEMA,
    SITE_KEY_MEMBER, TRUST_MEMBER,
};
use crate::bundle::keys::{self, key_id, public_key_text};
use crate::bundle::manifest::parse_time;
use crate::bundle::{
    write_bundle, BundleId, BundleSpec, InMemory, MemberPath, Mode, NewDocument, Trust, TrustError,
};
use crate::ingest::DataDir;
use crate::model::{Digest, DocumentFormat, DocumentKind, Subject};
use crate::store::kit::HeadAsOf;
use crate::store::{DocumentCounts, StoredDocument};

/// What `export` wrote.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    pub bundle_id: BundleId,
    pub out: String,
    pub feed: String,
    /// The exporting store's position, which the kit carries as its sequence.
    pub sequence: u64,
    pub created_at: String,
    pub heads: Vec<KitHead>,
    pub documents: DocumentCounts,
}

/// The kit's members before they are written, with what the index says of them.
struct Contents {
    members: Vec<NewDocument>,
    index: Vec<KitDocument>,
    counts: DocumentCounts,
}

/// Writes the kit of `dir`'s current state to `out` (atomically), signed by the site key.
pub fn export(dir: &DataDir, out: &Path) -> Result<Exported, ExportError> {
    let config = dir.config()?;
    let key = site_key(&dir.site_key())?;
    let trust = trust_bytes(&dir.trust_path(&config, None))?;
    let store = dir.open_store()?;
    let position = store.position()?;
    if position == 0 {
        let path = dir.root().to_owned();
        return Err(ExportError::Empty { path });
    }
    let heads = store.heads_as_of(position)?;
    let created_at = latest_created_at(&heads)?;
    let mut contents = Contents {
        members: Vec::new(),
        index: Vec::new(),
        counts: DocumentCounts::default(),
    };
    for kind in DocumentKind::ALL {
        for stored in store.documents_as_of(kind, position)? {
            contents.add(kind, stored)?;
        }
    }
    drop(store);
    let heads: Vec<KitHead> = heads.into_iter().map(kit_head).collect();
    contents.index.sort_by(|a, b| a.member.cmp(&b.member));
    let index = KitIndex {
        schema: KIT_SCHEMA.to_owned(),
        site_id: config.site_id.clone(),
        site_key_id: key_id(&key.verifying_key()),
        position,
        heads: heads.clone(),
        documents: contents.index,
    };
    let site_pub = format!("{}\n", public_key_text(&key.verifying_key()));
    let mut members = contents.members;
    members.push(metadata(INDEX_MEMBER, index_bytes(&index)));
    members.push(metadata(TRUST_MEMBER, trust));
    members.push(metadata(SITE_KEY_MEMBER, site_pub.into_bytes()));
    let spec = BundleSpec {
        feed: kit_feed(&config.site_id),
        sequence: position,
        previous: None,
        mode: Mode::Snapshot,
        created_at: created_at.clone(),
        expires_at: None,
        withdrawn: Vec::new(),
    };
    let written = write_bundle(spec, members, &[key], out).map_err(ExportError::Write)?;
    Ok(Exported {
        bundle_id: written.id,
        out: out.display().to_string(),
        feed: written.manifest.feed,
        sequence: position,
        created_at,
        heads,
        documents: contents.counts,
    })
}

impl Contents {
    /// Adds one stored document as a kit member, under the path the kit layout gives it.
    fn add(&mut self, kind: DocumentKind, stored: StoredDocument) -> Result<(), ExportError> {
        let StoredDocument {
            feed,
            doc_id,
            format,
            path,
            subject_name,
            bytes,
        } = stored;
        let problem = |problem: String| ExportError::Stored {
            feed: feed.clone(),
            kind,
            id: doc_id.clone(),
            problem,
        };
        let format: DocumentFormat = format.parse().map_err(problem)?;
        let subject = match kind {
            DocumentKind::Sbom => Some(sbom_subject(&doc_id, subject_name).map_err(problem)?),
            _ => None,
        };
        let member = member_path(&feed, kind, &doc_id, &path)
            .map_err(|e| problem(format!("has no valid kit member path: {e}")))?;
        *count(&mut self.counts, kind) += 1;
        self.index.push(KitDocument {
            member: member.to_string(),
            feed: feed.clone(),
            id: doc_id.clone(),
            path,
        });
        self.members.push(NewDocument {
            path: member,
            kind,
            format,
            subject,
            source: Box::new(InMemory {
                name: format!("{feed} {kind} {doc_id}"),
                bytes,
            }),
        });
        Ok(())
    }
}

/// An SBOM's subject as its bundle declared it: the digest it is stored under, the name
/// beside it.
fn sbom_subject(doc_id: &str, name: Option<String>) -> Result<Subject, String> {
    let name = name.ok_or("an sbom without a subject name")?;
    let digest: Digest = doc_id.parse().map_err(|e| format!("{e}"))?;
    Ok(Subject { name, digest })
}

fn count(counts: &mut DocumentCounts, kind: DocumentKind) -> &mut u64 {
    match kind {
        DocumentKind::Vex => &mut counts.vex,
        DocumentKind::Sbom => &mut counts.sbom,
        _ => &mut counts.advisory,
    }
}

fn site_key(path: &Path) -> Result<SigningKey, ExportError> {
    keys::read_signing_key(path).map_err(|source| ExportError::SiteKey {
        path: path.to_owned(),
        source,
    })
}

/// The trust file's bytes as they are, once they passed the same checks a verifier
/// applies: a kit never carries a trust file the importing site would refuse.
fn trust_bytes(path: &Path) -> Result<Vec<u8>, ExportError> {
    Trust::load(path).map_err(ExportError::Trust)?;
    std::fs::read(path).map_err(|source| {
        ExportError::Trust(TrustError::Read {
            path: PathBuf::from(path),
            source,
        })
    })
}

/// The latest `createdAt` of the head bundles, in UTC with a `Z`. `heads` is never
/// empty: a store past position 0 has a head.
fn latest_created_at(heads: &[HeadAsOf]) -> Result<String, ExportError> {
    let mut latest: Option<(OffsetDateTime, String)> = None;
    for head in heads {
        let bad = || ExportError::HeadTime {
            feed: head.feed.clone(),
            got: head.created_at.clone(),
        };
        let utc = parse_time(&head.created_at)
            .ok()
            .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
            .ok_or_else(bad)?;
        let text = utc.format(&Rfc3339).map_err(|_| bad())?;
        if latest.as_ref().is_none_or(|(l, _)| utc > *l) {
            latest = Some((utc, text));
        }
    }
    Ok(latest.map_or_else(|| "1970-01-01T00:00:00Z".to_owned(), |(_, text)| text))
}

fn kit_head(head: HeadAsOf) -> KitHead {
    KitHead {
        feed: head.feed,
        sequence: head.sequence,
        bundle_id: head.bundle_id,
        created_at: head.created_at,
    }
}

fn index_bytes(index: &KitIndex) -> Vec<u8> {
    crate::canonical::to_vec_pretty(index).expect("the kit index serializes")
}

fn metadata(path: &'static str, bytes: Vec<u8>) -> NewDocument {
    NewDocument {
        path: MemberPath::parse(path.as_bytes()).expect("metadata paths are valid"),
        kind: DocumentKind::Kit,
        format: DocumentFormat::StellaKit,
        subject: None,
        source: Box::new(InMemory {
            name: path.to_owned(),
            bytes,
        }),
    }
}
