//! Certificate expiry and the degraded state, end to end: local HTTPS sites whose certificates
//! are made at test time to expire soon or to have expired (`tls_server`), slow local pages,
//! the history database, notifications to a local webhook receiver, `/metrics` and `/probe`.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;
use sitewatch::store::{epoch_ms, migrate, rollup};

use crate::metrics::{get, serve};
use crate::notify_util::Receiver;
use crate::tls_server::TlsSite;
use crate::util::{check_one, config, path, run, within, Sitewatch};

const DAY: Duration = Duration::from_secs(86_400);

/// A site whose certificate expires `days` from now (negative: expired), and a file trusting
/// it (kept alive by the returned directory).
fn site_expiring(days: i64) -> (TlsSite, tempfile::TempDir, String) {
    let now = SystemTime::now();
    let not_after = if days >= 0 {
        now + DAY * days as u32
    } else {
        now - DAY * days.unsigned_abs() as u32
    };
    let site = TlsSite::expiring(not_after);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, site.cert_pem()).unwrap();
    let ca = ca.to_str().unwrap().to_owned();
    (site, dir, ca)
}

/// Unix seconds of an RFC 3339 time.
fn unix(rfc3339: &str) -> u64 {
    humantime::parse_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?}: {e}"))
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_certificate_expiring_in_5_days_is_degraded_with_its_expiry_in_the_line_and_history() {
    let (site, dir, ca) = site_expiring(5);
    let db = dir.path().join("h.db");
    let file = config(&json!([{"url": site.url("/"), "ca_file": ca, "retries": 0}]));
    let done = run(
        [
            "--once",
            "--format",
            "json",
            "--db",
            db.to_str().unwrap(),
            path(&file),
        ],
        20.0,
    );
    // Degraded is up: the run succeeds.
    assert_eq!(done.code(), 0, "{done}");
    let check = &done.checks()[0];
    assert_eq!(check["up"], true, "{check}");
    assert_eq!(check["degraded"]["cause"], "cert_expiry", "{check}");
    let detail = check["degraded"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("certificate expires in 4days 23h")
            && detail.ends_with("within cert_expiry_warn 14days"),
        "{detail}"
    );
    let expiry = unix(check["cert_expiry"].as_str().expect("cert_expiry"));
    let in_5_days = now_s() + 5 * 86_400;
    assert!(expiry.abs_diff(in_5_days) < 120, "{check}");
    let states = done.of_type("state");
    assert_eq!(states.len(), 1, "{done}");
    assert_eq!(
        (&states[0]["from"], &states[0]["to"]),
        (&json!("unknown"), &json!("degraded"))
    );
    assert!(
        states[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("cert_expiry: certificate expires in"),
        "{}",
        states[0]
    );
    let summary = done.summary();
    assert_eq!(summary["up_total"], 1, "{summary}");
    assert_eq!(summary["degraded"], json!([site.url("/")]), "{summary}");

    let conn = Connection::open(&db).unwrap();
    let (stored, cause): (i64, String) = conn
        .query_row("SELECT cert_expiry, degraded FROM checks", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(stored / 1000, expiry as i64);
    assert_eq!(cause, "cert_expiry");
    let to: String = conn
        .query_row("SELECT to_state FROM transitions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(to, "degraded");
    let up: i64 = conn
        .query_row("SELECT sum(up) FROM rollups", [], |r| r.get(0))
        .unwrap();
    assert_eq!(up, 1, "a degraded check counts as up");
}

#[test]
fn cert_expiry_warn_is_per_monitor_and_in_defaults() {
    let (site, _dir, ca) = site_expiring(20);
    let c = check_one(json!({"url": site.url("/"), "ca_file": ca}), &[]);
    assert!(c.get("degraded").is_none(), "20 days is beyond 14: {c}");
    assert!(c["cert_expiry"].is_string(), "recorded all the same: {c}");
    let c = check_one(
        json!({"url": site.url("/"), "ca_file": ca, "cert_expiry_warn": "30d"}),
        &[],
    );
    assert_eq!(c["degraded"]["cause"], "cert_expiry", "{c}");
    let file = config(
        &json!({"defaults": {"cert_expiry_warn": "21d", "retries": 0},
                              "urls": [{"url": site.url("/"), "ca_file": ca}]}),
    );
    let done = run(["--once", "--format", "json", path(&file)], 20.0);
    assert_eq!(
        done.checks()[0]["degraded"]["cause"],
        "cert_expiry",
        "{done}"
    );
}

#[test]
fn an_expired_certificate_stays_down_with_reason_tls() {
    let (site, _dir, ca) = site_expiring(-1);
    let c = check_one(json!({"url": site.url("/"), "ca_file": ca}), &[]);
    assert_eq!(
        (&c["up"], &c["reason"]),
        (&json!(false), &json!("tls")),
        "{c}"
    );
    assert!(
        c["detail"].as_str().unwrap().contains("expired"),
        "the detail says why: {c}"
    );
    assert!(c.get("degraded").is_none(), "{c}");
    assert_eq!(site.hits(), 0);
}

#[test]
fn a_passing_check_slower_than_warn_response_time_is_degraded() {
    let site = LocalSite::start().unwrap();
    let slow = json!({"url": site.url("/slow-headers/300"), "warn_response_time": "100ms"});
    let c = check_one(slow, &[]);
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["degraded"]["cause"], "response_time", "{c}");
    assert!(
        c["degraded"]["detail"]
            .as_str()
            .unwrap()
            .ends_with("over warn_response_time 100ms"),
        "{c}"
    );
    assert!(c.get("cert_expiry").is_none(), "plain HTTP has none: {c}");
    // Fast enough: up, nothing more.
    let c = check_one(
        json!({"url": site.url("/ok"), "warn_response_time": "5s"}),
        &[],
    );
    assert!(c.get("degraded").is_none(), "{c}");
}

#[test]
fn degraded_is_notified_once_and_a_channel_may_opt_out() {
    let site = LocalSite::start().unwrap();
    let rx = Receiver::start();
    let file = config(&json!({
        "urls": [{"url": site.url("/slow-headers/150"), "name": "slow", "interval": "1s",
                  "warn_response_time": "50ms"}],
        "notify": [
            {"type": "webhook", "name": "all", "url": rx.url("/all"), "group_window": "100ms"},
            {"type": "webhook", "name": "quiet", "url": rx.url("/quiet"), "group_window": "100ms",
             "degraded": false}
        ]
    }));
    let mut sw = Sitewatch::spawn(["--no-db", "--format", "json", path(&file)]);
    let deadline = within(20.0);
    sw.wait_for_json(deadline, "the degraded state line", |v| {
        v["type"] == "state" && v["to"] == "degraded"
    });
    let hooks = rx.wait_for(1, "/all", deadline);
    // Three more degraded checks: no more messages.
    for n in 0..3 {
        sw.wait_for_json(deadline, &format!("degraded check {n}"), |v| {
            v["type"] == "check" && v["degraded"]["cause"] == "response_time"
        });
    }
    sw.sigint();
    let done = sw.finish(within(8.0));
    assert_eq!(done.code(), 0, "{done}");
    let all = rx.hooks("/all");
    assert_eq!(all.len(), 1, "one message per transition: {all:#?}");
    let message = hooks[0].json();
    assert_eq!(message["event"], "degraded", "{message}");
    assert_eq!(
        (message["from"].as_str(), message["to"].as_str()),
        (Some("unknown"), Some("degraded"))
    );
    assert!(
        message["message"]
            .as_str()
            .unwrap()
            .starts_with("DEGRADED slow ("),
        "{message}"
    );
    assert!(
        rx.hooks("/quiet").is_empty(),
        "a channel with \"degraded\": false hears nothing of it"
    );
    assert_eq!(done.of_type("state").len(), 1, "{done}");
}

/// A history whose only monitor was up, degraded for half an hour, then up again.
fn history_with_half_an_hour_degraded(db: &Path) -> i64 {
    let hour = 3_600_000;
    let start = (epoch_ms(SystemTime::now()) - 3 * hour).div_euclid(hour) * hour;
    let mut conn = Connection::open(db).unwrap();
    migrate(&mut conn).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO monitors (id, url, name, interval_ms, method, first_seen, last_seen, config_id)
           VALUES (1, 'https://soon.example/', '', 60000, 'GET', {start}, {start}, 'soon');
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 59)
         INSERT INTO checks (ts, monitor, status, reason, detail, bytes, ms, lateness_ms)
           SELECT {start} + i * 60000, 1, 200, NULL, NULL, 1, 10, 0 FROM n;
         INSERT INTO transitions (ts, monitor, from_state, to_state, detail)
           VALUES ({start}, 1, 'unknown', 'up', NULL),
                  ({start} + 600000, 1, 'up', 'degraded', 'cert_expiry: certificate expires soon'),
                  ({start} + 2400000, 1, 'degraded', 'up', NULL);"
    ))
    .unwrap();
    rollup::rebuild(&conn).unwrap();
    start
}

#[test]
fn reports_count_degraded_time_as_up_and_show_it_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let start = history_with_half_an_hour_degraded(&db);
    let report = |format: &str| {
        let out = run(
            [
                "report",
                "--db",
                db.to_str().unwrap(),
                "--format",
                format,
                "--from",
                &sitewatch::report::time(start),
                "--to",
                &sitewatch::report::time(start + 3_600_000),
            ],
            10.0,
        );
        assert_eq!(out.code(), 0, "{out}");
        out.stdout.join("\n")
    };
    let json: Value = serde_json::from_str(&report("json")).unwrap();
    let m = &json["monitors"][0];
    assert_eq!(m["degraded_s"], 1800.0, "{m}");
    assert_eq!(m["downtime_s"], 0.0, "{m}");
    assert_eq!(m["incidents"], 0, "{m}");
    assert_eq!(m["uptime_time_pct"], 100.0, "{m}");
    let text = report("table");
    assert!(text.contains("DEGRADED"), "{text}");
    assert!(text.contains("30m"), "{text}");
    let csv = report("csv");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == "degraded_s").unwrap();
    assert_eq!(row[at], "1800", "{csv}");
    let html = report("html");
    assert!(html.contains("30m degraded (counted as up)"), "{html}");
}

#[test]
fn metrics_probe_api_and_badge_show_the_expiry_and_the_degraded_state() {
    let (site, _dir, ca) = site_expiring(5);
    let cfg = config(&json!({
        "defaults": {"interval": "1s", "timeout": "2s"},
        "urls": [{"url": site.url("/"), "name": "soon", "ca_file": ca}]
    }));
    let (_run, base) = serve(&cfg);
    let url = format!("{base}/metrics");
    let deadline = within(20.0);
    let body = loop {
        let got = get(&url);
        // The check is published by the worker, its state by the scheduler just after, and a
        // scrape reads the families one after the other: the state may arrive between
        // `sitewatch_up` and `sitewatch_degraded` of one scrape, so wait for both.
        if got
            .body
            .contains("sitewatch_cert_expiry_timestamp_seconds{")
            && got.body.contains("sitewatch_degraded{")
            && got.body.contains("sitewatch_up{")
        {
            break got.body;
        }
        assert!(std::time::Instant::now() < deadline, "{}", got.body);
        std::thread::yield_now();
    };
    let value = |name: &str| -> u64 {
        let line = body
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{id=\"soon\"")))
            .unwrap_or_else(|| panic!("{name} in\n{body}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let in_5_days = now_s() + 5 * 86_400;
    assert!(value("sitewatch_cert_expiry_timestamp_seconds").abs_diff(in_5_days) < 120);
    assert!(body.contains("# TYPE sitewatch_cert_expiry_timestamp_seconds gauge"));
    assert_eq!(value("sitewatch_degraded"), 1, "{body}");
    assert_eq!(value("sitewatch_up"), 1, "degraded is up: {body}");
    crate::metrics::promtool_check(&body);

    // The status API counts and filters it; the badge says it.
    let api: Value =
        serde_json::from_str(&get(&format!("{base}/api/v1/status?state=degraded")).body).unwrap();
    assert_eq!(api["overall"]["degraded"], 1, "{api:#}");
    assert_eq!(api["overall"]["headline"], "1 degraded, 0 up", "{api:#}");
    assert_eq!(api["monitors"][0]["state"], "degraded", "{api:#}");
    let listed = unix(
        api["monitors"][0]["last_check"]["cert_expiry"]
            .as_str()
            .unwrap(),
    );
    assert!(listed.abs_diff(in_5_days) < 120, "{api:#}");
    let badge: Value =
        serde_json::from_str(&get(&format!("{base}/badge/soon/status.json")).body).unwrap();
    assert_eq!(badge["message"], "degraded", "{badge}");

    let probe = get(&format!("{base}/probe?target=soon"));
    assert_eq!(probe.status, 200, "{}", probe.body);
    let line = probe
        .body
        .lines()
        .find(|l| l.starts_with("probe_ssl_earliest_cert_expiry "))
        .unwrap_or_else(|| panic!("{}", probe.body));
    let expiry: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(expiry.abs_diff(in_5_days) < 120, "{line}");
    assert!(probe.body.contains("probe_success 1\n"), "{}", probe.body);
}
