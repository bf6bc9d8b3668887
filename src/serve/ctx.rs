//! What every route can read: the run's live counters, its monitors, sitewatch's own
//! condition and where the history is. Shared by the serving threads behind an `Arc`; a route
//! writes nothing here except the cached history figures ([`history::Cache`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::history;
use crate::catalog::Catalog;
use crate::config::{Ids, Monitor};
use crate::selfwatch::pause::Pauses;
use crate::stats::Stats;

/// Shortest time over which checks per minute are measured.
const RATE_EVERY: Duration = Duration::from_secs(60);

/// Shared state of the serving threads.
pub struct Ctx {
    /// Live counters and the states the scheduler publishes.
    pub stats: Arc<Stats>,
    /// The monitors, in config order (index = monitor), as the last reload left them: read
    /// with [`Ctx::monitors`], once per request.
    pub catalog: Arc<Catalog>,
    /// The heartbeat's published stalls.
    pub pauses: Arc<Pauses>,
    /// The history database, read through the server's own read-only connection; `None`
    /// with `--no-db` (then only what this run has seen is shown).
    pub history: Option<PathBuf>,
    /// When the run started (wall clock).
    pub started: SystemTime,
    /// When the run started (monotonic).
    pub started_at: Instant,
    /// `/metrics` and `/probe`; `None`: not served (404).
    pub prometheus: Option<crate::metrics::Prometheus>,
    /// Uptime and latency from the history, refreshed every [`history::REFRESH`].
    pub figures: history::Cache,
    /// The pages' uptime strips: completed days of the monitors seen, cached for the day.
    pub strips: super::strips::Cache,
    /// The last config reload's outcome (a failed one is reported by `/healthz`).
    pub reload: Arc<crate::reload::Status>,
    /// Monitor index by id, for the list it was built from (rebuilt after a reload).
    ids: Mutex<(Arc<Vec<Monitor>>, Arc<Ids>)>,
    /// Maintenance windows, to mark the monitors in one.
    pub planned: Option<Arc<crate::maintenance::Planned>>,
    /// The checks-per-minute rate: (when sampled, checks finished then, rate since the sample
    /// before, per minute).
    rate: Mutex<(Instant, u64, Option<f64>)>,
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
        let ids = Mutex::new((Arc::clone(&monitors), Arc::new(Ids::new(&monitors))));
        Ctx {
            stats,
            catalog: Arc::new(Catalog::new(monitors)),
            pauses,
            history,
            started: SystemTime::now() - started_at.elapsed(),
            started_at,
            figures: history::Cache::default(),
            strips: super::strips::Cache::default(),
            planned: None,
            ids,
            reload: Arc::default(),
            prometheus: None,
            rate: Mutex::new((started_at, 0, None)),
        }
    }

    /// Marks the monitors in a maintenance window of `planned`.
    pub fn with_planned(mut self, planned: Arc<crate::maintenance::Planned>) -> Ctx {
        self.planned = Some(planned);
        self
    }

    /// Checks finished per minute since the previous sample (at least a minute before; over
    /// the run until a minute has passed). Requests take the samples, at most once a minute.
    pub fn checks_per_minute(&self, now: Instant) -> f64 {
        let checked = self.stats.checked();
        let mut rate = self.rate.lock().unwrap_or_else(|e| e.into_inner());
        let (at, count, last) = *rate;
        let since = now.saturating_duration_since(at).as_secs_f64();
        let current = (since > 0.0).then(|| checked.saturating_sub(count) as f64 * 60.0 / since);
        if since >= RATE_EVERY.as_secs_f64() {
            *rate = (now, checked, current);
            return current.unwrap_or(0.0);
        }
        last.or(current).unwrap_or(0.0)
    }

    /// The monitors now (a reload may have changed them; tombstones included, see
    /// [`Ctx::is_removed`]).
    pub fn monitors(&self) -> Arc<Vec<Monitor>> {
        self.catalog.load()
    }

    /// Whether a reload removed the monitor at `index`.
    pub fn is_removed(&self, index: usize) -> bool {
        self.catalog.removed().get(index).copied().unwrap_or(false)
    }

    /// The index of the live monitor with this id.
    pub fn monitor(&self, id: &str) -> Option<usize> {
        let monitors = self.monitors();
        let ids = {
            let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
            if !Arc::ptr_eq(&ids.0, &monitors) {
                *ids = (Arc::clone(&monitors), Arc::new(Ids::new(&monitors)));
            }
            Arc::clone(&ids.1)
        };
        match ids.find(&monitors, id) {
            Some(i) if self.is_removed(i) => {
                // A removed id that a later reload brought back: the live one is appended.
                let i = monitors.iter().rposition(|m| m.id() == id)?;
                (!self.is_removed(i)).then_some(i)
            }
            found => found,
        }
    }
}
