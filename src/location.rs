//! The instance's location: where its checks are made from (`--location`, or `"location"` in
//! the config's object form), e.g. `eu-west`.
//!
//! One process has one location for its whole life, so it is set once at start, before any
//! thread that reads it runs, and read by every surface (lines, summary, history, `/metrics`,
//! the API, notifications) without being threaded through each of them. Unset, nothing shows
//! a location and every output is as before.

use std::sync::OnceLock;

/// Longest location name accepted: it is a label, shown on every line.
pub const MAX_LOCATION: usize = 32;

static LOCATION: OnceLock<Box<str>> = OnceLock::new();

/// Checks that `name` is a location name: 1 to [`MAX_LOCATION`] characters from `a-z`, `0-9`,
/// `-` and `_`, starting with a letter or digit (safe in a Prometheus label, a file name, an
/// environment variable and a text line without quoting).
pub fn validate(name: &str) -> Result<&str, String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_LOCATION
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(name)
    } else {
        Err(format!(
            "{name:?} is not a location name; use 1 to {MAX_LOCATION} characters from a-z, 0-9, \
             '-' and '_', starting with a letter or digit, e.g. eu-west"
        ))
    }
}

/// Sets the location (once; a second call is ignored: the first one is what every thread saw).
pub fn set(name: &str) {
    let _ = LOCATION.set(name.into());
}

/// The location, if one was set.
pub fn get() -> Option<&'static str> {
    LOCATION.get().map(|l| &**l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_names_are_short_lowercase_labels() {
        for good in ["eu-west", "us_east_1", "a", "0", &"x".repeat(MAX_LOCATION)] {
            assert_eq!(validate(good), Ok(good));
        }
        for bad in [
            "",
            "EU",
            "eu west",
            "-eu",
            "é",
            "a\"b",
            &"x".repeat(MAX_LOCATION + 1),
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
