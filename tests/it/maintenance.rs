//! Planned work and dependencies end to end: maintenance windows from the config and from
//! `sitewatch maintenance add` on a running instance, and `depends_on`, against a local site and
//! a local webhook receiver.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use sitewatch::localsite::{refused_url, LocalSite};

use crate::notify_util::Receiver;
use crate::util::{config, config_text, num, path, run, within, Sitewatch};

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn hook(rx: &Receiver) -> Value {
    json!([{"type": "webhook", "name": "hook", "url": rx.url("/hook"), "group_window": "100ms"}])
}

fn report(db: &std::path::Path) -> Value {
    let out = run(
        ["report", "--db", db.to_str().unwrap(), "--format", "json"],
        10.0,
    );
    assert_eq!(out.code(), 0, "{out}");
    serde_json::from_str(&out.stdout.join("\n")).unwrap()
}

fn is_maintenance(v: &Value) -> bool {
    v["type"] == "check" && v["nature"] == "inconclusive" && v["cause"] == "maintenance"
}

#[test]
fn a_config_window_covering_now_turns_failures_into_maintenance() {
    let rx = Receiver::start();
    rx.set_site(503);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let start = rfc3339(SystemTime::now() - Duration::from_secs(60));
    let file = config(&json!({
        "urls": [{"url": rx.url("/site"), "name": "site", "interval": "1s", "retries": 0}],
        "notify": hook(&rx),
        "maintenance": [{"monitors": ["site"], "start": start, "duration": "1h",
                         "reason": "database upgrade"}],
    }));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--db",
        db.to_str().unwrap(),
        path(&file),
    ]);
    let deadline = within(15.0);
    let first = sw.wait_for_json(deadline, "a check in maintenance", is_maintenance);
    let detail = first["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("database upgrade (the check saw status"),
        "{first}"
    );
    sw.wait_for_json(deadline, "a second check in maintenance", is_maintenance);
    sw.wait_for_stderr(deadline, "maintenance: window for site until");
    sw.sigint();
    let out = sw.finish(within(10.0));
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        !out.of_type("state").iter().any(|s| s["to"] == "down"),
        "no down state in a window\n{out}"
    );
    assert!(rx.hooks("/hook").is_empty(), "no notification\n{out}");

    let doc = report(&db);
    let m = &doc["monitors"][0];
    assert_eq!(m["id"], "site", "{doc}");
    assert!(num(m, "maintenance_s") > 0.0, "{doc}");
    assert_eq!(num(m, "downtime_s"), 0.0, "{doc}");
    assert_eq!(doc["maintenance"][0]["reason"], "database upgrade", "{doc}");
    assert_eq!(doc["maintenance"][0]["monitors"], "site", "{doc}");
}

#[test]
fn maintenance_add_reaches_a_running_instance_and_ending_it_restores_downs() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let db_arg = db.to_str().unwrap().to_owned();
    let file = config(&json!({
        "urls": [{"url": rx.url("/site"), "name": "site", "group": "shop", "interval": "1s",
                  "retries": 0}],
        "notify": hook(&rx),
    }));
    let mut sw = Sitewatch::spawn(["--format", "json", "--db", &db_arg, path(&file)]);
    let deadline = within(20.0);
    sw.wait_for_json(deadline, "a first up check", |v| {
        v["type"] == "check" && v["up"] == true
    });

    let added = run(
        [
            "maintenance",
            "add",
            "--for",
            "30m",
            "--group",
            "shop",
            "--reason",
            "deploy",
            "--db",
            &db_arg,
        ],
        10.0,
    );
    assert_eq!(added.code(), 0, "{added}");
    assert!(
        added.stdout[0].starts_with("maintenance window 1 for group:shop from "),
        "{added}"
    );
    sw.wait_for_stderr(deadline, "maintenance: window 1 for group:shop until");
    rx.set_site(503);
    let seen = sw.wait_for_json(deadline, "a check in maintenance", is_maintenance);
    assert!(
        seen["detail"].as_str().unwrap().starts_with("deploy ("),
        "{seen}"
    );

    let listed = run(["maintenance", "list", "--db", &db_arg], 10.0);
    assert_eq!(listed.code(), 0, "{listed}");
    assert!(listed.stdout[0].contains("group:shop  deploy"), "{listed}");

    let ended = run(["maintenance", "end", "1", "--db", &db_arg], 10.0);
    assert_eq!(ended.code(), 0, "{ended}");
    sw.wait_for_stderr(deadline, "maintenance: window 1 for group:shop ended");
    sw.wait_for_json(deadline, "the down state after the window", |v| {
        v["type"] == "state" && v["to"] == "down"
    });
    rx.wait_for(1, "/hook", deadline);
    sw.sigint();
    let out = sw.finish(within(10.0));
    assert_eq!(out.code(), 0, "{out}");

    let doc = report(&db);
    assert_eq!(doc["maintenance"][0]["id"], 1, "{doc}");
    assert_eq!(doc["maintenance"][0]["reason"], "deploy", "{doc}");
    assert!(num(&doc["monitors"][0], "maintenance_s") > 0.0, "{doc}");

    let missing = run(["maintenance", "end", "7", "--db", &db_arg], 10.0);
    assert_eq!(missing.code(), 2, "{missing}");
    assert!(
        missing.stderr_text().contains("no maintenance window 7"),
        "{missing}"
    );
}

#[test]
fn a_child_is_silent_while_its_parent_is_down() {
    let rx = Receiver::start();
    let file = config(&json!({
        "defaults": {"interval": "1s", "retries": 0},
        "urls": [
            {"url": refused_url(), "name": "router"},
            {"url": rx.url("/site"), "name": "app", "depends_on": ["router"]},
        ],
        "notify": hook(&rx),
    }));
    let mut sw = Sitewatch::spawn(["--format", "json", "--no-db", path(&file)]);
    let deadline = within(20.0);
    sw.wait_for_json(deadline, "the router down", |v| {
        v["type"] == "state" && v["to"] == "down" && v["id"] == "router"
    });
    rx.set_site(503);
    let child = sw.wait_for_json(deadline, "the app's failure, parent down", |v| {
        v["type"] == "check" && v["id"] == "app" && v["nature"] == "inconclusive"
    });
    assert_eq!(child["cause"], "parent_down", "{child}");
    assert!(
        child["detail"]
            .as_str()
            .unwrap()
            .starts_with("parent router is down (the check saw status"),
        "{child}"
    );
    sw.wait_for_json(deadline, "a second such failure", |v| {
        v["type"] == "check" && v["id"] == "app" && v["cause"] == "parent_down"
    });
    sw.sigint();
    let out = sw.finish(within(10.0));
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        !out.of_type("state")
            .iter()
            .any(|s| s["id"] == "app" && s["to"] == "down"),
        "{out}"
    );
    let hooks = rx.hooks("/hook");
    assert!(
        hooks.iter().all(|h| !h.text().contains("\"app\"")),
        "only the parent notifies: {hooks:#?}"
    );
}

#[test]
fn a_child_failing_with_its_parent_from_the_start_stays_silent() {
    // Both fail at once, as when a router dies: the child's failures are its parent's as soon
    // as the parent's first failure is seen, before the parent's retries have run out.
    let site = LocalSite::start().unwrap();
    let file = config(&json!({
        "defaults": {"interval": "1s", "retries": 2, "retry_delay": "300ms"},
        "urls": [
            {"url": refused_url(), "name": "router"},
            {"url": site.url("/status/503"), "name": "app", "depends_on": ["router"]},
        ],
    }));
    let mut sw = Sitewatch::spawn(["--format", "json", "--no-db", path(&file)]);
    let deadline = within(20.0);
    sw.wait_for_json(deadline, "the router down", |v| {
        v["type"] == "state" && v["to"] == "down" && v["id"] == "router"
    });
    for n in 0..3 {
        sw.wait_for_json(
            deadline,
            &format!("app's failure {n} after the router's"),
            |v| v["type"] == "check" && v["id"] == "app" && v["cause"] == "parent_down",
        );
    }
    sw.sigint();
    let out = sw.finish(within(10.0));
    assert_eq!(out.code(), 0, "{out}");
    assert!(
        !out.of_type("state")
            .iter()
            .any(|s| s["id"] == "app" && s["to"] == "down"),
        "{out}"
    );
}

#[test]
fn a_child_goes_down_normally_while_its_parent_is_up() {
    let parent = LocalSite::start().unwrap();
    let file = config(&json!({
        "defaults": {"interval": "1s", "retries": 0},
        "urls": [
            {"url": parent.url("/ok"), "name": "router"},
            {"url": parent.url("/status/503"), "name": "app", "depends_on": ["router"]},
        ],
    }));
    let mut sw = Sitewatch::spawn(["--format", "json", "--no-db", path(&file)]);
    let deadline = within(20.0);
    let down = sw.wait_for_json(deadline, "the app down", |v| {
        v["type"] == "state" && v["to"] == "down"
    });
    assert_eq!(down["id"], "app", "{down}");
    sw.sigint();
    assert_eq!(sw.finish(within(10.0)).code(), 0);
}

#[test]
fn maintenance_add_needs_an_existing_database_and_a_length() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    let db_arg = db.to_str().unwrap();
    let out = run(["maintenance", "add", "--for", "30m", "--db", db_arg], 10.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr_text()
            .contains(&format!("there is no history database at {db_arg}")),
        "{out}"
    );
    assert!(!db.exists(), "nothing created");
    let out = run(["maintenance", "add", "--for", "0s", "--db", db_arg], 10.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr_text().contains("--for must be more than zero"),
        "{out}"
    );
}

/// `GET target` on the status server at `addr`: the body.
fn get(addr: &str, target: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the status server");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(s, "GET {target} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_else(|| panic!("no reply head: {reply}"))
}

#[test]
fn the_status_page_and_api_mark_a_monitor_in_maintenance() {
    let site = LocalSite::start().unwrap();
    let start = rfc3339(SystemTime::now() - Duration::from_secs(60));
    let file = config(&json!({
        "defaults": {"interval": "1s"},
        "urls": [{"url": site.url("/status/503"), "name": "shop"},
                 {"url": site.url("/ok"), "name": "blog"}],
        "maintenance": [{"monitors": ["shop"], "start": start, "duration": "1h",
                         "reason": "new checkout"}],
    }));
    let mut sw = Sitewatch::spawn(["--no-db", "--listen", "127.0.0.1:0", path(&file)]);
    let line = sw.wait_for_stderr(within(20.0), "listening on http://");
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let status: Value = serde_json::from_str(&get(&addr, "/api/v1/status")).unwrap();
    let monitors = status["monitors"].as_array().unwrap();
    let by_id = |id: &str| monitors.iter().find(|m| m["id"] == id).unwrap().clone();
    assert_eq!(by_id("shop")["maintenance"], "new checkout", "{status:#}");
    assert_eq!(by_id("blog")["maintenance"], Value::Null, "{status:#}");
    let page = get(&addr, "/");
    assert!(
        page.contains(r#"<span class="badge unknown" title="new checkout">maintenance</span>"#),
        "{page}"
    );
    sw.sigint();
    assert_eq!(sw.finish(within(10.0)).code(), 0);
}

/// Runs `--once` on `text` and returns its one stderr line (exit 2 asserted).
fn config_error(text: &str) -> String {
    let file = config_text(text);
    let out = run(["--once", "--format", "json", path(&file)], 10.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    out.stderr_text()
}

#[test]
fn bad_windows_and_dependencies_are_config_errors() {
    let urls = r#"[{"url": "http://127.0.0.1:9/a", "name": "a", "group": "shop"},
                   {"url": "http://127.0.0.1:9/b", "name": "b"}]"#;
    let window = |w: &str| format!(r#"{{"urls": {urls}, "maintenance": [{w}]}}"#);
    let err = config_error(&window(
        r#"{"monitors": ["nope"], "start": "2026-12-24T22:00:00Z", "duration": "2h"}"#,
    ));
    assert!(
        err.contains("maintenance: window 1: no monitor has the id \"nope\""),
        "{err}"
    );
    let err = config_error(&window(
        r#"{"monitors": ["group:web"], "start": "2026-12-24T22:00:00Z", "duration": "2h"}"#,
    ));
    assert!(
        err.contains("window 1: no monitor is in group \"web\""),
        "{err}"
    );
    let err = config_error(&window(
        r#"{"monitors": "all", "start": "Christmas eve", "duration": "2h"}"#,
    ));
    assert!(
        err.contains("start \"Christmas eve\" is not an RFC 3339 time"),
        "{err}"
    );
    let err = config_error(&window(
        r#"{"monitors": "all", "start": "2026-12-24T22:00:00Z", "duration": "0s"}"#,
    ));
    assert!(err.contains("duration must be more than zero"), "{err}");
    let err = config_error(&window(
        r#"{"monitors": "all", "start": "2026-12-24T22:00:00Z", "duration": "2h", "every": "1h"}"#,
    ));
    assert!(
        err.contains("every (1h) is shorter than duration (2h)"),
        "{err}"
    );

    let err =
        config_error(r#"[{"url": "http://127.0.0.1:9/a", "name": "a", "depends_on": ["ghost"]}]"#);
    assert!(
        err.contains("depends_on names \"ghost\", which is no monitor's id"),
        "{err}"
    );
    let err = config_error(
        r#"[{"url": "http://127.0.0.1:9/a", "name": "a", "depends_on": ["b"]},
            {"url": "http://127.0.0.1:9/b", "name": "b", "depends_on": ["c"]},
            {"url": "http://127.0.0.1:9/c", "name": "c", "depends_on": ["a"]}]"#,
    );
    assert!(err.contains("depends_on forms a cycle through"), "{err}");
}
