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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::probe::{Outcome, Reason};
    use std::time::Duration;

    fn obs(outcome: Outcome) -> Observation {
        Observation {
            status: Some(503),
            ..Observation::without_response(Duration::from_millis(5), outcome)
        }
    }

    fn down() -> Outcome {
        Outcome::down(Reason::Status, "HTTP 503")
    }

    #[test]
    fn a_chain_is_silenced_from_its_root_and_successes_stay_verdicts() {
        let config = Config::parse(
            r#"[{"url": "http://127.0.0.1:9/gw", "name": "gw"},
                {"url": "http://127.0.0.1:9/db", "name": "db", "depends_on": ["gw"]},
                {"url": "http://127.0.0.1:9/app", "name": "app", "depends_on": ["db"]}]"#,
        )
        .unwrap();
        let stats = Stats::new(3, 1);
        let planned = Planned::new(config.plan);
        let m = &config.monitors;
        // Every parent up: a failure is a verdict.
        assert!(planned.judge(2, obs(down()), m, &stats).outcome.is_down());
        stats.set_state(0, State::Down);
        let db = planned.judge(1, obs(down()), m, &stats);
        assert_eq!(
            db.outcome.detail(),
            Some("parent gw is down (the check saw status: HTTP 503)")
        );
        // db's own failure was inconclusive: app's failure is silenced too.
        stats.record(1, &db, Duration::ZERO);
        let app = planned.judge(2, obs(down()), m, &stats).outcome;
        assert_eq!(app.cause_name(), Some("parent_down"), "{app:?}");
        assert_eq!(
            planned.judge(2, obs(Outcome::Up), m, &stats).outcome,
            Outcome::Up
        );
    }

    #[test]
    fn an_ad_hoc_window_covers_its_monitors_for_its_time_only() {
        let config = Config::parse(
            r#"[{"url": "http://127.0.0.1:9/a", "name": "a"},
                {"url": "http://127.0.0.1:9/b", "name": "b"}]"#,
        )
        .unwrap();
        let planned = Planned::new(config.plan);
        planned.set_adhoc(vec![AdHoc {
            id: 1,
            start: 1_000,
            end: 2_000,
            targets: Targets::Some(vec![1].into()),
            reason: Some(Arc::from("deploy")),
        }]);
        assert_eq!(planned.in_window(1, 1_500), Some(Some(Arc::from("deploy"))));
        assert_eq!(planned.in_window(0, 1_500), None);
        assert_eq!(planned.in_window(1, 2_000), None);
    }
}
