//! Fleets: `--shard K/N` splits one list between instances, each monitor checked by exactly one.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::notify_util::Receiver;
use crate::util::{config, path, run, within, Sitewatch};

/// The ids of the monitors a `--once` run checked.
fn checked_ids(done: &crate::util::Finished) -> BTreeSet<String> {
    done.checks()
        .iter()
        .map(|c| c["id"].as_str().expect("id is a string").to_owned())
        .collect()
}

#[test]
fn three_shards_check_every_monitor_exactly_once() {
    let site = LocalSite::start().unwrap();
    let urls: Vec<Value> = (0..30)
        .map(|i| json!({"url": site.url(&format!("/ok?n={i}")), "name": format!("page {i}")}))
        .collect();
    let file = config(&json!({"defaults": {"retries": 0}, "urls": urls}));
    let mut union = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let done = run(
            ["--once", "--format", "json", "--shard", &shard, path(&file)],
            20.0,
        );
        assert_eq!(done.code(), 0, "{done}");
        let ids = checked_ids(&done);
        assert!(!ids.is_empty(), "shard {shard} checked nothing\n{done}");
        let stderr = done.stderr_text();
        assert!(
            stderr.contains(&format!("shard {shard}: {} of 30 monitors", ids.len())),
            "{stderr}"
        );
        total += ids.len();
        union.extend(ids);
    }
    assert_eq!(total, 30, "the shards overlap");
    assert_eq!(union.len(), 30, "a monitor was left unchecked");
}

#[test]
fn bad_shards_are_usage_errors() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([{"url": site.url("/ok")}]));
    for bad in ["0/3", "4/3", "x", "1/0"] {
        let done = run(["--once", "--shard", bad, path(&file)], 10.0);
        assert_eq!(done.code(), 2, "{bad}\n{done}");
        assert!(done.stderr_text().contains("shard"), "{done}");
    }
    // One monitor in two shards: one of them holds nothing, which is said, not run silently.
    let codes: Vec<i32> = ["1/2", "2/2"]
        .iter()
        .map(|s| run(["--once", "--shard", s, path(&file)], 10.0).code())
        .collect();
    assert!(codes.contains(&0) && codes.contains(&2), "{codes:?}");
}

#[test]
fn a_location_is_on_every_line_in_the_summary_and_in_the_history() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("eu.db");
    let file = config(&json!({"urls": [{"url": site.url("/ok"), "name": "home"}]}));
    let done = run(
        [
            "--once",
            "--format",
            "json",
            "--location",
            "eu-west",
            "--db",
            db.to_str().unwrap(),
            path(&file),
        ],
        20.0,
    );
    assert_eq!(done.code(), 0, "{done}");
    let checks = done.checks();
    assert_eq!(checks.len(), 1, "{done}");
    assert_eq!(checks[0]["location"], "eu-west", "{done}");
    assert_eq!(done.summary()["location"], "eu-west", "{done}");
    assert!(done.stderr_text().contains("location: eu-west"), "{done}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let location: String = conn
        .query_row("SELECT location FROM monitors", [], |r| r.get(0))
        .unwrap();
    assert_eq!(location, "eu-west");

    // Text lines say it after the id; the config's object form sets it, the flag wins.
    let file =
        config(&json!({"location": "us-east", "urls": [{"url": site.url("/ok"), "name": "home"}]}));
    let text = run(["--once", path(&file)], 20.0);
    assert!(text.to_string().contains("[home] @us-east"), "{text}");
    let json = run(
        [
            "--once",
            "--format",
            "json",
            "--location",
            "ap-south",
            path(&file),
        ],
        20.0,
    );
    assert_eq!(json.checks()[0]["location"], "ap-south", "{json}");

    // Without a location nothing changes.
    let plain = run(
        [
            "--once",
            "--format",
            "json",
            path(&config(&json!([{"url": site.url("/ok")}]))),
        ],
        20.0,
    );
    assert!(plain.checks()[0].get("location").is_none(), "{plain}");
    assert!(plain.summary().get("location").is_none(), "{plain}");
}

#[test]
fn bad_locations_are_refused() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([{"url": site.url("/ok")}]));
    for bad in ["EU", "eu west", "_x", ""] {
        let done = run(["--once", "--location", bad, path(&file)], 10.0);
        assert_eq!(done.code(), 2, "{bad:?}\n{done}");
        assert!(done.stderr_text().contains("location"), "{done}");
    }
    for bad in [json!("Eu West"), json!(3)] {
        let file = config(&json!({"location": bad, "urls": [{"url": site.url("/ok")}]}));
        let done = run(["--once", path(&file)], 10.0);
        assert_eq!(done.code(), 2, "{bad}\n{done}");
        assert!(done.stderr_text().contains("\"location\""), "{done}");
    }
}

#[test]
fn metrics_the_api_and_notifications_carry_the_location() {
    let rx = Receiver::start();
    rx.set_site(503);
    let file = config(&json!({
        "urls": [{"url": rx.url("/site"), "name": "site", "interval": "1s", "retries": 0}],
        "notify": [{"type": "webhook", "name": "hook", "url": rx.url("/hook"), "group_window": "100ms"}],
    }));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--no-db",
        "--listen",
        "127.0.0.1:0",
        "--location",
        "eu-west",
        path(&file),
    ]);
    let deadline = within(20.0);
    let line = sw.wait_for_stderr(deadline, "listening on http://");
    let base = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches('/')
        .to_string();
    let hooks = rx.wait_for(1, "/hook", deadline);
    let payload: Value = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(payload["location"], "eu-west", "{payload}");
    assert!(
        payload["message"]
            .as_str()
            .unwrap()
            .contains(") from eu-west: "),
        "{payload}"
    );
    let metrics = crate::metrics::get(&format!("{base}/metrics")).body;
    assert!(
        metrics.contains(r#"sitewatch_up{id="site","#)
            && metrics.contains(r#",location="eu-west"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("sitewatch_build_info{") && l.contains(r#"location="eu-west""#)),
        "{metrics}"
    );
    let status: Value =
        serde_json::from_str(&crate::metrics::get(&format!("{base}/api/v1/status")).body).unwrap();
    assert_eq!(status["sitewatch"]["location"], "eu-west", "{status}");
    sw.sigint();
    sw.finish(within(20.0));
}

/// The alerts of every post a fake Alertmanager received, with when each arrived.
fn alerts(rx: &Receiver) -> Vec<(std::time::SystemTime, Value)> {
    rx.hooks("/api/v2/alerts")
        .iter()
        .flat_map(|h| {
            let posted: Value = serde_json::from_slice(&h.body).expect("a JSON array");
            let arrived = std::time::SystemTime::now() - h.at.elapsed();
            posted
                .as_array()
                .expect("an array of alerts")
                .iter()
                .map(|a| (arrived, a.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn ends_at(alert: &Value) -> std::time::SystemTime {
    humantime::parse_rfc3339(alert["endsAt"].as_str().unwrap()).unwrap()
}

#[test]
fn alertmanager_gets_firing_alerts_re_sent_then_resolved_on_every_url() {
    let site = Receiver::start();
    let (am1, am2) = (Receiver::start(), Receiver::start());
    site.set_site(503);
    let file = config(&json!({
        "location": "eu-west",
        "urls": [{"url": site.url("/site"), "name": "shop", "group": "web", "interval": "1s", "retries": 0}],
        "notify": [{"type": "alertmanager", "name": "am", "urls": [am1.url(""), am2.url("/")],
                    "resend": "1s", "severity": "page"}],
    }));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--no-db",
        "--listen",
        "127.0.0.1:0",
        path(&file),
    ]);
    let deadline = within(20.0);
    let line = sw.wait_for_stderr(deadline, "listening on http://");
    let base = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches('/')
        .to_string();
    // Fired, then re-sent while down, on both Alertmanagers.
    am1.wait_for(3, "/api/v2/alerts", deadline);
    am2.wait_for(3, "/api/v2/alerts", deadline);
    for (arrived, a) in alerts(&am1) {
        assert_eq!(
            a["labels"],
            json!({"alertname": "SitewatchDown", "id": "shop", "url": site.url("/site"),
                   "group": "web", "location": "eu-west", "severity": "page"}),
            "{a}"
        );
        assert_eq!(a["annotations"]["reason"], "status", "{a}");
        assert_eq!(a["generatorURL"], format!("{base}/monitors/shop"), "{a}");
        assert!(
            ends_at(&a) > arrived + std::time::Duration::from_secs(2),
            "{a}"
        );
    }
    site.set_site(200);
    sw.wait_for_json(deadline, "the up state line", |v| {
        v["type"] == "state" && v["to"] == "up"
    });
    for am in [&am1, &am2] {
        let resolved = loop {
            let found = alerts(am)
                .into_iter()
                .find(|(arrived, a)| ends_at(a) <= *arrived);
            if let Some(found) = found {
                break found;
            }
            assert!(std::time::Instant::now() < deadline, "no resolved alert");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(resolved.1["labels"]["alertname"], "SitewatchDown");
    }
    sw.sigint();
    sw.finish(within(20.0));
}

#[test]
fn alertmanager_channels_are_validated() {
    let site = LocalSite::start().unwrap();
    for (channel, needle) in [
        (json!({"type": "alertmanager"}), "urls"),
        (json!({"type": "alertmanager", "urls": []}), "urls"),
        (json!({"type": "alertmanager", "urls": ["ftp://x"]}), "http"),
        (
            json!({"type": "alertmanager", "urls": ["http://127.0.0.1:9"], "group_window": "1s"}),
            "group_window",
        ),
        (
            json!({"type": "alertmanager", "urls": ["http://127.0.0.1:9"], "severity": "a b"}),
            "severity",
        ),
    ] {
        let file = config(&json!({"urls": [{"url": site.url("/ok")}], "notify": [channel]}));
        let done = run(["--once", "--no-db", path(&file)], 10.0);
        assert_eq!(done.code(), 2, "{channel}\n{done}");
        assert!(done.stderr_text().contains(needle), "{channel}\n{done}");
    }
}

#[test]
fn a_report_over_several_locations_finds_the_times_a_quorum_saw_a_monitor_down() {
    let failing = Receiver::start();
    failing.set_site(503);
    let healthy = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = |l: &str| dir.path().join(format!("{l}.db"));
    // Two locations see "shop" down, the third sees it up.
    let runs: Vec<(&str, String)> = vec![
        ("eu-west", failing.url("/site")),
        ("us-east", failing.url("/site")),
        ("ap-south", healthy.url("/ok")),
    ];
    let files: Vec<tempfile::NamedTempFile> = runs
        .iter()
        .map(|(location, url)| {
            config(&json!({"location": location,
                "urls": [{"url": url, "name": "shop", "interval": "1s", "retries": 0}]}))
        })
        .collect();
    let mut instances: Vec<Sitewatch> = runs
        .iter()
        .zip(&files)
        .map(|((location, _), file)| {
            Sitewatch::spawn([
                "--format".to_string(),
                "json".into(),
                "--duration".into(),
                "3s".into(),
                "--db".into(),
                db(location).display().to_string(),
                path(file).to_string(),
            ])
        })
        .collect();
    for sw in &mut instances {
        assert_eq!(sw.finish(within(20.0)).code(), 0);
    }
    let dbs: Vec<String> = ["eu-west", "us-east", "ap-south"]
        .iter()
        .map(|l| db(l).display().to_string())
        .collect();
    let report = |extra: &[&str]| {
        let mut args = vec!["report", "--since", "1h"];
        for d in &dbs {
            args.extend(["--db", d]);
        }
        args.extend_from_slice(extra);
        run(args, 20.0)
    };
    let two = report(&["--quorum", "2", "--format", "json"]);
    assert_eq!(two.code(), 0, "{two}");
    let doc: Value = serde_json::from_str(&two.stdout.join("\n")).unwrap();
    let locations: BTreeSet<&str> = doc["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["location"].as_str().unwrap())
        .collect();
    assert_eq!(
        locations,
        BTreeSet::from(["ap-south", "eu-west", "quorum 2/3", "us-east"]),
        "{doc}"
    );
    // The combined row: every location's checks, the quorum's incident, merged latency.
    let rows = doc["monitors"].as_array().unwrap();
    let combined = rows.iter().find(|m| m["location"] == "quorum 2/3").unwrap();
    let sum: u64 = rows
        .iter()
        .filter(|m| m["location"] != "quorum 2/3")
        .map(|m| m["checks"].as_u64().unwrap())
        .sum();
    assert_eq!(combined["checks"].as_u64(), Some(sum), "{doc}");
    assert_eq!(combined["incidents"], 1, "{doc}");
    assert!(combined["p50_ms"].is_number(), "{doc}");
    let quorum: Vec<&Value> = doc["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["location"] == "quorum 2/3")
        .collect();
    assert_eq!(quorum.len(), 1, "{doc}");
    assert_eq!(quorum[0]["id"], "shop");
    assert_eq!(quorum[0]["detail"], "down from eu-west, us-east");
    let three = report(&["--quorum", "3", "--format", "json"]);
    let doc3: Value = serde_json::from_str(&three.stdout.join("\n")).unwrap();
    assert!(
        doc3["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["location"] != "quorum 3/3"),
        "{doc3}"
    );
    assert_eq!(combined["state"], "down", "{doc}");
    let table = report(&["--quorum", "2"]);
    assert!(
        table.stdout.join("\n").contains("shop @quorum 2/3"),
        "{table}"
    );
    assert!(
        table.stdout.join("\n").contains("shop @ap-south"),
        "{table}"
    );
    let csv = report(&["--format", "csv"]);
    assert!(
        csv.stdout
            .join("\n")
            .lines()
            .next()
            .unwrap()
            .ends_with(",id,location"),
        "{csv}"
    );
    let html = report(&["--format", "html"]);
    assert!(html.stdout.join("\n").contains("shop @eu-west"), "{html}");
    let bad = report(&["--quorum", "4"]);
    assert_eq!(bad.code(), 2, "{bad}");
    assert!(bad.stderr_text().contains("--quorum 4"), "{bad}");
}

#[test]
fn a_dead_alertmanager_gets_the_retries_and_the_live_one_each_alert_once() {
    let site = Receiver::start();
    let live = Receiver::start();
    site.set_site(503);
    let dead = sitewatch::localsite::refused_url();
    let file = config(&json!({
        "urls": [{"url": site.url("/site"), "name": "shop", "interval": "1s", "retries": 0}],
        "notify": [{"type": "alertmanager", "urls": [dead, live.url("")], "resend": "1h",
                    "retries": 2, "retry_delay": "100ms"}],
    }));
    let mut sw = Sitewatch::spawn(["--format", "json", "--no-db", path(&file)]);
    let deadline = within(20.0);
    let lost = sw.wait_for_stderr(deadline, "notification lost");
    assert!(lost.contains("Alertmanager 1 of 2"), "{lost}");
    assert!(!lost.contains("Alertmanager 2 of 2"), "{lost}");
    sw.sigint();
    sw.finish(within(20.0));
    // The down went to the live one once, not once per attempt.
    let fired = alerts(&live)
        .into_iter()
        .filter(|(arrived, a)| ends_at(a) > *arrived)
        .count();
    assert_eq!(fired, 1, "{:?}", alerts(&live));
}
