//! Stopping: the first Ctrl-C finishes checks in flight and prints the summary (exit 0); the
//! same signal again within a second is the same request; a second one later stops at once
//! with an interrupted summary and the history kept (exit 130); `--duration` stops by itself.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::util::{config, count, num, path, run, within, Sitewatch, BIN};

#[test]
fn first_sigint_finishes_the_check_in_flight_and_counts_it() {
    let site = LocalSite::start().unwrap();
    let slow = site.url("/slow-headers/1500");
    let file = config(&json!([{"url": slow, "interval": "10s", "timeout": "5s"}]));
    let mut sw = Sitewatch::spawn(["--format", "json", "--report-every", "200ms", path(&file)]);
    let report = sw.wait_for_json(within(5.0), "a report with the slow check in flight", |v| {
        v["type"] == "report" && v["in_flight"].as_array().is_some_and(|a| !a.is_empty())
    });
    assert_eq!(report["in_flight"][0]["url"], slow, "{report}");
    assert_eq!(count(&report, "checked_total"), 0, "{report}");
    sw.sigint();
    sw.wait_for_stderr(within(5.0), "stopping");
    let run = sw.finish(within(6.0));
    assert_eq!(run.code(), 0, "{run}");
    let json = run.json();
    let check_at = json
        .iter()
        .position(|v| v["type"] == "check")
        .unwrap_or_else(|| panic!("the in-flight check was not printed\n{run}"));
    let check = &json[check_at];
    assert_eq!(check["url"], slow);
    assert_eq!(check["up"], true, "{check}");
    assert!(num(check, "ms") >= 1500.0, "{check}");
    assert_eq!(run.checks().len(), 1, "no new check after the stop\n{run}");
    let summary = run.summary();
    assert!(check_at < json.len() - 1);
    assert_eq!(count(&summary, "checked_total"), 1, "{run}");
    assert_eq!(count(&summary, "up_total"), 1);
    assert_eq!(count(&summary, "never_checked"), 0);
    assert!(
        run.stderr_text()
            .contains("waiting for 1 check(s) in flight"),
        "{run}"
    );
    assert_eq!(site.hits("/slow-headers/1500"), 1);
}

fn rows(db: &Path) -> u64 {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    conn.query_row("SELECT count(*) FROM checks", [], |r| r.get::<_, i64>(0))
        .expect("count rows") as u64
}

#[test]
fn a_second_sigint_later_stops_at_once_with_an_interrupted_summary_and_the_history_kept() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let hang = site.url("/hang");
    let file = config(&json!([
        {"url": site.url("/ok"), "interval": "1s"},
        {"url": hang, "interval": "60s", "timeout": "30s"},
    ]));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--report-every",
        "200ms",
        "--db",
        db.to_str().unwrap(),
        path(&file),
    ]);
    sw.wait_for_json(
        within(5.0),
        "a report with /hang in flight and /ok checked",
        |v| {
            v["type"] == "report"
                && count(v, "checked_total") >= 2
                && v["in_flight"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|c| c["url"] == hang))
        },
    );
    sw.sigint();
    sw.wait_for_stderr(within(5.0), "check(s) in flight to finish");
    // A real second request: more than a second after the first (a repeat within one second
    // is the same request).
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    sw.sigint();
    let run = sw.finish(within(5.0));
    let took = sent.elapsed();
    assert_eq!(run.code(), 130, "{run}");
    assert!(took < Duration::from_secs(3), "exit took {took:?}");
    assert!(
        run.stderr_text().contains(
            "stopping at once (second stop signal): not waiting for checks in flight or notifications; \
             committing the history and printing the summary"
        ),
        "{run}"
    );
    let summary = run.summary();
    assert_eq!(summary["interrupted"], true, "{run}");
    assert_eq!(count(&summary, "abandoned"), 1, "{run}");
    let checked = count(&summary, "checked_total");
    assert!(checked >= 2, "{run}");
    assert_eq!(checked, run.checks().len() as u64, "{run}");
    assert_eq!(
        rows(&db),
        checked,
        "every check counted is in the database\n{run}"
    );
}

#[test]
fn the_interrupted_text_summary_says_so_first() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([{"url": site.url("/hang"), "interval": "60s", "timeout": "30s"}]));
    let mut sw = Sitewatch::spawn(["--report-every", "200ms", path(&file)]);
    sw.wait_for_stderr(within(5.0), "monitors from");
    while !sw
        .next_line(within(5.0), "a report with /hang in flight")
        .is_some_and(|l| l.contains("  REPORT  ") && l.contains("in flight 1:"))
    {}
    sw.sigint();
    sw.wait_for_stderr(within(5.0), "check(s) in flight to finish");
    std::thread::sleep(Duration::from_millis(1100));
    sw.sigint();
    let run = sw.finish(within(5.0));
    assert_eq!(run.code(), 130, "{run}");
    let first = run
        .stdout
        .iter()
        .find(|l| l.contains("  SUMMARY  "))
        .unwrap_or_else(|| panic!("no summary\n{run}"));
    assert!(
        first.ends_with(
            "  SUMMARY  interrupted: stopped at once by a second stop request; 1 check(s) in \
             flight abandoned, notifications not waited for"
        ),
        "{run}"
    );
}

/// Sends `signal` to `pid` twice in a row, a few milliseconds apart, as `timeout` does (one
/// `kill` naming the process twice can be merged by the kernel into one pending signal).
fn signal_twice(signal: &str, pid: u32) {
    let pid = pid.to_string();
    for _ in 0..2 {
        let status = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}

#[test]
fn two_sigterms_microseconds_apart_are_one_graceful_stop() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let slow = site.url("/slow-headers/1000");
    let file = config(&json!([
        {"url": site.url("/ok"), "interval": "1s"},
        {"url": slow, "interval": "1s", "timeout": "5s"},
    ]));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--report-every",
        "100ms",
        "--db",
        db.to_str().unwrap(),
        path(&file),
    ]);
    sw.wait_for_json(within(5.0), "a report with the slow check in flight", |v| {
        v["type"] == "report"
            && count(v, "checked_total") >= 1
            && v["in_flight"]
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c["url"] == slow))
    });
    signal_twice("-TERM", sw.pid());
    let run = sw.finish(within(8.0));
    assert_eq!(run.code(), 0, "{run}");
    assert!(!run.stderr_text().contains("stopping at once"), "{run}");
    let summary = run.summary();
    assert_eq!(summary["interrupted"], false, "{run}");
    let checked = count(&summary, "checked_total");
    assert!(
        run.checks().iter().any(|c| c["url"] == slow),
        "the check in flight finished\n{run}"
    );
    assert_eq!(checked, run.checks().len() as u64, "{run}");
    assert_eq!(rows(&db), checked, "history complete\n{run}");
}

#[test]
fn timeout_sending_term_twice_gets_a_graceful_stop() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let file = config(&json!([
        {"url": site.url("/ok"), "interval": "1s"},
        {"url": site.url("/slow-headers/1000"), "interval": "1s", "timeout": "5s"},
    ]));
    // `timeout` signals the child, then its process group; --preserve-status: sitewatch's status.
    let out = std::process::Command::new("timeout")
        .args([
            "--preserve-status",
            "-s",
            "TERM",
            "2",
            BIN,
            "--format",
            "json",
        ])
        .args(["--db", db.to_str().unwrap(), path(&file)])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run timeout");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "summary", "{stdout}");
    assert_eq!(last["interrupted"], false);
    assert_eq!(
        rows(&db),
        count(&last, "checked_total"),
        "{stdout}\n{stderr}"
    );
}

#[test]
fn duration_stops_by_itself_with_a_summary() {
    let site = LocalSite::start().unwrap();
    let ok = site.url("/ok");
    let file = config(&json!([{"url": ok, "interval": "1s", "timeout": "1s"}]));
    let started = Instant::now();
    let run = run(["--format", "json", "--duration", "2s", path(&file)], 10.0);
    let took = started.elapsed();
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "ran {took:?}"
    );
    let summary = run.summary();
    let runtime = num(&summary, "runtime_s");
    assert!((2.0..4.0).contains(&runtime), "runtime_s {runtime}");
    let checks = run.checks();
    // Due at 0, 1 s and 2 s: at least the first two fall inside the run.
    assert!(checks.len() >= 2, "{run}");
    assert!(checks.iter().all(|c| c["url"] == ok && c["up"] == true));
    assert_eq!(count(&summary, "checked_total"), checks.len() as u64);
    assert_eq!(count(&summary, "up_total"), checks.len() as u64);
    assert_eq!(summary["top_codes"], json!([[200, checks.len()]]));
    assert_eq!(site.hits("/ok"), checks.len());
}

#[test]
fn sigterm_stops_gracefully_like_the_first_ctrl_c() {
    let site = LocalSite::start().unwrap();
    let ok = site.url("/ok");
    let file = config(&json!([{"url": ok, "interval": "1s"}]));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    sw.wait_for_json(within(5.0), "the first check", |v| v["type"] == "check");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &sw.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let run = sw.finish(within(5.0));
    assert_eq!(run.code(), 0, "{run}");
    let summary = run.summary();
    assert_eq!(count(&summary, "checked_total"), run.checks().len() as u64);
    assert!(run.stderr_text().contains("stopping"), "{run}");
}
