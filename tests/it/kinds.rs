//! Kinds of target beyond HTTP, on 127.0.0.1 only: `tcp://` (open and closed ports, a banner
//! server for `send`/`expect`, a local TLS server for `tls: true`), `icmp://` (echoes to
//! loopback), `dns://` (through an injected resolver, never a real DNS server), and the config
//! errors for settings on the wrong kind.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sitewatch::config::{Config, Monitor};
use sitewatch::probe::tcp::{TcpProbe, Trust};
use sitewatch::probe::{Probe, ProbeSettings, Probes};
use sitewatch::{Outcome, Reason};

use crate::dns::{FakeDns, Miss, LOOPBACK};
use crate::tls_server::TlsSite;
use crate::util::{check_one, config_text, path, run};

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A banner server on 127.0.0.1: for each of at most `connections` connections it sends
/// `greeting` (if any), then answers the first read with `reply` (if any), then closes. Every
/// read and write has a 2 s timeout.
struct Banner {
    port: u16,
    thread: Option<JoinHandle<Vec<Vec<u8>>>>,
}

impl Banner {
    fn start(connections: usize, greeting: &'static [u8], reply: &'static [u8]) -> Banner {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = thread::spawn(move || {
            let mut received = Vec::new();
            for _ in 0..connections {
                let Ok((mut s, _)) = listener.accept() else {
                    break;
                };
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
                let _ = s.write_all(greeting);
                let mut buf = [0u8; 256];
                let n = if reply.is_empty() && !greeting.is_empty() {
                    0
                } else {
                    s.read(&mut buf).unwrap_or(0)
                };
                received.push(buf[..n].to_vec());
                let _ = s.write_all(reply);
            }
            received
        });
        Banner {
            port,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// What the server read on each connection, once they are all done.
    fn received(mut self) -> Vec<Vec<u8>> {
        self.thread.take().unwrap().join().unwrap()
    }
}

fn assert_not_http(check: &Value) {
    assert!(check["status"].is_null(), "no HTTP status: {check}");
    assert!(check.get("method").is_none(), "no HTTP method: {check}");
}

#[test]
fn tcp_open_port_is_up() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let c = check_one(json!({"url": url, "timeout": "2s"}), &[]);
    assert_eq!(c["up"], true, "{c}");
    assert_not_http(&c);
    assert!(c["bytes"].is_null(), "nothing read without expect: {c}");
}

#[test]
fn tcp_closed_port_is_down_refused() {
    let url = format!("tcp://127.0.0.1:{}", closed_port());
    let c = check_one(json!({"url": url, "timeout": "2s"}), &[]);
    assert_eq!(c["up"], false, "{c}");
    assert_eq!(c["reason"], "connect", "{c}");
    assert_eq!(c["detail"], "connection refused", "{c}");
    assert_not_http(&c);
}

#[test]
fn tcp_send_and_expect_match_a_banner_protocol() {
    // Redis style: PING → +PONG.
    let server = Banner::start(1, b"", b"+PONG\r\n");
    let c = check_one(
        json!({"url": server.url(), "timeout": "2s", "send": "PING\r\n", "expect": "+PONG"}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["bytes"], 7, "{c}");
    assert_eq!(server.received(), [b"PING\r\n".to_vec()]);
}

#[test]
fn tcp_expect_mismatch_is_an_assertion_naming_what_came() {
    // SMTP style: the greeting should start with 220.
    let server = Banner::start(1, b"554 no service here\r\n", b"");
    let c = check_one(
        json!({"url": server.url(), "timeout": "2s", "expect": "220"}),
        &[],
    );
    assert_eq!(c["up"], false, "{c}");
    assert_eq!(c["reason"], "assertion", "{c}");
    assert_eq!(
        c["detail"],
        r#"expected "220" before the peer closed, in 21 bytes read; got "554 no service here\r\n""#,
        "{c}"
    );
    assert_eq!(c["bytes"], 21, "{c}");
}

#[test]
fn tcp_tls_verifies_the_certificate_like_https() {
    let site = TlsSite::start();
    let url = format!("tcp://{}", site.addr());
    // Self-signed: no root vouches for it.
    let c = check_one(json!({"url": url, "timeout": "2s", "tls": true}), &[]);
    assert_eq!(c["up"], false, "{c}");
    assert_eq!(c["reason"], "tls", "{c}");
    assert_eq!(
        c["detail"], "TLS failed: invalid peer certificate: UnknownIssuer",
        "{c}"
    );
    // Trusted through ca_file: up, and send/expect run over the TLS stream.
    let ca = config_text(site.cert_pem());
    let c = check_one(
        json!({"url": url, "timeout": "2s", "tls": true, "ca_file": path(&ca),
               "send": "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "expect": "200 OK"}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert!(c["bytes"].as_u64().unwrap() >= 15, "{c}");
    // insecure: any certificate.
    let c = check_one(
        json!({"url": url, "timeout": "2s", "tls": true, "insecure": true}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(site.hits(), 1, "one request crossed a verified handshake");
}

#[test]
fn tcp_tls_records_the_certificate_expiry_and_warns_before_it() {
    let not_after = std::time::SystemTime::now() + Duration::from_secs(5 * 86_400);
    let site = TlsSite::expiring(not_after);
    let ca = config_text(site.cert_pem());
    let c = check_one(
        json!({"url": format!("tcp://{}", site.addr()), "timeout": "2s", "tls": true,
               "ca_file": path(&ca)}),
        &[],
    );
    assert_eq!(c["up"], true, "degraded is up: {c}");
    assert!(c["cert_expiry"].is_string(), "{c}");
    assert_eq!(c["degraded"]["cause"], "cert_expiry", "{c}");
    // Far enough from expiry: up, not degraded, expiry still recorded.
    let c = check_one(
        json!({"url": format!("tcp://{}", site.addr()), "timeout": "2s", "tls": true,
               "ca_file": path(&ca), "cert_expiry_warn": "1d"}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert!(c.get("degraded").is_none(), "{c}");
    assert!(c["cert_expiry"].is_string(), "{c}");
}

#[test]
fn tcp_tls_report_keeps_the_peer_certificates() {
    let site = TlsSite::start();
    let text = json!([{"url": format!("tcp://{}", site.addr()), "tls": true, "timeout": "2s"}]);
    let config = Config::parse(&text.to_string()).unwrap();
    let sitewatch::model::Target::Tcp(target) = config.monitors[0].target() else {
        panic!("a tcp target");
    };
    let probe =
        TcpProbe::with_resolver(FakeDns::failing(Miss::NoSuchName).with("127.0.0.1", LOOPBACK));
    let timeout = Duration::from_secs(2);
    let check = |trust| probe.check(target, trust, Instant::now() + timeout, timeout);
    // A completed handshake: the chain the server presented, for certificate expiry.
    let report = check(Trust::Insecure);
    assert!(report.observation.outcome.is_up(), "{report:?}");
    assert_eq!(report.peer_certificates.len(), 1, "{report:?}");
    // A rejected one says why, and has no chain to offer.
    let report = check(Trust::WebPki);
    assert_eq!(report.observation.outcome.reason(), Some(Reason::Tls));
    assert!(report.peer_certificates.is_empty(), "{report:?}");
}

#[test]
fn icmp_echoes_to_loopback() {
    if let Err(why) = sitewatch::probe::icmp::usable() {
        eprintln!("skipped: {why}");
        return;
    }
    let c = check_one(
        json!({"url": "icmp://127.0.0.1", "count": 2, "timeout": "2s"}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(
        c["echoes"],
        json!({"sent": 2, "received": 2, "loss_pct": 0.0}),
        "{c}"
    );
    assert_not_http(&c);
    assert!(c["ms"].as_f64().unwrap() < 2000.0, "{c}");
}

#[test]
fn icmp_echoes_are_kept_in_the_history() {
    if let Err(why) = sitewatch::probe::icmp::usable() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let run = crate::util::once(
        &json!([{"url": "icmp://127.0.0.1", "count": 2, "timeout": "2s"}]),
        &["--db", db.to_str().unwrap()],
    );
    assert_eq!(run.code(), 0, "{run}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let row: (Option<i64>, Option<i64>, Option<u16>) = conn
        .query_row(
            "SELECT echoes_sent, echoes_received, status FROM checks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(row, (Some(2), Some(2), None), "{run}");
}

#[test]
fn icmp_without_any_usable_socket_is_a_config_error_naming_the_sysctl() {
    // A fresh network namespace has its own net.ipv4.ping_group_range, "1 0" (no group may
    // open unprivileged ICMP sockets), and without CAP_NET_RAW no raw socket opens either.
    // Making that world takes root and util-linux; elsewhere this test says why it skips.
    let file = config_text(r#"[{"url": "icmp://127.0.0.1", "timeout": "1s"}]"#);
    let out = std::process::Command::new("unshare")
        .args([
            "-n",
            "setpriv",
            "--bounding-set",
            "-net_raw",
            "--inh-caps",
            "-net_raw",
            "--",
        ])
        .args([crate::util::BIN, "--once", path(&file)])
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: cannot run unshare ({e})");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.starts_with("sitewatch: ") {
        eprintln!("skipped: cannot drop to a namespace without ICMP sockets: {stderr}");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing checked");
    assert!(
        stderr.contains(
            "entry 1 (index 0, \"icmp://127.0.0.1\"): this system allows neither kind \
                         of ICMP socket an icmp:// monitor needs"
        ) && stderr.contains("sysctl net.ipv4.ping_group_range is \"1\\t0\"")
            && stderr.contains("CAP_NET_RAW"),
        "{stderr}"
    );
}

#[test]
fn check_command_takes_tcp_and_icmp_targets() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = format!("tcp://{}", listener.local_addr().unwrap());
    let r = run(["check", "-c", "2", "-i", "100ms", &tcp], 20.0);
    assert_eq!(r.code(), 0, "{r}");
    let lines: Vec<_> = r.stdout.iter().filter(|l| l.contains(&tcp)).collect();
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("UP") && l.contains(" --- "))
            .count()
            == 2,
        "two up lines without an HTTP status\n{r}"
    );
    assert!(
        r.stdout
            .iter()
            .any(|l| l.starts_with("2 checks, 2 up, 0% loss")),
        "{r}"
    );
    if let Err(why) = sitewatch::probe::icmp::usable() {
        eprintln!("skipped the icmp part: {why}");
        return;
    }
    let r = run(["check", "-c", "1", "icmp://127.0.0.1"], 20.0);
    assert_eq!(r.code(), 0, "{r}");
    assert!(
        r.stdout
            .iter()
            .any(|l| l.contains("UP") && l.contains("(3 sent, 3 received, 0% loss)")),
        "{r}"
    );
}

/// The one monitor of a config holding `entry`.
fn monitor(entry: Value) -> Monitor {
    let text = json!([entry]).to_string();
    Config::parse(&text)
        .unwrap_or_else(|e| panic!("config {text}: {e}"))
        .monitors
        .remove(0)
}

fn probes(dns: &FakeDns) -> Probes {
    Probes::with_resolver(&ProbeSettings::default(), dns.clone())
}

#[test]
fn dns_name_that_resolves_is_up() {
    let dns = FakeDns::failing(Miss::NoSuchName).with("db.test", LOOPBACK);
    let seen = probes(&dns).check(&monitor(json!({"url": "dns://db.test"})));
    assert!(seen.outcome.is_up(), "{seen:?}");
    assert_eq!((seen.status, seen.bytes), (None, None));
    assert!(
        seen.phases.dns.is_some(),
        "the lookup is the dns phase: {seen:?}"
    );
    assert_eq!(dns.asked(), ["db.test"]);
}

#[test]
fn dns_name_that_does_not_resolve_is_down_dns() {
    let dns = FakeDns::failing(Miss::NoSuchName);
    let seen = probes(&dns).check(&monitor(json!({"url": "dns://gone.test"})));
    assert_eq!(
        seen.outcome,
        Outcome::Down {
            reason: Reason::Dns,
            detail: "host name not resolved: failed to lookup address information: \
                     Name or service not known"
                .into()
        }
    );
    let dns = FakeDns::failing(Miss::NoUsableAddress);
    let seen = probes(&dns).check(&monitor(json!({"url": "dns://gone.test"})));
    assert_eq!(seen.outcome.reason(), Some(Reason::Dns), "{seen:?}");
}

#[test]
fn dns_wrong_address_is_an_assertion() {
    let dns = FakeDns::failing(Miss::NoSuchName).with("db.test", LOOPBACK);
    let m = monitor(json!({"url": "dns://db.test", "expect_address": ["10.1.2.3", "::2"]}));
    let seen = probes(&dns).check(&m);
    assert_eq!(
        seen.outcome,
        Outcome::Down {
            reason: Reason::Assertion,
            detail: "db.test resolved to 127.0.0.1, none of the expected 10.1.2.3, ::2".into()
        }
    );
    let m = monitor(json!({"url": "dns://db.test", "expect_address": "127.0.0.1"}));
    assert!(probes(&dns).check(&m).outcome.is_up());
}

#[test]
fn tcp_host_names_go_through_the_same_resolver() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dns = FakeDns::failing(Miss::NoSuchName).with("db.test", LOOPBACK);
    let up = probes(&dns).check(&monitor(json!({"url": format!("tcp://db.test:{port}")})));
    assert!(up.outcome.is_up(), "{up:?}");
    let p = up.phases;
    assert!(p.dns.is_some() && p.connect.is_some(), "{p:?}");
    let gone = probes(&dns).check(&monitor(json!({"url": format!("tcp://gone.test:{port}")})));
    assert_eq!(gone.outcome.reason(), Some(Reason::Dns), "{gone:?}");
    assert_eq!(dns.asked(), ["db.test", "gone.test"]);
    // The connection the first check made, accepted so nothing is left pending.
    listener.set_nonblocking(true).unwrap();
    let _ = listener.accept().map(|(s, _)| drop::<TcpStream>(s));
}

/// `--once` on a config holding `text`: exit 2 and the one error line.
fn config_error(text: &str) -> String {
    let file = config_text(text);
    let p = path(&file).to_string();
    let r = run(["--once", &p], 10.0);
    assert_eq!(r.code(), 2, "{r}");
    assert!(r.stdout.is_empty(), "{r}");
    assert_eq!(r.stderr.len(), 1, "{r}");
    r.stderr[0].replace(&p, "FILE")
}

#[test]
fn settings_of_the_wrong_kind_are_config_errors_naming_entry_and_key() {
    assert_eq!(
        config_error(r#"[{"url": "tcp://127.0.0.1:6379", "method": "POST"}]"#),
        "sitewatch: error: FILE: entry 1 (index 0, \"tcp://127.0.0.1:6379\"): \
         method is an HTTP setting; a tcp:// monitor does not take it"
    );
    assert_eq!(
        config_error(
            r#"[{"url": "http://127.0.0.1:9/"}, {"url": "dns://db.test", "json": {"/a": 1}}]"#
        ),
        "sitewatch: error: FILE: entry 2 (index 1, \"dns://db.test\"): \
         json is an HTTP setting; a dns:// monitor does not take it"
    );
    assert_eq!(
        config_error(r#"[{"url": "http://127.0.0.1:9/", "tls": true}]"#),
        "sitewatch: error: FILE: entry 1 (index 0, \"http://127.0.0.1:9/\"): \
         tls is a setting of tcp:// monitors; this is an http(s):// monitor"
    );
    assert_eq!(
        config_error(r#"[{"url": "icmp://127.0.0.1", "send": "x"}]"#),
        "sitewatch: error: FILE: entry 1 (index 0, \"icmp://127.0.0.1\"): \
         send is a setting of tcp:// monitors; this is an icmp:// monitor"
    );
    assert_eq!(
        config_error(r#"[{"url": "tcp://127.0.0.1:25", "count": 2}]"#),
        "sitewatch: error: FILE: entry 1 (index 0, \"tcp://127.0.0.1:25\"): \
         count is a setting of icmp:// monitors; this is a tcp:// monitor"
    );
    assert_eq!(
        config_error(r#"[{"url": "tcp://127.0.0.1"}]"#),
        "sitewatch: error: FILE: entry 1 (index 0, \"tcp://127.0.0.1\"): \
         a tcp:// url needs a port from 1 to 65535, as in tcp://db.example.com:5432"
    );
    assert_eq!(
        config_error(r#"{"defaults": {"count": 5}, "urls": [{"url": "icmp://127.0.0.1"}]}"#),
        "sitewatch: error: FILE: defaults: count is a setting of icmp:// entries only; \
         set it on each entry that needs it"
    );
}

#[test]
fn http_defaults_do_not_reach_other_kinds() {
    // `defaults` with HTTP settings still accept tcp:// entries, which ignore them.
    let text = json!({"defaults": {"method": "HEAD", "expect_status": [204]},
                      "urls": [{"url": "tcp://127.0.0.1:6379"}, {"url": "http://127.0.0.1:9/"}]});
    let config = Config::parse(&text.to_string()).unwrap();
    assert_eq!(config.monitors[0].http_method(), None);
    assert!(config.monitors[1].http_method().is_some());
}

#[test]
fn probe_of_a_tcp_target_answers_the_tcp_probers_gauges_not_http_ones() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let cfg = crate::util::config(&json!([{"url": url, "interval": "1h", "timeout": "2s"}]));
    let (_run, base) = crate::metrics::serve(&cfg);
    let got = crate::metrics::get(&format!(
        "{base}/probe?target={}",
        crate::metrics::encode(&url)
    ));
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("probe_success 1\n"), "{}", got.body);
    assert!(got.body.contains("probe_duration_seconds "), "{}", got.body);
    assert!(!got.body.contains("probe_http_"), "{}", got.body);
    crate::metrics::promtool_check(&got.body);
}
