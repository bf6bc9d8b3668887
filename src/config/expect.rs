//! Parsers for what an answer must look like: `expect_status`, `expect_headers`,
//! `body_contains`, `body_not_contains`, `body_matches` and `json`, into the model's
//! [`Expect`](crate::model::Expect) parts.
//!
//! Guarantees: a pattern, regex or JSON Pointer that cannot match is refused at load time,
//! with a one-line message.

use regex::bytes::Regex;
use serde_json::Value;
use ureq::http::HeaderName;

use super::error::shown;
use crate::model::{StatusPattern, StatusSet};

/// Validates `expect_status`: a non-empty array of codes (`200`, `"301"`), classes (`"2xx"`)
/// and inclusive ranges (`"200-299"`).
pub(super) fn status_set_value(value: &Value) -> Result<StatusSet, String> {
    const HINT: &str = "such as [200, \"3xx\", \"401-403\"]";
    let Value::Array(items) = value else {
        return Err(format!(
            "expect_status must be an array {HINT}, found {}",
            shown(value)
        ));
    };
    let patterns = items
        .iter()
        .map(|item| {
            let pattern = match item {
                Value::Number(n) => match n.as_u64() {
                    Some(n) => StatusPattern::code(n),
                    None => Err(format!("{n} is not a status code from 100 to 599")),
                },
                Value::String(s) => StatusPattern::parse(s),
                other => Err(format!(
                    "{} is not a status code, class or range",
                    shown(other)
                )),
            };
            pattern.map_err(|e| format!("expect_status item {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    StatusSet::new(patterns)
        .ok_or_else(|| format!("expect_status is empty; list the statuses to accept, {HINT}"))
}

/// Validates `expect_headers`: an object of valid header names to the substring their value
/// must contain (`""` only requires the header to be present).
pub(super) fn expect_headers_value(value: &Value) -> Result<Vec<(HeaderName, String)>, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "expect_headers must be an object such as {{\"Content-Type\": \"json\"}}, found {}",
            shown(value)
        ));
    };
    let mut out: Vec<(HeaderName, String)> = Vec::with_capacity(map.len());
    for (key, value) in map {
        let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| {
            format!(
                "expect_headers: header name {key:?} is not a valid HTTP header name \
                 (letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons)"
            )
        })?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!(
                "expect_headers: header {key:?} is given more than once (header names are case-insensitive)"
            ));
        }
        let Value::String(text) = value else {
            return Err(format!(
                "expect_headers: header {key:?}: value must be a string the header must contain, found {}",
                shown(value)
            ));
        };
        out.push((name, text.clone()));
    }
    Ok(out)
}

/// Validates `body_contains` / `body_not_contains`: a non-empty string.
pub(super) fn needle_value(field: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err(format!(
            "{field} is empty; give the text to look for in the body"
        )),
        other => Err(format!("{field} must be a string, found {}", shown(other))),
    }
}

/// Validates `body_matches`: a string that compiles as a regex.
pub(super) fn regex_value(value: &Value) -> Result<Regex, String> {
    let Value::String(s) = value else {
        return Err(format!(
            "body_matches must be a regex written as a string, found {}",
            shown(value)
        ));
    };
    if s.is_empty() {
        return Err("body_matches is empty; give a regex such as \"^ok\"".to_owned());
    }
    Regex::new(s).map_err(|e| {
        format!(
            "body_matches {s:?} is not a valid regex: {}",
            one_line_regex_error(&e)
        )
    })
}

/// The regex crate's syntax errors span several lines (the pattern, a caret, the message);
/// keep the message, so the config error stays on one line.
pub(super) fn one_line_regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    if let Some(message) = text.lines().find_map(|l| l.trim().strip_prefix("error:")) {
        return message.trim().to_owned();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Validates `json`: an object mapping JSON Pointers (RFC 6901: empty, or starting with `/`)
/// to the values expected there, at least one.
pub(super) fn json_value(value: &Value) -> Result<Vec<(String, Value)>, String> {
    const HINT: &str = "such as {\"/status\": \"UP\"}";
    let Value::Object(map) = value else {
        return Err(format!(
            "json must be an object of JSON Pointers to expected values {HINT}, found {}",
            shown(value)
        ));
    };
    if map.is_empty() {
        return Err(format!(
            "json is empty; give JSON Pointers and the values expected there, {HINT}"
        ));
    }
    map.iter()
        .map(|(pointer, expected)| {
            if pointer.is_empty() || pointer.starts_with('/') {
                Ok((pointer.clone(), expected.clone()))
            } else {
                Err(format!(
                    "json key {pointer:?} is not a JSON Pointer: it must start with \"/\" \
                     (\"/{pointer}\"), or be \"\" for the whole body"
                ))
            }
        })
        .collect()
}
