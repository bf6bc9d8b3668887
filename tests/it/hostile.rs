//! Hostile sites and oversized configs: server text escaped and capped in the check line,
//! responses past the HTTP client's limits named as such, requests that could not be sent
//! refused at load, the regex assertion's own cap, and a private CA (`ca_file`).

use serde_json::{json, Value};

use crate::raw_site::{redirect, response, RawSite};
use crate::tls_server::TlsSite;
use crate::util::{check_one, config_text, path, run};

fn detail(check: &Value) -> &str {
    check["detail"].as_str().unwrap_or("")
}

/// Whether `text` holds a character a terminal or a bidi-aware viewer would act on.
fn has_raw_controls(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

#[test]
fn a_60_kb_location_lands_escaped_and_capped_in_the_check_line() {
    // HTTP parsers refuse C0 controls in a header value, but take any byte from 0x80: a C1
    // control (U+009B, CSI) and a bidi override arrive as UTF-8.
    let mut location = "javascript:\u{9b}31m\u{202e}evil".as_bytes().to_vec();
    location.extend(std::iter::repeat_n(b'A', 60 * 1024));
    let location: &'static [u8] = location.leak();
    let site = RawSite::start(move |_| redirect("302 Found", location));
    let c = check_one(json!({"url": site.url("/go")}), &[]);
    assert_eq!(c["reason"], "redirects", "{c}");
    let d = detail(&c);
    assert!(d.len() < 1024, "capped: {} bytes", d.len());
    assert!(!has_raw_controls(d), "{d:?}");
    assert!(d.contains("javascript:\\u{9b}31m\\u{202e}evilAAA"), "{d}");
    assert!(d.contains("…[+"), "{d}");
}

#[test]
fn a_reason_phrase_with_escapes_and_bidi_controls_never_reaches_the_line() {
    // C1 and bidi controls pass the HTTP parser; sitewatch shows the standard phrase instead.
    let site = RawSite::start(|_| response("503 \u{9b}2J\u{202e}gninrae\u{202c}", &[], b""));
    let c = check_one(json!({"url": site.url("/")}), &[]);
    assert_eq!(c["reason"], "status", "{c}");
    assert_eq!(detail(&c), "HTTP 503 Service Unavailable");
    // A C0 control (ESC) is refused by the parser: not HTTP, and nothing of it is shown.
    let site = RawSite::start(|_| response("503 \x1b[2J", &[], b""));
    let c = check_one(json!({"url": site.url("/")}), &[]);
    assert_eq!(c["reason"], "protocol", "{c}");
    assert!(!has_raw_controls(detail(&c)), "{c}");
}

#[test]
fn header_values_in_assertion_details_are_escaped() {
    let site =
        RawSite::start(|_| response("200 OK", &[("X-Build", "\u{9b}31mred\u{2066}x")], b"ok"));
    let c = check_one(
        json!({"url": site.url("/"), "expect_headers": {"X-Build": "green"}}),
        &[],
    );
    assert_eq!(c["reason"], "assertion", "{c}");
    assert!(!has_raw_controls(detail(&c)), "{c}");
    assert!(detail(&c).contains("\\u{9b}31mred\\u{2066}x"), "{c}");
}

#[test]
fn a_megabyte_header_line_is_reported_as_too_large_headers() {
    let site = RawSite::start(|_| {
        let big = "b".repeat(1024 * 1024);
        response("200 OK", &[("X-Big", &big)], b"ok")
    });
    let c = check_one(json!({"url": site.url("/")}), &[]);
    assert_eq!(c["reason"], "protocol", "{c}");
    assert_eq!(
        detail(&c),
        "response headers larger than 64512 bytes, the most sitewatch reads"
    );
}

#[test]
fn more_headers_than_the_client_reads_is_said_so() {
    let site = RawSite::start(|_| {
        let names: Vec<String> = (0..200).map(|i| format!("X-H{i}")).collect();
        let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        response("200 OK", &headers, b"ok")
    });
    let c = check_one(json!({"url": site.url("/")}), &[]);
    assert_eq!(c["reason"], "protocol", "{c}");
    assert_eq!(
        detail(&c),
        "more than 128 response headers, the most sitewatch reads"
    );
}

/// Runs `--once` on config text that must be refused at load; returns stderr.
fn refused(text: &str) -> String {
    let file = config_text(text);
    let done = run(["--once", "--format", "json", path(&file)], 20.0);
    assert_eq!(done.code(), 2, "{done}");
    assert!(done.checks().is_empty(), "{done}");
    done.stderr_text()
}

#[test]
fn a_20_kb_url_or_header_is_refused_at_load_naming_the_entry() {
    let long_url = format!("http://127.0.0.1:9/{}", "a".repeat(20_000));
    let err = refused(&json!([{"url": long_url}]).to_string());
    assert!(err.contains("entry 1 (index 0"), "{err}");
    assert!(
        err.contains("url is 20019 bytes long, more than the 8192 sitewatch sends"),
        "{err}"
    );
    let err = refused(
        &json!([{"url": "http://127.0.0.1:9/", "headers": {"X-Big": "v".repeat(20_000)}}])
            .to_string(),
    );
    assert!(
        err.contains("entry 1 (index 0, \"http://127.0.0.1:9/\")"),
        "{err}"
    );
    assert!(
        err.contains("header \"X-Big\" is 20005 bytes long"),
        "{err}"
    );
}

#[test]
fn an_8_kib_header_is_sent_whole() {
    // The largest header the config accepts fits the request buffer: it arrives.
    let site = RawSite::start(|seen| {
        let n = seen.header("x-big").map_or(0, str::len);
        response("200 OK", &[], n.to_string().as_bytes())
    });
    let value = "v".repeat(8 * 1024 - "X-Big".len());
    let c = check_one(
        json!({"url": site.url("/"), "headers": {"X-Big": value}}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(
        site.seen()[0].header("x-big").map(str::len),
        Some(value.len())
    );
}

#[test]
fn lines_at_the_edges_of_each_request_buffer_are_sent_whole() {
    // The request buffer is sized from the head's longest line (1, 4 or 16 KiB): lines just
    // within and just beyond each size arrive whole, with and without a body.
    let site = RawSite::start(|seen| {
        let n = seen.header("x-edge").map_or(0, str::len);
        response("200 OK", &[], n.to_string().as_bytes())
    });
    for (n, body) in [
        (700, false),
        (800, false),
        (700, true),
        (3_700, false),
        (3_900, true),
    ] {
        let value = "v".repeat(n);
        let mut entry = json!({"url": site.url("/"), "headers": {"X-Edge": value}});
        if body {
            entry["method"] = json!("POST");
            entry["body"] = json!("b".repeat(5_000));
        }
        let c = check_one(entry, &[]);
        assert_eq!(c["up"], true, "{n} {body}: {c}");
        let seen = site.seen();
        let last = seen.last().unwrap();
        assert_eq!(last.header("x-edge").map(str::len), Some(n), "{n} {body}");
        if body {
            assert_eq!(last.method, "POST");
            assert_eq!(last.header("content-length"), Some("5000"), "{n}");
        }
    }
}

#[test]
fn every_request_says_connection_close_unless_the_monitor_says_otherwise() {
    // sitewatch never reuses a connection; saying so lets the server close first, which keeps
    // TIME_WAIT off the monitoring host. A monitor's own `Connection` header is sent instead.
    let site = RawSite::start(|_| response("200 OK", &[], b"ok"));
    let c = check_one(json!({"url": site.url("/")}), &[]);
    assert_eq!(c["up"], true, "{c}");
    let c = check_one(
        json!({"url": site.url("/own"), "headers": {"Connection": "keep-alive"}}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    let seen = site.seen();
    let connection = |s: &crate::raw_site::Seen| {
        s.headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(connection(&seen[0]), ["close"]);
    assert_eq!(connection(&seen[1]), ["keep-alive"]);
}

#[test]
fn an_8_kib_url_with_credentials_is_sent_whole() {
    // The longest URL the config accepts, with userinfo turned into a Basic auth line longer
    // than the URL itself: both fit the request buffer.
    let site = RawSite::start(|_| response("200 OK", &[], b"ok"));
    let prefix = format!("http://{}:{}@{}/", "u", "p".repeat(3000), site.addr());
    let url = format!("{prefix}{}", "a".repeat(8 * 1024 - prefix.len()));
    assert_eq!(url.len(), 8 * 1024);
    let c = check_one(json!({"url": url}), &[]);
    assert_eq!(c["up"], true, "{c}");
    let seen = &site.seen()[0];
    assert_eq!(seen.target.len(), 8 * 1024 - (prefix.len() - 1));
    assert!(seen
        .header("authorization")
        .is_some_and(|a| a.starts_with("Basic ")));
}

#[test]
fn body_matches_looks_at_its_cap_and_says_so() {
    const CAP: usize = 1024 * 1024;
    let site = RawSite::start(|_| {
        let mut body = vec![b'x'; CAP];
        body.extend_from_slice(b"needle");
        response("200 OK", &[], &body)
    });
    let c = check_one(json!({"url": site.url("/"), "body_matches": "needle"}), &[]);
    assert_eq!(c["reason"], "assertion", "{c}");
    assert_eq!(
        detail(&c),
        format!(
            "body does not match the regex \"needle\" (in its first {CAP} bytes, the most \
             body_matches looks at; {} bytes read)",
            CAP + 6
        )
    );
}

#[test]
fn body_matches_works_on_a_body_that_is_not_utf8() {
    let site = RawSite::start(|_| response("200 OK", &[], b"\xff\xfe\x00 status: 42 ok"));
    let c = check_one(
        json!({"url": site.url("/"), "body_matches": r"status: \d+ ok$"}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
}

#[test]
fn ca_file_trusts_a_private_ca() {
    let site = TlsSite::start();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, site.cert_pem()).unwrap();
    let c = check_one(
        json!({"url": site.url("/"), "ca_file": ca.to_str().unwrap()}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    // The same site without it: the certificate is not trusted.
    let c = check_one(json!({"url": site.url("/")}), &[]);
    assert_eq!(c["reason"], "tls", "{c}");
    // In defaults too.
    let file = config_text(
        &json!({"defaults": {"ca_file": ca.to_str().unwrap(), "retries": 0},
                "urls": [{"url": site.url("/")}]})
        .to_string(),
    );
    let done = run(["--once", "--format", "json", path(&file)], 20.0);
    assert_eq!(done.code(), 0, "{done}");
}

#[test]
fn a_bad_ca_file_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let err = refused(
        &json!([{"url": "https://127.0.0.1:9/", "ca_file": empty.to_str().unwrap()}]).to_string(),
    );
    assert!(err.contains("holds no certificate"), "{err}");
    let missing = dir.path().join("missing.pem");
    let err = refused(
        &json!([{"url": "https://127.0.0.1:9/", "ca_file": missing.to_str().unwrap()}]).to_string(),
    );
    assert!(err.contains("cannot be read"), "{err}");
}
