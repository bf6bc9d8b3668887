//! One entry of the `urls` list made into a [`Monitor`]: its URL (userinfo, environment,
//! scheme, host and port checked), its settings over `defaults`, and the consistency checks
//! between settings (a body only with a method that sends one, and the like).
//!
//! Guarantees: an error names the entry by position and shown URL, never by a password.

use serde::Deserialize;
use serde_json::Value;
use ureq::http::Uri;

use super::error::{shown, ConfigError};
use super::settings::{Defaults, RawEntry, Settings};
use super::value::{env_var, secret_value, DEFAULT_INTERVAL, DEFAULT_TIMEOUT};
use super::{interpolate, kind, shown_url};
use crate::model::monitor::Extra;
use crate::model::{Kind, Method, Monitor, Secret, Target, MAX_URL_BYTES};

/// Validates the entry at `index` against `defaults`; an error names the entry.
///
/// `interpolate` is false when the file holds no `${` at all: then no string needs looking at.
pub(super) fn entry(
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

/// Validates one entry and combines it with the defaults into a [`Monitor`].
pub(super) fn parse_entry(value: Value, defaults: &Defaults) -> Result<Monitor, String> {
    if !value.is_object() {
        return Err(format!(
            "expected an object such as {{\"url\": \"https://example.com\"}}, found {}",
            shown(&value)
        ));
    }
    let raw = RawEntry::deserialize(&value).map_err(|e| e.to_string())?;
    let (url, raw) = raw.split();
    let (url, request_url) = match url {
        None => return Err("missing required field `url`".to_owned()),
        Some(v) => url_value(&v)?,
    };
    // The scheme picks the kind; an entry sets only what its kind takes.
    let text = request_url.as_ref().map_or(&*url, |u| u.expose().trim());
    let scheme = text.split_once("://").map_or("", |(s, _)| s);
    let kind = Kind::from_scheme(&scheme.to_ascii_lowercase()).unwrap_or(Kind::Http);
    let entry = value.as_object().expect("checked above");
    kind::check_keys(kind, entry)?;
    let target = match kind {
        Kind::Http => Target::Http,
        _ => kind::target(kind, text, entry)?,
    };
    if kind == Kind::Icmp {
        crate::probe::icmp::usable()?;
    }
    let mut own = Settings::from_raw(raw)?;
    // HTTP settings in `defaults` are for HTTP monitors.
    let http_free;
    let base = match kind {
        Kind::Http => &defaults.settings,
        _ => {
            http_free = defaults.settings.without_http();
            &http_free
        }
    };
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
        extra: if own.sets_extra() || request_url.is_some() || kind != Kind::Http {
            let mut extra = Extra::merge(own, base);
            extra.request_url = request_url;
            extra.target = target;
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

/// Validates `url`: a string, or `{"env": "VAR"}`, that parses, with an http(s) scheme, a
/// host and a usable port. Returns the shown form (see [`shown_url`]) and, when it differs,
/// the URL to request.
pub(super) fn url_value(value: &Value) -> Result<(Box<str>, Option<Secret>), String> {
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

/// Checks the text of a URL (see [`url_value`]); errors never quote it, as it may hold a
/// password.
pub(super) fn url_text(text: &str) -> Result<&str, String> {
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
        Some(scheme) if Kind::from_scheme(scheme).is_some() => {}
        // "example.com" parses as a bare authority: say what is missing.
        None => {
            return Err(
                "url has no scheme; write the full URL starting with http:// or https://"
                    .to_owned(),
            )
        }
        Some(scheme) => {
            return Err(format!(
                "scheme {scheme:?} is not supported; use http, https, tcp, icmp or dns"
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
pub(super) fn port_text(uri: &Uri) -> Option<&str> {
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
