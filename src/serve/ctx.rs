//! What every route can read: the run's live counters, its monitors, sitewatch's own
//! condition and where the history is. Shared by the serving threads behind an `Arc`; a route
//! writes nothing here except the cached history figures ([`history::Cache`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::history;
use crate::config::{Ids, Monitor};
use crate::selfwatch::pause::Pauses;
use crate::stats::Stats;

/// Shared state of the serving threads.
pub struct Ctx {
    /// Live counters and the states the scheduler publishes.
    pub stats: Arc<Stats>,
    /// The monitors, in config order (index = monitor).
    pub monitors: Arc<Vec<Monitor>>,
    /// The heartbeat's published stalls.
    pub pauses: Arc<Pauses>,
    /// The history database, read through the server's own read-only connection; `None`
    /// with `--no-db` (then only what this run has seen is shown).
    pub history: Option<PathBuf>,
    /// When the run started (wall clock).
    pub started: SystemTime,
    /// When the run started (monotonic).
    pub started_at: Instant,
    /// Uptime and latency from the history, refreshed every [`history::REFRESH`].
    pub figures: history::Cache,
    /// The pages' uptime strips: completed days of the monitors seen, cached for the day.
    pub strips: super::strips::Cache,
    /// Maintenance windows, to mark the monitors in one.
    pub planned: Option<Arc<crate::maintenance::Planned>>,
    /// Monitor index by id.
    ids: Ids,
}

impl Ctx {
    /// The context of one run.
    pub fn new(
        stats: Arc<Stats>,
        monitors: Arc<Vec<Monitor>>,
        pauses: Arc<Pauses>,
        history: Option<PathBuf>,
        started_at: Instant,
    ) -> Ctx {
        let ids = Ids::new(&monitors);
        Ctx {
            stats,
            monitors,
            pauses,
            history,
            started: SystemTime::now() - started_at.elapsed(),
            started_at,
            figures: history::Cache::default(),
            strips: super::strips::Cache::default(),
            planned: None,
            ids,
        }
    }

    /// Marks the monitors in a maintenance window of `planned`.
    pub fn with_planned(mut self, planned: Arc<crate::maintenance::Planned>) -> Ctx {
        self.planned = Some(planned);
        self
    }

    /// The index of the monitor with this id.
    pub fn monitor(&self, id: &str) -> Option<usize> {
        self.ids.find(&self.monitors, id)
    }
}
