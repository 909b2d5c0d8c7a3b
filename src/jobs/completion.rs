//! The completion event of a run: an in-toto Statement v1 in a DSSE envelope signed with
//! the site key. Nothing in it comes from the clock: the subjects, the window and the
//! summary are all derived from the state and the run.

use ed25519_dalek::SigningKey;
use serde::Serialize;

use super::delta::Summary;
use crate::bundle::dsse;
use crate::store::{ChangeEntry, RunRecord};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// This project's predicate (docs/scheduler.md describes its fields).
pub const PREDICATE_TYPE: &str = "https://stella-scheduler.dev/attestations/completion/v1";

/// One impacted artifact, as an in-toto resource descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subject {
    pub name: String,
    pub digest: SubjectDigest,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubjectDigest {
    pub sha256: String,
}

#[derive(Debug, Serialize)]
struct Statement<'a> {
    #[serde(rename = "_type")]
    ty: &'static str,
    subject: &'a [Subject],
    #[serde(rename = "predicateType")]
    predicate_type: &'static str,
    predicate: Predicate<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Predicate<'a> {
    site: &'a str,
    run_id: &'a str,
    trigger: &'a str,
    state: &'a str,
    position: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<Window<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<serde_json::Value>,
    impact_digest: &'a str,
    summary: &'a Summary,
    delta_digest: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Window<'a> {
    feed: &'a str,
    sequence: u64,
    bundle_id: &'a str,
    position: u64,
}

/// Everything a completion event states.
#[derive(Debug)]
pub struct Completion<'a> {
    pub site: &'a str,
    pub run: &'a RunRecord,
    pub state: &'a str,
    pub window: Option<&'a ChangeEntry>,
    pub subjects: &'a [Subject],
    pub summary: &'a Summary,
    pub delta_digest: &'a str,
}

impl Completion<'_> {
    /// The statement's canonical JSON.
    pub fn statement(&self) -> Vec<u8> {
        let selector = self
            .run
            .selector
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok());
        let statement = Statement {
            ty: STATEMENT_TYPE,
            subject: self.subjects,
            predicate_type: PREDICATE_TYPE,
            predicate: Predicate {
                site: self.site,
                run_id: &self.run.run_id,
                trigger: &self.run.trigger,
                state: self.state,
                position: self.run.position,
                window: self.window.map(|w| Window {
                    feed: &w.feed,
                    sequence: w.sequence,
                    bundle_id: &w.bundle_id,
                    position: w.position,
                }),
                selector,
                impact_digest: self.run.impact_digest.as_deref().unwrap_or_default(),
                summary: self.summary,
                delta_digest: self.delta_digest,
            },
        };
        crate::canonical::to_vec(&statement).expect("the statement always serializes")
    }

    /// The DSSE envelope (canonical JSON) of the statement, signed with `key`.
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        let envelope = dsse::sign(PAYLOAD_TYPE, &self.statement(), std::slice::from_ref(key));
        crate::canonical::to_vec(&envelope).expect("an envelope always serializes")
    }
}
