//! The worker pool: fixed threads that take jobs from the bounded queue and run blocking checks.
//!
//! Workers are the only part of sitewatch that blocks, and only on their own request. After a
//! check a worker updates the stats (atomics and one short lock), publishes the result through
//! the [`Fanout`] (`try_send` to every sink), and hands the verdict back to the scheduler, which
//! frees the monitor and decides on retries: it never waits on stdout, a log file or anything
//! else that can stall. A probe that panics is caught and reported as a
//! failed check, so one bad site cannot shrink the pool.
//!
//! Shutdown: when the scheduler drops the queue's sender, each worker finishes its current check
//! and exits once the queue is empty; jobs still queued after a stop was requested are dropped
//! unstarted and counted as skipped.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};

use crate::catalog::Catalog;
use crate::error::Error;
use crate::event::{Event, Fanout};
use crate::maintenance::Planned;
use crate::probe::LocalKind;
use crate::probe::{Observation, Outcome, Probe, Reason};
use crate::scheduler::{Completion, Job, Verdict};
use crate::selfwatch::SelfWatch;
use crate::stats::Stats;

/// Stack of a worker thread, instead of the 2 MiB default: the deepest check (TLS handshake,
/// a gzip body decoded, a JSON assertion on a body nested as deep as the parser allows,
/// `body_matches`, redirects) needs a fraction of it, which the integration test
/// `stack::the_deepest_checks_run_on_half_a_worker_stack` proves on a thread with half of it.
/// Only the pages a thread has touched are resident, so this does not change RSS; it keeps
/// 10,000 workers to 5 GB of address space (20 GB at the default), which matters where
/// memory is not overcommitted and under address-space limits.
pub const STACK_SIZE: usize = 512 * 1024;

/// Starts worker thread `id` running `body`, with a [`STACK_SIZE`] stack; the OS refusing it is
/// an [`Error::Thread`].
pub(crate) fn spawn<F>(id: usize, body: F) -> Result<std::thread::JoinHandle<()>, Error>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new()
        .name(format!("sitewatch-worker-{id}"))
        .stack_size(STACK_SIZE)
        .spawn(body)
        .map_err(Error::Thread)
}

/// One finished check, as printed and (later) stored.
#[derive(Debug, Clone)]
pub struct CheckRecord {
    /// Index of the monitor.
    pub monitor: usize,
    /// Wall-clock time the check started.
    pub started_at: SystemTime,
    /// How late the check started: start − due.
    pub lateness: std::time::Duration,
    /// How long the job waited in the queue before a worker took it.
    pub queued: std::time::Duration,
    /// What the check saw.
    pub observation: Observation,
}

/// What every worker shares.
pub struct Pool {
    /// The monitors, by index (read once per job: a reload may replace the list).
    pub monitors: Arc<Catalog>,
    /// The probe doing the HTTP work.
    pub probe: Arc<dyn Probe>,
    /// Live counters.
    pub stats: Arc<Stats>,
    /// Set when a stop was requested: queued jobs are then skipped.
    pub stopping: Arc<AtomicBool>,
    /// sitewatch's own condition: stalls, network, local failures.
    pub selfwatch: Arc<SelfWatch>,
    /// Maintenance windows and dependencies.
    pub planned: Arc<Planned>,
}

/// The ends of the channels one worker uses.
pub struct WorkerChannels {
    /// Jobs in.
    pub jobs: Receiver<Job>,
    /// Verdicts back to the scheduler.
    pub done: Sender<Completion>,
    /// Finished checks out to the printer and other sinks.
    pub events: Arc<Fanout>,
}

/// The body of worker thread `id`.
pub fn run(id: usize, pool: &Pool, channels: WorkerChannels) {
    for job in channels.jobs.iter() {
        // The scheduler may already be gone at shutdown; nothing to tell it then.
        if pool.stopping.load(Ordering::Relaxed) {
            pool.stats.add_skipped();
            let _ = channels.done.send(Completion {
                monitor: job.monitor,
                verdict: None,
            });
            continue;
        }
        let monitors = pool.monitors.load();
        let monitor = &monitors[job.monitor];
        let record = check(id, pool, &monitors, &job);
        pool.stats.note_queued(record.queued);
        pool.stats
            .record(job.monitor, &record.observation, record.lateness);
        // A local failure or an inconclusive check is no verdict: the scheduler only frees
        // the monitor.
        let mut verdict = Verdict::of(&record.observation);
        if let Some(verdict) = &mut verdict {
            // Slow: more than half its timeout. Its next checks count as suspect (scheduler).
            verdict.slow = record.observation.elapsed * 2 > monitor.timeout;
        }
        // Publish before telling the scheduler, so a check's line precedes the state change
        // it causes.
        channels.events.publish(Event::Check(Arc::new(record)));
        let _ = channels.done.send(Completion {
            monitor: job.monitor,
            verdict,
        });
    }
}

fn check(id: usize, pool: &Pool, monitors: &[crate::config::Monitor], job: &Job) -> CheckRecord {
    let monitor = &monitors[job.monitor];
    let start = Instant::now();
    let started_at = SystemTime::now();
    pool.stats.set_busy(id, Some((job.monitor, start)));
    let observation = panic::catch_unwind(AssertUnwindSafe(|| pool.probe.check(monitor)))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            // ureq starts a thread per DNS lookup and panics when the OS refuses one: that is
            // sitewatch out of threads, not the site's fault.
            if what.contains("failed to spawn thread") {
                return Observation::without_response(
                    start.elapsed(),
                    Outcome::Local {
                        kind: LocalKind::Threads,
                        detail: what,
                    },
                );
            }
            log::error!("internal error while checking {}: {what}", monitor.url);
            Observation::without_response(
                start.elapsed(),
                Outcome::Down {
                    reason: Reason::Protocol,
                    detail: format!("internal error in sitewatch: {what}"),
                },
            )
        });
    let observation = pool.selfwatch.judge(observation, start, Instant::now());
    let observation = pool
        .planned
        .judge(job.monitor, observation, monitors, &pool.stats);
    pool.stats.set_busy(id, None);
    CheckRecord {
        monitor: job.monitor,
        started_at,
        lateness: start.saturating_duration_since(job.due),
        queued: start.saturating_duration_since(job.dispatched),
        observation,
    }
}
