//! What the pipeline publishes — finished checks and state changes — and how it reaches its
//! consumers without ever blocking the publisher.
//!
//! Workers publish [`Event::Check`], the scheduler publishes [`Event::State`]. [`Fanout`] hands
//! each event to every sink (the printer; the notifier, state changes only, when there are
//! notification channels) with `try_send` on a bounded channel: a sink that has fallen that
//! far behind (stdout blocked, disk stalled) loses the event, and the loss is counted in
//! [`Stats`] and shown in the report and summary. Nothing a worker or the scheduler does waits
//! on a consumer.

use std::sync::Arc;
use std::time::SystemTime;

use crossbeam_channel::{Sender, TrySendError};

use crate::probe::{Cause, Reason};
use crate::state::State;
use crate::stats::Stats;
use crate::worker::CheckRecord;

/// A monitor changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// Index of the monitor.
    pub monitor: usize,
    /// When the change was decided.
    pub at: SystemTime,
    /// The state before.
    pub from: State,
    /// The state now.
    pub to: State,
    /// When the previous state began (the start of the run for `unknown`).
    pub since: SystemTime,
    /// Failed attempts behind a change to `down` (1 + retries).
    pub attempts: u32,
    /// The deciding check's failure reason, if it failed.
    pub reason: Option<Reason>,
    /// The deciding check's status code, if a response arrived.
    pub status: Option<u16>,
    /// The deciding check's failure detail, if it failed.
    pub detail: Option<String>,
}

/// A time sitewatch could not measure fairly: a stall of the process, or its network impaired.
/// The detector also logs it on stderr; the printer shows it as a line, and the history records
/// each finished one so reports count it neither as up nor as down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impairment {
    /// When it began.
    pub start: SystemTime,
    /// When it ended; `None` on the line that says it began.
    pub end: Option<SystemTime>,
    /// Paused, or network impaired.
    pub cause: Cause,
    /// What was seen.
    pub detail: String,
}

/// Something the printer (and other sinks) consume.
///
/// Shared, not copied, between sinks: handing an event to the history writer as well as the
/// printer costs a reference count, and a channel slot is 16 bytes, so the sinks' bounded
/// queues (up to 100,000 events) take little memory.
#[derive(Debug, Clone)]
pub enum Event {
    /// One finished check.
    Check(Arc<CheckRecord>),
    /// A monitor changed state.
    State(Arc<StateChange>),
    /// A time sitewatch could not measure (its line is logged where it was detected).
    Impairment(Arc<Impairment>),
}

/// Every consumer of events.
pub struct Fanout {
    printer: Sender<Event>,
    notifier: Option<Sender<StateChange>>,
    history: Option<Sender<Event>>,
    stats: Arc<Stats>,
}

impl Fanout {
    /// A fanout to the printer; losses are counted in `stats`.
    pub fn new(printer: Sender<Event>, stats: Arc<Stats>) -> Fanout {
        Fanout {
            printer,
            notifier: None,
            history: None,
            stats,
        }
    }

    /// Also hands every state change to the notifier. A change it cannot take (its queue full,
    /// or the notifier gone) is counted as a lost notification, never waited for.
    pub fn with_notifier(mut self, notifier: Sender<StateChange>) -> Fanout {
        self.notifier = Some(notifier);
        self
    }

    /// Also hands every event to the history writer. An event it cannot take (channel full, or
    /// the writer gone) is counted as unwritten, never waited for.
    pub fn with_history(mut self, history: Sender<Event>) -> Fanout {
        self.history = Some(history);
        self
    }

    /// Hands `event` to every sink without blocking.
    pub fn publish(&self, event: Event) {
        if let (Some(notifier), Event::State(change)) = (&self.notifier, &event) {
            if notifier.try_send(StateChange::clone(change)).is_err() {
                self.stats.add_lost_notifications(1);
            }
        }
        if let Some(history) = &self.history {
            if history.try_send(event.clone()).is_err() {
                self.stats.add_unwritten(1);
            }
        }
        match self.printer.try_send(event) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => self.stats.add_dropped_line(),
        }
    }
}
