//! Errors in one entry, named by position and URL.

use super::*;

#[test]
fn entry_errors_name_position_and_url() {
    let (index, url, msg) = entry_err(
        r#"[{"url": "https://a.example"}, {"url": "http://b.example"}, {"url": "ftp://example.com"}]"#,
    );
    assert_eq!(index, 2);
    assert_eq!(url.as_deref(), Some("ftp://example.com"));
    assert_eq!(
        msg,
        r#"entry 3 (index 2, "ftp://example.com"): scheme "ftp" is not supported; use http, https, tcp, icmp or dns"#
    );
}

#[test]
fn first_bad_entry_is_reported() {
    let (index, _, _) =
        entry_err(r#"[{"url": "https://a.example"}, {"url": 1}, {"url": "ftp://x"}]"#);
    assert_eq!(index, 1);
}

#[test]
fn entry_not_an_object() {
    let (index, url, msg) = entry_err(r#"[{"url": "https://a.example"}, "https://b.example"]"#);
    assert_eq!((index, url), (1, None));
    assert_contains(
        &msg,
        &[
            "entry 2 (index 1): ",
            "expected an object",
            r#""https://b.example""#,
        ],
    );
}

#[test]
fn missing_url() {
    let (index, url, msg) = entry_err(r#"[{"interval": 30}]"#);
    assert_eq!((index, url), (0, None));
    assert_contains(
        &msg,
        &["entry 1 (index 0): ", "missing required field `url`"],
    );
}

#[test]
fn url_not_a_string_or_empty() {
    let (_, url, msg) = entry_err(r#"[{"url": 42}]"#);
    assert_eq!(url, None);
    assert_contains(&msg, &["`url` must be a string", "found 42"]);
    let (_, _, msg) = entry_err(r#"[{"url": "  "}]"#);
    assert_contains(&msg, &["`url` is empty"]);
}

#[test]
fn unknown_field_named_with_accepted_list() {
    let (index, url, msg) = entry_err(r#"[{"url": "https://example.com", "intervall": 30}]"#);
    assert_eq!((index, url.as_deref()), (0, Some("https://example.com")));
    assert_contains(
        &msg,
        &[
            "unknown field `intervall`",
            "`url`",
            "`interval`",
            "`timeout`",
            "`method`",
            "`headers`",
            "`name`",
        ],
    );
}

#[test]
fn unparseable_url() {
    let (_, url, msg) = entry_err(r#"[{"url": "https://exa mple.com"}]"#);
    assert_eq!(url.as_deref(), Some("https://exa mple.com"));
    assert_contains(
        &msg,
        &["(index 0, \"https://exa mple.com\"): url is not a valid URL"],
    );
    let (_, _, msg) = entry_err(r#"[{"url": "https://bücher.example"}]"#);
    assert_contains(&msg, &["not a valid URL", "punycode"]);
}

#[test]
fn unsupported_scheme_named() {
    let (_, _, msg) = entry_err(r#"[{"url": "ftp://example.com"}]"#);
    assert_contains(
        &msg,
        &[
            r#"scheme "ftp" is not supported"#,
            "http, https, tcp, icmp or dns",
        ],
    );
    let (_, _, msg) = entry_err(r#"[{"url": "example.com"}]"#);
    assert_contains(&msg, &["has no scheme", "http://", "https://"]);
}

#[test]
fn url_without_host_or_with_bad_port() {
    let (_, _, msg) = entry_err(r#"[{"url": "https://:8080/"}]"#);
    assert_contains(&msg, &["has no host"]);
    let (_, _, msg) = entry_err(r#"[{"url": "http:///path"}]"#);
    assert_contains(&msg, &["not a valid URL"]);
    for bad in ["99999", "abc", "0"] {
        let (_, _, msg) = entry_err(&format!(r#"[{{"url": "https://example.com:{bad}/"}}]"#));
        assert_contains(&msg, &["invalid port", bad, "1 to 65535"]);
    }
}

#[test]
fn bad_headers_rejected() {
    let (_, _, msg) = entry_err(&one("headers", r#"{"Bad Name": "x"}"#));
    assert_contains(
        &msg,
        &[
            "entry 1 (index 0, \"https://example.com\")",
            r#"header name "Bad Name""#,
        ],
    );
    let (_, _, msg) = entry_err(&one("headers", r#"{"X-Token": "a\nb"}"#));
    assert_contains(
        &msg,
        &[r#"header "X-Token""#, "not a valid HTTP header value"],
    );
    let (_, _, msg) = entry_err(&one("headers", r#"{"X-Token": 5}"#));
    assert_contains(
        &msg,
        &[r#"header "X-Token""#, "must be a string", "found 5"],
    );
    let (_, _, msg) = entry_err(&one("headers", r#"{"X-A": "1", "x-a": "2"}"#));
    assert_contains(&msg, &["more than once"]);
    let (_, _, msg) = entry_err(&one("headers", r#"["X-A: 1"]"#));
    assert_contains(&msg, &["headers must be an object", "found an array"]);
}

#[test]
fn bad_name_rejected() {
    let (_, _, msg) = entry_err(&one("name", "7"));
    assert_contains(&msg, &["name must be a string", "found 7"]);
    let (_, _, msg) = entry_err(&one("name", r#""""#));
    assert_contains(&msg, &["name is empty"]);
}
