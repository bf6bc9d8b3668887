//! A sitewatch fleet end to end, on this machine: the shipped `examples/prometheus/` files checked
//! by `promtool` and `amtool`, then run for real. Three sitewatch instances stand for three
//! locations (each sends a header naming its location to a local site that fails for the locations
//! the test picks), a real Prometheus scrapes them with the shipped rules (`for:` shortened to 0 s),
//! and a real Alertmanager routes the quorum alert to a local webhook receiver.
//!
//! Needs Debian's `prometheus` (`prometheus`, `promtool`) and `prometheus-alertmanager`
//! (`prometheus-alertmanager`, `amtool`); `scripts/test.sh` installs them. Everything listens on
//! 127.0.0.1 and every child process is killed when the test ends, passed or not.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::metrics::{encode, free_port, serve, Killed};
use crate::notify_util::Receiver;
use crate::util::{config, within, Sitewatch};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus")
}

/// Runs `program args` in `examples/prometheus`; panics with its output unless it succeeds.
fn tool(program: &str, package: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(examples())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): install Debian's `{package}` package \
                 (apt-get install {package}); scripts/test.sh does this"
            )
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn shipped_prometheus_and_alertmanager_configs_pass_their_own_checkers() {
    tool(
        "promtool",
        "prometheus",
        &["check", "config", "prometheus.yml"],
    );
    tool("promtool", "prometheus", &["check", "rules", "rules.yml"]);
    // The quorum, absence and wedged-instance rules against series written in the test file.
    tool(
        "promtool",
        "prometheus",
        &["test", "rules", "rules_test.yml"],
    );
    tool(
        "amtool",
        "prometheus-alertmanager",
        &["check-config", "alertmanager.yml"],
    );
}

/// A local site whose answer depends on the `X-Location` header of the request: 500 for the
/// locations in the failing set, 200 for every other. One thread per connection, one request each.
struct LocationSite {
    addr: SocketAddr,
    failing: Arc<Mutex<HashSet<String>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl LocationSite {
    fn start() -> LocationSite {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the site");
        let addr = listener.local_addr().unwrap();
        let failing = Arc::new(Mutex::new(HashSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (Arc::clone(&failing), Arc::clone(&stop));
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let f = Arc::clone(&f);
                thread::spawn(move || answer(stream, &f));
            }
        });
        LocationSite {
            addr,
            failing,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/shop", self.addr)
    }

    /// The site fails for exactly these locations from now on.
    fn fail_for(&self, locations: &[&str]) {
        *self.failing.lock().unwrap() = locations.iter().map(|l| l.to_string()).collect();
    }
}

fn answer(mut stream: TcpStream, failing: &Mutex<HashSet<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let location = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("x-location"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let status = if failing.lock().unwrap().contains(&location) {
        "500 Internal Server Error"
    } else {
        "200 OK"
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
}

impl Drop for LocationSite {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Prometheus's query API; `None` while it is not answering or the result is empty.
fn query(port: u16, q: &str) -> Option<Vec<Value>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}/api/v1/query?query={}", encode(q));
    let mut r = agent.get(url).call().ok()?;
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()?;
    let result = v["data"]["result"].as_array()?.clone();
    (!result.is_empty()).then_some(result)
}

/// Polls Prometheus until `q` has a non-empty result, within `secs`; panics with its log.
fn wait_query(port: u16, q: &str, secs: f64, log: &Path) -> Vec<Value> {
    let deadline = within(secs);
    loop {
        if let Some(result) = query(port, q) {
            return result;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus never answered {q}; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        // Prometheus scrapes and evaluates every second: ask again a little later, not in a spin.
        thread::sleep(Duration::from_millis(200));
    }
}

/// Starts a program of a Debian package, its log in `dir/name.log`; killed when dropped.
fn start(program: &str, package: &str, args: &[String], dir: &Path, name: &str) -> Killed {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): install Debian's `{package}` package \
                 (apt-get install {package}); scripts/test.sh does this"
            )
        });
    Killed(child)
}

const LOCATIONS: [&str; 3] = ["eu-west", "us-east", "ap-south"];

/// One sitewatch instance at `location` (its own `location` label too): checks the site every
/// second, no retries, sending `X-Location: location`. Returns it and its `host:port`.
fn instance(site: &LocationSite, location: &str) -> (Sitewatch, String, tempfile::NamedTempFile) {
    let cfg = config(&json!({
        "location": location,
        "defaults": {"interval": "1s", "timeout": "2s", "retries": 0, "max_backoff": "1s",
                     "headers": {"X-Location": location}},
        "urls": [{"url": site.url(), "name": "shop"}]
    }));
    let (run, base) = serve(&cfg);
    (run, base.trim_start_matches("http://").to_string(), cfg)
}

/// The shipped prometheus.yml pointed at this test's instances and Alertmanager: scrapes every 2 s,
/// rules every second.
fn prometheus_config(targets: &[String], alertmanager: &str) -> String {
    let shipped = std::fs::read_to_string(examples().join("prometheus.yml")).unwrap();
    let mut text = shipped
        .replace(
            "scrape_interval: 15s",
            // 2 s, not 1 s: a scrape timing out on a busy machine would make the series stale and
            // the alert resolve and fire again.
            "scrape_interval: 2s\n  scrape_timeout: 2s",
        )
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
        .replace(
            "['alertmanager-1:9093', 'alertmanager-2:9093']",
            &format!("['{alertmanager}']"),
        );
    for (location, target) in LOCATIONS.iter().zip(targets) {
        let shipped_target = format!("sitewatch-{location}:9736");
        assert!(
            text.contains(&shipped_target),
            "{shipped_target} in prometheus.yml"
        );
        text = text.replace(&shipped_target, target);
    }
    text
}

/// The shipped alertmanager.yml sending to `url`, with waits of a second and no repeats.
fn alertmanager_config(url: &str) -> String {
    let shipped = std::fs::read_to_string(examples().join("alertmanager.yml")).unwrap();
    for needle in [
        "group_wait: 30s",
        "group_interval: 5m",
        "repeat_interval: 4h",
    ] {
        assert!(shipped.contains(needle), "{needle} in alertmanager.yml");
    }
    shipped
        .replace("group_wait: 30s", "group_wait: 1s")
        .replace("group_interval: 5m", "group_interval: 1s")
        .replace("http://receiver:5001/sitewatch", url)
}

#[test]
fn a_quorum_of_two_locations_pages_once_and_one_location_alone_never() {
    let site = LocationSite::start();
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("prometheus.log");

    let mut instances = Vec::new();
    let mut targets = Vec::new();
    for location in LOCATIONS {
        let (run, target, cfg) = instance(&site, location);
        instances.push((run, cfg));
        targets.push(target);
    }

    let (_alertmanager, am_port) = alertmanager(dir.path(), &receiver.url("/am"));

    // The shipped rules with `for:` shortened, so the test waits seconds, not minutes.
    let rules = std::fs::read_to_string(examples().join("rules.yml")).unwrap();
    assert!(rules.contains("for: 2m"), "SitewatchDownQuorum has for: 2m");
    std::fs::write(
        dir.path().join("rules.yml"),
        rules.replace("for: 2m", "for: 0s"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        prometheus_config(&targets, &format!("127.0.0.1:{am_port}")),
    )
    .unwrap();
    let port = free_port();
    let _prometheus = start(
        "prometheus",
        "prometheus",
        &[
            format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ],
        dir.path(),
        "prometheus",
    );

    // All three locations report the site up, each under its own location label.
    wait_query(
        port,
        "count(sitewatch_up{id=\"shop\"} == 1) == 3",
        60.0,
        &log,
    );

    // One location sees it fail: the recording rule counts 1 for a few evaluations, no alert.
    site.fail_for(&["eu-west"]);
    wait_query(
        port,
        "sitewatch_up{id=\"shop\",location=\"eu-west\"} == 0",
        30.0,
        &log,
    );
    wait_query(
        port,
        "count_over_time(sitewatch:locations_down:count{id=\"shop\"}[5s]) >= 3 \
         and max_over_time(sitewatch:locations_down:count{id=\"shop\"}[5s]) == 1",
        30.0,
        &log,
    );
    assert_eq!(
        query(
            port,
            "count_over_time(ALERTS{alertname=\"SitewatchDownQuorum\"}[1m])"
        ),
        None,
        "one location alone raised the quorum alert"
    );

    // Two of three: exactly one firing notification reaches the receiver.
    site.fail_for(&["eu-west", "us-east"]);
    let hooks = receiver.wait_for(1, "/am", within(60.0));
    let firing = hooks[0].json();
    assert_eq!(firing["status"], "firing", "{firing:#}");
    let alerts = firing["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{firing:#}");
    assert_eq!(alerts[0]["labels"]["alertname"], "SitewatchDownQuorum");
    assert_eq!(alerts[0]["labels"]["id"], "shop");
    assert_eq!(alerts[0]["labels"]["url"], site.url());
    assert_eq!(
        alerts[0]["annotations"]["summary"],
        "shop is down from 2 locations"
    );

    // Recovery: one resolved notification, and nothing else in between.
    site.fail_for(&[]);
    let hooks = receiver.wait_for(2, "/am", within(60.0));
    let statuses: Vec<String> = hooks
        .iter()
        .map(|h| h.json()["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, ["firing", "resolved"], "{hooks:#?}");
    let resolved = hooks[1].json();
    assert_eq!(resolved["alerts"][0]["labels"]["id"], "shop");
    assert_eq!(resolved["alerts"].as_array().unwrap().len(), 1);
    // The receiver's log, for `--nocapture` readers.
    for hook in &hooks {
        eprintln!("receiver got POST {}: {}", hook.path, hook.text());
    }

    for (mut run, _cfg) in instances {
        run.sigint();
        let _ = run.finish(within(20.0));
    }
}

/// Starts sitewatch on `cfg` as shard `shard`, status server on a free port; returns its `host:port`.
fn shard(cfg: &tempfile::NamedTempFile, shard: &str) -> (Sitewatch, String) {
    let mut run = Sitewatch::spawn([
        crate::util::path(cfg),
        "--no-db",
        "--shard",
        shard,
        "--listen",
        "127.0.0.1:0",
        "--format",
        "json",
    ]);
    let line = run.wait_for_stderr(within(20.0), "listening on http://");
    let addr = line
        .split("listening on http://")
        .nth(1)
        .expect("address after 'listening on'")
        .trim()
        .trim_end_matches('/')
        .to_string();
    (run, addr)
}

#[test]
fn three_shards_under_one_prometheus_hold_every_monitor_exactly_once() {
    const N: usize = 24;
    let site = LocationSite::start();
    let urls: Vec<Value> = (0..N)
        .map(|i| json!({"url": format!("{}?n={i}", site.url()), "name": format!("page {i}")}))
        .collect();
    let cfg = config(&json!({"defaults": {"interval": "1s", "retries": 0}, "urls": urls}));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("prometheus.log");
    let mut shards = Vec::new();
    let mut targets = String::new();
    for k in 1..=3 {
        let (run, addr) = shard(&cfg, &format!("{k}/3"));
        targets.push_str(&format!(
            "      - {{targets: ['{addr}'], labels: {{shard: '{k}'}}}}\n"
        ));
        shards.push(run);
    }
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n  \
             - job_name: sitewatch\n    honor_labels: true\n    static_configs:\n{targets}"
        ),
    )
    .unwrap();
    let port = free_port();
    let _prometheus = start(
        "prometheus",
        "prometheus",
        &[
            format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ],
        dir.path(),
        "prometheus",
    );

    // Every monitor once in Prometheus: as many ids as monitors, none from two shards.
    wait_query(port, &format!("count(sitewatch_up) == {N}"), 60.0, &log);
    let per_id = wait_query(port, "count by (id) (sitewatch_up)", 10.0, &log);
    assert_eq!(per_id.len(), N, "{per_id:#?}");
    for row in &per_id {
        assert_eq!(row["value"][1], "1", "a monitor in two shards: {row}");
    }
    // Each monitor checked by exactly one shard (its checks counted by one instance only), and
    // every shard holds some.
    let checked = wait_query(
        port,
        "count by (id) (sitewatch_checks_total > 0)",
        10.0,
        &log,
    );
    assert_eq!(checked.len(), N, "{checked:#?}");
    assert!(
        checked.iter().all(|row| row["value"][1] == "1"),
        "{checked:#?}"
    );
    let per_shard = wait_query(port, "count by (shard) (sitewatch_up)", 10.0, &log);
    assert_eq!(
        per_shard.len(),
        3,
        "a shard holds no monitor: {per_shard:#?}"
    );

    for mut run in shards {
        run.sigint();
        let _ = run.finish(within(20.0));
    }
}

/// Starts the shipped Alertmanager config (waits shortened) in `dir`, sending to `url`; returns
/// it and its port.
fn alertmanager(dir: &Path, url: &str) -> (Killed, u16) {
    let port = free_port();
    std::fs::write(dir.join("alertmanager.yml"), alertmanager_config(url)).unwrap();
    let am = start(
        "prometheus-alertmanager",
        "prometheus-alertmanager",
        &[
            format!("--config.file={}", dir.join("alertmanager.yml").display()),
            format!("--storage.path={}", dir.join("am").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".to_string(),
        ],
        dir,
        "alertmanager",
    );
    (am, port)
}

#[test]
fn two_replicas_of_one_location_notify_once_per_transition_through_alertmanager() {
    let site = LocationSite::start();
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let (_am, am_port) = alertmanager(dir.path(), &receiver.url("/ha"));
    // Two replicas with one config: same location, same monitor, same channel.
    let cfg = config(&json!({
        "location": "sa-east",
        "defaults": {"interval": "1s", "timeout": "2s", "retries": 0, "max_backoff": "1s",
                     "headers": {"X-Location": "sa-east"}},
        "urls": [{"url": site.url(), "name": "shop"}],
        "notify": [{"type": "alertmanager", "name": "am",
                    "urls": [format!("http://127.0.0.1:{am_port}")]}],
    }));
    let replicas: Vec<Sitewatch> = (0..2)
        .map(|_| Sitewatch::spawn(["--format", "json", "--no-db", crate::util::path(&cfg)]))
        .collect();

    site.fail_for(&["sa-east"]);
    let hooks = receiver.wait_for(1, "/ha", within(60.0));
    let firing = hooks[0].json();
    assert_eq!(firing["status"], "firing", "{firing:#}");
    let alerts = firing["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "two replicas made two alerts: {firing:#}");
    assert_eq!(alerts[0]["labels"]["alertname"], "SitewatchDown");
    assert_eq!(alerts[0]["labels"]["id"], "shop");
    assert_eq!(alerts[0]["labels"]["location"], "sa-east");

    site.fail_for(&[]);
    let hooks = receiver.wait_for(2, "/ha", within(60.0));
    let statuses: Vec<String> = hooks
        .iter()
        .map(|h| h.json()["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, ["firing", "resolved"], "{hooks:#?}");
    assert_eq!(hooks[1].json()["alerts"].as_array().unwrap().len(), 1);

    for mut run in replicas {
        run.sigint();
        let _ = run.finish(within(20.0));
    }
}
