//! The verification transcript: what was checked, with what limits, and the verdict.
//!
//! It is printed by `bundle verify --json` and kept beside quarantined bundles, so it
//! records enough to explain a refusal without the bundle at hand.

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use super::error::{Rejection, VerifyError};
use super::limits::Limits;
use super::manifest::{BundleId, Manifest, Mode};

/// One signature as seen in step 5 and counted (or not) in step 7.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureCheck {
    pub keyid: String,
    pub valid: bool,
    pub counted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Rejection>,
}

/// How the bundle's `expiresAt` was handled.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryCheck {
    pub expires_at: String,
    pub expired: bool,
    /// True when the operator accepted an expired bundle with the loud opt-out.
    pub accepted_by_opt_out: bool,
}

/// The failing step and the whole error chain, when the verdict is invalid.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub step: u8,
    pub step_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    pub error: String,
}

/// Everything one verification saw.
#[derive(Debug)]
pub struct Transcript {
    pub bundle: String,
    pub bundle_id: Option<BundleId>,
    pub signatures: Vec<SignatureCheck>,
    pub threshold: Option<u32>,
    pub expiry: Option<ExpiryCheck>,
    /// Indices into the manifest's documents, in the order their members were checked.
    pub checked: Vec<u32>,
    pub bytes_checked: u64,
    pub limits: Limits,
    pub failure: Option<Failure>,
}

impl Transcript {
    pub fn new(bundle: String, limits: Limits) -> Self {
        Self {
            bundle,
            bundle_id: None,
            signatures: Vec::new(),
            threshold: None,
            expiry: None,
            checked: Vec::new(),
            bytes_checked: 0,
            limits,
            failure: None,
        }
    }

    pub fn fail(&mut self, err: &VerifyError) {
        self.failure = Some(Failure {
            step: err.step.number(),
            step_name: err.step.name(),
            member: err.member.clone(),
            error: error_chain(err),
        });
    }
}

/// `outer: inner: innermost`, each cause once.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The JSON form of a transcript together with the manifest it checked.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptView<'a> {
    bundle: &'a str,
    bundle_id: Option<&'a BundleId>,
    bytes_checked: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry: Option<&'a ExpiryCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a Failure>,
    feed: Option<&'a str>,
    limits: &'a Limits,
    members: MembersView<'a>,
    members_checked: usize,
    mode: Option<Mode>,
    sequence: Option<u64>,
    signatures: &'a [SignatureCheck],
    threshold: Option<u32>,
    verdict: &'static str,
}

#[derive(Debug)]
struct MembersView<'a> {
    checked: &'a [u32],
    manifest: Option<&'a Manifest>,
}

#[derive(Serialize)]
struct MemberView<'a> {
    path: &'a str,
    bytes: u64,
    sha256: String,
}

impl Serialize for MembersView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(manifest) = self.manifest else {
            return s.collect_seq(std::iter::empty::<()>());
        };
        let mut seq = s.serialize_seq(Some(self.checked.len()))?;
        for &i in self.checked {
            let doc = &manifest.documents[i as usize];
            seq.serialize_element(&MemberView {
                path: doc.path.as_str(),
                bytes: doc.size,
                sha256: doc.sha256.to_hex(),
            })?;
        }
        seq.end()
    }
}

impl<'a> TranscriptView<'a> {
    pub fn new(t: &'a Transcript, manifest: Option<&'a Manifest>) -> Self {
        Self {
            bundle: &t.bundle,
            bundle_id: t.bundle_id.as_ref(),
            bytes_checked: t.bytes_checked,
            expiry: t.expiry.as_ref(),
            failure: t.failure.as_ref(),
            feed: manifest.map(|m| m.feed.as_str()),
            limits: &t.limits,
            members: MembersView {
                checked: &t.checked,
                manifest,
            },
            members_checked: t.checked.len(),
            mode: manifest.map(|m| m.mode),
            sequence: manifest.map(|m| m.sequence),
            signatures: &t.signatures,
            threshold: t.threshold,
            verdict: if t.failure.is_none() {
                "valid"
            } else {
                "invalid"
            },
        }
    }
}
