//! A channel's delivery thread: its own queue, its own retries, so one slow or dead endpoint
//! holds up nothing but itself.
//!
//! Each message gets `1 + retries` attempts, waiting `retry_delay` before the first retry and
//! twice as long before each further one (by default 3 attempts over about a minute: now, after
//! 15 s, after 30 more; each attempt bounded by the channel's `timeout`). When the last attempt
//! fails, the message is logged as `notification lost: …` with the reason and counted in the
//! stats. Messages behind it wait in the channel's bounded queue meanwhile; when that is full,
//! the dispatcher drops (and counts) new ones rather than wait.
//!
//! Shutdown: the queue's sender is dropped when the dispatcher ends; the thread delivers what is
//! queued and exits. Once the stop channel disconnects (the run is ending), the retries left are
//! made at once instead of after their delay, so a `--once` run or a Ctrl-C still gets its
//! messages out when the endpoint is only briefly unhappy; the engine waits a bounded time for
//! this ([`crate::engine::NOTIFY_GRACE`]) and counts what is left as lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{select, Receiver};

use super::{render, Channel, Notification};
use crate::stats::Stats;

/// One channel's delivery thread.
pub(super) struct Courier {
    /// The channel's name, for log lines.
    pub name: String,
    /// How it delivers.
    pub channel: Box<dyn Channel>,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Wait before the first retry; doubles each time.
    pub retry_delay: Duration,
    /// Disconnects when the run is stopping.
    pub stop: Receiver<()>,
    /// Where lost messages are counted.
    pub stats: Arc<Stats>,
    /// Messages handed to any courier and not yet delivered or lost.
    pub in_delivery: Arc<AtomicUsize>,
}

impl Courier {
    /// Delivers every message from `queue` until it is closed and empty.
    pub fn run(self, queue: Receiver<Notification>) {
        for message in queue.iter() {
            self.deliver(&message);
            self.in_delivery.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Tries, retries, and gives up on one message. Returns whether it was delivered.
    fn deliver(&self, message: &Notification) -> bool {
        let mut delay = self.retry_delay;
        let mut attempt = 1;
        loop {
            let reason = match self.channel.deliver(message) {
                Ok(()) => {
                    log::debug!("notification sent to {}: {}", self.name, message.event());
                    return true;
                }
                Err(reason) => reason,
            };
            if attempt > self.retries {
                log::warn!(
                    "notification lost: {} ({}): {}: {reason} (after {attempt} attempt{})",
                    self.name,
                    message.event(),
                    render::title(message),
                    if attempt == 1 { "" } else { "s" }
                );
                self.stats.add_lost_notifications(1);
                return false;
            }
            log::info!(
                "notification to {} failed (attempt {attempt} of {}): {reason}; retrying",
                self.name,
                self.retries + 1,
            );
            // Returns at once when the run is stopping (the stop channel is disconnected).
            select! {
                recv(self.stop) -> _ => {}
                default(delay) => {}
            }
            delay = delay.saturating_mul(2);
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::{bounded, Sender};
    use std::sync::Mutex;
    use std::time::{Instant, SystemTime};

    /// Fails its first `fail` attempts, records when each attempt came.
    struct Flaky {
        fail: usize,
        attempts: Arc<Mutex<Vec<Instant>>>,
    }

    impl Channel for Flaky {
        fn deliver(&self, _: &Notification) -> Result<(), String> {
            let mut a = self.attempts.lock().unwrap();
            a.push(Instant::now());
            if a.len() <= self.fail {
                Err("HTTP 500 Internal Server Error".into())
            } else {
                Ok(())
            }
        }
    }

    type Attempts = Arc<Mutex<Vec<Instant>>>;

    /// A courier whose stop channel stays open while the returned sender lives.
    fn courier(fail: usize, retries: u32) -> (Courier, Attempts, Arc<Stats>, Sender<()>) {
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let stats = Arc::new(Stats::new(1, 1));
        let (stop_tx, stop) = bounded(0);
        let c = Courier {
            name: "test".into(),
            channel: Box::new(Flaky {
                fail,
                attempts: Arc::clone(&attempts),
            }),
            retries,
            retry_delay: Duration::from_millis(20),
            stop,
            stats: Arc::clone(&stats),
            in_delivery: Arc::new(AtomicUsize::new(0)),
        };
        (c, attempts, stats, stop_tx)
    }

    fn test_message() -> Notification {
        Notification::Test {
            channel: "test".into(),
            at: SystemTime::now(),
        }
    }

    #[test]
    fn retries_with_doubling_delays_then_delivers() {
        let (c, attempts, stats, _stop) = courier(2, 2);
        assert!(c.deliver(&test_message()));
        let a = attempts.lock().unwrap();
        assert_eq!(a.len(), 3);
        assert!(a[1] - a[0] >= Duration::from_millis(20));
        assert!(a[2] - a[1] >= Duration::from_millis(40));
        assert_eq!(stats.lost_notifications(), 0);
    }

    #[test]
    fn gives_up_after_the_last_retry_and_counts_the_loss() {
        let (c, attempts, stats, _stop) = courier(usize::MAX, 1);
        assert!(!c.deliver(&test_message()));
        assert_eq!(attempts.lock().unwrap().len(), 2);
        assert_eq!(stats.lost_notifications(), 1);
    }

    #[test]
    fn a_stopping_run_retries_without_waiting() {
        let (mut c, attempts, stats, _stop) = courier(3, 5);
        let (stop_tx, stop) = bounded::<()>(0);
        drop(stop_tx);
        c.stop = stop;
        c.retry_delay = Duration::from_secs(60);
        let start = Instant::now();
        assert!(c.deliver(&test_message()));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(attempts.lock().unwrap().len(), 4);
        assert_eq!(stats.lost_notifications(), 0);
    }
}
