//! Notifications end to end: the binary against a local webhook receiver started by each test
//! (`notify_util::Receiver`), local sites, and small programs for the command channel.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sitewatch::localsite::{refused_url, LocalSite};

use crate::notify_util::Receiver;
use crate::util::{config, count, num, path, run, within, Sitewatch};

/// A config of `urls` notifying `channels`.
fn notify_config(urls: Value, channels: Value) -> tempfile::NamedTempFile {
    config(&json!({"urls": urls, "notify": channels}))
}

fn secs_between(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64()
}

#[test]
fn down_then_up_sends_exactly_one_down_and_one_recovered() {
    let rx = Receiver::start();
    let file = notify_config(
        json!([{"url": rx.url("/site"), "name": "site", "interval": "1s", "retries": 0}]),
        json!([{"type": "webhook", "name": "hook", "url": rx.url("/hook"), "group_window": "200ms",
                "headers": {"Authorization": {"env": "SW_IT_HOOK_TOKEN"}}}]),
    );
    let token = "Bearer it-secret-8f3a";
    let mut sw = Sitewatch::spawn_env(
        ["--format", "json", path(&file)],
        &[("SW_IT_HOOK_TOKEN", token)],
    );
    let deadline = within(15.0);
    sw.wait_for_json(deadline, "a first up check", |v| {
        v["type"] == "check" && v["up"] == true
    });
    rx.set_site(503);
    sw.wait_for_json(deadline, "the down state line", |v| {
        v["type"] == "state" && v["to"] == "down"
    });
    rx.wait_for(1, "/hook", deadline);
    rx.set_site(200);
    sw.wait_for_json(deadline, "the up state line", |v| {
        v["type"] == "state" && v["to"] == "up" && v["from"] == "down"
    });
    rx.wait_for(2, "/hook", deadline);
    sw.sigint();
    let run = sw.finish(within(8.0));
    assert_eq!(run.code(), 0, "{run}");

    let hooks = rx.hooks("/hook");
    assert_eq!(hooks.len(), 2, "{hooks:#?}\n{run}");
    let (down, up) = (hooks[0].json(), hooks[1].json());
    assert_eq!(down["event"], "down", "{down}");
    assert_eq!(down["url"], rx.url("/site"));
    assert_eq!(down["name"], "site");
    assert_eq!(
        (down["from"].as_str(), down["to"].as_str()),
        (Some("up"), Some("down"))
    );
    assert_eq!(
        (down["reason"].as_str(), down["status"].as_u64()),
        (Some("status"), Some(503))
    );
    assert!(
        down["message"].as_str().unwrap().starts_with("DOWN site ("),
        "{down}"
    );
    assert_eq!(up["event"], "recovered", "{up}");
    assert_eq!(
        (up["from"].as_str(), up["to"].as_str()),
        (Some("down"), Some("up"))
    );
    assert!(num(&up, "down_for_s") > 0.0, "{up}");
    assert_eq!(
        up["since"], down["at"],
        "the outage began when the down was sent"
    );
    for h in &hooks {
        assert_eq!(h.header("authorization"), Some(token));
        assert_eq!(h.header("content-type"), Some("application/json"));
    }
    assert!(
        !run.stderr_text().contains("8f3a"),
        "the token is never logged\n{run}"
    );
    assert_eq!(count(&run.summary(), "lost_notifications"), 0, "{run}");
}

#[test]
fn a_glitch_cleared_by_retries_sends_nothing() {
    let site = LocalSite::start().unwrap();
    let rx = Receiver::start();
    // Every other request fails; the retry 200 ms later succeeds.
    let file = notify_config(
        json!([{"url": site.url("/flaky"), "interval": "1s", "retry_delay": "200ms"}]),
        json!([{"type": "webhook", "url": rx.url("/hook"), "group_window": "100ms"}]),
    );
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    let deadline = within(10.0);
    let mut failures = 0;
    while failures < 2 {
        let check = sw.wait_for_json(deadline, "two failed checks", |v| v["type"] == "check");
        if check["up"] == false {
            failures += 1;
        }
    }
    sw.wait_for_json(deadline, "the retry that succeeds", |v| {
        v["type"] == "check" && v["up"] == true
    });
    sw.sigint();
    let run = sw.finish(within(8.0));
    assert_eq!(run.of_type("state").len(), 1, "only unknown -> up\n{run}");
    assert!(rx.hooks("/").is_empty(), "{:#?}", rx.hooks("/"));
}

#[test]
fn reminders_come_on_schedule_while_down() {
    let rx = Receiver::start();
    let file = notify_config(
        json!([{"url": refused_url(), "name": "dead", "interval": "1s", "retries": 0}]),
        json!([{"type": "webhook", "url": rx.url("/hook"), "group_window": "200ms",
                "remind_every": "1s"}]),
    );
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    let hooks = rx.wait_for(3, "/hook", within(12.0));
    sw.sigint();
    let run = sw.finish(within(8.0));
    let events: Vec<Value> = hooks.iter().map(|h| h.json()).collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["down", "reminder", "reminder"], "{run}");
    let gaps = [
        secs_between(hooks[0].at, hooks[1].at),
        secs_between(hooks[1].at, hooks[2].at),
    ];
    for gap in gaps {
        assert!(
            (0.8..1.7).contains(&gap),
            "a reminder every second: {gaps:?}"
        );
    }
    let (r1, r2) = (num(&events[1], "down_for_s"), num(&events[2], "down_for_s"));
    assert!(
        (0.9..1.7).contains(&r1) && (1.9..2.7).contains(&r2),
        "{r1} {r2}"
    );
    assert_eq!(events[1]["since"], events[0]["at"]);
    assert_eq!(
        (events[1]["from"].as_str(), events[1]["to"].as_str()),
        (Some("down"), Some("down"))
    );
}

#[test]
fn a_burst_of_downs_is_one_grouped_message() {
    let rx = Receiver::start();
    let dead = refused_url();
    let urls: Vec<Value> = (0..20)
        .map(|i| {
            json!({"url": format!("{dead}?m={i}"), "name": format!("m{i}"),
                        "interval": "1s", "retries": 0})
        })
        .collect();
    let file = notify_config(
        Value::Array(urls),
        json!([{"type": "webhook", "url": rx.url("/hook"), "group_window": "1s"}]),
    );
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    let deadline = within(10.0);
    for _ in 0..20 {
        sw.wait_for_json(deadline, "20 down state lines", |v| {
            v["type"] == "state" && v["to"] == "down"
        });
    }
    rx.wait_for(1, "/hook", deadline);
    sw.sigint();
    let run = sw.finish(within(8.0));
    // Anything still pending is flushed at exit, so this count is final.
    let hooks = rx.hooks("/hook");
    assert_eq!(hooks.len(), 1, "one message for the burst\n{hooks:#?}");
    let group = hooks[0].json();
    assert_eq!(group["event"], "group", "{group}");
    assert_eq!(group["count"], 20);
    let events = group["events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["event"] == "down"), "{group}");
    let mut names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    names.sort_by_key(|n| n[1..].parse::<u32>().unwrap());
    assert_eq!(names, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
    assert!(group["message"]
        .as_str()
        .unwrap()
        .starts_with("20 monitors down:\n- DOWN m"));
    assert_eq!(count(&run.summary(), "lost_notifications"), 0, "{run}");
}

#[test]
fn a_hanging_webhook_is_retried_and_does_not_delay_checks() {
    let site = LocalSite::start().unwrap();
    let rx = Receiver::start();
    let mut urls = vec![json!({"url": refused_url(), "interval": "1s", "retries": 0})];
    urls.extend((0..5).map(|i| json!({"url": site.url(&format!("/ok?{i}")), "interval": "1s"})));
    let file = notify_config(
        Value::Array(urls),
        json!([{"type": "webhook", "name": "slow-hook", "url": rx.url("/hang"), "timeout": "1s",
                "retries": 2, "retry_delay": "200ms", "group_window": "100ms"}]),
    );
    let mut sw = Sitewatch::spawn(["--format", "json", path(&file)]);
    let deadline = within(12.0);
    // Three attempts, each hanging for its whole 1 s timeout, 200 ms then 400 ms apart.
    let lost = sw.wait_for_stderr(deadline, "notification lost");
    sw.sigint();
    let run = sw.finish(within(8.0));
    assert!(
        lost.contains("slow-hook") && lost.contains("after 3 attempts"),
        "{lost}"
    );
    assert!(lost.contains("timeout"), "{lost}");
    let attempts = rx.hooks("/hang");
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    let (g1, g2) = (
        secs_between(attempts[0].at, attempts[1].at),
        secs_between(attempts[1].at, attempts[2].at),
    );
    assert!(
        g1 >= 1.15 && (1.35..3.0).contains(&g2),
        "timeout + backoff: {g1} {g2}"
    );
    // Meanwhile the healthy sites were checked on time.
    let healthy: Vec<Value> = run
        .checks()
        .into_iter()
        .filter(|c| c["up"] == true)
        .collect();
    assert!(healthy.len() >= 15, "{run}");
    let worst = healthy
        .iter()
        .map(|c| num(c, "lateness_ms"))
        .fold(0.0, f64::max);
    assert!(
        worst < 500.0,
        "checks started at most {worst} ms late\n{run}"
    );
    assert_eq!(count(&run.summary(), "lost_notifications"), 1, "{run}");
}

#[test]
fn a_failing_webhook_is_retried_until_it_succeeds_or_is_reported_lost() {
    let rx = Receiver::start();
    let file = notify_config(
        json!([{"url": refused_url(), "retries": 0}]),
        json!([
            {"type": "webhook", "name": "broken", "url": rx.url("/500"), "retries": 2,
             "retry_delay": "100ms", "group_window": "100ms"},
            {"type": "webhook", "name": "hiccup", "url": rx.url("/fail-once"), "retries": 2,
             "retry_delay": "100ms", "group_window": "100ms"}
        ]),
    );
    let run = run(["--once", "--format", "json", path(&file)], 15.0);
    assert_eq!(run.code(), 1, "{run}");
    assert_eq!(rx.hooks("/500").len(), 3, "1 + 2 retries");
    let hiccup = rx.hooks("/fail-once");
    assert_eq!(hiccup.len(), 2, "delivered on the retry");
    assert_eq!(hiccup[1].json()["event"], "down");
    let stderr = run.stderr_text();
    assert!(
        stderr.contains("notification lost: broken (down): DOWN ")
            && stderr.contains("HTTP 500 Internal Server Error"),
        "{run}"
    );
    assert!(!stderr.contains("notification lost: hiccup"), "{run}");
    assert_eq!(count(&run.summary(), "lost_notifications"), 1, "{run}");
}

/// Writes an executable script into `dir` and returns its path.
fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn the_command_channel_gets_the_event_in_its_environment_and_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap().to_string();
    // Run directly, not through a shell: the argument below reaches it verbatim.
    let program = script(
        dir.path(),
        "hook.sh",
        "cat > \"$1/stdin.json\"; env > \"$1/env.txt\"; printf '%s' \"$2\" > \"$1/arg.txt\"",
    );
    let dead = refused_url();
    let file = notify_config(
        json!([{"url": dead, "name": "dead", "retries": 0}]),
        json!([{"type": "command", "command": [program, out, "$HOME; touch pwned"],
                "group_window": "100ms"}]),
    );
    let run = run(["--once", "--format", "json", path(&file)], 15.0);
    assert_eq!(run.code(), 1, "{run}");
    let stdin: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("stdin.json")).unwrap()).unwrap();
    assert_eq!(stdin["event"], "down");
    assert_eq!(stdin["url"], dead);
    assert_eq!(stdin["id"], "dead");
    assert_eq!(stdin["reason"], "connect");
    let env = fs::read_to_string(dir.path().join("env.txt")).unwrap();
    for line in [
        "SITEWATCH_EVENT=down".to_string(),
        format!("SITEWATCH_URL={dead}"),
        "SITEWATCH_NAME=dead".into(),
        "SITEWATCH_ID=dead".into(),
        "SITEWATCH_STATE=down".into(),
        "SITEWATCH_FROM=unknown".into(),
        "SITEWATCH_REASON=connect".into(),
        "SITEWATCH_DOWN_FOR_S=0".into(),
        "SITEWATCH_COUNT=1".into(),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing in\n{env}");
    }
    assert!(
        env.lines()
            .any(|l| l.starts_with("SITEWATCH_MESSAGE=DOWN dead (")),
        "{env}"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("arg.txt")).unwrap(),
        "$HOME; touch pwned"
    );
    assert!(!dir.path().join("pwned").exists());
    assert!(!std::path::Path::new("pwned").exists());
}

#[test]
fn notify_test_runs_a_shell_command_only_when_asked_and_kills_a_slow_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shell.txt");
    let file = notify_config(
        json!([{"url": "http://127.0.0.1:9/"}]),
        json!([
            {"type": "command", "name": "sh", "shell": true,
             "command": format!("printf '%s' \"$SITEWATCH_EVENT\" > '{}'", out.display())},
            {"type": "command", "name": "slow", "command": ["/bin/sleep", "5"], "timeout": "300ms"},
            {"type": "command", "name": "failing", "command": ["/bin/sh", "-c", "echo no route >&2; exit 3"]}
        ]),
    );
    let ok = run(["notify", "test", "sh", path(&file)], 10.0);
    assert_eq!(ok.code(), 0, "{ok}");
    assert_eq!(ok.stdout, ["sh (command): OK"]);
    assert_eq!(fs::read_to_string(&out).unwrap(), "test");

    let started = Instant::now();
    let slow = run(["notify", "test", "slow", path(&file)], 10.0);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "killed at its timeout"
    );
    assert_eq!(slow.code(), 1, "{slow}");
    assert_eq!(
        slow.stdout,
        ["slow (command): failed: /bin/sleep still running after 300ms; killed"]
    );

    let failing = run(["notify", "test", "failing", path(&file)], 10.0);
    assert_eq!(failing.code(), 1, "{failing}");
    assert_eq!(
        failing.stdout,
        ["failing (command): failed: /bin/sh failed (exit status: 3): no route"]
    );
}

#[test]
fn notify_test_sends_a_test_event_through_each_channel_and_reports_each() {
    let rx = Receiver::start();
    let file = notify_config(
        json!([{"url": "http://127.0.0.1:9/"}]),
        json!([
            {"type": "webhook", "name": "good", "url": rx.url("/hook")},
            {"type": "webhook", "name": "bad", "url": rx.url("/500")}
        ]),
    );
    // A lone argument ending in .json is the config.
    let all = run(["notify", "test", path(&file)], 15.0);
    assert_eq!(all.code(), 1, "{all}");
    assert_eq!(
        all.stdout,
        [
            "good (webhook): OK",
            "bad (webhook): failed: HTTP 500 Internal Server Error: ok"
        ]
    );
    let test = rx.hooks("/hook")[0].json();
    assert_eq!(test["event"], "test");
    assert_eq!(test["channel"], "good");
    assert_eq!(rx.hooks("/500").len(), 1, "one attempt, no retries");

    let one = run(["notify", "test", "good", path(&file)], 15.0);
    assert_eq!(one.code(), 0, "{one}");
    assert_eq!(one.stdout, ["good (webhook): OK"]);

    let unknown = run(["notify", "test", "nope", path(&file)], 15.0);
    assert_eq!(unknown.code(), 2, "{unknown}");
    assert!(
        unknown
            .stderr_text()
            .contains("no channel is named \"nope\"; the channels are good, bad"),
        "{unknown}"
    );
}

#[test]
fn chat_channels_post_their_documented_payloads() {
    let rx = Receiver::start();
    let file = notify_config(
        json!([{"url": "http://127.0.0.1:9/"}]),
        json!([
            {"type": "slack", "url": rx.url("/slack")},
            {"type": "discord", "url": rx.url("/discord"), "username": "sitewatch"},
            {"type": "ntfy", "url": rx.url("/ntfy/alerts"), "token": {"env": "SW_IT_NTFY_TOKEN"}}
        ]),
    );
    let mut sw = Sitewatch::spawn_env(
        ["notify", "test", path(&file)],
        &[("SW_IT_NTFY_TOKEN", "tk_it_123")],
    );
    let done = sw.finish(within(15.0));
    assert_eq!(done.code(), 0, "{done}");
    let message = "Test notification from sitewatch to channel";
    let slack = rx.hooks("/slack")[0].json();
    assert_eq!(slack.as_object().unwrap().len(), 3, "{slack}");
    assert_eq!(slack["unfurl_links"], false, "{slack}");
    assert!(
        slack["text"].as_str().unwrap().starts_with(message),
        "{slack}"
    );
    let discord = rx.hooks("/discord")[0].json();
    assert!(discord["content"].as_str().unwrap().starts_with(message));
    assert_eq!(discord["username"], "sitewatch");
    assert_eq!(discord["allowed_mentions"], json!({"parse": []}));
    assert_eq!(discord["flags"], 4, "SUPPRESS_EMBEDS");
    let ntfy = &rx.hooks("/ntfy/alerts")[0];
    assert!(ntfy.text().starts_with(message), "{ntfy:?}");
    assert_eq!(ntfy.header("title"), Some("sitewatch test notification"));
    assert_eq!(ntfy.header("priority"), Some("3"));
    assert_eq!(ntfy.header("tags"), Some("test_tube,sitewatch"));
    assert_eq!(ntfy.header("authorization"), Some("Bearer tk_it_123"));
}

#[test]
fn bad_notify_config_is_an_error_naming_the_channel_or_entry() {
    let file = notify_config(
        json!([{"url": "http://127.0.0.1:9/"}]),
        json!([{"type": "webhook", "name": "hook", "url": "http://127.0.0.1:9/",
                "headers": {"Authorization": {"env": "SW_IT_SURELY_UNSET"}}}]),
    );
    let r = run(["--once", path(&file)], 10.0);
    assert_eq!(r.code(), 2, "{r}");
    assert!(
        r.stderr_text().contains(
            "notify: channel 1 (\"hook\", webhook): header \"Authorization\": environment \
             variable SW_IT_SURELY_UNSET is not set"
        ),
        "{r}"
    );
    let file = notify_config(
        json!([{"url": "http://127.0.0.1:9/", "notify": ["pager"]}]),
        json!([{"type": "webhook", "name": "hook", "url": "http://127.0.0.1:9/"}]),
    );
    let r = run(["--once", path(&file)], 10.0);
    assert_eq!(r.code(), 2, "{r}");
    assert!(
        r.stderr_text().contains(
            "entry 1 (index 0, \"http://127.0.0.1:9/\"): notify: unknown channel \"pager\"; \
             the channels are \"hook\""
        ),
        "{r}"
    );
}
