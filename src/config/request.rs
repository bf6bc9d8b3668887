//! Parsers for how a check asks: `method`, `body`, `user_agent`, `headers` and `ca_file`.
//!
//! Guarantees: headers are valid HTTP names and values within the size sitewatch sends,
//! credential headers are marked sensitive, and a `ca_file` is read once, bounded, here.

use serde_json::{Map, Value};
use ureq::http::{HeaderName, HeaderValue};
use ureq::tls::TlsConfig;

use super::error::shown;
use super::interpolate;
use super::value::{env_var, secret_value};
use crate::model::{Method, MAX_HEADER_BYTES};

/// Validates `method`: one of [`Method::ALL`], any case.
pub(super) fn method_value(value: &Value) -> Result<Method, String> {
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

/// Validates `body`: a string (it may be empty).
pub(super) fn body_value(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!(
            "body must be a string (the request body as text), found {}",
            shown(other)
        )),
    }
}

/// Validates `user_agent`: a non-empty string that is a valid header value.
pub(super) fn user_agent_value(value: &Value) -> Result<String, String> {
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

/// Validates `headers`: an object of valid header names to valid string values.
pub(super) fn headers_value(value: &Value) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "headers must be an object such as {{\"User-Agent\": \"sitewatch\"}}, found {}",
            shown(value)
        ));
    };
    header_pairs(map)
}

pub(super) fn header_pairs(
    map: &Map<String, Value>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
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
pub(super) const MAX_CA_FILE: u64 = 1024 * 1024;

/// Validates `ca_file`: the path of a readable PEM file holding at least one certificate,
/// loaded now, so that a check never meets a missing file. A relative path is taken from the
/// working directory.
pub(super) fn ca_file_value(value: &Value) -> Result<TlsConfig, String> {
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
