//! Output failures are never silent: stdout closed by its reader stops gracefully (status 141),
//! a full or size-limited stdout or log file is said on stderr and counted in `dropped_lines`
//! while monitoring goes on, and a rotated log file is followed.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::util::{config, count, path, within, Sitewatch, BIN};

/// Reads all of `source` on a thread; the text arrives at EOF.
fn read_all<R: Read + Send + 'static>(mut source: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut text = String::new();
        let _ = source.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}

/// Waits for `child` to exit before `deadline` (killing it and panicking after), and returns its
/// status and stderr.
fn wait(
    mut child: Child,
    stderr: mpsc::Receiver<String>,
    deadline: Instant,
) -> (ExitStatus, String) {
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sitewatch did not exit in time; stderr:\n{}",
                stderr.recv().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    let text = stderr
        .recv_timeout(deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1))
        .expect("stderr closes at exit");
    (status, text)
}

/// `sitewatch --no-db ARGS` with stdout going to `stdout` and stderr collected.
fn spawn(args: &[&str], stdout: Stdio) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sitewatch");
    let stderr = read_all(child.stderr.take().expect("piped stderr"));
    (child, stderr)
}

/// The JSON summary line on stderr (written there when an output could not take it).
fn summary_on_stderr(stderr: &str) -> Value {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(r#"{"type":"summary""#))
        .unwrap_or_else(|| panic!("no summary on stderr:\n{stderr}"));
    serde_json::from_str(line).expect("summary is JSON")
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn rows(db: &Path) -> u64 {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    conn.query_row("SELECT count(*) FROM checks", [], |r| r.get::<_, i64>(0))
        .expect("count rows") as u64
}

#[test]
fn stdout_closed_by_its_reader_stops_gracefully_with_status_141() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let file = config(&json!([{"url": site.url("/ok"), "interval": "1s"}]));
    let mut child = Command::new(BIN)
        .args([
            "--format",
            "json",
            "--db",
            db.to_str().unwrap(),
            path(&file),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sitewatch");
    let stderr = read_all(child.stderr.take().unwrap());
    // Like `| head -1`: read one line, then close the pipe.
    let stdout = child.stdout.take().unwrap();
    let (tx, first) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let first = first
        .recv_timeout(Duration::from_secs(10))
        .expect("a first line");
    assert!(first.contains(r#""type":"check""#), "{first}");
    let (status, stderr) = wait(child, stderr, within(15.0));
    assert_eq!(status.code(), Some(141), "{stderr}");
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("stdout closed (broken pipe); stopping"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    let summary = summary_on_stderr(&stderr);
    assert!(count(&summary, "dropped_lines") >= 1, "{summary}");
    assert_eq!(summary["interrupted"], false);
    let checked = count(&summary, "checked_total");
    assert!(checked >= 1, "{stderr}");
    assert_eq!(rows(&db), checked, "the history is committed\n{stderr}");
}

#[test]
fn a_log_file_that_cannot_be_written_is_said_once_and_every_lost_line_counted() {
    let site = LocalSite::start().unwrap();
    let file = config(&json!([{"url": site.url("/ok"), "interval": "1s"}]));
    let args = [
        "--no-db",
        "--format",
        "json",
        "--duration",
        "2500ms",
        "--report-every",
        "500ms",
        "--log-file",
        "/dev/full",
        path(&file),
    ];
    let (mut child, stderr) = spawn(&args, Stdio::piped());
    let stdout = read_all(child.stdout.take().unwrap());
    let (status, stderr) = wait(child, stderr, within(15.0));
    assert_eq!(status.code(), Some(0), "{stderr}");
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("cannot write to the log file /dev/full: "))
        .collect();
    assert_eq!(said.len(), 1, "once a minute at most\n{stderr}");
    assert!(said[0].contains("No space left on device"), "{stderr}");
    let stdout: Vec<String> = stdout.recv().unwrap().lines().map(String::from).collect();
    let summary: Value = serde_json::from_str(stdout.last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    // Every line printed before the summary was lost on the log file, and counted.
    assert!(stdout.len() >= 5, "checks and reports went on: {stdout:?}");
    assert_eq!(count(&summary, "dropped_lines"), stdout.len() as u64 - 1);
    assert_eq!(
        summary_on_stderr(&stderr),
        summary,
        "the summary is said on stderr"
    );
}

#[test]
fn a_full_stdout_is_said_once_and_lines_still_reach_the_log_file() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("status.log");
    let file = config(&json!([{"url": site.url("/ok"), "interval": "1s"}]));
    let args = [
        "--no-db",
        "--format",
        "json",
        "--duration",
        "2500ms",
        "--report-every",
        "500ms",
        "--log-file",
        log.to_str().unwrap(),
        path(&file),
    ];
    let full = File::options().write(true).open("/dev/full").unwrap();
    let (child, stderr) = spawn(&args, Stdio::from(full));
    let (status, stderr) = wait(child, stderr, within(15.0));
    assert_eq!(status.code(), Some(0), "{stderr}");
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("cannot write to stdout: No space left on device"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    let logged = lines_of(&log);
    let summary: Value = serde_json::from_str(logged.last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    assert!(logged.len() >= 5, "{logged:?}");
    assert_eq!(count(&summary, "dropped_lines"), logged.len() as u64 - 1);
    assert_eq!(summary_on_stderr(&stderr), summary);
}

#[test]
fn a_file_size_limit_fails_writes_instead_of_killing_sitewatch() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("status.log");
    let file = config(&json!([{"url": site.url("/ok"), "interval": "1s"}]));
    // `ulimit -f 2`: 1 or 2 KiB depending on the shell; the lines pass that within the run.
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -f 2 && exec "$0" "$@""#)
        .args([BIN, "--no-db", "--format", "json", "--duration", "3s"])
        .args([
            "--report-every",
            "200ms",
            "--log-file",
            log.to_str().unwrap(),
        ])
        .arg(path(&file))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sh");
    let mut child = child;
    let stderr = read_all(child.stderr.take().unwrap());
    let stdout = read_all(child.stdout.take().unwrap());
    let (status, stderr) = wait(child, stderr, within(15.0));
    assert_eq!(status.code(), Some(0), "not killed by SIGXFSZ\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot write to the log file {}: File too large",
            log.display()
        )),
        "{stderr}"
    );
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size <= 2048, "{size}");
    let stdout = stdout.recv().unwrap();
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(count(&summary, "dropped_lines") > 0, "{summary}");
    assert!(
        count(&summary, "checked_total") >= 3,
        "monitoring went on: {summary}"
    );
}

/// Waits until `path` holds a complete line satisfying `pred`.
fn wait_for_line(path: &Path, deadline: Instant, what: &str, pred: impl Fn(&str) -> bool) {
    loop {
        if lines_of(path).iter().any(|l| pred(l)) {
            return;
        }
        assert!(Instant::now() < deadline, "no {what} in {}", path.display());
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_rotated_log_file_is_followed_and_a_truncated_one_goes_on_at_its_start() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("status.log");
    let moved = dir.path().join("status.log.1");
    let file = config(&json!([{"url": site.url("/ok"), "interval": "1s"}]));
    let mut sw = Sitewatch::spawn([
        "--format",
        "json",
        "--report-every",
        "200ms",
        "--log-file",
        log.to_str().unwrap(),
        path(&file),
    ]);
    let is_report = |l: &str| l.starts_with(r#"{"type":"report""#);
    wait_for_line(&log, within(5.0), "report", is_report);

    // logrotate without copytruncate: rename, then sitewatch must recreate the path.
    std::fs::rename(&log, &moved).unwrap();
    wait_for_line(&log, within(5.0), "report in the new file", is_report);
    sw.wait_for_stderr(
        within(1.0),
        &format!(
            "log file {} was moved or deleted (rotated); writing to a new file at that path",
            log.display()
        ),
    );
    assert!(lines_of(&moved).iter().any(|l| is_report(l)));

    // copytruncate: the file is emptied in place; appends go on at its start.
    File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    wait_for_line(&log, within(5.0), "report after truncation", is_report);
    let text = std::fs::read(&log).unwrap();
    assert!(!text.contains(&0), "no hole of zeros before the new lines");
    for line in lines_of(&log) {
        let _: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    sw.sigint();
    let run = sw.finish(within(6.0));
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(count(&run.summary(), "dropped_lines"), 0, "{run}");
}
