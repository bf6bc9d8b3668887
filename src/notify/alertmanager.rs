//! The `alertmanager` channel: POST alerts to Prometheus Alertmanager's v2 API
//! (`/api/v2/alerts`, a JSON array), to every Alertmanager of a cluster, as Prometheus does.
//!
//! An alert is identified by its labels: `alertname` (`SitewatchDown`), `id`, `url`, `group`,
//! `location` (empty labels are left out) and `severity`. While a monitor is down its alert is
//! re-sent every `resend` (the dispatcher's reminders) with `endsAt` four resends ahead, so an
//! Alertmanager that stops hearing from sitewatch resolves it by itself; recovery sends
//! `endsAt` = now. Because Alertmanager merges alerts with identical labels, two replicas of one
//! instance (same config, same location) produce one notification per transition.
//!
//! Grouping is left to Alertmanager (its `group_by`, `group_wait`): this channel's own grouping
//! window is zero and flapping damping is off, so it always reports the state as it is.
//!
//! `generatorURL` is the monitor's page on the status server (`/monitors/{id}`) when one
//! listens, else it is left out.
//!
//! A delivery posts the same array to every URL; it fails when any URL failed (saying which),
//! and its retries post only to the URLs that failed: each URL gets its own retries and, when
//! those run out, its own `notification lost`, while the others are not posted to again.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::config::Secret;
use super::{http, Alert, Channel, Kind, Notification};

/// The status server's base URL (`http://127.0.0.1:9736`), once it listens.
static STATUS_PAGE: OnceLock<String> = OnceLock::new();

/// Records the status server's base URL, for `generatorURL` (set once, when it listens).
pub fn set_status_page(base: String) {
    let _ = STATUS_PAGE.set(base);
}

/// Longest `detail` annotation sent, in characters.
pub const MAX_DETAIL_ANNOTATION: usize = 512;

/// POSTs alerts to each Alertmanager.
pub struct Alertmanager {
    client: http::Client,
    urls: Vec<Secret>,
    severity: String,
    resend: Duration,
    /// The notification being delivered and which URLs have it already, so that a retry
    /// (the same notification again) goes only to the URLs that failed.
    delivered: Mutex<Option<(Notification, Vec<bool>)>>,
}

impl Alertmanager {
    /// A channel to the Alertmanagers at `urls` (their base URLs, e.g. `http://127.0.0.1:9093`).
    pub fn new(urls: &[Secret], severity: &str, resend: Duration, timeout: Duration) -> Self {
        Alertmanager {
            client: http::Client::new(timeout),
            urls: urls.to_vec(),
            severity: severity.to_owned(),
            resend,
            delivered: Mutex::new(None),
        }
    }
}

/// The alerts array for `n` at `now`; empty when `n` carries nothing Alertmanager tracks
/// (a flapping notice, a digest).
pub fn payload(n: &Notification, severity: &str, resend: Duration, now: SystemTime) -> Value {
    let alerts: Vec<Value> = match n {
        Notification::Alert(a) => one(a, severity, resend, now).into_iter().collect(),
        Notification::Group(alerts) => alerts
            .iter()
            .filter_map(|a| one(a, severity, resend, now))
            .collect(),
        Notification::Digest(_) => Vec::new(),
        // Starts and ends now: proves the path without anything firing.
        Notification::Test { channel, at } => vec![json!({
            "labels": {"alertname": "SitewatchTest", "channel": channel, "severity": "none"},
            "annotations": {"summary": "sitewatch test notification"},
            "startsAt": time(*at),
            "endsAt": time(*at),
        })],
    };
    Value::Array(alerts)
}

fn one(a: &Alert, severity: &str, resend: Duration, now: SystemTime) -> Option<Value> {
    let ends = match a.kind {
        Kind::Down | Kind::Reminder => now + resend * 4,
        Kind::Recovered => now,
        // Prometheus alerts on the certificate expiry and latency series themselves.
        Kind::Flapping | Kind::Degraded | Kind::Cleared => return None,
    };
    let mut labels = Map::new();
    let mut label = |k: &str, v: &str| {
        if !v.is_empty() {
            labels.insert(k.into(), v.into());
        }
    };
    label("alertname", "SitewatchDown");
    label("id", &a.id);
    label("url", &a.url);
    label("group", a.group.as_deref().unwrap_or(""));
    label("location", crate::location::get().unwrap_or(""));
    label("severity", severity);
    let mut annotations = Map::new();
    if let Some(r) = a.reason {
        annotations.insert("reason".into(), r.to_string().into());
    }
    if let Some(d) = a.detail.as_deref().filter(|d| !d.is_empty()) {
        let capped: String = d.chars().take(MAX_DETAIL_ANNOTATION).collect();
        annotations.insert("detail".into(), capped.into());
    }
    annotations.insert("summary".into(), super::render::alert_line(a).into());
    let mut alert = json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": time(a.since),
        "endsAt": time(ends),
    });
    if let Some(base) = STATUS_PAGE.get() {
        // Ids are slugs ([a-z0-9.-]), safe in a path as they are.
        alert["generatorURL"] = format!("{base}/monitors/{}", a.id).into();
    }
    Some(alert)
}

fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl Channel for Alertmanager {
    fn deliver(&self, n: &Notification) -> Result<(), String> {
        let body = payload(n, &self.severity, self.resend, SystemTime::now());
        if body.as_array().is_some_and(Vec::is_empty) {
            return Ok(());
        }
        let body = serde_json::to_vec(&body).expect("alerts always serialize");
        let mut delivered = self.delivered.lock().unwrap_or_else(|e| e.into_inner());
        let mut done = match delivered.take() {
            Some((last, done)) if last == *n => done,
            _ => vec![false; self.urls.len()],
        };
        let mut failed = Vec::new();
        for (i, url) in self.urls.iter().enumerate() {
            if done[i] {
                continue;
            }
            let endpoint = format!("{}/api/v2/alerts", url.expose().trim_end_matches('/'));
            match self.client.post(&endpoint, &[], "application/json", &body) {
                Ok(()) => done[i] = true,
                Err(e) => failed.push(format!(
                    "Alertmanager {} of {}: {e}",
                    i + 1,
                    self.urls.len()
                )),
            }
        }
        *delivered = Some((n.clone(), done));
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::samples;

    #[test]
    fn a_down_fires_ahead_and_a_recovery_resolves_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let resend = Duration::from_secs(60);
        let down = payload(
            &Notification::Alert(samples::down()),
            "critical",
            resend,
            now,
        );
        let a = &down[0];
        assert_eq!(a["labels"]["alertname"], "SitewatchDown");
        assert_eq!(a["labels"]["id"], "api");
        assert_eq!(a["labels"]["severity"], "critical");
        assert_eq!(a["endsAt"], time(now + Duration::from_secs(240)));
        assert_eq!(a["annotations"]["reason"], "status");
        let up = payload(
            &Notification::Alert(samples::recovered()),
            "critical",
            resend,
            now,
        );
        assert_eq!(up[0]["endsAt"], time(now));
        assert_eq!(up[0]["labels"], a["labels"], "one alert: same labels");
    }
}
