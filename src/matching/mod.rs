//! Matching: which components of an artifact a vulnerability touches, and with what
//! status. Pure functions over the `model`: no I/O, no clock, no store.
//!
//! The path a component takes: its purl is parsed and normalized ([`purl`]) and reduced
//! to package keys ([`ecosystem`]); the [`index`] of advisories gives the entries filed
//! under those keys; each entry's ranges are evaluated ([`range`]) in the version order
//! of its ecosystem ([`version`]); advisories about the same flaw are merged, and trusted
//! VEX statements ([`vex`]) set the final status of each [`Finding`] ([`evaluate`]).

pub mod ecosystem;
pub mod evaluate;
pub mod finding;
pub mod index;
pub mod purl;
pub mod range;
pub mod version;
pub mod vex;

pub use ecosystem::PackageKey;
pub use evaluate::{findings, Knowledge};
pub use finding::{AdvisoryEvidence, Evidence, Finding, FindingSeverity, Status, VexEvidence};
pub use index::AdvisoryIndex;
pub use purl::{Purl, PurlError};
pub use range::Verdict;
pub use version::{Scheme, Version, VersionError};
pub use vex::{IssuedStatement, Trust, VexIndex};
