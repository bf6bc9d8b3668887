//! What a notification says: a short title, a plain-text body and the JSON document.
//!
//! Every channel renders from here, so a `down` reads the same in Slack, Discord, ntfy, a
//! webhook's `message` and a command's `SITEWATCH_MESSAGE`. The JSON document is what the
//! `webhook` channel POSTs and what the `command` channel writes to the program's stdin; its
//! fields are documented in the README ("Notifications").

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::digest::{local_time, Digest, MonitorDigest};
use super::{Alert, Kind, Notification};
use crate::output::timestamp;

/// Monitors at 100 % listed by name in a digest's text before the rest are only counted.
const DIGEST_CLEAN_LISTED: usize = 10;
/// Incidents listed per monitor in a digest's text.
const DIGEST_INCIDENTS_LISTED: usize = 5;

/// Whole seconds, as `1h 2m 3s`.
pub fn span(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e3).round() / 1e3
}

/// `name (url)` or `url`, then ` [id]` only where the id says more: when it is not simply made
/// from the name or URL (two monitors that would share one, told apart by a suffix).
fn who(url: &str, name: Option<&str>, id: &str) -> String {
    use crate::config::identity::{name_slug, url_slug};
    let plain = match name {
        Some(n) => name_slug(n) == id,
        None => url_slug(url) == id,
    };
    let id = if plain {
        String::new()
    } else {
        format!(" [{id}]")
    };
    match name {
        Some(n) => format!("{n} ({url}){id}"),
        None => format!("{url}{id}"),
    }
}

fn cause(a: &Alert) -> Option<String> {
    match (a.reason, a.detail.as_deref()) {
        (Some(r), Some(d)) if !d.is_empty() => Some(format!("{r}: {d}")),
        (Some(r), _) => Some(r.to_string()),
        _ => None,
    }
}

/// ` from eu-west` when the instance has a location (`--location`), else nothing: with several
/// locations, which one saw the monitor down is half the news.
fn from_location() -> String {
    crate::location::get()
        .map(|l| format!(" from {l}"))
        .unwrap_or_default()
}

/// One line about one alert.
pub fn alert_line(a: &Alert) -> String {
    let who = format!(
        "{}{}",
        who(&a.url, a.name.as_deref(), &a.id),
        from_location()
    );
    let window = a.flap_window.map(span).unwrap_or_default();
    let because = cause(a).map(|c| format!(": {c}")).unwrap_or_default();
    match a.kind {
        Kind::Down if a.after_flapping => {
            format!("DOWN {who}: stable again after flapping, down for {window}{because}")
        }
        Kind::Down => {
            let attempts = if a.attempts > 1 {
                format!(" ({} failed attempts)", a.attempts)
            } else {
                String::new()
            };
            format!("DOWN {who}{because}{attempts}")
        }
        Kind::Recovered if a.after_flapping => {
            format!("RECOVERED {who}: stable again after flapping, up for {window}")
        }
        Kind::Recovered if a.to == crate::state::State::Degraded => format!(
            "RECOVERED {who}: answering again after {} down, but degraded{}",
            span(a.down_for.unwrap_or_default()),
            a.detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        Kind::Recovered => format!(
            "RECOVERED {who}: up again after {} down",
            span(a.down_for.unwrap_or_default())
        ),
        Kind::Reminder => format!(
            "STILL DOWN {who}: down for {}{because}",
            span(a.down_for.unwrap_or_default())
        ),
        Kind::Flapping => format!(
            "FLAPPING {who}: {} state changes within {window}, now {}; no more alerts for it \
             until it has been stable for {window}",
            a.changes.unwrap_or_default(),
            a.to
        ),
        Kind::Degraded => match a.detail.as_deref() {
            Some(d) => format!("DEGRADED {who}: {d}"),
            None => format!("DEGRADED {who}"),
        },
        Kind::Cleared => format!(
            "UP {who}: no longer degraded after {}",
            span(a.at.duration_since(a.since).unwrap_or_default())
        ),
    }
}

fn kind_title(kind: Kind) -> &'static str {
    match kind {
        Kind::Down => "DOWN",
        Kind::Recovered => "RECOVERED",
        Kind::Reminder => "STILL DOWN",
        Kind::Flapping => "FLAPPING",
        Kind::Degraded => "DEGRADED",
        Kind::Cleared => "UP",
    }
}

/// `3 monitors down`, or for mixed kinds `4 events: 3 down, 1 recovered`.
fn group_title(alerts: &[Alert]) -> String {
    let kinds = [
        Kind::Down,
        Kind::Recovered,
        Kind::Reminder,
        Kind::Flapping,
        Kind::Degraded,
        Kind::Cleared,
    ];
    let counts: Vec<(Kind, usize)> = kinds
        .iter()
        .map(|&k| (k, alerts.iter().filter(|a| a.kind == k).count()))
        .filter(|&(_, n)| n > 0)
        .collect();
    let word = |k: Kind| match k {
        Kind::Down => "down",
        Kind::Recovered => "recovered",
        Kind::Reminder => "still down",
        Kind::Flapping => "flapping",
        Kind::Degraded => "degraded",
        Kind::Cleared => "no longer degraded",
    };
    match counts.as_slice() {
        [(k, n)] => format!("{n} monitors {}", word(*k)),
        _ => format!(
            "{} events: {}",
            alerts.len(),
            counts
                .iter()
                .map(|(k, n)| format!("{n} {}", word(*k)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn digest_incident_count(d: &Digest) -> usize {
    d.monitors
        .iter()
        .filter(|m| !m.incidents.is_empty())
        .count()
}

/// A short title: `DOWN home`, `3 monitors down`, `sitewatch daily digest: …`.
pub fn title(n: &Notification) -> String {
    match n {
        Notification::Alert(a) => {
            format!("{} {}{}", kind_title(a.kind), a.label(), from_location())
        }
        Notification::Group(alerts) => format!("{}{}", group_title(alerts), from_location()),
        Notification::Digest(d) => format!(
            "sitewatch daily digest: {} monitors, {} with incidents",
            d.monitors.len(),
            digest_incident_count(d)
        ),
        Notification::Test { .. } => "sitewatch test notification".to_string(),
    }
}

fn pct(m: &MonitorDigest) -> String {
    match m.up_pct() {
        Some(p) => format!("{p:.2}% of {} checks", m.checks),
        None => "no checks".to_string(),
    }
}

fn digest_text(d: &Digest) -> String {
    let mut lines = vec![format!(
        "{} since {}",
        title(&Notification::Digest(d.clone())),
        local_time(d.from, d.offset_s)
    )];
    let troubled = |m: &&MonitorDigest| !m.incidents.is_empty() || m.up < m.checks;
    for m in d.monitors.iter().filter(troubled) {
        let mut line = format!("{}: {}", who(&m.url, m.name.as_deref(), &m.id), pct(m));
        if !m.incidents.is_empty() {
            line.push_str(&format!(
                ", down {} in {} incident{}",
                span(m.downtime),
                m.incidents.len(),
                if m.incidents.len() == 1 { "" } else { "s" }
            ));
        }
        if m.down_now {
            line.push_str(", down now");
        }
        lines.push(line);
        for inc in m.incidents.iter().take(DIGEST_INCIDENTS_LISTED) {
            let lasted = match inc.end {
                Some(e) => span(e.duration_since(inc.start).unwrap_or_default()),
                None => "still down".to_string(),
            };
            let why = match (inc.reason, inc.detail.as_deref()) {
                (Some(r), Some(dt)) if !dt.is_empty() => format!(": {r}: {dt}"),
                (Some(r), _) => format!(": {r}"),
                _ => String::new(),
            };
            lines.push(format!(
                "  - {}, {lasted}{why}",
                local_time(inc.start, d.offset_s)
            ));
        }
        if m.incidents.len() > DIGEST_INCIDENTS_LISTED {
            lines.push(format!(
                "  - … and {} more",
                m.incidents.len() - DIGEST_INCIDENTS_LISTED
            ));
        }
    }
    let clean: Vec<&MonitorDigest> = d.monitors.iter().filter(|m| !troubled(m)).collect();
    for m in clean.iter().take(DIGEST_CLEAN_LISTED) {
        lines.push(format!(
            "{}: {}",
            who(&m.url, m.name.as_deref(), &m.id),
            pct(m)
        ));
    }
    if clean.len() > DIGEST_CLEAN_LISTED {
        lines.push(format!(
            "… and {} more monitors without incidents",
            clean.len() - DIGEST_CLEAN_LISTED
        ));
    }
    lines.join("\n")
}

/// The plain-text body.
pub fn text(n: &Notification) -> String {
    match n {
        Notification::Alert(a) => alert_line(a),
        Notification::Group(alerts) => {
            let mut lines = vec![format!("{}:", group_title(alerts))];
            lines.extend(alerts.iter().map(|a| format!("- {}", alert_line(a))));
            lines.join("\n")
        }
        Notification::Digest(d) => digest_text(d),
        Notification::Test { channel, .. } => format!(
            "Test notification from sitewatch to channel {channel:?}: if you can read this, \
             the channel works."
        ),
    }
}

fn alert_json(a: &Alert) -> Value {
    json!({
        "event": a.kind.as_str(),
        "id": a.id,
        "location": crate::location::get(),
        "url": a.url,
        "name": a.name,
        "from": a.from,
        "to": a.to,
        "at": timestamp(a.at),
        "since": timestamp(a.since),
        "down_for_s": a.down_for.map(seconds),
        "attempts": a.attempts,
        "reason": a.reason,
        "status": a.status,
        "detail": a.detail,
        "changes": a.changes,
        "flap_window_s": a.flap_window.map(seconds),
        "after_flapping": a.after_flapping,
        "message": alert_line(a),
    })
}

fn incident_json(start: SystemTime, end: Option<SystemTime>, m: &super::Incident) -> Value {
    json!({
        "start": timestamp(start),
        "end": end.map(timestamp),
        "duration_s": end.map(|e| seconds(e.duration_since(start).unwrap_or_default())),
        "reason": m.reason,
        "detail": m.detail,
    })
}

/// The JSON document: what a webhook receives and a command reads on stdin.
pub fn json(n: &Notification) -> Value {
    match n {
        Notification::Alert(a) => alert_json(a),
        Notification::Group(alerts) => json!({
            "event": "group",
            "at": timestamp(n.at()),
            "message": text(n),
            "count": alerts.len(),
            "events": alerts.iter().map(alert_json).collect::<Vec<_>>(),
        }),
        Notification::Digest(d) => json!({
            "event": "digest",
            "at": timestamp(d.to),
            "message": text(n),
            "from": timestamp(d.from),
            "to": timestamp(d.to),
            "monitors": d.monitors.iter().map(|m| json!({
                "id": m.id,
                "url": m.url,
                "name": m.name,
                "checks": m.checks,
                "up_checks": m.up,
                "uptime_pct": m.up_pct().map(|p| (p * 100.0).round() / 100.0),
                "downtime_s": seconds(m.downtime),
                "down_now": m.down_now,
                "incidents": m.incidents.iter()
                    .map(|i| incident_json(i.start, i.end, i))
                    .collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
        Notification::Test { channel, at } => json!({
            "event": "test",
            "at": timestamp(*at),
            "channel": channel,
            "message": text(n),
        }),
    }
}

/// Sample notifications with fixed times, shared by the payload snapshot tests of every channel.
#[cfg(test)]
pub(crate) mod samples {
    use super::super::{Incident, MonitorDigest};
    use super::*;
    use crate::probe::Reason;
    use crate::state::State;
    use std::time::UNIX_EPOCH;

    /// 2026-11-23T09:00:00Z.
    pub fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_424_400)
    }

    pub fn down() -> Alert {
        Alert {
            kind: Kind::Down,
            url: "https://api.example.com/health".into(),
            id: "api".into(),
            name: Some("api".into()),
            group: None,
            from: State::Up,
            to: State::Down,
            at: t0(),
            since: t0(),
            down_for: Some(Duration::ZERO),
            attempts: 3,
            reason: Some(Reason::Status),
            status: Some(503),
            detail: Some("HTTP 503 Service Unavailable".into()),
            changes: None,
            flap_window: None,
            after_flapping: false,
        }
    }

    pub fn recovered() -> Alert {
        Alert {
            kind: Kind::Recovered,
            from: State::Down,
            to: State::Up,
            at: t0() + Duration::from_secs(754),
            down_for: Some(Duration::from_secs(754)),
            attempts: 0,
            reason: None,
            status: Some(200),
            detail: None,
            ..down()
        }
    }

    pub fn group() -> Notification {
        let other = Alert {
            url: "https://www.example.com/".into(),
            id: "www.example.com".into(),
            name: None,
            reason: Some(Reason::Connect),
            status: None,
            detail: Some("connection refused".into()),
            at: t0() + Duration::from_secs(2),
            since: t0() + Duration::from_secs(2),
            ..down()
        };
        Notification::Group(vec![down(), other])
    }

    pub fn digest() -> Notification {
        let start = t0() - Duration::from_secs(6 * 3600);
        Notification::Digest(Digest {
            from: t0() - Duration::from_secs(24 * 3600),
            to: t0(),
            offset_s: 3600,
            monitors: vec![
                MonitorDigest {
                    monitor: 0,
                    url: "https://api.example.com/health".into(),
                    id: "api".into(),
                    name: Some("api".into()),
                    checks: 1440,
                    up: 1428,
                    downtime: Duration::from_secs(720),
                    incidents: vec![Incident {
                        start,
                        end: Some(start + Duration::from_secs(720)),
                        reason: Some(Reason::Status),
                        detail: Some("HTTP 503 Service Unavailable".into()),
                    }],
                    down_now: false,
                },
                MonitorDigest {
                    monitor: 1,
                    url: "https://www.example.com/".into(),
                    id: "www.example.com".into(),
                    name: None,
                    checks: 288,
                    up: 288,
                    downtime: Duration::ZERO,
                    incidents: vec![],
                    down_now: false,
                },
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    #[test]
    fn alert_texts() {
        let n = Notification::Alert(down());
        assert_eq!(title(&n), "DOWN api");
        assert_eq!(
            text(&n),
            "DOWN api (https://api.example.com/health): status: HTTP 503 Service Unavailable \
             (3 failed attempts)"
        );
        assert_eq!(
            text(&Notification::Alert(recovered())),
            "RECOVERED api (https://api.example.com/health): up again after 12m 34s down"
        );
        let mut reminder = down();
        reminder.kind = Kind::Reminder;
        reminder.down_for = Some(Duration::from_secs(3600));
        assert_eq!(
            alert_line(&reminder),
            "STILL DOWN api (https://api.example.com/health): down for 1h: status: HTTP 503 \
             Service Unavailable"
        );
    }

    #[test]
    fn group_text_lists_every_event() {
        let g = group();
        assert_eq!(title(&g), "2 monitors down");
        assert_eq!(
            text(&g),
            "2 monitors down:\n\
             - DOWN api (https://api.example.com/health): status: HTTP 503 Service Unavailable (3 failed attempts)\n\
             - DOWN https://www.example.com/: connect: connection refused (3 failed attempts)"
        );
        let mixed = Notification::Group(vec![down(), recovered()]);
        assert_eq!(title(&mixed), "2 events: 1 down, 1 recovered");
    }

    #[test]
    fn text_shows_the_id_only_where_it_tells_monitors_apart() {
        assert_eq!(
            alert_line(&down()),
            "DOWN api (https://api.example.com/health): status: HTTP 503 Service Unavailable \
             (3 failed attempts)"
        );
        let twin = Alert {
            url: "https://www.example.com/".into(),
            id: "www.example.com-1a2b3c".into(),
            name: None,
            ..down()
        };
        assert!(
            alert_line(&twin)
                .starts_with("DOWN https://www.example.com/ [www.example.com-1a2b3c]: "),
            "{}",
            alert_line(&twin)
        );
        assert_eq!(
            json(&Notification::Alert(twin))["id"],
            "www.example.com-1a2b3c"
        );
    }

    #[test]
    fn digest_text_lists_incidents_in_local_time() {
        assert_eq!(
            text(&digest()),
            "sitewatch daily digest: 2 monitors, 1 with incidents since 2026-11-22 10:00 +01:00\n\
             api (https://api.example.com/health): 99.17% of 1440 checks, down 12m in 1 incident\n  \
             - 2026-11-23 04:00 +01:00, 12m: status: HTTP 503 Service Unavailable\n\
             https://www.example.com/: 100.00% of 288 checks"
        );
    }

    #[test]
    fn webhook_document_of_a_down() {
        assert_eq!(
            json(&Notification::Alert(down())),
            serde_json::json!({
                "event": "down",
                "id": "api",
                "location": null,
                "url": "https://api.example.com/health",
                "name": "api",
                "from": "up",
                "to": "down",
                "at": "2026-11-23T09:00:00.000Z",
                "since": "2026-11-23T09:00:00.000Z",
                "down_for_s": 0.0,
                "attempts": 3,
                "reason": "status",
                "status": 503,
                "detail": "HTTP 503 Service Unavailable",
                "changes": null,
                "flap_window_s": null,
                "after_flapping": false,
                "message": "DOWN api (https://api.example.com/health): status: HTTP 503 Service Unavailable (3 failed attempts)"
            })
        );
    }
}
