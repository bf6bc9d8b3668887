//! Tests of config loading as a whole: each file below feeds `Config::parse` a config and
//! checks what comes out, or the one-line error.

use std::sync::Arc;

use super::*;
use crate::model::{Policy, StatusPattern};

mod accepted;
mod checks;
mod entry_errors;
mod file_errors;
mod load;

fn ok(text: &str) -> Config {
    Config::parse(text).unwrap_or_else(|e| panic!("expected {text} to parse, got: {e}"))
}

fn err(text: &str) -> ConfigError {
    match Config::parse(text) {
        Ok(c) => panic!("expected {text} to fail, got {c:?}"),
        Err(e) => e,
    }
}

/// Asserts an entry error and returns (index, url, full display text).
fn entry_err(text: &str) -> (usize, Option<String>, String) {
    match err(text) {
        e @ ConfigError::Entry { .. } => {
            let shown = e.to_string();
            let ConfigError::Entry { index, url, .. } = e else {
                unreachable!()
            };
            (index, url, shown)
        }
        other => panic!("expected an entry error for {text}, got {other:?}: {other}"),
    }
}

/// Single-entry config with one field set, for per-field checks.
fn one(field: &str, json: &str) -> String {
    format!(r#"[{{"url": "https://example.com", "{field}": {json}}}]"#)
}

fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "{haystack:?} should contain {needle:?}"
        );
    }
}

fn header<'a>(m: &'a Monitor, name: &str) -> Option<&'a str> {
    m.headers()
        .iter()
        .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.to_str().unwrap())
}
