//! Which settings each kind of entry takes, and the [`Target`] an entry's URL and kind-only
//! settings make.
//!
//! The scheme of `url` picks the kind ([`Kind::from_scheme`]). An entry may only set what its
//! kind uses: an HTTP setting (`method`, `headers`, `json`, …) on a `tcp://`, `icmp://` or
//! `dns://` entry is an error naming the key, and so is a kind-only setting (`tls`, `send`,
//! `expect`, `count`, `expect_address`) on an entry of another kind. Kind-only settings belong
//! to entries, never to `defaults`; the HTTP settings of `defaults` apply to HTTP entries only.

use std::net::IpAddr;

use serde_json::{Map, Value};
use ureq::http::Uri;

use super::error::shown;
use super::value::{bool_value, count_value};
use crate::model::target::{
    DnsTarget, IcmpTarget, Kind, Target, TcpTarget, MAX_ICMP_COUNT, MAX_TCP_TEXT,
};

/// Settings only HTTP entries take.
pub(super) const HTTP_ONLY: [&str; 13] = [
    "method",
    "headers",
    "body",
    "user_agent",
    "follow_redirects",
    "max_redirects",
    "allow_http_redirect",
    "expect_status",
    "expect_headers",
    "body_contains",
    "body_not_contains",
    "body_matches",
    "json",
];

/// Settings only one other kind takes, with that kind.
pub(super) const KIND_ONLY: [(&str, Kind); 5] = [
    ("tls", Kind::Tcp),
    ("send", Kind::Tcp),
    ("expect", Kind::Tcp),
    ("count", Kind::Icmp),
    ("expect_address", Kind::Dns),
];

/// Most addresses in `expect_address`.
const MAX_EXPECTED_ADDRESSES: usize = 64;

/// Refuses a kind-only setting in `defaults`.
pub(super) fn refuse_in_defaults(defaults: &Map<String, Value>) -> Result<(), String> {
    match KIND_ONLY
        .iter()
        .find(|(key, _)| defaults.contains_key(*key))
    {
        Some((key, kind)) => Err(format!(
            "{key} is a setting of {}:// entries only; set it on each entry that needs it",
            kind.as_str()
        )),
        None => Ok(()),
    }
}

/// Refuses the settings of `entry` (its own keys) that an entry of `kind` does not take.
pub(super) fn check_keys(kind: Kind, entry: &Map<String, Value>) -> Result<(), String> {
    if kind != Kind::Http {
        if let Some(key) = HTTP_ONLY.iter().find(|key| entry.contains_key(**key)) {
            return Err(format!(
                "{key} is an HTTP setting; a {}:// monitor does not take it",
                kind.as_str()
            ));
        }
    }
    for (key, only) in KIND_ONLY {
        if only != kind && entry.contains_key(key) {
            return Err(format!(
                "{key} is a setting of {}:// monitors; this is {} monitor",
                only.as_str(),
                a(kind)
            ));
        }
    }
    let tls = entry.get("tls") == Some(&Value::Bool(true));
    for key in ["insecure", "ca_file", "cert_expiry_warn"] {
        if !entry.contains_key(key) {
            continue;
        }
        match kind {
            Kind::Http => {}
            Kind::Tcp if tls => {}
            Kind::Tcp => {
                return Err(format!(
                    "{key} applies to a TLS handshake; add \"tls\": true or remove {key}"
                ))
            }
            Kind::Icmp | Kind::Dns => {
                return Err(format!(
                    "{key} is a TLS setting; {} monitor makes no TLS handshake",
                    a(kind)
                ))
            }
        }
    }
    Ok(())
}

/// `a tcp://`, `an icmp://`, … as a sentence names a monitor of `kind`.
fn a(kind: Kind) -> &'static str {
    match kind {
        Kind::Http => "an http(s)://",
        Kind::Tcp => "a tcp://",
        Kind::Icmp => "an icmp://",
        Kind::Dns => "a dns://",
    }
}

/// The target of a non-HTTP entry: its URL (`text`, already checked to parse, with a host)
/// and its kind-only settings from `entry`.
pub(super) fn target(kind: Kind, text: &str, entry: &Map<String, Value>) -> Result<Target, String> {
    let uri: Uri = text
        .parse()
        .map_err(|e| format!("url is not a valid URL: {e}"))?;
    Ok(match kind {
        Kind::Http => Target::Http,
        Kind::Tcp => {
            let mut t = TcpTarget::parse(text, &uri)?;
            if let Some(v) = entry.get("tls") {
                t.tls = bool_value("tls", v)?;
            }
            t.send = entry
                .get("send")
                .map(|v| text_value("send", v))
                .transpose()?;
            t.expect = entry
                .get("expect")
                .map(|v| text_value("expect", v))
                .transpose()?;
            Target::Tcp(t)
        }
        Kind::Icmp => {
            let mut t = IcmpTarget::parse(text, &uri)?;
            if let Some(v) = entry.get("count") {
                t.count = count_value("count", v, 1, MAX_ICMP_COUNT)?;
            }
            Target::Icmp(t)
        }
        Kind::Dns => {
            let mut t = DnsTarget::parse(text, &uri)?;
            if let Some(v) = entry.get("expect_address") {
                t.expect_address = addresses_value(v)?;
            }
            Target::Dns(t)
        }
    })
}

/// Validates `send` or `expect`: non-empty text of at most [`MAX_TCP_TEXT`] bytes.
fn text_value(field: &str, value: &Value) -> Result<Box<str>, String> {
    match value {
        Value::String(s) if !s.is_empty() && s.len() <= MAX_TCP_TEXT => Ok(s.as_str().into()),
        Value::String(s) if s.is_empty() => {
            Err(format!("{field} is empty; remove it or give the text"))
        }
        Value::String(s) => Err(format!(
            "{field} is {} bytes long, more than the {MAX_TCP_TEXT} accepted",
            s.len()
        )),
        other => Err(format!(
            "{field} must be text such as \"PING\\r\\n\", found {}",
            shown(other)
        )),
    }
}

/// Validates `expect_address`: an IP address, or a non-empty list of them.
fn addresses_value(value: &Value) -> Result<Vec<IpAddr>, String> {
    const HINT: &str = "an IP address such as \"192.0.2.10\", or a list of them";
    let one = |v: &Value| match v {
        Value::String(s) => s.trim().parse::<IpAddr>().map_err(|_| {
            format!(
                "expect_address {} is not an IP address; use {HINT}",
                shown(v)
            )
        }),
        other => Err(format!(
            "expect_address must be {HINT}, found {}",
            shown(other)
        )),
    };
    match value {
        Value::Array(items) if items.is_empty() => {
            Err(format!("expect_address is an empty list; use {HINT}"))
        }
        Value::Array(items) if items.len() > MAX_EXPECTED_ADDRESSES => Err(format!(
            "expect_address lists {} addresses, more than the {MAX_EXPECTED_ADDRESSES} accepted",
            items.len()
        )),
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn http_settings_on_other_kinds_are_named() {
        let e = check_keys(Kind::Tcp, &map(json!({"method": "GET"}))).unwrap_err();
        assert_eq!(
            e,
            "method is an HTTP setting; a tcp:// monitor does not take it"
        );
        let e = check_keys(Kind::Dns, &map(json!({"json": {}}))).unwrap_err();
        assert!(e.starts_with("json is an HTTP setting"), "{e}");
    }

    #[test]
    fn kind_settings_on_other_kinds_are_named() {
        let e = check_keys(Kind::Http, &map(json!({"tls": true}))).unwrap_err();
        assert_eq!(
            e,
            "tls is a setting of tcp:// monitors; this is an http(s):// monitor"
        );
        let e = check_keys(Kind::Tcp, &map(json!({"count": 3}))).unwrap_err();
        assert_eq!(
            e,
            "count is a setting of icmp:// monitors; this is a tcp:// monitor"
        );
        let e = check_keys(Kind::Icmp, &map(json!({"expect_address": "::1"}))).unwrap_err();
        assert!(e.ends_with("this is an icmp:// monitor"), "{e}");
        let e = check_keys(Kind::Dns, &map(json!({"cert_expiry_warn": "3d"}))).unwrap_err();
        assert_eq!(
            e,
            "cert_expiry_warn is a TLS setting; a dns:// monitor makes no TLS handshake"
        );
        let e = check_keys(Kind::Tcp, &map(json!({"insecure": true}))).unwrap_err();
        assert!(e.contains("add \"tls\": true"), "{e}");
        check_keys(Kind::Tcp, &map(json!({"insecure": true, "tls": true}))).unwrap();
        let e = refuse_in_defaults(&map(json!({"count": 2}))).unwrap_err();
        assert!(
            e.starts_with("count is a setting of icmp:// entries only"),
            "{e}"
        );
    }

    #[test]
    fn kind_values_are_validated() {
        let t = target(
            Kind::Dns,
            "dns://db.test",
            &map(json!({"expect_address": ["10.0.0.1", "::1"]})),
        )
        .unwrap();
        let Target::Dns(t) = t else { panic!() };
        assert_eq!(t.expect_address.len(), 2);
        let e = target(
            Kind::Dns,
            "dns://x",
            &map(json!({"expect_address": "nope"})),
        )
        .unwrap_err();
        assert!(e.contains("is not an IP address"), "{e}");
        let e = target(Kind::Icmp, "icmp://x", &map(json!({"count": 99}))).unwrap_err();
        assert!(e.contains("count"), "{e}");
        let e = target(Kind::Tcp, "tcp://x:1", &map(json!({"send": ""}))).unwrap_err();
        assert!(e.contains("send is empty"), "{e}");
        let Target::Tcp(t) = target(
            Kind::Tcp,
            "tcp://x:1",
            &map(json!({"tls": true, "send": "PING\r\n", "expect": "+PONG"})),
        )
        .unwrap() else {
            panic!()
        };
        assert!(t.tls);
        assert_eq!(t.send.as_deref(), Some("PING\r\n"));
    }
}
