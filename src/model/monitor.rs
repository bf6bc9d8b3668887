//! What a monitor is: one target checked on a schedule, how to ask it, what its answer must
//! look like and how failures turn into `down`.
//!
//! [`Monitor`] is the validated, fully typed form every layer above works from: `config` builds
//! it (and only `config`: its construction and validation live there), the probe checks it, the
//! scheduler times it, the sinks label their output with it. Nothing here reads files,
//! touches the network or knows about threads; a `Monitor` that exists is already valid.

use std::sync::Arc;
use std::time::Duration;

use ureq::http::{HeaderName, HeaderValue, Uri};
use ureq::tls::TlsConfig;

use super::expect::Expect;
use super::policy::{default_policy, Policy};
use super::secret::Secret;
use super::target::Target;

/// Longest request header sitewatch sends, name and value together (the config refuses
/// longer ones): 8 KiB, what common servers accept in one header line, and within the
/// request buffer.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Longest URL sitewatch requests, config or redirect target: 8 KiB, the request-line limit of
/// common servers, and well within the request buffer (16 KiB, see `probe/agent.rs`).
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// HTTP method used for a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`: fetch the page (the default).
    Get,
    /// `HEAD`: fetch only the status and headers, cheaper for large pages.
    Head,
    /// `POST`, with the monitor's `body` if it has one.
    Post,
    /// `PUT`, with the monitor's `body` if it has one.
    Put,
    /// `PATCH`, with the monitor's `body` if it has one.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
}

impl Method {
    /// Every method, in the order error messages list them.
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ];

    /// The method as it goes on the wire, e.g. `"GET"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }

    /// Whether a configured `body` is sent with this method (POST, PUT, PATCH).
    pub fn has_body(&self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

/// One validated URL check: what to request, how, and how often.
///
/// A list may hold a million of these, so a monitor keeps inline only what every check
/// reads; the settings most monitors leave alone (headers, body, assertions, failure policy,
/// notification channels) live in one shared, out-of-line [`Extra`] block, which monitors that
/// set none of them themselves share with `defaults` (or go without). A plain monitor costs
/// about 80 bytes plus its URL.
#[derive(Debug, Clone)]
pub struct Monitor {
    /// The URL as it is *shown* everywhere (lines, database, reports, notifications): as
    /// written in the file (surrounding whitespace trimmed), but with the password of any
    /// userinfo replaced by `***`, and `env:VAR` for a URL read from the environment (see
    /// `config::shown_url`). The URL requests go to is [`Monitor::request_url`].
    pub url: Box<str>,
    /// Optional human-friendly name for logs and reports; unique within a config.
    pub name: Option<Box<str>>,
    /// What every output names this monitor by: unique, path safe, stable (see
    /// `config::identity`). Read it with [`Monitor::id`].
    pub(crate) id: Box<str>,
    /// Optional group, for display only (shared by the monitors that take it from `defaults`;
    /// a thin pointer, 8 bytes, as most monitors have none).
    pub(crate) group: Option<Arc<Box<str>>>,
    /// Time between checks; at least `config::MIN_INTERVAL`.
    pub interval: Duration,
    /// Request timeout; greater than zero.
    pub timeout: Duration,
    /// HTTP method to use.
    pub method: Method,
    /// Follow redirects (the default). When false the first response is the final one, a
    /// 3xx included, and is checked against `expect.status`.
    pub follow_redirects: bool,
    /// Skip TLS certificate verification for this monitor only.
    pub insecure: bool,
    /// Everything else; `None` when every one of those settings has its default.
    pub(crate) extra: Option<Arc<Extra>>,
}

/// A monitor's rarely set settings (see [`Monitor`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    /// The URL to request, when it differs from the shown one (userinfo, or from the
    /// environment); hidden in `Debug`.
    pub(crate) request_url: Option<Secret>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) max_redirects: Option<u32>,
    pub(crate) expect: Expect,
    pub(crate) retries: Option<u32>,
    pub(crate) retry_delay: Option<Duration>,
    pub(crate) recover_after: Option<u32>,
    pub(crate) max_backoff: Option<Duration>,
    pub(crate) notify: Option<Vec<String>>,
    pub(crate) allow_http_redirect: bool,
    pub(crate) ca_file: Option<TlsConfig>,
    pub(crate) depends_on: Option<Vec<String>>,
    pub(crate) cert_expiry_warn: Option<Duration>,
    pub(crate) warn_response_time: Option<Duration>,
    /// What is checked when it is not HTTP (`tcp://`, `icmp://`, `dns://`).
    pub(crate) target: Target,
}

/// `cert_expiry_warn` unless set: two weeks, time enough to renew by hand.
pub const DEFAULT_CERT_EXPIRY_WARN: Duration = Duration::from_secs(14 * 24 * 60 * 60);

/// The target of a monitor without an [`Extra`] block: its HTTP URL.
static HTTP_TARGET: Target = Target::Http;

/// What a monitor without an [`Extra`] block expects: any 2xx, nothing else.
static PLAIN_EXPECT: Expect = Expect {
    status: None,
    headers: Vec::new(),
    body_contains: None,
    body_not_contains: None,
    body_matches: None,
    json: Vec::new(),
    max_response_time: None,
};

impl Extra {
    /// The block to keep: `None` when every setting has its default.
    pub(crate) fn shared(self) -> Option<Arc<Extra>> {
        let e = &self.expect;
        let plain_expect = e.status.is_none()
            && e.headers.is_empty()
            && !e.has_body_assertions()
            && e.max_response_time.is_none();
        let plain = plain_expect
            && self.request_url.is_none()
            && self.headers.is_empty()
            && self.body.is_none()
            && self.user_agent.is_none()
            && self.max_redirects.is_none()
            && self.retries.is_none()
            && self.retry_delay.is_none()
            && self.recover_after.is_none()
            && self.max_backoff.is_none()
            && self.notify.is_none()
            && !self.allow_http_redirect
            && self.ca_file.is_none()
            && self.depends_on.is_none()
            && self.cert_expiry_warn.is_none()
            && self.warn_response_time.is_none()
            && self.target == Target::Http;
        (!plain).then(|| Arc::new(self))
    }
}

impl Monitor {
    /// The monitor's id: the slug of its `name`, else of its URL, made unique (see
    /// `config::identity`). Only `[a-z0-9._-]`, so it can stand in a URL path as it is.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The monitor's `group`, if it has one (a display label, not validated beyond `name`'s rules).
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref().map(|g| &**g)
    }

    /// What to call this monitor in output: its `name` if set, else its URL.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }

    /// The URL requests go to, userinfo and all. Only the probe may use it: everything that
    /// shows a URL shows [`Monitor::url`].
    pub fn request_url(&self) -> &str {
        match self.extra().and_then(|x| x.request_url.as_ref()) {
            Some(secret) => secret.expose(),
            None => &self.url,
        }
    }

    /// The URL requests go to ([`Monitor::request_url`]), parsed. It is parsed per check
    /// rather than kept: a parsed `Uri` takes about 170 bytes, twice what the rest of a plain
    /// monitor does. The text was validated when the config was loaded, so this does not fail
    /// in practice.
    pub fn uri(&self) -> Result<Uri, ureq::http::uri::InvalidUri> {
        self.request_url().parse()
    }

    /// Whether the URL's scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.request_url()
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("https:"))
    }

    /// Whether the request header `name` (any case) carries a secret: its value came from
    /// `{"env": "VAR"}`, or it is one of the credential headers (`Authorization`,
    /// `Proxy-Authorization`, `Cookie`). Such headers go to the configured origin only, never
    /// to another host a redirect points at. `false` for a header the monitor does not set.
    pub fn is_secret_header(&self, name: &str) -> bool {
        self.headers()
            .iter()
            .any(|(n, v)| v.is_sensitive() && n.as_str().eq_ignore_ascii_case(name))
    }

    pub(crate) fn extra(&self) -> Option<&Extra> {
        self.extra.as_deref()
    }

    /// Extra request headers, defaults merged with the entry's own (entry wins per name).
    /// Names are unique. Values of credential-carrying headers (`Authorization`,
    /// `Proxy-Authorization`, `Cookie`) and values read from the environment are marked
    /// sensitive so `Debug` output does not leak them into logs (see
    /// [`Monitor::is_secret_header`]).
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        self.extra().map_or(&[], |x| &x.headers)
    }

    /// Request body, sent only with POST, PUT or PATCH (the config rejects it with any other
    /// method). No `Content-Type` is added: set one in `headers`.
    pub fn body(&self) -> Option<&str> {
        self.extra()?.body.as_deref()
    }

    /// `User-Agent` for this monitor; `None` sends the probe's (`sitewatch/<version>`).
    pub fn user_agent(&self) -> Option<&str> {
        self.extra()?.user_agent.as_deref()
    }

    /// Redirects followed before the check fails with `redirects`; `None` uses
    /// `--max-redirects`. Ignored when `follow_redirects` is false.
    pub fn max_redirects(&self) -> Option<u32> {
        self.extra()?.max_redirects
    }

    /// What the response must look like: status, headers, body, total time.
    pub fn expect(&self) -> &Expect {
        self.extra().map_or(&PLAIN_EXPECT, |x| &x.expect)
    }

    /// The HTTP method of an HTTP monitor; `None` for the other kinds, which send no request.
    pub fn http_method(&self) -> Option<Method> {
        (*self.target() == Target::Http).then_some(self.method)
    }

    /// What this monitor checks: HTTP, or the kind its URL's scheme names with its settings.
    pub fn target(&self) -> &Target {
        self.extra().map_or(&HTTP_TARGET, |x| &x.target)
    }

    /// How failures turn into `down` and how a down monitor backs off: the configured values
    /// over [`default_policy`] for the interval; `max_backoff` is never below the interval,
    /// since backing off to less would check a down site more often.
    pub fn policy(&self) -> Policy {
        let builtin = default_policy(self.interval);
        let Some(x) = self.extra() else {
            return builtin;
        };
        Policy {
            retries: x.retries.unwrap_or(builtin.retries),
            retry_delay: x.retry_delay.unwrap_or(builtin.retry_delay),
            recover_after: x.recover_after.unwrap_or(builtin.recover_after),
            max_backoff: x
                .max_backoff
                .map_or(builtin.max_backoff, |b| b.max(self.interval)),
        }
    }

    /// The notification channels this monitor reports to, by name; `None`: every channel.
    pub fn notify(&self) -> Option<&[String]> {
        self.extra()?.notify.as_deref()
    }

    /// The ids of the monitors this one depends on (`depends_on`), if any.
    pub fn depends_on(&self) -> Option<&[String]> {
        self.extra()?.depends_on.as_deref()
    }

    /// Whether a redirect from `https` to plain `http` is followed (`allow_http_redirect`).
    pub fn allow_http_redirect(&self) -> bool {
        self.extra().is_some_and(|x| x.allow_http_redirect)
    }

    /// TLS settings trusting only the certificates of `ca_file`, for this monitor's own
    /// origin; `None`: the default roots.
    pub fn ca_file(&self) -> Option<&TlsConfig> {
        self.extra()?.ca_file.as_ref()
    }

    /// How close the certificate's expiry may come before the monitor is degraded
    /// (`cert_expiry_warn`, [`DEFAULT_CERT_EXPIRY_WARN`] unless set; zero: never).
    pub fn cert_expiry_warn(&self) -> Duration {
        self.extra()
            .and_then(|x| x.cert_expiry_warn)
            .unwrap_or(DEFAULT_CERT_EXPIRY_WARN)
    }

    /// A passing check slower than this degrades the monitor (`warn_response_time`).
    pub fn warn_response_time(&self) -> Option<Duration> {
        self.extra()?.warn_response_time
    }
}
