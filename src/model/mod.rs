//! The normalized vocabulary every other room speaks.
//!
//! Nothing here touches I/O, the clock or the store: these are plain data types, so
//! that the pure rooms (`formats`, `matching`) and the byte-level room (`bundle`) can
//! share names without depending on each other.

mod advisory;
mod document;
mod sbom;
mod timestamp;
mod vex;

pub use advisory::{Advisory, Affected, Package, Range, RangeEvent, RangeKind, Severity};
pub use document::{Digest, DigestError, DocumentFormat, DocumentKind, Subject};
pub use sbom::{Checksum, Component, Sbom};
pub use timestamp::Timestamp;
pub use vex::{
    ProductVersion, Rating, Recommendation, VexDocument, VexProduct, VexStatement, VexStatus,
    Vulnerability,
};
