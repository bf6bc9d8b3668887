//! The JSON API: `GET /api/v1/status` (the overview, with the same filters and pagination as
//! the page) and `GET /api/v1/monitors/{id}` (one monitor, its recent checks and incidents).
//!
//! Times are RFC 3339 UTC strings, durations in ms or s as their key says, uptime in percent.
//! URLs are the shown form (passwords redacted, `env:VAR` for a URL from the environment);
//! headers and secrets are never included.

use std::time::SystemTime;

use serde_json::{json, Value};

use super::status::{self, Filter, LastCheckView, MonitorStatus, Overview};
use super::{Ctx, Reply, Request};
use crate::report::timeline::Span;

/// RFC 3339 UTC with milliseconds.
pub fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn time_ms(ms: i64) -> String {
    let t = if ms >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64)
    } else {
        std::time::UNIX_EPOCH
    };
    time(t)
}

/// Rounds to 3 decimals, for figures a person reads.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `GET /api/v1/status`.
pub fn status(ctx: &Ctx, request: &Request) -> Reply {
    match Filter::from_request(request) {
        Ok(filter) => Reply::json(&overview_json(&status::overview(ctx, &filter))),
        Err(bad) => bad,
    }
}

/// `GET /api/v1/monitors/{id}`.
pub fn monitor(ctx: &Ctx, _request: &Request, id: &str) -> Reply {
    let Some(index) = ctx.monitor(id) else {
        return Reply::unknown_monitor(id);
    };
    let d = status::monitor(ctx, index);
    let mut body = monitor_json(&d.status);
    let object = body.as_object_mut().expect("a monitor is an object");
    object.insert("generated".into(), json!(time(SystemTime::now())));
    object.insert("history".into(), json!(d.history));
    if let Some(e) = &d.history_error {
        object.insert("history_error".into(), json!(e));
    }
    object.insert(
        "recent_checks".into(),
        d.recent
            .iter()
            .map(|c| {
                json!({
                    "ts": time_ms(c.ts),
                    "status": c.status,
                    "latency_ms": round(c.ms),
                    "nature": c.nature,
                    "reason": c.reason,
                    "detail": c.detail,
                })
            })
            .collect(),
    );
    object.insert(
        "incidents".into(),
        d.incidents.iter().map(incident_json).collect(),
    );
    Reply::json(&body)
}

fn incident_json(s: &Span) -> Value {
    let now = crate::store::epoch_ms(SystemTime::now());
    json!({
        "start": time_ms(s.start),
        "end": s.end.map(time_ms),
        "ongoing": s.end.is_none(),
        "ended_by": s.ended_by.map(|e| e.as_str()),
        "duration_s": s.duration_ms(now) as f64 / 1000.0,
        "reason": s.reason,
        "status": s.status,
        "detail": s.detail,
    })
}

/// The overview as the API shows it.
pub fn overview_json(o: &Overview) -> Value {
    let h = &o.health;
    let mut v = json!({
        "generated": time(o.generated),
        "sitewatch": {
            "version": env!("CARGO_PKG_VERSION"),
            "location": crate::location::get(),
            "monitors": h.monitors,
            "checks_per_minute": round(h.checks_per_minute),
            "lateness_p99_ms": round(h.lateness_p99_ms),
            "missed": h.missed,
            "coalesced": h.coalesced,
            "unwritten": h.unwritten,
            "lost_notifications": h.lost_notifications,
            "dropped_lines": h.dropped_lines,
            "local_errors": h.local_errors,
            "inconclusive": h.inconclusive,
            "stalls": h.stalls,
            "last_stall": h.last_stall.map(time),
            "in_flight": h.in_flight,
            "running_s": h.uptime.as_secs(),
        },
        "overall": {
            "headline": o.counts.headline(),
            "total": o.counts.total,
            "up": o.counts.up,
            "down": o.counts.down,
            "degraded": o.counts.degraded,
            "unknown": o.counts.unknown,
        },
        "history": o.history,
        "page": {
            "number": o.filter.page,
            "per_page": o.filter.per_page,
            "pages": o.pages,
            "matching": o.matching,
        },
        "monitors": o.monitors.iter().map(monitor_json).collect::<Vec<_>>(),
    });
    if let Some(e) = &o.history_error {
        v["history_error"] = json!(e);
    }
    v
}

fn last_check_json(l: &LastCheckView) -> Value {
    json!({
        "ts": time(l.ts),
        "status": l.status,
        "latency_ms": round(l.latency_ms),
        "nature": l.nature.as_str(),
        "reason": l.reason.map(|r| r.as_str()),
        "detail": l.detail,
        "cert_expiry": l.cert_expiry.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
    })
}

/// One monitor as the API shows it.
pub fn monitor_json(m: &MonitorStatus) -> Value {
    let pct = |x: Option<f64>| x.map(round);
    json!({
        "id": m.id,
        "name": m.name,
        "group": m.group,
        "url": m.url,
        "state": m.state.as_str(),
        "since": time(m.since),
        "last_check": m.last_check.as_ref().map(last_check_json),
        "uptime": {
            "24h": pct(m.uptime[0]),
            "7d": pct(m.uptime[1]),
            "30d": pct(m.uptime[2]),
            "run": pct(m.uptime_run),
        },
        "latency_ms": {"p50": pct(m.latency[0]), "p95": pct(m.latency[1])},
        "maintenance": m.maintenance,
    })
}
