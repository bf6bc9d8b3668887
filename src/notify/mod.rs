//! Notifications: telling people when a monitor goes down, recovers, stays down or flaps, and
//! once a day how the last 24 hours went.
//!
//! Why it is built this way: delivery is slow and unreliable (remote chat services, webhooks that
//! hang, scripts that never exit), and checks must never wait for it. So notifications live on
//! their own threads, fed through bounded channels with `try_send`:
//!
//! ```text
//! scheduler ──Fanout (StateChange, bounded, try_send)──► notifier thread (dispatcher.rs)
//!                                                         │ grouping window, flapping damping,
//!                                                         │ reminders, daily digest
//!                 ┌──────────── try_send, bounded per channel ─────────────┐
//!                 ▼                                                        ▼
//!        delivery thread "ops-slack"  …                           delivery thread "pager"
//!        retries with backoff, then "notification lost: …"        (each its own queue)
//! ```
//!
//! A slow or dead endpoint holds up only its own delivery thread; when that thread's queue is
//! full, further messages for it are dropped and counted as lost, never waited for.
//!
//! Each kind of channel is one file behind the small [`Channel`] trait: [`webhook`] (a JSON
//! document), [`slack`], [`discord`], [`ntfy`] (each service's documented payload) and
//! [`command`] (a program with the event in its environment and on stdin). What is sent is a
//! [`Notification`]: one [`Alert`], a group of alerts, a [`Digest`] or a test message. Its
//! text and JSON renderings live in [`render`], so every channel says the same thing.
//!
//! Shutdown: when the last [`crate::event::Fanout`] is dropped, the notifier sends what it still
//! holds at once (ignoring the grouping window), then closes the delivery queues;
//! [`Notifier::finish`] tells delivery threads to make their remaining retries without waiting,
//! and waits a bounded time for them.

pub mod alertmanager;
pub mod chat;
pub mod command;
pub mod config;
mod delivery;
pub mod digest;
pub mod discord;
pub mod dispatcher;
pub mod history;
mod http;
pub mod ntfy;
pub mod render;
pub mod slack;
pub mod webhook;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::engine::spawn;
use crate::error::Error;
use crate::event::StateChange;
use crate::probe::Reason;
use crate::state::State;
use crate::stats::Stats;

pub use config::{ChannelKind, ChannelSpec, Channels};
pub use digest::{next_digest_at, Digest, DigestSource, DigestTime, Incident, MonitorDigest};

/// State changes the notifier may lag behind by before they are dropped (and counted as lost).
pub const EVENT_BUFFER: usize = 4096;
/// Messages one channel's delivery thread may lag behind by before further ones are dropped.
pub const DELIVERY_BUFFER: usize = 64;
/// One way of delivering a notification: a webhook, a chat service, a program.
///
/// `deliver` makes exactly one attempt and says why it failed; retries, backoff and giving up
/// are the delivery thread's business, the same for every channel.
pub trait Channel: Send {
    /// Makes one attempt to deliver `notification`.
    fn deliver(&self, notification: &Notification) -> Result<(), String>;
}

/// What happened to one monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The monitor went down (from `up`, or from `unknown` at start).
    Down,
    /// The monitor came back up after being down.
    Recovered,
    /// The monitor is still down (`remind_every`).
    Reminder,
    /// The monitor changed state more than `flap_threshold` times within `flap_window`.
    Flapping,
    /// The monitor answers but needs attention (from `up`, or from `unknown` at start).
    Degraded,
    /// The monitor is no longer degraded: back to `up`.
    Cleared,
}

impl Kind {
    /// `down`, `recovered`, `reminder`, `flapping`, `degraded` or `cleared`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Down => "down",
            Kind::Recovered => "recovered",
            Kind::Reminder => "reminder",
            Kind::Flapping => "flapping",
            Kind::Degraded => "degraded",
            Kind::Cleared => "cleared",
        }
    }
}

/// One event about one monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// What happened.
    pub kind: Kind,
    /// The monitor's URL.
    pub url: String,
    /// The monitor's id (see [`crate::config::identity`]).
    pub id: String,
    /// The monitor's name, if it has one.
    pub name: Option<String>,
    /// The monitor's `group`, if it has one.
    pub group: Option<String>,
    /// The state before the event (for a reminder, `down`).
    pub from: State,
    /// The state now.
    pub to: State,
    /// When it happened.
    pub at: SystemTime,
    /// When the outage began (`down`, `reminder`, `recovered`); for `flapping`, when the first
    /// of the counted changes happened.
    pub since: SystemTime,
    /// How long the monitor was (`recovered`) or has been (`reminder`) down.
    pub down_for: Option<Duration>,
    /// Failed attempts behind a `down`.
    pub attempts: u32,
    /// The deciding check's failure reason.
    pub reason: Option<Reason>,
    /// The deciding check's status code.
    pub status: Option<u16>,
    /// The deciding check's failure detail.
    pub detail: Option<String>,
    /// `flapping`: state changes counted within the window.
    pub changes: Option<u32>,
    /// `flapping`, and an alert sent when flapping ends: the flapping window.
    pub flap_window: Option<Duration>,
    /// True for the `down` or `recovered` sent once a flapping monitor has been stable again.
    pub after_flapping: bool,
}

impl Alert {
    /// The monitor's name, or its URL.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }
}

/// What a channel is given to deliver.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// One event about one monitor.
    Alert(Alert),
    /// Several events that arrived within one grouping window, in arrival order.
    Group(Vec<Alert>),
    /// The daily summary.
    Digest(Digest),
    /// `sitewatch notify test`: proves the channel works.
    Test {
        /// The channel's name.
        channel: String,
        /// When it was sent.
        at: SystemTime,
    },
}

impl Notification {
    /// The event name: `down`, `recovered`, `reminder`, `flapping`, `group`, `digest` or `test`.
    pub fn event(&self) -> &'static str {
        match self {
            Notification::Alert(a) => a.kind.as_str(),
            Notification::Group(_) => "group",
            Notification::Digest(_) => "digest",
            Notification::Test { .. } => "test",
        }
    }

    /// When the notification was made (a group: its latest event).
    pub fn at(&self) -> SystemTime {
        match self {
            Notification::Alert(a) => a.at,
            Notification::Group(alerts) => alerts
                .iter()
                .map(|a| a.at)
                .max()
                .unwrap_or(SystemTime::UNIX_EPOCH),
            Notification::Digest(d) => d.to,
            Notification::Test { at, .. } => *at,
        }
    }

    /// The most severe kind it carries (a down beats a recovery), for priorities and colours.
    pub fn worst(&self) -> Option<Kind> {
        let rank = |k: Kind| match k {
            Kind::Down => 5,
            Kind::Flapping => 4,
            Kind::Reminder => 3,
            Kind::Degraded => 2,
            Kind::Recovered => 1,
            Kind::Cleared => 0,
        };
        match self {
            Notification::Alert(a) => Some(a.kind),
            Notification::Group(alerts) => alerts.iter().map(|a| a.kind).max_by_key(|&k| rank(k)),
            Notification::Digest(_) | Notification::Test { .. } => None,
        }
    }
}
/// Builds each channel's sender from its spec.
pub fn build_channel(spec: &ChannelSpec) -> Box<dyn Channel> {
    match &spec.kind {
        ChannelKind::Webhook { url, headers } => {
            Box::new(webhook::Webhook::new(url, headers, spec.timeout))
        }
        ChannelKind::Slack { url } => Box::new(slack::Slack::new(url, spec.timeout)),
        ChannelKind::Discord { url, username } => {
            Box::new(discord::Discord::new(url, username.clone(), spec.timeout))
        }
        ChannelKind::Ntfy { url, token } => {
            Box::new(ntfy::Ntfy::new(url, token.as_ref(), spec.timeout))
        }
        ChannelKind::Command { program, shell } => {
            Box::new(command::Program::new(program.clone(), *shell, spec.timeout))
        }
        ChannelKind::Alertmanager {
            urls,
            severity,
            resend,
        } => Box::new(alertmanager::Alertmanager::new(
            urls,
            severity,
            *resend,
            spec.timeout,
        )),
    }
}
/// The outcome of `sitewatch notify test` for one channel.
#[derive(Debug)]
pub struct TestOutcome {
    /// The channel's name.
    pub name: String,
    /// Its type.
    pub kind: &'static str,
    /// Delivered, or why not.
    pub result: Result<(), String>,
}

/// Sends a [`Notification::Test`] through every channel, or only the one named `only`, one
/// attempt each (no retries: the point is to see at once what is wrong), one after the other.
/// `Err` when `only` names no channel; the message lists the channels.
pub fn send_test(channels: &Channels, only: Option<&str>) -> Result<Vec<TestOutcome>, String> {
    let selected: Vec<&ChannelSpec> = channels
        .specs
        .iter()
        .filter(|s| only.is_none_or(|n| s.name == n))
        .collect();
    if let (Some(name), true) = (only, selected.is_empty()) {
        let names: Vec<&str> = channels.specs.iter().map(|s| s.name.as_str()).collect();
        return Err(format!(
            "no channel is named {name:?}; the channels are {}",
            names.join(", ")
        ));
    }
    Ok(selected
        .into_iter()
        .map(|spec| TestOutcome {
            name: spec.name.clone(),
            kind: spec.kind.type_name(),
            result: build_channel(spec).deliver(&Notification::Test {
                channel: spec.name.clone(),
                at: SystemTime::now(),
            }),
        })
        .collect())
}
/// A running notifier: the dispatcher thread and one delivery thread per channel.
pub struct Notifier {
    threads: Vec<JoinHandle<()>>,
    stop: Sender<()>,
    done: Receiver<()>,
    in_delivery: Arc<AtomicUsize>,
    stats: Arc<Stats>,
}

impl Notifier {
    /// Starts the notifier for `channels` (none: returns `None`). State changes go in through
    /// the returned sender; when every clone of it is dropped, the notifier flushes and ends.
    pub fn start(
        channels: &Channels,
        catalog: Arc<Catalog>,
        stats: Arc<Stats>,
        history_db: Option<PathBuf>,
        planned: Arc<crate::maintenance::Planned>,
    ) -> Result<Option<(Notifier, Sender<StateChange>)>, Error> {
        let monitors = catalog.load();
        if channels.specs.is_empty() {
            return Ok(None);
        }
        if channels.offset_guessed {
            log::warn!(
                "the local UTC offset could not be read; daily digest times are taken as UTC \
                 (set utc_offset on the channel to choose)"
            );
        }
        let (events_tx, events_rx) = bounded(EVENT_BUFFER);
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let (done_tx, done_rx) = bounded::<()>(0);
        let in_delivery = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::with_capacity(channels.specs.len() + 1);
        let mut queues = Vec::with_capacity(channels.specs.len());
        for (i, spec) in channels.specs.iter().enumerate() {
            let (tx, rx) = bounded(DELIVERY_BUFFER);
            let courier = delivery::Courier {
                name: spec.name.clone(),
                channel: build_channel(spec),
                retries: spec.retries,
                retry_delay: spec.retry_delay,
                stop: stop_rx.clone(),
                stats: Arc::clone(&stats),
                in_delivery: Arc::clone(&in_delivery),
            };
            let done = done_tx.clone();
            threads.push(spawn(format!("sitewatch-notify-{i}"), move || {
                courier.run(rx);
                drop(done);
            })?);
            queues.push(tx);
        }
        let mut dispatcher = dispatcher::Dispatcher::new(
            &channels.specs,
            Arc::clone(&monitors),
            Arc::clone(&stats),
            SystemTime::now(),
        )
        .with_catalog(Arc::clone(&catalog))
        .quiet_during(planned);
        // The digest reads the history database when the run keeps one, its memory otherwise.
        if let Some(path) = history_db {
            let source =
                history::HistoryDigest::new(path, Arc::clone(&monitors)).following(catalog);
            dispatcher = dispatcher.with_source(Box::new(source));
        }
        let outlets = dispatcher::Outlets {
            queues,
            names: channels.specs.iter().map(|s| s.name.clone()).collect(),
            stats: Arc::clone(&stats),
            in_delivery: Arc::clone(&in_delivery),
        };
        let done = done_tx;
        threads.push(spawn("sitewatch-notifier".into(), move || {
            dispatcher::run(dispatcher, events_rx, outlets);
            drop(done);
        })?);
        log::info!(
            "notifications: {} channel(s): {}",
            channels.specs.len(),
            channels
                .specs
                .iter()
                .map(|s| format!("{} ({})", s.name, s.kind.type_name()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Some((
            Notifier {
                threads,
                stop: stop_tx,
                done: done_rx,
                in_delivery,
                stats,
            },
            events_tx,
        )))
    }

    /// Ends the notifier once every state-change sender is gone: delivery threads make their
    /// remaining retries without waiting, and this waits at most `grace` for what is in
    /// delivery, or not at all once `interrupt` disconnects (a stop at once). Messages still
    /// in delivery after that are counted as lost.
    pub fn finish(self, grace: Duration, interrupt: &Receiver<()>) {
        let Notifier {
            threads,
            stop,
            done,
            in_delivery,
            stats,
        } = self;
        drop(stop);
        let started = std::time::Instant::now();
        // A stop at once (`interrupt` disconnected) does not wait at all.
        let ended = crossbeam_channel::select! {
            recv(done) -> _ => Ok(()),
            recv(interrupt) -> _ => Err(RecvTimeoutError::Timeout),
            default(grace) => Err(RecvTimeoutError::Timeout),
        };
        match ended {
            Err(RecvTimeoutError::Disconnected) | Ok(()) => {
                for handle in threads {
                    let name = handle.thread().name().unwrap_or("notifier").to_string();
                    if handle.join().is_err() {
                        log::error!("{name} panicked; some notifications may be lost");
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let left = in_delivery.load(Ordering::SeqCst);
                if left == 0 {
                    return;
                }
                log::warn!(
                    "notification lost: {left} message(s) still being delivered {} after the \
                     stop; not waiting longer",
                    humantime::format_duration(Duration::from_secs(started.elapsed().as_secs()))
                );
                stats.add_lost_notifications(left as u64);
            }
        }
    }
}
