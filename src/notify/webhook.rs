//! The `webhook` channel: POST the notification's JSON document to any URL.
//!
//! The document is [`render::json`]: `event`, `url`, `name`, `from`, `to`, `at`, `since`,
//! `down_for_s`, `reason`, `status`, `detail`, `message`, … for one event; `event: "group"`
//! with the events in `events`; `event: "digest"` with `monitors`; `event: "test"`. Extra
//! headers (say `Authorization`, its value read from an environment variable) go with every
//! request; their values are never logged.

use std::time::Duration;

use ureq::http::HeaderName;

use super::config::Secret;
use super::{http, render, Channel, Notification};

/// POSTs the JSON document.
pub struct Webhook {
    client: http::Client,
    url: Secret,
    headers: Vec<(HeaderName, Secret)>,
}

impl Webhook {
    /// A webhook to `url` with `headers`, each attempt bounded by `timeout`.
    pub fn new(url: &Secret, headers: &[(HeaderName, Secret)], timeout: Duration) -> Webhook {
        Webhook {
            client: http::Client::new(timeout),
            url: url.clone(),
            headers: headers.to_vec(),
        }
    }
}

/// The request body.
pub fn payload(n: &Notification) -> Vec<u8> {
    serde_json::to_vec(&render::json(n)).expect("a notification always serializes")
}

impl Channel for Webhook {
    fn deliver(&self, n: &Notification) -> Result<(), String> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        self.client
            .post(self.url.expose(), &headers, "application/json", &payload(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::samples;
    use serde_json::{json, Value};

    fn body(n: &Notification) -> Value {
        serde_json::from_slice(&payload(n)).unwrap()
    }

    #[test]
    fn recovered_document() {
        let v = body(&Notification::Alert(samples::recovered()));
        assert_eq!(
            v,
            json!({
                "event": "recovered",
                "id": "api",
                "location": null,
                "url": "https://api.example.com/health",
                "name": "api",
                "from": "down",
                "to": "up",
                "at": "2026-11-23T09:12:34.000Z",
                "since": "2026-11-23T09:00:00.000Z",
                "down_for_s": 754.0,
                "attempts": 0,
                "reason": null,
                "status": 200,
                "detail": null,
                "changes": null,
                "flap_window_s": null,
                "after_flapping": false,
                "message": "RECOVERED api (https://api.example.com/health): up again after 12m 34s down"
            })
        );
    }

    #[test]
    fn group_document_carries_every_event() {
        let v = body(&samples::group());
        assert_eq!(v["event"], "group");
        assert_eq!(v["count"], 2);
        assert_eq!(v["at"], "2026-11-23T09:00:02.000Z");
        assert_eq!(v["events"][0]["url"], "https://api.example.com/health");
        assert_eq!(v["events"][1]["reason"], "connect");
        assert_eq!(v["events"][1]["name"], Value::Null);
        assert!(v["message"]
            .as_str()
            .unwrap()
            .starts_with("2 monitors down:\n- DOWN api"));
    }

    #[test]
    fn digest_document() {
        let v = body(&samples::digest());
        let mut v = v.as_object().unwrap().clone();
        assert!(v
            .remove("message")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("sitewatch daily digest"));
        assert_eq!(
            Value::Object(v),
            json!({
                "event": "digest",
                "at": "2026-11-23T09:00:00.000Z",
                "from": "2026-11-22T09:00:00.000Z",
                "to": "2026-11-23T09:00:00.000Z",
                "monitors": [
                    {"id": "api", "url": "https://api.example.com/health", "name": "api", "checks": 1440,
                     "up_checks": 1428, "uptime_pct": 99.17, "downtime_s": 720.0, "down_now": false,
                     "incidents": [{"start": "2026-11-23T03:00:00.000Z", "end": "2026-11-23T03:12:00.000Z",
                                    "duration_s": 720.0, "reason": "status",
                                    "detail": "HTTP 503 Service Unavailable"}]},
                    {"id": "www.example.com", "url": "https://www.example.com/", "name": null,
                     "checks": 288, "up_checks": 288,
                     "uptime_pct": 100.0, "downtime_s": 0.0, "down_now": false, "incidents": []}
                ]
            })
        );
    }
}
