//! Secrets stay secret and programs stay contained: userinfo and `{"env": …}` values never
//! reach any output, the command channel sees only its own variables and its process group
//! dies at the timeout, webhooks do not follow redirects, and files sitewatch creates are
//! private.

use std::fs;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::notify_util::Receiver;
use crate::util::{config, path, run, within};

/// Whether process `pid` is gone (or a zombie no one has reaped yet).
fn gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ..." — the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_timed_out_command_is_killed_with_everything_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    let file = config(&json!({
        "urls": [{"url": "http://127.0.0.1:9/"}],
        "notify": [{"type": "command", "name": "slow", "shell": true, "timeout": "500ms",
                    "command": format!("sleep 30 & echo $! > '{}'; wait", pidfile.display())}]
    }));
    let out = run(["notify", "test", path(&file)], 15.0);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stdout[0].contains("killed"), "{out}");
    let pid: u32 = fs::read_to_string(&pidfile)
        .expect("the command wrote its grandchild's pid")
        .trim()
        .parse()
        .unwrap();
    let deadline = within(5.0);
    while !gone(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "grandchild {pid} still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_command_sees_none_of_sitewatchs_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env.txt");
    let file = config(&json!({
        "urls": [{"url": "http://127.0.0.1:9/"}],
        "notify": [
            {"type": "command", "name": "dump", "shell": true,
             "command": format!("env > '{}'", env_file.display())},
            {"type": "webhook", "name": "other", "url": "http://127.0.0.1:9/hook",
             "headers": {"Authorization": {"env": "SW_IT_OTHER_TOKEN"}}}
        ]
    }));
    let mut sw = crate::util::Sitewatch::spawn_env(
        ["notify", "test", "dump", path(&file)],
        &[("SW_IT_OTHER_TOKEN", "tok-s3cret"), ("LANG", "C.UTF-8")],
    );
    let out = sw.finish(within(15.0));
    assert_eq!(out.code(), 0, "{out}");
    let env = fs::read_to_string(&env_file).unwrap();
    assert!(!env.contains("s3cret"), "{env}");
    assert!(!env.contains("SW_IT_OTHER_TOKEN"), "{env}");
    assert!(env.contains("SITEWATCH_EVENT=test"), "{env}");
    assert!(env.contains("LANG=C.UTF-8"), "{env}");
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, _)| n))
        .collect();
    for name in names {
        assert!(
            name.starts_with("SITEWATCH_")
                || ["PATH", "HOME", "LANG", "TZ", "PWD", "SHLVL", "_", "OLDPWD"].contains(&name),
            "unexpected variable {name} in {env}"
        );
    }
}

/// Every regular file under `dir`, with its permission bits.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        out.push((
            e.file_name().to_string_lossy().into_owned(),
            e.metadata().unwrap().permissions().mode() & 0o777,
        ));
    }
    out.sort();
    out
}

#[test]
fn a_webhook_answered_with_a_redirect_failed_and_its_headers_went_nowhere_else() {
    let rx = Receiver::start();
    let file = config(&json!({
        "urls": [{"url": "http://127.0.0.1:9/"}],
        "notify": [{"type": "webhook", "name": "moved", "url": rx.url("/redirect"),
                    "headers": {"X-Token": "tok-s3cret"}}]
    }));
    let out = run(["notify", "test", path(&file)], 15.0);
    assert_eq!(out.code(), 1, "{out}");
    assert_eq!(out.stdout.len(), 1, "{out}");
    assert!(
        out.stdout[0].starts_with("moved (webhook): failed: HTTP 307")
            && out.stdout[0].contains("redirects are not followed"),
        "{out}"
    );
    assert_eq!(rx.hooks("/redirect").len(), 1);
    assert!(rx.hooks("/stolen").is_empty(), "the redirect was followed");
}

#[test]
fn files_sitewatch_creates_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = config(&json!([{"url": "http://127.0.0.1:9/", "interval": "1s"}]));
    // umask 000 would make every file world-readable and writable by default.
    let mut child = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(crate::util::BIN)
        .args(["--db", "h.db", "--log-file", "a.log", path(&cfg)])
        .current_dir(d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = within(15.0);
    let want = ["a.log", "h.db", "h.db-shm", "h.db-wal", "h.db.lock"];
    while modes(d).len() < want.len() {
        assert!(std::time::Instant::now() < deadline, "{:?}", modes(d));
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = modes(d);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen,
        want.iter()
            .map(|n| (n.to_string(), 0o600))
            .collect::<Vec<_>>()
    );

    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(crate::util::BIN)
        .args(["report", "--db", "h.db", "--format", "html", "-o", "r.html"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        modes(d).contains(&("r.html".to_string(), 0o600)),
        "{:?}",
        modes(d)
    );
}

#[test]
fn a_symlink_planted_in_a_shared_directory_is_not_written_through() {
    use std::os::unix::fs::PermissionsExt;
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    let shared = tempfile::tempdir().unwrap();
    fs::set_permissions(shared.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    for name in ["a.log", "h.db", "r.csv"] {
        std::os::unix::fs::symlink(&victim, shared.path().join(name)).unwrap();
    }
    let cfg = config(&json!([{"url": "http://127.0.0.1:9/", "retries": 0}]));
    let p = |n: &str| shared.path().join(n).to_str().unwrap().to_string();
    let log = run(["--once", "--log-file", &p("a.log"), path(&cfg)], 10.0);
    assert_eq!(log.code(), 2, "{log}");
    assert!(log.stderr_text().contains("is a symbolic link"), "{log}");
    let db = run(["--once", "--db", &p("h.db"), path(&cfg)], 10.0);
    assert_eq!(db.code(), 2, "{db}");
    assert!(db.stderr_text().contains("h.db is a symbolic link"), "{db}");
    let private_db = victim_dir.path().join("h.db");
    let private_db = private_db.to_str().unwrap();
    let first = run(["--once", "--db", private_db, path(&cfg)], 10.0);
    assert_eq!(first.code(), 1, "{first}");
    let report = run(
        [
            "report",
            "--db",
            private_db,
            "--format",
            "csv",
            "-o",
            &p("r.csv"),
        ],
        10.0,
    );
    assert_eq!(report.code(), 2, "{report}");
    assert!(
        report.stderr_text().contains("r.csv is a symbolic link"),
        "{report}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn userinfo_and_env_headers_are_sent_but_shown_nowhere() {
    let site = sitewatch::localsite::LocalSite::start().unwrap();
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let url = site
        .url("/status/500")
        .replace("http://", "http://alice:s3cret@");
    let cfg = config(&json!({
        "urls": [{"url": url, "retries": 0,
                  "headers": {"X-Api-Key": {"env": "SW_IT_API_KEY"}}}],
        "notify": [
            {"type": "webhook", "name": "hook", "url": rx.url("/hook"), "group_window": "100ms"},
            {"type": "command", "name": "cmd", "shell": true, "group_window": "100ms",
             "command": format!("env > '{}'; cat > '{}'", d("env.txt"), d("stdin.json"))}
        ]
    }));
    let mut sw = crate::util::Sitewatch::spawn_env(
        [
            "--once",
            "--db",
            &d("h.db"),
            "--log-file",
            &d("a.log"),
            path(&cfg),
        ],
        &[("SW_IT_API_KEY", "key-s3cret")],
    );
    let out = sw.finish(within(20.0));
    assert_eq!(out.code(), 1, "{out}");

    // Sent: Basic auth from the userinfo, and the header from the environment.
    let request = site
        .requests()
        .into_iter()
        .find(|r| r.path == "/status/500")
        .expect("the site was checked");
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("authorization").as_deref(),
        Some("Basic YWxpY2U6czNjcmV0")
    );
    assert_eq!(header("x-api-key").as_deref(), Some("key-s3cret"));

    // Shown nowhere.
    let hooks = rx.wait_for(1, "/hook", within(10.0));
    let mut places: Vec<(String, String)> = vec![
        ("stdout".into(), out.stdout.join("\n")),
        ("stderr".into(), out.stderr_text()),
        ("log file".into(), fs::read_to_string(d("a.log")).unwrap()),
        ("webhook".into(), hooks[0].text()),
        (
            "command env".into(),
            fs::read_to_string(d("env.txt")).unwrap(),
        ),
        (
            "command stdin".into(),
            fs::read_to_string(d("stdin.json")).unwrap(),
        ),
    ];
    // The database file and its write-ahead log as one place: whether a row is still in the
    // log or already checkpointed into the file when the run ends is SQLite's timing.
    let mut database = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(bytes) = fs::read(d(&format!("h.db{suffix}"))) {
            database.extend_from_slice(&bytes);
        }
    }
    places.push((
        "database".into(),
        String::from_utf8_lossy(&database).into_owned(),
    ));
    for format in ["table", "json", "csv", "html"] {
        let report = run(["report", "--db", &d("h.db"), "--format", format], 10.0);
        assert_eq!(report.code(), 0, "{report}");
        places.push((format!("{format} report"), report.stdout.join("\n")));
    }
    for (place, text) in &places {
        assert!(!text.contains("s3cret"), "secret in the {place}:\n{text}");
    }
    for place in [
        "stdout",
        "log file",
        "webhook",
        "command env",
        "database",
        "json report",
    ] {
        let (_, text) = places.iter().find(|(p, _)| p == place).unwrap();
        assert!(
            text.contains("alice:***@127.0.0.1"),
            "no redacted URL in the {place}:\n{text}"
        );
    }
}

#[test]
fn reports_redact_passwords_in_databases_written_before_redaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let db = db.to_str().unwrap();
    let cfg = config(&json!([{"url": "http://127.0.0.1:9/old", "retries": 0}]));
    assert_eq!(run(["--once", "--db", db, path(&cfg)], 10.0).code(), 1);
    // What an older sitewatch stored for https://bob:hunter2@…
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "UPDATE monitors SET url = 'http://bob:hunter2@127.0.0.1:9/old'",
        [],
    )
    .unwrap();
    drop(conn);
    for format in ["table", "json", "csv", "html"] {
        let report = run(["report", "--db", db, "--format", format], 10.0);
        assert_eq!(report.code(), 0, "{report}");
        let text = report.stdout.join("\n");
        assert!(!text.contains("hunter2"), "{format}: {text}");
        assert!(text.contains("bob:***@127.0.0.1"), "{format}: {text}");
    }
}
