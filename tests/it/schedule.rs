//! Scheduling under load: a hanging monitor does not delay the others, overload goes through
//! the overflow FIFO in due order, and every monitor still gets checked.

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::util::{config, count, num, path, within, Sitewatch};

#[test]
fn hanging_monitor_does_not_delay_a_healthy_one() {
    let site = LocalSite::start().unwrap();
    let ok = site.url("/ok");
    let hang = site.url("/hang");
    let file = config(&json!([
        {"url": hang, "interval": "1s", "timeout": "2s", "retries": 0},
        {"url": ok, "interval": "1s", "timeout": "2s"},
    ]));
    let mut sw = Sitewatch::spawn(["--format", "json", "--workers", "2", path(&file)]);
    // The two monitors share the 1 s interval with phases 0 and 500 ms.
    let deadline = within(10.0);
    let mut ok_checks = Vec::new();
    while ok_checks.len() < 4 {
        ok_checks.push(sw.wait_for_json(deadline, "4 checks of /ok", |v| {
            v["type"] == "check" && v["url"] == ok
        }));
    }
    for c in &ok_checks {
        assert_eq!(c["up"], true, "{c}");
        let late = num(c, "lateness_ms");
        assert!(late < 200.0, "/ok started {late} ms late: {c}");
    }
    sw.sigint();
    let run = sw.finish(within(6.0));
    assert_eq!(run.code(), 0, "{run}");
    let summary = run.summary();
    assert!(
        count(&summary, "coalesced") >= 1,
        "the hanging monitor was due again while still running\n{run}"
    );
    assert_eq!(count(&summary, "checked_total"), run.checks().len() as u64);
    let hang_checks: Vec<Value> = run
        .checks()
        .into_iter()
        .filter(|c| c["url"] == hang)
        .collect();
    assert!(!hang_checks.is_empty(), "{run}");
    for c in &hang_checks {
        assert_eq!(c["reason"], "timeout", "{c}");
    }
    assert_eq!(summary["failing"], json!([hang]));
    // Timeout ≥ interval is worth a warning at start.
    assert!(run.stderr_text().contains("coalesce"), "{run}");
}

#[test]
fn overload_overflows_in_due_order_and_every_monitor_is_checked() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/slow-headers/300");
    let names = ["m0", "m1", "m2", "m3", "m4"];
    let entries: Vec<Value> = names
        .iter()
        .map(|n| json!({"url": url, "name": n, "interval": "1s", "timeout": "2s"}))
        .collect();
    let file = config(&Value::Array(entries));
    // One worker and one queue place for five 300 ms checks a second: at start one runs,
    // one waits in the queue and at least three go to the overflow FIFO.
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--workers",
        "1",
        "--queue",
        "1",
        "--report-every",
        "1s",
        path(&file),
    ]);
    let deadline = within(10.0);
    let mut overload_report = None;
    let mut first_round: Vec<String> = Vec::new();
    while overload_report.is_none() || first_round.len() < names.len() {
        let line = sw.next_json(deadline, "an overload report and a check of each monitor");
        match line["type"].as_str() {
            Some("report") if count(&line, "overflowed") > 0 || count(&line, "coalesced") > 0 => {
                overload_report.get_or_insert(line);
            }
            Some("check") => {
                let name = line["name"].as_str().unwrap().to_string();
                if !first_round.contains(&name) {
                    // Each waited behind the ones before it on the single worker.
                    let position = first_round.len() as f64;
                    let late = num(&line, "lateness_ms");
                    assert!(
                        late >= position * 300.0 - 50.0,
                        "{name} started only {late} ms late: {line}"
                    );
                    first_round.push(name);
                }
            }
            _ => {}
        }
    }
    let report = overload_report.unwrap();
    assert!(count(&report, "overflowed") >= 3, "{report}");
    assert_eq!(count(&report, "monitors"), 5);
    // The overflow FIFO serves monitors in due order, which is config order at start.
    assert_eq!(first_round, names);
    sw.sigint();
    let run = sw.finish(within(6.0));
    assert_eq!(run.code(), 0, "{run}");
    let checks = run.checks();
    assert!(checks.iter().all(|c| c["up"] == true), "{run}");
    let summary = run.summary();
    assert_eq!(count(&summary, "monitors"), 5);
    assert_eq!(count(&summary, "never_checked"), 0, "{run}");
    assert!(count(&summary, "overflowed") >= 3, "{run}");
    assert_eq!(count(&summary, "checked_total"), checks.len() as u64);
    assert_eq!(count(&summary, "down_total"), 0);
    assert_eq!(site.hits("/slow-headers/300"), checks.len());
}

#[test]
fn once_drains_the_overflow_fifo_until_every_monitor_is_checked() {
    let site = LocalSite::start().unwrap();
    let entries: Vec<Value> = (0..6)
        .map(|n| json!({"url": site.url(&format!("/bytes/{n}")), "timeout": "2s"}))
        .collect();
    let run = crate::util::once(&Value::Array(entries), &["--workers", "1", "--queue", "1"]);
    assert_eq!(run.code(), 0, "{run}");
    let bytes: Vec<u64> = run.checks().iter().map(|c| count(c, "bytes")).collect();
    // One worker, FIFO overflow: config order.
    assert_eq!(bytes, [0, 1, 2, 3, 4, 5], "{run}");
    let summary = run.summary();
    assert_eq!(count(&summary, "checked_total"), 6);
    assert_eq!(count(&summary, "never_checked"), 0);
    assert!(count(&summary, "overflowed") >= 4, "{run}");
    assert_eq!(count(&summary, "coalesced"), 0);
}
