//! Loading and validating the operator's `urls.json`.
//!
//! This module owns the configuration file format and is the only place that
//! looks at raw configuration text. It turns the file into a [`Config`]: a
//! list of fully typed [`Monitor`]s whose URLs are parsed into [`Uri`]s,
//! whose durations are [`Duration`]s within sane bounds, whose method is a
//! [`Method`] and whose headers are already valid HTTP header names and
//! values. Validation happens once, here, at the edge: scheduler and worker
//! threads never see raw strings and never have to handle a bad setting.
//!
//! Two forms of file are accepted:
//!
//! 1. a plain JSON array of entries:
//!    `[{"url": "https://example.com", "interval": 30}]`
//! 2. an object with the entries under `urls` and optional shared `defaults`:
//!    `{"defaults": {"timeout": "5s"}, "urls": [{"url": "https://example.com"}]}`
//!
//! An entry has a required `url` and optional settings: how to ask
//! (`interval`, `timeout`, `method`, `body`, `headers`, `user_agent`,
//! `follow_redirects`, `max_redirects`, `insecure`), how to label it (`name`, `group`),
//! what the answer must look like (`expect_status`, `expect_headers`,
//! `body_contains`, `body_not_contains`, `body_matches`, `json`, `max_response_time`)
//! and how to react to failures (`retries`, `retry_delay`, `recover_after`,
//! `max_backoff`). `defaults` may set all of these except `url`; an entry's
//! own values win, and `headers` and `expect_headers` are merged per header
//! name (case-insensitively, the entry's value winning). Durations are humantime strings (`"30s"`,
//! `"1m 30s"`, `"500ms"`) or a whole, non-negative number of seconds (`30`).
//! The same URL may be listed several times; every entry becomes its own
//! monitor. An entry's `url` and `headers` values (in `defaults` too) may be
//! `{"env": "VAR"}`, read from the environment here, once; such values and the
//! password of a URL's userinfo are secrets, kept out of everything shown (see
//! [`shown_url`] and [`Monitor::is_secret_header`]).
//!
//! The object form may also hold a `notify` list of notification channels, validated by
//! [`crate::notify::config`]; an entry (or `defaults`) may then say which channels it reports
//! to with `"notify": ["name", …]` (all of them when absent).
//!
//! Every monitor gets an id ([`Monitor::id`], made by [`identity`]): the slug of its `name`,
//! else of its URL, unique within the config; so names must differ.
//!
//! The text may hold comments and trailing commas (`source`), `${VAR}` references
//! (`interpolate`), and the object form an `include` list of other files (`include`).
//!
//! Nothing starts on a bad configuration: [`Config::parse`] and
//! [`Config::load`] return the first problem found as a [`ConfigError`]
//! whose one-line message says where the problem is (line and column, the
//! `defaults` block, or the entry's position and URL) and what to do about it;
//! [`Config::load_all`] returns every bad entry (each is validated on its own), bounded.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::bytes::Regex;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use ureq::http::{HeaderName, HeaderValue, Uri};
use ureq::tls::TlsConfig;

use crate::notify::config::{secret_value, Secret};
use crate::notify::Channels;
use crate::probe::{Expect, StatusPattern, StatusSet, MAX_HEADER_BYTES, MAX_URL_BYTES};
use crate::state::Policy;

mod connectivity;
pub mod server;
pub use self::connectivity::Connectivity;
pub use self::server::ServerConfig;
pub mod identity;
pub mod shard;
pub use self::identity::Ids;
pub use self::shard::Shard;

mod document;
mod include;
mod interpolate;
pub mod plan;
pub mod shown_url;
mod source;

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
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Hint appended to every duration error, so the user sees the accepted forms.
const DURATION_HINT: &str =
    "use a string such as \"30s\", \"1m 30s\" or \"500ms\", or a whole number of seconds such as 30";

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
    /// [`shown_url`]). The URL requests go to is [`Monitor::request_url`].
    pub url: Box<str>,
    /// Optional human-friendly name for logs and reports; unique within a config.
    pub name: Option<Box<str>>,
    /// What every output names this monitor by: unique, path safe, stable (see
    /// [`identity`]). Read it with [`Monitor::id`].
    id: Box<str>,
    /// Optional group, for display only (shared by the monitors that take it from `defaults`;
    /// a thin pointer, 8 bytes, as most monitors have none).
    group: Option<Arc<Box<str>>>,
    /// Time between checks; at least [`MIN_INTERVAL`].
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
    extra: Option<Arc<Extra>>,
}

/// A monitor's rarely set settings (see [`Monitor`]).
#[derive(Debug, Clone, Default)]
struct Extra {
    /// The URL to request, when it differs from the shown one (userinfo, or from the
    /// environment); hidden in `Debug`.
    request_url: Option<Secret>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<String>,
    user_agent: Option<String>,
    max_redirects: Option<u32>,
    expect: Expect,
    retries: Option<u32>,
    retry_delay: Option<Duration>,
    recover_after: Option<u32>,
    max_backoff: Option<Duration>,
    notify: Option<Vec<String>>,
    allow_http_redirect: bool,
    ca_file: Option<TlsConfig>,
    depends_on: Option<Vec<String>>,
    cert_expiry_warn: Option<Duration>,
    warn_response_time: Option<Duration>,
}

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
    /// An entry's own settings over the `defaults` ones (`headers` and `expect_headers` merged
    /// per header name).
    fn merge(own: Settings, defaults: &Settings) -> Extra {
        Extra {
            request_url: None,
            headers: merge_by_name(&defaults.headers, own.headers),
            body: own.body.or_else(|| defaults.body.clone()),
            user_agent: own.user_agent.or_else(|| defaults.user_agent.clone()),
            max_redirects: own.max_redirects.or(defaults.max_redirects),
            expect: Expect {
                status: own.expect_status.or_else(|| defaults.expect_status.clone()),
                headers: merge_by_name(&defaults.expect_headers, own.expect_headers),
                body_contains: own.body_contains.or_else(|| defaults.body_contains.clone()),
                body_not_contains: own
                    .body_not_contains
                    .or_else(|| defaults.body_not_contains.clone()),
                body_matches: own.body_matches.or_else(|| defaults.body_matches.clone()),
                json: own
                    .json
                    .unwrap_or_else(|| defaults.json.clone().unwrap_or_default()),
                max_response_time: own.max_response_time.or(defaults.max_response_time),
            },
            retries: own.retries.or(defaults.retries),
            retry_delay: own.retry_delay.or(defaults.retry_delay),
            recover_after: own.recover_after.or(defaults.recover_after),
            max_backoff: own.max_backoff.or(defaults.max_backoff),
            notify: own.notify.or_else(|| defaults.notify.clone()),
            allow_http_redirect: own
                .allow_http_redirect
                .or(defaults.allow_http_redirect)
                .unwrap_or(false),
            ca_file: own.ca_file.or_else(|| defaults.ca_file.clone()),
            depends_on: own.depends_on.or_else(|| defaults.depends_on.clone()),
            cert_expiry_warn: own.cert_expiry_warn.or(defaults.cert_expiry_warn),
            warn_response_time: own.warn_response_time.or(defaults.warn_response_time),
        }
    }

    /// The block to keep: `None` when every setting has its default.
    fn shared(self) -> Option<Arc<Extra>> {
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
            && self.warn_response_time.is_none();
        (!plain).then(|| Arc::new(self))
    }
}

/// Extra attempts after a failed check before a monitor is declared down.
pub const DEFAULT_RETRIES: u32 = 2;
/// Most `retries` accepted.
pub const MAX_RETRIES: u32 = 10;
/// Shortest accepted `retry_delay`.
pub const MIN_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Most `recover_after` accepted.
pub const MAX_RECOVER_AFTER: u32 = 100;
/// Most `max_redirects` accepted.
pub const MAX_REDIRECTS: u32 = 50;
/// `cert_expiry_warn` unless set: two weeks, time enough to renew by hand.
pub const DEFAULT_CERT_EXPIRY_WARN: Duration = Duration::from_secs(14 * 24 * 60 * 60);
/// Delay before the first retry (each further retry doubles it).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(2);
/// Consecutive successes that bring a down monitor back up.
pub const DEFAULT_RECOVER_AFTER: u32 = 1;
/// Upper bound of the default backoff, whatever the interval.
pub const BACKOFF_CEILING: Duration = Duration::from_secs(600);

/// The default failure policy for a monitor checked every `interval`: back off to 8× the
/// interval, but never past 10 minutes (and never below the interval itself).
pub fn default_policy(interval: Duration) -> Policy {
    Policy {
        retries: DEFAULT_RETRIES,
        retry_delay: DEFAULT_RETRY_DELAY,
        recover_after: DEFAULT_RECOVER_AFTER,
        max_backoff: interval
            .saturating_mul(8)
            .min(BACKOFF_CEILING)
            .max(interval),
    }
}

impl Monitor {
    /// The monitor's id: the slug of its `name`, else of its URL, made unique (see
    /// [`identity`]). Only `[a-z0-9._-]`, so it can stand in a URL path as it is.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The monitor's `group`, if it has one (a display label, not validated beyond `name`'s rules).
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref().map(|g| &**g)
    }

    /// Feeds every setting that makes this monitor differ from another on the same URL into
    /// `h` (secret header values by name only), in a fixed textual form: the hash behind an
    /// id's collision suffix, which must not change while the config does not.
    fn fingerprint(&self, h: &mut identity::Fnv) {
        use fmt::Write as _;
        let _ = write!(
            h,
            "url={}\nname={:?}\nmethod={}\ninterval={}\ntimeout={}\nfollow={}\ninsecure={}\n",
            self.url,
            self.name,
            self.method.as_str(),
            self.interval.as_millis(),
            self.timeout.as_millis(),
            self.follow_redirects,
            self.insecure
        );
        let Some(x) = self.extra() else { return };
        for (name, value) in &x.headers {
            let shown = if value.is_sensitive() {
                b"(secret)"
            } else {
                value.as_bytes()
            };
            let _ = write!(h, "header={}:", name.as_str());
            h.bytes(shown);
            h.bytes(b"\n");
        }
        let e = &x.expect;
        let _ = write!(
            h,
            "body={:?}\nua={:?}\nmax_redirects={:?}\nstatus={:?}\n",
            x.body,
            x.user_agent,
            x.max_redirects,
            e.status.as_ref().map(ToString::to_string)
        );
        for (name, value) in &e.headers {
            let _ = writeln!(h, "expect_header={}:{value}", name.as_str());
        }
        for (pointer, expected) in &e.json {
            let _ = writeln!(h, "json={pointer:?}:{expected}");
        }
        let _ = write!(
            h,
            "contains={:?}\nnot_contains={:?}\nmatches={:?}\nmax_time={:?}\n\
             retries={:?}\nretry_delay={:?}\nrecover={:?}\nbackoff={:?}\nnotify={:?}\n\
             http_redirect={}\nca={}\ncert_warn={:?}\nwarn_time={:?}\n",
            e.body_contains,
            e.body_not_contains,
            e.body_matches.as_ref().map(Regex::as_str),
            e.max_response_time.map(|d| d.as_millis()),
            x.retries,
            x.retry_delay.map(|d| d.as_millis()),
            x.recover_after,
            x.max_backoff.map(|d| d.as_millis()),
            x.notify,
            x.allow_http_redirect,
            x.ca_file.is_some(),
            x.cert_expiry_warn.map(|d| d.as_millis()),
            x.warn_response_time.map(|d| d.as_millis())
        );
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

    fn extra(&self) -> Option<&Extra> {
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

/// A validated configuration: the monitors in file order.
#[derive(Debug, Clone)]
pub struct Config {
    /// One monitor per entry, in the order they appear in the file; never empty.
    pub monitors: Vec<Monitor>,
    /// Notification channels (the `notify` list); empty when there are none.
    pub notify: Channels,
    /// The connectivity canaries (the `connectivity` key), if any.
    pub connectivity: Option<Connectivity>,
    /// Maintenance windows and dependencies (the `maintenance` key, `depends_on`).
    pub plan: plan::Plan,
    /// The live status surface (the `server` key), if any.
    pub server: Option<ServerConfig>,
    /// Where this instance checks from (the `location` key), if set; `--location` wins.
    pub location: Option<Box<str>>,
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// Only [`ConfigError::Read`] mentions the path; callers that report other
    /// errors should prefix them with the path so the user knows which file
    /// the line/column or entry number refers to.
    ///
    /// The file must be a regular file or a pipe (`<(…)`) of at most [`MAX_CONFIG_BYTES`]:
    /// a device such as `/dev/zero` would otherwise be read until memory runs out.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_all(path).map_err(ConfigErrors::first)
    }

    /// Reads and validates a config file like [`Config::load`], but reports every bad entry
    /// (each is validated on its own), up to [`MAX_LISTED`], rather than the first only. A
    /// syntax error still ends the read: nothing after it can be trusted.
    pub fn load_all(path: &Path) -> Result<Config, ConfigErrors> {
        let text = read_bounded(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_text(text, Some(path))
    }

    /// Validates config text (what `load` does after reading). An `include` needs a file to
    /// be relative to: use [`Config::load`].
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_text(text.to_owned(), None).map_err(ConfigErrors::first)
    }

    fn from_text(text: String, path: Option<&Path>) -> Result<Config, ConfigErrors> {
        let mut errors = ConfigErrors::default();
        let mut document = {
            let text = prepare(text)?;
            match document::read(&text, &mut errors, None) {
                Ok(document) => document,
                Err(e) => {
                    errors.push(yaml_or(e, &text));
                    return Err(errors);
                }
            }
        };
        let mut origins = Vec::new();
        if let Some(list) = document.include.take() {
            let defaults = document.defaults.take().unwrap_or_default();
            match path {
                Some(path) => {
                    origins =
                        include::merge(path, list, &defaults, &mut document.monitors, &mut errors)
                }
                None => errors.push(ConfigError::Include(
                    "a config given as text cannot include files; load it from a file".to_owned(),
                )),
            }
        }
        let notify = match document.notify {
            None => Channels::default(),
            Some(value) => {
                match crate::notify::config::parse(value, &|var| std::env::var(var).ok()) {
                    Ok(channels) => channels,
                    Err(e) => {
                        errors.push(e);
                        Channels::default()
                    }
                }
            }
        };
        let connectivity = match document.connectivity.map(connectivity::parse).transpose() {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let server = match document.server.map(server::parse).transpose() {
            Ok(s) => s,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let location = match document.location {
            None => None,
            Some(serde_json::Value::String(l)) => match crate::location::validate(&l) {
                Ok(l) => Some(l.into()),
                Err(e) => {
                    errors.push(ConfigError::Shape(format!("\"location\": {e}")));
                    None
                }
            },
            Some(_) => {
                errors.push(ConfigError::Shape(
                    "\"location\" must be a string, e.g. \"location\": \"eu-west\"".into(),
                ));
                None
            }
        };
        // What follows needs every entry: with one missing, its findings could be wrong.
        if !errors.is_empty() {
            return Err(errors);
        }
        if document.monitors.is_empty() {
            return Err(ConfigError::Empty.into());
        }
        let placed = |e| include::place(e, &origins);
        crate::notify::config::check_monitors(&document.monitors, &notify).map_err(placed)?;
        let mut monitors = document.monitors;
        identity::assign(&mut monitors).map_err(|d| {
            placed(ConfigError::DuplicateName {
                first: d.first,
                second: d.second,
                name: d.name.into(),
            })
        })?;
        let plan = plan::resolve(&monitors, document.maintenance)?;
        Ok(Config {
            monitors,
            notify,
            connectivity,
            plan,
            server,
            location,
        })
    }

    /// The config of URLs given on the command line (`sitewatch URL…`), each validated as
    /// an entry `{"url": URL, "interval": interval}` is, with no `defaults`.
    pub fn of_urls(urls: &[String], interval: Duration) -> Result<Config, ConfigError> {
        let entries: Vec<Value> = urls
            .iter()
            .map(|url| serde_json::json!({"url": url, "interval": format!("{}ms", interval.as_millis())}))
            .collect();
        Config::parse(&Value::Array(entries).to_string())
    }

    /// Adds `more` monitors after the file's and gives every monitor its id again: the
    /// file's keep theirs (ids are given in order), one of `more` on a URL the file has too
    /// gets the next free id, as a repeated entry does.
    pub fn add_monitors(&mut self, more: &[Monitor]) -> Result<(), ConfigError> {
        self.monitors.extend_from_slice(more);
        identity::assign(&mut self.monitors).map_err(|d| ConfigError::DuplicateName {
            first: d.first,
            second: d.second,
            name: d.name.into(),
        })
    }

    /// The monitor whose [`Monitor::id`] is `id`. A linear search: for many look-ups build
    /// an [`Ids`] index once.
    pub fn monitor(&self, id: &str) -> Option<&Monitor> {
        self.monitors.iter().find(|m| m.id() == id)
    }
}

/// Most problems a [`ConfigErrors`] lists; the rest are counted.
pub const MAX_LISTED: usize = 50;

/// Every problem found in a config, in file order: up to [`MAX_LISTED`] of them, and how
/// many more there were. Never empty when returned as an error.
#[derive(Debug, Default)]
pub struct ConfigErrors {
    /// The problems listed, each one line.
    pub errors: Vec<ConfigError>,
    /// How many more were found but not kept.
    pub more: usize,
}

impl ConfigErrors {
    fn push(&mut self, error: ConfigError) {
        if self.errors.len() < MAX_LISTED {
            self.errors.push(error);
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The first problem, for callers that report one.
    pub fn first(self) -> ConfigError {
        self.errors.into_iter().next().unwrap_or(ConfigError::Empty)
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> ConfigErrors {
        ConfigErrors {
            errors: vec![error],
            more: 0,
        }
    }
}

/// Text as read, made plain JSON for the parser: no byte-order mark (editors on Windows
/// like to add one, and it carries no meaning), comments and trailing commas blanked (see
/// [`source`]). An empty file is refused here, with a sentence rather than "EOF while parsing".
fn prepare(mut text: String) -> Result<String, ConfigError> {
    if text.starts_with('\u{feff}') {
        text.replace_range(..3, "");
    }
    let text = source::strip(text).map_err(|at| ConfigError::Syntax {
        line: at.line,
        column: at.column,
        message: "this /* comment is never closed by */".to_owned(),
    })?;
    if text.trim().is_empty() {
        return Err(ConfigError::Empty);
    }
    Ok(text)
}

/// A syntax error in what looks like YAML becomes a sentence saying so.
fn yaml_or(error: ConfigError, text: &str) -> ConfigError {
    match (&error, source::looks_like_yaml(text)) {
        (ConfigError::Syntax { .. }, Some(line)) => ConfigError::Yaml { line },
        _ => error,
    }
}

/// Largest config file read, in bytes: room for about three million plain entries.
pub const MAX_CONFIG_BYTES: u64 = 256 << 20;

/// Reads a config file as text, refusing what is not a regular file or a pipe, and anything
/// longer than [`MAX_CONFIG_BYTES`].
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    use std::os::unix::fs::FileTypeExt;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    let too_large = || {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "it is larger than the {} MiB a config may have",
                MAX_CONFIG_BYTES >> 20
            ),
        )
    };
    if kind.is_file() && meta.len() > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    if !(kind.is_file() || kind.is_fifo()) {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("it is {what}; give a JSON file"),
        ));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    Ok(text)
}

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

/// Why a configuration was rejected. `Display` gives one actionable line.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    Read {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The text is not valid JSON.
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// Column of the error as reported by serde_json (1-based; 0 at the
        /// very start of a line, e.g. for an unexpected end of file).
        column: usize,
        /// serde_json's description, without the position.
        message: String,
    },
    /// The top level has the wrong shape (not an array or object, unknown
    /// key, `urls` missing or not an array).
    Shape(String),
    /// There are no entries, so nothing to monitor.
    Empty,
    /// A problem in the `defaults` object.
    Defaults(String),
    /// A problem in the `notify` list; the message names the channel.
    Notify(String),
    /// A problem in the `connectivity` object.
    Connectivity(String),
    /// A problem in the `maintenance` list; the message names the window.
    Maintenance(String),
    /// Two entries have the same `name` (names identify monitors, so they must differ).
    DuplicateName {
        /// 0-based position of the earlier entry.
        first: usize,
        /// 0-based position of the later entry.
        second: usize,
        /// The name both have.
        name: String,
    },
    /// The text looks like YAML (a `key: value`, `- item` or `---` line) and is not JSON.
    Yaml {
        /// 1-based line that looks like YAML.
        line: usize,
    },
    /// A problem with the `include` list (a pattern, a file that cannot be read, a cycle).
    Include(String),
    /// A problem in a file named by `include`.
    Included {
        /// The included file, as found from its pattern.
        path: PathBuf,
        /// What is wrong in it (entry positions count within that file).
        source: Box<ConfigError>,
    },
    /// A problem in one entry.
    Entry {
        /// 0-based position of the entry in the list.
        index: usize,
        /// The entry's `url`, when it has a non-empty string one.
        url: Option<String>,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Syntax {
                line,
                column,
                message,
            } => write!(
                f,
                "line {line}, column {column}: {}",
                clip(message, MAX_MESSAGE)
            ),
            ConfigError::Shape(message) => f.write_str(&clip(message, MAX_MESSAGE)),
            ConfigError::Yaml { line } => write!(
                f,
                "line {line}: this looks like YAML; sitewatch reads JSON (with comments), \
                 such as [{{\"url\": \"https://example.com\"}}]"
            ),
            ConfigError::Include(message) => write!(f, "include: {}", clip(message, MAX_MESSAGE)),
            ConfigError::Included { path, source } => {
                write!(f, "included file {}: {source}", path.display())
            }
            ConfigError::Empty => f.write_str(
                "no URLs listed, so there is nothing to monitor; \
                 add at least one entry such as {\"url\": \"https://example.com\"}",
            ),
            ConfigError::Defaults(message) => {
                write!(f, "defaults: {}", clip(message, MAX_MESSAGE))
            }
            ConfigError::Notify(message) => write!(f, "notify: {}", clip(message, MAX_MESSAGE)),
            ConfigError::Connectivity(message) => {
                write!(f, "connectivity: {}", clip(message, MAX_MESSAGE))
            }
            ConfigError::Maintenance(message) => {
                write!(f, "maintenance: {}", clip(message, MAX_MESSAGE))
            }
            ConfigError::DuplicateName {
                first,
                second,
                name,
            } => write!(
                f,
                "entries {} (index {first}) and {} (index {second}) have the same name {:?}; \
                 a name identifies its monitor (its id, in lines, history, notifications and \
                 page addresses), so give each entry its own name",
                first + 1,
                second + 1,
                clip(name, MAX_QUOTED)
            ),
            // Both the 1-based position (how people count) and the 0-based
            // index (how tools such as jq count) so either finds the entry.
            ConfigError::Entry {
                index,
                url: Some(url),
                message,
            } => write!(
                f,
                "entry {} (index {index}, {:?}): {}",
                index + 1,
                clip(url, MAX_QUOTED),
                clip(message, MAX_MESSAGE)
            ),
            ConfigError::Entry {
                index,
                url: None,
                message,
            } => write!(
                f,
                "entry {} (index {index}): {}",
                index + 1,
                clip(message, MAX_MESSAGE)
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Turns a serde_json syntax error into [`ConfigError::Syntax`].
fn syntax_error(e: serde_json::Error) -> ConfigError {
    let (line, column) = (e.line(), e.column());
    // serde_json's Display ends in " at line L column C"; we print the
    // position ourselves, first, so strip it to avoid saying it twice.
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ConfigError::Syntax {
        line,
        column,
        message,
    }
}

/// Keeps a field that is present, even as `null`, as `Some`: the derive would
/// otherwise turn `null` into `None` and silently mean "use the default".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

// The raw structs only check field *names* (so serde's "unknown field `x`,
// expected one of ..." message comes through); every value stays a `Value`
// and is checked by hand so that errors can name the field and quote the value.

/// Declares the raw `defaults` and entry structs from one list of setting names, in the order
/// serde's "expected one of" message lists them (an entry's `url` first), so that the two can
/// never disagree.
macro_rules! raw_settings {
    ($($field:ident),* $(,)?) => {
        /// The fields `defaults` may contain.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawDefaults {
            $(
                #[serde(default, deserialize_with = "present")]
                $field: Option<Value>,
            )*
        }

        /// The fields an entry may contain.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawEntry {
            #[serde(default, deserialize_with = "present")]
            url: Option<Value>,
            $(
                #[serde(default, deserialize_with = "present")]
                $field: Option<Value>,
            )*
        }

        impl RawEntry {
            /// The `url` and the settings, which are validated like `defaults`.
            fn split(self) -> (Option<Value>, RawDefaults) {
                (self.url, RawDefaults { $($field: self.$field,)* })
            }
        }
    };
}

raw_settings!(
    interval,
    timeout,
    method,
    headers,
    name,
    group,
    body,
    user_agent,
    follow_redirects,
    max_redirects,
    insecure,
    allow_http_redirect,
    ca_file,
    expect_status,
    expect_headers,
    body_contains,
    body_not_contains,
    body_matches,
    json,
    max_response_time,
    retries,
    retry_delay,
    recover_after,
    max_backoff,
    notify,
    depends_on,
    cert_expiry_warn,
    warn_response_time,
);

/// Validated optional settings, from `defaults` or from one entry.
#[derive(Default, Clone)]
struct Settings {
    interval: Option<Duration>,
    timeout: Option<Duration>,
    method: Option<Method>,
    headers: Vec<(HeaderName, HeaderValue)>,
    name: Option<Box<str>>,
    group: Option<Arc<Box<str>>>,
    body: Option<String>,
    user_agent: Option<String>,
    follow_redirects: Option<bool>,
    max_redirects: Option<u32>,
    insecure: Option<bool>,
    expect_status: Option<StatusSet>,
    expect_headers: Vec<(HeaderName, String)>,
    body_contains: Option<String>,
    body_not_contains: Option<String>,
    body_matches: Option<Regex>,
    json: Option<Vec<(String, Value)>>,
    max_response_time: Option<Duration>,
    retries: Option<u32>,
    retry_delay: Option<Duration>,
    recover_after: Option<u32>,
    max_backoff: Option<Duration>,
    notify: Option<Vec<String>>,
    allow_http_redirect: Option<bool>,
    ca_file: Option<TlsConfig>,
    depends_on: Option<Vec<String>>,
    cert_expiry_warn: Option<Duration>,
    warn_response_time: Option<Duration>,
}

impl Settings {
    /// Whether any setting kept in a monitor's [`Extra`] block is set.
    fn sets_extra(&self) -> bool {
        !self.headers.is_empty()
            || self.body.is_some()
            || self.user_agent.is_some()
            || self.max_redirects.is_some()
            || self.expect_status.is_some()
            || !self.expect_headers.is_empty()
            || self.body_contains.is_some()
            || self.body_not_contains.is_some()
            || self.body_matches.is_some()
            || self.json.is_some()
            || self.max_response_time.is_some()
            || self.retries.is_some()
            || self.retry_delay.is_some()
            || self.recover_after.is_some()
            || self.max_backoff.is_some()
            || self.notify.is_some()
            || self.allow_http_redirect.is_some()
            || self.ca_file.is_some()
            || self.depends_on.is_some()
            || self.cert_expiry_warn.is_some()
            || self.warn_response_time.is_some()
    }

    /// Validates the optional fields shared by `defaults` and entries, in
    /// file-reading order so the first error reported is the first a user sees.
    fn from_raw(raw: RawDefaults) -> Result<Settings, String> {
        Ok(Settings {
            interval: raw.interval.map(|v| interval_value(&v)).transpose()?,
            timeout: raw.timeout.map(|v| timeout_value(&v)).transpose()?,
            method: raw.method.map(|v| method_value(&v)).transpose()?,
            headers: raw
                .headers
                .map(|v| headers_value(&v))
                .transpose()?
                .unwrap_or_default(),
            name: raw.name.map(|v| name_value(&v)).transpose()?,
            group: raw.group.map(|v| group_value(&v)).transpose()?,
            body: raw.body.map(|v| body_value(&v)).transpose()?,
            user_agent: raw.user_agent.map(|v| user_agent_value(&v)).transpose()?,
            follow_redirects: raw
                .follow_redirects
                .map(|v| bool_value("follow_redirects", &v))
                .transpose()?,
            max_redirects: raw
                .max_redirects
                .map(|v| count_value("max_redirects", &v, 0, MAX_REDIRECTS))
                .transpose()?,
            insecure: raw
                .insecure
                .map(|v| bool_value("insecure", &v))
                .transpose()?,
            expect_status: raw
                .expect_status
                .map(|v| status_set_value(&v))
                .transpose()?,
            expect_headers: raw
                .expect_headers
                .map(|v| expect_headers_value(&v))
                .transpose()?
                .unwrap_or_default(),
            body_contains: raw
                .body_contains
                .map(|v| needle_value("body_contains", &v))
                .transpose()?,
            body_not_contains: raw
                .body_not_contains
                .map(|v| needle_value("body_not_contains", &v))
                .transpose()?,
            body_matches: raw.body_matches.map(|v| regex_value(&v)).transpose()?,
            json: raw.json.map(|v| json_value(&v)).transpose()?,
            max_response_time: raw
                .max_response_time
                .map(|v| positive_duration_value("max_response_time", &v))
                .transpose()?,
            retries: raw
                .retries
                .map(|v| count_value("retries", &v, 0, MAX_RETRIES))
                .transpose()?,
            retry_delay: raw.retry_delay.map(|v| retry_delay_value(&v)).transpose()?,
            recover_after: raw
                .recover_after
                .map(|v| count_value("recover_after", &v, 1, MAX_RECOVER_AFTER))
                .transpose()?,
            max_backoff: raw
                .max_backoff
                .map(|v| positive_duration_value("max_backoff", &v))
                .transpose()?,
            notify: raw.notify.map(|v| notify_names_value(&v)).transpose()?,
            allow_http_redirect: raw
                .allow_http_redirect
                .map(|v| bool_value("allow_http_redirect", &v))
                .transpose()?,
            ca_file: raw.ca_file.map(|v| ca_file_value(&v)).transpose()?,
            depends_on: raw
                .depends_on
                .map(|v| plan::depends_on_value(&v))
                .transpose()?,
            cert_expiry_warn: raw
                .cert_expiry_warn
                .map(|v| {
                    duration_value("cert_expiry_warn", &v)
                        .and_then(|d| check_max("cert_expiry_warn", d))
                })
                .transpose()?,
            warn_response_time: raw
                .warn_response_time
                .map(|v| positive_duration_value("warn_response_time", &v))
                .transpose()?,
        })
    }
}

/// The validated `defaults`, and the out-of-line block of every entry that sets none of
/// those settings itself, built once and shared.
#[derive(Default, Clone)]
struct Defaults {
    settings: Settings,
    extra: Option<Arc<Extra>>,
}

/// Validates the `defaults` object.
fn parse_defaults(mut value: Value) -> Result<Defaults, String> {
    interpolate::expand_all(&mut value, &["headers"], &env_var)?;
    if !value.is_object() {
        return Err(format!(
            "must be an object such as {{\"interval\": \"30s\"}}, found {}",
            shown(&value)
        ));
    }
    let raw: RawDefaults = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let settings = Settings::from_raw(raw)?;
    let extra = Extra::merge(Settings::default(), &settings).shared();
    Ok(Defaults { settings, extra })
}

/// Validates the entry at `index` against `defaults`; an error names the entry.
///
/// `interpolate` is false when the file holds no `${` at all: then no string needs looking at.
fn entry(
    index: usize,
    value: Value,
    defaults: &Defaults,
    interpolate: bool,
) -> Result<Monitor, ConfigError> {
    // Take the URL for the error label before anything else can fail: its shown form, so a
    // password never reaches an error message.
    let url = match value.get("url") {
        Some(Value::String(u)) if !u.trim().is_empty() => {
            Some(shown_url::redact_userinfo(u.trim()).into_owned())
        }
        Some(Value::Object(o)) => o
            .get("env")
            .and_then(Value::as_str)
            .map(shown_url::from_env),
        _ => None,
    };
    let mut value = value;
    // `url` and `headers` expand their own `${VAR}`s: what comes from there is a secret.
    let expanded = if interpolate {
        interpolate::expand_all(&mut value, &["url", "headers"], &env_var)
    } else {
        Ok(())
    };
    expanded
        .and_then(|()| parse_entry(value, defaults))
        .map_err(|message| ConfigError::Entry {
            index,
            url,
            message,
        })
}

/// Merges two per-header-name lists: `defaults` first, minus any name `own` overrides, then
/// `own` (HeaderName is lowercase, so equality is the case-insensitive comparison we want).
fn merge_by_name<T: Clone>(
    defaults: &[(HeaderName, T)],
    own: Vec<(HeaderName, T)>,
) -> Vec<(HeaderName, T)> {
    let mut merged: Vec<_> = defaults
        .iter()
        .filter(|(name, _)| !own.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    merged.extend(own);
    merged
}

/// Validates one entry and combines it with the defaults into a [`Monitor`].
fn parse_entry(value: Value, defaults: &Defaults) -> Result<Monitor, String> {
    if !value.is_object() {
        return Err(format!(
            "expected an object such as {{\"url\": \"https://example.com\"}}, found {}",
            shown(&value)
        ));
    }
    let raw: RawEntry = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let (url, raw) = raw.split();
    let (url, request_url) = match url {
        None => return Err("missing required field `url`".to_owned()),
        Some(v) => url_value(&v)?,
    };
    let mut own = Settings::from_raw(raw)?;
    let base = &defaults.settings;
    let interval = own.interval.or(base.interval).unwrap_or(DEFAULT_INTERVAL);
    let method = own.method.or(base.method).unwrap_or(Method::Get);
    let monitor = Monitor {
        url,
        name: own.name.take().or_else(|| base.name.clone()),
        id: Box::default(),
        group: own.group.take().or_else(|| base.group.clone()),
        interval,
        timeout: own.timeout.or(base.timeout).unwrap_or(DEFAULT_TIMEOUT),
        method,
        follow_redirects: own
            .follow_redirects
            .or(base.follow_redirects)
            .unwrap_or(true),
        insecure: own.insecure.or(base.insecure).unwrap_or(false),
        extra: if own.sets_extra() || request_url.is_some() {
            let mut extra = Extra::merge(own, base);
            extra.request_url = request_url;
            extra.shared()
        } else {
            defaults.extra.clone()
        },
    };
    if monitor.body().is_some() && !method.has_body() {
        return Err(format!(
            "body is set but method is {}; a body is only sent with POST, PUT or PATCH",
            method.as_str()
        ));
    }
    let expect = monitor.expect();
    if method == Method::Head && expect.has_body_assertions() {
        return Err(format!(
            "{} cannot be checked with method HEAD, which reads no body; use GET",
            expect.body_assertion_names().join(", ")
        ));
    }
    Ok(monitor)
}

/// Validates an entry's `notify`: a list of channel names (checked against the `notify` list
/// once everything is parsed).
fn notify_names_value(value: &Value) -> Result<Vec<String>, String> {
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

/// Validates `url`: a string, or `{"env": "VAR"}`, that parses, with an http(s) scheme, a
/// host and a usable port. Returns the shown form (see [`shown_url`]) and, when it differs,
/// the URL to request.
fn url_value(value: &Value) -> Result<(Box<str>, Option<Secret>), String> {
    if let Value::Object(map) = value {
        let secret = secret_value("url", value, &env_var)?;
        let var = map.get("env").and_then(Value::as_str).unwrap_or_default();
        // A URL read from the environment is a credential: say what is wrong, never what it is.
        url_text(secret.expose().trim()).map_err(|_| {
            format!(
                "url: environment variable {var} does not hold a valid http:// or https:// URL \
                 with a host and a port from 1 to 65535"
            )
        })?;
        let url = Secret::new(secret.expose().trim());
        return Ok((shown_url::from_env(var).into(), Some(url)));
    }
    let Value::String(text) = value else {
        return Err(format!(
            "`url` must be a string such as \"https://example.com\", or {{\"env\": \"VARIABLE\"}}, found {}",
            shown(value)
        ));
    };
    let (expanded, referenced) =
        interpolate::expand(text.trim(), &env_var).map_err(|e| format!("url: {e}"))?;
    if referenced {
        // Shown as written, `${VAR}` and all; requested with the values, kept secret.
        url_text(expanded.trim())?;
        let shown = shown_url::redact_userinfo(text.trim()).into_owned();
        return Ok((shown.into(), Some(Secret::new(expanded.trim()))));
    }
    let text = url_text(&expanded)?;
    Ok(match shown_url::redact_userinfo(text) {
        std::borrow::Cow::Borrowed(_) => (text.into(), None),
        std::borrow::Cow::Owned(shown) => (shown.into(), Some(Secret::new(text))),
    })
}

/// Reads an environment variable for a `{"env": "VAR"}` value.
fn env_var(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

/// Checks the text of a URL (see [`url_value`]); errors never quote it, as it may hold a
/// password.
fn url_text(text: &str) -> Result<&str, String> {
    if text.is_empty() {
        return Err("`url` is empty".to_owned());
    }
    if text.len() > MAX_URL_BYTES {
        return Err(format!(
            "url is {} bytes long, more than the {MAX_URL_BYTES} sitewatch sends",
            text.len()
        ));
    }
    let uri: Uri = text.parse().map_err(|e| {
        // The http crate only takes ASCII; say how to write other hosts/paths.
        let hint = if text.is_ascii() {
            ""
        } else {
            " (non-ASCII characters must be percent-encoded, and international domain names written in punycode)"
        };
        format!("url is not a valid URL: {e}{hint}")
    })?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        // "example.com" parses as a bare authority: say what is missing.
        None => {
            return Err(
                "url has no scheme; write the full URL starting with http:// or https://"
                    .to_owned(),
            )
        }
        Some(scheme) => {
            return Err(format!(
                "scheme {scheme:?} is not supported; use http or https"
            ))
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("url has no host".to_owned());
    }
    // The http crate accepts "host:99999" and "host:abc" and just reports no
    // port; the request would then fail on every check, so catch it now.
    if let Some(port) = port_text(&uri) {
        if uri.port_u16().is_none_or(|p| p == 0) {
            return Err(format!(
                "url has an invalid port {port:?}; use a number from 1 to 65535"
            ));
        }
    }
    Ok(text)
}

/// The port as written in the URI's authority, if any text follows the colon.
fn port_text(uri: &Uri) -> Option<&str> {
    let authority = uri.authority()?.as_str();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let port = if host_port.starts_with('[') {
        // IPv6 literal: the colons inside the brackets are not a port.
        host_port.split_once(']')?.1.strip_prefix(':')?
    } else {
        host_port.rsplit_once(':')?.1
    };
    (!port.is_empty()).then_some(port)
}

/// Parses a duration field: a non-negative JSON integer of seconds, or a
/// string accepted by [`parse_duration`].
fn duration_value(field: &str, value: &Value) -> Result<Duration, String> {
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
fn interval_value(value: &Value) -> Result<Duration, String> {
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
fn timeout_value(value: &Value) -> Result<Duration, String> {
    positive_duration_value("timeout", value)
}

/// Validates a duration that must be above zero (`timeout`, `max_response_time`,
/// `max_backoff`), up to the maximum.
fn positive_duration_value(field: &str, value: &Value) -> Result<Duration, String> {
    let d = duration_value(field, value)?;
    if d.is_zero() {
        return Err(format!("{field} must be greater than zero"));
    }
    check_max(field, d)
}

/// Validates `retry_delay`: at least [`MIN_RETRY_DELAY`], up to the maximum.
fn retry_delay_value(value: &Value) -> Result<Duration, String> {
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
fn count_value(field: &str, value: &Value, min: u32, max: u32) -> Result<u32, String> {
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
fn bool_value(field: &str, value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(format!(
            "{field} must be true or false, found {}",
            shown(other)
        )),
    }
}

/// Validates `body`: a string (it may be empty).
fn body_value(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!(
            "body must be a string (the request body as text), found {}",
            shown(other)
        )),
    }
}

/// Validates `user_agent`: a non-empty string that is a valid header value.
fn user_agent_value(value: &Value) -> Result<String, String> {
    let Value::String(s) = value else {
        return Err(format!(
            "user_agent must be a string, found {}",
            shown(value)
        ));
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(
            "user_agent is empty; remove it to send the default sitewatch/<version>".to_owned(),
        );
    }
    if s.len() > MAX_HEADER_BYTES {
        return Err(format!(
            "user_agent is {} bytes long, more than the {MAX_HEADER_BYTES} sitewatch sends in one header",
            s.len()
        ));
    }
    if HeaderValue::from_str(s).is_err() {
        return Err(format!(
            "user_agent {s:?} is not a valid HTTP header value \
             (it must not contain line breaks or other control characters)"
        ));
    }
    Ok(s.to_owned())
}

/// Validates `body_contains` / `body_not_contains`: a non-empty string.
fn needle_value(field: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err(format!(
            "{field} is empty; give the text to look for in the body"
        )),
        other => Err(format!("{field} must be a string, found {}", shown(other))),
    }
}

/// Validates `body_matches`: a string that compiles as a regex.
fn regex_value(value: &Value) -> Result<Regex, String> {
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

/// Validates `json`: an object mapping JSON Pointers (RFC 6901: empty, or starting with `/`)
/// to the values expected there, at least one.
fn json_value(value: &Value) -> Result<Vec<(String, Value)>, String> {
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

/// The regex crate's syntax errors span several lines (the pattern, a caret, the message);
/// keep the message, so the config error stays on one line.
fn one_line_regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    if let Some(message) = text.lines().find_map(|l| l.trim().strip_prefix("error:")) {
        return message.trim().to_owned();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Validates `expect_status`: a non-empty array of codes (`200`, `"301"`), classes (`"2xx"`)
/// and inclusive ranges (`"200-299"`).
fn status_set_value(value: &Value) -> Result<StatusSet, String> {
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
fn expect_headers_value(value: &Value) -> Result<Vec<(HeaderName, String)>, String> {
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

/// Rejects durations above [`MAX_DURATION`].
fn check_max(field: &str, d: Duration) -> Result<Duration, String> {
    if d > MAX_DURATION {
        return Err(format!(
            "{field} {} is above the maximum of {}",
            humantime::format_duration(d),
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(d)
}

/// Validates `method`: one of [`Method::ALL`], any case.
fn method_value(value: &Value) -> Result<Method, String> {
    let Value::String(s) = value else {
        return Err(format!(
            "method must be a string such as \"GET\" or \"POST\", found {}",
            shown(value)
        ));
    };
    let m = s.trim();
    Method::ALL
        .into_iter()
        .find(|method| m.eq_ignore_ascii_case(method.as_str()))
        .ok_or_else(|| {
            format!(
                "method {s:?} is not supported; use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS"
            )
        })
}

/// Validates `headers`: an object of valid header names to valid string values.
fn headers_value(value: &Value) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "headers must be an object such as {{\"User-Agent\": \"sitewatch\"}}, found {}",
            shown(value)
        ));
    };
    header_pairs(map)
}

fn header_pairs(map: &Map<String, Value>) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut out: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(map.len());
    for (key, value) in map {
        let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| {
            format!(
                "header name {key:?} is not a valid HTTP header name \
                 (letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons)"
            )
        })?;
        // JSON keys are case-sensitive but header names are not: {"X-A", "x-a"}
        // would silently send one or both, so make the user pick.
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!(
                "header {key:?} is given more than once (header names are case-insensitive)"
            ));
        }
        // A value read from the environment is a secret: never shown, never sent to another
        // origin (see Monitor::is_secret_header).
        let mut from_env = value.is_object();
        let text = match value {
            Value::String(text) => {
                let (text, referenced) = interpolate::expand(text, &env_var)
                    .map_err(|e| format!("header {key:?}: {e}"))?;
                from_env = referenced;
                text.into_owned()
            }
            Value::Object(_) => secret_value(&format!("header {key:?}"), value, &env_var)?
                .expose()
                .to_owned(),
            _ => {
                return Err(format!(
                    "header {key:?}: value must be a string or {{\"env\": \"VARIABLE\"}}, found {}",
                    shown(value)
                ))
            }
        };
        if key.len() + text.len() > MAX_HEADER_BYTES {
            return Err(format!(
                "header {key:?} is {} bytes long with its value, more than the {MAX_HEADER_BYTES} \
                 sitewatch sends in one header",
                key.len() + text.len()
            ));
        }
        // The value is not quoted in the error: it may well be a credential.
        let mut header_value = HeaderValue::from_str(&text).map_err(|_| {
            format!(
                "header {key:?}: value is not a valid HTTP header value \
                 (it must not contain line breaks or other control characters)"
            )
        })?;
        if from_env
            || name == ureq::http::header::AUTHORIZATION
            || name == ureq::http::header::PROXY_AUTHORIZATION
            || name == ureq::http::header::COOKIE
        {
            header_value.set_sensitive(true);
        }
        out.push((name, header_value));
    }
    Ok(out)
}

/// Largest `ca_file` read: far more than any bundle of CA certificates.
const MAX_CA_FILE: u64 = 1024 * 1024;

/// Validates `ca_file`: the path of a readable PEM file holding at least one certificate,
/// loaded now, so that a check never meets a missing file. A relative path is taken from the
/// working directory.
fn ca_file_value(value: &Value) -> Result<TlsConfig, String> {
    use std::io::Read;
    let Value::String(path) = value else {
        return Err(format!(
            "ca_file must be the path of a PEM file, found {}",
            shown(value)
        ));
    };
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_FILE + 1).read_to_end(&mut pem))
        .map_err(|e| format!("ca_file {path:?} cannot be read: {e}"))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(format!(
            "ca_file {path:?} is larger than {MAX_CA_FILE} bytes; it should hold PEM certificates"
        ));
    }
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => return Err(format!("ca_file {path:?} is not valid PEM: {e}")),
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "ca_file {path:?} holds no certificate (expected PEM blocks \
             \"-----BEGIN CERTIFICATE-----\")"
        ));
    }
    Ok(TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build())
}

/// Longest `name` accepted, in characters.
pub const MAX_NAME: usize = 200;

/// Whether `c` must not appear in a name: C0 and C1 controls, DEL, and the Unicode bidi
/// controls (embeddings, overrides, isolates, marks), which forge log lines or reorder what a
/// terminal or a report shows.
fn forbidden_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Validates `name`: a non-empty string (trimmed) of at most [`MAX_NAME`] characters, without
/// control characters (a newline would forge a log line, an escape sequence would reach the
/// terminal).
fn name_value(value: &Value) -> Result<Box<str>, String> {
    label_value("name", "remove it to use the URL as the label", value).map(Into::into)
}

/// Validates `group` like `name` (at most [`MAX_NAME`] characters, no control or bidi
/// characters).
fn group_value(value: &Value) -> Result<Arc<Box<str>>, String> {
    label_value("group", "remove it to leave the monitor ungrouped", value)
        .map(|s| Arc::new(s.into()))
}

/// A display label (`field` is `name` or `group`): a non-empty string, trimmed.
fn label_value<'v>(field: &str, if_empty: &str, value: &'v Value) -> Result<&'v str, String> {
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

/// Longest text quoted from the config in an error message, in characters: a 100 MB value
/// must not make a 100 MB message.
const MAX_QUOTED: usize = 200;
/// Longest error message, in bytes (a last bound for everything not quoted through [`shown`],
/// such as an unknown key that serde names).
const MAX_MESSAGE: usize = 2000;

/// `text` cut to at most `max` bytes on a character boundary, with a marker when cut, and with
/// control and bidi characters escaped (`\n`, `\u{202e}`), so a message quoting the config (as
/// serde does an unknown key) stays one honest line.
fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.chars().any(forbidden_in_name) {
        let escaped: String = text
            .chars()
            .map(|c| {
                if forbidden_in_name(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        return clip(&escaped, max).into_owned().into();
    }
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len()).into()
}

/// A value as it should appear in an error: scalars verbatim (strings quoted
/// and escaped, so the message stays on one line, and cut after [`MAX_QUOTED`]
/// characters), containers by kind only.
pub(crate) fn shown(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() > MAX_QUOTED => {
            let head: String = s.chars().take(MAX_QUOTED).collect();
            format!("{head:?}… ({} bytes in all)", s.len())
        }
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) | Value::Object(_) => kind(value).to_owned(),
        scalar => scalar.to_string(),
    }
}

/// The JSON type of a value, with an article, for "found ..." messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    // --- accepted forms -------------------------------------------------

    #[test]
    fn plain_array_parses_with_builtin_defaults() {
        let c = ok(r#"[{"url": "https://example.com"}]"#);
        assert_eq!(c.monitors.len(), 1);
        let m = &c.monitors[0];
        assert_eq!(&*m.url, "https://example.com");
        assert_eq!(m.uri().unwrap().host(), Some("example.com"));
        assert_eq!(m.interval, DEFAULT_INTERVAL);
        assert_eq!(m.timeout, DEFAULT_TIMEOUT);
        assert_eq!(m.method, Method::Get);
        assert!(m.headers().is_empty());
        assert_eq!(m.name, None);
    }

    #[test]
    fn object_form_parses_with_and_without_defaults() {
        let c = ok(r#"{"urls": [{"url": "http://a.example"}, {"url": "https://b.example/x"}]}"#);
        assert_eq!(c.monitors.len(), 2);
        assert_eq!(c.monitors[1].uri().unwrap().path(), "/x");
        let c = ok(r#"{"defaults": {}, "urls": [{"url": "http://a.example"}]}"#);
        assert_eq!(c.monitors[0].interval, DEFAULT_INTERVAL);
    }

    #[test]
    fn defaults_apply_and_entries_override() {
        let c = ok(r#"{
            "defaults": {"interval": "5m", "timeout": 3, "method": "HEAD", "name": "site"},
            "urls": [
                {"url": "https://a.example"},
                {"url": "https://b.example", "interval": 30, "timeout": "1s", "method": "get", "name": "b"}
            ]
        }"#);
        let (a, b) = (&c.monitors[0], &c.monitors[1]);
        assert_eq!(a.interval, Duration::from_secs(300));
        assert_eq!(a.timeout, Duration::from_secs(3));
        assert_eq!(a.method, Method::Head);
        assert_eq!(a.name.as_deref(), Some("site"));
        assert_eq!(b.interval, Duration::from_secs(30));
        assert_eq!(b.timeout, Duration::from_secs(1));
        assert_eq!(b.method, Method::Get);
        assert_eq!(b.name.as_deref(), Some("b"));
    }

    #[test]
    fn headers_merge_case_insensitively_entry_wins() {
        let c = ok(r#"{
            "defaults": {"headers": {"User-Agent": "sitewatch", "X-Team": "ops"}},
            "urls": [
                {"url": "https://a.example", "headers": {"x-team": "web", "Accept": "text/html"}},
                {"url": "https://b.example"}
            ]
        }"#);
        let a = &c.monitors[0];
        assert_eq!(a.headers().len(), 3);
        assert_eq!(header(a, "user-agent"), Some("sitewatch"));
        assert_eq!(header(a, "X-Team"), Some("web"));
        assert_eq!(header(a, "accept"), Some("text/html"));
        let b = &c.monitors[1];
        assert_eq!(b.headers().len(), 2);
        assert_eq!(header(b, "x-team"), Some("ops"));
    }

    #[test]
    fn credential_headers_are_sensitive() {
        let c = ok(&one(
            "headers",
            r#"{"Authorization": "Bearer s3cret", "X-A": "1"}"#,
        ));
        let m = &c.monitors[0];
        let auth = m
            .headers()
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap();
        assert!(auth.1.is_sensitive());
        assert!(!format!("{m:?}").contains("s3cret"));
    }

    #[test]
    fn same_url_twice_gives_two_monitors() {
        let c = ok(r#"[
            {"url": "https://example.com", "interval": 30},
            {"url": "https://example.com", "interval": "5m"}
        ]"#);
        assert_eq!(c.monitors.len(), 2);
        assert_eq!(c.monitors[0].interval, Duration::from_secs(30));
        assert_eq!(c.monitors[1].interval, Duration::from_secs(300));
    }

    #[test]
    fn duration_forms_accepted() {
        for (json, secs) in [
            (r#""30s""#, 30),
            (r#""1m 30s""#, 90),
            ("30", 30),
            (r#""90""#, 90),
        ] {
            let c = ok(&one("interval", json));
            assert_eq!(c.monitors[0].interval, Duration::from_secs(secs), "{json}");
        }
        let c = ok(&one("timeout", r#""500ms""#));
        assert_eq!(c.monitors[0].timeout, Duration::from_millis(500));
    }

    #[test]
    fn duration_rejects_quote_the_value() {
        for (json, quoted) in [
            ("1.5", "1.5"),
            ("-1", "-1"),
            (r#""soon""#, r#""soon""#),
            ("true", "true"),
            ("null", "null"),
            ("[30]", "an array"),
        ] {
            let (index, url, msg) = entry_err(&one("interval", json));
            assert_eq!(index, 0);
            assert_eq!(url.as_deref(), Some("https://example.com"));
            assert_contains(&msg, &["entry 1 (index 0", "interval", quoted, "30s"]);
        }
        let (_, _, msg) = entry_err(&one("timeout", "-1"));
        assert_contains(&msg, &["timeout -1", "not a valid duration"]);
    }

    #[test]
    fn parse_duration_forms() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 90 "), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("99999999999999999999").is_err());
    }

    #[test]
    fn interval_below_one_second_rejected_exactly_one_accepted() {
        let (_, _, msg) = entry_err(&one("interval", r#""500ms""#));
        assert_contains(&msg, &["interval 500ms", "minimum of 1s"]);
        let (_, _, msg) = entry_err(&one("interval", "0"));
        assert_contains(&msg, &["minimum of 1s"]);
        let c = ok(&one("interval", r#""1s""#));
        assert_eq!(c.monitors[0].interval, MIN_INTERVAL);
    }

    #[test]
    fn timeout_zero_rejected() {
        for json in ["0", r#""0s""#] {
            let (_, _, msg) = entry_err(&one("timeout", json));
            assert_contains(&msg, &["timeout must be greater than zero"]);
        }
    }

    #[test]
    fn absurd_durations_rejected() {
        let (_, _, msg) = entry_err(&one("interval", "18446744073709551615"));
        assert_contains(&msg, &["interval", "above the maximum"]);
        let (_, _, msg) = entry_err(&one("timeout", r#""500years""#));
        assert_contains(&msg, &["timeout", "above the maximum"]);
    }

    #[test]
    fn every_method_accepted_in_any_case_others_rejected() {
        assert_eq!(
            ok(&one("method", r#""head""#)).monitors[0].method,
            Method::Head
        );
        assert_eq!(
            ok(&one("method", r#""Get""#)).monitors[0].method,
            Method::Get
        );
        for method in Method::ALL {
            let lower = method.as_str().to_ascii_lowercase();
            let c = ok(&one("method", &format!("{lower:?}")));
            assert_eq!(c.monitors[0].method, method);
            assert_eq!(c.monitors[0].method.as_str(), method.as_str());
        }
        let (_, _, msg) = entry_err(&one("method", r#""TRACE""#));
        assert_contains(
            &msg,
            &[
                "entry 1 (index 0, \"https://example.com\")",
                r#"method "TRACE""#,
                "GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS",
            ],
        );
        let (_, _, msg) = entry_err(&one("method", "1"));
        assert_contains(&msg, &["method", "found 1"]);
        assert!(Method::Post.has_body() && Method::Put.has_body() && Method::Patch.has_body());
        assert!(!Method::Get.has_body() && !Method::Head.has_body());
        assert!(!Method::Delete.has_body() && !Method::Options.has_body());
    }

    #[test]
    fn url_trimmed_and_label_prefers_name() {
        let c = ok(
            r#"[{"url": "  https://example.com/health  "}, {"url": "http://b.example", "name": " B "}]"#,
        );
        assert_eq!(&*c.monitors[0].url, "https://example.com/health");
        assert_eq!(c.monitors[0].label(), "https://example.com/health");
        assert_eq!(c.monitors[1].label(), "B");
    }

    #[test]
    fn byte_order_mark_ignored() {
        assert_eq!(
            ok("\u{feff}[{\"url\": \"https://example.com\"}]")
                .monitors
                .len(),
            1
        );
    }

    #[test]
    fn representative_example_parses() {
        let text = r#"{
  "defaults": {
    "interval": "1m",
    "timeout": "5s",
    "headers": {"User-Agent": "sitewatch/0.1 (+ops@example.com)"}
  },
  "urls": [
    {"url": "https://example.com", "name": "homepage"},
    {"url": "https://example.com", "name": "homepage (fast)", "interval": 10},
    {"url": "https://api.example.com/health", "method": "HEAD", "interval": "30s"},
    {"url": "http://intranet.example:8080/status", "timeout": "2s 500ms",
     "headers": {"Authorization": "Bearer abc123", "Accept": "application/json"}},
    {"url": "https://[::1]:8443/ready", "interval": 90}
  ]
}"#;
        let c = ok(text);
        assert_eq!(c.monitors.len(), 5);
        assert_eq!(c.monitors[1].interval, Duration::from_secs(10));
        assert_eq!(c.monitors[2].method, Method::Head);
        assert_eq!(c.monitors[3].timeout, Duration::from_millis(2500));
        assert_eq!(c.monitors[3].uri().unwrap().port_u16(), Some(8080));
        assert_eq!(c.monitors[3].headers().len(), 3);
        assert_eq!(c.monitors[4].uri().unwrap().host(), Some("[::1]"));
        assert!(c
            .monitors
            .iter()
            .all(|m| m.timeout == Duration::from_secs(5) || m.url.starts_with("http://intranet")));
    }

    // --- file-level errors ----------------------------------------------

    #[test]
    fn malformed_json_reports_line_and_column() {
        let text = "[\n  {\"url\": \"https://a.example\"}\n  {\"url\": \"https://b.example\"}\n]";
        match err(text) {
            e @ ConfigError::Syntax { line, column, .. } => {
                assert_eq!((line, column), (3, 3));
                let msg = e.to_string();
                assert_contains(&msg, &["line 3, column 3: ", "expected `,` or `]`"]);
                assert!(!msg.contains(" at line"), "{msg}");
            }
            other => panic!("expected Syntax, got {other:?}"),
        }
    }

    #[test]
    fn empty_input_and_empty_lists_rejected() {
        for text in [
            "",
            "  \n",
            "[]",
            r#"{"urls": []}"#,
            r#"{"defaults": {"interval": 5}, "urls": []}"#,
        ] {
            let e = err(text);
            assert!(matches!(e, ConfigError::Empty), "{text}: {e:?}");
            assert_contains(&e.to_string(), &["nothing to monitor"]);
        }
    }

    #[test]
    fn top_level_must_be_array_or_object() {
        for (text, kind) in [
            ("42", "a number"),
            (r#""urls""#, "a string"),
            ("null", "null"),
        ] {
            let e = err(text);
            assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
            assert_contains(&e.to_string(), &["top level", "array", kind]);
        }
    }

    #[test]
    fn unknown_top_level_key_named() {
        let e = err(r#"{"urls": [{"url": "https://example.com"}], "monitors": []}"#);
        assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
        assert_contains(
            &e.to_string(),
            &[r#""monitors""#, r#""urls""#, r#""defaults""#],
        );
    }

    #[test]
    fn urls_missing_or_not_array() {
        let e = err(r#"{"defaults": {}}"#);
        assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
        assert_contains(&e.to_string(), &["no \"urls\" key"]);
        let e = err(r#"{"urls": {"url": "https://example.com"}}"#);
        assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
        assert_contains(
            &e.to_string(),
            &["\"urls\" must be an array", "found an object"],
        );
    }

    #[test]
    fn defaults_after_urls_still_apply_and_errors_name_the_entry() {
        let c = ok(
            r#"{"urls": [{"url": "http://a.example"}, {"url": "http://b.example", "retries": 0}],
                       "defaults": {"interval": "5m", "retries": 4}}"#,
        );
        assert_eq!(c.monitors[0].interval, Duration::from_secs(300));
        assert_eq!(c.monitors[0].policy().retries, 4);
        assert_eq!(c.monitors[1].policy().retries, 0);
        let (index, url, _) = entry_err(
            r#"{"urls": [{"url": "http://a.example"}, {"url": "http://b.example", "body": "x"}],
                "defaults": {"method": "GET"}}"#,
        );
        assert_eq!((index, url.as_deref()), (1, Some("http://b.example")));
    }

    #[test]
    fn a_top_level_key_given_twice_is_an_error() {
        for key in ["urls", "defaults", "notify"] {
            let text = format!(
                r#"{{"defaults": {{}}, "notify": [], "urls": [{{"url": "http://a.example"}}], "{key}": []}}"#
            );
            let e = err(&text);
            assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
            assert_contains(&e.to_string(), &[&format!("{key:?}"), "twice"]);
        }
    }

    #[test]
    fn problems_are_reported_in_file_order() {
        // An invalid entry before a syntax error: the entry is what the reader meets first.
        let (index, _, _) = entry_err(
            "[{\"url\": \"http://a.example\"},\n {\"url\": \"ftp://b.example\"},\n {\"url\": }]",
        );
        assert_eq!(index, 1);
        // A syntax error inside a later entry keeps its line and column.
        match err("[{\"url\": \"http://a.example\"},\n {\"url\": \"http://b.example\" \"x\"}]") {
            ConfigError::Syntax { line, column, .. } => assert_eq!((line, column), (2, 29)),
            other => panic!("expected a syntax error, got {other:?}"),
        }
        match err("[{\"url\": \"http://a.example\"}] x") {
            ConfigError::Syntax { message, .. } => assert_contains(&message, &["trailing"]),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn plain_monitors_keep_nothing_out_of_line_and_share_the_defaults_block() {
        // A plain monitor is small: the memory of a million-URL list depends on it (80 bytes,
        // plus the id's pointer and length and the group's one thin pointer).
        assert!(std::mem::size_of::<Monitor>() <= 104);
        let c = ok(r#"[{"url": "http://a.example"}, {"url": "http://b.example", "interval": 5}]"#);
        assert!(c.monitors.iter().all(|m| m.extra.is_none()));
        assert_eq!(
            c.monitors[1].policy(),
            default_policy(Duration::from_secs(5))
        );
        assert!(c.monitors[0].expect().status_ok(204) && !c.monitors[0].expect().status_ok(301));
        let c = ok(
            r#"{"defaults": {"headers": {"X-A": "1"}, "max_backoff": "1s"},
                       "urls": [{"url": "http://a.example", "interval": 30}, {"url": "http://b.example"},
                                {"url": "http://c.example", "headers": {"X-B": "2"}}]}"#,
        );
        let (a, b, own) = (&c.monitors[0], &c.monitors[1], &c.monitors[2]);
        let (Some(xa), Some(xb)) = (&a.extra, &b.extra) else {
            panic!("defaults with headers give every monitor the block");
        };
        assert!(
            Arc::ptr_eq(xa, xb),
            "monitors setting nothing share the defaults' block"
        );
        assert!(!Arc::ptr_eq(xa, own.extra.as_ref().unwrap()));
        assert_eq!(own.headers().len(), 2);
        // max_backoff is shared but never below each monitor's own interval.
        assert_eq!(a.policy().max_backoff, Duration::from_secs(30));
        assert_eq!(b.policy().max_backoff, DEFAULT_INTERVAL);
    }

    #[test]
    fn defaults_errors_are_prefixed() {
        for (defaults, needles) in [
            (
                r#"{"url": "https://x.example"}"#,
                &["unknown field `url`", "`interval`"][..],
            ),
            (r#"{"interval": "soon"}"#, &["interval \"soon\""][..]),
            (
                r#"{"timeout": 0}"#,
                &["timeout must be greater than zero"][..],
            ),
            (
                r#"{"method": "CONNECT"}"#,
                &["\"CONNECT\"", "DELETE or OPTIONS"][..],
            ),
            (
                r#"{"retries": 11}"#,
                &["retries", "0 to 10", "found 11"][..],
            ),
            (
                r#"{"body_matches": "("}"#,
                &["body_matches \"(\"", "not a valid regex"][..],
            ),
            (r#"{"headers": {"Bad Name": "x"}}"#, &["\"Bad Name\""][..]),
            (r#"[]"#, &["must be an object", "found an array"][..]),
        ] {
            let text = format!(
                r#"{{"defaults": {defaults}, "urls": [{{"url": "https://example.com"}}]}}"#
            );
            let e = err(&text);
            assert!(matches!(e, ConfigError::Defaults(_)), "{e:?}");
            let msg = e.to_string();
            assert!(msg.starts_with("defaults: "), "{msg}");
            assert_contains(&msg, needles);
        }
    }

    // --- entry errors ---------------------------------------------------

    #[test]
    fn entry_errors_name_position_and_url() {
        let (index, url, msg) = entry_err(
            r#"[{"url": "https://a.example"}, {"url": "http://b.example"}, {"url": "ftp://example.com"}]"#,
        );
        assert_eq!(index, 2);
        assert_eq!(url.as_deref(), Some("ftp://example.com"));
        assert_eq!(
            msg,
            r#"entry 3 (index 2, "ftp://example.com"): scheme "ftp" is not supported; use http or https"#
        );
    }

    #[test]
    fn first_bad_entry_is_reported() {
        let (index, _, _) =
            entry_err(r#"[{"url": "https://a.example"}, {"url": 1}, {"url": "ftp://x"}]"#);
        assert_eq!(index, 1);
    }

    #[test]
    fn entry_not_an_object() {
        let (index, url, msg) = entry_err(r#"[{"url": "https://a.example"}, "https://b.example"]"#);
        assert_eq!((index, url), (1, None));
        assert_contains(
            &msg,
            &[
                "entry 2 (index 1): ",
                "expected an object",
                r#""https://b.example""#,
            ],
        );
    }

    #[test]
    fn missing_url() {
        let (index, url, msg) = entry_err(r#"[{"interval": 30}]"#);
        assert_eq!((index, url), (0, None));
        assert_contains(
            &msg,
            &["entry 1 (index 0): ", "missing required field `url`"],
        );
    }

    #[test]
    fn url_not_a_string_or_empty() {
        let (_, url, msg) = entry_err(r#"[{"url": 42}]"#);
        assert_eq!(url, None);
        assert_contains(&msg, &["`url` must be a string", "found 42"]);
        let (_, _, msg) = entry_err(r#"[{"url": "  "}]"#);
        assert_contains(&msg, &["`url` is empty"]);
    }

    #[test]
    fn unknown_field_named_with_accepted_list() {
        let (index, url, msg) = entry_err(r#"[{"url": "https://example.com", "intervall": 30}]"#);
        assert_eq!((index, url.as_deref()), (0, Some("https://example.com")));
        assert_contains(
            &msg,
            &[
                "unknown field `intervall`",
                "`url`",
                "`interval`",
                "`timeout`",
                "`method`",
                "`headers`",
                "`name`",
            ],
        );
    }

    #[test]
    fn unparseable_url() {
        let (_, url, msg) = entry_err(r#"[{"url": "https://exa mple.com"}]"#);
        assert_eq!(url.as_deref(), Some("https://exa mple.com"));
        assert_contains(
            &msg,
            &["(index 0, \"https://exa mple.com\"): url is not a valid URL"],
        );
        let (_, _, msg) = entry_err(r#"[{"url": "https://bücher.example"}]"#);
        assert_contains(&msg, &["not a valid URL", "punycode"]);
    }

    #[test]
    fn unsupported_scheme_named() {
        let (_, _, msg) = entry_err(r#"[{"url": "ftp://example.com"}]"#);
        assert_contains(&msg, &[r#"scheme "ftp" is not supported"#, "http or https"]);
        let (_, _, msg) = entry_err(r#"[{"url": "example.com"}]"#);
        assert_contains(&msg, &["has no scheme", "http://", "https://"]);
    }

    #[test]
    fn url_without_host_or_with_bad_port() {
        let (_, _, msg) = entry_err(r#"[{"url": "https://:8080/"}]"#);
        assert_contains(&msg, &["has no host"]);
        let (_, _, msg) = entry_err(r#"[{"url": "http:///path"}]"#);
        assert_contains(&msg, &["not a valid URL"]);
        for bad in ["99999", "abc", "0"] {
            let (_, _, msg) = entry_err(&format!(r#"[{{"url": "https://example.com:{bad}/"}}]"#));
            assert_contains(&msg, &["invalid port", bad, "1 to 65535"]);
        }
    }

    #[test]
    fn bad_headers_rejected() {
        let (_, _, msg) = entry_err(&one("headers", r#"{"Bad Name": "x"}"#));
        assert_contains(
            &msg,
            &[
                "entry 1 (index 0, \"https://example.com\")",
                r#"header name "Bad Name""#,
            ],
        );
        let (_, _, msg) = entry_err(&one("headers", r#"{"X-Token": "a\nb"}"#));
        assert_contains(
            &msg,
            &[r#"header "X-Token""#, "not a valid HTTP header value"],
        );
        let (_, _, msg) = entry_err(&one("headers", r#"{"X-Token": 5}"#));
        assert_contains(
            &msg,
            &[r#"header "X-Token""#, "must be a string", "found 5"],
        );
        let (_, _, msg) = entry_err(&one("headers", r#"{"X-A": "1", "x-a": "2"}"#));
        assert_contains(&msg, &["more than once"]);
        let (_, _, msg) = entry_err(&one("headers", r#"["X-A: 1"]"#));
        assert_contains(&msg, &["headers must be an object", "found an array"]);
    }

    #[test]
    fn bad_name_rejected() {
        let (_, _, msg) = entry_err(&one("name", "7"));
        assert_contains(&msg, &["name must be a string", "found 7"]);
        let (_, _, msg) = entry_err(&one("name", r#""""#));
        assert_contains(&msg, &["name is empty"]);
    }

    // --- checks: request options, expectations, failure policy ----------

    /// The one monitor of a single-entry config with one field set.
    fn monitor(field: &str, json: &str) -> Monitor {
        ok(&one(field, json)).monitors.remove(0)
    }

    /// The entry error (full display text) of a single-entry config with one field set.
    fn field_err(field: &str, json: &str) -> String {
        let (index, url, msg) = entry_err(&one(field, json));
        assert_eq!((index, url.as_deref()), (0, Some("https://example.com")));
        assert!(
            msg.starts_with("entry 1 (index 0, \"https://example.com\"): "),
            "{msg}"
        );
        msg
    }

    #[test]
    fn new_fields_have_their_defaults() {
        let m = &ok(r#"[{"url": "https://example.com", "interval": 30}]"#).monitors[0];
        assert_eq!(m.body(), None);
        assert_eq!(m.user_agent(), None);
        assert!(m.follow_redirects);
        assert_eq!(m.max_redirects(), None);
        assert!(!m.insecure);
        assert_eq!(m.expect().status, None);
        assert!(m.expect().status_ok(204) && !m.expect().status_ok(301));
        assert!(m.expect().headers.is_empty());
        assert!(!m.expect().has_body_assertions());
        assert_eq!(m.expect().max_response_time, None);
        assert_eq!(m.policy(), default_policy(Duration::from_secs(30)));
        assert_eq!(m.policy().retries, DEFAULT_RETRIES);
        assert_eq!(m.policy().retry_delay, DEFAULT_RETRY_DELAY);
        assert_eq!(m.policy().recover_after, DEFAULT_RECOVER_AFTER);
        assert_eq!(m.policy().max_backoff, Duration::from_secs(240));
    }

    #[test]
    fn retries_parse_and_range() {
        assert_eq!(monitor("retries", "0").policy().retries, 0);
        assert_eq!(monitor("retries", "10").policy().retries, 10);
        for bad in ["11", "-1", "1.5", r#""2""#, "null"] {
            let msg = field_err("retries", bad);
            assert_contains(&msg, &["retries must be a whole number from 0 to 10", bad]);
        }
    }

    #[test]
    fn retry_delay_parse_and_minimum() {
        assert_eq!(
            monitor("retry_delay", r#""100ms""#).policy().retry_delay,
            Duration::from_millis(100)
        );
        assert_eq!(
            monitor("retry_delay", "5").policy().retry_delay,
            Duration::from_secs(5)
        );
        let msg = field_err("retry_delay", r#""50ms""#);
        assert_contains(&msg, &["retry_delay 50ms is below the minimum of 100ms"]);
        let msg = field_err("retry_delay", "0");
        assert_contains(&msg, &["retry_delay", "minimum of 100ms"]);
        let msg = field_err("retry_delay", r#""soon""#);
        assert_contains(&msg, &["retry_delay \"soon\" is not a valid duration"]);
    }

    #[test]
    fn recover_after_parse_and_range() {
        assert_eq!(monitor("recover_after", "1").policy().recover_after, 1);
        assert_eq!(monitor("recover_after", "100").policy().recover_after, 100);
        for bad in ["0", "101", "true"] {
            let msg = field_err("recover_after", bad);
            assert_contains(
                &msg,
                &["recover_after must be a whole number from 1 to 100", bad],
            );
        }
    }

    #[test]
    fn max_backoff_default_given_and_raised_to_the_interval() {
        // Default: 8 × interval, capped at 10 minutes, never below the interval.
        let m = &ok(r#"[{"url": "https://example.com", "interval": "5m"}]"#).monitors[0];
        assert_eq!(m.policy().max_backoff, BACKOFF_CEILING);
        let m = &ok(r#"[{"url": "https://example.com", "interval": "1h"}]"#).monitors[0];
        assert_eq!(m.policy().max_backoff, Duration::from_secs(3600));
        let m = &ok(r#"[{"url": "https://example.com", "interval": "10s", "max_backoff": "30m"}]"#)
            .monitors[0];
        assert_eq!(m.policy().max_backoff, Duration::from_secs(1800));
        // Below the interval: raised to it.
        let m = &ok(r#"[{"url": "https://example.com", "interval": "1m", "max_backoff": "10s"}]"#)
            .monitors[0];
        assert_eq!(m.policy().max_backoff, Duration::from_secs(60));
        assert_contains(
            &field_err("max_backoff", "0"),
            &["max_backoff must be greater than zero"],
        );
        assert_contains(
            &field_err("max_backoff", r#""500years""#),
            &["max_backoff", "above the maximum"],
        );
    }

    #[test]
    fn expect_status_forms() {
        let m = monitor("expect_status", r#"[200, "3xx", "401-403", "404"]"#);
        let set = m.expect().status.clone().unwrap();
        assert_eq!(
            set.patterns(),
            [
                StatusPattern::Code(200),
                StatusPattern::Class(3),
                StatusPattern::Range(401, 403),
                StatusPattern::Code(404),
            ]
        );
        for code in [200, 301, 399, 402, 404] {
            assert!(m.expect().status_ok(code), "{code}");
        }
        for code in [201, 400, 405, 500] {
            assert!(!m.expect().status_ok(code), "{code}");
        }
        assert_eq!(set.to_string(), "200, 3xx, 401-403 or 404");
    }

    #[test]
    fn expect_status_rejections_quote_the_item() {
        for (json, needles) in [
            ("[]", &["expect_status is empty"][..]),
            ("200", &["expect_status must be an array", "found 200"][..]),
            (
                r#""2xx""#,
                &["expect_status must be an array", "found \"2xx\""][..],
            ),
            (
                "[600]",
                &["expect_status item 600 is not a status code from 100 to 599"][..],
            ),
            ("[99]", &["expect_status item 99"][..]),
            ("[-1]", &["expect_status item -1"][..]),
            ("[200.5]", &["expect_status item 200.5"][..]),
            (
                r#"[200, "2xy"]"#,
                &["expect_status item \"2xy\" is not a status code"][..],
            ),
            (r#"["6xx"]"#, &["expect_status item \"6xx\""][..]),
            (
                r#"["299-200"]"#,
                &["expect_status item \"299-200\" is an empty range"][..],
            ),
            (r#"["200-700"]"#, &["expect_status item \"200-700\""][..]),
            ("[true]", &["expect_status item true"][..]),
            ("[null]", &["expect_status item null"][..]),
        ] {
            assert_contains(&field_err("expect_status", json), needles);
        }
    }

    #[test]
    fn body_assertions_parse() {
        let m = monitor("body_contains", r#""Welcome""#);
        assert_eq!(m.expect().body_contains.as_deref(), Some("Welcome"));
        let m = monitor("body_not_contains", r#""Error""#);
        assert_eq!(m.expect().body_not_contains.as_deref(), Some("Error"));
        let m = monitor("body_matches", r#""(?i)^hello \\w+""#);
        let re = m.expect().body_matches.as_ref().unwrap();
        assert!(re.is_match(b"HELLO world"));
        assert!(m.expect().has_body_assertions());
    }

    #[test]
    fn body_assertion_rejections() {
        for field in ["body_contains", "body_not_contains"] {
            assert_contains(&field_err(field, r#""""#), &[&format!("{field} is empty")]);
            assert_contains(
                &field_err(field, "5"),
                &[&format!("{field} must be a string"), "found 5"],
            );
        }
        let msg = field_err("body_matches", r#""a(b""#);
        assert_contains(
            &msg,
            &[
                "body_matches \"a(b\" is not a valid regex: ",
                "unclosed group",
            ],
        );
        assert!(!msg.contains('\n'), "one line: {msg:?}");
        assert_contains(
            &field_err("body_matches", r#""""#),
            &["body_matches is empty"],
        );
        assert_contains(
            &field_err("body_matches", "[1]"),
            &["body_matches must be a regex", "found an array"],
        );
    }

    #[test]
    fn body_assertions_with_head_rejected() {
        let (_, _, msg) = entry_err(
            r#"[{"url": "https://example.com", "method": "HEAD", "body_contains": "x", "body_matches": "y"}]"#,
        );
        assert_contains(
            &msg,
            &[
                "entry 1 (index 0, \"https://example.com\")",
                "body_contains, body_matches cannot be checked with method HEAD",
            ],
        );
    }

    #[test]
    fn max_response_time_parse_and_rejections() {
        let m = monitor("max_response_time", r#""500ms""#);
        assert_eq!(
            m.expect().max_response_time,
            Some(Duration::from_millis(500))
        );
        assert_contains(
            &field_err("max_response_time", r#""0s""#),
            &["max_response_time must be greater than zero"],
        );
        assert_contains(
            &field_err("max_response_time", "true"),
            &["max_response_time true is not a valid duration"],
        );
    }

    #[test]
    fn expect_headers_parse_merge_and_rejections() {
        let c = ok(r#"{
            "defaults": {"expect_headers": {"Content-Type": "json", "X-Served-By": ""}},
            "urls": [
                {"url": "https://a.example", "expect_headers": {"content-type": "html"}},
                {"url": "https://b.example"}
            ]
        }"#);
        let a = &c.monitors[0].expect().headers;
        assert_eq!(a.len(), 2);
        assert!(a.iter().any(|(n, v)| n == "x-served-by" && v.is_empty()));
        assert!(a.iter().any(|(n, v)| n == "content-type" && v == "html"));
        let b = &c.monitors[1].expect().headers;
        assert!(b.iter().any(|(n, v)| n == "content-type" && v == "json"));
        assert_contains(
            &field_err("expect_headers", r#"{"Bad Name": "x"}"#),
            &["expect_headers: header name \"Bad Name\""],
        );
        assert_contains(
            &field_err("expect_headers", r#"{"X-A": "1", "x-a": "2"}"#),
            &["expect_headers: header \"x-a\" is given more than once"],
        );
        assert_contains(
            &field_err("expect_headers", r#"{"X-A": 1}"#),
            &[
                "expect_headers: header \"X-A\": value must be a string",
                "found 1",
            ],
        );
        assert_contains(
            &field_err("expect_headers", r#"["X-A"]"#),
            &["expect_headers must be an object", "found an array"],
        );
    }

    #[test]
    fn redirect_and_tls_options() {
        assert!(!monitor("follow_redirects", "false").follow_redirects);
        assert!(monitor("follow_redirects", "true").follow_redirects);
        assert_eq!(monitor("max_redirects", "0").max_redirects(), Some(0));
        assert_eq!(monitor("max_redirects", "50").max_redirects(), Some(50));
        assert!(monitor("insecure", "true").insecure);
        assert!(!monitor("insecure", "false").insecure);
        assert_contains(
            &field_err("follow_redirects", r#""no""#),
            &["follow_redirects must be true or false", "found \"no\""],
        );
        assert_contains(
            &field_err("insecure", "1"),
            &["insecure must be true or false", "found 1"],
        );
        assert_contains(
            &field_err("max_redirects", "51"),
            &[
                "max_redirects must be a whole number from 0 to 50",
                "found 51",
            ],
        );
    }

    #[test]
    fn body_with_methods() {
        for method in ["POST", "put", "Patch"] {
            let c = ok(&format!(
                r#"[{{"url": "https://example.com", "method": "{method}", "body": "{{\"a\": 1}}"}}]"#
            ));
            assert_eq!(c.monitors[0].body(), Some(r#"{"a": 1}"#));
        }
        let c = ok(r#"[{"url": "https://example.com", "method": "POST", "body": ""}]"#);
        assert_eq!(c.monitors[0].body(), Some(""));
        for method in ["GET", "HEAD", "DELETE", "OPTIONS"] {
            let (_, _, msg) = entry_err(&format!(
                r#"[{{"url": "https://example.com", "method": "{method}", "body": "x"}}]"#
            ));
            assert_contains(
                &msg,
                &[
                    "entry 1 (index 0, \"https://example.com\")",
                    &format!("body is set but method is {method}"),
                    "POST, PUT or PATCH",
                ],
            );
        }
        // No method at all means GET.
        assert_contains(&field_err("body", r#""x""#), &["method is GET"]);
        let (_, _, msg) =
            entry_err(r#"[{"url": "https://example.com", "method": "POST", "body": {"a": 1}}]"#);
        assert_contains(&msg, &["body must be a string", "found an object"]);
    }

    #[test]
    fn user_agent_parse_and_rejections() {
        let m = monitor("user_agent", r#"" probe/1.0 (+ops@example.com) ""#);
        assert_eq!(m.user_agent(), Some("probe/1.0 (+ops@example.com)"));
        assert_contains(
            &field_err("user_agent", r#""  ""#),
            &["user_agent is empty"],
        );
        assert_contains(
            &field_err("user_agent", r#""a\u0007b""#),
            &["user_agent", "not a valid HTTP header value"],
        );
        assert_contains(
            &field_err("user_agent", "7"),
            &["user_agent must be a string", "found 7"],
        );
    }

    #[test]
    fn every_new_field_comes_from_defaults_and_entries_override() {
        let c = ok(r#"{
            "defaults": {
                "retries": 5, "retry_delay": "1s", "recover_after": 3, "max_backoff": "20m",
                "expect_status": [200, 204], "body_contains": "ok", "body_not_contains": "err",
                "body_matches": "^o", "max_response_time": "2s",
                "follow_redirects": false, "max_redirects": 3, "insecure": true,
                "method": "POST", "body": "ping", "user_agent": "probe/1"
            },
            "urls": [
                {"url": "https://a.example"},
                {"url": "https://b.example",
                 "retries": 0, "retry_delay": "200ms", "recover_after": 1, "max_backoff": "2m",
                 "expect_status": ["3xx"], "body_contains": "OK", "body_not_contains": "ERR",
                 "body_matches": "^O", "max_response_time": "300ms",
                 "follow_redirects": true, "max_redirects": 9, "insecure": false,
                 "method": "PUT", "body": "pong", "user_agent": "probe/2"}
            ]
        }"#);
        let (a, b) = (&c.monitors[0], &c.monitors[1]);
        assert_eq!(
            a.policy(),
            Policy {
                retries: 5,
                retry_delay: Duration::from_secs(1),
                recover_after: 3,
                max_backoff: Duration::from_secs(1200),
            }
        );
        assert_eq!(
            b.policy(),
            Policy {
                retries: 0,
                retry_delay: Duration::from_millis(200),
                recover_after: 1,
                max_backoff: Duration::from_secs(120),
            }
        );
        assert_eq!(
            a.expect().status.as_ref().unwrap().to_string(),
            "200 or 204"
        );
        assert_eq!(b.expect().status.as_ref().unwrap().to_string(), "3xx");
        assert_eq!(a.expect().body_contains.as_deref(), Some("ok"));
        assert_eq!(b.expect().body_contains.as_deref(), Some("OK"));
        assert_eq!(a.expect().body_not_contains.as_deref(), Some("err"));
        assert_eq!(b.expect().body_not_contains.as_deref(), Some("ERR"));
        assert_eq!(a.expect().body_matches.as_ref().unwrap().as_str(), "^o");
        assert_eq!(b.expect().body_matches.as_ref().unwrap().as_str(), "^O");
        assert_eq!(a.expect().max_response_time, Some(Duration::from_secs(2)));
        assert_eq!(
            b.expect().max_response_time,
            Some(Duration::from_millis(300))
        );
        assert!(!a.follow_redirects && b.follow_redirects);
        assert_eq!((a.max_redirects(), b.max_redirects()), (Some(3), Some(9)));
        assert!(a.insecure && !b.insecure);
        assert_eq!((a.method, b.method), (Method::Post, Method::Put));
        assert_eq!((a.body(), b.body()), (Some("ping"), Some("pong")));
        assert_eq!(
            (a.user_agent(), b.user_agent()),
            (Some("probe/1"), Some("probe/2"))
        );
    }

    #[test]
    fn defaults_body_with_an_entry_get_names_the_entry() {
        let (index, url, msg) = entry_err(
            r#"{"defaults": {"method": "POST", "body": "x"},
                "urls": [{"url": "https://a.example"}, {"url": "https://b.example", "method": "GET"}]}"#,
        );
        assert_eq!((index, url.as_deref()), (1, Some("https://b.example")));
        assert_contains(&msg, &["body is set but method is GET"]);
    }

    #[test]
    fn unknown_field_lists_the_new_fields() {
        let (_, _, msg) = entry_err(r#"[{"url": "https://example.com", "expect_body": "x"}]"#);
        assert_contains(
            &msg,
            &[
                "unknown field `expect_body`",
                "`expect_status`",
                "`expect_headers`",
                "`body_contains`",
                "`body_not_contains`",
                "`body_matches`",
                "`max_response_time`",
                "`follow_redirects`",
                "`max_redirects`",
                "`insecure`",
                "`body`",
                "`user_agent`",
                "`retries`",
                "`retry_delay`",
                "`recover_after`",
                "`max_backoff`",
            ],
        );
        let e =
            err(r#"{"defaults": {"expect_body": "x"}, "urls": [{"url": "https://a.example"}]}"#);
        let msg = e.to_string();
        assert!(
            msg.starts_with("defaults: unknown field `expect_body`"),
            "{msg}"
        );
        assert!(!msg.contains("`url`"), "{msg}");
    }

    // --- load -----------------------------------------------------------

    #[test]
    fn load_reads_and_validates_a_file() {
        let path =
            std::env::temp_dir().join(format!("sitewatch-config-test-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"[{"url": "https://example.com", "interval": "30s"}]"#,
        )
        .unwrap();
        let result = Config::load(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            result.unwrap().monitors[0].interval,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn load_missing_file_is_read_error_with_source() {
        use std::error::Error as _;
        let path = Path::new("/nonexistent/sitewatch/urls.json");
        let e = Config::load(path).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
        assert_contains(
            &e.to_string(),
            &["cannot read /nonexistent/sitewatch/urls.json: "],
        );
        assert!(e.source().is_some());
        assert!(err("[]").source().is_none());
    }
    #[test]
    fn shipped_configs_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let shipped = Config::load(&root.join("urls.json")).unwrap();
        assert!(shipped.monitors.len() >= 5);
        let object = Config::load(&root.join("fixtures/object-form.json")).unwrap();
        assert_eq!(object.monitors[1].method, Method::Head);
        assert_eq!(object.monitors[2].interval, Duration::from_secs(300));
        let seed = Config::load(&root.join("fixtures/seed-form.json")).unwrap();
        assert_eq!(seed.monitors.len(), 3);
        assert_eq!(seed.monitors[0].url, seed.monitors[1].url);
    }
}

#[cfg(test)]
mod hostile_tests;
