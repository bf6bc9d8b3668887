//! Parsers for the values every part of the config shares: durations (with their bounds),
//! counts, booleans, secrets (`{"env": "VAR"}`), names, groups and channel names.
//!
//! Each takes a `serde_json::Value` and returns the typed value or a message that names the
//! field and quotes what was found (see `error.rs`); none panics on any input.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::error::{forbidden_in_name, shown};
use crate::model::policy::MIN_RETRY_DELAY;
use crate::model::Secret;

/// Interval between checks of a URL when neither the entry nor `defaults` sets one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Request timeout when neither the entry nor `defaults` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest accepted interval. Anything faster is more likely a typo (`"500ms"`
/// meant as seconds) than a sensible uptime check, and would hammer the target.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Longest accepted interval or timeout. Far beyond any useful setting, but
/// small enough that `Instant::now() + d` can never overflow (which panics) in
/// the scheduler or the HTTP client.
pub(super) const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Hint appended to every duration error, so the user sees the accepted forms.
pub(super) const DURATION_HINT: &str =
    "use a string such as \"30s\", \"1m 30s\" or \"500ms\", or a whole number of seconds such as 30";

/// Parses a duration the way the config does: humantime string, or integer seconds given as a string of digits ("90" → 90 s). Used by the CLI too.
///
/// Only the syntax is checked here; bounds (such as [`MIN_INTERVAL`]) depend
/// on what the duration is for and are checked by the caller.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    // humantime insists on a unit, but a bare number of seconds is what people
    // type on a command line, and matches the JSON integer form.
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("{s} seconds is too large"));
    }
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// Parses a duration field: a non-negative JSON integer of seconds, or a
/// string accepted by [`parse_duration`].
pub(super) fn duration_value(field: &str, value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(n) => match n.as_u64() {
            Some(secs) => Ok(Duration::from_secs(secs)),
            None => Err(format!(
                "{field} {n} is not a valid duration (numbers must be whole and non-negative); {DURATION_HINT}"
            )),
        },
        Value::String(s) => parse_duration(s)
            .map_err(|e| format!("{field} {s:?} is not a valid duration ({e}); {DURATION_HINT}")),
        other => Err(format!(
            "{field} {} is not a valid duration; {DURATION_HINT}",
            shown(other)
        )),
    }
}

/// Validates `interval`: a duration from [`MIN_INTERVAL`] to the maximum.
pub(super) fn interval_value(value: &Value) -> Result<Duration, String> {
    let d = duration_value("interval", value)?;
    if d < MIN_INTERVAL {
        return Err(format!(
            "interval {} is below the minimum of {}",
            humantime::format_duration(d),
            humantime::format_duration(MIN_INTERVAL)
        ));
    }
    check_max("interval", d)
}

/// Validates `timeout`: a non-zero duration up to the maximum.
pub(super) fn timeout_value(value: &Value) -> Result<Duration, String> {
    positive_duration_value("timeout", value)
}

/// Validates a duration that must be above zero (`timeout`, `max_response_time`,
/// `max_backoff`), up to the maximum.
pub(super) fn positive_duration_value(field: &str, value: &Value) -> Result<Duration, String> {
    let d = duration_value(field, value)?;
    if d.is_zero() {
        return Err(format!("{field} must be greater than zero"));
    }
    check_max(field, d)
}

/// Validates `retry_delay`: at least [`MIN_RETRY_DELAY`], up to the maximum.
pub(super) fn retry_delay_value(value: &Value) -> Result<Duration, String> {
    let d = duration_value("retry_delay", value)?;
    if d < MIN_RETRY_DELAY {
        return Err(format!(
            "retry_delay {} is below the minimum of {}",
            humantime::format_duration(d),
            humantime::format_duration(MIN_RETRY_DELAY)
        ));
    }
    check_max("retry_delay", d)
}

/// Validates a whole number from `min` to `max` (`retries`, `recover_after`, `max_redirects`).
pub(super) fn count_value(field: &str, value: &Value, min: u32, max: u32) -> Result<u32, String> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    match n.and_then(|n| u32::try_from(n).ok()) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{field} must be a whole number from {min} to {max}, found {}",
            shown(value)
        )),
    }
}

/// Validates a `true`/`false` setting (`follow_redirects`, `insecure`).
pub(super) fn bool_value(field: &str, value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(format!(
            "{field} must be true or false, found {}",
            shown(other)
        )),
    }
}

/// Rejects durations above [`MAX_DURATION`].
pub(super) fn check_max(field: &str, d: Duration) -> Result<Duration, String> {
    if d > MAX_DURATION {
        return Err(format!(
            "{field} {} is above the maximum of {}",
            humantime::format_duration(d),
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(d)
}

/// A string, or `{"env": "VAR"}` read from the environment now (monitors' `url` and
/// `headers` take the same forms).
pub(crate) fn secret_value(
    field: &str,
    value: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, String> {
    match value {
        Value::String(s) => Ok(Secret::new(s.clone())),
        Value::Object(map) if map.len() == 1 && map.contains_key("env") => match &map["env"] {
            Value::String(var) if !var.is_empty() => match env(var) {
                Some(v) if !v.is_empty() => Ok(Secret::new(v)),
                _ => Err(format!(
                    "{field}: environment variable {var} is not set (or empty)"
                )),
            },
            other => Err(format!(
                "{field}: \"env\" must name an environment variable, found {}",
                shown(other)
            )),
        },
        other => Err(format!(
            "{field} must be a string or {{\"env\": \"VARIABLE\"}}, found {}",
            shown(other)
        )),
    }
}

/// Reads an environment variable for a `{"env": "VAR"}` value.
pub(super) fn env_var(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

/// Longest `name` accepted, in characters.
pub const MAX_NAME: usize = 200;

/// Validates `name`: a non-empty string (trimmed) of at most [`MAX_NAME`] characters, without
/// control characters (a newline would forge a log line, an escape sequence would reach the
/// terminal).
pub(super) fn name_value(value: &Value) -> Result<Box<str>, String> {
    label_value("name", "remove it to use the URL as the label", value).map(Into::into)
}

/// Validates `group` like `name` (at most [`MAX_NAME`] characters, no control or bidi
/// characters).
pub(super) fn group_value(value: &Value) -> Result<Arc<Box<str>>, String> {
    label_value("group", "remove it to leave the monitor ungrouped", value)
        .map(|s| Arc::new(s.into()))
}

/// A display label (`field` is `name` or `group`): a non-empty string, trimmed.
pub(super) fn label_value<'v>(
    field: &str,
    if_empty: &str,
    value: &'v Value,
) -> Result<&'v str, String> {
    let Value::String(s) = value else {
        return Err(format!("{field} must be a string, found {}", shown(value)));
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("{field} is empty; {if_empty}"));
    }
    if let Some(c) = s.chars().find(|&c| forbidden_in_name(c)) {
        return Err(format!(
            "{field} {} contains the control character U+{:04X}; {field}s are shown in logs, \
             terminals and reports, so write them without control or bidi characters",
            shown(value),
            c as u32
        ));
    }
    let chars = s.chars().count();
    if chars > MAX_NAME {
        return Err(format!(
            "{field} is {chars} characters long; the most accepted is {MAX_NAME}"
        ));
    }
    Ok(s)
}

/// Validates an entry's `notify`: a list of channel names (checked against the `notify` list
/// once everything is parsed).
pub(super) fn notify_names_value(value: &Value) -> Result<Vec<String>, String> {
    const HINT: &str = "a list of channel names such as [\"ops-slack\", \"pager\"]";
    let Value::Array(items) = value else {
        return Err(format!("notify must be {HINT}, found {}", shown(value)));
    };
    items
        .iter()
        .map(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            other => Err(format!(
                "notify must be {HINT}; found the item {}",
                shown(other)
            )),
        })
        .collect()
}
