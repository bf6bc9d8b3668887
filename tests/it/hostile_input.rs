//! Input chosen to break sitewatch (absurd flags, device files, duplicate keys, huge values,
//! pathological globs, an unwritable stdout): each ends in one clear error line and exit 2,
//! never a panic, an abort or a hang.

use std::fs;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::util::{config, config_text, path, run, Finished, BIN};

/// Asserts exit 2, one `sitewatch: error:` line on stderr containing every needle, no panic.
fn assert_clear_error(out: &Finished, needles: &[&str]) {
    assert_eq!(out.code(), 2, "{out}");
    let err = out.stderr_text();
    assert!(!err.contains("panicked"), "{out}");
    assert_eq!(out.stderr.len(), 1, "one error line\n{out}");
    assert!(err.starts_with("sitewatch: error: "), "{out}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing\n{out}");
    }
}

/// Asserts exit 2 and an argument error from the command-line parser naming the flag.
fn assert_flag_error(out: &Finished, needles: &[&str]) {
    assert_eq!(out.code(), 2, "{out}");
    let err = out.stderr_text();
    assert!(!err.contains("panicked"), "{out}");
    assert!(err.starts_with("error: invalid value"), "{out}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing\n{out}");
    }
}

fn a_config() -> tempfile::NamedTempFile {
    config(&json!([{"url": "http://127.0.0.1:9/"}]))
}

#[test]
fn absurd_queue_sizes_are_refused() {
    let file = a_config();
    let out = run(["--once", "--queue", "100000000000", path(&file)], 10.0);
    assert_clear_error(&out, &["--queue 100000000000", "1000000"]);
    let out = run(
        ["--once", "--queue", "18446744073709551615", path(&file)],
        10.0,
    );
    assert_clear_error(&out, &["--queue 18446744073709551615"]);
}

#[test]
fn absurd_durations_are_refused() {
    let file = a_config();
    let out = run(
        ["--once", "--report-every", "500000000000y", path(&file)],
        10.0,
    );
    assert_flag_error(
        &out,
        &["--report-every", "longer than the 100 years accepted"],
    );
    let out = run(["--once", "--duration", "200y", path(&file)], 10.0);
    assert_flag_error(&out, &["--duration", "longer than"]);
}

#[test]
fn report_windows_before_1970_or_of_millennia_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    let out = run(
        ["report", "--db", db.to_str().unwrap(), "--since", "100y"],
        10.0,
    );
    assert_clear_error(&out, &["--since", "before 1970"]);
    let out = run(
        [
            "report",
            "--db",
            db.to_str().unwrap(),
            "--from",
            "1970-01-01",
            "--to",
            "9999-12-31",
        ],
        10.0,
    );
    assert_clear_error(&out, &["longer than the 100 years"]);
}

#[test]
fn a_device_as_the_config_is_refused() {
    let out = run(["--once", "/dev/zero"], 10.0);
    assert_clear_error(&out, &["/dev/zero", "a device"]);
}

#[test]
fn a_key_given_twice_names_the_entry_and_the_key() {
    let file = config_text(
        r#"[{"url": "http://127.0.0.1:9/a"}, {"url": "http://127.0.0.1:9/b", "url": "http://127.0.0.1:9/c"}]"#,
    );
    let out = run(["--once", path(&file)], 10.0);
    assert_clear_error(&out, &["entry 2 (index 1)", "\"url\" is given twice"]);
}

#[test]
fn a_100_mb_invalid_value_gives_a_short_message() {
    let huge = "9".repeat(100 << 20);
    let file = config_text(&format!(
        r#"[{{"url": "http://127.0.0.1:9/", "interval": "{huge}s"}}]"#
    ));
    let out = run(["--once", path(&file)], 60.0);
    assert_clear_error(&out, &["entry 1", "interval", "bytes in all"]);
    assert!(
        out.stderr_text().len() < 4000,
        "{}",
        out.stderr_text().len()
    );
}

#[test]
fn a_glob_with_many_stars_is_answered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    // A database with a monitor whose URL the glob almost matches.
    let file = config(&json!([{"url": format!("http://127.0.0.1:9/{}", "a".repeat(60))}]));
    let first = run(["--once", "--db", db.to_str().unwrap(), path(&file)], 20.0);
    assert_eq!(first.code(), 1, "{first}");
    let glob = format!("{}b", "*a".repeat(40));
    let out = run(
        [
            "report",
            "--db",
            db.to_str().unwrap(),
            "--url",
            &glob,
            "--format",
            "json",
        ],
        20.0,
    );
    assert_eq!(out.code(), 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out.stdout.join("\n")).unwrap();
    assert_eq!(report["monitors"].as_array().unwrap().len(), 0, "{out}");
}

/// `notify test` through a command channel that always works, with `stdout` as its stdout.
fn notify_test_with_stdout(stdout: Stdio) -> std::process::Output {
    let file = config(&json!({
        "urls": [{"url": "http://127.0.0.1:9/"}],
        "notify": [{"type": "command", "name": "ok", "command": ["/bin/true"]}]
    }));
    Command::new(BIN)
        .args(["notify", "test", path(&file)])
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("run sitewatch")
}

#[test]
fn notify_test_with_stdout_full_or_closed_says_so_and_fails() {
    // A pipe whose reader is gone (EPIPE), and a full device (ENOSPC). (A closed descriptor
    // is reopened on /dev/null by the Rust runtime, so writes to it succeed.)
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    for (what, stdout) in [
        ("closed pipe", Stdio::from(writer)),
        ("/dev/full", Stdio::from(full)),
    ] {
        let out = notify_test_with_stdout(stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(
            err.contains("cannot write the test results to stdout") && err.contains("ok OK"),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_config_larger_than_the_cap_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let f = fs::File::create(&big).unwrap();
    // Sparse: costs no disk.
    f.set_len(sitewatch::config::MAX_CONFIG_BYTES + 1).unwrap();
    let out = run(["--once", big.to_str().unwrap()], 10.0);
    assert_clear_error(&out, &["larger than the 256 MiB"]);
}

#[test]
fn csv_cells_a_spreadsheet_would_run_are_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let db = db.to_str().unwrap();
    let file = config(&json!([
        {"url": "http://127.0.0.1:9/", "name": "=HYPERLINK(\"https://evil.example\")", "retries": 0},
        {"url": "http://127.0.0.1:9/b", "name": "@SUM(1+1)", "retries": 0}
    ]));
    let first = run(["--once", "--db", db, path(&file)], 20.0);
    assert_eq!(first.code(), 1, "{first}");
    let csv = run(["report", "--db", db, "--format", "csv"], 10.0);
    assert_eq!(csv.code(), 0, "{csv}");
    let text = csv.stdout.join("\n");
    assert!(
        text.contains(r#""'=HYPERLINK(""https://evil.example"")""#),
        "{text}"
    );
    assert!(text.contains(",'@SUM(1+1),"), "{text}");
    for line in &csv.stdout {
        for cell in line.split(',') {
            assert!(!cell.starts_with(['=', '+', '@']), "{cell} in {line}");
        }
    }
}
