//! Checks: request options, expectations and failure policy, from entries and `defaults`.

use super::*;

/// The one monitor of a single-entry config with one field set.
fn monitor(field: &str, json: &str) -> Monitor {
    ok(&one(field, json)).monitors.remove(0)
}

/// The entry error (full display text) of a single-entry config with one field set.
fn field_err(field: &str, json: &str) -> String {
    let (index, url, msg) = entry_err(&one(field, json));
    assert_eq!((index, url.as_deref()), (0, Some("https://example.com")));
    assert!(
        msg.starts_with("entry 1 (index 0, \"https://example.com\"): "),
        "{msg}"
    );
    msg
}

#[test]
fn new_fields_have_their_defaults() {
    let m = &ok(r#"[{"url": "https://example.com", "interval": 30}]"#).monitors[0];
    assert_eq!(m.body(), None);
    assert_eq!(m.user_agent(), None);
    assert!(m.follow_redirects);
    assert_eq!(m.max_redirects(), None);
    assert!(!m.insecure);
    assert_eq!(m.expect().status, None);
    assert!(m.expect().status_ok(204) && !m.expect().status_ok(301));
    assert!(m.expect().headers.is_empty());
    assert!(!m.expect().has_body_assertions());
    assert_eq!(m.expect().max_response_time, None);
    assert_eq!(m.policy(), default_policy(Duration::from_secs(30)));
    assert_eq!(m.policy().retries, DEFAULT_RETRIES);
    assert_eq!(m.policy().retry_delay, DEFAULT_RETRY_DELAY);
    assert_eq!(m.policy().recover_after, DEFAULT_RECOVER_AFTER);
    assert_eq!(m.policy().max_backoff, Duration::from_secs(240));
}

#[test]
fn retries_parse_and_range() {
    assert_eq!(monitor("retries", "0").policy().retries, 0);
    assert_eq!(monitor("retries", "10").policy().retries, 10);
    for bad in ["11", "-1", "1.5", r#""2""#, "null"] {
        let msg = field_err("retries", bad);
        assert_contains(&msg, &["retries must be a whole number from 0 to 10", bad]);
    }
}

#[test]
fn retry_delay_parse_and_minimum() {
    assert_eq!(
        monitor("retry_delay", r#""100ms""#).policy().retry_delay,
        Duration::from_millis(100)
    );
    assert_eq!(
        monitor("retry_delay", "5").policy().retry_delay,
        Duration::from_secs(5)
    );
    let msg = field_err("retry_delay", r#""50ms""#);
    assert_contains(&msg, &["retry_delay 50ms is below the minimum of 100ms"]);
    let msg = field_err("retry_delay", "0");
    assert_contains(&msg, &["retry_delay", "minimum of 100ms"]);
    let msg = field_err("retry_delay", r#""soon""#);
    assert_contains(&msg, &["retry_delay \"soon\" is not a valid duration"]);
}

#[test]
fn recover_after_parse_and_range() {
    assert_eq!(monitor("recover_after", "1").policy().recover_after, 1);
    assert_eq!(monitor("recover_after", "100").policy().recover_after, 100);
    for bad in ["0", "101", "true"] {
        let msg = field_err("recover_after", bad);
        assert_contains(
            &msg,
            &["recover_after must be a whole number from 1 to 100", bad],
        );
    }
}

#[test]
fn max_backoff_default_given_and_raised_to_the_interval() {
    // Default: 8 × interval, capped at 10 minutes, never below the interval.
    let m = &ok(r#"[{"url": "https://example.com", "interval": "5m"}]"#).monitors[0];
    assert_eq!(m.policy().max_backoff, BACKOFF_CEILING);
    let m = &ok(r#"[{"url": "https://example.com", "interval": "1h"}]"#).monitors[0];
    assert_eq!(m.policy().max_backoff, Duration::from_secs(3600));
    let m = &ok(r#"[{"url": "https://example.com", "interval": "10s", "max_backoff": "30m"}]"#)
        .monitors[0];
    assert_eq!(m.policy().max_backoff, Duration::from_secs(1800));
    // Below the interval: raised to it.
    let m = &ok(r#"[{"url": "https://example.com", "interval": "1m", "max_backoff": "10s"}]"#)
        .monitors[0];
    assert_eq!(m.policy().max_backoff, Duration::from_secs(60));
    assert_contains(
        &field_err("max_backoff", "0"),
        &["max_backoff must be greater than zero"],
    );
    assert_contains(
        &field_err("max_backoff", r#""500years""#),
        &["max_backoff", "above the maximum"],
    );
}

#[test]
fn expect_status_forms() {
    let m = monitor("expect_status", r#"[200, "3xx", "401-403", "404"]"#);
    let set = m.expect().status.clone().unwrap();
    assert_eq!(
        set.patterns(),
        [
            StatusPattern::Code(200),
            StatusPattern::Class(3),
            StatusPattern::Range(401, 403),
            StatusPattern::Code(404),
        ]
    );
    for code in [200, 301, 399, 402, 404] {
        assert!(m.expect().status_ok(code), "{code}");
    }
    for code in [201, 400, 405, 500] {
        assert!(!m.expect().status_ok(code), "{code}");
    }
    assert_eq!(set.to_string(), "200, 3xx, 401-403 or 404");
}

#[test]
fn expect_status_rejections_quote_the_item() {
    for (json, needles) in [
        ("[]", &["expect_status is empty"][..]),
        ("200", &["expect_status must be an array", "found 200"][..]),
        (
            r#""2xx""#,
            &["expect_status must be an array", "found \"2xx\""][..],
        ),
        (
            "[600]",
            &["expect_status item 600 is not a status code from 100 to 599"][..],
        ),
        ("[99]", &["expect_status item 99"][..]),
        ("[-1]", &["expect_status item -1"][..]),
        ("[200.5]", &["expect_status item 200.5"][..]),
        (
            r#"[200, "2xy"]"#,
            &["expect_status item \"2xy\" is not a status code"][..],
        ),
        (r#"["6xx"]"#, &["expect_status item \"6xx\""][..]),
        (
            r#"["299-200"]"#,
            &["expect_status item \"299-200\" is an empty range"][..],
        ),
        (r#"["200-700"]"#, &["expect_status item \"200-700\""][..]),
        ("[true]", &["expect_status item true"][..]),
        ("[null]", &["expect_status item null"][..]),
    ] {
        assert_contains(&field_err("expect_status", json), needles);
    }
}

#[test]
fn body_assertions_parse() {
    let m = monitor("body_contains", r#""Welcome""#);
    assert_eq!(m.expect().body_contains.as_deref(), Some("Welcome"));
    let m = monitor("body_not_contains", r#""Error""#);
    assert_eq!(m.expect().body_not_contains.as_deref(), Some("Error"));
    let m = monitor("body_matches", r#""(?i)^hello \\w+""#);
    let re = m.expect().body_matches.as_ref().unwrap();
    assert!(re.is_match(b"HELLO world"));
    assert!(m.expect().has_body_assertions());
}

#[test]
fn body_assertion_rejections() {
    for field in ["body_contains", "body_not_contains"] {
        assert_contains(&field_err(field, r#""""#), &[&format!("{field} is empty")]);
        assert_contains(
            &field_err(field, "5"),
            &[&format!("{field} must be a string"), "found 5"],
        );
    }
    let msg = field_err("body_matches", r#""a(b""#);
    assert_contains(
        &msg,
        &[
            "body_matches \"a(b\" is not a valid regex: ",
            "unclosed group",
        ],
    );
    assert!(!msg.contains('\n'), "one line: {msg:?}");
    assert_contains(
        &field_err("body_matches", r#""""#),
        &["body_matches is empty"],
    );
    assert_contains(
        &field_err("body_matches", "[1]"),
        &["body_matches must be a regex", "found an array"],
    );
}

#[test]
fn body_assertions_with_head_rejected() {
    let (_, _, msg) = entry_err(
        r#"[{"url": "https://example.com", "method": "HEAD", "body_contains": "x", "body_matches": "y"}]"#,
    );
    assert_contains(
        &msg,
        &[
            "entry 1 (index 0, \"https://example.com\")",
            "body_contains, body_matches cannot be checked with method HEAD",
        ],
    );
}

#[test]
fn max_response_time_parse_and_rejections() {
    let m = monitor("max_response_time", r#""500ms""#);
    assert_eq!(
        m.expect().max_response_time,
        Some(Duration::from_millis(500))
    );
    assert_contains(
        &field_err("max_response_time", r#""0s""#),
        &["max_response_time must be greater than zero"],
    );
    assert_contains(
        &field_err("max_response_time", "true"),
        &["max_response_time true is not a valid duration"],
    );
}

#[test]
fn expect_headers_parse_merge_and_rejections() {
    let c = ok(r#"{
        "defaults": {"expect_headers": {"Content-Type": "json", "X-Served-By": ""}},
        "urls": [
            {"url": "https://a.example", "expect_headers": {"content-type": "html"}},
            {"url": "https://b.example"}
        ]
    }"#);
    let a = &c.monitors[0].expect().headers;
    assert_eq!(a.len(), 2);
    assert!(a.iter().any(|(n, v)| n == "x-served-by" && v.is_empty()));
    assert!(a.iter().any(|(n, v)| n == "content-type" && v == "html"));
    let b = &c.monitors[1].expect().headers;
    assert!(b.iter().any(|(n, v)| n == "content-type" && v == "json"));
    assert_contains(
        &field_err("expect_headers", r#"{"Bad Name": "x"}"#),
        &["expect_headers: header name \"Bad Name\""],
    );
    assert_contains(
        &field_err("expect_headers", r#"{"X-A": "1", "x-a": "2"}"#),
        &["expect_headers: header \"x-a\" is given more than once"],
    );
    assert_contains(
        &field_err("expect_headers", r#"{"X-A": 1}"#),
        &[
            "expect_headers: header \"X-A\": value must be a string",
            "found 1",
        ],
    );
    assert_contains(
        &field_err("expect_headers", r#"["X-A"]"#),
        &["expect_headers must be an object", "found an array"],
    );
}

#[test]
fn redirect_and_tls_options() {
    assert!(!monitor("follow_redirects", "false").follow_redirects);
    assert!(monitor("follow_redirects", "true").follow_redirects);
    assert_eq!(monitor("max_redirects", "0").max_redirects(), Some(0));
    assert_eq!(monitor("max_redirects", "50").max_redirects(), Some(50));
    assert!(monitor("insecure", "true").insecure);
    assert!(!monitor("insecure", "false").insecure);
    assert_contains(
        &field_err("follow_redirects", r#""no""#),
        &["follow_redirects must be true or false", "found \"no\""],
    );
    assert_contains(
        &field_err("insecure", "1"),
        &["insecure must be true or false", "found 1"],
    );
    assert_contains(
        &field_err("max_redirects", "51"),
        &[
            "max_redirects must be a whole number from 0 to 50",
            "found 51",
        ],
    );
}

#[test]
fn body_with_methods() {
    for method in ["POST", "put", "Patch"] {
        let c = ok(&format!(
            r#"[{{"url": "https://example.com", "method": "{method}", "body": "{{\"a\": 1}}"}}]"#
        ));
        assert_eq!(c.monitors[0].body(), Some(r#"{"a": 1}"#));
    }
    let c = ok(r#"[{"url": "https://example.com", "method": "POST", "body": ""}]"#);
    assert_eq!(c.monitors[0].body(), Some(""));
    for method in ["GET", "HEAD", "DELETE", "OPTIONS"] {
        let (_, _, msg) = entry_err(&format!(
            r#"[{{"url": "https://example.com", "method": "{method}", "body": "x"}}]"#
        ));
        assert_contains(
            &msg,
            &[
                "entry 1 (index 0, \"https://example.com\")",
                &format!("body is set but method is {method}"),
                "POST, PUT or PATCH",
            ],
        );
    }
    // No method at all means GET.
    assert_contains(&field_err("body", r#""x""#), &["method is GET"]);
    let (_, _, msg) =
        entry_err(r#"[{"url": "https://example.com", "method": "POST", "body": {"a": 1}}]"#);
    assert_contains(&msg, &["body must be a string", "found an object"]);
}

#[test]
fn user_agent_parse_and_rejections() {
    let m = monitor("user_agent", r#"" probe/1.0 (+ops@example.com) ""#);
    assert_eq!(m.user_agent(), Some("probe/1.0 (+ops@example.com)"));
    assert_contains(
        &field_err("user_agent", r#""  ""#),
        &["user_agent is empty"],
    );
    assert_contains(
        &field_err("user_agent", r#""a\u0007b""#),
        &["user_agent", "not a valid HTTP header value"],
    );
    assert_contains(
        &field_err("user_agent", "7"),
        &["user_agent must be a string", "found 7"],
    );
}

#[test]
fn every_new_field_comes_from_defaults_and_entries_override() {
    let c = ok(r#"{
        "defaults": {
            "retries": 5, "retry_delay": "1s", "recover_after": 3, "max_backoff": "20m",
            "expect_status": [200, 204], "body_contains": "ok", "body_not_contains": "err",
            "body_matches": "^o", "max_response_time": "2s",
            "follow_redirects": false, "max_redirects": 3, "insecure": true,
            "method": "POST", "body": "ping", "user_agent": "probe/1"
        },
        "urls": [
            {"url": "https://a.example"},
            {"url": "https://b.example",
             "retries": 0, "retry_delay": "200ms", "recover_after": 1, "max_backoff": "2m",
             "expect_status": ["3xx"], "body_contains": "OK", "body_not_contains": "ERR",
             "body_matches": "^O", "max_response_time": "300ms",
             "follow_redirects": true, "max_redirects": 9, "insecure": false,
             "method": "PUT", "body": "pong", "user_agent": "probe/2"}
        ]
    }"#);
    let (a, b) = (&c.monitors[0], &c.monitors[1]);
    assert_eq!(
        a.policy(),
        Policy {
            retries: 5,
            retry_delay: Duration::from_secs(1),
            recover_after: 3,
            max_backoff: Duration::from_secs(1200),
        }
    );
    assert_eq!(
        b.policy(),
        Policy {
            retries: 0,
            retry_delay: Duration::from_millis(200),
            recover_after: 1,
            max_backoff: Duration::from_secs(120),
        }
    );
    assert_eq!(
        a.expect().status.as_ref().unwrap().to_string(),
        "200 or 204"
    );
    assert_eq!(b.expect().status.as_ref().unwrap().to_string(), "3xx");
    assert_eq!(a.expect().body_contains.as_deref(), Some("ok"));
    assert_eq!(b.expect().body_contains.as_deref(), Some("OK"));
    assert_eq!(a.expect().body_not_contains.as_deref(), Some("err"));
    assert_eq!(b.expect().body_not_contains.as_deref(), Some("ERR"));
    assert_eq!(a.expect().body_matches.as_ref().unwrap().as_str(), "^o");
    assert_eq!(b.expect().body_matches.as_ref().unwrap().as_str(), "^O");
    assert_eq!(a.expect().max_response_time, Some(Duration::from_secs(2)));
    assert_eq!(
        b.expect().max_response_time,
        Some(Duration::from_millis(300))
    );
    assert!(!a.follow_redirects && b.follow_redirects);
    assert_eq!((a.max_redirects(), b.max_redirects()), (Some(3), Some(9)));
    assert!(a.insecure && !b.insecure);
    assert_eq!((a.method, b.method), (Method::Post, Method::Put));
    assert_eq!((a.body(), b.body()), (Some("ping"), Some("pong")));
    assert_eq!(
        (a.user_agent(), b.user_agent()),
        (Some("probe/1"), Some("probe/2"))
    );
}

#[test]
fn defaults_body_with_an_entry_get_names_the_entry() {
    let (index, url, msg) = entry_err(
        r#"{"defaults": {"method": "POST", "body": "x"},
            "urls": [{"url": "https://a.example"}, {"url": "https://b.example", "method": "GET"}]}"#,
    );
    assert_eq!((index, url.as_deref()), (1, Some("https://b.example")));
    assert_contains(&msg, &["body is set but method is GET"]);
}

#[test]
fn unknown_field_lists_the_new_fields() {
    let (_, _, msg) = entry_err(r#"[{"url": "https://example.com", "expect_body": "x"}]"#);
    assert_contains(
        &msg,
        &[
            "unknown field `expect_body`",
            "`expect_status`",
            "`expect_headers`",
            "`body_contains`",
            "`body_not_contains`",
            "`body_matches`",
            "`max_response_time`",
            "`follow_redirects`",
            "`max_redirects`",
            "`insecure`",
            "`body`",
            "`user_agent`",
            "`retries`",
            "`retry_delay`",
            "`recover_after`",
            "`max_backoff`",
        ],
    );
    let e = err(r#"{"defaults": {"expect_body": "x"}, "urls": [{"url": "https://a.example"}]}"#);
    let msg = e.to_string();
    assert!(
        msg.starts_with("defaults: unknown field `expect_body`"),
        "{msg}"
    );
    assert!(!msg.contains("`url`"), "{msg}");
}
