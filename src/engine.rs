//! Wires one run together: builds every part, starts the threads, and shuts them down in
//! pipeline order.
//!
//! Threads and channels (see ARCHITECTURE.md):
//! scheduler —jobs (bounded, `--queue`)→ workers —events (bounded, via `Fanout`)→ printer;
//! workers —done (unbounded, ≤ one message per monitor)→ scheduler, which publishes state
//! changes through the same `Fanout`; the reporter reads the stats.
//!
//! Shutdown: the stop channel disconnects (Ctrl-C/SIGTERM), the `--duration` deadline passes, or
//! in once mode every monitor has been checked. The scheduler returns and drops the job sender;
//! workers skip what is still queued, finish the check in hand (bounded by its timeout) and exit;
//! once the scheduler and the last worker have dropped their `Fanout`, the printer drains and
//! exits; then the reporter
//! is stopped and the summary is built from the final counters.
//! A second stop request ([`Stop::now`]) ends the wait for the workers: the printer and the
//! writer take what is already queued and end, the notifier is not waited for, and the summary
//! is marked interrupted. Nothing measured is lost; checks in flight are abandoned.
//!
//! Notifications (when the config has a `notify` list): the `Fanout` also hands state changes
//! to the notifier thread (`notify::dispatcher`), which feeds one delivery thread per channel.
//! It is finished after the printer and before the summary, waiting at most [`NOTIFY_GRACE`]
//! for deliveries in progress, so the summary counts every notification that was lost.
//! History (optional): the `Fanout` also feeds the writer thread (`store::writer`) through its
//! own bounded channel. It is joined after the printer and before the summary is built, so the
//! summary counts every result it could not write and every check it counts is committed.
//!
//! sitewatch's own condition (`selfwatch`): before anything starts, the open-files limit is
//! raised and checked against `--workers`. The heartbeat thread (always) and the canary thread
//! (with a `connectivity` key) publish through the same `Fanout`; they are stopped and joined
//! after the workers and before the printer, so their last lines are printed and stored.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{after, bounded, never, select, unbounded};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::Error;
use crate::event::Fanout;
use crate::maintenance::{self, Planned};
use crate::notify::Notifier;
use crate::output::{run_printer, Format};
use crate::probe::Probe;
use crate::reload::{self, Watcher};
use crate::reporter::Reporter;
use crate::scheduler::{self, Cadence, Mode, Schedule, Wiring};
use crate::selfwatch::canary::{Guard, Network};
use crate::selfwatch::pause::{self, Pauses};
use crate::selfwatch::{limits, SelfWatch};
use crate::signal::Stop;
use crate::stats::Stats;
use crate::store::writer::{self as history_writer, History, Writer};
use crate::summary::Summary;
use crate::worker::{self, Pool, WorkerChannels};

/// Events the printer may lag behind by before lines are dropped (and counted).
const RECORD_BUFFER: usize = 65_536;
/// Longest a stopping run waits for notifications still being delivered.
pub const NOTIFY_GRACE: Duration = Duration::from_secs(5);

/// How a run behaves, validated.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads.
    pub workers: NonZeroUsize,
    /// Capacity of the job queue between scheduler and workers.
    pub queue: NonZeroUsize,
    /// Time between status reports.
    pub report_every: Duration,
    /// Repeat on intervals, or check each monitor once.
    pub mode: Mode,
    /// Output format.
    pub format: Format,
    /// Stop by itself after this long.
    pub duration: Option<Duration>,
    /// Share of the workers that suspect checks (failing, retrying, down or slow monitors) may
    /// occupy, in (0, 1]; first checks may also borrow the idle healthy part of the pool.
    pub suspect_share: f64,
    /// The live status surface, when asked for (`--listen`, `server.listen`, demo).
    pub serve: Option<crate::serve::Settings>,
}

/// What a run needs to reload its config (see `reload`).
pub struct Reload {
    /// The config file; `None` (the demo) leaves nothing to reload.
    pub path: Option<std::path::PathBuf>,
    /// The shard this instance checks (`--shard`): a reloaded config is cut to it too.
    pub shard: Option<crate::config::Shard>,
    /// Monitors of URLs given on the command line, added to every reloaded config.
    pub extra: Vec<crate::config::Monitor>,
    /// The config file as it was just before it was read.
    pub loaded: reload::FileStamp,
    /// SIGHUP's reload requests.
    pub requests: crossbeam_channel::Receiver<()>,
    /// The last reload's outcome, for the health check.
    pub status: Arc<reload::Status>,
}

/// Starts a named thread; the OS refusing one is an [`Error::Thread`].
pub(crate) fn spawn<F>(name: String, f: F) -> Result<JoinHandle<()>, Error>
where
    F: FnOnce() + Send + 'static,
{
    thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(Error::Thread)
}

/// Runs the monitors in `config` until stopped; returns the final summary (already printed).
/// With `history`, every check and state change is also written to its database.
///
/// Takes the config by value so that its monitors are moved, not copied, into the one shared
/// list the threads read: with a long list a copy doubled sitewatch's memory.
pub fn run(
    config: Config,
    options: &Options,
    probe: Arc<dyn Probe>,
    stop: Stop,
    history: Option<History>,
    reload: Reload,
) -> Result<Summary, Error> {
    let workers = options.workers.get();
    // Bound first: an address in use fails the run before anything starts.
    let listener = options
        .serve
        .as_ref()
        .map(crate::serve::Bound::bind)
        .transpose()?;
    let open_files = limits::prepare(workers);
    // Arc::new, not into(): an `Arc<[Monitor]>` would copy the whole list once more.
    let monitors = Arc::new(config.monitors);
    let catalog = Arc::new(Catalog::new(Arc::clone(&monitors)));
    let mut stats = Stats::new(monitors.len(), workers);
    // Per-monitor `/metrics` counters cost memory: kept only when they will be served.
    if options
        .serve
        .as_ref()
        .is_some_and(|s| s.prometheus.per_monitor)
    {
        stats = stats.with_monitor_counters();
    }
    let stats = Arc::new(stats);
    let schedule = Schedule::new(
        monitors.iter().map(|m| Cadence {
            interval: m.interval,
            policy: m.policy(),
        }),
        options.mode,
    )
    .with_suspect_share(workers, options.suspect_share);
    let stopping = Arc::new(AtomicBool::new(false));

    let (jobs_tx, jobs_rx) = bounded(options.queue.get());
    let (done_tx, done_rx) = unbounded();
    let (printer_tx, printer_rx) = bounded(RECORD_BUFFER);
    let (reporter_stop_tx, reporter_stop_rx) = bounded::<()>(0);

    let printer = {
        let monitors = Arc::clone(&catalog);
        let format = options.format;
        let stats = Arc::clone(&stats);
        let interrupt = stop.now.clone();
        spawn("sitewatch-printer".into(), move || {
            run_printer(printer_rx, monitors, format, stats, interrupt)
        })?
    };
    let reporter = Reporter {
        stats: Arc::clone(&stats),
        monitors: Arc::clone(&catalog),
        queue: jobs_rx.clone(),
        format: options.format,
        every: options.report_every,
    };
    let reporter = spawn("sitewatch-reporter".into(), move || {
        reporter.run(reporter_stop_rx)
    })?;

    let origin = Instant::now();
    let pauses = Arc::new(Pauses::new(origin));
    let network = config.connectivity.as_ref().map(|_| Network::new(origin));
    let (network, nudged) = match network {
        Some((network, nudged)) => (Some(Arc::new(network)), Some(nudged)),
        None => (None, None),
    };
    let selfwatch = Arc::new(SelfWatch {
        pauses: Arc::clone(&pauses),
        network: network.clone(),
        local: Default::default(),
    });
    let planned = Arc::new(Planned::new(config.plan));
    let pool = Arc::new(Pool {
        monitors: Arc::clone(&catalog),
        probe: Arc::clone(&probe),
        stats: Arc::clone(&stats),
        stopping: Arc::clone(&stopping),
        selfwatch,
        planned: Arc::clone(&planned),
    });
    let mut fanout = Fanout::new(printer_tx, Arc::clone(&stats));
    let history_db = history.as_ref().map(|h| h.store.path().to_path_buf());
    let history_path = history_db.clone();
    let notifier = match Notifier::start(
        &config.notify,
        Arc::clone(&catalog),
        Arc::clone(&stats),
        history_db,
        Arc::clone(&planned),
    )? {
        Some((notifier, changes)) => {
            fanout = fanout.with_notifier(changes);
            Some(notifier)
        }
        None => None,
    };
    let mut writer = None;
    if let Some(history) = history {
        let (history_tx, history_rx) = bounded(history_writer::CHANNEL);
        let body = Writer::new(history, Arc::clone(&monitors), Arc::clone(&stats))
            .reloadable(Arc::clone(&catalog))
            .interruptible(stop.now.clone());
        writer = Some(spawn("sitewatch-history".into(), move || {
            body.run(history_rx);
        })?);
        fanout = fanout.with_history(history_tx);
    }
    let server = match listener {
        Some(listener) => {
            let mut ctx = crate::serve::Ctx::new(
                Arc::clone(&stats),
                Arc::clone(&monitors),
                Arc::clone(&pauses),
                history_path.clone(),
                origin,
            )
            .with_planned(Arc::clone(&planned));
            ctx.reload = Arc::clone(&reload.status);
            ctx.catalog = Arc::clone(&catalog);
            ctx.prometheus = Some(crate::metrics::Prometheus::new(
                options
                    .serve
                    .as_ref()
                    .map(|s| s.prometheus)
                    .unwrap_or_default(),
                Arc::clone(&monitors),
                Arc::clone(&probe),
                // Half the serving threads at most: the others keep serving pages.
                (crate::serve::THREADS / 2).max(1),
                Some(jobs_rx.clone()),
            ));
            let pending = crate::serve::pending_connections(workers, open_files);
            let server = listener.start(Arc::new(ctx), pending)?;
            log::info!("listening on http://{}/", server.addr());
            crate::notify::alertmanager::set_status_page(format!("http://{}", server.addr()));
            Some(server)
        }
        None => None,
    };
    let events = Arc::new(fanout);
    // Stops the heartbeat and canary threads when dropped.
    let (selfwatch_stop_tx, selfwatch_stop_rx) = bounded::<()>(0);
    let mut selfwatch_threads = Vec::with_capacity(2);
    {
        let (stats, events, stop) = (
            Arc::clone(&stats),
            Arc::clone(&events),
            selfwatch_stop_rx.clone(),
        );
        let pauses = Arc::clone(&pauses);
        selfwatch_threads.push(spawn("sitewatch-heartbeat".into(), move || {
            pause::run(pauses, stats, events, stop)
        })?);
    }
    if let (Some(connectivity), Some(network), Some(nudged)) =
        (config.connectivity, network, nudged)
    {
        let guard = Guard {
            connectivity,
            probe,
            network,
            pauses,
            stats: Arc::clone(&stats),
            events: Arc::clone(&events),
        };
        let stop = selfwatch_stop_rx.clone();
        selfwatch_threads.push(spawn("sitewatch-canary".into(), move || {
            guard.run(nudged, stop)
        })?);
    }
    // Windows from the config or the history database (ended with the selfwatch threads).
    if !planned.windows().is_empty() || history_path.is_some() {
        let watch = maintenance::watch::Watch {
            planned,
            monitors: Arc::clone(&monitors),
            db: history_path,
        };
        let stop = selfwatch_stop_rx.clone();
        selfwatch_threads.push(spawn("sitewatch-maintenance".into(), move || {
            watch.run(stop)
        })?);
    }
    drop(selfwatch_stop_rx);
    let mut pool_threads = Vec::with_capacity(workers);
    // Each worker holds a sender until it ends: the channel disconnects when all have.
    let (alive_tx, workers_ended) = bounded::<()>(0);
    for id in 0..workers {
        let pool = Arc::clone(&pool);
        let alive = alive_tx.clone();
        let channels = WorkerChannels {
            jobs: jobs_rx.clone(),
            done: done_tx.clone(),
            events: Arc::clone(&events),
        };
        match worker::spawn(id, move || {
            worker::run(id, &pool, channels);
            drop(alive);
        }) {
            Ok(handle) => pool_threads.push(handle),
            // Without a single worker nothing can be checked: that is an error. Short of the
            // full pool, monitoring goes on with fewer workers, and says so.
            Err(e) if id == 0 => return Err(e),
            Err(e) => {
                log::warn!(
                    "sitewatch itself could start only {id} of {workers} workers ({e}); it goes \
                     on with {id}. To fix: {}",
                    crate::probe::LocalKind::Threads.advice()
                );
                break;
            }
        }
    }
    drop(alive_tx);
    // Only the workers (and, for events, the scheduler) hold these now, so their exit is what
    // closes the channels.
    drop((jobs_rx, done_tx));

    // The reload thread: only a repeating run with a config file reloads. It stops with the
    // graceful stop (a reload during the shutdown would only be lost work).
    let (plans_tx, plans_rx) = bounded(1);
    let mut reloader = None;
    if let (Mode::Repeat, Some(path)) = (options.mode, reload.path) {
        let watcher = Watcher {
            path,
            shard: reload.shard,
            extra: reload.extra,
            loaded: reload.loaded,
            catalog: Arc::clone(&catalog),
            plans: plans_tx,
            status: Arc::clone(&reload.status),
        };
        let (requests, stop) = (reload.requests, stop.graceful.clone());
        reloader = Some(spawn("sitewatch-reload".into(), move || {
            watcher.run(requests, stop)
        })?);
    } else {
        drop(plans_tx);
    }
    let wiring = Wiring {
        jobs: jobs_tx,
        done: done_rx,
        stop: stop.graceful.clone(),
        deadline: options.duration.map_or_else(never, after),
        events,
        stopping: Arc::clone(&stopping),
        stop_now: stop.now.clone(),
        reloads: plans_rx,
        catalog: Arc::clone(&catalog),
    };
    let scheduler = {
        let stats = Arc::clone(&stats);
        let start = Instant::now();
        spawn("sitewatch-scheduler".into(), move || {
            scheduler::run(schedule, start, wiring, stats)
        })?
    };

    join(scheduler);
    stopping.store(true, Ordering::Relaxed);
    // The scheduler is gone, so a plan being sent fails and the reload thread ends (it also
    // watches the stop; a run that ended by itself leaves it to the process exit).
    drop(reloader);
    let running = stats.in_flight().len();
    if options.mode == Mode::Repeat && running > 0 {
        log::info!("waiting for {running} check(s) in flight to finish (at most their timeout)");
    }
    // A stop at once (second request) ends this wait: the workers are left to the process
    // exit, and the printer and the writer, told by the same channel, take what is queued.
    let mut abandoned = 0;
    select! {
        recv(workers_ended) -> _ => {}
        recv(stop.now) -> _ => abandoned = stats.in_flight().len(),
    }
    if abandoned == 0 && !stop.is_now() {
        for handle in pool_threads {
            join(handle);
        }
    }
    // The heartbeat ends within a beat; the canary thread after the canary it is checking
    // (at most its timeout). A stop at once does not wait for them either.
    drop(selfwatch_stop_tx);
    if !stop.is_now() {
        for handle in selfwatch_threads {
            join(handle);
        }
    }
    join(printer);
    // Every `Fanout` is gone: the notifier sends what it holds and its deliveries finish.
    if let Some(notifier) = notifier {
        notifier.finish(NOTIFY_GRACE, &stop.now);
    }
    // Every `Fanout` is gone (or the stop is at once), so the writer commits what it holds
    // and ends.
    if let Some(writer) = writer {
        join(writer);
    }
    drop(reporter_stop_tx);
    join(reporter);
    if let Some(server) = server {
        server.stop();
    }

    // The list as the last reload left it (tombstones included: their checks were counted).
    let monitors = catalog.load();
    let mut summary = Summary::collect(&stats, &monitors);
    if options.mode == Mode::Once {
        summary = summary.with_undecided(&stats, &monitors);
    }
    if stop.is_now() {
        summary = summary.mark_interrupted(abandoned);
    }
    summary.emit(options.format);
    Ok(summary)
}

fn join(handle: JoinHandle<()>) {
    let name = handle.thread().name().unwrap_or("thread").to_string();
    if handle.join().is_err() {
        log::error!("{name} panicked; its results up to then are kept");
    }
}
