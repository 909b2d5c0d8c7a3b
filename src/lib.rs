//! stella-scheduler: verifies signed advisory, VEX and SBOM bundles that cross an air
//! gap, and schedules re-evaluation of the artifacts they touch.
//!
//! The rooms follow the path of a bundle; see docs/architecture.md.

pub mod api;
pub mod bundle;
pub mod canonical;
pub mod cli;
pub mod export;
pub mod findings;
pub mod formats;
pub mod fsutil;
pub mod impact;
pub mod ingest;
pub mod jobs;
pub mod matching;
pub mod model;
pub mod offline_kit;
pub mod service;
pub mod site_status;
pub mod staleness;
pub mod store;
pub mod telemetry;
pub mod transport;
