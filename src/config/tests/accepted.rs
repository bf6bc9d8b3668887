//! Forms the config accepts, and what they parse into.

use super::*;

#[test]
fn plain_array_parses_with_builtin_defaults() {
    let c = ok(r#"[{"url": "https://example.com"}]"#);
    assert_eq!(c.monitors.len(), 1);
    let m = &c.monitors[0];
    assert_eq!(&*m.url, "https://example.com");
    assert_eq!(m.uri().unwrap().host(), Some("example.com"));
    assert_eq!(m.interval, DEFAULT_INTERVAL);
    assert_eq!(m.timeout, DEFAULT_TIMEOUT);
    assert_eq!(m.method, Method::Get);
    assert!(m.headers().is_empty());
    assert_eq!(m.name, None);
}

#[test]
fn object_form_parses_with_and_without_defaults() {
    let c = ok(r#"{"urls": [{"url": "http://a.example"}, {"url": "https://b.example/x"}]}"#);
    assert_eq!(c.monitors.len(), 2);
    assert_eq!(c.monitors[1].uri().unwrap().path(), "/x");
    let c = ok(r#"{"defaults": {}, "urls": [{"url": "http://a.example"}]}"#);
    assert_eq!(c.monitors[0].interval, DEFAULT_INTERVAL);
}

#[test]
fn defaults_apply_and_entries_override() {
    let c = ok(r#"{
        "defaults": {"interval": "5m", "timeout": 3, "method": "HEAD", "name": "site"},
        "urls": [
            {"url": "https://a.example"},
            {"url": "https://b.example", "interval": 30, "timeout": "1s", "method": "get", "name": "b"}
        ]
    }"#);
    let (a, b) = (&c.monitors[0], &c.monitors[1]);
    assert_eq!(a.interval, Duration::from_secs(300));
    assert_eq!(a.timeout, Duration::from_secs(3));
    assert_eq!(a.method, Method::Head);
    assert_eq!(a.name.as_deref(), Some("site"));
    assert_eq!(b.interval, Duration::from_secs(30));
    assert_eq!(b.timeout, Duration::from_secs(1));
    assert_eq!(b.method, Method::Get);
    assert_eq!(b.name.as_deref(), Some("b"));
}

#[test]
fn headers_merge_case_insensitively_entry_wins() {
    let c = ok(r#"{
        "defaults": {"headers": {"User-Agent": "sitewatch", "X-Team": "ops"}},
        "urls": [
            {"url": "https://a.example", "headers": {"x-team": "web", "Accept": "text/html"}},
            {"url": "https://b.example"}
        ]
    }"#);
    let a = &c.monitors[0];
    assert_eq!(a.headers().len(), 3);
    assert_eq!(header(a, "user-agent"), Some("sitewatch"));
    assert_eq!(header(a, "X-Team"), Some("web"));
    assert_eq!(header(a, "accept"), Some("text/html"));
    let b = &c.monitors[1];
    assert_eq!(b.headers().len(), 2);
    assert_eq!(header(b, "x-team"), Some("ops"));
}

#[test]
fn credential_headers_are_sensitive() {
    let c = ok(&one(
        "headers",
        r#"{"Authorization": "Bearer s3cret", "X-A": "1"}"#,
    ));
    let m = &c.monitors[0];
    let auth = m
        .headers()
        .iter()
        .find(|(n, _)| n == "authorization")
        .unwrap();
    assert!(auth.1.is_sensitive());
    assert!(!format!("{m:?}").contains("s3cret"));
}

#[test]
fn same_url_twice_gives_two_monitors() {
    let c = ok(r#"[
        {"url": "https://example.com", "interval": 30},
        {"url": "https://example.com", "interval": "5m"}
    ]"#);
    assert_eq!(c.monitors.len(), 2);
    assert_eq!(c.monitors[0].interval, Duration::from_secs(30));
    assert_eq!(c.monitors[1].interval, Duration::from_secs(300));
}

#[test]
fn duration_forms_accepted() {
    for (json, secs) in [
        (r#""30s""#, 30),
        (r#""1m 30s""#, 90),
        ("30", 30),
        (r#""90""#, 90),
    ] {
        let c = ok(&one("interval", json));
        assert_eq!(c.monitors[0].interval, Duration::from_secs(secs), "{json}");
    }
    let c = ok(&one("timeout", r#""500ms""#));
    assert_eq!(c.monitors[0].timeout, Duration::from_millis(500));
}

#[test]
fn duration_rejects_quote_the_value() {
    for (json, quoted) in [
        ("1.5", "1.5"),
        ("-1", "-1"),
        (r#""soon""#, r#""soon""#),
        ("true", "true"),
        ("null", "null"),
        ("[30]", "an array"),
    ] {
        let (index, url, msg) = entry_err(&one("interval", json));
        assert_eq!(index, 0);
        assert_eq!(url.as_deref(), Some("https://example.com"));
        assert_contains(&msg, &["entry 1 (index 0", "interval", quoted, "30s"]);
    }
    let (_, _, msg) = entry_err(&one("timeout", "-1"));
    assert_contains(&msg, &["timeout -1", "not a valid duration"]);
}

#[test]
fn parse_duration_forms() {
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration(" 90 "), Ok(Duration::from_secs(90)));
    assert!(parse_duration("soon").is_err());
    assert!(parse_duration("").is_err());
    assert!(parse_duration("-1").is_err());
    assert!(parse_duration("99999999999999999999").is_err());
}

#[test]
fn interval_below_one_second_rejected_exactly_one_accepted() {
    let (_, _, msg) = entry_err(&one("interval", r#""500ms""#));
    assert_contains(&msg, &["interval 500ms", "minimum of 1s"]);
    let (_, _, msg) = entry_err(&one("interval", "0"));
    assert_contains(&msg, &["minimum of 1s"]);
    let c = ok(&one("interval", r#""1s""#));
    assert_eq!(c.monitors[0].interval, MIN_INTERVAL);
}

#[test]
fn timeout_zero_rejected() {
    for json in ["0", r#""0s""#] {
        let (_, _, msg) = entry_err(&one("timeout", json));
        assert_contains(&msg, &["timeout must be greater than zero"]);
    }
}

#[test]
fn absurd_durations_rejected() {
    let (_, _, msg) = entry_err(&one("interval", "18446744073709551615"));
    assert_contains(&msg, &["interval", "above the maximum"]);
    let (_, _, msg) = entry_err(&one("timeout", r#""500years""#));
    assert_contains(&msg, &["timeout", "above the maximum"]);
}

#[test]
fn every_method_accepted_in_any_case_others_rejected() {
    assert_eq!(
        ok(&one("method", r#""head""#)).monitors[0].method,
        Method::Head
    );
    assert_eq!(
        ok(&one("method", r#""Get""#)).monitors[0].method,
        Method::Get
    );
    for method in Method::ALL {
        let lower = method.as_str().to_ascii_lowercase();
        let c = ok(&one("method", &format!("{lower:?}")));
        assert_eq!(c.monitors[0].method, method);
        assert_eq!(c.monitors[0].method.as_str(), method.as_str());
    }
    let (_, _, msg) = entry_err(&one("method", r#""TRACE""#));
    assert_contains(
        &msg,
        &[
            "entry 1 (index 0, \"https://example.com\")",
            r#"method "TRACE""#,
            "GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS",
        ],
    );
    let (_, _, msg) = entry_err(&one("method", "1"));
    assert_contains(&msg, &["method", "found 1"]);
    assert!(Method::Post.has_body() && Method::Put.has_body() && Method::Patch.has_body());
    assert!(!Method::Get.has_body() && !Method::Head.has_body());
    assert!(!Method::Delete.has_body() && !Method::Options.has_body());
}

#[test]
fn url_trimmed_and_label_prefers_name() {
    let c = ok(
        r#"[{"url": "  https://example.com/health  "}, {"url": "http://b.example", "name": " B "}]"#,
    );
    assert_eq!(&*c.monitors[0].url, "https://example.com/health");
    assert_eq!(c.monitors[0].label(), "https://example.com/health");
    assert_eq!(c.monitors[1].label(), "B");
}

#[test]
fn byte_order_mark_ignored() {
    assert_eq!(
        ok("\u{feff}[{\"url\": \"https://example.com\"}]")
            .monitors
            .len(),
        1
    );
}

#[test]
fn representative_example_parses() {
    let text = r#"{
  "defaults": {
"interval": "1m",
"timeout": "5s",
"headers": {"User-Agent": "sitewatch/0.1 (+ops@example.com)"}
  },
  "urls": [
{"url": "https://example.com", "name": "homepage"},
{"url": "https://example.com", "name": "homepage (fast)", "interval": 10},
{"url": "https://api.example.com/health", "method": "HEAD", "interval": "30s"},
{"url": "http://intranet.example:8080/status", "timeout": "2s 500ms",
 "headers": {"Authorization": "Bearer abc123", "Accept": "application/json"}},
{"url": "https://[::1]:8443/ready", "interval": 90}
  ]
}"#;
    let c = ok(text);
    assert_eq!(c.monitors.len(), 5);
    assert_eq!(c.monitors[1].interval, Duration::from_secs(10));
    assert_eq!(c.monitors[2].method, Method::Head);
    assert_eq!(c.monitors[3].timeout, Duration::from_millis(2500));
    assert_eq!(c.monitors[3].uri().unwrap().port_u16(), Some(8080));
    assert_eq!(c.monitors[3].headers().len(), 3);
    assert_eq!(c.monitors[4].uri().unwrap().host(), Some("[::1]"));
    assert!(c
        .monitors
        .iter()
        .all(|m| m.timeout == Duration::from_secs(5) || m.url.starts_with("http://intranet")));
}
