//! A monitor's id and group as the surface shows them and finds monitors by.
//!
//! The one place that asks the model for them, so the rest of the surface does not care how
//! they are derived.

use crate::config::Monitor;

/// The monitor's id (unique in the config).
pub fn id(m: &Monitor) -> &str {
    m.id()
}

/// The monitor's display group, if any.
pub fn group(m: &Monitor) -> Option<&str> {
    m.group()
}
