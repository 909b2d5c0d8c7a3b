//! The kit's metadata members, read and checked against the signed manifest and the key
//! the kit was verified with, before any document is loaded.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;

use super::load::Facts;
use super::{
    is_metadata, kit_feed, member_path, KitDocument, KitHead, KitIndex, KitProblem, INDEX_MEMBER,
    KIT_SCHEMA, SITE_KEY_MEMBER, TRUST_MEMBER,
};
use crate::bundle::keys::{key_id, parse_public_key};
use crate::bundle::manifest::{check_feed_name, parse_time};
use crate::bundle::{BundleId, DocumentEntry, Trust, TrustFile};

/// The kit's metadata, checked against the signed manifest and the key it was
/// verified with.
#[derive(Debug)]
pub(super) struct Kit {
    pub(super) index: KitIndex,
    pub(super) heads: BTreeMap<String, KitHead>,
    /// By member path.
    pub(super) documents: BTreeMap<String, KitDocument>,
    pub(super) trust: TrustFile,
    pub(super) trust_bytes: Vec<u8>,
}

impl Kit {
    /// Reads the three metadata members and checks them, and the index against them.
    pub(super) fn settle(
        facts: &Facts,
        mut metadata: BTreeMap<String, Vec<u8>>,
        exporter: &VerifyingKey,
    ) -> Result<Self, KitProblem> {
        let mut take = |path: &'static str| {
            metadata
                .remove(path)
                .ok_or(KitProblem::MissingMetadata { path })
        };
        let (index, trust_bytes, site_pub) = (
            take(INDEX_MEMBER)?,
            take(TRUST_MEMBER)?,
            take(SITE_KEY_MEMBER)?,
        );
        let index: KitIndex = serde_json::from_slice(&index).map_err(KitProblem::Index)?;
        if index.schema != KIT_SCHEMA {
            let got = index.schema.clone();
            return Err(KitProblem::Schema { got });
        }
        check_manifest(&index, facts)?;
        check_site_key(&index, &site_pub, exporter)?;
        let trust: TrustFile =
            serde_json::from_slice(&trust_bytes).map_err(KitProblem::TrustJson)?;
        Trust::from_file(&trust).map_err(KitProblem::Trust)?;
        let heads = heads(&index.heads)?;
        let documents = documents(&index.documents, &heads)?;
        Ok(Self {
            index,
            heads,
            documents,
            trust,
            trust_bytes,
        })
    }

    /// The index entry of a document member, which must sit where the kit layout puts it.
    pub(super) fn locate(&self, entry: &DocumentEntry) -> Result<&KitDocument, KitProblem> {
        let member = entry.path.as_str();
        if is_metadata(member) {
            let path = member.to_owned();
            return Err(KitProblem::MetadataLate { path });
        }
        let doc = self
            .documents
            .get(member)
            .ok_or_else(|| KitProblem::Unindexed {
                member: member.to_owned(),
            })?;
        let expected = member_path(&doc.feed, entry.kind, &doc.id, &doc.path)
            .map_or_else(|e| format!("no valid path: {e}"), |p| p.to_string());
        if expected != member {
            return Err(KitProblem::Layout {
                member: member.to_owned(),
                kind: entry.kind,
                id: doc.id.clone(),
                feed: doc.feed.clone(),
                expected,
            });
        }
        Ok(doc)
    }

    pub(super) fn feed_of(&self, entry: &DocumentEntry) -> Option<&str> {
        let doc = self.documents.get(entry.path.as_str())?;
        Some(doc.feed.as_str())
    }

    /// The head of a document's feed (reading the index made sure there is one).
    pub(super) fn head(&self, doc: &KitDocument) -> Result<&KitHead, KitProblem> {
        self.heads.get(&doc.feed).ok_or_else(|| KitProblem::NoHead {
            member: doc.member.clone(),
            feed: doc.feed.clone(),
        })
    }
}

/// The index must describe the kit its manifest signs: same site, same position.
fn check_manifest(index: &KitIndex, facts: &Facts) -> Result<(), KitProblem> {
    let expected = kit_feed(&index.site_id);
    if expected != facts.feed {
        return Err(KitProblem::ManifestMismatch {
            field: "siteId",
            indexed: format!("{:?} (feed {expected})", index.site_id),
            manifest: format!("feed {}", facts.feed),
        });
    }
    if index.position != facts.sequence {
        return Err(KitProblem::ManifestMismatch {
            field: "position",
            indexed: index.position.to_string(),
            manifest: format!("sequence {}", facts.sequence),
        });
    }
    Ok(())
}

/// `kit/site.pub` must be the key the kit was verified with, and the index must name it.
fn check_site_key(
    index: &KitIndex,
    site_pub: &[u8],
    exporter: &VerifyingKey,
) -> Result<(), KitProblem> {
    let text = std::str::from_utf8(site_pub).map_err(|_| KitProblem::SiteKeyText)?;
    let key = parse_public_key(text).map_err(|_| KitProblem::SiteKeyText)?;
    let (kit, given) = (key_id(&key), key_id(exporter));
    if kit != given {
        return Err(KitProblem::SiteKeyMismatch { kit, given });
    }
    if index.site_key_id != kit {
        let indexed = index.site_key_id.clone();
        return Err(KitProblem::SiteKeyId {
            indexed,
            actual: kit,
        });
    }
    Ok(())
}

fn heads(list: &[KitHead]) -> Result<BTreeMap<String, KitHead>, KitProblem> {
    let mut heads = BTreeMap::new();
    for head in list {
        let bad = |problem| KitProblem::Head {
            feed: head.feed.clone(),
            problem,
        };
        check_feed_name(&head.feed).map_err(|_| bad("not a valid feed name"))?;
        if head.sequence == 0 {
            return Err(bad("sequence 0"));
        }
        head.bundle_id
            .parse::<BundleId>()
            .map_err(|_| bad("bundleId is not a lowercase hex SHA-256"))?;
        parse_time(&head.created_at).map_err(|_| bad("createdAt is not an RFC 3339 time"))?;
        if heads.insert(head.feed.clone(), head.clone()).is_some() {
            return Err(bad("listed twice"));
        }
    }
    Ok(heads)
}

fn documents(
    list: &[KitDocument],
    heads: &BTreeMap<String, KitHead>,
) -> Result<BTreeMap<String, KitDocument>, KitProblem> {
    let mut documents = BTreeMap::new();
    for doc in list {
        if !heads.contains_key(&doc.feed) {
            let (member, feed) = (doc.member.clone(), doc.feed.clone());
            return Err(KitProblem::NoHead { member, feed });
        }
        if documents.insert(doc.member.clone(), doc.clone()).is_some() {
            let member = doc.member.clone();
            return Err(KitProblem::IndexedTwice { member });
        }
    }
    Ok(documents)
}
