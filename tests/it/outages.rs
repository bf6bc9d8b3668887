//! Glitch or outage: retries, one state line per transition, backoff for dead sites,
//! Retry-After, and a pool kept healthy while some sites hang.

use serde_json::{json, Value};
use sitewatch::localsite::{refused_url, LocalSite};

use crate::util::{config, count, num, path, within, Sitewatch};

/// Milliseconds between two RFC 3339 timestamps of the same day (enough for these tests).
fn ms_between(a: &Value, b: &Value) -> f64 {
    let t = |v: &Value| -> f64 {
        let ts = v["ts"].as_str().expect("ts");
        let (h, m, s) = (&ts[11..13], &ts[14..16], &ts[17..23]);
        (h.parse::<f64>().unwrap() * 3600.0 + m.parse::<f64>().unwrap() * 60.0) * 1000.0
            + s.parse::<f64>().unwrap() * 1000.0
    };
    t(b) - t(a)
}

/// Every state line follows on from the previous one of its monitor: never the same
/// transition twice in a row.
fn assert_transitions_chain(states: &[Value]) {
    for pair in states.windows(2) {
        assert_eq!(pair[0]["to"], pair[1]["from"], "{pair:?}");
        assert_ne!(pair[1]["from"], pair[1]["to"], "{pair:?}");
    }
}

#[test]
fn flaky_site_with_default_retries_never_goes_down() {
    let site = LocalSite::start().unwrap();
    let flaky = site.url("/flaky");
    // Every other request fails; each failure is retried 200 ms later and succeeds.
    let file = config(&json!([{"url": flaky, "interval": "1s", "retry_delay": "200ms"}]));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    let deadline = within(10.0);
    let mut failures = 0;
    while failures < 3 {
        let check = sw.wait_for_json(deadline, "three failed checks", |v| v["type"] == "check");
        if check["up"] == false {
            failures += 1;
        }
    }
    // Let the third failure's retry come back.
    sw.wait_for_json(deadline, "the retry after the third failure", |v| {
        v["type"] == "check" && v["up"] == true
    });
    sw.sigint();
    let run = sw.finish(within(5.0));
    assert_eq!(run.code(), 0, "{run}");
    let states = run.of_type("state");
    assert_eq!(states.len(), 1, "only unknown -> up\n{run}");
    assert_eq!(
        (states[0]["from"].as_str(), states[0]["to"].as_str()),
        (Some("unknown"), Some("up"))
    );
    assert!(run.checks().iter().any(|c| c["status"] == 503), "{run}");
    assert_eq!(run.summary()["failing"], json!([]), "{run}");
}

#[test]
fn flaky_site_without_retries_goes_down_and_up_once_per_flip() {
    let site = LocalSite::start().unwrap();
    let flaky = site.url("/flaky");
    let file = config(&json!([{"url": flaky, "interval": "1s", "retries": 0}]));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    let deadline = within(12.0);
    let mut downs = 0;
    while downs < 2 {
        let s = sw.wait_for_json(deadline, "two down transitions", |v| v["type"] == "state");
        if s["to"] == "down" {
            downs += 1;
            assert_eq!(s["reason"], "status", "{s}");
            assert_eq!(s["status"], 503, "{s}");
            assert_eq!(s["attempts"], 1, "{s}");
        }
    }
    sw.sigint();
    let run = sw.finish(within(5.0));
    let states = run.of_type("state");
    assert_transitions_chain(&states);
    // One state line per flip of the site: every check that differs from the previous one.
    let checks = run.checks();
    let flips = checks
        .windows(2)
        .filter(|w| w[0]["up"] != w[1]["up"])
        .count();
    assert_eq!(
        states.len(),
        flips + 1,
        "unknown -> up, then one line per flip\n{run}"
    );
}

#[test]
fn dead_site_goes_down_after_its_retries_then_backs_off() {
    let dead = refused_url();
    let file = config(&json!([{
        "url": dead, "interval": "1s", "retries": 2, "retry_delay": "100ms", "max_backoff": "4s"
    }]));
    let mut sw = Sitewatch::spawn(["--format", "json", "--report-every", "500ms", path(&file)]);
    let deadline = within(12.0);
    let down = sw.wait_for_json(deadline, "the down transition", |v| v["type"] == "state");
    assert_eq!(
        (down["from"].as_str(), down["to"].as_str()),
        (Some("unknown"), Some("down"))
    );
    assert_eq!(down["reason"], "connect", "{down}");
    assert_eq!(down["attempts"], 3, "{down}");
    // Three checks after going down: backed off by the interval, then twice the interval.
    let mut after = Vec::new();
    while after.len() < 3 {
        after.push(sw.wait_for_json(deadline, "three checks while down", |v| {
            v["type"] == "check"
        }));
    }
    let report = sw.wait_for_json(deadline, "a report while backed off", |v| {
        v["type"] == "report" && v["backed_off"] == 1
    });
    assert_eq!(report["failing"], 1, "{report}");
    sw.sigint();
    let run = sw.finish(within(5.0));
    assert_eq!(run.code(), 0, "{run}");
    let checks = run.checks();
    // 0, +100 ms, +200 ms later: the three attempts that decided `down`.
    let (g1, g2) = (
        ms_between(&checks[0], &checks[1]),
        ms_between(&checks[1], &checks[2]),
    );
    assert!(
        (90.0..600.0).contains(&g1) && (190.0..800.0).contains(&g2),
        "{g1} {g2}\n{run}"
    );
    let (b1, b2) = (
        ms_between(&after[0], &after[1]),
        ms_between(&after[1], &after[2]),
    );
    assert!(
        b2 > 1.6 * b1,
        "backoff doubles: {b1} ms then {b2} ms\n{run}"
    );
    assert_eq!(
        run.of_type("state").len(),
        1,
        "one line for one transition\n{run}"
    );
    assert_eq!(run.summary()["failing"], json!([dead]), "{run}");
}

#[test]
fn retry_after_on_503_delays_the_retry() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/retry-after/2");
    let file =
        config(&json!([{"url": url, "interval": "10s", "retries": 1, "retry_delay": "100ms"}]));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    let deadline = within(10.0);
    let first = sw.wait_for_json(deadline, "the first check", |v| v["type"] == "check");
    let retry = sw.wait_for_json(deadline, "the retry", |v| v["type"] == "check");
    sw.sigint();
    let run = sw.finish(within(5.0));
    let gap = ms_between(&first, &retry);
    assert!(
        gap >= 1900.0,
        "Retry-After: 2 honoured, not the 100 ms retry delay: {gap} ms\n{run}"
    );
    assert_eq!(first["status"], 503);
}

#[test]
fn hanging_sites_filling_the_pool_delay_others_only_until_a_worker_frees() {
    let site = LocalSite::start().unwrap();
    let hangs: Vec<String> = (0..2).map(|i| site.url(&format!("/hang?{i}"))).collect();
    let oks: Vec<String> = (0..3).map(|i| site.url(&format!("/ok?{i}"))).collect();
    let mut entries: Vec<Value> = hangs
        .iter()
        .map(|u| json!({"url": u, "interval": "1s", "timeout": "1500ms", "retries": 0}))
        .collect();
    entries.extend(
        oks.iter()
            .map(|u| json!({"url": u, "interval": "1s", "timeout": "1500ms"})),
    );
    let file = config(&Value::Array(entries));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--workers",
        "2",
        "--report-every",
        "500ms",
        path(&file),
    ]);
    let deadline = within(15.0);
    let mut ok_checks = 0;
    while ok_checks < 9 {
        sw.wait_for_json(deadline, "nine checks of the healthy sites", |v| {
            v["type"] == "check" && v["up"] == true
        });
        ok_checks += 1;
    }
    sw.sigint();
    let stopped = std::time::Instant::now();
    let run = sw.finish(within(5.0));
    // Workers are free again within the timeout: the stop waited at most for one hang.
    assert!(stopped.elapsed().as_secs_f64() < 2.5, "{run}");
    assert_eq!(run.code(), 0, "{run}");
    for c in run
        .checks()
        .iter()
        .filter(|c| oks.iter().any(|u| c["url"] == *u))
    {
        assert_eq!(c["up"], true, "{c}");
        // At worst a healthy check waits for a hung worker to time out.
        assert!(num(c, "lateness_ms") < 1500.0 + 500.0, "{c}");
    }
    for r in run.reports() {
        for f in r["in_flight"].as_array().unwrap() {
            assert!(
                num(f, "ms") < 1500.0 + 500.0,
                "no check outlives its timeout: {r}"
            );
        }
    }
    let summary = run.summary();
    assert!(count(&summary, "checked_total") >= 9, "{run}");
    let mut failing: Vec<String> = summary["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    failing.sort();
    assert_eq!(failing, hangs, "{run}");
}
