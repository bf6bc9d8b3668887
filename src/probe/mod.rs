//! One check of one URL: send the request, stream and count the body, classify what happened.
//!
//! A check's result is data ([`Observation`] with an [`Outcome`]), never an error of sitewatch:
//! a dead, slow, huge or malformed site is something to report. [`HttpProbe`] is the real
//! implementation (one shared ureq [`Agent`], a fresh connection per check); the [`Probe`] trait
//! lets the worker pool and scheduler be tested with a fake.
//!
//! Guarantees of [`HttpProbe::check`]:
//! - it returns within the monitor's timeout plus a little (ureq's global timeout covers DNS
//!   through the last body byte, across redirects);
//! - the body is streamed through a fixed buffer and counted, never held in memory, and reading
//!   stops one byte past the size cap;
//! - every failure maps to exactly one [`Reason`].

use std::io::{self, Read};
use std::time::{Duration, Instant};

use serde::Serialize;
use ureq::http::{self, StatusCode};
use ureq::{Agent, ResponseExt};

use self::classify::{classify, Phase};

use crate::config::{Method, Monitor};

mod agent;
mod classify;
pub mod expect;

pub use self::expect::{Expect, StatusPattern, StatusSet};

/// Why a check counts as down. A closed set: every failure maps to exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The host name did not resolve.
    Dns,
    /// The TCP connection was refused, unreachable or reset.
    Connect,
    /// The check did not finish within its timeout.
    Timeout,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// A redirect loop, too many redirects, or a redirect that could not be followed.
    Redirects,
    /// The body was larger than the size cap.
    BodyTooLarge,
    /// The peer did not speak valid HTTP, or closed the connection mid-response.
    Protocol,
    /// The final status code was not the one expected (2xx).
    Status,
    /// A body or latency assertion failed.
    Assertion,
}

impl Reason {
    /// The name used in log lines and JSON (`body_too_large`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Dns => "dns",
            Reason::Connect => "connect",
            Reason::Timeout => "timeout",
            Reason::Tls => "tls",
            Reason::Redirects => "redirects",
            Reason::BodyTooLarge => "body_too_large",
            Reason::Protocol => "protocol",
            Reason::Status => "status",
            Reason::Assertion => "assertion",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Up or down, and if down, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The site answered with an expected status and a complete body.
    Up,
    /// The check failed; `detail` says what was seen, in words a user can act on.
    Down {
        /// Which class of failure.
        reason: Reason,
        /// What exactly happened (e.g. `HTTP 503 Service Unavailable`).
        detail: String,
    },
}

impl Outcome {
    pub(crate) fn down(reason: Reason, detail: impl Into<String>) -> Outcome {
        Outcome::Down {
            reason,
            detail: detail.into(),
        }
    }

    /// True for [`Outcome::Up`].
    pub fn is_up(&self) -> bool {
        matches!(self, Outcome::Up)
    }

    /// The failure reason, if down.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Outcome::Up => None,
            Outcome::Down { reason, .. } => Some(*reason),
        }
    }
}

/// Everything one check saw.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Final HTTP status code (after redirects), if a response arrived.
    pub status: Option<u16>,
    /// Bytes of decoded body read (gzip is decoded), if a response arrived. On a failure
    /// mid-body this is what was read before it.
    pub bytes: Option<u64>,
    /// Time from the start of the check to the response headers.
    pub ttfb: Option<Duration>,
    /// Time from the start of the check to its end.
    pub elapsed: Duration,
    /// URL of the final response after redirects, if a response arrived.
    pub final_url: Option<String>,
    /// How long the server asked us to wait (`Retry-After` on 429 and 503), if it did.
    pub retry_after: Option<Duration>,
    /// Up or down.
    pub outcome: Outcome,
}

/// Performs one check of a monitor. Implementations must not panic on a bad site and must
/// return within the monitor's timeout (plus scheduling noise).
pub trait Probe: Send + Sync {
    /// Checks `monitor` once.
    fn check(&self, monitor: &Monitor) -> Observation;
}

/// Knobs shared by every check.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// Largest body accepted, in decoded bytes; one more byte is a `body_too_large` failure.
    pub max_body: u64,
    /// Redirects followed before giving up with `redirects`.
    pub max_redirects: u32,
    /// The `User-Agent` header sent.
    pub user_agent: String,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            max_body: 10 * 1024 * 1024,
            max_redirects: 5,
            user_agent: format!("sitewatch/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The real probe: blocking HTTP through one shared ureq agent.
pub struct HttpProbe {
    agent: Agent,
    max_body: u64,
    max_redirects: u32,
}

impl HttpProbe {
    /// Builds the probe and its shared agent (see [`agent::build`]).
    pub fn new(settings: &ProbeSettings) -> HttpProbe {
        HttpProbe {
            agent: agent::build(settings),
            max_body: settings.max_body,
            max_redirects: settings.max_redirects,
        }
    }

    fn request(&self, monitor: &Monitor) -> Result<http::Request<()>, http::Error> {
        let mut builder = http::Request::builder()
            .method(monitor.method.as_str())
            .uri(monitor.uri.clone());
        for (name, value) in &monitor.headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(())?;
        Ok(self
            .agent
            .configure_request(request)
            .timeout_global(Some(monitor.timeout))
            .build())
    }
}

impl Probe for HttpProbe {
    fn check(&self, monitor: &Monitor) -> Observation {
        let started = Instant::now();
        let mut observation = Observation {
            status: None,
            bytes: None,
            ttfb: None,
            elapsed: Duration::ZERO,
            final_url: None,
            retry_after: None,
            outcome: Outcome::Up,
        };
        let request = match self.request(monitor) {
            Ok(request) => request,
            Err(e) => {
                observation.outcome = Outcome::down(Reason::Protocol, format!("bad request: {e}"));
                observation.elapsed = started.elapsed();
                return observation;
            }
        };
        let https = monitor.uri.scheme_str() == Some("https");
        match self.agent.run(request) {
            Err(e) => {
                observation.outcome = classify(&e, Phase::Response, monitor.timeout, https);
            }
            Ok(mut response) => {
                observation.ttfb = Some(started.elapsed());
                let status = response.status();
                observation.status = Some(status.as_u16());
                observation.final_url = Some(response.get_uri().to_string());
                let read = if monitor.method == Method::Head {
                    Ok(0)
                } else {
                    count_body(&mut response, self.max_body)
                };
                observation.outcome = match read {
                    Ok(n) => {
                        observation.bytes = Some(n);
                        if n > self.max_body {
                            too_large(self.max_body)
                        } else if status.is_redirection() && self.max_redirects == 0 {
                            // ureq hands back the 3xx instead of an error when no redirect may
                            // be followed; it is still a redirect too many.
                            Outcome::down(
                                Reason::Redirects,
                                format!("{} (--max-redirects is 0)", describe_status(status)),
                            )
                        } else if status.is_success() {
                            Outcome::Up
                        } else {
                            Outcome::down(Reason::Status, describe_status(status))
                        }
                    }
                    Err((n, e)) => {
                        observation.bytes = Some(n);
                        classify(&ureq::Error::from(e), Phase::Body, monitor.timeout, https)
                    }
                };
            }
        }
        observation.elapsed = started.elapsed();
        observation
    }
}

/// Reads the body to the end through a fixed buffer, counting decoded bytes. Stops after
/// `cap + 1` bytes, which is enough to know the cap was exceeded. On error, returns the
/// bytes read so far with it.
fn count_body(
    response: &mut http::Response<ureq::Body>,
    cap: u64,
) -> Result<u64, (u64, io::Error)> {
    let mut reader = response
        .body_mut()
        .with_config()
        .limit(cap.saturating_add(1))
        .reader();
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((total, e)),
        }
    }
}

pub(crate) fn too_large(cap: u64) -> Outcome {
    Outcome::down(
        Reason::BodyTooLarge,
        format!("body larger than the {cap}-byte cap (raise --max-body to accept it)"),
    )
}

fn describe_status(status: StatusCode) -> String {
    format!("HTTP {}", expect::describe_status(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_are_the_documented_ones() {
        let json = serde_json::to_string(&[Reason::BodyTooLarge, Reason::Dns]).unwrap();
        assert_eq!(json, r#"["body_too_large","dns"]"#);
        assert_eq!(Reason::BodyTooLarge.to_string(), "body_too_large");
    }
}
