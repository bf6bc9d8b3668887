//! Report maths on `fixtures/history.sql`, whose answers are worked out in its header.

use rusqlite::Connection;

use super::*;
use crate::store::{migrate, rollup};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const H: i64 = HOUR_MS;

/// The fixture in memory: schema, raw rows, then rollups computed from them.
pub fn fixture() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    conn.execute_batch(include_str!("../../fixtures/history.sql"))
        .unwrap();
    rollup::rebuild(&conn).unwrap();
    conn
}

fn day(conn: &Connection, pattern: Option<&str>) -> Report {
    build(
        conn,
        &Query {
            from: T0,
            to: T0 + 24 * H,
            pattern: pattern.map(str::to_string),
            now: T0 + 400 * H,
        },
    )
    .unwrap()
}

fn monitor<'r>(r: &'r Report, url: &str) -> &'r MonitorReport {
    r.monitors
        .iter()
        .find(|m| m.url == url)
        .unwrap_or_else(|| panic!("{url} not in report"))
}

fn near(got: Option<f64>, want: f64, tolerance: f64) {
    let got = got.expect("a value");
    assert!(
        (got - want).abs() <= want * tolerance,
        "{got} is not within {tolerance} of {want}"
    );
}

#[test]
fn steady_monitor_has_full_uptime_and_known_percentiles() {
    let r = day(&fixture(), None);
    let m = monitor(&r, "https://steady.example/");
    assert_eq!((m.checks, m.up), (1440, 1440));
    assert_eq!(m.uptime_pct, Some(100.0));
    assert_eq!(m.uptime_time_pct, Some(100.0));
    assert_eq!((m.incidents, m.downtime_s), (0, 0.0));
    near(m.p50_ms, 50.0, 0.033);
    near(m.p95_ms, 95.0, 0.033);
    assert_eq!(m.max_ms, Some(100.0), "max is exact");
    near(m.mean_ms, 72_320.0 / 1440.0, 1e-5);
    assert_eq!(m.state, State::Up);
    assert_eq!(m.cells.len(), 24, "hourly cells for a day");
    assert!(m.cells.iter().all(|c| c.checks == 60 && c.up == 60));
}

#[test]
fn a_monitor_down_across_the_start_counts_only_its_time_inside() {
    let r = day(&fixture(), None);
    let m = monitor(&r, "https://edge.example/");
    assert_eq!((m.checks, m.up), (1440, 1350));
    assert_eq!(m.uptime_pct, Some(93.75));
    assert_eq!(m.uptime_time_pct, Some(93.75));
    assert_eq!(m.downtime_s, 5400.0);
    assert_eq!(m.incidents, 1);
    assert_eq!(m.longest_incident_s, 7200.0, "the incident is listed whole");
    let i = r
        .incidents
        .iter()
        .find(|i| i.url == m.url)
        .expect("edge incident");
    assert_eq!((i.start, i.end), (T0 - 30 * 60_000, Some(T0 + 90 * 60_000)));
    assert_eq!(i.duration_s, 7200.0);
    assert_eq!(i.reason.as_deref(), Some("connect"));
    assert_eq!(i.ended_by, Some(State::Up));
    // The first hour is all down, the second half down.
    assert_eq!((m.cells[0].up, m.cells[1].up, m.cells[2].up), (0, 30, 60));
}

#[test]
fn two_incidents_one_still_open_at_the_end_of_the_window() {
    let r = day(&fixture(), None);
    let m = monitor(&r, "https://flappy.example/api");
    assert_eq!((m.checks, m.up), (1440, 1370));
    assert_eq!(m.uptime_pct, Some(95.139));
    assert_eq!(m.uptime_time_pct, Some(95.139));
    assert_eq!((m.incidents, m.downtime_s), (2, 4200.0));
    assert_eq!(m.longest_incident_s, 3600.0);
    assert_eq!(m.state, State::Down);
    let mine: Vec<&IncidentReport> = r.incidents.iter().filter(|i| i.url == m.url).collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].duration_s, 600.0);
    assert_eq!(mine[0].status, Some(503));
    assert_eq!(mine[1].end, None, "still down");
    assert_eq!(
        mine[1].duration_s, 3600.0,
        "measured to the end of the window"
    );
}

#[test]
fn failed_checks_without_a_transition_count_by_checks_only() {
    let r = day(&fixture(), None);
    let m = monitor(&r, "https://never-decided.example/");
    assert_eq!((m.checks, m.up), (5, 0));
    assert_eq!(m.uptime_pct, Some(0.0));
    assert_eq!(m.uptime_time_pct, None);
    assert_eq!(m.incidents, 0);
    assert_eq!(m.state, State::Unknown);
    assert_eq!(m.name, None);
}

#[test]
fn checks_that_are_not_verdicts_and_impaired_time_count_neither_up_nor_down() {
    let conn = fixture();
    conn.execute_batch(&format!(
        "INSERT INTO checks (ts, monitor, status, reason, detail, bytes, ms, lateness_ms, nature)
         VALUES ({t}, 1, NULL, 'file_descriptors', 'Too many open files', NULL, 1, 0, 'local'),
                ({t}, 1, NULL, 'file_descriptors', 'Too many open files', NULL, 1, 0, 'local'),
                ({t}, 1, NULL, 'paused', 'sitewatch was paused', NULL, 9000, 0, 'inconclusive'),
                ({t}, 4, NULL, 'network_impaired', 'every canary failed', NULL, 5, 0,
                 'inconclusive');
         INSERT INTO impairments (start_ts, end_ts, cause, detail)
         VALUES ({a}, {b}, 'network_impaired', 'every canary failed');",
        t = T0 + 3 * H + 1000,
        a = T0 + 6 * H,
        b = T0 + 7 * H,
    ))
    .unwrap();
    // The rollups, rebuilt from raw checks, leave them out too.
    rollup::rebuild(&conn).unwrap();
    let r = day(&conn, None);
    let m = monitor(&r, "https://steady.example/");
    assert_eq!((m.checks, m.up), (1440, 1440));
    assert_eq!((m.local_errors, m.inconclusive), (2, 1));
    assert_eq!(
        m.max_ms,
        Some(100.0),
        "a 9 s inconclusive check is not the slowest"
    );
    assert_eq!((m.observed_s, m.impaired_s), (23.0 * 3600.0, 3600.0));
    assert_eq!(m.uptime_time_pct, Some(100.0));
    let n = monitor(&r, "https://never-decided.example/");
    assert_eq!((n.checks, n.inconclusive), (5, 1));
    assert_eq!(r.impairments.len(), 1);

    let table = table::render(&r);
    assert!(table.contains("NOT VERDICTS"), "{table}");
    assert!(table.contains("MONITORING IMPAIRED"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&json::render(&r)).unwrap();
    assert_eq!(json["monitors"][0]["local_errors"], 2);
    assert_eq!(json["impairments"][0]["cause"], "network_impaired");
    assert_eq!(json["impairments"][0]["duration_s"], 3600.0);
    let csv = csv::render(&r);
    assert!(csv.lines().any(|l| l.starts_with("impairment,")), "{csv}");
    let html = html::render(&r);
    assert!(html.contains("not verdicts: 2 local error(s), 1 inconclusive, 1h impaired"));
}

#[test]
fn maintenance_time_counts_neither_up_nor_down_for_the_monitors_it_covers() {
    let conn = fixture();
    // edge is down from T0 - 30m to T0 + 90m; a window covers its first hour in the report.
    conn.execute_batch(&format!(
        "INSERT INTO maintenance (start_ts, end_ts, monitors, ids, reason, origin, added_ts)
         VALUES ({a}, {b}, 'group:net', 'edge', 'switch swap', 'cli', {a});",
        a = T0,
        b = T0 + H,
    ))
    .unwrap();
    let r = day(&conn, None);
    let m = monitor(&r, "https://edge.example/");
    assert_eq!(m.maintenance_s, 3600.0);
    assert_eq!(m.downtime_s, 1800.0, "only the outage outside the window");
    assert_eq!(m.observed_s, 23.0 * 3600.0);
    assert_eq!(m.incidents, 1, "the incident itself is still listed");
    let steady = monitor(&r, "https://steady.example/");
    assert_eq!(
        (steady.maintenance_s, steady.observed_s),
        (0.0, 24.0 * 3600.0)
    );
    assert_eq!(r.maintenance.len(), 1);

    let json: serde_json::Value = serde_json::from_str(&json::render(&r)).unwrap();
    assert_eq!(json["maintenance"][0]["reason"], "switch swap");
    assert_eq!(json["maintenance"][0]["duration_s"], 3600.0);
    let table = table::render(&r);
    assert!(table.contains("\nMAINTENANCE\n"), "{table}");
    let csv = csv::render(&r);
    assert!(csv.lines().any(|l| l.starts_with("maintenance,")), "{csv}");
    assert!(html::render(&r).contains("1h maintenance"));
}

#[test]
fn a_stop_ends_the_incident_and_the_observed_time() {
    let r = day(&fixture(), None);
    let m = monitor(&r, "https://stopped.example/");
    assert_eq!((m.checks, m.up), (720, 660));
    assert_eq!(m.uptime_pct, Some(91.667));
    assert_eq!(m.uptime_time_pct, Some(91.667));
    assert_eq!(m.observed_s, 43_200.0);
    assert_eq!((m.incidents, m.downtime_s), (1, 3600.0));
    assert_eq!(m.state, State::Down, "last known state");
    let i = r.incidents.iter().find(|i| i.url == m.url).unwrap();
    assert_eq!(i.ended_by, Some(State::Unknown));
    assert_eq!(i.end, Some(T0 + 12 * H));
}

#[test]
fn incidents_are_listed_by_start() {
    let r = day(&fixture(), None);
    let starts: Vec<i64> = r.incidents.iter().map(|i| i.start).collect();
    assert_eq!(
        starts,
        vec![T0 - 30 * 60_000, T0 + 2 * H, T0 + 11 * H, T0 + 23 * H]
    );
    assert_eq!(r.monitors.len(), 6);
}

#[test]
fn url_patterns_filter_by_substring_or_glob() {
    let conn = fixture();
    let urls = |p: &str| -> Vec<String> {
        day(&conn, Some(p))
            .monitors
            .iter()
            .map(|m| m.url.clone())
            .collect()
    };
    assert_eq!(urls("flappy"), vec!["https://flappy.example/api"]);
    assert_eq!(
        urls("https://s*"),
        vec!["https://steady.example/", "https://stopped.example/"]
    );
    assert_eq!(
        urls("stead?"),
        vec!["https://steady.example/"],
        "names match too"
    );
    assert!(urls("nothing").is_empty());
    assert!(day(&conn, Some("flappy"))
        .incidents
        .iter()
        .all(|i| i.name.as_deref() == Some("flappy")));
}

#[test]
fn partial_hours_come_from_raw_checks() {
    let conn = fixture();
    let r = build(
        &conn,
        &Query {
            from: T0 + 30 * 60_000,
            to: T0 + 150 * 60_000,
            pattern: Some("steady".into()),
            now: T0 + 400 * H,
        },
    )
    .unwrap();
    assert_eq!(r.monitors[0].checks, 120);
    // A window inside one hour.
    let r = build(
        &conn,
        &Query {
            from: T0 + 10 * 60_000,
            to: T0 + 20 * 60_000,
            pattern: Some("steady".into()),
            now: T0 + 400 * H,
        },
    )
    .unwrap();
    assert_eq!(r.monitors[0].checks, 10);
}

#[test]
fn after_pruning_whole_hours_come_from_rollups() {
    let conn = fixture();
    conn.execute_batch(&format!(
        "DELETE FROM checks WHERE ts < {cut};
         INSERT INTO meta (key, value) VALUES ('pruned_before', {cut});",
        cut = T0 + 6 * H + 30 * 60_000
    ))
    .unwrap();
    let r = day(&conn, Some("steady"));
    assert_eq!(r.monitors[0].checks, 1440, "rollups outlive raw checks");
    near(r.monitors[0].p95_ms, 95.0, 0.033);
    // A partial hour before the prune horizon is counted whole, from its rollup.
    let r = build(
        &conn,
        &Query {
            from: T0 + 30 * 60_000,
            to: T0 + 2 * H,
            pattern: Some("steady".into()),
            now: T0 + 400 * H,
        },
    )
    .unwrap();
    assert_eq!(r.monitors[0].checks, 120);
}

#[test]
fn long_windows_use_daily_cells() {
    let conn = fixture();
    let r = build(
        &conn,
        &Query {
            from: T0 - 10 * DAY_MS,
            to: T0 + 20 * DAY_MS,
            pattern: Some("edge".into()),
            now: T0 + 400 * H,
        },
    )
    .unwrap();
    assert_eq!(r.cell_ms, DAY_MS);
    let m = &r.monitors[0];
    assert_eq!(m.cells.len(), 30);
    assert_eq!(m.cells[9].checks, 120, "the two hours before T0");
    assert_eq!(m.cells[10].checks, 1440);
    assert_eq!(m.checks, 1560);
}

#[test]
fn every_format_shows_the_numbers() {
    let r = day(&fixture(), None);
    let table = table::render(&r);
    assert!(table.contains("https://edge.example/ (edge)"), "{table}");
    assert!(table.contains("93.750%"), "{table}");
    assert!(table.contains("INCIDENTS"), "{table}");
    assert!(table.contains("ongoing"), "{table}");
    // Aligned: every monitor row ends its CHECKS column where the header does.
    let lines: Vec<&str> = table.lines().skip(2).take(7).collect();
    let end = lines[0].find("CHECKS").unwrap() + "CHECKS".len();
    for line in &lines[1..] {
        let digits = line[..end]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .count();
        assert!(digits > 0 && line.as_bytes()[end] == b' ', "{table}");
    }

    let json: serde_json::Value = serde_json::from_str(&json::render(&r)).unwrap();
    let edge = &json["monitors"][1];
    assert_eq!(edge["url"], "https://edge.example/");
    assert_eq!(edge["uptime_pct"], 93.75);
    assert_eq!(edge["downtime_s"], 5400.0);
    assert_eq!(edge["state"], "up");
    for key in [
        "url",
        "checks",
        "uptime_pct",
        "incidents",
        "downtime_s",
        "p50_ms",
        "p95_ms",
        "max_ms",
        "state",
    ] {
        assert!(edge.get(key).is_some(), "monitors[].{key}");
    }
    let first = &json["incidents"][0];
    assert_eq!(first["start"], "2025-12-31T23:30:00Z");
    assert_eq!(first["end"], "2026-01-01T01:30:00Z");
    assert_eq!(first["duration_s"], 7200.0);
    assert_eq!(first["reason"], "connect");
    assert_eq!(json["incidents"][3]["end"], serde_json::Value::Null);

    let csv = csv::render(&r);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("type,url,name,checks,up,uptime_pct"));
    assert_eq!(lines.len(), 1 + 6 + 4);
    assert!(lines[2]
        .starts_with("monitor,https://edge.example/,edge,1440,1350,93.75,93.75,1,5400,7200,"));
    assert!(lines.iter().any(
        |l| l.starts_with("incident,https://flappy.example/api,flappy,")
            && l.contains(",3600,status,503,")
    ));

    let html = html::render(&r);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("http-equiv") && !html.contains("<script") && !html.contains("<link"));
    assert!(!html.contains("src=\""), "no external assets");
    assert_eq!(html.matches("class=\"mon\"").count(), 6);
    assert!(
        html.contains("00:00: 0.00% up, 0 of 60 checks"),
        "edge's first hour is red"
    );
    assert!(html.contains("#d93b30"));
}

#[test]
fn spans_read_like_people_write_them() {
    assert_eq!(span(0.0), "0s");
    assert_eq!(span(5400.0), "1h 30m");
    assert_eq!(span(90061.0), "1d 1h");
    assert_eq!(time(T0), "2026-01-01T00:00:00Z");
}

#[test]
fn two_monitors_of_one_url_are_told_apart_by_id_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = crate::store::Store::open(&dir.path().join("h.db")).unwrap();
    let config = crate::config::Config::parse(
        r#"[{"url": "https://same.example/"}, {"url": "https://same.example/", "interval": 10}]"#,
    )
    .unwrap();
    store.register(&config.monitors).unwrap();
    let rows = store.monitor_ids().unwrap().to_vec();
    let conn = store.connection();
    for (i, row) in rows.iter().enumerate() {
        conn.execute(
            "INSERT INTO checks (ts, monitor, status, bytes, ms, lateness_ms) VALUES (?1, ?2, 200, 1, ?3, 0)",
            rusqlite::params![T0 + 1000, row, 10.0 * (i + 1) as f64],
        )
        .unwrap();
    }
    rollup::rebuild(conn).unwrap();
    let (a, b) = (config.monitors[0].id(), config.monitors[1].id());
    assert_eq!(a, "same.example");
    assert!(b.starts_with("same.example-"), "{b}");

    let r = day(conn, None);
    let ids: Vec<&str> = r.monitors.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [a, b]);
    let table = table::render(&r);
    assert!(
        table.contains(&format!("https://same.example/ [{a}] ")),
        "{table}"
    );
    assert!(
        table.contains(&format!("https://same.example/ [{b}] ")),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_str(&json::render(&r)).unwrap();
    assert_eq!(json["monitors"][0]["id"], a);
    assert_eq!(json["monitors"][1]["id"], b);
    let csv = csv::render(&r);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",impaired_s,maintenance_s,id"), "{csv}");
    assert!(
        lines[1].ends_with(&format!(",{a}")) && lines[2].ends_with(&format!(",{b}")),
        "{csv}"
    );
    assert!(html::render(&r).contains(&format!("[{b}]")));

    // The filter matches ids too.
    let only_b: Vec<String> = day(conn, Some(b))
        .monitors
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(only_b, [b]);
}
