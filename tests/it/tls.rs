//! TLS failures, through the binary (`--once --format json`) and the probe, against local
//! servers made at test time (`tls_server`): a self-signed HTTPS site and plain-HTTP ports.

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;
use sitewatch::probe::{HttpProbe, Probe, ProbeSettings};
use sitewatch::{Outcome, Reason};

use crate::dns::{monitor, FakeDns, Miss, LOOPBACK};
use crate::tls_server::{PlainHttpPort, TlsSite};
use crate::util::check_one;

/// What rustls says about a certificate no root store vouches for.
const UNTRUSTED: &str = "TLS failed: invalid peer certificate: UnknownIssuer";

fn get(url: &str) -> Value {
    json!({"url": url, "interval": "5s", "timeout": "2s"})
}

fn assert_down(check: &Value, reason: &str) {
    assert_eq!(check["up"], false, "{check}");
    assert_eq!(check["reason"], reason, "{check}");
    assert!(
        check["status"].is_null() && check["bytes"].is_null(),
        "{check}"
    );
    assert!(check["final_url"].is_null(), "{check}");
}

fn down(outcome: &Outcome) -> (Reason, &str) {
    match outcome {
        Outcome::Down { reason, detail } => (*reason, detail.as_str()),
        other => panic!("expected down, got {other:?}"),
    }
}

#[test]
fn self_signed_site_is_down_with_reason_tls_naming_the_certificate() {
    let site = TlsSite::start();
    let c = check_one(get(&site.url("/")), &[]);
    assert_down(&c, "tls");
    assert_eq!(c["detail"], UNTRUSTED, "{c}");
    assert_eq!(
        site.hits(),
        0,
        "no request may cross an untrusted handshake"
    );
}

#[test]
fn https_to_a_plain_http_port_is_down_with_reason_tls() {
    // The port answers in plain HTTP, as real servers do to a ClientHello.
    let port = PlainHttpPort::start();
    let c = check_one(get(&port.https_url("/")), &[]);
    assert_down(&c, "tls");
    assert_eq!(
        c["detail"], "TLS failed: received corrupt message of type InvalidContentType",
        "{c}"
    );
}

#[test]
fn https_monitor_checked_by_the_probe_on_a_self_signed_site_is_tls() {
    let site = TlsSite::start();
    let probe = HttpProbe::new(&ProbeSettings::default());
    let seen = probe.check(&monitor(&format!(
        "https://127.0.0.1:{}/",
        site.addr().port()
    )));
    assert_eq!(down(&seen.outcome), (Reason::Tls, UNTRUSTED), "{seen:?}");
    assert!(seen.status.is_none() && seen.bytes.is_none(), "{seen:?}");
    assert_eq!(site.hits(), 0);
}

#[test]
fn probe_with_a_resolver_still_verifies_certificates() {
    // The resolver hook swaps the resolver only: the connector chain still wraps https in
    // TLS and verifies the certificate (plain bytes to this site would be a protocol error).
    let site = TlsSite::start();
    let dns = FakeDns::failing(Miss::NoSuchName).with("secure.test", LOOPBACK);
    let probe = HttpProbe::with_resolver(&ProbeSettings::default(), dns.clone());
    let seen = probe.check(&monitor(&format!(
        "https://secure.test:{}/",
        site.addr().port()
    )));
    assert_eq!(down(&seen.outcome), (Reason::Tls, UNTRUSTED), "{seen:?}");
    assert_eq!(dns.asked(), ["secure.test"]);
    assert_eq!(site.hits(), 0);
}

#[test]
fn https_to_a_plain_http_site_that_waits_for_a_request_times_out_in_the_handshake() {
    // LocalSite waits (up to 5 s) for a complete request head, which a ClientHello never is,
    // and answers nothing: the handshake cannot finish, so the check ends at its timeout, and
    // says it was the handshake that stalled (not "waiting for the response headers").
    // (With a timeout over 5 s, LocalSite gives up first and closes with unread data: ureq
    // then reports `Io(ConnectionReset)`, reason `connect`.)
    let site = LocalSite::start().unwrap();
    let text = json!([{"url": format!("https://{}/ok", site.addr()), "timeout": "1s"}]);
    let config = sitewatch::config::Config::parse(&text.to_string()).unwrap();
    let probe = HttpProbe::new(&ProbeSettings::default());
    let seen = probe.check(&config.monitors[0]);
    assert_eq!(
        down(&seen.outcome),
        (
            Reason::Timeout,
            "timed out after 1s while in the TLS handshake"
        ),
        "{seen:?}"
    );
    assert_eq!(site.requests().len(), 0, "no HTTP request was readable");
}

#[test]
fn http_to_a_tls_port_is_a_protocol_failure() {
    // The reverse mistake: the TLS server's alert is no HTTP response.
    let site = TlsSite::start();
    let probe = HttpProbe::new(&ProbeSettings::default());
    let seen = probe.check(&monitor(&format!("http://{}/", site.addr())));
    assert_eq!(
        down(&seen.outcome),
        (
            Reason::Protocol,
            "invalid HTTP response: http parse fail: invalid HTTP version"
        ),
        "{seen:?}"
    );
    assert_eq!(site.hits(), 0);
}

/// `insecure: true` skips certificate verification for that monitor only.
#[test]
fn insecure_monitor_is_up_against_a_self_signed_site() {
    let site = TlsSite::start();
    let c = check_one(
        json!({"url": site.url("/"), "timeout": "2s", "insecure": true}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["status"], 200);
    assert_eq!(c["bytes"], 3);
    assert_eq!(site.hits(), 1);
}
