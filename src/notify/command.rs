//! The `command` channel: run a program with the event in its environment and on its stdin.
//!
//! The program is started directly (`["/usr/local/bin/page", "--team", "web"]`), never through a
//! shell, so nothing in an event (a URL, a failure detail) can be read as shell syntax. With
//! `"shell": true` the one string given is run by `/bin/sh -c`, for those who want pipes.
//!
//! The program gets the JSON document (as a webhook would) on stdin, and these variables, empty
//! when they do not apply (a group or a digest carries its details in the JSON only):
//! `SITEWATCH_EVENT`, `SITEWATCH_TITLE`, `SITEWATCH_MESSAGE`, `SITEWATCH_LOCATION`, `SITEWATCH_ID`, `SITEWATCH_URL`,
//! `SITEWATCH_NAME`,
//! `SITEWATCH_STATE`, `SITEWATCH_FROM`, `SITEWATCH_REASON`, `SITEWATCH_STATUS`,
//! `SITEWATCH_DETAIL`, `SITEWATCH_SINCE`, `SITEWATCH_DOWN_FOR_S`, `SITEWATCH_COUNT`. Each value
//! is capped ([`MAX_ENV_VALUE`] bytes, [`MAX_ENV_DETAIL`] for the detail, cut on a character
//! boundary and marked `…`), so a hostile server's text can never push the environment over the
//! kernel's limit and lose the alert: the whole event is on stdin. Of sitewatch's own
//! environment only `PATH`, `HOME`, `LANG` and `TZ` are passed on, so one channel never sees
//! another's secrets (`{"env": …}` values). Its stdout is discarded; the start of its stderr is
//! quoted when it fails.
//!
//! The program runs in a process group of its own. Delivery succeeds when it exits with status
//! 0. Anything else — not found, a non-zero exit, still running at `timeout` — is a failed
//! attempt; at the timeout the whole group is killed (SIGKILL), so what the program started
//! does not live on, holding pipes and descriptors.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;

use super::{render, Channel, Notification};
use crate::output::timestamp;

/// Bytes of stderr kept for a failure reason.
const STDERR_KEPT: u64 = 4096;
/// Longest value of a `SITEWATCH_*` variable, in bytes (the full event is on stdin).
pub const MAX_ENV_VALUE: usize = 1024;
/// Longest `SITEWATCH_DETAIL`, in bytes.
pub const MAX_ENV_DETAIL: usize = 300;
/// Variables of sitewatch's own environment passed on to the program.
const INHERITED: [&str; 4] = ["PATH", "HOME", "LANG", "TZ"];

/// `value` cut to at most `max` bytes on a character boundary, ending in `…` when cut.
fn capped(mut value: String, max: usize) -> String {
    if value.len() <= max {
        return value;
    }
    let mut end = max - '…'.len_utf8();
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.truncate(end);
    value.push('…');
    value
}

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
        (
            "SITEWATCH_LOCATION",
            crate::location::get().unwrap_or_default().to_string(),
        ),
    ];
    let a = match n {
        Notification::Alert(a) => Some(a),
        _ => None,
    };
    let field = |f: &dyn Fn(&super::Alert) -> Option<String>| a.and_then(f).unwrap_or_default();
    vars.extend([
        ("SITEWATCH_ID", field(&|a| Some(a.id.clone()))),
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
    vars.into_iter()
        .map(|(name, value)| {
            let max = if name == "SITEWATCH_DETAIL" {
                MAX_ENV_DETAIL
            } else {
                MAX_ENV_VALUE
            };
            (name, capped(value, max))
        })
        .collect()
}

/// Kills `child`'s whole process group (it leads its own, see `deliver`), then the child.
///
/// The child is not reaped before the group is signalled, so its pid, which is the group's
/// id, cannot have been reused. `killpg` is nix's safe wrapper (nix is already built for the
/// signal handler); a group already gone is not an error worth reporting.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
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
            .env_clear()
            .envs(
                INHERITED
                    .iter()
                    .filter_map(|&k| Some((k, std::env::var_os(k)?))),
            )
            .envs(env_vars(n))
            .process_group(0)
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
                kill_group(&mut child);
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

#[cfg(test)]
mod tests {
    use super::super::render::samples::down;
    use super::*;

    #[test]
    fn every_variable_is_bounded_and_cut_on_a_character_boundary() {
        let mut a = down();
        a.detail = Some("é".repeat(40_000));
        a.name = Some("n".repeat(5000));
        let vars = env_vars(&Notification::Group(vec![a.clone(), a.clone(), a]));
        for (name, value) in &vars {
            let max = if *name == "SITEWATCH_DETAIL" {
                MAX_ENV_DETAIL
            } else {
                MAX_ENV_VALUE
            };
            assert!(value.len() <= max, "{name}: {} bytes", value.len());
        }
        let mut a = down();
        a.detail = Some("é".repeat(1000));
        let vars = env_vars(&Notification::Alert(a));
        let detail = &vars
            .iter()
            .find(|(n, _)| *n == "SITEWATCH_DETAIL")
            .unwrap()
            .1;
        assert!(
            detail.ends_with('…') && detail.len() <= MAX_ENV_DETAIL,
            "{detail}"
        );
    }

    #[test]
    fn a_group_of_three_60_kb_details_is_delivered_whole_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("stdin.json");
        let env = dir.path().join("env.txt");
        let program = Program::new(
            vec![format!(
                "cat > '{}'; env > '{}'",
                out.display(),
                env.display()
            )],
            true,
            Duration::from_secs(10),
        );
        let alerts: Vec<Alert> = (0..3)
            .map(|i| Alert {
                detail: Some(format!("{i}").repeat(60_000)),
                ..down()
            })
            .collect();
        program
            .deliver(&Notification::Group(alerts))
            .expect("delivered");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let events = json["events"].as_array().expect("events");
        assert_eq!(events.len(), 3);
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["detail"].as_str().unwrap().len(), 60_000, "{i}");
        }
        let env = std::fs::read_to_string(&env).unwrap();
        assert!(env.contains("SITEWATCH_COUNT=3"), "{env}");
        assert!(env.len() < 16 * 1024, "environment of {} bytes", env.len());
    }

    use super::super::Alert;
}
