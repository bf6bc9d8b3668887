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
//!
//! What a monitor *is* lives in [`crate::model`]; this module only reads files into it. Its
//! files: `read` (bounded reading, comments, YAML hint), `error` (the messages), `value`
//! (durations, counts, secrets, names), `request` and `expect` (the per-field parsers of how to
//! ask and what to expect), `settings` (the field list, `defaults`, merging), `entry` (one entry
//! into a [`Monitor`]); this file holds [`Config`] and the order of loading.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::notify::config::Channels;

pub use crate::model::policy::{
    default_policy, BACKOFF_CEILING, DEFAULT_RECOVER_AFTER, DEFAULT_RETRIES, DEFAULT_RETRY_DELAY,
    MAX_RECOVER_AFTER, MAX_REDIRECTS, MAX_RETRIES, MIN_RETRY_DELAY,
};
pub use crate::model::{Method, Monitor};

mod entry;
pub(crate) mod error;
mod expect;
mod kind;
mod read;
mod request;
mod settings;
pub(crate) mod value;

pub(crate) use self::error::{kind, shown};
pub use self::error::{ConfigError, ConfigErrors, MAX_LISTED};
pub use self::read::MAX_CONFIG_BYTES;
pub(crate) use self::value::secret_value;
pub use self::value::{parse_duration, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, MAX_NAME, MIN_INTERVAL};

use self::entry::{entry, parse_entry};
use self::error::{clip, syntax_error, MAX_QUOTED};
use self::read::{prepare, read_bounded, yaml_or};
use self::settings::{parse_defaults, Defaults};
use self::value::interval_value;

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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile_tests;
