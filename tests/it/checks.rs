//! One check per outcome: status, bytes, reason and detail of each kind of site, with `--once`.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use sitewatch::localsite::{refused_url, LocalSite};

use crate::util::{check_one, count, num, once};

fn get(url: &str) -> Value {
    json!({"url": url, "interval": "5s", "timeout": "2s"})
}

fn assert_down(check: &Value, reason: &str) {
    assert_eq!(check["up"], false, "{check}");
    assert_eq!(check["reason"], reason, "{check}");
}

fn detail(check: &Value) -> &str {
    check["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("detail is not a string: {check}"))
}

#[test]
fn once_over_good_urls_checks_each_once_and_exits_0() {
    let site = LocalSite::start().unwrap();
    let urls = [
        site.url("/ok"),
        site.url("/bytes/10"),
        site.url("/status/204"),
        site.url("/redirect/1"),
    ];
    let entries: Vec<Value> = urls.iter().map(|u| get(u)).collect();
    let run = once(&Value::Array(entries), &[]);
    assert_eq!(run.code(), 0, "{run}");
    let checks = run.checks();
    let checked: Vec<&str> = checks.iter().map(|c| c["url"].as_str().unwrap()).collect();
    let mut sorted = checked.clone();
    sorted.sort_unstable();
    let mut expected: Vec<&str> = urls.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "one check line per monitor\n{run}");
    assert!(checks.iter().all(|c| c["up"] == true), "{run}");
    let summary = run.summary();
    assert_eq!(count(&summary, "monitors"), 4);
    assert_eq!(count(&summary, "checked_total"), 4);
    assert_eq!(count(&summary, "up_total"), 4);
    assert_eq!(count(&summary, "down_total"), 0);
    assert_eq!(summary["failing"], json!([]));
    assert_eq!(count(&summary, "never_checked"), 0);
    // Exactly one request per monitor (plus the one redirect hop).
    for p in [
        "/ok",
        "/bytes/10",
        "/status/204",
        "/redirect/1",
        "/redirect/0",
    ] {
        assert_eq!(site.hits(p), 1, "{p}");
    }
    assert_eq!(site.requests().len(), 5);
}

#[test]
fn once_with_one_down_url_exits_1_and_names_it_failing() {
    let site = LocalSite::start().unwrap();
    let bad = site.url("/status/500");
    let run = once(&json!([get(&site.url("/ok")), get(&bad)]), &[]);
    assert_eq!(run.code(), 1, "{run}");
    let summary = run.summary();
    assert_eq!(count(&summary, "checked_total"), 2);
    assert_eq!(count(&summary, "up_total"), 1);
    assert_eq!(count(&summary, "down_total"), 1);
    assert_eq!(summary["failing"], json!([bad]));
    assert_eq!(summary["top_reasons"], json!([["status", 1]]));
    assert_eq!(summary["top_codes"], json!([[200, 1], [500, 1]]));
    assert_eq!(
        summary["worst"],
        json!([{"url": bad, "id": sitewatch::config::identity::url_slug(&bad), "checks": 1, "up_pct": 0.0}])
    );
}

#[test]
fn ok_page_is_up_with_its_exact_body_size() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/ok");
    let c = check_one(json!({"url": url, "name": "home"}), &[]);
    assert_eq!(c["type"], "check");
    assert_eq!(c["url"], url);
    assert_eq!(c["name"], "home");
    assert_eq!(c["method"], "GET");
    assert_eq!(c["status"], 200);
    assert_eq!(c["bytes"], 3);
    assert_eq!(c["up"], true);
    assert!(c["reason"].is_null() && c["detail"].is_null(), "{c}");
    assert_eq!(c["final_url"], url);
    let (ms, ttfb) = (num(&c, "ms"), num(&c, "ttfb_ms"));
    assert!(0.0 < ttfb && ttfb <= ms && ms < 2000.0, "{c}");
    assert!(
        num(&c, "lateness_ms") >= 0.0 && num(&c, "queued_ms") >= 0.0,
        "{c}"
    );
}

#[test]
fn status_404_is_down_with_reason_status() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/status/404")), &[]);
    assert_down(&c, "status");
    assert_eq!(c["status"], 404);
    assert_eq!(c["bytes"], "status 404\n".len());
    assert_eq!(detail(&c), "HTTP 404 Not Found");
    assert!(c.get("name").is_none(), "no name key without a name: {c}");
}

#[test]
fn status_503_is_down_with_reason_status() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/status/503")), &[]);
    assert_down(&c, "status");
    assert_eq!(c["status"], 503);
    assert_eq!(detail(&c), "HTTP 503 Service Unavailable");
}

#[test]
fn refused_connection_is_down_with_reason_connect() {
    let url = refused_url();
    let c = check_one(get(&url), &[]);
    assert_down(&c, "connect");
    assert_eq!(detail(&c), "connection refused");
    assert!(c["status"].is_null() && c["bytes"].is_null(), "{c}");
    assert!(c["ttfb_ms"].is_null() && c["final_url"].is_null(), "{c}");
    assert!(num(&c, "ms") < 1000.0, "{c}");
}

#[test]
fn reset_connection_is_down_with_reason_connect() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/reset")), &[]);
    assert_down(&c, "connect");
    assert!(detail(&c).contains("reset"), "{c}");
    assert!(c["status"].is_null(), "{c}");
    assert_eq!(site.hits("/reset"), 1);
}

#[test]
fn slow_headers_past_the_timeout_is_a_timeout_after_about_the_timeout() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        json!({"url": site.url("/slow-headers/3000"), "timeout": "1s"}),
        &[],
    );
    assert_down(&c, "timeout");
    assert_eq!(
        detail(&c),
        "timed out after 1s while waiting for the response headers"
    );
    assert!(c["status"].is_null(), "{c}");
    let ms = num(&c, "ms");
    assert!((1000.0..2000.0).contains(&ms), "ms {ms}: {c}");
}

#[test]
fn slow_body_past_the_timeout_is_a_timeout_while_reading_the_body() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        json!({"url": site.url("/slow-body/3000"), "timeout": "1s"}),
        &[],
    );
    assert_down(&c, "timeout");
    assert!(detail(&c).starts_with("timed out after 1s"), "{c}");
    assert!(detail(&c).contains("body"), "{c}");
    // The headers arrived at once; only part of the 10 dripped bytes did.
    assert_eq!(c["status"], 200);
    let bytes = count(&c, "bytes");
    assert!(bytes < 10, "{c}");
    assert!(num(&c, "ttfb_ms") < 1000.0, "{c}");
    let ms = num(&c, "ms");
    assert!((1000.0..2000.0).contains(&ms), "ms {ms}: {c}");
}

#[test]
fn truncated_body_is_a_protocol_failure_counting_what_arrived() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/truncated/1000")), &[]);
    assert_down(&c, "protocol");
    assert_eq!(c["status"], 200);
    assert_eq!(c["bytes"], 500);
    assert!(detail(&c).contains("truncated"), "{c}");
}

#[test]
fn garbage_instead_of_http_is_a_protocol_failure() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/garbage")), &[]);
    assert_down(&c, "protocol");
    assert!(detail(&c).contains("invalid HTTP"), "{c}");
    assert!(c["status"].is_null() && c["bytes"].is_null(), "{c}");
}

#[test]
fn redirect_loop_fails_with_redirects_after_max_redirects_hops() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/redirect-loop")), &[]);
    assert_down(&c, "redirects");
    assert_eq!(detail(&c), "too many redirects (loop?)");
    // The first request plus the default 5 redirects followed.
    assert_eq!(site.hits("/redirect-loop"), 6);
}

#[test]
fn redirect_chain_within_the_limit_is_up_at_the_final_url() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/redirect/3");
    let c = check_one(get(&url), &[]);
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["status"], 200);
    assert_eq!(c["bytes"], 3);
    assert_eq!(c["url"], url);
    assert_eq!(c["final_url"], site.url("/redirect/0"));
    for n in 0..=3 {
        assert_eq!(site.hits(&format!("/redirect/{n}")), 1, "/redirect/{n}");
    }
}

#[test]
fn max_redirects_1_fails_a_three_hop_chain_with_redirects() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/redirect/3")), &["--max-redirects", "1"]);
    assert_down(&c, "redirects");
    assert_eq!(site.hits("/redirect/3"), 1);
    assert_eq!(site.hits("/redirect/2"), 1);
    assert_eq!(site.hits("/redirect/1"), 0, "no hop past the limit");
}

#[test]
fn max_redirects_0_fails_any_redirect_with_redirects() {
    // `--help`: "Redirects followed before a check fails with `redirects`". With 0, the first
    // redirect is one too many, exactly as the second is with `--max-redirects 1`.
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/redirect/1")), &["--max-redirects", "0"]);
    assert_down(&c, "redirects");
    assert_eq!(site.hits("/redirect/1"), 1);
    assert_eq!(site.hits("/redirect/0"), 0, "no hop past the limit");
}

#[test]
fn content_length_body_is_counted_exactly() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/bytes/12345")), &[]);
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["bytes"], 12345);
}

#[test]
fn chunked_body_is_counted_exactly() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/chunked/7777")), &[]);
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["bytes"], 7777);
}

#[test]
fn gzip_body_is_counted_decoded() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/gzip/50000")), &[]);
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["bytes"], 50000);
}

#[test]
fn max_body_accepts_exactly_the_cap_and_rejects_one_byte_more() {
    let site = LocalSite::start().unwrap();
    let at_cap = site.url("/bytes/1000");
    let over = site.url("/bytes/1001");
    let run = once(&json!([get(&at_cap), get(&over)]), &["--max-body", "1000"]);
    assert_eq!(run.code(), 1, "{run}");
    let checks = run.checks();
    let find = |u: &str| {
        checks
            .iter()
            .find(|c| c["url"] == u)
            .unwrap_or_else(|| panic!("no check of {u}\n{run}"))
            .clone()
    };
    let ok = find(&at_cap);
    assert_eq!(ok["up"], true, "{ok}");
    assert_eq!(ok["bytes"], 1000);
    let big = find(&over);
    assert_down(&big, "body_too_large");
    assert_eq!(big["status"], 200);
    assert_eq!(
        detail(&big),
        "body larger than the 1000-byte cap (raise --max-body to accept it)"
    );
    assert!(count(&big, "bytes") <= 1001, "{big}");
}

#[test]
fn huge_body_fails_fast_as_body_too_large_without_reading_it_all() {
    let site = LocalSite::start().unwrap();
    // 3 GB advertised; reading it whole would take far longer than the timeout.
    let c = check_one(
        json!({"url": site.url("/bytes/3000000000"), "timeout": "10s"}),
        &["--max-body", "1MiB"],
    );
    assert_down(&c, "body_too_large");
    assert!(detail(&c).contains("1048576-byte cap"), "{c}");
    assert!(count(&c, "bytes") <= 1_048_577, "{c}");
    let ms = num(&c, "ms");
    assert!(
        ms < 3000.0,
        "took {ms} ms: the body was not cut off at the cap"
    );
}

#[test]
fn head_monitor_sends_head_and_counts_no_body() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        json!({"url": site.url("/bytes/1000"), "method": "head"}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["method"], "HEAD");
    assert_eq!(c["status"], 200);
    assert_eq!(c["bytes"], 0);
    let requests = site.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "HEAD");
    assert_eq!(requests[0].path, "/bytes/1000");
}

#[test]
fn config_headers_and_a_sitewatch_user_agent_are_sent() {
    let site = LocalSite::start().unwrap();
    let config = json!({
        "defaults": {"headers": {"X-Team": "ops", "X-Probe": "default"}},
        "urls": [{"url": site.url("/echo-headers"), "headers": {"x-probe": "42"}}]
    });
    let run = once(&config, &[]);
    assert_eq!(run.code(), 0, "{run}");
    let requests = site.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let headers = &requests[0].headers;
    let value = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    // Header names go out lowercase; the entry's value wins over the default's.
    assert!(
        headers.iter().any(|(n, v)| n == "x-probe" && v == "42"),
        "{headers:?}"
    );
    assert_eq!(value("x-probe"), ["42"], "{headers:?}");
    assert!(
        headers.iter().any(|(n, v)| n == "x-team" && v == "ops"),
        "{headers:?}"
    );
    let agents = value("user-agent");
    assert_eq!(agents.len(), 1, "{headers:?}");
    assert!(agents[0].starts_with("sitewatch/"), "{headers:?}");
}

#[test]
fn same_url_twice_with_different_intervals_is_two_monitors() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/ok");
    let run = once(
        &json!([
            {"url": url, "interval": 1, "name": "fast"},
            {"url": url, "interval": "1m 30s", "name": "slow"}
        ]),
        &[],
    );
    assert_eq!(run.code(), 0, "{run}");
    let names: BTreeSet<String> = run
        .checks()
        .iter()
        .map(|c| {
            assert_eq!(c["url"], url);
            c["name"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(names, BTreeSet::from(["fast".into(), "slow".into()]));
    let summary = run.summary();
    assert_eq!(count(&summary, "monitors"), 2);
    assert_eq!(count(&summary, "checked_total"), 2);
    assert_eq!(site.hits("/ok"), 2);
}

#[test]
fn max_body_applies_to_the_decoded_gzip_body() {
    let site = LocalSite::start().unwrap();
    // 50000 decoded bytes travel as slightly more than 50000 gzip bytes: the cap is on what
    // the page decodes to, so exactly 50000 is accepted and 50001 is not.
    let at_cap = site.url("/gzip/50000");
    let over = site.url("/gzip/50001");
    let run = once(&json!([get(&at_cap), get(&over)]), &["--max-body", "50000"]);
    assert_eq!(run.code(), 1, "{run}");
    let checks = run.checks();
    let ok = checks.iter().find(|c| c["url"] == at_cap).expect("checked");
    assert_eq!(ok["up"], true, "{ok}");
    assert_eq!(ok["bytes"], 50000);
    let big = checks.iter().find(|c| c["url"] == over).expect("checked");
    assert_down(big, "body_too_large");
    assert!(detail(big).contains("50000-byte cap"), "{big}");
}

#[test]
fn head_of_a_huge_page_is_up_whatever_the_body_cap() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        json!({"url": site.url("/bytes/3000000000"), "method": "HEAD"}),
        &["--max-body", "1000"],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["bytes"], 0);
    assert_eq!(c["status"], 200);
}
