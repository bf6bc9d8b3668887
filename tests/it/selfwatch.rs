//! sitewatch's own trouble is never a site's outage: running out of file descriptors, being
//! paused, losing its own network (the connectivity guard).

use std::time::Duration;

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::util::{config, path, within, Finished, Sitewatch};

/// The state lines that put a monitor down.
fn downs(run: &Finished) -> Vec<Value> {
    run.of_type("state")
        .into_iter()
        .filter(|s| s["to"] == "down")
        .collect()
}

#[test]
fn running_out_of_file_descriptors_is_a_local_error_not_an_outage() {
    let site = LocalSite::start().unwrap();
    // 150 healthy monitors whose checks each hold a socket for 300 ms, 100 workers, and room
    // for about 40 sockets: most checks find no file descriptor left.
    let urls: Vec<Value> = (0..150)
        .map(|i| json!({"url": site.url(&format!("/slow-headers/300?{i}")), "interval": "1s"}))
        .collect();
    let file = config(&json!({"defaults": {"retries": 0}, "urls": urls}));
    let mut sw = Sitewatch::spawn_with_open_files(
        48,
        [
            "--format",
            "json",
            "--workers",
            "100",
            "--duration",
            "4s",
            path(&file),
        ],
    );
    let warned = sw.wait_for_stderr(within(20.0), "ran out of file descriptors");
    assert!(warned.contains("not site failures"), "{warned}");
    assert!(warned.contains("ulimit -n"), "{warned}");
    let run = sw.finish(within(20.0));
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        downs(&run),
        Vec::<Value>::new(),
        "no monitor goes down\n{run}"
    );
    let local: Vec<Value> = run
        .checks()
        .into_iter()
        .filter(|c| c["nature"] == "local")
        .collect();
    assert!(!local.is_empty(), "{run}");
    assert_eq!(local[0]["cause"], "file_descriptors", "{run}");
    assert!(local[0]["up"].is_null(), "{run}");
    let summary = run.summary();
    assert_eq!(summary["local_errors"].as_u64(), Some(local.len() as u64));
    assert_eq!(summary["down_total"], 0, "{run}");
    assert_eq!(summary["failing"], json!([]), "{run}");
    // The start-up warning: 100 workers do not fit in 48 open files.
    let stderr = run.stderr_text();
    assert!(
        stderr.contains("--workers 100 may need up to 216 open files"),
        "{run}"
    );
    // At most one local-failure warning a minute.
    assert_eq!(
        stderr.matches("ran out of file descriptors").count(),
        1,
        "{run}"
    );
}

#[test]
fn a_pause_of_sitewatch_is_inconclusive_not_an_outage() {
    let site = LocalSite::start().unwrap();
    // Eight sites answering in 0.9 s, checked every second with a 2 s timeout and no retries:
    // nearly all are in flight at any moment, and one failure puts a monitor down.
    let urls: Vec<Value> = (0..8)
        .map(|i| json!({"url": site.url(&format!("/slow-headers/500?{i}")), "interval": "1s"}))
        .collect();
    let file = config(&json!({"defaults": {"retries": 0, "timeout": "2s"}, "urls": urls}));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let db = db.to_str().unwrap();
    let mut sw = Sitewatch::spawn(["--format", "json", "--db", db, path(&file)]);
    let deadline = within(20.0);
    // Two rounds: by then the monitors are on their phases, an eighth of a second apart.
    for _ in 0..16 {
        sw.wait_for_json(deadline, "two rounds of checks", |v| {
            v["type"] == "check" && v["up"] == true
        });
    }
    sw.signal("STOP");
    // The fault being injected: sitewatch does not run for 3.5 s, longer than the timeout.
    std::thread::sleep(Duration::from_millis(3500));
    sw.signal("CONT");
    let line = sw.wait_for_stderr(within(20.0), "sitewatch was paused for");
    assert!(line.contains("in flight"), "{line}");
    // A few checks after the pause, all fine.
    let deadline = within(20.0);
    for _ in 0..8 {
        sw.wait_for_json(deadline, "checks after the pause", |v| v["type"] == "check");
    }
    sw.sigint();
    let run = sw.finish(within(10.0));
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        downs(&run),
        Vec::<Value>::new(),
        "no monitor goes down\n{run}"
    );
    // (A machine this loaded may starve sitewatch for over a second elsewhere in the run too:
    // that is a stall as well, so look for this one among them.)
    let pauses = run.of_type("impairment");
    let this = pauses
        .iter()
        .find(|p| p["duration_s"].as_f64() >= Some(3.0))
        .unwrap_or_else(|| panic!("a pause of 3.5 s\n{run}"));
    assert_eq!(this["cause"], "paused", "{run}");
    let detail = this["detail"].as_str().unwrap();
    assert!(detail.starts_with("sitewatch was paused for"), "{run}");
    let summary = run.summary();
    assert!(summary["stalls"].as_u64() >= Some(1), "{run}");
    assert_eq!(summary["down_total"], 0, "{run}");
    let inconclusive: Vec<Value> = run
        .checks()
        .into_iter()
        .filter(|c| c["nature"] == "inconclusive")
        .collect();
    assert!(!inconclusive.is_empty(), "checks in flight were cut\n{run}");
    assert!(inconclusive.iter().all(|c| c["cause"] == "paused"), "{run}");
    assert!(
        detail.ends_with(&format!(
            "{} checks in flight were retried",
            inconclusive.len()
        )) || inconclusive.len() == 1,
        "{run}"
    );
    assert_eq!(
        summary["inconclusive"].as_u64(),
        Some(inconclusive.len() as u64)
    );

    // The history has the stall, and the report counts those checks neither up nor down.
    let report = crate::util::run(
        ["report", "--db", db, "--format", "json", "--since", "1h"],
        10.0,
    );
    assert_eq!(report.code(), 0, "{report}");
    let report: Value = serde_json::from_str(&report.stdout.join("\n")).unwrap();
    let stored = report["impairments"].as_array().unwrap();
    assert!(
        stored
            .iter()
            .any(|p| p["cause"] == "paused" && p["duration_s"].as_f64() >= Some(3.0)),
        "{report}"
    );
    let monitors = report["monitors"].as_array().unwrap();
    let counted: u64 = monitors
        .iter()
        .map(|m| m["inconclusive"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, inconclusive.len() as u64, "{report}");
    assert!(monitors.iter().all(|m| m["up"] == m["checks"]), "{report}");
}

#[test]
fn while_every_canary_fails_failures_are_inconclusive_and_nobody_is_notified() {
    use crate::notify_util::Receiver;
    // The canary and the first monitored site live on one local server, which the test stops
    // (sitewatch's "network" and the site die together) and restarts on the same port.
    let site = LocalSite::start().unwrap();
    let addr = site.addr();
    let watched = site.url("/ok?watched");
    // The second monitored site and the webhook live elsewhere, and stay up.
    let rx = Receiver::start();
    let file = config(&json!({
        "connectivity": {"canaries": [site.url("/canary")], "interval": "1s"},
        "urls": [
            {"url": watched, "interval": "1s"},
            {"url": rx.url("/site"), "interval": "1s", "retries": 0},
        ],
        "notify": [{"type": "webhook", "url": rx.url("/hook"), "group_window": "100ms"}],
    }));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    let deadline = within(20.0);
    for _ in 0..4 {
        sw.wait_for_json(deadline, "up checks", |v| {
            v["type"] == "check" && v["up"] == true
        });
    }
    drop(site);
    let started = sw.wait_for_stderr(within(15.0), "sitewatch's network is impaired");
    assert!(
        started.contains("every connectivity canary failed"),
        "{started}"
    );
    // Six of them, 1 s apart: longer than the watched monitor's retries (2 s, then 4 s) would
    // take to put it down.
    let deadline = within(20.0);
    for _ in 0..6 {
        sw.wait_for_json(deadline, "inconclusive checks while impaired", |v| {
            v["type"] == "check" && v["url"] == watched && v["nature"] == "inconclusive"
        });
    }
    let _site = LocalSite::start_on(addr).unwrap();
    let ended = sw.wait_for_stderr(within(15.0), "network impairment ended after");
    assert!(ended.contains("inconclusive"), "{ended}");
    // Canaries fine, a site down: a normal verdict, state change and notification.
    rx.set_site(503);
    sw.wait_for_json(within(15.0), "the second site going down", |v| {
        v["type"] == "state" && v["to"] == "down"
    });
    rx.wait_for(1, "/hook", within(15.0));
    sw.sigint();
    let run = sw.finish(within(15.0));
    assert_eq!(run.code(), 0, "{run}");
    let downs = downs(&run);
    assert_eq!(downs.len(), 1, "{run}");
    assert_eq!(downs[0]["url"], rx.url("/site"), "{run}");
    let hooks = rx.hooks("/hook");
    assert!(
        hooks.iter().all(|h| !h.text().contains("watched")),
        "no notification about the watched site: {hooks:?}"
    );
    let impaired: Vec<Value> = run
        .checks()
        .into_iter()
        .filter(|c| c["nature"] == "inconclusive")
        .collect();
    assert!(!impaired.is_empty(), "{run}");
    assert!(
        impaired
            .iter()
            .all(|c| c["url"] == watched && c["cause"] == "network_impaired"),
        "{run}"
    );
    let spans = run.of_type("impairment");
    assert_eq!(spans.len(), 2, "a start and an end line\n{run}");
    assert!(spans[0]["end"].is_null() && spans[1]["duration_s"].as_f64() > Some(5.0));
    assert_eq!(run.summary()["impairments"], 1, "{run}");
}
