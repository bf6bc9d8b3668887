//! The settings an entry or `defaults` may hold: their field names (one list, so `defaults`
//! and entries can never disagree), their validation into [`Settings`], and how an entry's
//! own settings merge over the `defaults` ones into a monitor's out-of-line block.
//!
//! Guarantees: an unknown field is named with the accepted list; `null` is never taken as
//! "use the default"; `headers` and `expect_headers` merge per header name, the entry winning.

use std::sync::Arc;
use std::time::Duration;

use regex::bytes::Regex;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use ureq::http::{HeaderName, HeaderValue};
use ureq::tls::TlsConfig;

use super::error::shown;
use super::expect::{
    expect_headers_value, json_value, needle_value, regex_value, status_set_value,
};
use super::request::{body_value, ca_file_value, headers_value, method_value, user_agent_value};
use super::value::{
    bool_value, check_max, count_value, duration_value, env_var, group_value, interval_value,
    name_value, notify_names_value, positive_duration_value, retry_delay_value, timeout_value,
};
use super::{interpolate, plan};
use crate::model::monitor::Extra;
use crate::model::policy::{MAX_RECOVER_AFTER, MAX_REDIRECTS, MAX_RETRIES};
use crate::model::{Expect, Method, StatusSet, Target};

impl Extra {
    /// An entry's own settings over the `defaults` ones (`headers` and `expect_headers` merged
    /// per header name).
    pub(super) fn merge(own: Settings, defaults: &Settings) -> Extra {
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
            target: Target::Http,
            cert_expiry_warn: own.cert_expiry_warn.or(defaults.cert_expiry_warn),
            warn_response_time: own.warn_response_time.or(defaults.warn_response_time),
        }
    }
}

/// Keeps a field that is present, even as `null`, as `Some`: the derive would
/// otherwise turn `null` into `None` and silently mean "use the default".
pub(super) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
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
        pub(super) struct RawDefaults {
            $(
                #[serde(default, deserialize_with = "present")]
                $field: Option<Value>,
            )*
        }

        /// The fields an entry may contain.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct RawEntry {
            #[serde(default, deserialize_with = "present")]
            url: Option<Value>,
            $(
                #[serde(default, deserialize_with = "present")]
                $field: Option<Value>,
            )*
        }

        impl RawEntry {
            /// The `url` and the settings, which are validated like `defaults`.
            pub(super) fn split(self) -> (Option<Value>, RawDefaults) {
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
    tls,
    send,
    expect,
    count,
    expect_address,
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
pub(super) struct Settings {
    pub(super) interval: Option<Duration>,
    pub(super) timeout: Option<Duration>,
    pub(super) method: Option<Method>,
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) name: Option<Box<str>>,
    pub(super) group: Option<Arc<Box<str>>>,
    pub(super) body: Option<String>,
    pub(super) user_agent: Option<String>,
    pub(super) follow_redirects: Option<bool>,
    pub(super) max_redirects: Option<u32>,
    pub(super) insecure: Option<bool>,
    pub(super) expect_status: Option<StatusSet>,
    pub(super) expect_headers: Vec<(HeaderName, String)>,
    pub(super) body_contains: Option<String>,
    pub(super) body_not_contains: Option<String>,
    pub(super) body_matches: Option<Regex>,
    pub(super) json: Option<Vec<(String, Value)>>,
    pub(super) max_response_time: Option<Duration>,
    pub(super) retries: Option<u32>,
    pub(super) retry_delay: Option<Duration>,
    pub(super) recover_after: Option<u32>,
    pub(super) max_backoff: Option<Duration>,
    pub(super) notify: Option<Vec<String>>,
    pub(super) allow_http_redirect: Option<bool>,
    pub(super) ca_file: Option<TlsConfig>,
    pub(super) depends_on: Option<Vec<String>>,
    pub(super) cert_expiry_warn: Option<Duration>,
    pub(super) warn_response_time: Option<Duration>,
}

impl Settings {
    /// Whether any setting kept in a monitor's [`Extra`] block is set.
    pub(super) fn sets_extra(&self) -> bool {
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
    pub(super) fn from_raw(raw: RawDefaults) -> Result<Settings, String> {
        // Kind-only settings are read from the entry itself (`kind`), never from here.
        let _ = (raw.tls, raw.send, raw.expect, raw.count, raw.expect_address);
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
impl Settings {
    /// These settings without the HTTP ones ([`super::kind::HTTP_ONLY`]): what `defaults` give
    /// a monitor of another kind.
    pub(super) fn without_http(&self) -> Settings {
        Settings {
            method: None,
            headers: Vec::new(),
            body: None,
            user_agent: None,
            follow_redirects: None,
            max_redirects: None,
            allow_http_redirect: None,
            expect_status: None,
            expect_headers: Vec::new(),
            body_contains: None,
            body_not_contains: None,
            body_matches: None,
            json: None,
            ..self.clone()
        }
    }
}

#[derive(Default, Clone)]
pub(super) struct Defaults {
    pub(super) settings: Settings,
    pub(super) extra: Option<Arc<Extra>>,
}

/// Validates the `defaults` object.
pub(super) fn parse_defaults(mut value: Value) -> Result<Defaults, String> {
    interpolate::expand_all(&mut value, &["headers"], &env_var)?;
    if !value.is_object() {
        return Err(format!(
            "must be an object such as {{\"interval\": \"30s\"}}, found {}",
            shown(&value)
        ));
    }
    if let Value::Object(map) = &value {
        super::kind::refuse_in_defaults(map)?;
    }
    let raw: RawDefaults = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let settings = Settings::from_raw(raw)?;
    let extra = Extra::merge(Settings::default(), &settings).shared();
    Ok(Defaults { settings, extra })
}

/// Merges two per-header-name lists: `defaults` first, minus any name `own` overrides, then
/// `own` (HeaderName is lowercase, so equality is the case-insensitive comparison we want).
pub(super) fn merge_by_name<T: Clone>(
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
