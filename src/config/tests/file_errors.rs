//! File-level errors: syntax, shape, top-level keys, and every problem listed in file order.

use super::*;

#[test]
fn malformed_json_reports_line_and_column() {
    let text = "[\n  {\"url\": \"https://a.example\"}\n  {\"url\": \"https://b.example\"}\n]";
    match err(text) {
        e @ ConfigError::Syntax { line, column, .. } => {
            assert_eq!((line, column), (3, 3));
            let msg = e.to_string();
            assert_contains(&msg, &["line 3, column 3: ", "expected `,` or `]`"]);
            assert!(!msg.contains(" at line"), "{msg}");
        }
        other => panic!("expected Syntax, got {other:?}"),
    }
}

#[test]
fn empty_input_and_empty_lists_rejected() {
    for text in [
        "",
        "  \n",
        "[]",
        r#"{"urls": []}"#,
        r#"{"defaults": {"interval": 5}, "urls": []}"#,
    ] {
        let e = err(text);
        assert!(matches!(e, ConfigError::Empty), "{text}: {e:?}");
        assert_contains(&e.to_string(), &["nothing to monitor"]);
    }
}

#[test]
fn top_level_must_be_array_or_object() {
    for (text, kind) in [
        ("42", "a number"),
        (r#""urls""#, "a string"),
        ("null", "null"),
    ] {
        let e = err(text);
        assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
        assert_contains(&e.to_string(), &["top level", "array", kind]);
    }
}

#[test]
fn unknown_top_level_key_named() {
    let e = err(r#"{"urls": [{"url": "https://example.com"}], "monitors": []}"#);
    assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
    assert_contains(
        &e.to_string(),
        &[r#""monitors""#, r#""urls""#, r#""defaults""#],
    );
}

#[test]
fn urls_missing_or_not_array() {
    let e = err(r#"{"defaults": {}}"#);
    assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
    assert_contains(&e.to_string(), &["no \"urls\" key"]);
    let e = err(r#"{"urls": {"url": "https://example.com"}}"#);
    assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
    assert_contains(
        &e.to_string(),
        &["\"urls\" must be an array", "found an object"],
    );
}

#[test]
fn defaults_after_urls_still_apply_and_errors_name_the_entry() {
    let c = ok(
        r#"{"urls": [{"url": "http://a.example"}, {"url": "http://b.example", "retries": 0}],
                   "defaults": {"interval": "5m", "retries": 4}}"#,
    );
    assert_eq!(c.monitors[0].interval, Duration::from_secs(300));
    assert_eq!(c.monitors[0].policy().retries, 4);
    assert_eq!(c.monitors[1].policy().retries, 0);
    let (index, url, _) = entry_err(
        r#"{"urls": [{"url": "http://a.example"}, {"url": "http://b.example", "body": "x"}],
            "defaults": {"method": "GET"}}"#,
    );
    assert_eq!((index, url.as_deref()), (1, Some("http://b.example")));
}

#[test]
fn a_top_level_key_given_twice_is_an_error() {
    for key in ["urls", "defaults", "notify"] {
        let text = format!(
            r#"{{"defaults": {{}}, "notify": [], "urls": [{{"url": "http://a.example"}}], "{key}": []}}"#
        );
        let e = err(&text);
        assert!(matches!(e, ConfigError::Shape(_)), "{e:?}");
        assert_contains(&e.to_string(), &[&format!("{key:?}"), "twice"]);
    }
}

#[test]
fn problems_are_reported_in_file_order() {
    // An invalid entry before a syntax error: the entry is what the reader meets first.
    let (index, _, _) = entry_err(
        "[{\"url\": \"http://a.example\"},\n {\"url\": \"ftp://b.example\"},\n {\"url\": }]",
    );
    assert_eq!(index, 1);
    // A syntax error inside a later entry keeps its line and column.
    match err("[{\"url\": \"http://a.example\"},\n {\"url\": \"http://b.example\" \"x\"}]") {
        ConfigError::Syntax { line, column, .. } => assert_eq!((line, column), (2, 29)),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    match err("[{\"url\": \"http://a.example\"}] x") {
        ConfigError::Syntax { message, .. } => assert_contains(&message, &["trailing"]),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn plain_monitors_keep_nothing_out_of_line_and_share_the_defaults_block() {
    // A plain monitor is small: the memory of a million-URL list depends on it (80 bytes,
    // plus the id's pointer and length and the group's one thin pointer).
    assert!(std::mem::size_of::<Monitor>() <= 104);
    let c = ok(r#"[{"url": "http://a.example"}, {"url": "http://b.example", "interval": 5}]"#);
    assert!(c.monitors.iter().all(|m| m.extra.is_none()));
    assert_eq!(
        c.monitors[1].policy(),
        default_policy(Duration::from_secs(5))
    );
    assert!(c.monitors[0].expect().status_ok(204) && !c.monitors[0].expect().status_ok(301));
    let c = ok(
        r#"{"defaults": {"headers": {"X-A": "1"}, "max_backoff": "1s"},
                   "urls": [{"url": "http://a.example", "interval": 30}, {"url": "http://b.example"},
                            {"url": "http://c.example", "headers": {"X-B": "2"}}]}"#,
    );
    let (a, b, own) = (&c.monitors[0], &c.monitors[1], &c.monitors[2]);
    let (Some(xa), Some(xb)) = (&a.extra, &b.extra) else {
        panic!("defaults with headers give every monitor the block");
    };
    assert!(
        Arc::ptr_eq(xa, xb),
        "monitors setting nothing share the defaults' block"
    );
    assert!(!Arc::ptr_eq(xa, own.extra.as_ref().unwrap()));
    assert_eq!(own.headers().len(), 2);
    // max_backoff is shared but never below each monitor's own interval.
    assert_eq!(a.policy().max_backoff, Duration::from_secs(30));
    assert_eq!(b.policy().max_backoff, DEFAULT_INTERVAL);
}

#[test]
fn defaults_errors_are_prefixed() {
    for (defaults, needles) in [
        (
            r#"{"url": "https://x.example"}"#,
            &["unknown field `url`", "`interval`"][..],
        ),
        (r#"{"interval": "soon"}"#, &["interval \"soon\""][..]),
        (
            r#"{"timeout": 0}"#,
            &["timeout must be greater than zero"][..],
        ),
        (
            r#"{"method": "CONNECT"}"#,
            &["\"CONNECT\"", "DELETE or OPTIONS"][..],
        ),
        (
            r#"{"retries": 11}"#,
            &["retries", "0 to 10", "found 11"][..],
        ),
        (
            r#"{"body_matches": "("}"#,
            &["body_matches \"(\"", "not a valid regex"][..],
        ),
        (r#"{"headers": {"Bad Name": "x"}}"#, &["\"Bad Name\""][..]),
        (r#"[]"#, &["must be an object", "found an array"][..]),
    ] {
        let text =
            format!(r#"{{"defaults": {defaults}, "urls": [{{"url": "https://example.com"}}]}}"#);
        let e = err(&text);
        assert!(matches!(e, ConfigError::Defaults(_)), "{e:?}");
        let msg = e.to_string();
        assert!(msg.starts_with("defaults: "), "{msg}");
        assert_contains(&msg, needles);
    }
}
