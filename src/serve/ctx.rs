//! What every route can read: the run's live counters, its monitors, sitewatch's own
//! condition and where the history is. Shared by the serving threads behind an `Arc`; nothing
//! here is written by a route.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::config::Monitor;
use crate::selfwatch::pause::Pauses;
use crate::stats::Stats;

/// Shared, read-only state of the serving threads.
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
    /// `/metrics` and `/probe`.
    pub prometheus: crate::metrics::Prometheus,
}
