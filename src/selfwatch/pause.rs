//! Noticing that sitewatch itself was not running: SIGSTOP/SIGCONT, a suspended laptop, a
//! paused VM, or a machine so overloaded that sitewatch got no CPU for over a second.
//!
//! A heartbeat thread (`sitewatch-heartbeat`) wakes every [`BEAT`] and compares the time that
//! passed with the time it slept: on CLOCK_MONOTONIC, which stops during a suspend on Linux,
//! and on CLOCK_BOOTTIME, which does not (read through `nix`, without `unsafe`). A gap longer
//! than [`BEAT`] + [`STALL`] on either clock is a *stall*: its window, in monotonic time, is
//! published in a small ring of atomics ([`Pauses`]) that workers read without a lock.
//!
//! A worker asks [`Pauses::overlaps`] about a failed check's `[start, end]`: true when the
//! window overlaps a published stall, and also when the heartbeat has not beaten for longer
//! than a stall at the check's end, on either clock. That second test closes the race after
//! SIGCONT or a resume, when a worker can classify its failed check before the heartbeat thread
//! has run again. Such a
//! check is inconclusive: not a failure, not a state change; it is retried on its next
//! occurrence. A success during a stall stays a verdict: the site did answer.
//!
//! Once the checks that were in flight during a stall have ended (or a minute has passed), the
//! heartbeat logs one line, `sitewatch was paused for 10.0 s; 3 checks in flight were
//! retried`, counts the stall in the stats and hands the window to the printer and the history
//! as an [`Impairment`]. It adds no waiting anywhere else: workers only read atomics.
//!
//! Shutdown: the thread ends when its stop channel disconnects.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{select, Receiver};

use crate::event::{Event, Fanout, Impairment};
use crate::probe::Cause;
use crate::stats::Stats;

/// How often the heartbeat wakes.
pub const BEAT: Duration = Duration::from_millis(100);
/// A gap beyond [`BEAT`] longer than this is a stall.
pub const STALL: Duration = Duration::from_secs(1);
/// The longest the heartbeat waits for checks that were in flight during a stall to end
/// before it says how many were retried.
const REPORT_WITHIN: Duration = Duration::from_secs(60);
/// Stall windows remembered. A check lasts at most its timeout, so only recent ones matter.
const RING: usize = 16;

/// A stall window in ms since the origin; `end == 0` while being written or unused.
#[derive(Default)]
struct Window {
    start: AtomicU64,
    end: AtomicU64,
}

/// The published stalls: written by the heartbeat thread only, read by every worker.
pub struct Pauses {
    origin: Instant,
    /// Last beat, ms since `origin`.
    last_beat: AtomicU64,
    /// Last beat on CLOCK_BOOTTIME, ms (0 without that clock): a suspend does not move the
    /// monotonic clock, so only this one shows a suspend still being recovered from.
    last_beat_boot: AtomicU64,
    windows: [Window; RING],
    next: AtomicUsize,
    /// Checks made inconclusive by a stall and not yet told about.
    retried: AtomicU64,
}

impl Default for Pauses {
    fn default() -> Self {
        Pauses::new(Instant::now())
    }
}

fn ms_between(origin: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(origin).as_millis()).unwrap_or(u64::MAX)
}

impl Pauses {
    /// No stall yet; times are measured from `origin`.
    pub fn new(origin: Instant) -> Pauses {
        Pauses {
            origin,
            last_beat: AtomicU64::new(0),
            last_beat_boot: AtomicU64::new(0),
            windows: Default::default(),
            next: AtomicUsize::new(0),
            retried: AtomicU64::new(0),
        }
    }

    fn ms(&self, t: Instant) -> u64 {
        ms_between(self.origin, t)
    }

    /// Records a beat at `now`.
    fn beat(&self, now: Instant, boot: Option<Duration>) {
        if let Some(boot) = boot {
            self.last_beat_boot.store(boot_ms(boot), Ordering::Release);
        }
        self.last_beat.store(self.ms(now), Ordering::Release);
    }

    /// Publishes the stall `[start, end]`. Only the heartbeat thread calls this.
    fn publish(&self, start: Instant, end: Instant) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % RING;
        let w = &self.windows[i];
        w.end.store(0, Ordering::Release);
        w.start.store(self.ms(start), Ordering::Release);
        w.end.store(self.ms(end).max(1), Ordering::Release);
    }

    /// True when a check that ran over `[start, end]` may have been cut by a stall: it
    /// overlaps a published one, or the heartbeat has been silent for longer than a stall at
    /// `end` (a stall is being recovered from and not yet published).
    pub fn overlaps(&self, start: Instant, end: Instant) -> bool {
        let (s, e) = (self.ms(start), self.ms(end));
        let limit = ms_between(self.origin, self.origin + BEAT + STALL);
        let silent = e.saturating_sub(self.last_beat.load(Ordering::Acquire));
        if silent > limit {
            return true;
        }
        // The same after a suspend, which only CLOCK_BOOTTIME saw (a vDSO read; this runs for
        // failed checks only).
        let last_boot = self.last_beat_boot.load(Ordering::Acquire);
        if last_boot != 0 && self.silent_boot(last_boot, boottime()) > limit {
            return true;
        }
        self.windows.iter().any(|w| {
            let b = w.end.load(Ordering::Acquire);
            let a = w.start.load(Ordering::Acquire);
            b != 0 && a <= e && s <= b
        })
    }

    /// Milliseconds of CLOCK_BOOTTIME since the beat at `last_boot` ms, at `now`.
    fn silent_boot(&self, last_boot: u64, now: Option<Duration>) -> u64 {
        now.map_or(0, |now| boot_ms(now).saturating_sub(last_boot))
    }

    /// How long the heartbeat has been silent at `now` (zero before its first beat).
    pub fn silence(&self, now: Instant) -> Duration {
        let last = self.last_beat.load(Ordering::Acquire);
        if last == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(self.ms(now).saturating_sub(last))
    }

    /// The most recent stall published, as instants: `(start, end)`.
    pub fn last_stall(&self) -> Option<(Instant, Instant)> {
        self.windows
            .iter()
            .filter_map(|w| {
                let b = w.end.load(Ordering::Acquire);
                let a = w.start.load(Ordering::Acquire);
                (b != 0).then_some((a, b))
            })
            .max_by_key(|&(_, b)| b)
            .map(|(a, b)| {
                (
                    self.origin + Duration::from_millis(a),
                    self.origin + Duration::from_millis(b),
                )
            })
    }

    /// Counts a check made inconclusive by a stall.
    pub fn add_retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }
}

fn boot_ms(t: Duration) -> u64 {
    u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// CLOCK_BOOTTIME, which keeps counting while the machine is suspended; `None` where there is
/// no such clock.
fn boottime() -> Option<Duration> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).ok()?;
        Some(Duration::new(
            u64::try_from(t.tv_sec()).ok()?,
            u32::try_from(t.tv_nsec()).ok()?,
        ))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}

/// A stall waiting to be told about once the checks it cut have ended.
struct Pending {
    /// Monotonic end of the (last) stall.
    end: Instant,
    /// Total time not running.
    length: Duration,
    /// Wall-clock start and end.
    wall_start: SystemTime,
    wall_end: SystemTime,
}

/// The heartbeat thread's body: beats every [`BEAT`] until `stop` disconnects.
pub fn run(pauses: Arc<Pauses>, stats: Arc<Stats>, events: Arc<Fanout>, stop: Receiver<()>) {
    let mut prev = Instant::now();
    let mut prev_boot = boottime();
    pauses.beat(prev, prev_boot);
    let mut pending: Option<Pending> = None;
    loop {
        select! {
            recv(stop) -> _ => break,
            default(BEAT) => {}
        }
        let now = Instant::now();
        let boot = boottime();
        let mono_gap = now.saturating_duration_since(prev);
        let boot_gap = match (prev_boot, boot) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        };
        let gap = mono_gap.max(boot_gap);
        if gap > BEAT + STALL {
            // Published before the beat, so that a worker sees the stall either way.
            pauses.publish(prev, now);
            stats.add_stall();
            let wall_end = SystemTime::now();
            pending = Some(match pending.take() {
                Some(p) => Pending {
                    end: now,
                    length: p.length + gap,
                    wall_end,
                    ..p
                },
                None => Pending {
                    end: now,
                    length: gap,
                    wall_start: wall_end.checked_sub(gap).unwrap_or(wall_end),
                    wall_end,
                },
            });
        }
        pauses.beat(now, boot);
        (prev, prev_boot) = (now, boot);
        if let Some(p) = &pending {
            let cut_still_running = stats.in_flight().iter().any(|&(_, since)| since < p.end);
            if !cut_still_running || now.saturating_duration_since(p.end) > REPORT_WITHIN {
                let p = pending.take().expect("pending");
                tell(&pauses, &events, &p);
            }
        }
    }
    if let Some(p) = pending {
        tell(&pauses, &events, &p);
    }
}

fn tell(pauses: &Pauses, events: &Fanout, p: &Pending) {
    let n = pauses.retried.swap(0, Ordering::Relaxed);
    let line = format!(
        "sitewatch was paused for {:.1} s; {n} {} in flight {} retried",
        p.length.as_secs_f64(),
        if n == 1 { "check" } else { "checks" },
        if n == 1 { "was" } else { "were" },
    );
    log::warn!("{line}");
    events.publish(Event::Impairment(Arc::new(Impairment {
        start: p.wall_start,
        end: Some(p.wall_end),
        cause: Cause::Paused,
        detail: line,
    })));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_overlapping_a_stall_is_cut_and_others_are_not() {
        let t0 = Instant::now();
        let p = Pauses::new(t0);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        p.beat(at(100), None);
        assert!(!p.overlaps(at(0), at(100)));
        p.publish(at(1000), at(5000));
        p.beat(at(5000), None);
        assert!(p.overlaps(at(900), at(5001)), "spans the stall");
        assert!(p.overlaps(at(4000), at(6000)), "starts inside");
        assert!(!p.overlaps(at(5100), at(5200)), "after it");
        assert!(!p.overlaps(at(200), at(900)), "before it");
    }

    #[test]
    fn a_silent_heartbeat_means_a_stall_is_in_progress() {
        let t0 = Instant::now();
        let p = Pauses::new(t0);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        p.beat(at(1000), None);
        assert!(!p.overlaps(at(1000), at(2000)));
        // SIGCONT: the worker finishes before the heartbeat has run again.
        assert!(p.overlaps(at(1000), at(4000)));
    }

    #[test]
    fn a_suspend_is_seen_on_the_boot_clock_alone() {
        let p = Pauses::new(Instant::now());
        let boot = Duration::from_secs(1000);
        p.beat(Instant::now(), Some(boot));
        let last = p.last_beat_boot.load(Ordering::Relaxed);
        assert_eq!(
            p.silent_boot(last, Some(boot + Duration::from_millis(80))),
            80
        );
        // Ten seconds asleep: the monotonic clock did not move, the boot clock did.
        assert_eq!(
            p.silent_boot(last, Some(boot + Duration::from_secs(10))),
            10_000
        );
        assert_eq!(p.silent_boot(last, None), 0);
    }

    #[test]
    fn the_ring_keeps_the_latest_windows() {
        let t0 = Instant::now();
        let p = Pauses::new(t0);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        for k in 0..(RING as u64 + 4) {
            p.publish(at(k * 10_000), at(k * 10_000 + 2000));
        }
        let last = RING as u64 + 3;
        p.beat(at(last * 10_000 + 5000), None);
        assert!(p.overlaps(at(last * 10_000 + 1000), at(last * 10_000 + 1500)));
        assert!(!p.overlaps(at(1000), at(1500)), "overwritten");
    }
}
