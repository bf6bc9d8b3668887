//! The history database survives other processes and crashes: one writer per database, other
//! programs' files and damaged files refused at start, the file deleted or replaced while
//! running noticed, and the gap a crash leaves counted neither up nor down.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;
use sitewatch::store::check::APPLICATION_ID;
use sitewatch::store::{epoch_ms, migrate};

use crate::notify_util::Receiver;
use crate::util::{config, count, path, run, within, Finished, Sitewatch, BIN};

fn arg(p: &Path) -> &str {
    p.to_str().expect("temp path is UTF-8")
}

/// One value from the database, read through a read-only connection.
fn query_i64(db: &Path, sql: &str) -> i64 {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Polls until `sql` on `db` gives at least `min`; panics at `deadline`.
fn wait_for_rows(db: &Path, sql: &str, min: i64, deadline: Instant) {
    loop {
        let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY);
        let n = conn
            .ok()
            .and_then(|c| c.query_row(sql, [], |r| r.get::<_, i64>(0)).ok())
            .unwrap_or(0);
        if n >= min {
            return;
        }
        assert!(Instant::now() < deadline, "{sql} stayed below {min}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs sitewatch with `args` as user `nobody` when we are root (root reads and writes
/// through file permissions).
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

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn report_json(db: &Path) -> Value {
    let out = run(
        [
            "report",
            "--db",
            arg(db),
            "--format",
            "json",
            "--since",
            "1h",
        ],
        10.0,
    );
    assert_eq!(out.code(), 0, "{out}");
    serde_json::from_str(&out.stdout.join("\n")).unwrap()
}

#[test]
fn a_second_writer_exits_2_naming_the_first_and_reports_read_throughout() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    let db = dir.path().join("history.db");
    // Shared with other users by the operator's choice (sitewatch makes new files private; an
    // existing one keeps its permissions, and SQLite gives them to -wal and -shm).
    std::fs::write(&db, b"").unwrap();
    set_mode(&db, 0o644);
    let file = config(&json!([{"url": site.url("/ok"), "interval": "1s"}]));
    let mut daemon = Sitewatch::spawn(["--format", "json", "--db", arg(&db), path(&file)]);
    daemon.wait_for_json(within(15.0), "a check", |v| v["type"] == "check");

    // A --once run next to it, in the same database: refused before anything starts.
    let once = run(
        ["--once", "--format", "json", "--db", arg(&db), path(&file)],
        15.0,
    );
    assert_eq!(once.code(), 2, "{once}");
    let expected = format!(
        "sitewatch: error: database {} is being written by another sitewatch (pid {}); one \
         database has one writer: stop that one, or use --db PATH for another file, or --no-db \
         (a --once run next to a running sitewatch: --no-db)",
        db.display(),
        daemon.pid()
    );
    assert_eq!(once.stderr, vec![expected], "{once}");
    assert!(once.stdout.is_empty(), "nothing started\n{once}");

    // Reports read while the writer runs, also as another user.
    wait_for_rows(&db, "SELECT count(*) FROM checks", 1, within(10.0));
    assert_eq!(report_json(&db)["monitors"].as_array().unwrap().len(), 1);
    let out = unprivileged(&["report", "--db", arg(&db)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    daemon.sigint();
    let finished = daemon.finish(within(15.0));
    assert_eq!(finished.code(), 0, "{finished}");
    let summary = finished.summary();
    assert_eq!(
        query_i64(&db, "SELECT count(*) FROM checks") as u64,
        count(&summary, "checked_total"),
        "only the one writer's checks, each once\n{finished}"
    );
    assert!(
        !dir.path().join("history.db.lock").exists(),
        "lock file removed"
    );

    // After the writer stopped, a reader that may not write to the directory still reads.
    set_mode(dir.path(), 0o555);
    let out = unprivileged(&["report", "--db", arg(&db), "--format", "json"]);
    set_mode(dir.path(), 0o755);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        count(&doc["monitors"][0], "checks"),
        count(&summary, "checked_total")
    );
}

#[test]
fn two_writers_started_at_the_same_instant_on_a_new_database_one_runs() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([{"url": site.url("/ok"), "interval": "1s"}]));
    for round in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("new.db");
        let args = [
            "--duration",
            "5s",
            "--format",
            "json",
            "--db",
            arg(&db),
            path(&file),
        ];
        let mut a = Sitewatch::spawn(args);
        let mut b = Sitewatch::spawn(args);
        let (pa, pb) = (a.pid(), b.pid());
        let (ra, rb) = (a.finish(within(30.0)), b.finish(within(30.0)));
        let (winner, loser, winner_pid) = match (ra.code(), rb.code()) {
            (0, 2) => (ra, rb, pa),
            (2, 0) => (rb, ra, pb),
            _ => panic!("round {round}: exactly one should run\n{ra}\n{rb}"),
        };
        let expected = format!(
            "sitewatch: error: database {} is being written by another sitewatch (pid {winner_pid});",
            db.display()
        );
        assert!(
            loser.stderr_text().starts_with(&expected),
            "round {round}\n{loser}"
        );
        assert!(loser.stdout.is_empty(), "{loser}");
        assert_eq!(
            query_i64(&db, "SELECT count(*) FROM checks") as u64,
            count(&winner.summary(), "checked_total"),
            "{winner}"
        );
    }
}

#[test]
fn another_programs_sqlite_file_is_refused_and_older_sitewatch_files_are_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(&json!([{"url": sitewatch::localsite::refused_url()}]));
    let other = dir.path().join("notes.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me');")
        .unwrap();
    let before = std::fs::read(&other).unwrap();
    let out = run(["--once", "--db", arg(&other), path(&file)], 10.0);
    assert_eq!(out.code(), 2, "{out}");
    assert_eq!(
        out.stderr_text(),
        format!(
            "sitewatch: error: database {} is not a sitewatch database (a SQLite database \
             without sitewatch's tables); it is left untouched: use --db PATH or --no-db",
            other.display()
        )
    );
    assert!(out.stdout.is_empty(), "{out}");
    assert_eq!(std::fs::read(&other).unwrap(), before, "not modified");
    assert!(
        !dir.path().join("notes.db-wal").exists(),
        "not switched to WAL"
    );
    let out = run(["report", "--db", arg(&other)], 10.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr_text().contains("is not a sitewatch database"),
        "{out}"
    );

    // Marked by another program: refused too, with its id.
    let marked = dir.path().join("marked.db");
    Connection::open(&marked)
        .unwrap()
        .pragma_update(None, "application_id", 0x0F0F_0F0F)
        .unwrap();
    let out = run(["--once", "--db", arg(&marked), path(&file)], 10.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr_text()
            .contains("(a SQLite database with application_id 0x0f0f0f0f)"),
        "{out}"
    );

    // Made by sitewatch before the mark existed: used and marked.
    let older = dir.path().join("older.db");
    migrate(&mut Connection::open(&older).unwrap()).unwrap();
    let out = run(["--once", "--db", arg(&older), path(&file)], 10.0);
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(
        query_i64(&older, "PRAGMA application_id"),
        i64::from(APPLICATION_ID)
    );
    assert!(query_i64(&older, "SELECT count(*) FROM checks") >= 1);

    // An empty file is a new database.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let out = run(["--once", "--db", arg(&empty), path(&file)], 10.0);
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(
        query_i64(&empty, "PRAGMA application_id"),
        i64::from(APPLICATION_ID)
    );
}

/// A sitewatch database of a few hundred pages, in rollback-journal mode (one file).
fn sound_db(dir: &Path) -> PathBuf {
    let db = dir.join("sound.db");
    let mut conn = Connection::open(&db).unwrap();
    migrate(&mut conn).unwrap();
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .unwrap();
    conn.execute_batch(
        "INSERT INTO monitors (id, url, name, interval_ms, method, first_seen, last_seen)
           VALUES (1, 'http://127.0.0.1:9/', '', 60000, 'GET', 0, 0);
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19999)
         INSERT INTO checks (ts, monitor, status, reason, detail, bytes, ms, lateness_ms)
           SELECT 1767225600000 + i * 1000, 1, 200, NULL, 'detail of check ' || i, 1, 10, 0 FROM n;",
    )
    .unwrap();
    drop(conn);
    db
}

/// A copy of `db` at `name` with `bytes` written at `offset`.
fn damaged(db: &Path, name: &str, offset: u64, bytes: &[u8]) -> PathBuf {
    use std::os::unix::fs::FileExt;
    let copy = db.with_file_name(name);
    std::fs::copy(db, &copy).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
    f.write_all_at(bytes, offset).unwrap();
    copy
}

#[test]
fn damaged_databases_are_refused_at_start_and_left_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let db = sound_db(dir.path());
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > 100 * 4096, "{len}");
    let middle = (len / 2) / 4096 * 4096;
    let file = config(&json!([{"url": sitewatch::localsite::refused_url()}]));
    let cases = [
        ("middle.db", middle, vec![0x5A; 4096], "quick check: "),
        (
            "header.db",
            16,
            vec![0x03, 0xE8],
            "damaged header: page size 1000",
        ),
        (
            "magic.db",
            0,
            b"SQLite format 4".to_vec(),
            "not a SQLite file: it does not begin with \"SQLite format 3\"",
        ),
        ("schema.db", 100, vec![0xFF; 2000], ""),
    ];
    for (name, offset, bytes, detail) in cases {
        let bad = damaged(&db, name, offset, &bytes);
        let before = std::fs::read(&bad).unwrap();
        let out = run(["--once", "--db", arg(&bad), path(&file)], 20.0);
        assert_eq!(out.code(), 2, "{name}: {out}");
        let prefix = format!(
            "sitewatch: error: database is corrupt or not a sitewatch database: {}",
            bad.display()
        );
        let stderr = out.stderr_text();
        assert!(stderr.starts_with(&prefix), "{name}: {out}");
        assert!(stderr.contains(detail), "{name}: {out}");
        assert!(
            stderr.ends_with("; move it aside, or use --db PATH or --no-db"),
            "{name}: {out}"
        );
        assert!(out.stdout.is_empty(), "{name}: nothing started\n{out}");
        assert_eq!(std::fs::read(&bad).unwrap(), before, "{name}: not modified");
    }
    // The sound one is fine.
    let out = run(["--once", "--db", arg(&db), path(&file)], 20.0);
    assert_eq!(out.code(), 1, "{out}");
}

#[test]
fn a_damaged_multi_gigabyte_database_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let db = sound_db(dir.path());
    let bad = damaged(&db, "big.db", 100, &[0xFF; 2000]);
    // 3 GiB, sparse: the bounded checks must not read it.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&bad)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let file = config(&json!([{"url": sitewatch::localsite::refused_url()}]));
    let out = run(["--once", "--db", arg(&bad), path(&file)], 20.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr_text()
            .contains("database is corrupt or not a sitewatch database"),
        "{out}"
    );
}

/// Runs a monitor against `site` with history in `db` until rows are committed, then does
/// `damage` to the path and waits for the writer to notice; returns the finished run.
fn damage_while_running(
    db: &Path,
    site: &LocalSite,
    damage: impl FnOnce(),
    notice: &str,
) -> Finished {
    let file = config(&json!([
        {"url": site.url("/ok"), "interval": "1s"},
        {"url": site.url("/status/500"), "interval": "1s", "retries": 0},
    ]));
    let mut sw = Sitewatch::spawn(["--format", "json", "--db", arg(db), path(&file)]);
    sw.wait_for_json(within(15.0), "a check", |v| v["type"] == "check");
    wait_for_rows(db, "SELECT count(*) FROM checks", 2, within(15.0));
    damage();
    let line = sw.wait_for_stderr(within(60.0), "is no longer the database");
    assert!(
        line.ends_with(&format!(
            "[ERROR] history: {} is no longer the database this run was writing (it was {notice}); \
             nothing more is written to it and results from now on are counted as unwritten; \
             restart sitewatch to keep history again",
            db.display()
        )),
        "{line}"
    );
    // Results after that are not written, and counted.
    let noticed = humantime::parse_rfc3339(line.split_whitespace().next().unwrap()).unwrap();
    for _ in 0..4 {
        sw.wait_for_json(within(15.0), "checks after that", |v| {
            v["type"] == "check"
                && humantime::parse_rfc3339(v["ts"].as_str().unwrap()).unwrap() > noticed
        });
    }
    sw.sigint();
    let finished = sw.finish(within(15.0));
    assert_eq!(finished.code(), 0, "{finished}");
    let summary = finished.summary();
    assert!(count(&summary, "unwritten") >= 4, "{finished}");
    let stderr = finished.stderr_text();
    let last = finished
        .stderr
        .iter()
        .find(|l| l.contains("history: wrote"))
        .unwrap_or_else(|| panic!("{finished}"));
    assert!(
        last.contains(&format!("until it was {notice};")) && last.contains("were not written"),
        "{finished}"
    );
    let claim = format!("state changes to {}", db.display());
    assert!(
        !finished.stderr.iter().any(|l| l.ends_with(&claim)),
        "{stderr}"
    );
    // Nothing left at the path that SQLite could apply to another file of that name.
    assert!(!PathBuf::from(format!("{}-wal", db.display())).exists());
    assert!(!PathBuf::from(format!("{}-shm", db.display())).exists());
    finished
}

#[test]
fn the_database_deleted_while_running_is_noticed_and_nothing_more_is_claimed_written() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    damage_while_running(&db, &site, || std::fs::remove_file(&db).unwrap(), "deleted");
    assert!(!db.exists(), "not recreated");
}

#[test]
fn the_database_replaced_while_running_is_noticed_and_the_new_file_left_alone() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let moved = dir.path().join("archived.db");
    let other = dir.path().join("other.txt");
    std::fs::write(&other, "someone else's file\n").unwrap();
    let finished = damage_while_running(
        &db,
        &site,
        || {
            std::fs::rename(&db, &moved).unwrap();
            std::fs::rename(&other, &db).unwrap();
        },
        "replaced by another file",
    );
    assert_eq!(
        std::fs::read_to_string(&db).unwrap(),
        "someone else's file\n"
    );
    // What was written before is complete in the file moved away.
    let written: i64 = finished
        .stderr
        .iter()
        .find_map(|l| {
            l.split("history: wrote ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap();
    assert!(written >= 2, "{finished}");
    assert!(query_i64(&moved, "SELECT count(*) FROM checks") >= written);
}

#[test]
fn the_gap_after_a_crash_counts_neither_up_nor_down() {
    let receiver = Receiver::start();
    receiver.set_site(503);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let file = config(&json!({
        "defaults": {"retries": 0},
        "urls": [{"url": receiver.url("/site"), "interval": "1s"}]
    }));
    let args = ["--format", "json", "--db", arg(&db), path(&file)];
    let mut first = Sitewatch::spawn(args);
    first.wait_for_json(within(15.0), "down", |v| {
        v["type"] == "state" && v["to"] == "down"
    });
    for _ in 0..3 {
        first.wait_for_json(within(15.0), "checks while down", |v| v["type"] == "check");
    }
    wait_for_rows(
        &db,
        "SELECT count(*) FROM transitions WHERE to_state = 'down'",
        1,
        within(10.0),
    );
    wait_for_rows(&db, "SELECT count(*) FROM checks", 3, within(10.0));
    let status = Command::new("kill")
        .args(["-KILL", &first.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let _ = first.finish(within(10.0));
    let killed = epoch_ms(std::time::SystemTime::now());
    let down_at = query_i64(&db, "SELECT ts FROM transitions WHERE to_state = 'down'");
    let last_check = query_i64(&db, "SELECT max(ts) FROM checks");

    // Nothing runs for a while; then the site is back and sitewatch too.
    std::thread::sleep(Duration::from_secs(3));
    receiver.set_site(200);
    let second = run(
        ["--once", "--format", "json", "--db", arg(&db), path(&file)],
        20.0,
    );
    assert_eq!(second.code(), 0, "{second}");
    assert!(
        second.stderr_text().contains(&format!(
            "[WARN] history: the last run on {} did not stop cleanly; recorded \"monitoring \
             stopped\" for 1 monitor(s) at their last recorded check, so the time since counts \
             neither up nor down",
            db.display()
        )),
        "{second}"
    );

    let report = report_json(&db);
    let monitor = &report["monitors"][0];
    let downtime = monitor["downtime_s"].as_f64().unwrap();
    let observed = (last_check.max(down_at) - down_at) as f64 / 1000.0;
    assert!(
        (downtime - observed).abs() < 0.5,
        "downtime {downtime} s, observed down for {observed} s\n{report}"
    );
    let gap = (killed - down_at) as f64 / 1000.0 + 3.0;
    assert!(
        downtime < gap - 2.0,
        "the gap is not downtime: {downtime} s\n{report}"
    );
    assert_eq!(monitor["state"], "up", "{report}");
    let incident = &report["incidents"][0];
    assert_eq!(incident["ended_by"], "unknown", "{report}");
}
