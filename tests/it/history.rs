//! History and reports end to end: nothing counted is lost on Ctrl-C, a SIGKILL leaves a sound
//! database, `--retain` prunes raw checks but keeps rollups, unusable databases are clear errors
//! before anything starts, and `sitewatch report` in every format on the fixture database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::Connection;
use serde_json::{json, Value};
use sitewatch::localsite::{refused_url, LocalSite};
use sitewatch::store::{epoch_ms, migrate, rollup};

use crate::util::{config, count, path, run, within, Sitewatch, BIN};

fn query_i64(db: &Path, sql: &str) -> i64 {
    let conn = Connection::open(db).expect("open the database");
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn db_arg(db: &Path) -> &str {
    db.to_str().expect("temp path is UTF-8")
}

/// `fixtures/history.sql` as a database file: schema, rows, rollups.
fn fixture_db(dir: &Path) -> PathBuf {
    let db = dir.join("fixture.db");
    let mut conn = Connection::open(&db).unwrap();
    migrate(&mut conn).unwrap();
    conn.execute_batch(include_str!("../../fixtures/history.sql"))
        .unwrap();
    rollup::rebuild(&conn).unwrap();
    db
}

fn ms_of(ts: &str) -> i64 {
    epoch_ms(humantime::parse_rfc3339(ts).expect("RFC 3339 ts"))
}

#[test]
fn sigint_leaves_every_check_counted_in_the_summary_in_the_database() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let file = config(&json!([
        {"url": site.url("/ok"), "interval": "1s"},
        {"url": site.url("/status/500"), "interval": "1s"},
        {"url": refused_url(), "interval": "1s"},
        {"url": site.url("/slow-headers/800"), "interval": "1s", "timeout": "5s"},
    ]));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--report-every",
        "30s",
        "--db",
        db_arg(&db),
        path(&file),
    ]);
    for _ in 0..10 {
        sw.wait_for_json(within(15.0), "ten checks", |v| v["type"] == "check");
    }
    sw.sigint();
    let run = sw.finish(within(15.0));
    assert_eq!(run.code(), 0, "{run}");
    let summary = run.summary();
    assert_eq!(count(&summary, "unwritten"), 0, "{run}");
    let total = count(&summary, "checked_total");
    assert!(total >= 10, "{run}");
    assert_eq!(
        query_i64(&db, "SELECT count(*) FROM checks") as u64,
        total,
        "row count equals the summary's total\n{run}"
    );
    assert_eq!(
        query_i64(&db, "SELECT count(*) FROM checks WHERE reason IS NULL") as u64,
        count(&summary, "up_total")
    );
    // Row by row: every printed check is stored with its time and outcome.
    let conn = Connection::open(&db).unwrap();
    let mut stored: BTreeMap<(String, i64), Option<String>> = BTreeMap::new();
    let mut s = conn
        .prepare("SELECT m.url, c.ts, c.reason FROM checks c JOIN monitors m ON m.id = c.monitor")
        .unwrap();
    for row in s
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
    {
        let (url, ts, reason): (String, i64, Option<String>) = row.unwrap();
        stored.insert((url, ts), reason);
    }
    for check in run.checks() {
        let key = (
            check["url"].as_str().unwrap().to_string(),
            ms_of(check["ts"].as_str().unwrap()),
        );
        let reason = stored
            .get(&key)
            .unwrap_or_else(|| panic!("{check} is not in the database"));
        assert_eq!(reason.as_deref(), check["reason"].as_str(), "{check}");
    }
    assert_eq!(
        query_i64(&db, "SELECT sum(checks) FROM rollups") as u64,
        total,
        "rollups agree with the raw rows"
    );
    assert!(
        run.stderr_text().contains("history: wrote"),
        "the writer says what it wrote\n{run}"
    );
    // A clean stop leaves no WAL behind and marks the known states as no longer watched.
    drop(s);
    drop(conn);
    assert!(!dir.path().join("history.db-wal").exists());
    assert_eq!(
        query_i64(
            &db,
            "SELECT count(*) FROM transitions WHERE to_state = 'unknown'"
        ),
        query_i64(
            &db,
            "SELECT count(DISTINCT monitor) FROM transitions WHERE to_state != 'unknown'"
        ),
    );
}

#[test]
fn sigkill_leaves_a_sound_database_missing_at_most_the_last_batch() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let entries: Vec<Value> = (0..20)
        .map(|i| json!({"url": site.url(&format!("/ok?n={i}")), "interval": "1s"}))
        .collect();
    let file = config(&Value::Array(entries));
    let args = ["--format", "json", "--db", db_arg(&db), path(&file)];
    let mut sw = Sitewatch::spawn(args);
    let started = Instant::now();
    let mut seen: Vec<(Instant, Value)> = Vec::new();
    while started.elapsed() < Duration::from_secs(5) {
        let v = sw.wait_for_json(within(5.0), "checks", |v| v["type"] == "check");
        seen.push((Instant::now(), v));
    }
    let status = Command::new("kill")
        .args(["-KILL", &sw.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let killed = Instant::now();
    let _ = sw.finish(within(5.0));

    let conn = Connection::open(&db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM checks", [], |r| r.get(0))
        .unwrap();
    // A batch commits within 1 s of its first event; a check printed 3 s before the kill (1 s
    // plus room for a loaded machine) is in.
    let settled: Vec<&Value> = seen
        .iter()
        .filter(|(at, _)| killed.duration_since(*at) > Duration::from_secs(3))
        .map(|(_, v)| v)
        .collect();
    assert!(settled.len() >= 20, "{} checks settled", settled.len());
    for check in &settled {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM checks c JOIN monitors m ON m.id = c.monitor
                 WHERE m.url = ?1 AND c.ts = ?2",
                rusqlite::params![
                    check["url"].as_str().unwrap(),
                    ms_of(check["ts"].as_str().unwrap())
                ],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            n, 1,
            "{check} lost although it was printed 3 s before the kill"
        );
    }
    assert!(rows as usize >= settled.len());
    let rollup_total: i64 = conn
        .query_row("SELECT sum(checks) FROM rollups", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rollup_total, rows, "rollups commit with their rows");
    drop(conn);

    // The next run opens it, recovers the WAL, and keeps writing.
    let again = run(
        [
            "--once",
            "--format",
            "json",
            "--db",
            db_arg(&db),
            path(&file),
        ],
        20.0,
    );
    assert_eq!(again.code(), 0, "{again}");
    assert_eq!(query_i64(&db, "SELECT count(*) FROM checks"), rows + 20);
}

#[test]
fn retain_prunes_old_raw_checks_but_reports_still_count_them() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let day = 86_400_000;
    let now = epoch_ms(SystemTime::now());
    let old_day = (now - 40 * day).div_euclid(day) * day;
    {
        let mut conn = Connection::open(&db).unwrap();
        migrate(&mut conn).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO monitors (id, url, name, interval_ms, method, first_seen, last_seen)
               VALUES (1, 'https://old.example/', '', 60000, 'GET', {old_day}, {old_day});
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 119)
             INSERT INTO checks (ts, monitor, status, reason, detail, bytes, ms, lateness_ms)
               SELECT {old_day} + 3600000 + i * 60000, 1, 200, NULL, NULL, 1, 10 + i, 0 FROM n;
             INSERT INTO checks (ts, monitor, status, reason, detail, bytes, ms, lateness_ms)
               VALUES ({recent}, 1, 200, NULL, NULL, 1, 10, 0);",
            recent = now - 3_600_000
        ))
        .unwrap();
        rollup::rebuild(&conn).unwrap();
    }
    let report = |from: i64| -> Value {
        let out = run(
            [
                "report",
                "--db",
                db_arg(&db),
                "--format",
                "json",
                "--from",
                &sitewatch::report::time(from),
                "--to",
                &sitewatch::report::time(from + day),
            ],
            10.0,
        );
        assert_eq!(out.code(), 0, "{out}");
        serde_json::from_str(&out.stdout.join("\n")).unwrap()
    };
    let before = report(old_day);
    assert_eq!(before["monitors"][0]["checks"], 120);

    let file = config(&json!([{"url": site.url("/ok")}]));
    let out = run(
        [
            "--once",
            "--retain",
            "30d",
            "--db",
            db_arg(&db),
            path(&file),
        ],
        20.0,
    );
    assert_eq!(out.code(), 0, "{out}");
    assert_eq!(
        query_i64(
            &db,
            &format!("SELECT count(*) FROM checks WHERE ts < {now} - 30 * {day}")
        ),
        0,
        "raw checks older than 30 days are gone"
    );
    assert_eq!(
        query_i64(&db, "SELECT count(*) FROM checks"),
        2,
        "the recent one and this run's"
    );
    assert_eq!(
        query_i64(&db, "SELECT sum(checks) FROM rollups WHERE monitor = 1"),
        121
    );
    let after = report(old_day);
    assert_eq!(
        after["monitors"], before["monitors"],
        "rollups answer for pruned days"
    );
    assert!(out.stderr_text().contains("pruned 120 old checks"), "{out}");
}

/// Runs `args` as user `nobody` when we are root (root writes through file permissions).
fn unprivileged(args: &[&str]) -> std::process::Output {
    let uid = Command::new("id").arg("-u").output().unwrap();
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let mut command = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    command.args(args).output().expect("run sitewatch")
}

#[test]
fn a_read_only_database_is_a_clear_error_and_nothing_starts() {
    use std::os::unix::fs::PermissionsExt;
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    {
        let mut conn = Connection::open(&db).unwrap();
        migrate(&mut conn).unwrap();
    }
    let conf = dir.path().join("urls.json");
    std::fs::write(&conf, json!([{"url": site.url("/ok")}]).to_string()).unwrap();
    let set = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set(dir.path(), 0o755);
    set(&conf, 0o644);
    set(&db, 0o444);
    let out = unprivileged(&["--once", "--db", db_arg(&db), conf.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "sitewatch: error: database is read-only: {}",
            db.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("use --db PATH or --no-db"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing started");
    assert_eq!(site.hits("/ok"), 0, "no check was made");
}

#[test]
fn corrupt_or_unreachable_databases_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        "this is not a database, it is a text file padded out\n".repeat(100),
    )
    .unwrap();
    let file = config(&json!([{"url": refused_url()}]));
    let out = run(["--once", "--db", db_arg(&junk), path(&file)], 10.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr_text()
            .contains("database is corrupt or not a sitewatch database"),
        "{out}"
    );
    assert!(out.stdout.is_empty(), "{out}");

    let nowhere = dir.path().join("no/such/dir/h.db");
    let out = run(["--once", "--db", db_arg(&nowhere), path(&file)], 10.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr_text().contains("cannot open database"), "{out}");

    let out = run(
        ["report", "--db", db_arg(&dir.path().join("absent.db"))],
        10.0,
    );
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr_text().contains("no history database at"),
        "{out}"
    );
}

#[test]
fn the_default_database_is_sitewatch_db_in_the_working_directory_and_demo_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(&json!([{"url": refused_url()}]));
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["--once", "--format", "json", path(&file)])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        query_i64(
            &dir.path().join("sitewatch.db"),
            "SELECT count(*) FROM checks"
        ) as u64,
        count(&summary, "checked_total")
    );

    let demo_dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(demo_dir.path())
        .args(["demo", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_dir(demo_dir.path()).unwrap().count(),
        0,
        "demo leaves no file"
    );
}

fn report_on_fixture(db: &Path, extra: &[&str]) -> crate::util::Finished {
    let mut args = vec![
        "report",
        "--db",
        db_arg(db),
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-02",
    ];
    args.extend_from_slice(extra);
    let out = run(args, 10.0);
    assert_eq!(out.code(), 0, "{out}");
    out
}

#[test]
fn report_json_has_the_documented_fields_and_known_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let out = report_on_fixture(&db, &["--format", "json"]);
    let doc: Value = serde_json::from_str(&out.stdout.join("\n")).unwrap();
    assert_eq!(doc["from"], "2026-01-01T00:00:00Z");
    let monitors = doc["monitors"].as_array().unwrap();
    assert_eq!(monitors.len(), 6);
    let edge = monitors
        .iter()
        .find(|m| m["url"] == "https://edge.example/")
        .unwrap();
    assert_eq!(
        (
            &edge["checks"],
            &edge["uptime_pct"],
            &edge["incidents"],
            &edge["downtime_s"],
            &edge["state"]
        ),
        (
            &json!(1440),
            &json!(93.75),
            &json!(1),
            &json!(5400.0),
            &json!("up")
        )
    );
    let steady = &monitors[0];
    assert_eq!(steady["max_ms"], 100.0);
    let p50 = steady["p50_ms"].as_f64().unwrap();
    assert!((p50 - 50.0).abs() < 50.0 * 0.033, "{p50}");
    let incidents = doc["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 4);
    for i in incidents {
        for key in ["url", "start", "end", "duration_s", "reason"] {
            assert!(i.get(key).is_some(), "incidents[].{key} in {i}");
        }
    }
    let only = report_on_fixture(&db, &["--format", "json", "--url", "flappy"]);
    let doc: Value = serde_json::from_str(&only.stdout.join("\n")).unwrap();
    assert_eq!(doc["monitors"].as_array().unwrap().len(), 1);
    assert_eq!(doc["incidents"].as_array().unwrap().len(), 2);
}

#[test]
fn report_table_and_csv_line_up_with_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let table = report_on_fixture(&db, &[]).stdout.join("\n");
    assert!(
        table.starts_with("sitewatch report: 2026-01-01T00:00:00Z to 2026-01-02T00:00:00Z"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("https://flappy.example/api (flappy)"))
        .expect("flappy row");
    let cols: Vec<&str> = row
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(&cols[1..5], &["1440", "95.139%", "95.139%", "2"], "{table}");
    assert!(row.ends_with("down"), "{row}");
    assert!(table.contains("(monitoring stopped)"), "{table}");

    let csv = report_on_fixture(&db, &["--format", "csv"]).stdout;
    assert_eq!(csv.len(), 11, "header, 6 monitors, 4 incidents");
    assert!(csv[0]
        .starts_with("type,url,name,checks,up,uptime_pct,uptime_time_pct,incidents,downtime_s"));
    assert!(csv.iter().any(|l| l.starts_with(
        "monitor,https://stopped.example/,stopped,720,660,91.667,91.667,1,3600,3600,"
    )));
}

#[test]
fn report_html_is_one_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let page = dir.path().join("report.html");
    let out = report_on_fixture(
        &db,
        &["--format", "html", "--output", page.to_str().unwrap()],
    );
    assert!(out.stdout.is_empty(), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for external in ["<script", "<link", "src=", "url(", "@import"] {
        assert!(!html.contains(external), "external asset: {external}");
    }
    // One uptime bar and one latency chart per monitor; 24 hourly cells in each bar.
    assert_eq!(html.matches("aria-label=\"uptime per cell\"").count(), 6);
    assert_eq!(html.matches("aria-label=\"latency per cell\"").count(), 6);
    assert_eq!(
        html.matches("% up, ").count() + html.matches(": no checks<").count(),
        6 * 24
    );
    assert!(html.contains("Incidents (4)"));
}

#[test]
fn the_history_and_every_report_format_carry_the_ids_of_the_run() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let url = site.url("/ok");
    let file = config(&json!([
        {"url": url, "name": "Home Page"},
        {"url": url},
        {"url": url, "interval": "30s"},
    ]));
    let run1 = run(
        [
            "--once",
            "--format",
            "json",
            "--db",
            db_arg(&db),
            path(&file),
        ],
        20.0,
    );
    assert_eq!(run1.code(), 0, "{run1}");
    let mut line_ids: Vec<String> = run1
        .checks()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    line_ids.sort();
    assert_eq!(line_ids.len(), 3, "{run1}");
    assert_eq!(
        query_i64(&db, "PRAGMA user_version"),
        sitewatch::store::schema_version()
    );

    let report = run(["report", "--db", db_arg(&db), "--format", "json"], 10.0);
    assert_eq!(report.code(), 0, "{report}");
    let doc: Value = serde_json::from_str(&report.stdout.join("\n")).unwrap();
    let mut report_ids: Vec<String> = doc["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    report_ids.sort();
    assert_eq!(report_ids, line_ids, "{report}");
    assert!(report_ids.contains(&"home-page".to_owned()));

    let csv = run(["report", "--db", db_arg(&db), "--format", "csv"], 10.0);
    assert!(csv.stdout[0].ends_with(",id"), "{csv}");
    for id in &line_ids {
        assert!(
            csv.stdout.iter().any(|l| l.ends_with(&format!(",{id}"))),
            "{id} in {csv}"
        );
    }
    let by_id = run(
        [
            "report",
            "--db",
            db_arg(&db),
            "--format",
            "json",
            "--url",
            "home-*",
        ],
        10.0,
    );
    let doc: Value = serde_json::from_str(&by_id.stdout.join("\n")).unwrap();
    assert_eq!(doc["monitors"].as_array().unwrap().len(), 1, "{by_id}");
    assert_eq!(doc["monitors"][0]["name"], "Home Page");
}
