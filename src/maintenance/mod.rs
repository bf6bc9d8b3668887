//! Planned work and dependencies at run time: which failures are not the monitor's verdict.
//!
//! [`Planned::judge`] is what a worker applies to a failed check after
//! [`SelfWatch::judge`](crate::selfwatch::SelfWatch::judge), before the check is counted and
//! published:
//! - a failure while the monitor is in a maintenance window (from the config, or added with
//!   `sitewatch maintenance add`) is inconclusive with cause `maintenance`;
//! - else a failure while a monitor it depends on (`depends_on`) is `down`, or failing (its last
//!   check failed: retrying, or itself silenced), is inconclusive with cause `parent_down` ("parent X is
//!   down"). Counting a failing parent matters: when a router dies, its children fail at the
//!   same moment, before the router's retries have run out.
//!
//! Either way it moves no state and sends nothing, and reports count it neither as up nor as
//! down for this monitor (a parent's outage is counted once, as the parent's). Successes stay
//! verdicts: a site that answers during its maintenance is up. A monitor already `down` when a
//! window starts stays `down` until a success.
//!
//! Cost on the worker's path: only for a failure, one pass over the config windows (a few), a
//! read lock on the ad-hoc windows (swapped whole by the maintenance thread every couple of
//! seconds, never held across anything slow), and one atomic load per parent.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::config::plan::{epoch_ms, Parents, Plan, Targets, Window};
use crate::config::Monitor;
use crate::probe::{Cause, Nature, Observation};
use crate::state::State;
use crate::stats::Stats;

pub mod command;
pub mod watch;

/// A window added at run time (`sitewatch maintenance add`), resolved to monitor indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdHoc {
    /// Its row id in the history database.
    pub id: i64,
    /// Start and end, ms since the epoch.
    pub start: i64,
    /// End, ms since the epoch.
    pub end: i64,
    /// Which monitors.
    pub targets: Targets,
    /// Why, if given.
    pub reason: Option<Arc<str>>,
}

/// What workers consult: the windows and every monitor's parents.
#[derive(Debug, Default)]
pub struct Planned {
    windows: Vec<Window>,
    parents: Parents,
    adhoc: RwLock<Arc<[AdHoc]>>,
}

impl Planned {
    /// From the config's plan.
    pub fn new(plan: Plan) -> Planned {
        Planned {
            windows: plan.windows,
            parents: plan.parents,
            adhoc: RwLock::new(Arc::from(Vec::new())),
        }
    }

    /// The config windows.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// Replaces the ad-hoc windows (the maintenance thread, after reading the database).
    pub fn set_adhoc(&self, windows: Vec<AdHoc>) {
        let windows: Arc<[AdHoc]> = windows.into();
        match self.adhoc.write() {
            Ok(mut w) => *w = windows,
            Err(poisoned) => *poisoned.into_inner() = windows,
        }
    }

    /// The reason of a window covering `monitor` at `now_ms` (`Some(None)` for one without a
    /// reason), or `None` outside any window.
    pub fn in_window(&self, monitor: usize, now_ms: i64) -> Option<Option<Arc<str>>> {
        for w in &self.windows {
            if w.targets.covers(monitor) && w.occurrence_at(now_ms).is_some() {
                return Some(w.reason.clone());
            }
        }
        let adhoc = match self.adhoc.read() {
            Ok(a) => Arc::clone(&a),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        adhoc
            .iter()
            .find(|w| w.start <= now_ms && now_ms < w.end && w.targets.covers(monitor))
            .map(|w| w.reason.clone())
    }

    /// Turns a failure of `monitor` into what it truly says (see the module docs).
    pub fn judge(
        &self,
        monitor: usize,
        mut observation: Observation,
        monitors: &[Monitor],
        stats: &Stats,
    ) -> Observation {
        if !observation.outcome.is_down() {
            return observation;
        }
        if let Some(reason) = self.in_window(monitor, epoch_ms(SystemTime::now())) {
            let why = reason.as_deref().unwrap_or("maintenance window").to_owned();
            observation.outcome = observation.outcome.inconclusive(Cause::Maintenance, &why);
            return observation;
        }
        if let Some(&parent) = self
            .parents
            .of(monitor)
            .iter()
            .find(|&&p| parent_failing(stats, p as usize))
        {
            let why = format!("parent {} is down", monitors[parent as usize].id());
            observation.outcome = observation.outcome.inconclusive(Cause::ParentDown, &why);
        }
        observation
    }
}

/// Whether a parent is `down`, or its last check failed: a failure retried (its last verdict),
/// or one that was not a verdict, which happens to a failure only (its own maintenance, its own
/// parent down): so a chain of dependencies is silenced from its root.
fn parent_failing(stats: &Stats, parent: usize) -> bool {
    stats.state(parent) == State::Down
        || stats
            .last_check(parent)
            .is_some_and(|c| c.nature != Nature::Verdict || c.reason.is_some())
}
