//! The live list of monitors, which a reload may replace while every thread reads it.
//!
//! Threads index monitors by position (jobs, events, stats, history rows all carry the index),
//! so a reload never moves one: a changed monitor is replaced in place, a removed one stays as
//! a tombstone (its old settings, never scheduled again), and new ones are appended. Readers
//! take the current list with [`Catalog::load`] (a lock held only for an `Arc` clone) once per
//! job, event or report; an index they were given is always inside the list they load, because
//! the scheduler publishes a longer list before it dispatches any of its new monitors.

use std::sync::{Arc, Mutex};

use crate::config::Monitor;

/// The current monitors, swapped whole by a reload.
#[derive(Debug)]
pub struct Catalog {
    current: Mutex<Arc<Vec<Monitor>>>,
    /// By index: removed by a reload (a tombstone, shown nowhere live).
    removed: Mutex<Arc<Vec<bool>>>,
}

impl Catalog {
    /// A catalog starting with `monitors`.
    pub fn new(monitors: Arc<Vec<Monitor>>) -> Catalog {
        Catalog {
            current: Mutex::new(monitors),
            removed: Mutex::default(),
        }
    }

    /// The current list (cheap: one `Arc` clone under a lock held for nothing else).
    pub fn load(&self) -> Arc<Vec<Monitor>> {
        Arc::clone(&self.current.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Which indexes a reload removed (shorter than the list: the rest are live).
    pub fn removed(&self) -> Arc<Vec<bool>> {
        Arc::clone(&self.removed.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the list; it must keep every index of the one before (same length or longer).
    /// `removed` marks the tombstones among them.
    pub fn publish(&self, monitors: Arc<Vec<Monitor>>, removed: Arc<Vec<bool>>) {
        *self.removed.lock().unwrap_or_else(|e| e.into_inner()) = removed;
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        debug_assert!(monitors.len() >= current.len());
        let old = std::mem::replace(&mut *current, monitors);
        drop(current);
        // The old list (possibly the last reference, a million monitors) is freed outside the lock.
        drop(old);
    }
}
