//! Stopping: the first Ctrl-C finishes checks in flight and prints the summary (exit 0), the
//! second exits 130 at once; `--duration` stops by itself.

use std::time::{Duration, Instant};

use serde_json::json;
use sitewatch::localsite::LocalSite;

use crate::util::{config, count, num, path, run, within, Sitewatch};

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

#[test]
fn second_sigint_exits_130_at_once_without_a_summary() {
    let site = LocalSite::start().unwrap();
    let hang = site.url("/hang");
    let file = config(&json!([{"url": hang, "interval": "60s", "timeout": "30s"}]));
    let mut sw = Sitewatch::spawn(["--format", "json", "--report-every", "200ms", path(&file)]);
    sw.wait_for_json(within(5.0), "a report with /hang in flight", |v| {
        v["type"] == "report" && v["in_flight"].as_array().is_some_and(|a| !a.is_empty())
    });
    sw.sigint();
    // Only once the first interrupt was handled, or the two could merge into one signal.
    sw.wait_for_stderr(within(5.0), "stopping");
    sw.wait_for_stderr(within(5.0), "waiting for 1 check(s) in flight");
    let sent = Instant::now();
    sw.sigint();
    let run = sw.finish(within(5.0));
    let took = sent.elapsed();
    assert_eq!(run.code(), 130, "{run}");
    assert!(took < Duration::from_secs(3), "exit took {took:?}");
    assert!(
        run.summary_absent(),
        "no summary after a second Ctrl-C\n{run}"
    );
    assert!(run.checks().is_empty(), "{run}");
    assert!(
        run.stderr_text()
            .contains("sitewatch: interrupted again, exiting without a summary"),
        "{run}"
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
