//! Prometheus surfaces: `/metrics` (sitewatch's live counters) and `/probe` (one check on
//! demand, answered like blackbox_exporter).
//!
//! Both only read what the pipeline already keeps ([`crate::stats::Stats`], the monitors) or
//! run one check through the same [`crate::probe::Probe`] the workers use; neither takes a
//! lock or adds a wait on the scheduler's or a worker's path.

pub mod blackbox;
pub mod exposition;
pub mod scrape;

pub use self::blackbox::{ProbeEndpoint, ProbeReply};
pub use self::exposition::CONTENT_TYPE;
pub use self::scrape::{Extras, Scrape};
