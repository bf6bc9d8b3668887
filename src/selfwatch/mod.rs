//! sitewatch watching itself, so that its own trouble is never reported as a site's.
//!
//! A check's result is a verdict about the site only when sitewatch could measure fairly.
//! This module owns what decides that, apart from the HTTP classification itself:
//! - [`local`]: the rate-limited stderr warning when sitewatch runs out of file descriptors,
//!   memory, ports or threads (the checks themselves are classified as
//!   [`Outcome::Local`] by the probe);
//! - [`pause`]: the heartbeat thread that notices sitewatch was not running (stopped,
//!   suspended), and the stall windows it publishes;
//! - [`canary`]: the connectivity guard's thread and the network state it publishes;
//! - [`limits`]: raising the open-files limit at start, and warning when `--workers` cannot fit.
//!
//! [`SelfWatch::judge`] is what a worker applies to each observation before it is counted and
//! published: it reads a few atomics and never waits.

use std::sync::Arc;
use std::time::Instant;

use crate::probe::{Cause, Observation, Outcome};

pub mod canary;
pub mod limits;
pub mod local;
pub mod pause;

use self::canary::Network;
use self::local::LocalAlarm;
use self::pause::Pauses;

/// What a worker consults about sitewatch's own condition. Shared by every worker.
#[derive(Default)]
pub struct SelfWatch {
    /// Stalls of the process.
    pub pauses: Arc<Pauses>,
    /// The connectivity guard's verdict, when there are canaries.
    pub network: Option<Arc<Network>>,
    /// The warning of local failures.
    pub local: LocalAlarm,
}

impl SelfWatch {
    /// Turns `observation`, made over `[start, end]`, into what it truly says: a failure that
    /// overlapped a stall of sitewatch or an impairment of its network becomes inconclusive;
    /// a local failure is told about (at most once a minute). A failure otherwise asks the
    /// connectivity guard to look at once.
    pub fn judge(&self, mut observation: Observation, start: Instant, end: Instant) -> Observation {
        match &observation.outcome {
            Outcome::Local { kind, detail } => self.local.note(*kind, detail),
            Outcome::Down { .. } => {
                if self.pauses.overlaps(start, end) {
                    self.pauses.add_retried();
                    observation.outcome = observation.outcome.inconclusive(
                        Cause::Paused,
                        "sitewatch was not running during this check (stopped or suspended)",
                    );
                } else if let Some(network) = &self.network {
                    if network.impaired_during(start, end) {
                        network.add_inconclusive();
                        observation.outcome = observation.outcome.inconclusive(
                            Cause::NetworkImpaired,
                            "sitewatch's own network was impaired (every connectivity canary \
                             failed)",
                        );
                    } else {
                        network.nudge();
                    }
                }
            }
            Outcome::Up | Outcome::Inconclusive { .. } => {}
        }
        observation
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Nature, Reason};
    use std::time::Duration;

    fn obs(outcome: Outcome) -> Observation {
        Observation {
            ..Observation::without_response(Duration::from_secs(2), outcome)
        }
    }

    #[test]
    fn only_failures_in_an_unfair_window_become_inconclusive() {
        let t0 = Instant::now();
        let (network, _nudged) = Network::new(t0);
        let network = Arc::new(network);
        let watch = SelfWatch {
            pauses: Arc::new(Pauses::new(t0)),
            network: Some(Arc::clone(&network)),
            local: LocalAlarm::default(),
        };
        let down = || Outcome::down(Reason::Connect, "connection refused");
        let (a, b) = (t0, t0 + Duration::from_millis(50));
        assert_eq!(
            watch.judge(obs(down()), a, b).outcome.nature(),
            Nature::Verdict
        );
        network.begin(t0);
        let judged = watch.judge(obs(down()), a, b).outcome;
        assert!(
            matches!(
                judged,
                Outcome::Inconclusive {
                    cause: Cause::NetworkImpaired,
                    ..
                }
            ),
            "{judged:?}"
        );
        assert_eq!(watch.judge(obs(Outcome::Up), a, b).outcome, Outcome::Up);
    }
}
