//! `--once` never says "all up" when it does not know: a run cut short by `--duration`, SIGTERM
//! or Ctrl-C lists the monitors it could not decide and exits 1, and a `Retry-After` beyond the
//! retry budget ends the monitor as down at once instead of making the run wait.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sitewatch::localsite::{refused_url, LocalSite};

use crate::util::{config, path, run, within, Sitewatch};

/// A refusing URL whose retry (10 s away) is still pending for a while, and a healthy one.
fn pending_and_healthy(site: &LocalSite) -> (String, String, tempfile::NamedTempFile) {
    let dead = refused_url();
    let ok = site.url("/ok");
    let file = config(&json!([
        {"url": dead, "retry_delay": "10s"},
        {"url": ok},
    ]));
    (dead, ok, file)
}

#[test]
fn once_cut_short_by_the_deadline_lists_the_undecided_and_exits_1() {
    let site = LocalSite::start().unwrap();
    let (dead, ok, file) = pending_and_healthy(&site);
    let json = run(
        [
            "--once",
            "--format",
            "json",
            "--duration",
            "1s",
            path(&file),
        ],
        10.0,
    );
    assert_eq!(json.code(), 1, "undecided is not all up\n{json}");
    let summary = json.summary();
    assert_eq!(summary["undecided"], json!([dead]), "{json}");
    let dead_id = sitewatch::config::identity::url_slug(&dead);
    assert_eq!(summary["undecided_ids"], json!([dead_id]), "{json}");
    assert_eq!(summary["failing"], json!([]), "{json}");
    let checks = json.checks();
    assert!(checks.iter().any(|c| c["url"] == ok && c["up"] == true));

    let text = run(["--once", "--duration", "1s", path(&file)], 10.0);
    assert_eq!(text.code(), 1, "{text}");
    let summary: Vec<&str> = text
        .stdout
        .iter()
        .filter_map(|l| l.split_once("  SUMMARY  ").map(|(_, rest)| rest))
        .collect();
    assert!(
        summary.contains(&"cut short after 1s: 1 monitor undecided"),
        "{text}"
    );
    assert!(
        summary
            .iter()
            .any(|l| l.starts_with("undecided at end (1, ")
                && l.ends_with(&format!(
                    "{dead} [{}]",
                    sitewatch::config::identity::url_slug(&dead)
                ))),
        "{text}"
    );
    assert!(
        summary.contains(&"down at end (0, 0 backed off): none"),
        "{text}"
    );
}

/// Starts `--once` over a pending and a healthy monitor, waits until both were checked,
/// sends `signal`, and checks the run ends 1 with the pending one undecided.
fn signal_mid_run_leaves_the_pending_monitor_undecided(signal: &str) {
    let site = LocalSite::start().unwrap();
    let (dead, ok, file) = pending_and_healthy(&site);
    let mut sw = Sitewatch::spawn(["--once", "--format", "json", path(&file)]);
    let deadline = within(5.0);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let check = sw.wait_for_json(deadline, "a check of each monitor", |v| {
            v["type"] == "check"
        });
        seen.push(check["url"].clone());
    }
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &sw.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let started = Instant::now();
    let run = sw.finish(within(5.0));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(run.code(), 1, "{signal}: undecided is not all up\n{run}");
    let summary = run.summary();
    assert_eq!(summary["undecided"], json!([dead]), "{run}");
    assert_eq!(summary["failing"], json!([]), "{run}");
    let states: Vec<Value> = run.of_type("state");
    assert_eq!(
        states.len(),
        1,
        "only the healthy monitor is decided\n{run}"
    );
    assert_eq!(
        (&states[0]["url"], &states[0]["to"]),
        (&json!(ok), &json!("up"))
    );
    assert!(run.stderr_text().contains("stopping"), "{run}");
}

#[test]
fn once_cut_short_by_sigterm_exits_1_with_the_undecided() {
    signal_mid_run_leaves_the_pending_monitor_undecided("TERM");
}

#[test]
fn once_cut_short_by_sigint_exits_1_with_the_undecided() {
    signal_mid_run_leaves_the_pending_monitor_undecided("INT");
}

#[test]
fn once_retry_after_beyond_the_retry_budget_is_down_at_once_quoting_it() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/retry-after/99999");
    let file = config(&json!([{"url": url}]));
    let run = run(["--once", "--format", "json", path(&file)], 10.0);
    assert_eq!(run.code(), 1, "{run}");
    assert_eq!(run.checks().len(), 1, "no retry is waited for\n{run}");
    let states = run.of_type("state");
    assert_eq!(states.len(), 1, "{run}");
    let state = &states[0];
    assert_eq!(state["to"], "down", "{state}");
    assert_eq!(state["attempts"], 1, "{state}");
    assert_eq!(
        state["detail"],
        "HTTP 503 Service Unavailable; Retry-After 99999 s exceeds the retry budget (6s left)",
        "{state}"
    );
    let summary = run.summary();
    assert_eq!(summary["failing"], json!([url]), "{run}");
    assert_eq!(summary["undecided"], json!([]), "{run}");
    assert_eq!(site.hits("/retry-after/99999"), 1);
}

#[test]
fn once_second_stop_request_ends_the_wait_for_checks_in_flight() {
    let site = LocalSite::start().unwrap();
    let hang = site.url("/hang");
    let file = config(&json!([{"url": hang, "timeout": "30s"}]));
    let mut sw = Sitewatch::spawn([
        "--once",
        "--format",
        "json",
        "--report-every",
        "200ms",
        path(&file),
    ]);
    sw.wait_for_json(within(5.0), "a report with /hang in flight", |v| {
        v["type"] == "report" && v["in_flight"].as_array().is_some_and(|a| !a.is_empty())
    });
    sw.sigint();
    sw.wait_for_stderr(within(5.0), "waiting for 1 check(s) in flight to finish");
    // A real second request: more than a second after the first (a repeat within one second
    // is the same request).
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    sw.sigint();
    let run = sw.finish(within(5.0));
    assert!(sent.elapsed() < Duration::from_secs(3), "{run}");
    assert_eq!(run.code(), 130, "{run}");
    let summary = run.summary();
    assert_eq!(summary["interrupted"], true, "{run}");
    assert_eq!(summary["undecided"], json!([hang]), "{run}");
}
