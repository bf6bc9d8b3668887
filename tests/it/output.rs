//! What sitewatch prints: periodic reports, the text format's shape, the `--log-file` copy,
//! and the demo.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use sitewatch::config::identity::url_slug;
use sitewatch::localsite::{refused_url, LocalSite};

use crate::util::{assert_rfc3339_ms, config, count, num, once, path, run, within, Sitewatch};

#[test]
fn reports_show_totals_codes_in_flight_and_slowest() {
    let site = LocalSite::start().unwrap();
    let ok = site.url("/ok");
    let hang = site.url("/hang");
    let file = config(&json!([
        {"url": ok, "interval": "1s", "timeout": "1s"},
        {"url": hang, "interval": "10s", "timeout": "2s"},
    ]));
    let mut sw = Sitewatch::spawn(["--format", "json", "--report-every", "500ms", path(&file)]);
    let deadline = within(8.0);
    let first = sw.wait_for_json(deadline, "the first report", |v| v["type"] == "report");
    assert_rfc3339_ms(first["ts"].as_str().unwrap());
    let window = num(&first, "window_s");
    assert!((0.4..1.0).contains(&window), "window_s {window}");
    assert_eq!(count(&first, "monitors"), 2);
    // At 0.5 s: /ok was checked once (due at 0, next at 1 s) and /hang is still running.
    assert_eq!(count(&first, "checked_total"), 1, "{first}");
    assert_eq!(count(&first, "checked_interval"), 1, "{first}");
    assert_eq!(count(&first, "down_interval"), 0, "{first}");
    assert_eq!(first["top_codes"], json!([[200, 1]]), "{first}");
    assert_eq!(first["top_reasons"], json!([]), "{first}");
    assert_eq!(first["slowest"]["url"], ok, "{first}");
    assert!(num(&first["slowest"], "ms") < 1000.0, "{first}");
    let in_flight = first["in_flight"].as_array().expect("in_flight is a list");
    assert_eq!(in_flight.len(), 1, "{first}");
    assert_eq!(in_flight[0]["url"], hang, "{first}");
    let running = num(&in_flight[0], "ms");
    assert!((300.0..2000.0).contains(&running), "{first}");
    assert_eq!(count(&first, "failing"), 0, "{first}");
    for key in ["p50", "p99", "max"] {
        assert!(num(&first["lateness_ms"], key) >= 0.0, "{first}");
    }
    for key in [
        "queue_depth",
        "overflow_depth",
        "overflowed",
        "missed",
        "dropped_lines",
        "unwritten",
        "lost_notifications",
    ] {
        assert_eq!(count(&first, key), 0, "{key}: {first}");
    }
    let later = sw.wait_for_json(deadline, "a report with more checks", |v| {
        v["type"] == "report" && count(v, "checked_total") > 1
    });
    assert!(
        later["top_codes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|pair| pair[0] == 200 && pair[1].as_u64() >= Some(1)),
        "{later}"
    );
    sw.sigint();
    let run = sw.finish(within(6.0));
    assert_eq!(run.code(), 0, "{run}");
    let totals: Vec<u64> = run
        .reports()
        .iter()
        .map(|r| count(r, "checked_total"))
        .collect();
    assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
    let summary = run.summary();
    assert!(totals
        .iter()
        .all(|&t| t <= count(&summary, "checked_total")));
    // The hang timed out after 2 s and is the slowest check of the run.
    assert_eq!(summary["slowest"][0]["url"], hang, "{run}");
    assert!(num(&summary["slowest"][0], "ms") >= 2000.0, "{run}");
    assert_eq!(summary["top_reasons"], json!([["timeout", 1]]), "{run}");
}

/// Asserts a text check line is exactly
/// `TS  STATE  STATUS  {ms:>9.1} ms  {bytes:>12}  TAIL`, and returns its ms.
fn assert_text_check(line: &str, state: &str, status: &str, bytes: &str, tail: &str) -> f64 {
    assert!(line.len() > 24, "{line}");
    assert_rfc3339_ms(&line[..24]);
    let rest = &line[24..];
    let ms_token = rest
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no ms in {line}"));
    let decimals = ms_token.split_once('.').map(|(_, d)| d.len());
    assert_eq!(decimals, Some(1), "one decimal of ms: {line}");
    let expected = format!("  {state:<4}  {status:>3}  {ms_token:>9} ms  {bytes:>12}  {tail}");
    assert_eq!(rest, expected, "text check line shape");
    ms_token.parse().expect("ms is a number")
}

#[test]
fn text_format_has_aligned_check_lines_reports_and_summary_lines() {
    let site = LocalSite::start().unwrap();
    let ok = site.url("/ok");
    let dead = refused_url();
    let file = config(&json!([
        {"url": ok, "interval": "1s", "name": "home"},
        {"url": dead, "interval": "1s", "retries": 0},
    ]));
    let run = run(
        [
            "--format",
            "text",
            "--duration",
            "1200ms",
            "--report-every",
            "500ms",
            path(&file),
        ],
        10.0,
    );
    assert_eq!(run.code(), 0, "{run}");
    let is_report = |l: &&String| l.contains("  REPORT  ");
    let is_summary = |l: &&String| l.contains("  SUMMARY  ");
    let is_state = |l: &&String| l.contains("  STATE  ");
    let checks: Vec<&String> = run
        .stdout
        .iter()
        .filter(|l| !is_report(l) && !is_summary(l) && !is_state(l))
        .collect();
    let mut ups = 0;
    let mut downs = 0;
    let dead_id = url_slug(&dead);
    for line in &checks {
        if line.contains("  UP  ") {
            assert_text_check(line, "UP", "200", "3 B", &format!("{ok} (home) [home]"));
            ups += 1;
        } else {
            let ms = assert_text_check(
                line,
                "DOWN",
                "---",
                "-",
                &format!("{dead} [{dead_id}]  connect: connection refused"),
            );
            assert!(ms < 1000.0, "{line}");
            downs += 1;
        }
    }
    assert!(ups >= 1 && downs >= 1, "{run}");

    let reports: Vec<&String> = run.stdout.iter().filter(is_report).collect();
    assert!(!reports.is_empty(), "{run}");
    for line in &reports {
        assert_rfc3339_ms(&line[..24]);
        assert!(line[24..].starts_with("  REPORT  checked "), "{line}");
        assert!(line.contains("  |  codes "), "{line}");
        assert!(line.contains("  |  lateness p50 "), "{line}");
    }
    // The first window (0.5 s) holds the first /ok check.
    assert!(reports[0].contains("  |  codes 200x1"), "{}", reports[0]);

    // The summary is the last few lines, each `TS  SUMMARY  ...`.
    let first_summary = run
        .stdout
        .iter()
        .position(|l| l.contains("  SUMMARY  "))
        .unwrap_or_else(|| panic!("no summary\n{run}"));
    let summary = &run.stdout[first_summary..];
    for line in summary {
        assert_rfc3339_ms(&line[..24]);
        assert!(line[24..].starts_with("  SUMMARY  "), "{line}");
    }
    let body: Vec<&str> = summary.iter().map(|l| &l[35..]).collect();
    assert!(body[0].starts_with("ran "), "{body:?}");
    assert!(
        body[0].ends_with(&format!(
            ": 2 monitors, {} checks, {ups} up, {downs} down",
            ups + downs
        )),
        "{body:?}"
    );
    assert!(
        body.iter().any(|l| l.starts_with("down at end (1, ")
            && l.ends_with(&format!(" backed off): {dead} [{dead_id}]"))),
        "{body:?}"
    );
    // One state line per monitor, e.g. `TS  STATE  URL  unknown -> down  connect: …`.
    let states: Vec<&String> = run
        .stdout
        .iter()
        .filter(|l| l.contains("  STATE  "))
        .collect();
    assert_eq!(states.len(), 2, "{run}");
    assert!(
        states.iter().any(|l| l[24..].starts_with(&format!(
            "  STATE  {dead} [{dead_id}]  unknown -> down  connect: connection refused  (1 failed attempt;"
        ))),
        "{states:?}"
    );
    assert!(
        body.iter()
            .any(|l| l.starts_with("failure reasons: connectx")),
        "{body:?}"
    );
    assert_eq!(
        body.last().copied(),
        Some(
            "schedule: 0 coalesced, 0 overflowed, 0 missed, \
             0 queued checks skipped at stop, 0 never checked"
        ),
        "{body:?}"
    );
}

#[test]
fn log_file_gets_the_same_lines_and_is_appended_to() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sitewatch.log");
    let l = log.to_str().unwrap();
    let entries = json!([
        {"url": site.url("/ok")},
        {"url": site.url("/status/404")},
    ]);
    let read = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .expect("log file exists")
            .lines()
            .map(str::to_string)
            .collect()
    };

    let first = once(&entries, &["--log-file", l]);
    assert_eq!(first.code(), 1, "{first}");
    assert_eq!(
        first.stdout.len(),
        5,
        "two checks, their two state changes and a summary\n{first}"
    );
    assert_eq!(first.checks().len(), 2);
    assert_eq!(first.of_type("state").len(), 2);
    first.summary();
    assert_eq!(read(), first.stdout);

    let second = once(&entries, &["--log-file", l]);
    assert_eq!(second.code(), 1, "{second}");
    let both: Vec<String> = first.stdout.iter().chain(&second.stdout).cloned().collect();
    assert_eq!(read(), both, "the second run appended");
    // Diagnostics stay on stderr.
    assert!(!read().iter().any(|line| line.contains("[INFO]")));
    assert!(second.stderr_text().contains("[INFO]"), "{second}");
}

#[test]
fn demo_runs_offline_with_up_and_down_checks_of_many_kinds() {
    let run = run(["demo", "--duration", "4s", "--format", "json"], 20.0);
    assert_eq!(run.code(), 0, "{run}");
    let checks = run.checks();
    assert!(
        checks
            .iter()
            .all(|c| c["url"].as_str().unwrap().starts_with("http://127.0.0.1:")),
        "{run}"
    );
    assert!(checks.iter().any(|c| c["up"] == true), "{run}");
    assert!(checks.iter().any(|c| c["up"] == false), "{run}");
    let reasons: BTreeSet<&str> = checks.iter().filter_map(|c| c["reason"].as_str()).collect();
    for r in [
        "status",
        "connect",
        "protocol",
        "redirects",
        "body_too_large",
        "timeout",
    ] {
        assert!(reasons.contains(r), "no {r} failure in {reasons:?}\n{run}");
    }
    let summary = run.summary();
    assert_eq!(count(&summary, "monitors"), 13);
    assert_eq!(count(&summary, "never_checked"), 0, "{run}");
    assert_eq!(count(&summary, "checked_total"), checks.len() as u64);
    let names: BTreeSet<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names.len(),
        13,
        "every demo monitor named and checked: {names:?}"
    );
    let down = checks.iter().filter(|c| c["up"] == false).count() as u64;
    assert_eq!(count(&summary, "down_total"), down);
    let dead = checks
        .iter()
        .find(|c| c["name"] == "dead (refused)")
        .expect("the dead site was checked");
    let failing: Vec<&Value> = summary["failing"].as_array().unwrap().iter().collect();
    assert!(failing.contains(&&dead["url"]), "{run}");
}

#[test]
fn two_monitors_of_one_url_are_told_apart_by_id_in_lines_and_summary() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/status/500");
    let run = once(
        &json!([
            {"url": url, "group": "api"},
            {"url": url, "method": "HEAD"},
        ]),
        &[],
    );
    assert_eq!(run.code(), 1, "{run}");
    let checks = run.checks();
    let ids: BTreeSet<&str> = checks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let plain = url_slug(&url);
    assert_eq!(ids.len(), 2, "{run}");
    assert!(ids.contains(plain.as_str()), "{ids:?}");
    let other = *ids.iter().find(|&&id| id != plain).unwrap();
    assert!(other.starts_with(&format!("{plain}-")), "{other}");
    assert!(checks
        .iter()
        .all(|c| (c["id"] == plain) == (c["group"] == "api")));
    let summary = run.summary();
    assert_eq!(summary["failing"], json!([url, url]));
    assert_eq!(summary["failing_ids"], json!([plain, other]));
}
