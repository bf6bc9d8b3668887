//! The report says how busy the worker pool was, and when it runs hot how many workers would
//! give it headroom.

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::util::{config, num, path, within, Sitewatch};

/// Four monitors every second whose site holds each request for 1.5 s need six workers: two
/// are busy all the time and checks wait for them.
#[test]
fn a_pool_too_small_for_slow_sites_runs_hot_and_says_how_many_workers_would_do() {
    let site = LocalSite::start().unwrap();
    let entries: Vec<Value> = (0..4)
        .map(|i| json!({"url": site.url(&format!("/slow-headers/1500?m={i}")), "interval": "1s", "timeout": "10s"}))
        .collect();
    let file = config(&json!(entries));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--workers",
        "2",
        "--no-db",
        "--report-every",
        "2s",
        path(&file),
    ]);
    let report = sw.wait_for_json(within(20.0), "a report of a hot pool", |v| {
        v["type"] == "report" && v["pool"]["hot"] == true
    });
    let pool = &report["pool"];
    let busy = num(pool, "busy_workers");
    assert!(busy > 0.0 && busy <= 2.0, "{report}");
    assert!(
        num(pool, "busy_pct") > 80.0 || num(pool, "waited") > 0.0,
        "hot means busy over 80 % or checks waiting: {report}"
    );
    // The demand is at least the whole pool: 2 / 0.7, rounded up.
    assert_eq!(pool["suggested_workers"], 3, "{report}");
    drop(sw);

    let mut sw = Sitewatch::spawn([
        "--workers",
        "2",
        "--no-db",
        "--report-every",
        "2s",
        path(&file),
    ]);
    let deadline = within(20.0);
    loop {
        let line = sw
            .next_line(deadline, "a REPORT line of a hot pool")
            .expect("stdout open");
        if line.contains("REPORT") && line.contains("running hot") {
            assert!(line.contains(" of 2 workers busy on average ("), "{line}");
            assert!(
                line.contains("running hot; --workers 3 would leave headroom (70 % busy)"),
                "{line}"
            );
            break;
        }
    }
}

/// One monitor whose check takes half a second, every second, keeps about half a worker busy:
/// the report says so and suggests nothing.
#[test]
fn a_calm_pool_reports_its_busy_share_and_no_suggestion() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([
        {"url": site.url("/slow-headers/500"), "interval": "1s", "timeout": "10s"}
    ]));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--workers",
        "8",
        "--no-db",
        "--report-every",
        "2s",
        path(&file),
    ]);
    let deadline = within(20.0);
    // The first window starts before the first check; the second is steady.
    let mut reports = 0;
    let report = sw.wait_for_json(deadline, "a second report", |v| {
        reports += u32::from(v["type"] == "report");
        reports == 2
    });
    let pool = &report["pool"];
    let busy = num(pool, "busy_workers");
    // Generous bounds: 0.5 s of each 1 s, on a machine that may be busy.
    assert!((0.2..=1.0).contains(&busy), "{report}");
    assert_eq!(pool["hot"], false, "{report}");
    assert_eq!(pool["suggested_workers"], Value::Null, "{report}");
    assert_eq!(pool["waited"], 0, "{report}");
}
