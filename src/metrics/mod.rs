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

use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::config::Monitor;
use crate::probe::Probe;
use crate::scheduler::Job;
use crate::stats::Stats;

/// What the `server` key says about `/metrics` and `/probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `/metrics` has per-monitor series (`per_monitor_metrics`, default true). Off, the
    /// per-monitor counters are not even kept (88 bytes a monitor saved).
    pub per_monitor: bool,
    /// `/probe` checks any http(s) URL (`probe_any_target`, default false).
    pub any_target: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            per_monitor: true,
            any_target: false,
        }
    }
}

/// What the server keeps for `/metrics` and `/probe`.
pub struct Prometheus {
    /// Serves `/probe`.
    pub probe: ProbeEndpoint,
    /// A handle on the job queue, only to read its depth.
    pub queue: Option<Receiver<Job>>,
    /// Whether `/metrics` has per-monitor series.
    pub per_monitor: bool,
}

impl Prometheus {
    /// For `monitors`, checked on demand through `probe`, at most `probes` at once.
    pub fn new(
        settings: Settings,
        monitors: Arc<Vec<Monitor>>,
        probe: Arc<dyn Probe>,
        probes: usize,
        queue: Option<Receiver<Job>>,
    ) -> Prometheus {
        Prometheus {
            probe: ProbeEndpoint::new(monitors, probe, settings.any_target, probes),
            queue,
            per_monitor: settings.per_monitor,
        }
    }

    /// One scrape of `/metrics`, to be read as it is sent.
    pub fn scrape(&self, stats: Arc<Stats>, monitors: Arc<Vec<Monitor>>) -> Scrape {
        let extras = Extras {
            queue_depth: self.queue.as_ref().map_or(0, Receiver::len),
        };
        Scrape::new(stats, monitors, extras, self.per_monitor)
    }
}
