//! `/metrics` and `/probe` of a run on local sites: what they say, checked by a real
//! Prometheus parser (`promtool check metrics`, from Debian's `prometheus` package).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::util::{config, path, within, Sitewatch};

/// A reply: status, `Content-Type`, body.
pub struct Got {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// `GET url` (any status), body read whole (up to 256 MiB).
pub fn get(url: &str) -> Got {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()
        .unwrap_or_else(|e| panic!("GET {url}: body: {e}"));
    Got {
        status: response.status().as_u16(),
        content_type,
        body,
    }
}

/// Starts sitewatch on `cfg` with the status server on a free loopback port; returns it and
/// the server's base URL (`http://127.0.0.1:PORT`).
pub fn serve(cfg: &tempfile::NamedTempFile) -> (Sitewatch, String) {
    let mut run = Sitewatch::spawn([
        path(cfg),
        "--no-db",
        "--listen",
        "127.0.0.1:0",
        "--format",
        "json",
    ]);
    let line = run.wait_for_stderr(within(20.0), "listening on http://");
    let base = line
        .split("listening on ")
        .nth(1)
        .expect("address after 'listening on'")
        .trim()
        .trim_end_matches('/')
        .to_string();
    (run, base)
}

/// Polls `url` until its body satisfies `ok`, within `secs`.
fn poll(url: &str, secs: f64, what: &str, ok: impl Fn(&Got) -> bool) -> Got {
    let deadline = within(secs);
    loop {
        let got = get(url);
        if ok(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not seen at {url} in time; last reply {}:\n{}",
            got.status,
            got.body
        );
        std::thread::yield_now();
    }
}

/// Runs `promtool check metrics` on `text`; panics with what it said unless it accepts it.
/// Fails (does not skip) when promtool is missing.
pub fn promtool_check(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = child.unwrap_or_else(|e| {
        panic!(
            "cannot run promtool ({e}): install Debian's `prometheus` package \
             (apt-get install prometheus), which has it; scripts/test.sh does this"
        )
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .expect("write the scrape to promtool");
    let out = child.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool check metrics refused the scrape ({}):\n{}{}\n--- scrape ---\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

fn sites(site: &LocalSite) -> Value {
    json!({
        "defaults": {"interval": "1s", "timeout": "2s"},
        "urls": [
            {"url": site.url("/ok"), "name": "Front \"page\"", "group": "web\\edge"},
            {"url": site.url("/status/503"), "name": "api", "retries": 0},
            {"url": site.url("/redirect/1")},
        ]
    })
}

#[test]
fn metrics_scrape_passes_promtool_and_says_each_monitors_state() {
    let site = LocalSite::start().unwrap();
    let cfg = config(&sites(&site));
    let (_run, base) = serve(&cfg);
    let url = format!("{base}/metrics");
    let got = poll(&url, 20.0, "both verdicts", |g| {
        g.body.contains("sitewatch_up{id=\"api\"")
            && g.body.contains("sitewatch_up{id=\"front-page\"")
    });
    assert_eq!(got.status, 200);
    assert_eq!(got.content_type, "text/plain; version=0.0.4; charset=utf-8");
    let front = format!(
        "id=\"front-page\",url=\"{}\",group=\"web\\\\edge\"",
        site.url("/ok")
    );
    let api = format!("id=\"api\",url=\"{}\",group=\"\"", site.url("/status/503"));
    for line in [
        format!("sitewatch_up{{{front}}} 1\n"),
        format!("sitewatch_up{{{api}}} 0\n"),
        format!("sitewatch_state_changes_total{{{api}}} 1\n"),
        "sitewatch_monitors 3\n".to_string(),
        "sitewatch_local_errors_total 0\n".to_string(),
    ] {
        assert!(
            got.body.contains(&line),
            "{line:?} missing from\n{}",
            got.body
        );
    }
    for needle in [
        format!("sitewatch_check_failures_total{{{api},reason=\"status\"}} "),
        format!("sitewatch_check_duration_seconds_bucket{{{front},le=\"+Inf\"}} "),
        format!("sitewatch_last_check_timestamp_seconds{{{front}}} "),
        "sitewatch_lateness_seconds_count ".to_string(),
        "sitewatch_build_info{version=\"".to_string(),
    ] {
        assert!(
            got.body.contains(&needle),
            "{needle:?} missing from\n{}",
            got.body
        );
    }
    promtool_check(&got.body);
}

#[test]
fn per_monitor_series_can_be_switched_off() {
    let site = LocalSite::start().unwrap();
    let mut cfg = sites(&site);
    cfg["server"] = json!({"per_monitor_metrics": false});
    let cfg = config(&cfg);
    let (_run, base) = serve(&cfg);
    let got = poll(&format!("{base}/metrics"), 20.0, "a finished check", |g| {
        !g.body.contains("sitewatch_checks_finished_total 0\n")
    });
    assert!(!got.body.contains("id=\""), "{}", got.body);
    assert!(got.body.contains("sitewatch_monitors 3\n"), "{}", got.body);
    promtool_check(&got.body);
}

#[test]
fn probe_answers_like_blackbox_exporter_for_configured_monitors_only() {
    let site = LocalSite::start().unwrap();
    let cfg = config(&sites(&site));
    let (_run, base) = serve(&cfg);
    let probe = |query: &str| get(&format!("{base}/probe?{query}"));

    let ok = probe(&format!(
        "module=http_2xx&target={}",
        encode(&site.url("/ok"))
    ));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.content_type, "text/plain; version=0.0.4; charset=utf-8");
    for line in [
        "probe_success 1\n",
        "probe_http_status_code 200\n",
        "probe_http_ssl 0\n",
        "probe_http_redirects 0\n",
        "probe_http_content_length -1\n",
        "probe_http_uncompressed_body_length 3\n",
    ] {
        assert!(ok.body.contains(line), "{line:?} missing from\n{}", ok.body);
    }
    assert!(ok.body.contains("probe_duration_seconds "), "{}", ok.body);
    promtool_check(&ok.body);

    let down = probe("target=api");
    assert_eq!(down.status, 200, "{}", down.body);
    assert!(down.body.contains("probe_success 0\n"), "{}", down.body);
    assert!(
        down.body.contains("probe_http_status_code 503\n"),
        "{}",
        down.body
    );
    assert!(down
        .body
        .contains("sitewatch_probe_failure{reason=\"status\"} 1\n"));

    let redirected = probe(&format!("target={}", encode(&site.url("/redirect/1"))));
    assert!(
        redirected.body.contains("probe_http_redirects 1\n"),
        "{}",
        redirected.body
    );

    let hits = site.hits("/status/200");
    let other = probe(&format!("target={}", encode(&site.url("/status/200"))));
    assert_eq!(other.status, 400, "{}", other.body);
    assert!(other.body.contains("`target`"), "{}", other.body);
    assert!(other.body.contains("probe_any_target"), "{}", other.body);
    assert_eq!(
        site.hits("/status/200"),
        hits,
        "an unlisted target is never fetched"
    );

    for query in ["", "module=http_2xx", "target="] {
        let bad = probe(query);
        assert_eq!(bad.status, 400, "{query}: {}", bad.body);
        assert!(bad.body.contains("`target`"), "{query}: {}", bad.body);
    }
}

#[test]
fn probe_any_target_when_the_config_allows_it() {
    let site = LocalSite::start().unwrap();
    let mut cfg = sites(&site);
    cfg["server"] = json!({"probe_any_target": true});
    let cfg = config(&cfg);
    let (_run, base) = serve(&cfg);
    let other = get(&format!(
        "{base}/probe?target={}",
        encode(&site.url("/status/204"))
    ));
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(
        other.body.contains("probe_http_status_code 204\n"),
        "{}",
        other.body
    );
    let bad = get(&format!("{base}/probe?target=file%3A%2F%2F%2Fetc%2Fpasswd"));
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("`target`"), "{}", bad.body);
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A child process killed when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port (prometheus cannot listen on port 0 and say which it got).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

#[test]
fn a_real_prometheus_ingests_metrics_and_a_blackbox_style_probe() {
    let site = LocalSite::start().unwrap();
    let cfg = config(&sites(&site));
    let (_run, base) = serve(&cfg);
    let sitewatch = base.trim_start_matches("http://").to_string();
    let dir = tempfile::tempdir().unwrap();
    // The scrape config of blackbox_exporter's README, pointed at sitewatch.
    let prom_cfg = r#"
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
- job_name: sitewatch
  static_configs:
    - targets: ['SITEWATCH']
- job_name: blackbox
  metrics_path: /probe
  params:
    module: [http_2xx]
  static_configs:
    - targets: ['TARGET']
  relabel_configs:
    - source_labels: [__address__]
      target_label: __param_target
    - source_labels: [__param_target]
      target_label: instance
    - target_label: __address__
      replacement: 'SITEWATCH'
"#
    .replace("SITEWATCH", &sitewatch)
    .replace("TARGET", &site.url("/ok"));
    let cfg_path = dir.path().join("prometheus.yml");
    std::fs::write(&cfg_path, prom_cfg).unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run prometheus ({e}): install Debian's `prometheus` package \
                 (apt-get install prometheus); scripts/test.sh does this"
            )
        });
    let _prometheus = Killed(child);
    let api = format!("http://127.0.0.1:{port}/api/v1/query?query=");
    let query = |q: &str| -> Option<Value> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(5)))
            .build()
            .into();
        let mut r = agent.get(format!("{api}{}", encode(q))).call().ok()?;
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()?;
        let result = v["data"]["result"].as_array()?.first()?.clone();
        Some(result)
    };
    let deadline = within(60.0);
    let wanted = [
        "probe_success{job=\"blackbox\"} == 1",
        "sitewatch_up{job=\"sitewatch\",id=\"front-page\"} == 1",
        "sitewatch_up{job=\"sitewatch\",id=\"api\"} == 0",
    ];
    for q in wanted {
        loop {
            if let Some(result) = query(q) {
                if q.starts_with("probe_success") {
                    assert_eq!(result["metric"]["instance"], site.url("/ok"), "{result}");
                }
                break;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus never answered {q}; its log:\n{}",
                std::fs::read_to_string(dir.path().join("log")).unwrap_or_default()
            );
            // Prometheus scrapes every second: ask again a little later, not in a spin.
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}
