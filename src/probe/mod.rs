//! One check of one URL: send the request, stream and count the body, classify what happened.
//!
//! A check's result is data ([`Observation`] with an [`Outcome`]), never an error of sitewatch:
//! a dead, slow, huge or malformed site is something to report. [`HttpProbe`] is the real
//! implementation (one shared ureq [`Agent`], a fresh connection per check); the [`Probe`] trait
//! lets the worker pool and scheduler be tested with a fake.
//!
//! Guarantees of [`HttpProbe::check`]:
//! - it returns within the monitor's timeout plus a little: one deadline covers DNS through
//!   the last body byte of the last hop, each request getting what is left of it;
//! - redirects are followed by the probe itself, hop by hop (module `redirect`): each `Location`
//!   resolved per RFC 3986 and validated like a config URL, credentials sent to the monitor's
//!   own origin only, the chain recorded in [`Observation::redirects`];
//! - every text a server chose (header values, `Location`, TLS error text) is escaped and
//!   capped ([`crate::text`]) before it leaves the probe, and every detail is at most
//!   [`MAX_DETAIL`] bytes;
//! - the body is streamed through a fixed buffer and counted, never held in memory, and reading
//!   stops one byte past the size cap;
//! - every failure maps to exactly one [`Reason`];
//! - the monitor's expectations ([`Expect`]) are checked in a fixed order after the transport
//!   succeeded: status (reason `status`), then headers, body and total time (reason
//!   `assertion`). Body assertions look at the body as it streams; only `body_matches` keeps it,
//!   up to its own cap ([`expect::BODY_MATCH_CAP`]).

use std::io::{self, Read};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use ureq::http::{self, StatusCode, Uri};
use ureq::tls::TlsConfig;
use ureq::{Agent, AsSendBody, ResponseExt};

use url::Url;

use self::classify::{classify, Phase};
use self::expect::BodyCheck;
use self::phase::Step;

use crate::model::{Method, Monitor};
use crate::text;

mod agent;
pub mod cert;
mod classify;
pub mod degraded;
pub mod dns;
pub mod expect;
pub mod icmp;
mod kinds;
mod lean;
mod nature;
mod phase;
mod redirect;
pub mod tcp;
mod tls;

pub use self::degraded::{Degraded, Warning};
pub use self::expect::{Expect, StatusPattern, StatusSet};
pub use self::kinds::{Checker, Probes};
pub use self::nature::{Cause, LocalKind, Nature};
pub use self::phase::Phases;
pub use self::redirect::{Redirect, MAX_URL_BYTES};

pub use crate::model::MAX_HEADER_BYTES;

/// Longest failure detail, in bytes: whatever a site sends, a detail repeated in every line,
/// row and notification stays this small.
pub const MAX_DETAIL: usize = 1024;

/// Why a check counts as down. A closed set: every failure maps to exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The host name did not resolve.
    Dns,
    /// The TCP connection was refused, unreachable or reset (for `icmp://`: the network
    /// reported the host unreachable).
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
    /// A header, body or latency assertion failed; for the other kinds of target, a `tcp://`
    /// monitor's `expect` text did not arrive, or a `dns://` name did not resolve to an
    /// `expect_address`.
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

/// What a check found: a verdict about the site (up, or down and why), a local failure of
/// sitewatch, or inconclusive. See [`Nature`]: only `Up` and `Down` are verdicts.
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
    /// sitewatch itself could not make the check: not the site's fault, not a verdict.
    Local {
        /// Which resource ran out.
        kind: LocalKind,
        /// What the system said.
        detail: String,
    },
    /// The check overlapped a time sitewatch could not measure fairly: not a verdict.
    Inconclusive {
        /// Why.
        cause: Cause,
        /// What the check would otherwise have said, and why it does not count.
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

    /// True for [`Outcome::Down`] (a verdict against the site; not a local failure nor an
    /// inconclusive check).
    pub fn is_down(&self) -> bool {
        matches!(self, Outcome::Down { .. })
    }

    /// The failure reason, if down.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Outcome::Down { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// Verdict, local failure or inconclusive.
    pub fn nature(&self) -> Nature {
        match self {
            Outcome::Up | Outcome::Down { .. } => Nature::Verdict,
            Outcome::Local { .. } => Nature::Local,
            Outcome::Inconclusive { .. } => Nature::Inconclusive,
        }
    }

    /// The name of what went wrong: the reason when down, the local kind, or the cause;
    /// `None` when up.
    pub fn cause_name(&self) -> Option<&'static str> {
        match self {
            Outcome::Up => None,
            Outcome::Down { reason, .. } => Some(reason.as_str()),
            Outcome::Local { kind, .. } => Some(kind.as_str()),
            Outcome::Inconclusive { cause, .. } => Some(cause.as_str()),
        }
    }

    /// What was seen, in words; `None` when up.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Outcome::Up => None,
            Outcome::Down { detail, .. }
            | Outcome::Local { detail, .. }
            | Outcome::Inconclusive { detail, .. } => Some(detail),
        }
    }

    /// This failed check's outcome turned inconclusive for `cause`, keeping what it saw in the
    /// detail. Up, local failures and inconclusive outcomes are returned unchanged: a success
    /// is still evidence that the site works.
    pub fn inconclusive(self, cause: Cause, why: &str) -> Outcome {
        match self {
            Outcome::Down { reason, detail } => Outcome::Inconclusive {
                cause,
                detail: format!("{why} (the check saw {reason}: {detail})"),
            },
            other => other,
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
    /// Where the check's time went (DNS, connect, TLS, first byte, transfer), summed over
    /// redirects; a phase not measured is `None` (see [`Phases`]).
    pub phases: Phases,
    /// Time from the start of the check to its end.
    pub elapsed: Duration,
    /// URL of the final response after redirects, if a response arrived.
    pub final_url: Option<String>,
    /// How long the server asked us to wait (`Retry-After` on 429 and 503), if it did.
    pub retry_after: Option<Duration>,
    /// The redirects followed (or refused, last) on the way, in order; empty without any.
    pub redirects: Vec<Redirect>,
    /// Up or down.
    pub outcome: Outcome,
    /// The earliest expiry (`notAfter`) of the certificates the server of the last request
    /// presented (after redirects: the final one's, as blackbox_exporter reports it); `None`
    /// when that request made no TLS handshake (or the check ended before it).
    pub cert_expiry: Option<SystemTime>,
    /// Why a passing check needs attention ([`degraded::judge`]); `None` when it does not.
    pub degraded: Option<Degraded>,
    /// The echo requests sent and the replies received, for an `icmp://` check.
    pub echoes: Option<Echoes>,
}

/// What one `icmp://` check sent and got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Echoes {
    /// Echo requests sent.
    pub sent: u32,
    /// Replies received.
    pub received: u32,
}

impl Echoes {
    /// Percentage of echoes lost, 0 to 100 (0 when none was sent).
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        f64::from(self.sent.saturating_sub(self.received)) * 100.0 / f64::from(self.sent)
    }

    /// `3 sent, 2 received, 33% loss`.
    pub fn summary(&self) -> String {
        format!(
            "{} sent, {} received, {:.0}% loss",
            self.sent,
            self.received,
            self.loss_percent()
        )
    }
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

    /// One request of a check: to `hop.uri` with `hop.method`, the configured body if
    /// `hop.with_body`, within `remaining`. The monitor's headers go along, except credentials
    /// (`Authorization`, `Cookie`, `Proxy-Authorization`, headers whose value is a secret),
    /// which go to the monitor's own origin only; `insecure` and `ca_file` apply there only
    /// too. ureq follows no redirect itself.
    ///
    /// Every request says `Connection: close` (unless the monitor sets its own `Connection`):
    /// sitewatch never reuses a connection, and saying so lets the server close first, so the
    /// closed connection's TIME_WAIT sits on the server's side, not by the tens of thousands on
    /// the monitoring host (one per check for a minute), where they slow every new connection's
    /// choice of a local port.
    ///
    /// Not inlined (see [`finish`]): ureq's request builder moves a whole configuration along
    /// each call, and those copies need not be on the stack under the request.
    #[inline(never)]
    fn request<B: AsSendBody>(
        &self,
        monitor: &Monitor,
        hop: &Request,
        body: B,
        remaining: Duration,
    ) -> Result<http::Request<B>, http::Error> {
        let mut builder = http::Request::builder()
            .method(hop.method.as_str())
            .uri(hop.uri.clone());
        let mut connection = false;
        for (name, value) in monitor.headers() {
            if hop.same_origin || !is_credential(monitor, name) {
                connection |= name == http::header::CONNECTION;
                builder = builder.header(name, value);
            }
        }
        if !connection {
            builder = builder.header(http::header::CONNECTION, "close");
        }
        let request = builder.body(body)?;
        let with_body = hop.with_body && hop.method.has_body() && monitor.body().is_some();
        let output = agent::output_buffer(&request, monitor.user_agent(), with_body);
        let mut config = self
            .agent
            .configure_request(request)
            .output_buffer_size(output)
            .timeout_global(Some(remaining))
            .max_redirects(0)
            .max_redirects_will_error(false);
        if hop.same_origin {
            if monitor.insecure {
                config = config.tls_config(TlsConfig::builder().disable_verification(true).build());
            } else if let Some(tls) = monitor.ca_file() {
                config = config.tls_config(tls.clone());
            }
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

    /// Sends one request, with the configured body if this hop carries it.
    fn send(
        &self,
        monitor: &Monitor,
        hop: &Request,
        remaining: Duration,
    ) -> Result<Result<http::Response<ureq::Body>, ureq::Error>, http::Error> {
        phase::start();
        cert::reset();
        match monitor.body() {
            Some(body) if hop.with_body && hop.method.has_body() => {
                Ok(self.agent.run(self.request(monitor, hop, body, remaining)?))
            }
            _ => Ok(self.agent.run(self.request(monitor, hop, (), remaining)?)),
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

impl Observation {
    /// A check that ended after `elapsed` with `outcome` before any response arrived.
    pub fn without_response(elapsed: Duration, outcome: Outcome) -> Observation {
        Observation {
            status: None,
            bytes: None,
            ttfb: None,
            phases: Phases::default(),
            elapsed,
            final_url: None,
            retry_after: None,
            redirects: Vec::new(),
            outcome,
            echoes: None,
            cert_expiry: None,
            degraded: None,
        }
    }
}

impl Probe for HttpProbe {
    fn check(&self, monitor: &Monitor) -> Observation {
        let started = Instant::now();
        let mut observation = Observation::without_response(Duration::ZERO, Outcome::Up);
        self.observe(monitor, started, &mut observation);
        observation.elapsed = started.elapsed();
        finish(monitor, &mut observation);
        observation
    }
}

/// What a check adds once its requests are over: the certificates' expiry, whether it is
/// degraded, and a detail fit to be shown.
///
/// Not inlined, like every step around the requests: a worker's stack stays resident as deep
/// as it ever went, and the frames under a request are what sets that depth.
#[inline(never)]
fn finish(monitor: &Monitor, observation: &mut Observation) {
    observation.cert_expiry = cert::take();
    observation.degraded = degraded::judge(monitor, observation, SystemTime::now());
    if let Outcome::Down { detail, .. } = &mut observation.outcome {
        // Our own words are plain already; this bounds and escapes whatever of a
        // server's text reached a detail, whichever path it took.
        if detail.len() > MAX_DETAIL || detail.chars().any(text::needs_escape) {
            // Room for the marker, so the whole stays within MAX_DETAIL.
            *detail = text::capped(detail, MAX_DETAIL - 40);
        }
    }
}

/// One request of a check: where, how, and whether it stays on the monitor's own origin.
#[derive(Debug)]
struct Request {
    uri: Uri,
    method: Method,
    with_body: bool,
    same_origin: bool,
}

impl HttpProbe {
    /// Runs the check into `observation`: the requests of the redirect chain, then the body of
    /// the final response and the verdict on it (see [`finish`] for why it is not inlined).
    #[inline(never)]
    fn observe(&self, monitor: &Monitor, started: Instant, observation: &mut Observation) {
        let deadline = started + monitor.timeout;
        let mut hop = match monitor.uri() {
            Ok(uri) => Request {
                uri,
                method: monitor.method,
                with_body: true,
                same_origin: true,
            },
            Err(e) => {
                observation.outcome = Outcome::down(Reason::Protocol, format!("bad request: {e}"));
                return;
            }
        };
        let mut chain = Chain {
            limit: self.max_redirects(monitor),
            configured: None,
            current: None,
        };
        let response = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                observation.outcome = Outcome::down(
                    Reason::Timeout,
                    format!(
                        "timed out after {} while following redirects ({} followed)",
                        humantime::format_duration(monitor.timeout),
                        observation.redirects.len()
                    ),
                );
                return;
            }
            let response = match self.send(monitor, &hop, remaining) {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => {
                    observation.phases.add(phase::finish(None));
                    let https = hop.uri.scheme_str() == Some("https");
                    let phase = match phase::current() {
                        Step::Resolve => Phase::Resolve,
                        Step::Connect => Phase::Connect,
                        Step::Handshake => Phase::Handshake,
                        Step::Response => Phase::Response,
                    };
                    observation.outcome = classify(&e, phase, monitor.timeout, https);
                    return;
                }
                Err(e) => {
                    observation.outcome =
                        Outcome::down(Reason::Protocol, format!("bad request: {e}"));
                    return;
                }
            };
            if !monitor.follow_redirects || !redirect::is_followed(response.status()) {
                break response;
            }
            match follow(monitor, started, &hop, &response, &mut chain, observation) {
                Some(next) => hop = next,
                None => return,
            }
        };
        conclude(self, monitor, started, &hop, response, observation);
    }
}

/// Where a check's redirects have led: what [`follow`] needs from one hop to the next.
struct Chain {
    /// Redirects the monitor follows.
    limit: u32,
    /// Parsed only when a redirect needs them: the monitor's URL, and the current target.
    configured: Option<Url>,
    current: Option<Url>,
}

/// Takes a redirect `response` to `hop`: notes it in `observation` and returns the next hop,
/// or `None` when the check ends here (too many redirects, or one not to follow), its
/// outcome set. Not inlined (see [`finish`]).
#[inline(never)]
fn follow(
    monitor: &Monitor,
    started: Instant,
    hop: &Request,
    response: &http::Response<ureq::Body>,
    chain: &mut Chain,
    observation: &mut Observation,
) -> Option<Request> {
    let status = response.status();
    // A redirect's body is not read: its response ends with its head.
    observation.phases.add(phase::finish(Some(Instant::now())));
    observation.status = Some(status.as_u16());
    observation.final_url = Some(redirect::shown(&hop.uri.to_string()));
    observation.ttfb = Some(started.elapsed());
    let limit = chain.limit;
    if observation.redirects.len() >= limit as usize {
        observation.outcome = if limit == 0 {
            let setting = if monitor.max_redirects().is_some() {
                "max_redirects"
            } else {
                "--max-redirects"
            };
            Outcome::down(
                Reason::Redirects,
                format!("{} ({setting} is 0)", describe_status(status)),
            )
        } else {
            Outcome::down(Reason::Redirects, "too many redirects (loop?)")
        };
        return None;
    }
    let configured = match &mut chain.configured {
        Some(url) => url,
        slot @ None => match Url::parse(monitor.request_url()) {
            Ok(url) => slot.insert(url),
            Err(e) => {
                observation.outcome = Outcome::down(
                    Reason::Redirects,
                    format!("cannot resolve a redirect against the monitor's URL ({e})"),
                );
                return None;
            }
        },
    };
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .map(|v| v.as_bytes());
    let next = redirect::next_hop(
        configured,
        chain.current.as_ref().unwrap_or(configured),
        status,
        location,
        hop.method,
        hop.with_body,
        monitor.allow_http_redirect(),
    );
    observation.redirects.push(Redirect {
        status: status.as_u16(),
        url: redirect::shown(&hop.uri.to_string()),
    });
    match next {
        Ok(next) => {
            let hop = Request {
                same_origin: redirect::same_origin(&next.url, configured),
                uri: next.uri,
                method: next.method,
                with_body: next.with_body,
            };
            chain.current = Some(next.url);
            Some(hop)
        }
        Err(detail) => {
            observation.outcome = Outcome::down(Reason::Redirects, detail);
            None
        }
    }
}

/// The final `response` of a check: its status, its body read and checked, the verdict. Not
/// inlined (see [`finish`]).
#[inline(never)]
fn conclude(
    probe: &HttpProbe,
    monitor: &Monitor,
    started: Instant,
    hop: &Request,
    mut response: http::Response<ureq::Body>,
    observation: &mut Observation,
) {
    observation.ttfb = Some(started.elapsed());
    let status = response.status();
    observation.status = Some(status.as_u16());
    observation.final_url = Some(if observation.redirects.is_empty() {
        response.get_uri().to_string()
    } else {
        redirect::shown(&response.get_uri().to_string())
    });
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        observation.retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| expect::retry_after(v, SystemTime::now()));
    }
    let mut body = monitor.expect().body_check(probe.max_body);
    let read = if hop.method == Method::Head {
        Ok(0)
    } else {
        read_body(&mut response, probe.max_body, &mut body)
    };
    let elapsed = started.elapsed();
    let end = read.is_ok().then(Instant::now);
    observation.phases.add(phase::finish(end));
    let https = hop.uri.scheme_str() == Some("https");
    observation.outcome = match read {
        Ok(n) => {
            observation.bytes = Some(n);
            probe.verdict(monitor, &response, &body, n, elapsed)
        }
        Err((n, e)) => {
            observation.bytes = Some(n);
            classify(&ureq::Error::from(e), Phase::Body, monitor.timeout, https)
        }
    };
}

/// Whether header `name` carries a credential, which goes to the monitor's own origin only.
fn is_credential(monitor: &Monitor, name: &http::HeaderName) -> bool {
    use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
    *name == AUTHORIZATION
        || *name == COOKIE
        || *name == PROXY_AUTHORIZATION
        || monitor.is_secret_header(name.as_str())
}

/// Reads the body to the end through a fixed buffer, counting decoded bytes and handing each
/// chunk to the body assertions (a no-op without any). Stops after `cap + 1` bytes, which is
/// enough to know the cap was exceeded. On error, returns the bytes read so far with it.
///
/// Not inlined: its buffer then sits on the stack only while a body is read, not under the
/// whole request as well (a worker's stack stays resident as deep as it ever went).
#[inline(never)]
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
    let mut buf = [0u8; 4 * 1024];
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
