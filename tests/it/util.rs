//! Helpers shared by the integration tests: config files, a handle on a running `sitewatch`
//! whose output is read line by line with deadlines, and accessors for its JSON lines.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::NamedTempFile;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sitewatch");

/// An instant `secs` seconds from now, for deadlines.
pub fn within(secs: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64(secs)
}

/// Writes `text` to a fresh `*.json` temporary file (deleted on drop).
pub fn config_text(text: &str) -> NamedTempFile {
    let mut file = tempfile::Builder::new()
        .prefix("sitewatch-it-")
        .suffix(".json")
        .tempfile()
        .expect("create temp config");
    file.write_all(text.as_bytes()).expect("write temp config");
    file.flush().expect("flush temp config");
    file
}

/// Writes a JSON config to a temporary file.
pub fn config(value: &Value) -> NamedTempFile {
    config_text(&value.to_string())
}

/// The path of a temp file as a `&str`, for argument lists.
pub fn path(file: &NamedTempFile) -> &str {
    file.path().to_str().expect("temp path is UTF-8")
}

/// Reads `source` line by line and sends each line; the channel disconnects at EOF.
fn pump<R: Read + Send + 'static>(source: R, name: &str) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(format!("it-{name}-reader"))
        .spawn(move || {
            for line in BufReader::new(source).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
        .expect("spawn reader thread");
    rx
}

/// A running `sitewatch`. Dropping the handle kills the process, so a failing test leaves
/// nothing behind.
pub struct Sitewatch {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    out: Vec<String>,
    err: Vec<String>,
    stdout_open: bool,
    stderr_open: bool,
    args: Vec<String>,
}

impl Sitewatch {
    /// Starts the binary with `args`, stdout and stderr piped, stdin closed.
    pub fn spawn<I, S>(args: I) -> Sitewatch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Sitewatch::start(args, None, &[])
    }

    /// Like [`Sitewatch::spawn`], with these variables added to its environment.
    pub fn spawn_env<I, S>(args: I, env: &[(&str, &str)]) -> Sitewatch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Sitewatch::start(args, None, env)
    }

    /// Like [`Sitewatch::spawn`], in working directory `dir`.
    pub fn spawn_in<I, S>(dir: &Path, args: I) -> Sitewatch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Sitewatch::start(args, Some(dir), &[])
    }

    /// Like [`Sitewatch::spawn`], with the open-files limit (soft and hard) set to `limit` for
    /// the child only, through the shell's `ulimit -n`.
    pub fn spawn_with_open_files<I, S>(limit: u32, args: I) -> Sitewatch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!("ulimit -n {limit} && exec \"$0\" \"$@\""),
            BIN,
        ]);
        Sitewatch::launch(command, args, None, &[])
    }

    fn start<I, S>(args: I, dir: Option<&Path>, env: &[(&str, &str)]) -> Sitewatch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Sitewatch::launch(Command::new(BIN), args, dir, env)
    }

    fn launch<I, S>(
        mut command: Command,
        args: I,
        dir: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Sitewatch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = with_no_db(
            args.into_iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect(),
        );
        command
            .args(&args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().expect("start sitewatch");
        let stdout: ChildStdout = child.stdout.take().expect("piped stdout");
        let stderr: ChildStderr = child.stderr.take().expect("piped stderr");
        Sitewatch {
            child,
            stdout: pump(stdout, "stdout"),
            stderr: pump(stderr, "stderr"),
            out: Vec::new(),
            err: Vec::new(),
            stdout_open: true,
            stderr_open: true,
            args,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGINT, as Ctrl-C would.
    pub fn sigint(&self) {
        self.signal("INT");
    }

    /// Sends the signal named `name` (`INT`, `STOP`, `CONT`, …) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(
            status.success(),
            "kill -{name} {} failed: {status}",
            self.pid()
        );
    }

    /// Everything seen so far, for panic messages.
    pub fn transcript(&mut self) -> String {
        self.drain_stderr();
        format!(
            "sitewatch {:?}\n--- stdout ({} lines) ---\n{}\n--- stderr ---\n{}",
            self.args,
            self.out.len(),
            self.out.join("\n"),
            self.err.join("\n")
        )
    }

    fn drain_stderr(&mut self) {
        while self.stderr_open {
            match self.stderr.try_recv() {
                Ok(line) => self.err.push(line),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.stderr_open = false,
            }
        }
    }

    /// The next stdout line, or `None` once stdout is closed. Panics at `deadline`.
    pub fn next_line(&mut self, deadline: Instant, waiting_for: &str) -> Option<String> {
        if !self.stdout_open {
            return None;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.stdout.recv_timeout(wait) {
            Ok(line) => {
                self.out.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.stdout_open = false;
                None
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "deadline passed waiting for {waiting_for}\n{}",
                    self.transcript()
                )
            }
        }
    }

    /// The next stdout line as JSON. Panics at `deadline` or if stdout closes first.
    pub fn next_json(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        self.wait_for_json(deadline, waiting_for, |_| true)
    }

    /// Reads stdout lines (each must be JSON) until one satisfies `pred`, and returns it.
    /// Panics at `deadline` or if stdout closes first.
    pub fn wait_for_json(
        &mut self,
        deadline: Instant,
        waiting_for: &str,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Value {
        loop {
            let Some(line) = self.next_line(deadline, waiting_for) else {
                panic!(
                    "stdout closed while waiting for {waiting_for}\n{}",
                    self.transcript()
                );
            };
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            if pred(&value) {
                return value;
            }
        }
    }

    /// Reads stderr lines until one contains `needle`, and returns it. Panics at `deadline`.
    pub fn wait_for_stderr(&mut self, deadline: Instant, needle: &str) -> String {
        if let Some(line) = self.err.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let problem = match self.stderr.recv_timeout(wait) {
                Ok(line) => {
                    self.err.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => "stderr closed",
                Err(RecvTimeoutError::Timeout) => "deadline passed",
            };
            self.stderr_open = false;
            panic!(
                "{problem} waiting for {needle:?} on stderr\n{}",
                self.transcript()
            );
        }
    }

    /// Reads the rest of stdout and stderr and waits for the exit, all before `deadline`
    /// (the process is killed on drop if it passes).
    pub fn finish(&mut self, deadline: Instant) -> Finished {
        while self.next_line(deadline, "the end of stdout").is_some() {}
        while self.stderr_open {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(wait) {
                Ok(line) => self.err.push(line),
                Err(RecvTimeoutError::Disconnected) => self.stderr_open = false,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "deadline passed waiting for stderr to close\n{}",
                        self.transcript()
                    )
                }
            }
        }
        // Both pipes are closed, so the process has exited or is about to: poll briefly.
        let status = loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    panic!("deadline passed waiting for exit\n{}", self.transcript())
                }
                None => thread::sleep(Duration::from_millis(5)),
            }
        };
        Finished {
            status,
            stdout: self.out.clone(),
            stderr: self.err.clone(),
        }
    }
}

impl Drop for Sitewatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Finished {
    /// How the process ended.
    pub status: ExitStatus,
    /// Every stdout line.
    pub stdout: Vec<String>,
    /// Every stderr line.
    pub stderr: Vec<String>,
}

impl Finished {
    /// The exit code (panics if killed by a signal).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {self}"))
    }

    /// stderr as one string.
    pub fn stderr_text(&self) -> String {
        self.stderr.join("\n")
    }

    /// Every stdout line parsed as JSON.
    pub fn json(&self) -> Vec<Value> {
        self.stdout
            .iter()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}\n{self}"))
            })
            .collect()
    }

    /// The JSON lines of one `"type"`.
    pub fn of_type(&self, kind: &str) -> Vec<Value> {
        self.json()
            .into_iter()
            .filter(|v| v["type"] == kind)
            .collect()
    }

    /// The check lines.
    pub fn checks(&self) -> Vec<Value> {
        self.of_type("check")
    }

    /// The report lines.
    pub fn reports(&self) -> Vec<Value> {
        self.of_type("report")
    }

    /// True when no summary line was printed.
    #[allow(dead_code)]
    pub fn summary_absent(&self) -> bool {
        self.of_type("summary").is_empty()
    }

    /// The summary: asserts it is the one summary line and the last line.
    pub fn summary(&self) -> Value {
        let all = self.json();
        let summaries = all.iter().filter(|v| v["type"] == "summary").count();
        assert_eq!(summaries, 1, "expected exactly one summary line\n{self}");
        let last = all.last().expect("some output").clone();
        assert_eq!(
            last["type"], "summary",
            "summary is not the last line\n{self}"
        );
        last
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ({} lines) ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.stdout.len(),
            self.stdout.join("\n"),
            self.stderr.join("\n")
        )
    }
}

/// Adds `--no-db` to a monitoring run that does not choose a database itself, so tests leave no
/// `sitewatch.db` behind: first for a plain run, after the subcommand for `demo`. `report`,
/// `notify` and `--help`/`--version` are left alone.
fn with_no_db(mut args: Vec<String>) -> Vec<String> {
    let chooses = args
        .iter()
        .any(|a| a == "--db" || a == "--no-db" || a.starts_with("--db="));
    let informational = args.iter().any(|a| a == "--help" || a == "--version");
    if chooses || informational {
        return args;
    }
    match args.first().map(String::as_str) {
        Some("report" | "notify" | "validate" | "check") => {}
        Some("demo") => args.insert(1, "--no-db".into()),
        _ => args.insert(0, "--no-db".into()),
    }
    args
}

/// Runs sitewatch to completion (it must exit before `secs` seconds).
pub fn run<I, S>(args: I, secs: f64) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let deadline = within(secs);
    Sitewatch::spawn(args).finish(deadline)
}

/// `sitewatch --once --format json [extra] CONFIG` over `entries` (a JSON config value).
/// A plain list is run with `retries: 0` as its default, so a failure is final on the first
/// check (a test about retries sets its own, or passes the object form).
pub fn once(entries: &Value, extra: &[&str]) -> Finished {
    let file = match entries {
        Value::Array(_) => {
            config(&serde_json::json!({"defaults": {"retries": 0}, "urls": entries}))
        }
        _ => config(entries),
    };
    let mut args = vec!["--once", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(path(&file));
    run(args, 20.0)
}

/// Checks one config entry once and returns its check line, after checking that the run
/// printed exactly one check and a consistent summary and exited 0 (up) or 1 (down).
pub fn check_one(entry: Value, extra: &[&str]) -> Value {
    let run = once(&Value::Array(vec![entry]), extra);
    let checks = run.checks();
    assert_eq!(checks.len(), 1, "one check line expected\n{run}");
    let check = checks[0].clone();
    let summary = run.summary();
    assert_eq!(summary["checked_total"], 1, "{run}");
    let up = check["up"].as_bool().expect("up is a bool");
    assert_eq!(run.code(), if up { 0 } else { 1 }, "{run}");
    assert_eq!(summary["up_total"], u64::from(up), "{run}");
    assert_rfc3339_ms(check["ts"].as_str().expect("ts is a string"));
    check
}

/// Asserts `ts` looks like `2026-11-23T18:24:58.972Z`.
pub fn assert_rfc3339_ms(ts: &str) {
    let shape: String = ts
        .chars()
        .map(|c| if c.is_ascii_digit() { 'D' } else { c })
        .collect();
    assert_eq!(
        shape, "DDDD-DD-DDTDD:DD:DD.DDDZ",
        "not an RFC 3339 ms UTC time: {ts}"
    );
}

/// A number field as f64 (panics if it is not a number).
pub fn num(v: &Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number in {v}"))
}

/// A count field as u64 (panics if it is not a non-negative integer).
pub fn count(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a count in {v}"))
}
