//! The connectivity guard: telling "the site is down" from "sitewatch's own network is down".
//!
//! The config's `connectivity` key names canaries: URLs that answer whenever sitewatch's
//! network works. One thread (`sitewatch-canary`) checks them every `interval` through the same
//! [`Probe`] as the monitors, stopping at the first that answers. They are deliberately not
//! monitors: a dedicated thread keeps them off the scheduler, the worker pool (whose saturation
//! must not delay the very check that says whether failures are to be believed), the reports
//! and the history, and keeps the policy in one place. A canary counts as reachable when it
//! answers over HTTP at all, whatever the status: the question is the network, not the canary.
//!
//! While every canary fails, the network is *impaired* ([`Network`], atomics read by the
//! workers): a monitor's failed check that overlaps the impairment is inconclusive (no state
//! change, no notification, retried on its next occurrence). A success stays a verdict: a site
//! that answered is up. One line says when impairment starts and one when it ends, with its
//! length and the checks it made inconclusive; the span goes to the history, where reports
//! count it neither as up nor as down.
//!
//! A monitor's failure while the network is thought fine *nudges* the thread to check the
//! canaries at once (a `try_send`, at most one nudged round per `max(1 s, interval / 5)`), so
//! the guard usually decides before a monitor's retries run out; a failure seen before the
//! canaries fail is still a verdict, which is why monitors should keep at least one retry.
//! Rounds cut by a stall of sitewatch, or in which a canary hit a local failure, decide
//! nothing.
//!
//! Shutdown: the thread ends when its stop channel disconnects, closing an open impairment.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, select, Receiver, Sender};

use super::pause::Pauses;
use crate::config::{Connectivity, Monitor};
use crate::event::{Event, Fanout, Impairment};
use crate::probe::{Cause, Nature, Probe};
use crate::stats::Stats;

/// The guard's verdict on sitewatch's network, shared with the workers.
pub struct Network {
    origin: Instant,
    impaired: AtomicBool,
    /// Start of the current or last impairment, ms since `origin` + 1 (0: never).
    start: AtomicU64,
    /// End of the last finished impairment, ms since `origin` + 1 (0: none or still on).
    end: AtomicU64,
    /// Failed checks made inconclusive during the current impairment.
    inconclusive: AtomicU64,
    nudge: Sender<()>,
}

impl Network {
    /// A network thought fine, and the receiving end of its nudges.
    pub fn new(origin: Instant) -> (Network, Receiver<()>) {
        let (nudge, nudged) = bounded(1);
        let network = Network {
            origin,
            impaired: AtomicBool::new(false),
            start: AtomicU64::new(0),
            end: AtomicU64::new(0),
            inconclusive: AtomicU64::new(0),
            nudge,
        };
        (network, nudged)
    }

    fn ms(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.origin).as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// True when a check over `[start, end]` overlapped an impairment (the current one, or the
    /// last one that ended).
    pub fn impaired_during(&self, start: Instant, end: Instant) -> bool {
        let (s, e) = (self.ms(start), self.ms(end));
        let a = self.start.load(Ordering::Acquire);
        if a == 0 {
            return false;
        }
        if self.impaired.load(Ordering::Acquire) {
            return e >= a;
        }
        let b = self.end.load(Ordering::Acquire);
        b != 0 && a <= e && s <= b
    }

    /// Whether the network is impaired now.
    pub fn is_impaired(&self) -> bool {
        self.impaired.load(Ordering::Acquire)
    }

    /// Counts a failed check made inconclusive by the impairment.
    pub fn add_inconclusive(&self) {
        self.inconclusive.fetch_add(1, Ordering::Relaxed);
    }

    /// Asks for a canary round now; never waits (a round already asked for is enough).
    pub fn nudge(&self) {
        let _ = self.nudge.try_send(());
    }

    pub(super) fn begin(&self, at: Instant) {
        self.inconclusive.store(0, Ordering::Relaxed);
        self.end.store(0, Ordering::Release);
        self.start.store(self.ms(at), Ordering::Release);
        self.impaired.store(true, Ordering::Release);
    }

    pub(super) fn finish(&self, at: Instant) -> u64 {
        self.end.store(self.ms(at), Ordering::Release);
        self.impaired.store(false, Ordering::Release);
        self.inconclusive.swap(0, Ordering::Relaxed)
    }
}

/// What the canary thread needs.
pub struct Guard {
    /// The canaries and their interval.
    pub connectivity: Connectivity,
    /// The probe the monitors use.
    pub probe: Arc<dyn Probe>,
    /// The verdict it keeps.
    pub network: Arc<Network>,
    /// Stalls of sitewatch, whose rounds decide nothing.
    pub pauses: Arc<Pauses>,
    /// Where impairments are counted.
    pub stats: Arc<Stats>,
    /// Where impairments are published (printer, history).
    pub events: Arc<Fanout>,
}

/// How one round of canary checks went.
#[derive(Debug, PartialEq, Eq)]
enum Round {
    /// A canary answered.
    Reachable,
    /// Every canary failed; what each saw.
    Unreachable(Vec<String>),
    /// Nothing to conclude (a local failure, or sitewatch stalled meanwhile).
    Undecided,
}

fn round(canaries: &[Monitor], probe: &dyn Probe, pauses: &Pauses) -> Round {
    let started = Instant::now();
    let mut seen = Vec::with_capacity(canaries.len());
    let mut undecided = false;
    for canary in canaries {
        let o = probe.check(canary);
        if o.status.is_some() || o.outcome.is_up() {
            return Round::Reachable;
        }
        undecided |= o.outcome.nature() != Nature::Verdict;
        let why = match (o.outcome.cause_name(), o.outcome.detail()) {
            (Some(name), Some(detail)) => format!("{name}: {detail}"),
            _ => "failed".to_string(),
        };
        seen.push(format!("{} {why}", canary.url));
    }
    if undecided || pauses.overlaps(started, Instant::now()) {
        return Round::Undecided;
    }
    Round::Unreachable(seen)
}

impl Guard {
    /// The canary thread's body: a round every interval, or sooner when nudged, until `stop`
    /// disconnects.
    pub fn run(self, nudged: Receiver<()>, stop: Receiver<()>) {
        let interval = self.connectivity.interval;
        let nudge_gap = (interval / 5).max(Duration::from_secs(1));
        let mut last_round: Option<Instant> = None;
        let mut next = Instant::now();
        let mut began: Option<(Instant, SystemTime)> = None;
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            select! {
                recv(stop) -> _ => break,
                recv(nudged) -> _ => {
                    if last_round.is_some_and(|t| t.elapsed() < nudge_gap) {
                        continue;
                    }
                }
                default(wait) => {}
            }
            let started = Instant::now();
            last_round = Some(started);
            next = started + interval;
            match round(&self.connectivity.canaries, &*self.probe, &self.pauses) {
                Round::Unreachable(seen) if began.is_none() => {
                    self.network.begin(started);
                    self.stats.add_impairment();
                    let wall = SystemTime::now();
                    began = Some((started, wall));
                    let line = format!(
                        "sitewatch's network is impaired: every connectivity canary failed ({}); \
                         failures of monitors are inconclusive until a canary answers",
                        seen.join("; ")
                    );
                    log::warn!("{line}");
                    self.publish(wall, None, line);
                }
                Round::Reachable => {
                    if let Some((at, wall)) = began.take() {
                        self.end(at, wall, "a canary answered again");
                    }
                }
                _ => {}
            }
        }
        if let Some((at, wall)) = began.take() {
            self.end(at, wall, "monitoring stopped");
        }
    }

    fn end(&self, at: Instant, wall: SystemTime, why: &str) {
        let n = self.network.finish(Instant::now());
        let line = format!(
            "sitewatch's network impairment ended after {:.1} s ({why}); {n} failed {} \
             inconclusive",
            at.elapsed().as_secs_f64(),
            if n == 1 { "check was" } else { "checks were" },
        );
        log::warn!("{line}");
        self.publish(wall, Some(SystemTime::now()), line);
    }

    fn publish(&self, start: SystemTime, end: Option<SystemTime>, detail: String) {
        self.events.publish(Event::Impairment(Arc::new(Impairment {
            start,
            end,
            cause: Cause::NetworkImpaired,
            detail,
        })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impairment_covers_checks_that_overlap_it() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let (n, _nudged) = Network::new(t0);
        assert!(!n.impaired_during(at(0), at(100)));
        n.begin(at(1000));
        assert!(n.impaired_during(at(500), at(1500)));
        assert!(n.impaired_during(at(2000), at(2500)));
        n.add_inconclusive();
        assert_eq!(n.finish(at(3000)), 1);
        assert!(!n.is_impaired());
        assert!(
            n.impaired_during(at(2900), at(3100)),
            "ended during the check"
        );
        assert!(!n.impaired_during(at(3100), at(3200)), "after it");
        assert!(!n.impaired_during(at(100), at(900)), "before it");
    }

    #[test]
    fn nudges_never_wait() {
        let (n, nudged) = Network::new(Instant::now());
        for _ in 0..100 {
            n.nudge();
        }
        assert_eq!(nudged.try_iter().count(), 1);
    }
}
