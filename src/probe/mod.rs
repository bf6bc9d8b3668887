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
//! - every failure maps to exactly one [`Reason`];
//! - the monitor's expectations ([`Expect`]) are checked in a fixed order after the transport
//!   succeeded: status (reason `status`), then headers, body and total time (reason
//!   `assertion`). Body assertions look at the body as it streams; only `body_matches` keeps it,
//!   up to the size cap.

use std::io::{self, Read};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use ureq::http::{self, StatusCode};
use ureq::tls::TlsConfig;
use ureq::{Agent, AsSendBody, ResponseExt};

use self::classify::{classify, Phase};
use self::expect::BodyCheck;

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
    /// The final status code was not an expected one (`expect_status`, by default 2xx).
    Status,
    /// A header, body or latency assertion failed.
    Assertion,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 9] = [
        Reason::Dns,
        Reason::Connect,
        Reason::Timeout,
        Reason::Tls,
        Reason::Redirects,
        Reason::BodyTooLarge,
        Reason::Protocol,
        Reason::Status,
        Reason::Assertion,
    ];

    /// The reason with this name (as written by [`Reason::as_str`]), if any.
    pub fn from_name(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }

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
    /// Redirects followed before giving up with `redirects`, unless a monitor sets its own
    /// `max_redirects`.
    pub max_redirects: u32,
    /// The `User-Agent` header sent, unless a monitor sets its own `user_agent`.
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
    /// Builds the probe and its shared agent.
    pub fn new(settings: &ProbeSettings) -> HttpProbe {
        HttpProbe::with_agent(agent::build(settings), settings)
    }

    fn with_agent(agent: Agent, settings: &ProbeSettings) -> HttpProbe {
        HttpProbe {
            agent,
            max_body: settings.max_body,
            max_redirects: settings.max_redirects,
        }
    }

    /// Like [`HttpProbe::new`], but host names are resolved by `resolver` instead of the
    /// system resolver; everything else, TLS included, is the same.
    ///
    /// This exists so that tests never depend on a real DNS server (a test resolver maps
    /// made-up names to `127.0.0.1`, or fails like the system resolver does), and for pinning
    /// a monitor to an address later. The trait is ureq's `unversioned` API, outside ureq's
    /// semver promise.
    pub fn with_resolver(
        settings: &ProbeSettings,
        resolver: impl ureq::unversioned::resolver::Resolver,
    ) -> HttpProbe {
        HttpProbe::with_agent(agent::build_with_resolver(settings, resolver), settings)
    }

    /// The request for one check, with the monitor's per-request settings: timeout, redirect
    /// policy, TLS verification and `User-Agent`.
    fn request<B: AsSendBody>(
        &self,
        monitor: &Monitor,
        body: B,
    ) -> Result<http::Request<B>, http::Error> {
        let mut builder = http::Request::builder()
            .method(monitor.method.as_str())
            .uri(monitor.request_url());
        for (name, value) in monitor.headers() {
            builder = builder.header(name, value);
        }
        let request = builder.body(body)?;
        let mut config = self
            .agent
            .configure_request(request)
            .timeout_global(Some(monitor.timeout));
        config = if monitor.follow_redirects {
            config
                .max_redirects(self.max_redirects(monitor))
                .max_redirects_will_error(true)
        } else {
            // The first response is the final one, 3xx included, checked against expect_status.
            config.max_redirects(0).max_redirects_will_error(false)
        };
        if monitor.insecure {
            config = config.tls_config(TlsConfig::builder().disable_verification(true).build());
        }
        if let Some(agent) = monitor.user_agent() {
            config = config.user_agent(agent);
        }
        Ok(config.build())
    }

    /// Redirects this monitor follows: its own `max_redirects`, else `--max-redirects`.
    fn max_redirects(&self, monitor: &Monitor) -> u32 {
        monitor.max_redirects().unwrap_or(self.max_redirects)
    }

    /// Sends the request, with the configured body for methods that carry one.
    fn send(
        &self,
        monitor: &Monitor,
    ) -> Result<Result<http::Response<ureq::Body>, ureq::Error>, http::Error> {
        match monitor.body() {
            Some(body) if monitor.method.has_body() => {
                Ok(self.agent.run(self.request(monitor, body)?))
            }
            _ => Ok(self.agent.run(self.request(monitor, ())?)),
        }
    }

    /// The verdict on a response whose body was read completely (`bytes` of it) at `elapsed`.
    fn verdict(
        &self,
        monitor: &Monitor,
        response: &http::Response<ureq::Body>,
        body: &BodyCheck<'_>,
        bytes: u64,
        elapsed: Duration,
    ) -> Outcome {
        let status = response.status();
        let expect = monitor.expect();
        if bytes > self.max_body {
            return too_large(self.max_body);
        }
        if status.is_redirection() && monitor.follow_redirects && self.max_redirects(monitor) == 0 {
            // ureq hands back the 3xx instead of an error when no redirect may be followed;
            // it is still a redirect too many.
            let setting = if monitor.max_redirects().is_some() {
                "max_redirects"
            } else {
                "--max-redirects"
            };
            return Outcome::down(
                Reason::Redirects,
                format!("{} ({setting} is 0)", describe_status(status)),
            );
        }
        if let Some(detail) = expect.status_failure(status) {
            return Outcome::down(Reason::Status, detail);
        }
        let assertion = expect
            .header_failure(response.headers())
            .or_else(|| body.failure(bytes))
            .or_else(|| expect.time_failure(elapsed));
        match assertion {
            Some(detail) => Outcome::down(Reason::Assertion, detail),
            None => Outcome::Up,
        }
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
        let sent = match self.send(monitor) {
            Ok(sent) => sent,
            Err(e) => {
                observation.outcome = Outcome::down(Reason::Protocol, format!("bad request: {e}"));
                observation.elapsed = started.elapsed();
                return observation;
            }
        };
        let https = monitor.is_https();
        match sent {
            Err(e) => {
                observation.outcome = classify(&e, Phase::Response, monitor.timeout, https);
                observation.elapsed = started.elapsed();
            }
            Ok(mut response) => {
                observation.ttfb = Some(started.elapsed());
                let status = response.status();
                observation.status = Some(status.as_u16());
                observation.final_url = Some(response.get_uri().to_string());
                if status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE
                {
                    observation.retry_after = response
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| expect::retry_after(v, SystemTime::now()));
                }
                let mut body = monitor.expect().body_check(self.max_body);
                let read = if monitor.method == Method::Head {
                    Ok(0)
                } else {
                    read_body(&mut response, self.max_body, &mut body)
                };
                observation.elapsed = started.elapsed();
                observation.outcome = match read {
                    Ok(n) => {
                        observation.bytes = Some(n);
                        self.verdict(monitor, &response, &body, n, observation.elapsed)
                    }
                    Err((n, e)) => {
                        observation.bytes = Some(n);
                        classify(&ureq::Error::from(e), Phase::Body, monitor.timeout, https)
                    }
                };
            }
        }
        observation
    }
}

/// Reads the body to the end through a fixed buffer, counting decoded bytes and handing each
/// chunk to the body assertions (a no-op without any). Stops after `cap + 1` bytes, which is
/// enough to know the cap was exceeded. On error, returns the bytes read so far with it.
fn read_body(
    response: &mut http::Response<ureq::Body>,
    cap: u64,
    check: &mut BodyCheck<'_>,
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
            Ok(n) => {
                total += n as u64;
                check.feed(&buf[..n]);
            }
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
    fn reason_names_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_name(r.as_str()), Some(r));
        }
        assert_eq!(Reason::from_name("nope"), None);
    }

    #[test]
    fn reason_names_are_the_documented_ones() {
        let json = serde_json::to_string(&[Reason::BodyTooLarge, Reason::Dns]).unwrap();
        assert_eq!(json, r#"["body_too_large","dns"]"#);
        assert_eq!(Reason::BodyTooLarge.to_string(), "body_too_large");
    }
}
