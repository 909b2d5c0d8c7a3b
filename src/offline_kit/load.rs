//! Verify and load: the kit goes through the one bundle verifier on its own thread, where
//! signatures are settled before the manifest is parsed and each member is handed over
//! only after its digest matched. This thread checks the metadata against the signed
//! manifest (`metadata.rs`), parses each document, compares its id with the
//! index's, and writes each feed's documents as one snapshot change-log entry carrying
//! the feed's head sequence and bundle id, through the same store calls ingest uses.

use std::collections::{BTreeMap, BTreeSet};
use std::iter::Peekable;
use std::path::Path;
use std::sync::mpsc::{self, IntoIter, SyncSender};

use ed25519_dalek::VerifyingKey;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::import::ImportedFeed;
use super::metadata::Kit;
use super::{is_metadata, ImportError, KitDocument, KitHead, KitProblem};
use super::{INDEX_MEMBER, SITE_KEY_MEMBER, TRUST_MEMBER};
use crate::bundle::keys::key_id;
use crate::bundle::{
    BundleId, DocumentEntry, Limits, Manifest, MemberSink, Mode, Trust, TrustFile, Verifier,
};
use crate::formats::{self, ParsedDocument};
use crate::model::DocumentKind;
use crate::store::{
    ApplyHeader, ApplyTx, DocumentCounts, NewVersion, PutOutcome, Store, StoreError,
};

/// Members in flight between the verifier and this thread (each at most one member
/// limit in size).
const QUEUE: usize = 8;
const METADATA: [&str; 3] = [INDEX_MEMBER, TRUST_MEMBER, SITE_KEY_MEMBER];

/// What the verifier thread hands over: the authenticated manifest's facts first, then
/// each member whose digest matched.
enum Message {
    Manifest(Facts),
    Member(DocumentEntry, Vec<u8>),
}

type Messages = Peekable<IntoIter<Message>>;

/// What the authenticated manifest says of the kit.
#[derive(Clone, Debug)]
pub(super) struct Facts {
    pub(super) bundle_id: BundleId,
    pub(super) feed: String,
    pub(super) sequence: u64,
    pub(super) mode: Mode,
}

/// The verifier thread's end.
struct Forward {
    to: SyncSender<Message>,
    open: bool,
}

impl MemberSink for Forward {
    fn on_manifest(&mut self, manifest: &Manifest, id: &BundleId) {
        let facts = Facts {
            bundle_id: id.clone(),
            feed: manifest.feed.clone(),
            sequence: manifest.sequence,
            mode: manifest.mode,
        };
        self.open = self.to.send(Message::Manifest(facts)).is_ok();
    }

    fn wants_bytes(&self) -> bool {
        self.open
    }

    fn accept(
        &mut self,
        entry: &DocumentEntry,
        bytes: Vec<u8>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.to
            .send(Message::Member(entry.clone(), bytes))
            .map_err(|_| "the import stopped reading the kit".into())
    }
}

/// Why loading stopped: the kit's content, or the store (the environment).
enum Fault {
    Kit(KitProblem),
    Store(StoreError),
}

impl From<KitProblem> for Fault {
    fn from(p: KitProblem) -> Self {
        Self::Kit(p)
    }
}

impl From<StoreError> for Fault {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A verified kit, loaded into the scratch store.
pub(super) struct Built {
    pub(super) bundle_id: BundleId,
    pub(super) kit: Kit,
    pub(super) feeds: Vec<ImportedFeed>,
    pub(super) counts: DocumentCounts,
}

/// What the loading thread got through before the stream ended.
#[derive(Default)]
struct Loaded {
    facts: Option<Facts>,
    metadata: BTreeMap<String, Vec<u8>>,
    kit: Option<Kit>,
    feeds: BTreeMap<String, ImportedFeed>,
    carried: BTreeSet<String>,
    counts: DocumentCounts,
}

/// Verifies the kit and loads it into the store file `db`.
pub(super) fn build(
    kit_file: &Path,
    exporter: &VerifyingKey,
    limits: Limits,
    db: &Path,
) -> Result<Built, ImportError> {
    let trust = exporter_trust(exporter);
    let verifier = Verifier::new(&trust, limits);
    let mut store = Store::open(db)?;
    let source = kit_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let loader = Loader {
        exporter,
        source: &source,
        applied_at: now_text(),
    };
    let refused = |problem| ImportError::Kit {
        file: kit_file.to_owned(),
        source: Box::new(problem),
    };
    let (loaded, report) = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let verifying = scope.spawn(move || {
            let mut sink = Forward {
                to: tx,
                open: false,
            };
            verifier.verify(kit_file, &mut sink)
        });
        // `rx` is dropped when loading stops, which stops the verifier too.
        let loaded = loader.load(&mut store, rx.into_iter().peekable());
        let report = verifying
            .join()
            .expect("the verifier thread does not panic");
        (loaded, report)
    });
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(Fault::Kit(problem)) => return Err(refused(problem)),
        Err(Fault::Store(e)) => return Err(ImportError::Store(e)),
    };
    if let Some(source) = report.error {
        let file = kit_file.to_owned();
        let keyid = key_id(exporter);
        return Err(ImportError::Verify {
            file,
            keyid,
            source: Box::new(source),
        });
    }
    match loader.finish(&mut store, loaded) {
        Ok(built) => Ok(built),
        Err(Fault::Kit(problem)) => Err(refused(problem)),
        Err(Fault::Store(e)) => Err(ImportError::Store(e)),
    }
}

/// One key, allowed for every feed: the kit is checked against nothing else.
fn exporter_trust(key: &VerifyingKey) -> Trust {
    let mut file = TrustFile::empty();
    file.upsert(key, &["*".to_owned()], None);
    Trust::from_file(&file).expect("one key allowed for every feed is a valid trust file")
}

fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("now formats as RFC 3339")
}

/// Loads members into the scratch store as they arrive.
struct Loader<'a> {
    exporter: &'a VerifyingKey,
    source: &'a str,
    /// The only wall-clock value the store keeps.
    applied_at: String,
}

impl Loader<'_> {
    /// Metadata first, then the documents feed by feed. Checks that need the whole kit
    /// wait for [`Loader::finish`], since the stream also ends when verification fails.
    fn load(&self, store: &mut Store, mut messages: Messages) -> Result<Loaded, Fault> {
        let mut loaded = Loaded::default();
        let Some(Message::Manifest(facts)) = messages.next() else {
            return Ok(loaded);
        };
        check_facts(&facts)?;
        while let Some(Message::Member(entry, bytes)) = messages.next_if(is_metadata_message) {
            take_metadata(&mut loaded.metadata, &entry, bytes)?;
        }
        if messages.peek().is_none() {
            loaded.facts = Some(facts);
            return Ok(loaded);
        }
        let metadata = std::mem::take(&mut loaded.metadata);
        let kit = Kit::settle(&facts, metadata, self.exporter)?;
        loaded.facts = Some(facts);
        while let Some(message) = messages.next() {
            let Message::Member(entry, bytes) = message else {
                continue;
            };
            self.load_feed(store, &kit, &mut loaded, (entry, bytes), &mut messages)?;
        }
        loaded.kit = Some(kit);
        Ok(loaded)
    }

    /// One feed's documents, from `first` on while the members stay in its feed, as
    /// one change-log entry.
    fn load_feed(
        &self,
        store: &mut Store,
        kit: &Kit,
        loaded: &mut Loaded,
        first: (DocumentEntry, Vec<u8>),
        messages: &mut Messages,
    ) -> Result<(), Fault> {
        let doc = kit.locate(&first.0)?;
        let feed = doc.feed.clone();
        if loaded.feeds.contains_key(&feed) {
            let member = first.0.path.to_string();
            return Err(KitProblem::Scattered { feed, member }.into());
        }
        let head = kit.head(doc)?;
        let mut tx = store.begin_apply(self.header(head))?;
        store_document(&mut tx, doc, first, &mut loaded.counts)?;
        loaded.carried.insert(doc.member.clone());
        let same_feed = |m: &Message| match m {
            Message::Member(entry, _) => kit.feed_of(entry) == Some(feed.as_str()),
            Message::Manifest(_) => false,
        };
        while let Some(Message::Member(entry, bytes)) = messages.next_if(same_feed) {
            let doc = kit.locate(&entry)?;
            store_document(&mut tx, doc, (entry, bytes), &mut loaded.counts)?;
            loaded.carried.insert(doc.member.clone());
        }
        let position = tx.commit()?;
        loaded.feeds.insert(feed, imported_feed(head, position));
        Ok(())
    }

    /// After verification succeeded: the checks over the whole kit, and an entry for
    /// each feed that has a head but no document.
    fn finish(&self, store: &mut Store, mut loaded: Loaded) -> Result<Built, Fault> {
        let facts = loaded
            .facts
            .take()
            .expect("a verified kit has passed the manifest hook");
        let kit = match loaded.kit.take() {
            Some(kit) => kit,
            None => Kit::settle(&facts, std::mem::take(&mut loaded.metadata), self.exporter)?,
        };
        if let Some(member) = kit.documents.keys().find(|m| !loaded.carried.contains(*m)) {
            let member = member.clone();
            return Err(KitProblem::NotCarried { member }.into());
        }
        for head in kit.heads.values() {
            if !loaded.feeds.contains_key(&head.feed) {
                let position = store.begin_apply(self.header(head))?.commit()?;
                loaded
                    .feeds
                    .insert(head.feed.clone(), imported_feed(head, position));
            }
        }
        Ok(Built {
            bundle_id: facts.bundle_id,
            kit,
            feeds: loaded.feeds.into_values().collect(),
            counts: loaded.counts,
        })
    }

    /// The change-log entry of one feed: a snapshot that stands where the feed's head
    /// stood, so that its next delta chains on.
    fn header(&self, head: &KitHead) -> ApplyHeader {
        ApplyHeader {
            feed: head.feed.clone(),
            sequence: head.sequence,
            bundle_id: head.bundle_id.clone(),
            snapshot: true,
            created_at: head.created_at.clone(),
            applied_at: self.applied_at.clone(),
            source_file: self.source.to_owned(),
            expired_accepted: false,
        }
    }
}

fn imported_feed(head: &KitHead, position: u64) -> ImportedFeed {
    ImportedFeed {
        feed: head.feed.clone(),
        sequence: head.sequence,
        bundle_id: head.bundle_id.clone(),
        position,
    }
}

fn is_metadata_message(message: &Message) -> bool {
    matches!(message, Message::Member(entry, _) if is_metadata(entry.path.as_str()))
}

fn check_facts(facts: &Facts) -> Result<(), KitProblem> {
    if facts.mode == Mode::Snapshot && facts.feed.ends_with(".kit") {
        return Ok(());
    }
    Err(KitProblem::NotAKit {
        feed: facts.feed.clone(),
        mode: facts.mode,
    })
}

fn take_metadata(
    metadata: &mut BTreeMap<String, Vec<u8>>,
    entry: &DocumentEntry,
    bytes: Vec<u8>,
) -> Result<(), KitProblem> {
    let path = entry.path.as_str();
    if entry.kind != DocumentKind::Kit || !METADATA.contains(&path) {
        let path = path.to_owned();
        return Err(KitProblem::UnknownMetadata { path });
    }
    metadata.insert(path.to_owned(), bytes);
    Ok(())
}

/// Parses one document, checks it is what the index says, and writes it.
fn store_document(
    tx: &mut ApplyTx<'_>,
    doc: &KitDocument,
    (entry, bytes): (DocumentEntry, Vec<u8>),
    counts: &mut DocumentCounts,
) -> Result<(), Fault> {
    let member = entry.path.to_string();
    let parse_err = |source| KitProblem::Parse {
        member: member.clone(),
        source: Box::new(source),
    };
    // The stored path is what later readers parse by, so it names the document here.
    let parsed = formats::parse(&doc.path, entry.kind, entry.format, &bytes).map_err(parse_err)?;
    let id = match (&parsed, &entry.subject) {
        (ParsedDocument::Sbom(_), Some(subject)) => subject.digest.to_string(),
        (ParsedDocument::Sbom(_), None) => return Err(KitProblem::NoSubject { member }.into()),
        _ => formats::document_id(&doc.path, &parsed, entry.format, &bytes).map_err(parse_err)?,
    };
    if id != doc.id {
        let indexed = doc.id.clone();
        return Err(KitProblem::IdMismatch {
            member,
            indexed,
            found: id,
        }
        .into());
    }
    let outcome = tx
        .put(NewVersion {
            kind: entry.kind,
            doc_id: &id,
            format: entry.format,
            path: &doc.path,
            sha256: &entry.sha256.to_hex(),
            subject_name: entry.subject.as_ref().map(|s| s.name.as_str()),
            bytes: &bytes,
        })
        .map_err(|e| match e {
            StoreError::DuplicateInBundle { .. } => Fault::Kit(KitProblem::Duplicate {
                member: member.clone(),
                source: e,
            }),
            other => Fault::Store(other),
        })?;
    if let (ParsedDocument::Sbom(sbom), true) = (&parsed, outcome != PutOutcome::Unchanged) {
        tx.put_components(&id, &crate::ingest::component_rows(sbom))?;
    }
    match entry.kind {
        DocumentKind::Vex => counts.vex += 1,
        DocumentKind::Sbom => counts.sbom += 1,
        _ => counts.advisory += 1,
    }
    Ok(())
}
