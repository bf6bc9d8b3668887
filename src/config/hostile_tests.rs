//! Config input an attacker (or a careless copy-paste) would try: credentials in URLs and
//! headers, control characters in names, keys given twice, huge values.

use super::*;

fn ok(text: &str) -> Config {
    Config::parse(text).unwrap_or_else(|e| panic!("expected {text} to parse, got: {e}"))
}

fn err(text: &str) -> String {
    match Config::parse(text) {
        Ok(c) => panic!("expected {text} to fail, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn userinfo_is_sent_but_never_shown() {
    let c = ok(
        r#"[{"url": "https://alice:s3cret@example.com/x"}, {"url": "https://tok@example.com/"}]"#,
    );
    let m = &c.monitors[0];
    assert_eq!(&*m.url, "https://alice:***@example.com/x");
    assert_eq!(m.label(), "https://alice:***@example.com/x");
    assert_eq!(m.request_url(), "https://alice:s3cret@example.com/x");
    assert_eq!(m.uri().unwrap().host(), Some("example.com"));
    assert!(m.is_https());
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "Debug hides the password"
    );
    assert_eq!(&*c.monitors[1].url, "https://***@example.com/");
    assert_eq!(c.monitors[1].request_url(), "https://tok@example.com/");
}

#[test]
fn config_errors_never_show_the_password() {
    let e = err(r#"[{"url": "https://alice:s3cret@example.com/", "interval": "x"}]"#);
    assert!(e.contains("alice:***@example.com"), "{e}");
    assert!(!e.contains("s3cret"), "{e}");
}

#[test]
fn env_valued_headers_and_url_are_secrets() {
    std::env::set_var("SITEWATCH_TEST_HDR_7A1", "key-s3cret");
    std::env::set_var(
        "SITEWATCH_TEST_URL_7A1",
        "http://u:pw-s3cret@127.0.0.1:9/h?token=s3cret",
    );
    let c = ok(
        r#"{"defaults": {"headers": {"X-Api-Key": {"env": "SITEWATCH_TEST_HDR_7A1"}}},
        "urls": [{"url": {"env": "SITEWATCH_TEST_URL_7A1"}, "headers": {"X-Plain": "v"}}]}"#,
    );
    let m = &c.monitors[0];
    assert_eq!(&*m.url, "env:SITEWATCH_TEST_URL_7A1");
    assert_eq!(
        m.request_url(),
        "http://u:pw-s3cret@127.0.0.1:9/h?token=s3cret"
    );
    assert!(m.is_secret_header("x-api-key"));
    assert!(m.is_secret_header("X-API-KEY"));
    assert!(!m.is_secret_header("X-Plain"));
    assert!(!m.is_secret_header("X-Absent"));
    let (_, v) = m.headers().iter().find(|(n, _)| n == "x-api-key").unwrap();
    assert_eq!(v.to_str().unwrap(), "key-s3cret");
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "Debug hides every secret"
    );
}

#[test]
fn missing_variables_are_named_with_the_entry() {
    let e = err(
        r#"[{"url": "https://example.com", "headers": {"X-Api-Key": {"env": "SITEWATCH_TEST_NOPE_7A1"}}}]"#,
    );
    assert!(
        e.contains("entry 1") && e.contains("SITEWATCH_TEST_NOPE_7A1") && e.contains("X-Api-Key"),
        "{e}"
    );
    let e = err(r#"[{"url": {"env": "SITEWATCH_TEST_NOPE_7A2"}}]"#);
    assert!(
        e.contains("entry 1") && e.contains("SITEWATCH_TEST_NOPE_7A2"),
        "{e}"
    );
    std::env::set_var("SITEWATCH_TEST_BADURL_7A1", "ftp://s3cret.example/");
    let e = err(r#"[{"url": {"env": "SITEWATCH_TEST_BADURL_7A1"}}]"#);
    assert!(
        e.contains("SITEWATCH_TEST_BADURL_7A1") && !e.contains("s3cret"),
        "{e}"
    );
}

#[test]
fn names_with_control_characters_or_too_long_are_rejected() {
    for bad in [
        r#""a\nb""#,
        r#""a\u001b[31mred""#,
        r#""x\u0085y""#,
        r#""x\u007fy""#,
        r#""evil\u202Egnp.exe""#,
        r#""\u2066iso""#,
    ] {
        let e = err(&format!(
            r#"[{{"url": "https://example.com", "name": {bad}}}]"#
        ));
        assert!(
            e.contains("entry 1") && e.contains("control character"),
            "{bad}: {e}"
        );
        assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{e}");
    }
    let long = "n".repeat(MAX_NAME + 1);
    let e = err(&format!(
        r#"[{{"url": "https://example.com", "name": "{long}"}}]"#
    ));
    assert!(e.contains("201 characters") && e.contains("entry 1"), "{e}");
    ok(&format!(
        r#"[{{"url": "https://example.com", "name": "{}"}}]"#,
        "é".repeat(MAX_NAME)
    ));
}

#[test]
fn a_key_given_twice_names_the_entry_and_the_key() {
    let e = err(
        r#"[{"url": "https://a.example"}, {"url": "https://b.example", "url": "https://evil.example"}]"#,
    );
    assert!(
        e.starts_with("entry 2 (index 1)") && e.contains("\"url\" is given twice"),
        "{e}"
    );
    let e = err(r#"{"urls": [{"url": "https://a.example", "headers": {"X": "1", "X": "2"}}]}"#);
    assert!(
        e.starts_with("entry 1") && e.contains("\"X\" is given twice"),
        "{e}"
    );
    // Entries read before their defaults, the defaults, and notify channels too.
    let e = err(
        r#"{"urls": [{"url": "https://a.example"}, {"url": "https://a.example", "interval": 1, "interval": 2}], "defaults": {}}"#,
    );
    assert!(
        e.starts_with("entry 2") && e.contains("\"interval\""),
        "{e}"
    );
    let e = err(
        r#"{"defaults": {"timeout": 1, "timeout": 2}, "urls": [{"url": "https://a.example"}]}"#,
    );
    assert!(
        e.starts_with("defaults:") && e.contains("\"timeout\""),
        "{e}"
    );
    let e = err(
        r#"{"urls": [{"url": "https://a.example"}], "notify": [{"type": "ntfy", "type": "slack"}]}"#,
    );
    assert!(
        e.starts_with("notify: channel 1") && e.contains("\"type\""),
        "{e}"
    );
}

#[test]
fn huge_values_make_bounded_messages() {
    let huge = "x".repeat(10 << 20);
    for text in [
        format!(r#"[{{"url": "https://example.com", "interval": "{huge}"}}]"#),
        format!(r#"[{{"url": "https://example.com", "{huge}": 1}}]"#),
        format!(r#"[{{"url": "https://example.com/{huge}", "interval": "x"}}]"#),
        format!(r#"[{{"url": "https://example.com", "method": "{huge}"}}]"#),
        format!(r#"[{{"url": "https://example.com", "headers": {{"{huge}": "v"}}}}]"#),
        format!(r#"{{"{huge}": 1}}"#),
    ] {
        let e = err(&text);
        assert!(
            e.len() < 3000,
            "message of {} bytes: {}",
            e.len(),
            &e[..200]
        );
        assert!(e.contains("bytes in all"), "{}", &e[..e.len().min(300)]);
    }
}

#[test]
fn dev_zero_and_directories_are_refused() {
    let e = Config::load(Path::new("/dev/zero"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/dev/zero") && e.contains("a device"), "{e}");
    let e = Config::load(Path::new("/")).unwrap_err().to_string();
    assert!(e.contains("a directory"), "{e}");
}

#[test]
fn messages_quoting_the_config_stay_on_one_line() {
    let e = err("[{\"url\": \"https://example.com\", \"i\\n\\u202eval\": 1}]");
    assert!(e.contains("unknown field `i\\n\\u{202e}val`"), "{e}");
    assert!(!e.contains('\n') && !e.contains('\u{202e}'), "{e}");
}
