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
    // One worker and one queue place for five 300 ms checks a second: at start one runs and
    // the others wait, in due order (held back while never up, as suspect checks may occupy
    // only the one worker; afterwards, healthy, through the queue and the overflow FIFO).
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
            Some("report") if count(&line, "overflowed") + count(&line, "held_back") >= 3 => {
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
    assert!(count(&summary, "held_back") >= 3, "{run}");
    assert!(
        count(&summary, "overflowed") >= 1,
        "healthy, they overflow\n{run}"
    );
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

/// Milliseconds since the epoch of an RFC 3339 time.
fn epoch_ms(ts: &str) -> f64 {
    let t = humantime::parse_rfc3339(ts).unwrap_or_else(|e| panic!("{ts}: {e}"));
    t.duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        * 1000.0
}

#[test]
fn dead_sites_do_not_starve_a_healthy_one() {
    // 200 URLs that accept and never answer (2 s timeout) next to one healthy URL every second,
    // on 8 workers: checks of the dead ones may hold only half of the workers, so after the
    // first round the healthy one is checked on every occurrence, on time.
    let site = LocalSite::start().unwrap();
    let ok = site.url("/ok");
    let mut entries = vec![json!({"url": ok, "interval": "1s", "timeout": "2s"})];
    entries.extend((0..200).map(
        |i| json!({"url": site.url(&format!("/hang?n={i}")), "interval": "5s", "timeout": "2s"}),
    ));
    let file = config(&Value::Array(entries));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--workers",
        "8",
        "--report-every",
        "1s",
        path(&file),
    ]);
    let deadline = within(30.0);
    // (due, lateness) of each check of the healthy URL, until one due 12 s after the first.
    let mut dues: Vec<(f64, f64)> = Vec::new();
    // Each check's duration and queueing too, for the messages: a missed occurrence is told
    // apart from a check that took long.
    let mut took: Vec<(f64, f64)> = Vec::new();
    while dues.last().is_none_or(|d| d.0 < dues[0].0 + 12_000.0) {
        let c = sw.wait_for_json(deadline, "checks of the healthy URL for 12 s", |v| {
            v["type"] == "check" && v["url"] == ok
        });
        assert_eq!(c["up"], true, "{c}");
        let late = num(&c, "lateness_ms");
        dues.push((epoch_ms(c["ts"].as_str().unwrap()) - late, late));
        took.push((num(&c, "ms"), num(&c, "queued_ms")));
    }
    // After the first round (a timeout, 2 s, plus a margin): every occurrence, 1 s apart.
    let steady: Vec<&(f64, f64)> = dues.iter().filter(|d| d.0 >= dues[0].0 + 4_000.0).collect();
    assert!(
        steady.len() >= 8,
        "(due, lateness) {dues:?}\n(ms, queued) {took:?}"
    );
    for pair in steady.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            (990.0..1010.0).contains(&gap),
            "an occurrence was missed: (due, lateness) {dues:?}\n(ms, queued) {took:?}"
        );
    }
    for (_, late) in &steady {
        assert!(
            *late < 1000.0,
            "the healthy URL started {late} ms late: {dues:?}"
        );
    }
    let report = sw.wait_for_json(deadline, "a report of the saturated pool", |v| {
        v["type"] == "report" && count(v, "held_depth") > 0
    });
    // Failing monitors' checks keep to their 4 workers; first checks of the hanging URLs may
    // borrow the healthy part of the pool but for its reserve (twice the healthy checks in
    // flight at once, here 2 workers).
    let busy = count(&report, "suspect_busy");
    assert!(busy <= 6, "{report}");
    assert!(busy - count(&report, "first_busy") <= 4, "{report}");
    assert_eq!(count(&report, "suspect_monitors"), 200, "{report}");
    sw.sigint();
    let run = sw.finish(within(10.0));
    assert_eq!(run.code(), 0, "{run}");
    assert!(count(&run.summary(), "held_back") > 0, "{run}");
}

#[test]
fn a_new_lists_first_checks_are_not_held_behind_its_dead_sites() {
    // 6 URLs that never answer (5 s timeout) listed before 20 healthy ones, on 8 workers: the
    // hanging checks fill more than the suspect share (4) at once. Counted as suspect, the
    // healthy URLs' first checks waited for them to time out (over 5 s); a first check may
    // borrow the idle healthy part of the pool, so they start on time.
    let site = LocalSite::start().unwrap();
    let mut entries: Vec<Value> = (0..6)
        .map(|i| json!({"url": site.url(&format!("/hang?n={i}")), "interval": "60s", "timeout": "5s"}))
        .collect();
    let healthy: Vec<String> = (0..20).map(|i| site.url(&format!("/ok?n={i}"))).collect();
    entries.extend(
        healthy
            .iter()
            .map(|u| json!({"url": u, "interval": "60s", "timeout": "5s"})),
    );
    let file = config(&Value::Array(entries));
    let mut sw = Sitewatch::spawn(["--format", "json", "--workers", "8", path(&file)]);
    let deadline = within(20.0);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < healthy.len() {
        let c = sw.wait_for_json(deadline, "the first check of each healthy URL", |v| {
            v["type"] == "check" && v["url"].as_str().is_some_and(|u| u.contains("/ok"))
        });
        assert_eq!(c["up"], true, "{c}");
        let late = num(&c, "lateness_ms");
        assert!(late < 2000.0, "a first check started {late} ms late: {c}");
        seen.insert(c["url"].as_str().unwrap().to_string());
    }
    sw.sigint();
    let run = sw.finish(within(10.0));
    assert_eq!(run.code(), 0, "{run}");
}
