//! Stop requests: Ctrl-C and SIGTERM, and stdout closed by its reader; reload requests: SIGHUP.
//!
//! - The first request asks for a graceful stop: the [`Stop::graceful`] channel disconnects, the
//!   scheduler stops, checks in flight finish, notifications get their grace, the history is
//!   committed and the summary printed.
//! - A request less than [`SAME_REQUEST`] after the last one taken is the same request and is
//!   ignored: `timeout`, and some supervisors, send the signal to the process and then to its
//!   group, so it arrives twice microseconds apart.
//! - A later, second request stops at once: [`Stop::now`] disconnects, and the engine stops
//!   waiting for checks in flight and for notifications; the history writer still commits what
//!   it holds and the summary is printed, marked as interrupted. Nothing measured is lost.
//! - A third exits at once with status 130, without a summary: the way out if even that hangs.
//! - stdout closed by its reader only ever asks for the graceful stop: during a stop it is
//!   nothing new (`… | head` typically got the same Ctrl-C).
//!
//! Signals are taken on threads, never acted on in signal context: Ctrl-C (SIGINT) by ctrlc,
//! SIGTERM and SIGHUP by one small signal-hook thread. SIGINT and SIGTERM are the same stop
//! request (one escalation, so a SIGTERM a moment after a Ctrl-C is a repeat). SIGHUP never
//! stops sitewatch: it checks the `--log-file` for rotation at once and asks for a reload of
//! the config (a `bounded(1)` channel, `try_send`: several SIGHUPs before the reload runs are
//! one reload). SIGXFSZ (a file-size limit reached, `ulimit -f`) is caught by signal-hook and
//! ignored, so writing past the limit fails with an error sitewatch reports instead of killing it.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use signal_hook::consts::{SIGHUP, SIGTERM, SIGXFSZ};
use signal_hook::iterator::Signals;

use crate::error::Error;

/// Exit status after a third stop request, as shells report death by SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;
/// A request this soon after the last one taken is the same request.
pub const SAME_REQUEST: Duration = Duration::from_secs(1);

/// The channels the engine watches; each disconnects (never delivers) when its stage is reached.
#[derive(Debug, Clone)]
pub struct Stop {
    /// Disconnects at the first request: stop gracefully.
    pub graceful: Receiver<()>,
    /// Disconnects at the second: stop at once, keeping what was measured.
    pub now: Receiver<()>,
}

impl Stop {
    /// A stop that is never requested, with the senders that would request it: dropping the
    /// first disconnects [`Stop::graceful`], the second [`Stop::now`].
    pub fn manual() -> (Stop, Sender<()>, Sender<()>) {
        let (graceful_tx, graceful) = bounded(0);
        let (now_tx, now) = bounded(0);
        (Stop { graceful, now }, graceful_tx, now_tx)
    }

    /// True once a stop at once was requested.
    pub fn is_now(&self) -> bool {
        disconnected(&self.now)
    }
}

fn disconnected(rx: &Receiver<()>) -> bool {
    matches!(
        rx.try_recv(),
        Err(crossbeam_channel::TryRecvError::Disconnected)
    )
}

/// Who asked for the stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Ctrl-C or SIGTERM.
    Signal,
    /// stdout was closed by its reader (`sitewatch … | head -1`).
    StdoutClosed,
}

/// What a request does, given the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Same request as the last one (less than [`SAME_REQUEST`] later): nothing.
    Repeat,
    /// First request: stop gracefully.
    Graceful,
    /// Second: stop at once, keeping what was measured.
    Now,
    /// Third: exit at once.
    Exit,
}

/// The pure policy: counts requests, folding repeats within [`SAME_REQUEST`] into one.
#[derive(Debug, Default)]
pub struct Escalation {
    taken: u32,
    last: Option<Instant>,
}

impl Escalation {
    /// Decides what a request arriving at `at` does.
    pub fn request(&mut self, at: Instant) -> Action {
        if self
            .last
            .is_some_and(|last| at.saturating_duration_since(last) < SAME_REQUEST)
        {
            return Action::Repeat;
        }
        self.last = Some(at);
        self.taken += 1;
        match self.taken {
            1 => Action::Graceful,
            2 => Action::Now,
            _ => Action::Exit,
        }
    }
}

struct Switch {
    escalation: Escalation,
    graceful: Option<Sender<()>>,
    now: Option<Sender<()>>,
}

/// Asks for a stop from anywhere (the signal thread, the printer); cheap to clone.
#[derive(Clone)]
pub struct Requests {
    switch: Arc<Mutex<Switch>>,
}

impl Requests {
    /// A fresh pair: nothing requested yet.
    pub fn new() -> (Requests, Stop) {
        let (stop, graceful, now) = Stop::manual();
        let switch = Switch {
            escalation: Escalation::default(),
            graceful: Some(graceful),
            now: Some(now),
        };
        (
            Requests {
                switch: Arc::new(Mutex::new(switch)),
            },
            stop,
        )
    }

    /// Requests a stop; returns what it did. Says on stderr what happens, except for a closed
    /// stdout, which the output reports itself. A third request exits the process.
    pub fn request(&self, cause: Cause) -> Action {
        let mut switch = self.switch.lock().unwrap_or_else(|e| e.into_inner());
        // A reader gone during a stop (`| head` got the same Ctrl-C) is not a second request.
        if cause == Cause::StdoutClosed && switch.escalation.taken > 0 {
            return Action::Repeat;
        }
        let action = switch.escalation.request(Instant::now());
        match (action, cause) {
            (Action::Repeat, _) => {}
            (Action::Graceful, Cause::Signal) => log::warn!(
                "stopping: finishing checks in flight; Ctrl-C again, a second or more later, \
                 stops at once"
            ),
            (Action::Graceful, Cause::StdoutClosed) => {}
            (Action::Now, cause) => log::warn!(
                "stopping at once ({}): not waiting for checks in flight or notifications; \
                 committing the history and printing the summary",
                match cause {
                    Cause::Signal => "second stop signal",
                    Cause::StdoutClosed => "stdout closed",
                }
            ),
            (Action::Exit, _) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "sitewatch: interrupted a third time, exiting without a summary"
                );
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        }
        match action {
            Action::Graceful => drop(switch.graceful.take()),
            Action::Now => drop((switch.graceful.take(), switch.now.take())),
            Action::Repeat | Action::Exit => {}
        }
        action
    }
}

/// Installs the process's signal handling and returns the stop channels it drives, with a
/// handle to request a stop for other reasons, and the channel SIGHUP's reload requests arrive
/// on (one message stands for any number of SIGHUPs not yet taken).
pub fn install() -> Result<(Stop, Requests, Receiver<()>), Error> {
    // Registered first and never read: a handler (rather than the default action, which
    // kills the process) makes a write past a file-size limit fail with EFBIG.
    signal_hook::flag::register(SIGXFSZ, Arc::default()).map_err(Error::Signal)?;
    let (requests, stop) = Requests::new();
    let handler = requests.clone();
    ctrlc::set_handler(move || {
        handler.request(Cause::Signal);
    })
    .map_err(|e| Error::Signal(io::Error::other(e)))?;
    let (reload_tx, reload_rx) = bounded(1);
    let mut signals = Signals::new([SIGTERM, SIGHUP]).map_err(Error::Signal)?;
    let handler = requests.clone();
    std::thread::Builder::new()
        .name("sitewatch-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if signal == SIGHUP {
                    crate::sinks::reopen();
                    // Full: a reload is already asked for and will read the file as it is then.
                    let _ = reload_tx.try_send(());
                } else {
                    handler.request(Cause::Signal);
                }
            }
        })
        .map_err(Error::Thread)?;
    Ok((stop, requests, reload_rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_a_second_is_the_same_request() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut e = Escalation::default();
        assert_eq!(e.request(t0), Action::Graceful);
        assert_eq!(e.request(t0), Action::Repeat, "microseconds later");
        assert_eq!(e.request(ms(999)), Action::Repeat);
        assert_eq!(e.request(ms(1000)), Action::Now);
        assert_eq!(e.request(ms(1500)), Action::Repeat);
        assert_eq!(e.request(ms(2100)), Action::Exit);
    }

    #[test]
    fn requests_disconnect_graceful_then_now() {
        let (requests, stop) = Requests::new();
        assert!(!disconnected(&stop.graceful) && !stop.is_now());
        assert_eq!(requests.request(Cause::StdoutClosed), Action::Graceful);
        assert!(disconnected(&stop.graceful) && !stop.is_now());
        assert_eq!(requests.request(Cause::Signal), Action::Repeat);
        assert!(!stop.is_now());
    }

    #[test]
    fn stdout_closed_during_a_stop_is_not_a_second_request() {
        let (requests, stop) = Requests::new();
        assert_eq!(requests.request(Cause::Signal), Action::Graceful);
        requests.switch.lock().unwrap().escalation.last = None;
        assert_eq!(requests.request(Cause::StdoutClosed), Action::Repeat);
        assert!(!stop.is_now());
    }
}
