//! Phase timings (dns, connect, tls, ttfb, transfer) against local sites: measured where they
//! happen, absent where they do not, adding up to the check's total, and shown in check lines,
//! the history, `sitewatch check`, `/metrics` and `/probe`. Names resolve through the injected
//! resolver (`dns::FakeDns`); no real lookup.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::{json, Value};
use sitewatch::config::{Config, Monitor};
use sitewatch::localsite::LocalSite;
use sitewatch::probe::{HttpProbe, Observation, Phases, Probe, ProbeSettings};

use crate::dns::{FakeDns, Miss, LOOPBACK};
use crate::metrics::{get, promtool_check, serve};
use crate::raw_site::{redirect, response, RawSite};
use crate::tls_server::TlsSite;
use crate::util::{check_one, config, once, run, within};

fn monitor(entry: Value) -> Monitor {
    let text = json!([entry]).to_string();
    let mut config = Config::parse(&text).unwrap_or_else(|e| panic!("config {text}: {e}"));
    config.monitors.remove(0)
}

/// Checks `entry` once through a probe that resolves `name` to 127.0.0.1.
fn check(name: &str, entry: Value) -> Observation {
    let dns = FakeDns::failing(Miss::NoSuchName).with(name, LOOPBACK);
    let probe = HttpProbe::with_resolver(&ProbeSettings::default(), dns);
    probe.check(&monitor(entry))
}

fn sum(p: &Phases) -> Duration {
    p.named().iter().filter_map(|(_, d)| *d).sum()
}

/// The phases lie within the check and cover all of it but the few steps between them
/// (building the request, writing it, judging the answer): at most 50 ms or a fifth of the
/// total, whichever is more, a bound for a loaded machine, not a speed claim.
fn assert_adds_up(o: &Observation) {
    let (total, phases) = (o.elapsed, sum(&o.phases));
    assert!(phases <= total, "phases {phases:?} exceed the total: {o:?}");
    let slack = Duration::from_millis(50).max(total / 5);
    assert!(
        total - phases <= slack,
        "phases {phases:?} leave more than {slack:?} of {total:?} unaccounted: {o:?}"
    );
}

#[test]
fn phases_of_a_plain_http_check_add_up_and_ttfb_covers_a_delayed_head() {
    let site = LocalSite::start().unwrap();
    let port = site.addr().port();
    // The site waits 300 ms after reading the request before it sends the head.
    let o = check(
        "phases.test",
        json!({"url": format!("http://phases.test:{port}/slow-headers/300"), "timeout": "10s"}),
    );
    assert!(o.outcome.is_up(), "{o:?}");
    let p = o.phases;
    assert!(p.dns.is_some() && p.connect.is_some(), "{p:?}");
    assert_eq!(p.tls, None, "plain HTTP has no TLS phase: {p:?}");
    let ttfb = p.ttfb.expect("ttfb measured");
    assert!(ttfb >= Duration::from_millis(300), "{p:?}");
    assert!(p.transfer.is_some(), "{p:?}");
    assert_adds_up(&o);
}

#[test]
fn an_https_check_has_every_phase() {
    let site = TlsSite::start();
    let port = site.addr().port();
    let o = check(
        "secure.test",
        json!({"url": format!("https://secure.test:{port}/"), "timeout": "10s", "insecure": true}),
    );
    assert!(o.outcome.is_up(), "{o:?}");
    let p = o.phases;
    for (name, d) in p.named() {
        assert!(d.is_some(), "{name} not measured: {p:?}");
    }
    assert_adds_up(&o);
}

#[test]
fn phases_are_summed_over_redirects() {
    // Each hop's head comes 200 ms after its request: two hops, at least 400 ms of ttfb.
    let site = RawSite::start(|seen| {
        std::thread::sleep(Duration::from_millis(200));
        if seen.target == "/from" {
            redirect("302 Found", b"/to")
        } else {
            response("200 OK", &[], b"ok\n")
        }
    });
    let o = check(
        "hops.test",
        json!({"url": format!("http://hops.test:{}/from", site.addr().port()), "timeout": "10s"}),
    );
    assert!(o.outcome.is_up(), "{o:?}");
    assert_eq!(o.redirects.len(), 1, "{o:?}");
    assert!(
        o.phases.ttfb.expect("ttfb") >= Duration::from_millis(400),
        "{o:?}"
    );
    assert_adds_up(&o);
}

#[test]
fn a_failed_check_keeps_the_phases_it_finished() {
    // Connected, then the head never comes: dns and connect measured, ttfb and transfer not.
    let site = LocalSite::start().unwrap();
    let o = check(
        "hang.test",
        json!({"url": format!("http://hang.test:{}/hang", site.addr().port()), "timeout": "300ms"}),
    );
    assert!(o.outcome.is_down(), "{o:?}");
    let p = o.phases;
    assert!(p.dns.is_some() && p.connect.is_some(), "{p:?}");
    assert_eq!((p.tls, p.ttfb, p.transfer), (None, None, None), "{p:?}");
}

#[test]
fn the_json_line_and_the_history_carry_the_phases() {
    let site = LocalSite::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let run = once(
        &json!([{"url": site.url("/ok")}]),
        &["--db", db.to_str().unwrap()],
    );
    let checks = run.checks();
    assert_eq!(checks.len(), 1, "{run}");
    let phases = &checks[0]["phases_ms"];
    // An IP address needs no lookup, and plain HTTP no handshake: both null, not 0.
    assert!(phases["dns"].is_null() && phases["tls"].is_null(), "{run}");
    for name in ["connect", "ttfb", "transfer"] {
        assert!(phases[name].as_f64().is_some(), "{name}: {run}");
    }
    let row = stored_phases(&db);
    assert_eq!(row[0], None, "dns");
    assert_eq!(row[2], None, "tls");
    assert_eq!(row[1], phases["connect"].as_f64(), "connect as printed");
    assert_eq!(row[3], phases["ttfb"].as_f64(), "ttfb as printed");
    assert_eq!(row[4], phases["transfer"].as_f64(), "transfer as printed");
}

/// The phase columns of the only check in `db`.
fn stored_phases(db: &Path) -> [Option<f64>; 5] {
    let conn = Connection::open(db).unwrap();
    conn.query_row(
        "SELECT phase_dns_ms, phase_connect_ms, phase_tls_ms, phase_ttfb_ms, phase_transfer_ms
         FROM checks",
        [],
        |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
    )
    .unwrap()
}

#[test]
fn an_https_check_line_has_a_tls_phase() {
    let site = TlsSite::start();
    let c = check_one(
        json!({"url": site.url("/"), "timeout": "5s", "insecure": true}),
        &[],
    );
    assert!(c["phases_ms"]["tls"].as_f64().is_some(), "{c}");
    assert!(c["phases_ms"]["dns"].is_null(), "{c}");
}

#[test]
fn sitewatch_check_shows_the_phases_on_each_line() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/ok");
    let r = run(["check", "-c", "1", &url], 20.0);
    assert_eq!(r.code(), 0, "{r}");
    let line = r
        .stdout
        .iter()
        .find(|l| l.contains("UP"))
        .unwrap_or_else(|| panic!("no check line\n{r}"));
    for part in ["]  connect ", " ms, ttfb ", " ms, transfer "] {
        assert!(line.contains(part), "{part:?} missing from {line:?}");
    }
    assert!(!line.contains("tls ") && !line.contains("dns "), "{line}");

    let r = run(["check", "-c", "1", "--format", "json", &url], 20.0);
    assert_eq!(r.code(), 0, "{r}");
    let checks = r.checks();
    assert_eq!(checks.len(), 1, "{r}");
    assert!(checks[0]["phases_ms"]["ttfb"].as_f64().is_some(), "{r}");
    assert!(checks[0]["phases_ms"]["tls"].is_null(), "{r}");
}

#[test]
fn metrics_and_probe_have_the_phases() {
    let site = LocalSite::start().unwrap();
    let cfg = config(&json!({
        "defaults": {"interval": "1s", "timeout": "2s"},
        "urls": [{"url": site.url("/ok")}],
    }));
    let (_run, base) = serve(&cfg);
    let deadline = within(20.0);
    let metrics = loop {
        let got = get(&format!("{base}/metrics"));
        if !got
            .body
            .contains("sitewatch_check_phase_seconds_count{phase=\"connect\"} 0\n")
        {
            break got;
        }
        assert!(Instant::now() < deadline, "no check counted:\n{}", got.body);
        std::thread::yield_now();
    };
    for needle in [
        "# TYPE sitewatch_check_phase_seconds histogram\n",
        "sitewatch_check_phase_seconds_bucket{phase=\"ttfb\",le=\"+Inf\"} ",
        "sitewatch_check_phase_seconds_count{phase=\"tls\"} 0\n",
        "sitewatch_check_phase_seconds_sum{phase=\"transfer\"} ",
    ] {
        assert!(
            metrics.body.contains(needle),
            "{needle:?} missing from\n{}",
            metrics.body
        );
    }
    promtool_check(&metrics.body);

    let target: String = site
        .url("/ok")
        .bytes()
        .map(|b| match b {
            b':' | b'/' => format!("%{b:02X}"),
            _ => (b as char).to_string(),
        })
        .collect();
    let probe = get(&format!("{base}/probe?module=http_2xx&target={target}"));
    assert_eq!(probe.status, 200, "{}", probe.body);
    for phase in ["resolve", "connect", "tls", "processing", "transfer"] {
        let needle = format!("probe_http_duration_seconds{{phase=\"{phase}\"}} ");
        assert!(
            probe.body.contains(&needle),
            "{needle:?} missing from\n{}",
            probe.body
        );
    }
    // Plain HTTP to an address: no lookup, no handshake.
    assert!(probe
        .body
        .contains("probe_http_duration_seconds{phase=\"tls\"} 0\n"));
    assert!(probe
        .body
        .contains("probe_http_duration_seconds{phase=\"resolve\"} 0\n"));
    promtool_check(&probe.body);
}
