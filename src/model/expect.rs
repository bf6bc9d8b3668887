//! What a monitor expects of an answer: the accepted statuses (`expect_status`), headers, body
//! assertions and total time, as validated data.
//!
//! Evaluating an answer against an [`Expect`] is the probe's work (`probe/expect.rs`); this
//! file only says what the expectations are and what they mean.

use std::fmt;
use std::time::Duration;

use regex::bytes::Regex;
use ureq::http::HeaderName;

/// Most bytes of a body that `body_matches` keeps and looks at: 1 MiB, enough for any page a
/// regex is meant for; a site cannot make a worker hold more.
pub const BODY_MATCH_CAP: u64 = 1024 * 1024;

/// One item of `expect_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    /// Exactly this code (`301` or `"301"`).
    Code(u16),
    /// A whole class by its first digit: `Class(2)` is `"2xx"`, 200 to 299.
    Class(u16),
    /// An inclusive range (`"200-299"`).
    Range(u16, u16),
}

/// Lowest status code accepted in `expect_status`.
pub const MIN_STATUS: u16 = 100;
/// Highest status code accepted in `expect_status`.
pub const MAX_STATUS: u16 = 599;

impl StatusPattern {
    /// A single code given as a JSON integer; it must lie in 100..=599.
    pub fn code(n: u64) -> Result<StatusPattern, String> {
        match u16::try_from(n) {
            Ok(code) if (MIN_STATUS..=MAX_STATUS).contains(&code) => Ok(StatusPattern::Code(code)),
            _ => Err(format!(
                "{n} is not a status code from {MIN_STATUS} to {MAX_STATUS}"
            )),
        }
    }

    /// Parses the string forms: `"301"`, `"2xx"` (any case) or `"200-299"`.
    pub fn parse(text: &str) -> Result<StatusPattern, String> {
        let t = text.trim();
        let bad = || {
            format!(
                "{text:?} is not a status code (\"301\"), class (\"2xx\") or range (\"200-299\") \
                 from {MIN_STATUS} to {MAX_STATUS}"
            )
        };
        let number = |s: &str| -> Result<u16, String> {
            if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let n: u16 = s.parse().map_err(|_| bad())?;
            if (MIN_STATUS..=MAX_STATUS).contains(&n) {
                Ok(n)
            } else {
                Err(bad())
            }
        };
        if let Some((lo, hi)) = t.split_once('-') {
            let (lo, hi) = (number(lo.trim())?, number(hi.trim())?);
            if lo > hi {
                return Err(format!(
                    "{text:?} is an empty range: its start is above its end"
                ));
            }
            return Ok(StatusPattern::Range(lo, hi));
        }
        let lower = t.to_ascii_lowercase();
        if let Some(digit) = lower.strip_suffix("xx") {
            return match digit.as_bytes() {
                [d @ b'1'..=b'5'] => Ok(StatusPattern::Class(u16::from(d - b'0'))),
                _ => Err(bad()),
            };
        }
        number(t).map(StatusPattern::Code)
    }

    /// Whether `code` is accepted by this pattern.
    pub fn matches(self, code: u16) -> bool {
        match self {
            StatusPattern::Code(c) => code == c,
            StatusPattern::Class(d) => code / 100 == d,
            StatusPattern::Range(lo, hi) => (lo..=hi).contains(&code),
        }
    }
}

impl fmt::Display for StatusPattern {
    /// As written in the config: `301`, `2xx`, `200-299`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(d) => write!(f, "{d}xx"),
            StatusPattern::Range(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

/// The final statuses a check accepts (`expect_status`): never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet {
    patterns: Vec<StatusPattern>,
}

impl StatusSet {
    /// A set of the given patterns, or `None` when there are none.
    pub fn new(patterns: Vec<StatusPattern>) -> Option<StatusSet> {
        (!patterns.is_empty()).then_some(StatusSet { patterns })
    }

    /// Any 2xx: what a check accepts when `expect_status` is not set.
    pub fn success() -> StatusSet {
        StatusSet {
            patterns: vec![StatusPattern::Class(2)],
        }
    }

    /// The patterns, in config order.
    pub fn patterns(&self) -> &[StatusPattern] {
        &self.patterns
    }

    /// Whether any pattern accepts `code`.
    pub fn matches(&self, code: u16) -> bool {
        self.patterns.iter().any(|p| p.matches(code))
    }
}

impl fmt::Display for StatusSet {
    /// `2xx`, `200 or 301`, `200, 3xx or 404`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.patterns.len();
        for (i, p) in self.patterns.iter().enumerate() {
            if i > 0 {
                f.write_str(if i + 1 == n { " or " } else { ", " })?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Everything a response must satisfy, besides arriving whole within the size cap.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Accepted final statuses (`expect_status`); `None` means any 2xx, the default.
    pub status: Option<StatusSet>,
    /// Response headers that must be present and contain a substring (`expect_headers`);
    /// names are unique. An empty substring only requires the header to be present.
    pub headers: Vec<(HeaderName, String)>,
    /// The decoded body must contain these bytes (`body_contains`); never empty.
    pub body_contains: Option<String>,
    /// The decoded body must not contain these bytes (`body_not_contains`); never empty.
    pub body_not_contains: Option<String>,
    /// The decoded body's first [`BODY_MATCH_CAP`] bytes must match this regex
    /// (`body_matches`).
    pub body_matches: Option<Regex>,
    /// The decoded body must be JSON in which each JSON Pointer (RFC 6901) names a value equal
    /// to the one given (`json`); empty when not set. The body is held whole for parsing, up
    /// to [`BODY_MATCH_CAP`] bytes: a larger body fails the assertion and says so.
    pub json: Vec<(String, serde_json::Value)>,
    /// The whole check (first byte sent to last body byte) must take at most this long
    /// (`max_response_time`); greater than zero.
    pub max_response_time: Option<Duration>,
}

impl Expect {
    /// True when the body has to be looked at, not just counted.
    pub fn has_body_assertions(&self) -> bool {
        self.body_contains.is_some()
            || self.body_not_contains.is_some()
            || self.body_matches.is_some()
            || !self.json.is_empty()
    }

    /// The names of the body assertions set, for messages (`body_contains`, …).
    pub fn body_assertion_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.body_contains.is_some() {
            names.push("body_contains");
        }
        if self.body_not_contains.is_some() {
            names.push("body_not_contains");
        }
        if self.body_matches.is_some() {
            names.push("body_matches");
        }
        if !self.json.is_empty() {
            names.push("json");
        }
        names
    }

    /// Whether `code` is an accepted final status.
    pub fn status_ok(&self, code: u16) -> bool {
        match &self.status {
            Some(set) => set.matches(code),
            None => (200..=299).contains(&code),
        }
    }
}
