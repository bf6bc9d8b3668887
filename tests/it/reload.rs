//! Reload: SIGHUP and a changed config file apply a new config without a restart; an invalid
//! one is refused and the old one keeps running; SIGHUP no longer stops sitewatch.

use std::path::Path;

use serde_json::{json, Value};
use sitewatch::localsite::{refused_url, LocalSite};

use crate::util::{config, path, within, Sitewatch};

fn write(file: &Path, value: &Value) {
    std::fs::write(file, value.to_string()).expect("rewrite the config");
}

fn entry(site: &LocalSite, name: &str, interval: &str) -> Value {
    json!({"url": site.url("/ok"), "name": name, "interval": interval})
}

/// Waits for a check line of monitor `id`.
fn check_of(sw: &mut Sitewatch, id: &str) -> Value {
    sw.wait_for_json(within(10.0), &format!("a check of {id}"), |v| {
        v["type"] == "check" && v["id"] == id
    })
}

fn stop(sw: &mut Sitewatch) -> crate::util::Finished {
    sw.signal("TERM");
    let run = sw.finish(within(10.0));
    assert_eq!(run.code(), 0, "{run}");
    assert!(!run.stderr_text().contains("panicked"), "{run}");
    run
}

#[test]
fn sighup_reloads_by_id_and_does_not_stop() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([
        entry(&site, "a", "1s"),
        entry(&site, "b", "1s"),
        entry(&site, "c", "1s"),
        entry(&site, "d", "1s"),
    ]));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    for id in ["a", "b", "c", "d"] {
        check_of(&mut sw, id);
    }
    write(
        file.path(),
        &json!([
            entry(&site, "a", "1s"),
            entry(&site, "b", "1s"),
            entry(&site, "c", "2s"),
            entry(&site, "e", "1s"),
            entry(&site, "f", "1s"),
        ]),
    );
    sw.signal("HUP");
    sw.wait_for_stderr(
        within(10.0),
        "reloaded: 2 added, 1 removed, 1 changed, 2 unchanged",
    );
    check_of(&mut sw, "e");
    check_of(&mut sw, "f");
    // Nothing changed on disk since: only the signal can cause this one.
    sw.signal("HUP");
    sw.wait_for_stderr(
        within(10.0),
        "reloaded: 0 added, 0 removed, 0 changed, 5 unchanged",
    );
    check_of(&mut sw, "a");
    let run = stop(&mut sw);
    assert!(!run.stderr_text().contains("stopping at once"), "{run}");
}

#[test]
fn a_ctrl_c_and_a_sigterm_together_are_one_graceful_stop() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([entry(&site, "a", "1s")]));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    check_of(&mut sw, "a");
    sw.sigint();
    sw.signal("TERM");
    let run = sw.finish(within(10.0));
    assert_eq!(run.code(), 0, "{run}");
    assert!(!run.stderr_text().contains("stopping at once"), "{run}");
    assert_eq!(run.summary()["interrupted"], false, "{run}");
}

#[test]
fn a_changed_file_is_reloaded_without_a_signal() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([entry(&site, "a", "1s")]));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    check_of(&mut sw, "a");
    write(
        file.path(),
        &json!([entry(&site, "a", "1s"), entry(&site, "b", "1s")]),
    );
    sw.wait_for_stderr(
        within(10.0),
        "reloaded: 1 added, 0 removed, 0 changed, 1 unchanged",
    );
    check_of(&mut sw, "b");
    stop(&mut sw);
}

#[test]
fn an_invalid_file_keeps_the_previous_config_running() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([entry(&site, "a", "1s")]));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    check_of(&mut sw, "a");
    std::fs::write(file.path(), r#"[{"url": "ftp://nope", "name": "a"}]"#).unwrap();
    sw.signal("HUP");
    let line = sw.wait_for_stderr(within(10.0), "reload failed:");
    assert!(
        line.contains("still running the previous config") && line.contains("ftp"),
        "{line}"
    );
    // Checks go on under the old config: two more of `a`.
    check_of(&mut sw, "a");
    check_of(&mut sw, "a");
    let run = stop(&mut sw);
    assert!(!run.stderr_text().contains("reloaded:"), "{run}");
}

#[test]
fn a_down_monitor_stays_down_and_a_removed_one_is_stopped() {
    let site = LocalSite::start().unwrap();
    let down = json!({"url": refused_url(), "name": "down", "interval": "1s", "retries": 0});
    let file = config(&json!([down, entry(&site, "gone", "1s")]));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--db",
        db.to_str().unwrap(),
        path(&file),
    ]);
    sw.wait_for_json(within(10.0), "down goes down", |v| {
        v["type"] == "state" && v["id"] == "down" && v["to"] == "down"
    });
    sw.wait_for_json(within(10.0), "gone goes up", |v| {
        v["type"] == "state" && v["id"] == "gone" && v["to"] == "up"
    });
    write(file.path(), &json!([down, entry(&site, "new", "1s")]));
    sw.signal("HUP");
    sw.wait_for_stderr(
        within(10.0),
        "reloaded: 1 added, 1 removed, 0 changed, 1 unchanged",
    );
    let stopped = sw.wait_for_json(within(10.0), "gone's stop mark", |v| {
        v["type"] == "state" && v["id"] == "gone"
    });
    assert_eq!(
        (&stopped["to"], &stopped["detail"]),
        (&json!("unknown"), &json!("monitoring stopped"))
    );
    // Two more checks of `down` after the reload, and no state line for it: still down.
    let mut downs = 0;
    sw.wait_for_json(within(10.0), "two checks of down", |v| {
        assert!(
            !(v["type"] == "state" && v["id"] == "down"),
            "down changed state: {v}"
        );
        downs += usize::from(v["type"] == "check" && v["id"] == "down");
        downs == 2
    });
    let run = stop(&mut sw);
    assert!(
        !run.checks().is_empty(),
        "checks were printed across the reload\n{run}"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let marks: i64 = conn
        .query_row(
            "SELECT count(*) FROM transitions t JOIN monitors m ON m.id = t.monitor
             WHERE m.config_id = 'gone' AND t.to_state = 'unknown'
               AND t.detail = 'monitoring stopped'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(marks, 1, "one stop mark for the removed monitor");
    let new: i64 = conn
        .query_row(
            "SELECT count(*) FROM checks c JOIN monitors m ON m.id = c.monitor
             WHERE m.config_id = 'new'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(new >= 1, "the added monitor's checks are in the history");
}

#[test]
fn an_interval_change_keeps_one_history() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([entry(&site, "shop", "1s")]));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--db",
        db.to_str().unwrap(),
        path(&file),
    ]);
    check_of(&mut sw, "shop");
    write(file.path(), &json!([entry(&site, "shop", "2s")]));
    sw.signal("HUP");
    sw.wait_for_stderr(
        within(10.0),
        "reloaded: 0 added, 0 removed, 1 changed, 0 unchanged",
    );
    check_of(&mut sw, "shop");
    stop(&mut sw);
    // And across a restart with yet another interval.
    write(file.path(), &json!([entry(&site, "shop", "3s")]));
    let mut again = Sitewatch::spawn([
        "--format",
        "json",
        "--db",
        db.to_str().unwrap(),
        path(&file),
    ]);
    check_of(&mut again, "shop");
    stop(&mut again);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (rows, interval): (i64, i64) = conn
        .query_row("SELECT count(*), max(interval_ms) FROM monitors", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((rows, interval), (1, 3000));
    let report = std::process::Command::new(crate::util::BIN)
        .args(["report", "--db", db.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(report.status.success(), "{report:?}");
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let monitors = report["monitors"].as_array().unwrap();
    assert_eq!(monitors.len(), 1, "{report}");
    assert_eq!(monitors[0]["id"], "shop");
}

#[test]
fn reloads_under_load_keep_one_pending_check_per_monitor() {
    let site = LocalSite::start().unwrap();
    let slow = |i: usize| {
        json!({"url": site.url(&format!("/slow-headers/200?{i}")), "name": format!("m{i}"),
               "interval": "1s", "timeout": "2s"})
    };
    let list = |range: std::ops::Range<usize>, interval: &str| -> Value {
        Value::Array(
            range
                .map(|i| {
                    let mut e = slow(i);
                    e["interval"] = json!(interval);
                    e
                })
                .collect(),
        )
    };
    let file = config(&list(0..60, "1s"));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--workers",
        "2",
        "--queue",
        "4",
        "--report-every",
        "200ms",
        path(&file),
    ]);
    sw.wait_for_json(within(10.0), "an overflowing queue", |v| {
        v["type"] == "report" && crate::util::count(v, "overflowed") > 0
    });
    // Remove a third, change a third, add as many, three times over.
    let plans = [
        (
            list(20..80, "2s"),
            "reloaded: 20 added, 20 removed, 40 changed, 0 unchanged",
        ),
        (
            list(20..80, "1s"),
            "reloaded: 0 added, 0 removed, 60 changed, 0 unchanged",
        ),
        (
            list(0..40, "1s"),
            "reloaded: 20 added, 40 removed, 0 changed, 20 unchanged",
        ),
    ];
    for (value, line) in &plans {
        write(file.path(), value);
        sw.signal("HUP");
        sw.wait_for_stderr(within(15.0), line);
    }
    check_of(&mut sw, "m0");
    let run = stop(&mut sw);
    // A check in flight for a removed monitor completed (or was skipped); nothing panicked.
    let summary = run.summary();
    assert_eq!(summary["interrupted"], false, "{run}");
}

#[test]
fn a_monitor_added_by_a_reload_is_notified_and_a_removed_one_is_not() {
    let rx = crate::notify_util::Receiver::start();
    let hook = json!([{"type": "webhook", "name": "hook", "url": rx.url("/hook"),
                       "group_window": "100ms"}]);
    let site = LocalSite::start().unwrap();
    let file = config(&json!({"urls": [entry(&site, "a", "1s")], "notify": hook}));
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    sw.wait_for_json(within(10.0), "a is up", |v| {
        v["type"] == "state" && v["id"] == "a" && v["to"] == "up"
    });
    let dead = json!({"url": refused_url(), "name": "dead", "interval": "1s", "retries": 0});
    write(file.path(), &json!({"urls": [dead], "notify": hook}));
    sw.signal("HUP");
    sw.wait_for_stderr(
        within(10.0),
        "reloaded: 1 added, 1 removed, 0 changed, 0 unchanged",
    );
    let hooks = rx.wait_for(1, "/hook", within(10.0));
    let down = hooks[0].json();
    assert_eq!(
        (&down["event"], &down["id"]),
        (&json!("down"), &json!("dead"))
    );
    let run = stop(&mut sw);
    let hooks = rx.hooks("/hook");
    assert_eq!(
        hooks.len(),
        1,
        "no notification for the removed monitor\n{run}"
    );
}

#[test]
fn healthz_reports_a_failed_reload_until_one_succeeds() {
    use crate::pages::{get, serving};
    let site = LocalSite::start().unwrap();
    let file = config(&json!([entry(&site, "a", "1s")]));
    let mut sw = Sitewatch::spawn(["--format", "json", "--listen", "127.0.0.1:0", path(&file)]);
    let addr = serving(&mut sw);
    check_of(&mut sw, "a");
    assert_eq!(get(&addr, "/healthz").body.trim(), "ok");
    std::fs::write(file.path(), "[{").unwrap();
    sw.signal("HUP");
    sw.wait_for_stderr(within(10.0), "reload failed:");
    let health = get(&addr, "/healthz");
    assert_eq!(health.status, 200, "monitoring goes on");
    assert!(
        health.body.starts_with("ok; reload failed at ")
            && health.body.contains("still running the previous config"),
        "{}",
        health.body
    );
    write(file.path(), &json!([entry(&site, "a", "1s")]));
    sw.signal("HUP");
    sw.wait_for_stderr(within(10.0), "reloaded:");
    assert_eq!(get(&addr, "/healthz").body.trim(), "ok");
    stop(&mut sw);
}

#[test]
fn the_status_surface_follows_a_reload() {
    use crate::pages::{get, serving};
    let site = LocalSite::start().unwrap();
    let file = config(&json!([entry(&site, "a", "1s"), entry(&site, "b", "1s")]));
    let mut sw = Sitewatch::spawn(["--format", "json", "--listen", "127.0.0.1:0", path(&file)]);
    let addr = serving(&mut sw);
    check_of(&mut sw, "b");
    assert_eq!(get(&addr, "/api/v1/monitors/b").status, 200);
    write(
        file.path(),
        &json!([entry(&site, "a", "1s"), entry(&site, "c", "1s")]),
    );
    sw.signal("HUP");
    sw.wait_for_stderr(
        within(10.0),
        "reloaded: 1 added, 1 removed, 0 changed, 1 unchanged",
    );
    check_of(&mut sw, "c");
    let status: Value = serde_json::from_str(&get(&addr, "/api/v1/status").body).unwrap();
    let mut ids: Vec<&str> = status["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a", "c"], "{status}");
    assert_eq!(get(&addr, "/api/v1/monitors/c").status, 200);
    assert_eq!(
        get(&addr, "/api/v1/monitors/b").status,
        404,
        "b was removed"
    );
    stop(&mut sw);
}

#[test]
fn a_sharded_instance_reloads_only_its_shard() {
    let site = LocalSite::start().unwrap();
    let list: Vec<Value> = (0..12)
        .map(|i| entry(&site, &format!("m{i}"), "1s"))
        .collect();
    let file = config(&Value::Array(list));
    let mut sw = Sitewatch::spawn(["--format", "json", "--shard", "1/2", path(&file)]);
    let line = sw.wait_for_stderr(within(10.0), "shard 1/2: ");
    let held: usize = line
        .split("shard 1/2: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"));
    assert!(held > 0 && held < 12, "{line}");
    // The file has not changed: a reload finds the same shard, not the whole list.
    sw.signal("HUP");
    sw.wait_for_stderr(
        within(10.0),
        &format!("reloaded: 0 added, 0 removed, 0 changed, {held} unchanged"),
    );
    stop(&mut sw);
}
