//! Ctrl-C, SIGTERM and SIGHUP: the first one asks for a graceful stop, the second exits at once.
//!
//! The handler (ctrlc runs it on its own thread, not in signal context) drops the only sender of
//! a zero-capacity channel. Every clone of the returned receiver then wakes in its `select!`
//! at the same moment, which is how the scheduler learns to stop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crossbeam_channel::{bounded, Receiver};

use crate::error::Error;

/// Exit status after a second interrupt, as shells report death by SIGINT.
const EXIT_INTERRUPTED: i32 = 130;

/// Installs the process's one signal handler and returns the stop channel it disconnects.
pub fn install() -> Result<Receiver<()>, Error> {
    let (tx, rx) = bounded::<()>(0);
    let tx = Mutex::new(Some(tx));
    let seen = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            log::warn!("stopping: finishing checks in flight; press Ctrl-C again to quit at once");
            drop(tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        } else {
            eprintln!("sitewatch: interrupted again, exiting without a summary");
            std::process::exit(EXIT_INTERRUPTED);
        }
    })
    .map_err(Error::Signal)?;
    Ok(rx)
}
