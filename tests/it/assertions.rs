//! What a response must look like: `expect_status`, `expect_headers`, body assertions,
//! `max_response_time`, redirect options, request bodies and `User-Agent`, and `Retry-After`,
//! each checked once with `--once` (or, for what the JSON line does not carry, with the probe
//! called directly).

use std::time::Duration;

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;
use sitewatch::probe::{HttpProbe, Probe, ProbeSettings, Reason};
use sitewatch::{Config, Monitor, Observation};

use crate::util::{check_one, count, num};

/// An entry for `path` on `site` with `extra` fields merged in.
fn entry(site: &LocalSite, path: &str, extra: Value) -> Value {
    let mut e = json!({"url": site.url(path), "interval": "5s", "timeout": "5s"});
    let fields = e.as_object_mut().expect("object");
    for (k, v) in extra.as_object().expect("extra is an object") {
        fields.insert(k.clone(), v.clone());
    }
    e
}

fn assert_up(check: &Value) {
    assert_eq!(check["up"], true, "{check}");
    assert!(
        check["reason"].is_null() && check["detail"].is_null(),
        "{check}"
    );
}

fn assert_down(check: &Value, reason: &str, detail: &str) {
    assert_eq!(check["up"], false, "{check}");
    assert_eq!(check["reason"], reason, "{check}");
    assert_eq!(check["detail"], detail, "{check}");
}

fn detail(check: &Value) -> &str {
    check["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("detail is not a string: {check}"))
}

// --- expect_status ------------------------------------------------------------------------

#[test]
fn expected_404_is_up() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(&site, "/status/404", json!({"expect_status": [404]})),
        &[],
    );
    assert_up(&c);
    assert_eq!(c["status"], 404);
    assert_eq!(c["bytes"], "status 404\n".len());
}

#[test]
fn status_200_when_201_is_expected_is_down_with_status() {
    let site = LocalSite::start().unwrap();
    let c = check_one(entry(&site, "/ok", json!({"expect_status": [201]})), &[]);
    assert_down(&c, "status", "expected 201, got 200 OK");
    assert_eq!(c["status"], 200);
}

#[test]
fn status_classes_and_ranges_in_one_list() {
    let site = LocalSite::start().unwrap();
    let expect = json!({"expect_status": ["2xx", "401-403", "418"]});
    let c = check_one(entry(&site, "/status/402", expect.clone()), &[]);
    assert_up(&c);
    let c = check_one(entry(&site, "/status/418", expect.clone()), &[]);
    assert_up(&c);
    let c = check_one(entry(&site, "/status/404", expect), &[]);
    assert_down(
        &c,
        "status",
        "expected 2xx, 401-403 or 418, got 404 Not Found",
    );
}

#[test]
fn status_is_checked_before_the_body() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(&site, "/status/500", json!({"body_contains": "nowhere"})),
        &[],
    );
    assert_down(&c, "status", "HTTP 500 Internal Server Error");
}

// --- redirects ------------------------------------------------------------------------------

#[test]
fn follow_redirects_false_returns_the_3xx_to_expect_status() {
    let site = LocalSite::start().unwrap();
    let url = site.url("/redirect/1");
    let c = check_one(
        entry(
            &site,
            "/redirect/1",
            json!({"follow_redirects": false, "expect_status": ["3xx"]}),
        ),
        &[],
    );
    assert_up(&c);
    assert_eq!(c["status"], 302);
    assert_eq!(c["final_url"], url);
    assert_eq!(site.hits("/redirect/1"), 1);
    assert_eq!(site.hits("/redirect/0"), 0, "the redirect was not followed");
}

#[test]
fn follow_redirects_false_without_expect_status_is_a_status_failure() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(&site, "/redirect/1", json!({"follow_redirects": false})),
        &[],
    );
    assert_down(&c, "status", "HTTP 302 Found");
    assert_eq!(site.hits("/redirect/0"), 0);
}

#[test]
fn follow_redirects_false_is_not_a_redirect_too_many_under_max_redirects_0() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(
            &site,
            "/redirect/1",
            json!({"follow_redirects": false, "expect_status": [302]}),
        ),
        &["--max-redirects", "0"],
    );
    assert_up(&c);
    assert_eq!(c["status"], 302);
}

#[test]
fn monitor_max_redirects_overrides_the_global_limit() {
    let site = LocalSite::start().unwrap();
    // Globally 0, but this monitor follows up to 5.
    let c = check_one(
        entry(&site, "/redirect/3", json!({"max_redirects": 5})),
        &["--max-redirects", "0"],
    );
    assert_up(&c);
    assert_eq!(c["final_url"], site.url("/redirect/0"));
    // Globally 5, but this monitor follows 1 at most.
    let c = check_one(
        entry(&site, "/redirect/2", json!({"max_redirects": 1})),
        &[],
    );
    assert_down(&c, "redirects", "too many redirects (loop?)");
    // A monitor's own 0 fails the first redirect, and says which setting did it.
    let c = check_one(
        entry(&site, "/redirect/1", json!({"max_redirects": 0})),
        &[],
    );
    assert_down(&c, "redirects", "HTTP 302 Found (max_redirects is 0)");
}

// --- body assertions ------------------------------------------------------------------------

#[test]
fn body_contains_hit_and_miss() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(&site, "/text/Welcome", json!({"body_contains": "Welcome"})),
        &[],
    );
    assert_up(&c);
    let c = check_one(
        entry(&site, "/text/Hi", json!({"body_contains": "Welcome"})),
        &[],
    );
    // "hello Hi world\n"
    assert_down(
        &c,
        "assertion",
        r#"body does not contain "Welcome" (15 bytes read)"#,
    );
    assert_eq!(c["status"], 200);
    assert_eq!(c["bytes"], 15);
}

#[test]
fn body_assertions_on_a_large_streamed_body() {
    let site = LocalSite::start().unwrap();
    // The pattern body "abcdefghij…" arrives in many chunks and reads; "jk" never appears.
    // (Needles split across two chunks are covered by the unit tests of probe::expect.)
    let c = check_one(
        entry(
            &site,
            "/chunked/200000",
            json!({"body_contains": "ghijabcdefghijab", "body_not_contains": "jk"}),
        ),
        &[],
    );
    assert_up(&c);
    assert_eq!(c["bytes"], 200000);
}

#[test]
fn body_not_contains_hit_and_miss() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(&site, "/text/fine", json!({"body_not_contains": "Error"})),
        &[],
    );
    assert_up(&c);
    let c = check_one(
        entry(&site, "/text/Error", json!({"body_not_contains": "Error"})),
        &[],
    );
    assert_down(
        &c,
        "assertion",
        r#"body contains "Error", which body_not_contains forbids (18 bytes read)"#,
    );
}

#[test]
fn body_matches_hit_and_miss() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(
            &site,
            "/text/build42",
            json!({"body_matches": r"(?m)^hello [a-z]+\d+ world$"}),
        ),
        &[],
    );
    assert_up(&c);
    let c = check_one(
        entry(&site, "/text/build", json!({"body_matches": r"[a-z]+\d+"})),
        &[],
    );
    assert_down(
        &c,
        "assertion",
        r#"body does not match the regex "[a-z]+\\d+" (18 bytes read)"#,
    );
}

#[test]
fn body_assertions_apply_to_the_decoded_gzip_body() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(&site, "/gzip/5000", json!({"body_matches": "^a{5000}$"})),
        &[],
    );
    assert_up(&c);
}

// --- json ------------------------------------------------------------------------------------

/// A POST to `/echo-body` with `body`, so the site answers `body` back, checked by `json`.
fn json_check(site: &LocalSite, body: &str, wanted: Value) -> Value {
    check_one(
        entry(
            site,
            "/echo-body",
            json!({"method": "POST", "body": body, "json": wanted}),
        ),
        &[],
    )
}

const HEALTH: &str = r#"{"status": "UP", "checks": [{"name": "db", "healthy": true}], "n": 3}"#;

#[test]
fn json_assertions_hit() {
    let site = LocalSite::start().unwrap();
    let c = json_check(
        &site,
        HEALTH,
        json!({"/status": "UP", "/checks/0/healthy": true, "/n": 3}),
    );
    assert_up(&c);
}

#[test]
fn json_assertion_with_a_different_value_is_an_assertion_naming_the_pointer() {
    let site = LocalSite::start().unwrap();
    let c = json_check(&site, HEALTH, json!({"/status": "DOWN"}));
    assert_down(
        &c,
        "assertion",
        r#"json "/status" is "UP", expected "DOWN""#,
    );
    let c = json_check(&site, HEALTH, json!({"/n": "3"}));
    assert_down(&c, "assertion", r#"json "/n" is 3, expected "3""#);
}

#[test]
fn json_assertion_on_a_missing_pointer_names_it() {
    let site = LocalSite::start().unwrap();
    let c = json_check(&site, HEALTH, json!({"/checks/1/healthy": true}));
    assert_down(
        &c,
        "assertion",
        r#"json "/checks/1/healthy" is missing from the body"#,
    );
}

#[test]
fn json_assertion_on_a_body_that_is_not_json_names_the_pointer() {
    let site = LocalSite::start().unwrap();
    let c = json_check(&site, "status: UP\n\u{1b}[31m", json!({"/status": "UP"}));
    assert_eq!(c["reason"], "assertion", "{c}");
    let d = detail(&c);
    assert!(d.starts_with("body is not JSON ("), "{d}");
    assert!(d.contains(r#"so "/status" cannot be checked"#), "{d}");
    assert!(!d.chars().any(char::is_control), "{d}");
}

#[test]
fn json_must_map_pointers_to_values() {
    let site = LocalSite::start().unwrap();
    for (bad, says) in [
        (json!(["/status"]), "json must be an object"),
        (json!({}), "json is empty"),
        (
            json!({"status": "UP"}),
            r#"json key "status" is not a JSON Pointer"#,
        ),
    ] {
        let run = crate::util::once(&json!([entry(&site, "/", json!({"json": bad}))]), &[]);
        assert_eq!(run.code(), 2, "{run}");
        assert!(run.stderr_text().contains(says), "{says}\n{run}");
    }
}

#[test]
fn an_oversized_body_is_body_too_large_before_any_body_assertion() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(&site, "/bytes/5000", json!({"body_contains": "zzz"})),
        &["--max-body", "1000"],
    );
    assert_eq!(c["reason"], "body_too_large", "{c}");
}

// --- max_response_time ----------------------------------------------------------------------

#[test]
fn slow_response_past_max_response_time_is_an_assertion_not_a_timeout() {
    let site = LocalSite::start().unwrap();
    let c = check_one(
        entry(
            &site,
            "/slow-headers/300",
            json!({"max_response_time": "100ms"}),
        ),
        &[],
    );
    assert_eq!(c["up"], false, "{c}");
    assert_eq!(c["reason"], "assertion", "{c}");
    assert_eq!(c["status"], 200);
    let d = detail(&c);
    assert!(d.starts_with("response took "), "{d}");
    assert!(d.ends_with(" ms, more than max_response_time 100ms"), "{d}");
    let ms = num(&c, "ms");
    assert!((300.0..5000.0).contains(&ms), "{c}");
}

#[test]
fn fast_response_within_max_response_time_is_up() {
    let site = LocalSite::start().unwrap();
    let c = check_one(entry(&site, "/ok", json!({"max_response_time": "5s"})), &[]);
    assert_up(&c);
}

// --- expect_headers -------------------------------------------------------------------------

#[test]
fn expect_headers_hit_miss_and_missing() {
    let site = LocalSite::start().unwrap();
    let json_page = "/header/content-type/application/json";
    let c = check_one(
        entry(
            &site,
            json_page,
            json!({"expect_headers": {"Content-Type": "json"}}),
        ),
        &[],
    );
    assert_up(&c);
    let c = check_one(
        entry(
            &site,
            json_page,
            json!({"expect_headers": {"content-type": "xml"}}),
        ),
        &[],
    );
    assert_down(
        &c,
        "assertion",
        r#"header content-type is "application/json", expected it to contain "xml""#,
    );
    let c = check_one(
        entry(&site, "/ok", json!({"expect_headers": {"X-Foo": "bar"}})),
        &[],
    );
    assert_down(&c, "assertion", "header x-foo missing");
    // An empty substring only asks for the header to be there.
    let c = check_one(
        entry(
            &site,
            "/header/X-Foo/anything",
            json!({"expect_headers": {"x-foo": ""}}),
        ),
        &[],
    );
    assert_up(&c);
}

// --- what is sent ---------------------------------------------------------------------------

#[test]
fn post_body_arrives_and_is_echoed() {
    let site = LocalSite::start().unwrap();
    let body = "name=sitewatch&probe=1";
    let c = check_one(
        entry(
            &site,
            "/echo-body",
            json!({"method": "POST", "body": body, "body_contains": "probe=1"}),
        ),
        &[],
    );
    assert_up(&c);
    assert_eq!(c["method"], "POST");
    assert_eq!(count(&c, "bytes"), body.len() as u64);
    let requests = site.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/echo-body");
    let length = requests[0]
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.as_str());
    assert_eq!(length, Some(body.len().to_string().as_str()));
}

#[test]
fn put_patch_delete_and_options_are_sent_as_configured() {
    let site = LocalSite::start().unwrap();
    for (method, body) in [
        ("PUT", Some("put-body")),
        ("patch", Some("{}")),
        ("DELETE", None),
        ("OPTIONS", None),
    ] {
        let mut fields = json!({"method": method});
        if let Some(body) = body {
            fields["body"] = json!(body);
        }
        let c = check_one(entry(&site, "/echo-body", fields), &[]);
        assert_up(&c);
        assert_eq!(c["method"], method.to_ascii_uppercase());
        assert_eq!(count(&c, "bytes"), body.map_or(0, str::len) as u64);
    }
    let methods: Vec<String> = site.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["PUT", "PATCH", "DELETE", "OPTIONS"]);
}

#[test]
fn user_agent_override_arrives() {
    let site = LocalSite::start().unwrap();
    let agent = "acme-probe/2.0 (+ops@example.com)";
    let c = check_one(
        entry(&site, "/echo-headers", json!({"user_agent": agent})),
        &[],
    );
    assert_up(&c);
    let requests = site.requests();
    let agents: Vec<&str> = requests[0]
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(agents, [agent]);
}

// --- Retry-After ----------------------------------------------------------------------------

#[test]
fn retry_after_503_is_a_status_failure() {
    let site = LocalSite::start().unwrap();
    let c = check_one(entry(&site, "/retry-after/7", json!({})), &[]);
    assert_down(&c, "status", "HTTP 503 Service Unavailable");
    assert_eq!(c["status"], 503);
}

/// Checks `entry` once with the real probe, in this process.
fn probe_once(entry: Value) -> Observation {
    let config = Config::parse(&Value::Array(vec![entry]).to_string()).expect("valid config");
    let monitor: &Monitor = &config.monitors[0];
    HttpProbe::new(&ProbeSettings::default()).check(monitor)
}

#[test]
fn retry_after_seconds_and_dates_reach_the_observation() {
    let site = LocalSite::start().unwrap();
    let o = probe_once(entry(&site, "/retry-after/7", json!({})));
    assert_eq!(o.status, Some(503));
    assert_eq!(o.outcome.reason(), Some(Reason::Status));
    assert_eq!(o.retry_after, Some(Duration::from_secs(7)));

    let o = probe_once(entry(&site, "/retry-after-date/30", json!({})));
    assert_eq!(o.status, Some(429));
    let after = o.retry_after.expect("Retry-After date parsed");
    // HTTP dates have whole seconds, and a little time passes between server and probe.
    assert!(
        (Duration::from_secs(28)..=Duration::from_secs(30)).contains(&after),
        "{after:?}"
    );

    // Honoured even when 503 is expected, and absent where the server sent none.
    let o = probe_once(entry(
        &site,
        "/retry-after/3",
        json!({"expect_status": [503]}),
    ));
    assert!(o.outcome.is_up(), "{o:?}");
    assert_eq!(o.retry_after, Some(Duration::from_secs(3)));
    let o = probe_once(entry(&site, "/status/503", json!({})));
    assert_eq!(o.retry_after, None);
    let o = probe_once(entry(&site, "/status/429", json!({})));
    assert_eq!(o.retry_after, None);
}

#[test]
fn probe_verdicts_match_the_json_lines() {
    // The same checks through the probe directly: reason and detail are the probe's own.
    let site = LocalSite::start().unwrap();
    let o = probe_once(entry(&site, "/ok", json!({"expect_status": [201]})));
    assert_eq!(
        o.outcome,
        sitewatch::Outcome::Down {
            reason: Reason::Status,
            detail: "expected 201, got 200 OK".into()
        }
    );
    let o = probe_once(entry(
        &site,
        "/text/x",
        json!({"expect_headers": {"content-type": "text/plain"}, "body_contains": "hello x"}),
    ));
    assert!(o.outcome.is_up(), "{o:?}");
}
