//! The `command` channel: run a program with the event in its environment and on its stdin.
//!
//! The program is started directly (`["/usr/local/bin/page", "--team", "web"]`), never through a
//! shell, so nothing in an event (a URL, a failure detail) can be read as shell syntax. With
//! `"shell": true` the one string given is run by `/bin/sh -c`, for those who want pipes.
//!
//! The program gets the JSON document (as a webhook would) on stdin, and these variables, empty
//! when they do not apply (a group or a digest carries its details in the JSON only):
//! `SITEWATCH_EVENT`, `SITEWATCH_TITLE`, `SITEWATCH_MESSAGE`, `SITEWATCH_URL`, `SITEWATCH_NAME`,
//! `SITEWATCH_STATE`, `SITEWATCH_FROM`, `SITEWATCH_REASON`, `SITEWATCH_STATUS`,
//! `SITEWATCH_DETAIL`, `SITEWATCH_SINCE`, `SITEWATCH_DOWN_FOR_S`, `SITEWATCH_COUNT`. The rest of
//! its environment is sitewatch's own. Its stdout is discarded; the start of its stderr is
//! quoted when it fails.
//!
//! Delivery succeeds when the program exits with status 0. Anything else — not found, a
//! non-zero exit, still running at `timeout` (it is then killed) — is a failed attempt.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;

use super::{render, Channel, Notification};
use crate::output::timestamp;

/// Bytes of stderr kept for a failure reason.
const STDERR_KEPT: u64 = 4096;

/// Runs a program per notification.
pub struct Program {
    program: Vec<String>,
    shell: bool,
    timeout: Duration,
}

impl Program {
    /// Runs `program` (with `shell`, `program[0]` through `sh -c`), killed after `timeout`.
    pub fn new(program: Vec<String>, shell: bool, timeout: Duration) -> Program {
        Program {
            program,
            shell,
            timeout,
        }
    }
}

/// The environment variables for `n`, every name always present.
pub fn env_vars(n: &Notification) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("SITEWATCH_EVENT", n.event().to_string()),
        ("SITEWATCH_TITLE", render::title(n)),
        ("SITEWATCH_MESSAGE", render::text(n)),
    ];
    let a = match n {
        Notification::Alert(a) => Some(a),
        _ => None,
    };
    let field = |f: &dyn Fn(&super::Alert) -> Option<String>| a.and_then(f).unwrap_or_default();
    vars.extend([
        ("SITEWATCH_URL", field(&|a| Some(a.url.clone()))),
        ("SITEWATCH_NAME", field(&|a| a.name.clone())),
        ("SITEWATCH_STATE", field(&|a| Some(a.to.to_string()))),
        ("SITEWATCH_FROM", field(&|a| Some(a.from.to_string()))),
        (
            "SITEWATCH_REASON",
            field(&|a| a.reason.map(|r| r.to_string())),
        ),
        (
            "SITEWATCH_STATUS",
            field(&|a| a.status.map(|s| s.to_string())),
        ),
        ("SITEWATCH_DETAIL", field(&|a| a.detail.clone())),
        ("SITEWATCH_SINCE", field(&|a| Some(timestamp(a.since)))),
        (
            "SITEWATCH_DOWN_FOR_S",
            field(&|a| a.down_for.map(|d| d.as_secs().to_string())),
        ),
    ]);
    let count = match n {
        Notification::Alert(_) => "1".to_string(),
        Notification::Group(alerts) => alerts.len().to_string(),
        _ => String::new(),
    };
    vars.push(("SITEWATCH_COUNT", count));
    vars
}

impl Channel for Program {
    fn deliver(&self, n: &Notification) -> Result<(), String> {
        let mut command = if self.shell {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(&self.program[0]);
            c
        } else {
            let mut c = Command::new(&self.program[0]);
            c.args(&self.program[1..]);
            c
        };
        let what = if self.shell {
            "sh -c …".to_string()
        } else {
            self.program[0].clone()
        };
        command
            .envs(env_vars(n))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {what}: {e}"))?;

        // Feed stdin and read stderr on the side, so a program that ignores its stdin or fills
        // its stderr pipe cannot deadlock with us; both threads end when the pipes close.
        let mut input = serde_json::to_vec(&render::json(n)).expect("a notification serializes");
        input.push(b'\n');
        if let Some(mut stdin) = child.stdin.take() {
            let _ = thread::Builder::new()
                .name("sitewatch-command-stdin".into())
                .spawn(move || {
                    let _ = stdin.write_all(&input);
                });
        }
        let (err_tx, err_rx) = bounded(1);
        if let Some(mut stderr) = child.stderr.take() {
            let _ = thread::Builder::new()
                .name("sitewatch-command-stderr".into())
                .spawn(move || {
                    let mut kept = Vec::new();
                    let _ = (&mut stderr).take(STDERR_KEPT).read_to_end(&mut kept);
                    let _ = err_tx.send(kept);
                    let _ = std::io::copy(&mut stderr, &mut std::io::sink());
                });
        }

        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => return Err(format!("cannot wait for {what}: {e}")),
            }
            let now = Instant::now();
            if now >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{what} still running after {}; killed",
                    humantime::format_duration(self.timeout)
                ));
            }
            thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(25));
        };
        if status.success() {
            return Ok(());
        }
        let stderr = err_rx
            .recv_timeout(Duration::from_millis(200))
            .unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Err(if first.is_empty() {
            format!("{what} failed ({status})")
        } else {
            format!("{what} failed ({status}): {}", first.trim())
        })
    }
}
