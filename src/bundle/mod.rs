//! Bundle format v1: the signed `.tar.zst` files that carry documents across the gap.
//!
//! This room knows bytes, signatures and trust, and nothing about what the documents
//! mean; see docs/bundle-format.md for the contract and the numbered verification steps.

pub mod dsse;
mod entries;
mod envelope;
mod error;
pub mod keys;
mod limits;
pub mod manifest;
mod member_path;
mod reader;
mod stream;
mod transcript;
pub mod trust;
mod writer;

pub use error::{short as short_keyid, Reason, RejectReason, Rejection, Step, VerifyError};
pub use limits::Limits;
pub use manifest::{
    BundleId, DocumentEntry, Manifest, ManifestError, Mode, Sha256Digest, Withdrawal,
};
pub use member_path::{MemberPath, MemberPathError, MAX_PATH_LEN};
pub use reader::{inspect, Discard, ExpiryPolicy, Inspected, MemberSink, Report, Verifier};
pub use transcript::{error_chain, Transcript, TranscriptView};
pub use trust::{Trust, TrustError, TrustFile};
pub use writer::{
    write_bundle, BundleSpec, DocumentSource, InMemory, NewDocument, WriteError, Written,
};
