//! The `notify` list of `urls.json`: one object per channel, validated into [`ChannelSpec`]s.
//!
//! ```json
//! "notify": [
//!   {"type": "slack", "name": "ops", "url": {"env": "SLACK_WEBHOOK_URL"}, "remind_every": "1h"},
//!   {"type": "webhook", "url": "https://hooks.example.com/up",
//!    "headers": {"Authorization": {"env": "HOOK_TOKEN"}}, "daily_digest": "09:00"},
//!   {"type": "command", "command": ["/usr/local/bin/page-me", "--team", "web"]}
//! ]
//! ```
//!
//! Like the rest of the config this is checked once, before anything starts, and an error names
//! the channel by position, name and type. Secrets (`{"env": "VAR"}` for a URL, a header value
//! or a token) are read from the environment here, once; a missing variable is an error naming
//! the variable, never a value. [`Secret`] never shows its value in `Debug`.
//!
//! The local UTC offset for `daily_digest` is read here too, when the config is loaded: the
//! only moment sitewatch is sure to be single-threaded, which reading it safely requires.

use std::time::Duration;

use serde_json::{Map, Value};
use ureq::http::{HeaderName, HeaderValue, Uri};

use crate::config::error::{kind, shown, ConfigError};
use crate::config::value::{parse_duration, secret_value};
use crate::model::Monitor;

/// Default grouping window: events within it go out as one message per channel.
pub const DEFAULT_GROUP_WINDOW: Duration = Duration::from_secs(10);
/// Longest grouping window accepted.
pub const MAX_GROUP_WINDOW: Duration = Duration::from_secs(600);
/// Default number of state changes within `flap_window` above which a monitor is flapping.
pub const DEFAULT_FLAP_THRESHOLD: u32 = 4;
/// Default flapping window.
pub const DEFAULT_FLAP_WINDOW: Duration = Duration::from_secs(600);
/// Shortest `remind_every` accepted.
pub const MIN_REMIND_EVERY: Duration = Duration::from_secs(1);
/// Default limit on one delivery attempt (HTTP request, or a command's run).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default extra attempts after a failed delivery.
pub const DEFAULT_RETRIES: u32 = 2;
/// Most `retries` accepted.
pub const MAX_RETRIES: u32 = 10;
/// Default delay before the first retry; each further one waits twice as long (15 s, 30 s).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(15);
/// Shortest `retry_delay` accepted.
pub const MIN_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Longest duration accepted for any notify setting.
const MAX_SETTING: Duration = Duration::from_secs(7 * 24 * 3600);

pub use crate::model::Secret;

/// A time of day at a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestTime {
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Seconds east of UTC.
    pub offset_s: i32,
    /// False when the local offset could not be read and UTC is assumed.
    pub offset_known: bool,
}

/// How a channel delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// POST the JSON document to `url`.
    Webhook {
        /// Where to POST.
        url: Secret,
        /// Extra request headers (values may come from the environment).
        headers: Vec<(HeaderName, Secret)>,
    },
    /// A Slack incoming webhook.
    Slack {
        /// The webhook URL (it is itself a credential).
        url: Secret,
    },
    /// A Discord webhook.
    Discord {
        /// The webhook URL (it is itself a credential).
        url: Secret,
        /// The name the messages appear under, instead of the webhook's.
        username: Option<String>,
    },
    /// An ntfy topic.
    Ntfy {
        /// The topic URL, e.g. `https://ntfy.sh/my-topic`.
        url: Secret,
        /// An access token, sent as `Authorization: Bearer …`.
        token: Option<Secret>,
    },
    /// Prometheus Alertmanager's v2 API, on every URL of a cluster.
    Alertmanager {
        /// The Alertmanagers' base URLs, e.g. `http://127.0.0.1:9093`.
        urls: Vec<Secret>,
        /// The `severity` label.
        severity: String,
        /// How often a firing alert is re-sent (`endsAt` is four of these ahead).
        resend: Duration,
    },
    /// Run a program.
    Command {
        /// The program and its arguments (with `shell`, one string for `sh -c`).
        program: Vec<String>,
        /// Run `program[0]` with `sh -c`.
        shell: bool,
    },
}

impl ChannelKind {
    /// The `type` as written in the config.
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelKind::Webhook { .. } => "webhook",
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Discord { .. } => "discord",
            ChannelKind::Ntfy { .. } => "ntfy",
            ChannelKind::Command { .. } => "command",
            ChannelKind::Alertmanager { .. } => "alertmanager",
        }
    }
}

/// One validated channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSpec {
    /// Its name: `name`, or `TYPE-N` (N its 1-based position in the list).
    pub name: String,
    /// How it delivers.
    pub kind: ChannelKind,
    /// Events within this window (from the first) are sent as one message.
    pub group_window: Duration,
    /// While a monitor is down, remind every this long (off when `None`).
    pub remind_every: Option<Duration>,
    /// More state changes than this within `flap_window` make a monitor flapping (0: off).
    pub flap_threshold: u32,
    /// The flapping window, and how long a flapping monitor must be stable to be reported again.
    pub flap_window: Duration,
    /// When to send the daily digest, if at all.
    pub daily_digest: Option<DigestTime>,
    /// Limit on one delivery attempt.
    pub timeout: Duration,
    /// Extra attempts after a failed delivery.
    pub retries: u32,
    /// Delay before the first retry; doubles for each further one.
    pub retry_delay: Duration,
    /// Whether it is told when a monitor becomes degraded and when that clears (`degraded`,
    /// default true).
    pub degraded: bool,
}

/// Every channel of a config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Channels {
    /// The channels, in config order.
    pub specs: Vec<ChannelSpec>,
    /// True when a channel needed the local UTC offset and it could not be read (UTC is used).
    pub offset_guessed: bool,
}

impl Channels {
    /// The names of the channels, for error messages.
    fn names(&self) -> String {
        self.specs
            .iter()
            .map(|s| format!("{:?}", s.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether monitor `m` reports to channel `spec` (its `notify` list, or every channel).
    pub fn wants(spec: &ChannelSpec, m: &Monitor) -> bool {
        m.notify().is_none_or(|names| names.contains(&spec.name))
    }
}

/// Common keys, then per type.
const COMMON: [&str; 10] = [
    "type",
    "name",
    "group_window",
    "remind_every",
    "flap_threshold",
    "flap_window",
    "daily_digest",
    "utc_offset",
    "timeout",
    "retries",
];
const COMMON_TAIL: [&str; 2] = ["retry_delay", "degraded"];
const TYPES: &str =
    "\"webhook\", \"slack\", \"discord\", \"ntfy\", \"command\" or \"alertmanager\"";

fn own_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "webhook" => &["url", "headers"],
        "slack" => &["url"],
        "discord" => &["url", "username"],
        "ntfy" => &["url", "token"],
        "command" => &["command", "shell"],
        "alertmanager" => &["urls", "severity", "resend"],
        _ => &[],
    }
}

/// Validates the `notify` value; `env` looks up environment variables (injected for tests).
pub fn parse(value: Value, env: &dyn Fn(&str) -> Option<String>) -> Result<Channels, ConfigError> {
    let Value::Array(items) = value else {
        return Err(ConfigError::Notify(format!(
            "must be a list of channels such as [{{\"type\": \"webhook\", \"url\": \"https://…\"}}], found {}",
            kind(&value)
        )));
    };
    let mut channels = Channels::default();
    let mut local: Option<Option<i32>> = None;
    for (index, item) in items.into_iter().enumerate() {
        let label = label(index, &item);
        let spec = parse_channel(index, item, env, &mut || {
            *local.get_or_insert_with(local_offset)
        })
        .map_err(|message| ConfigError::Notify(format!("{label}: {message}")))?;
        if let Some(other) = channels.specs.iter().find(|s| s.name == spec.name) {
            return Err(ConfigError::Notify(format!(
                "{label}: name {:?} is already used by another channel ({}); names must be unique",
                spec.name,
                other.kind.type_name()
            )));
        }
        channels.specs.push(spec);
    }
    channels.offset_guessed = matches!(local, Some(None));
    Ok(channels)
}

/// Checks that every monitor's `notify` list names existing channels.
pub fn check_monitors(monitors: &[Monitor], channels: &Channels) -> Result<(), ConfigError> {
    for (index, m) in monitors.iter().enumerate() {
        let Some(names) = m.notify() else { continue };
        if let Some(unknown) = names
            .iter()
            .find(|n| !channels.specs.iter().any(|s| s.name == **n))
        {
            let known = if channels.specs.is_empty() {
                "there are no channels: add a top-level \"notify\" list".to_string()
            } else {
                format!("the channels are {}", channels.names())
            };
            return Err(ConfigError::Entry {
                index,
                url: Some(m.url.to_string()),
                message: format!("notify: unknown channel {unknown:?}; {known}"),
            });
        }
    }
    Ok(())
}

/// Reads the local offset (seconds east of UTC); `None` when it cannot be known safely.
fn local_offset() -> Option<i32> {
    time::UtcOffset::current_local_offset()
        .ok()
        .map(|o| o.whole_seconds())
}

fn label(index: usize, item: &Value) -> String {
    let name = item.get("name").and_then(Value::as_str);
    let kind = item.get("type").and_then(Value::as_str);
    match (name, kind) {
        (Some(n), Some(k)) => format!("channel {} ({n:?}, {k})", index + 1),
        (Some(n), None) => format!("channel {} ({n:?})", index + 1),
        (None, Some(k)) => format!("channel {} ({k})", index + 1),
        (None, None) => format!("channel {}", index + 1),
    }
}

fn parse_channel(
    index: usize,
    item: Value,
    env: &dyn Fn(&str) -> Option<String>,
    local: &mut dyn FnMut() -> Option<i32>,
) -> Result<ChannelSpec, String> {
    let Value::Object(mut map) = item else {
        return Err(format!(
            "expected an object such as {{\"type\": \"webhook\", \"url\": \"https://…\"}}, found {}",
            kind(&item)
        ));
    };
    let kind = match map.remove("type") {
        Some(Value::String(s)) if !own_keys(&s).is_empty() => s,
        Some(other) => return Err(format!("type {} is not one of {TYPES}", shown(&other))),
        None => return Err(format!("missing \"type\"; use {TYPES}")),
    };
    let accepted: Vec<&str> = COMMON
        .iter()
        .chain(own_keys(&kind))
        .chain(COMMON_TAIL.iter())
        .copied()
        .collect();
    if let Some(key) = map.keys().find(|k| !accepted.contains(&k.as_str())) {
        return Err(format!(
            "unknown field {key:?} for type {kind:?}; the fields are {}",
            accepted[1..].join(", ")
        ));
    }
    let name = match map.remove("name") {
        None => format!("{kind}-{}", index + 1),
        Some(Value::String(s)) => name_value(&s)?,
        Some(other) => return Err(format!("name must be a string, found {}", shown(&other))),
    };
    let get = |map: &mut Map<String, Value>, key: &str| map.remove(key);
    let kind = match kind.as_str() {
        "webhook" => ChannelKind::Webhook {
            url: url_value(get(&mut map, "url"), env)?,
            headers: headers_value(get(&mut map, "headers"), env)?,
        },
        "slack" => ChannelKind::Slack {
            url: url_value(get(&mut map, "url"), env)?,
        },
        "discord" => ChannelKind::Discord {
            url: url_value(get(&mut map, "url"), env)?,
            username: get(&mut map, "username")
                .map(|v| string_value("username", &v))
                .transpose()?,
        },
        "ntfy" => ChannelKind::Ntfy {
            url: url_value(get(&mut map, "url"), env)?,
            token: get(&mut map, "token")
                .map(|v| secret_value("token", &v, env))
                .transpose()?,
        },
        "alertmanager" => alertmanager_value(&mut map, env)?,
        _ => {
            let shell = match get(&mut map, "shell") {
                None => false,
                Some(Value::Bool(b)) => b,
                Some(other) => {
                    return Err(format!(
                        "shell must be true or false, found {}",
                        shown(&other)
                    ))
                }
            };
            ChannelKind::Command {
                program: command_value(get(&mut map, "command"), shell)?,
                shell,
            }
        }
    };
    // Alertmanager groups, repeats and inhibits by itself: its channel reports every change as
    // it happens and re-sends firing alerts every `resend`, so these settings do not apply.
    let am_resend = match &kind {
        ChannelKind::Alertmanager { resend, .. } => {
            if let Some(key) = [
                "group_window",
                "remind_every",
                "flap_threshold",
                "flap_window",
            ]
            .iter()
            .chain(["daily_digest", "utc_offset"].iter())
            .find(|k| map.contains_key(**k))
            {
                return Err(format!(
                    "{key} does not apply to an alertmanager channel: Alertmanager groups and \
                     repeats alerts itself (its route's group_wait, repeat_interval); firing \
                     alerts are re-sent every \"resend\""
                ));
            }
            Some(*resend)
        }
        _ => None,
    };
    let duration = |map: &mut Map<String, Value>, key: &str| {
        map.remove(key).map(|v| duration_value(key, &v)).transpose()
    };
    let group_window = duration(&mut map, "group_window")?.unwrap_or(DEFAULT_GROUP_WINDOW);
    if group_window > MAX_GROUP_WINDOW {
        return Err(format!(
            "group_window {} is above the maximum of {}",
            humantime::format_duration(group_window),
            humantime::format_duration(MAX_GROUP_WINDOW)
        ));
    }
    let remind_every = duration(&mut map, "remind_every")?;
    if let Some(r) = remind_every.filter(|r| *r < MIN_REMIND_EVERY) {
        return Err(format!(
            "remind_every {} is below the minimum of 1s",
            humantime::format_duration(r)
        ));
    }
    let flap_threshold = map
        .remove("flap_threshold")
        .map(|v| count_value("flap_threshold", &v, 0, 1000))
        .transpose()?
        .unwrap_or(DEFAULT_FLAP_THRESHOLD);
    let flap_window = duration(&mut map, "flap_window")?.unwrap_or(DEFAULT_FLAP_WINDOW);
    if flap_window.is_zero() {
        return Err("flap_window must be greater than zero".into());
    }
    let offset = map
        .remove("utc_offset")
        .map(|v| offset_value(&v))
        .transpose()?;
    let daily_digest = match map.remove("daily_digest") {
        None => {
            if offset.is_some() {
                return Err(
                    "utc_offset is set but daily_digest is not; it only applies to the digest"
                        .into(),
                );
            }
            None
        }
        Some(v) => {
            let (hour, minute) = time_of_day_value(&v)?;
            let (offset_s, offset_known) = match offset {
                Some(o) => (o, true),
                None => match local() {
                    Some(o) => (o, true),
                    None => (0, false),
                },
            };
            Some(DigestTime {
                hour,
                minute,
                offset_s,
                offset_known,
            })
        }
    };
    let timeout = duration(&mut map, "timeout")?.unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() {
        return Err("timeout must be greater than zero".into());
    }
    let retries = map
        .remove("retries")
        .map(|v| count_value("retries", &v, 0, MAX_RETRIES))
        .transpose()?
        .unwrap_or(DEFAULT_RETRIES);
    let retry_delay = duration(&mut map, "retry_delay")?.unwrap_or(DEFAULT_RETRY_DELAY);
    if retry_delay < MIN_RETRY_DELAY {
        return Err(format!(
            "retry_delay {} is below the minimum of 100ms",
            humantime::format_duration(retry_delay)
        ));
    }
    let degraded = match map.remove("degraded") {
        None => true,
        Some(Value::Bool(b)) => b,
        Some(other) => {
            return Err(format!(
                "degraded must be true or false, found {}",
                shown(&other)
            ))
        }
    };
    let (group_window, remind_every, flap_threshold) = match am_resend {
        Some(resend) => (Duration::ZERO, Some(resend), 0),
        None => (group_window, remind_every, flap_threshold),
    };
    Ok(ChannelSpec {
        name,
        kind,
        group_window,
        remind_every,
        flap_threshold,
        flap_window,
        daily_digest,
        timeout,
        retries,
        retry_delay,
        degraded,
    })
}

/// Default `resend` of an alertmanager channel (Prometheus re-sends about every minute).
pub const DEFAULT_RESEND: Duration = Duration::from_secs(60);

/// An alertmanager channel's `urls` (1 to 16), `severity` (default `critical`) and `resend`.
fn alertmanager_value(
    map: &mut Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ChannelKind, String> {
    let urls = match map.remove("urls") {
        Some(Value::Array(items)) if (1..=16).contains(&items.len()) => items
            .into_iter()
            .map(|v| url_value(Some(v), env))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(
                "urls must be a list of 1 to 16 Alertmanager base URLs, e.g. \
                        [\"http://127.0.0.1:9093\"]"
                    .into(),
            )
        }
        None => return Err("missing \"urls\", e.g. [\"http://127.0.0.1:9093\"]".into()),
    };
    let severity = match map.remove("severity") {
        None => "critical".to_owned(),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= 32
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            s
        }
        Some(other) => {
            return Err(format!(
                "severity {} must be a short word such as \"critical\" or \"warning\"",
                shown(&other)
            ))
        }
    };
    let resend = match map.remove("resend") {
        None => DEFAULT_RESEND,
        Some(v) => duration_value("resend", &v)?,
    };
    if resend < MIN_REMIND_EVERY {
        return Err("resend must be at least 1s".into());
    }
    Ok(ChannelKind::Alertmanager {
        urls,
        severity,
        resend,
    })
}

fn name_value(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("name is empty".into());
    }
    // `sitewatch notify test NAME` takes a lone argument ending in .json as the config file.
    if s.ends_with(".json") {
        return Err(format!(
            "name {s:?} ends in .json, which `sitewatch notify test` would take for a config file"
        ));
    }
    Ok(s.to_string())
}

fn url_value(value: Option<Value>, env: &dyn Fn(&str) -> Option<String>) -> Result<Secret, String> {
    let Some(value) = value else {
        return Err("missing \"url\"".into());
    };
    let from_env = value.is_object();
    let secret = secret_value("url", &value, env)?;
    let text = secret.expose().trim();
    // A URL read from the environment is a credential: say what is wrong, not what it is.
    let shown = |t: &str| {
        if from_env {
            String::new()
        } else {
            format!(" {t:?}")
        }
    };
    let uri: Uri = text
        .parse()
        .map_err(|_| format!("url{} is not a valid URL", shown(text)))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some_and(|h| !h.is_empty()) => {
            Ok(Secret::new(text))
        }
        _ => Err(format!(
            "url{} must be an http:// or https:// URL with a host",
            shown(text)
        )),
    }
}

fn headers_value(
    value: Option<Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(HeaderName, Secret)>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = value else {
        return Err(format!(
            "headers must be an object such as {{\"Authorization\": {{\"env\": \"HOOK_TOKEN\"}}}}, found {}",
            kind(&value)
        ));
    };
    let mut out: Vec<(HeaderName, Secret)> = Vec::with_capacity(map.len());
    for (key, value) in &map {
        let name = HeaderName::from_bytes(key.as_bytes())
            .map_err(|_| format!("header name {key:?} is not a valid HTTP header name"))?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("header {key:?} is given more than once"));
        }
        let secret = secret_value(&format!("header {key:?}"), value, env)?;
        // Never quote the value: it is likely a credential.
        HeaderValue::from_str(secret.expose()).map_err(|_| {
            format!("header {key:?}: value is not a valid HTTP header value (no line breaks or control characters)")
        })?;
        out.push((name, secret));
    }
    Ok(out)
}

fn command_value(value: Option<Value>, shell: bool) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Err(
            "missing \"command\": a list such as [\"/usr/local/bin/alert\", \"--flag\"]".into(),
        );
    };
    match (value, shell) {
        (Value::String(s), true) if !s.trim().is_empty() => Ok(vec![s]),
        (Value::String(_), true) => Err("command is empty".into()),
        (Value::String(s), false) => Err(format!(
            "command {s:?} is a string, which would need a shell: give a list of program and \
             arguments such as [\"/usr/local/bin/alert\", \"--flag\"], or set \"shell\": true"
        )),
        (Value::Array(items), false) => {
            let args = items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(format!(
                        "command items must be strings, found {}",
                        shown(other)
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            match args.first() {
                Some(p) if !p.is_empty() => Ok(args),
                _ => Err("command is empty: the first item is the program to run".into()),
            }
        }
        (Value::Array(_), true) => {
            Err("with \"shell\": true, command must be one string for sh -c".into())
        }
        (other, _) => Err(format!(
            "command must be a list of program and arguments, found {}",
            shown(&other)
        )),
    }
}

fn string_value(field: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        other => Err(format!(
            "{field} must be a non-empty string, found {}",
            shown(other)
        )),
    }
}

fn duration_value(field: &str, value: &Value) -> Result<Duration, String> {
    let d = match value {
        Value::Number(n) => n.as_u64().map(Duration::from_secs).ok_or_else(|| {
            format!("{field} {n} is not a valid duration (whole, non-negative seconds)")
        })?,
        Value::String(s) => parse_duration(s).map_err(|e| {
            format!("{field} {s:?} is not a valid duration ({e}); use e.g. \"30s\" or \"1h\"")
        })?,
        other => {
            return Err(format!(
                "{field} {} is not a valid duration; use e.g. \"30s\" or \"1h\"",
                shown(other)
            ))
        }
    };
    if d > MAX_SETTING {
        return Err(format!("{field} is above the maximum of 7 days"));
    }
    Ok(d)
}

fn count_value(field: &str, value: &Value, min: u32, max: u32) -> Result<u32, String> {
    match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{field} must be a whole number from {min} to {max}, found {}",
            shown(value)
        )),
    }
}

/// `"HH:MM"`, 24-hour clock.
fn time_of_day_value(value: &Value) -> Result<(u8, u8), String> {
    let bad = || {
        format!(
            "daily_digest must be a time of day \"HH:MM\" (24-hour clock), e.g. \"09:00\", found {}",
            shown(value)
        )
    };
    let Value::String(s) = value else {
        return Err(bad());
    };
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let parse = |t: &str, max: u8| {
        (t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u8>().ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    match (parse(h, 23), parse(m, 59)) {
        (Some(h), Some(m)) => Ok((h, m)),
        _ => Err(bad()),
    }
}

/// `"+01:00"`, `"-05:30"`, `"Z"` or `"UTC"`: seconds east of UTC.
pub fn offset_value(value: &Value) -> Result<i32, String> {
    let bad = || {
        format!(
            "utc_offset must look like \"+01:00\", \"-05:30\" or \"UTC\", found {}",
            shown(value)
        )
    };
    let Value::String(s) = value else {
        return Err(bad());
    };
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Ok(0);
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let num = |t: &str| {
        (t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<i32>().ok())
            .flatten()
    };
    match (num(h), num(m)) {
        (Some(h), Some(m)) if h <= 14 && m < 60 => Ok(sign * (h * 3600 + m * 60)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(var: &str) -> Option<String> {
        (var == "HOOK_TOKEN").then(|| "Bearer s3cret".to_string())
    }

    fn ok(v: Value) -> Channels {
        parse(v, &env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(v: Value) -> String {
        match parse(v, &env) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_type_parses_with_defaults() {
        let c = ok(json!([
            {"type": "webhook", "url": "https://h.example/x", "headers": {"Authorization": {"env": "HOOK_TOKEN"}}},
            {"type": "slack", "name": "ops", "url": "https://hooks.slack.com/services/T/B/X"},
            {"type": "discord", "url": "https://discord.com/api/webhooks/1/abc", "username": "sitewatch"},
            {"type": "ntfy", "url": "https://ntfy.sh/topic", "token": "tk"},
            {"type": "command", "command": ["/bin/true", "a b"]},
            {"type": "command", "command": "echo $SITEWATCH_URL", "shell": true}
        ]));
        let names: Vec<&str> = c.specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "webhook-1",
                "ops",
                "discord-3",
                "ntfy-4",
                "command-5",
                "command-6"
            ]
        );
        let s = &c.specs[0];
        assert_eq!(s.group_window, DEFAULT_GROUP_WINDOW);
        assert_eq!((s.flap_threshold, s.flap_window), (4, DEFAULT_FLAP_WINDOW));
        assert_eq!((s.remind_every, s.daily_digest), (None, None));
        assert_eq!((s.retries, s.retry_delay), (2, DEFAULT_RETRY_DELAY));
        let ChannelKind::Webhook { headers, .. } = &s.kind else {
            panic!()
        };
        assert_eq!(headers[0].1.expose(), "Bearer s3cret");
        assert!(!format!("{c:?}").contains("s3cret"), "Debug hides secrets");
        assert_eq!(
            c.specs[5].kind,
            ChannelKind::Command {
                program: vec!["echo $SITEWATCH_URL".into()],
                shell: true
            }
        );
    }

    #[test]
    fn settings_parse() {
        let c = ok(
            json!([{"type": "slack", "url": "https://x.example/", "group_window": "200ms",
            "remind_every": "1s", "flap_threshold": 0, "flap_window": "5m",
            "daily_digest": "09:30", "utc_offset": "-05:30", "timeout": 3, "retries": 0,
            "retry_delay": "100ms"}]),
        );
        let s = &c.specs[0];
        assert_eq!(s.group_window, Duration::from_millis(200));
        assert_eq!(s.remind_every, Some(Duration::from_secs(1)));
        assert_eq!(s.flap_threshold, 0);
        assert_eq!(
            s.daily_digest,
            Some(DigestTime {
                hour: 9,
                minute: 30,
                offset_s: -(5 * 3600 + 30 * 60),
                offset_known: true
            })
        );
        assert_eq!(s.timeout, Duration::from_secs(3));
        assert!(!c.offset_guessed);
    }

    #[test]
    fn errors_name_the_channel_and_what_is_wrong() {
        let cases = [
            (json!({}), "must be a list"),
            (
                json!([{"url": "https://x.example"}]),
                "channel 1: missing \"type\"",
            ),
            (json!([{"type": "email"}]), "type \"email\" is not one of"),
            (
                json!([{"type": "slack"}]),
                "channel 1 (slack): missing \"url\"",
            ),
            (
                json!([{"type": "slack", "name": "ops", "url": "ftp://x"}]),
                "channel 1 (\"ops\", slack): url \"ftp://x\" must be an http",
            ),
            (
                json!([{"type": "slack", "url": "https://x.example", "headers": {}}]),
                "unknown field \"headers\" for type \"slack\"",
            ),
            (
                json!([{"type": "webhook", "url": "https://x.example", "headers": {"Authorization": {"env": "NOPE_TOKEN"}}}]),
                "header \"Authorization\": environment variable NOPE_TOKEN is not set",
            ),
            (
                json!([{"type": "webhook", "url": {"env": "MISSING_URL"}}]),
                "url: environment variable MISSING_URL is not set",
            ),
            (
                json!([{"type": "command", "command": "notify-send down"}]),
                "would need a shell",
            ),
            (
                json!([{"type": "command", "command": ["a"], "shell": true}]),
                "one string for sh -c",
            ),
            (
                json!([{"type": "command", "command": []}]),
                "command is empty",
            ),
            (
                json!([{"type": "slack", "url": "https://x.example", "remind_every": "500ms"}]),
                "below the minimum of 1s",
            ),
            (
                json!([{"type": "slack", "url": "https://x.example", "daily_digest": "9am"}]),
                "\"HH:MM\"",
            ),
            (
                json!([{"type": "slack", "url": "https://x.example", "daily_digest": "24:00"}]),
                "\"HH:MM\"",
            ),
            (
                json!([{"type": "slack", "url": "https://x.example", "utc_offset": "+01:00"}]),
                "daily_digest is not",
            ),
            (
                json!([{"type": "slack", "url": "https://a.example"}, {"type": "ntfy", "name": "slack-1", "url": "https://b.example"}]),
                "channel 2 (\"slack-1\", ntfy): name \"slack-1\" is already used",
            ),
            (
                json!([{"type": "slack", "name": "x.json", "url": "https://a.example"}]),
                "ends in .json",
            ),
        ];
        for (value, needle) in cases {
            let e = err(value.clone());
            assert!(e.starts_with("notify: "), "{e}");
            assert!(
                e.contains(needle),
                "{value}: {e:?} should contain {needle:?}"
            );
        }
    }

    #[test]
    fn a_url_from_the_environment_is_never_quoted() {
        let env = |_: &str| Some("not a url at all".to_string());
        let e = parse(
            json!([{"type": "slack", "url": {"env": "SLACK_URL"}}]),
            &env,
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains("not a url at all"), "{e}");
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(offset_value(&json!("+01:00")), Ok(3600));
        assert_eq!(offset_value(&json!("-05:30")), Ok(-19_800));
        assert_eq!(offset_value(&json!("UTC")), Ok(0));
        assert!(offset_value(&json!("+1")).is_err());
        assert!(offset_value(&json!("+15:00")).is_err());
    }
}
