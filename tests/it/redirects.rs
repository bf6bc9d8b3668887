//! Redirects followed by sitewatch itself: hostile and relative `Location`s, credentials per
//! origin, https to http, TLS per origin, the chain in the JSON line, one deadline for all hops.
//! Local sites only: `RawSite` on 127.0.0.1 and 127.0.0.2, `TlsSite`, `LocalSite`.

use std::time::Duration;

use serde_json::{json, Value};
use sitewatch::localsite::LocalSite;

use crate::raw_site::{redirect, response, RawSite};
use crate::tls_server::TlsSite;
use crate::util::{check_one, num};

fn get(url: &str) -> Value {
    json!({"url": url, "timeout": "3s"})
}

fn detail(check: &Value) -> &str {
    check["detail"].as_str().unwrap_or("")
}

fn assert_redirects(check: &Value, needle: &str) {
    assert_eq!(check["up"], false, "{check}");
    assert_eq!(check["reason"], "redirects", "{check}");
    assert!(detail(check).contains(needle), "{needle:?} in {check}");
}

fn ok() -> Vec<u8> {
    response("200 OK", &[], b"ok\n")
}

/// A site that redirects `/go` to `location` and answers everything else `200 ok`.
fn redirecting_to(location: &'static [u8]) -> RawSite {
    RawSite::start(move |seen| {
        if seen.target == "/go" {
            redirect("302 Found", location)
        } else {
            ok()
        }
    })
}

#[test]
fn locations_with_other_schemes_are_refused_naming_the_hop() {
    for (location, scheme) in [
        ("javascript:alert(1)", "javascript"),
        ("file:///etc/passwd", "file"),
        ("mailto:ops@example.invalid", "mailto"),
        ("data:text/html,<h1>hi</h1>", "data"),
        ("ftp://127.0.0.1/x", "ftp"),
    ] {
        // The site answers 200 to anything: following the Location as a path would be "up".
        let site = redirecting_to(location.as_bytes());
        let c = check_one(get(&site.url("/go")), &[]);
        assert_redirects(
            &c,
            &format!("HTTP 302 Found to \"{location}\" not followed"),
        );
        assert!(
            detail(&c).ends_with(&format!(
                "scheme \"{scheme}\" (only http and https are followed)"
            )),
            "{c}"
        );
        assert_eq!(site.seen().len(), 1, "nothing but /go was requested: {c}");
        assert_eq!(
            c["redirects"],
            json!([{"status": 302, "url": site.url("/go")}])
        );
    }
}

#[test]
fn relative_locations_resolve_per_rfc_3986() {
    let site = RawSite::start(|seen| match seen.target.as_str() {
        "/a/b/redirect" => redirect("302 Found", b"../ok"),
        "/redirect" => redirect("302 Found", b"?q=1"),
        "/a/ok" | "/redirect?q=1" => ok(),
        _ => response("404 Not Found", &[], b""),
    });
    let c = check_one(get(&site.url("/a/b/redirect")), &[]);
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["final_url"], site.url("/a/ok"));
    let c = check_one(get(&site.url("/redirect")), &[]);
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["final_url"], site.url("/redirect?q=1"));
    assert_eq!(site.seen_at("/?q=1").len(), 0);
}

#[test]
fn a_redirect_to_port_65616_is_refused() {
    let site = redirecting_to(b"http://127.0.0.1:65616/");
    let c = check_one(get(&site.url("/go")), &[]);
    assert_redirects(&c, "not a valid URL reference (invalid port number)");
    assert_eq!(site.seen().len(), 1);
}

#[test]
fn a_location_over_16_kib_is_refused_with_a_clear_capped_detail() {
    let long: &'static [u8] = format!("/{}", "a".repeat(16 * 1024 + 100))
        .into_bytes()
        .leak();
    let site = redirecting_to(long);
    let c = check_one(get(&site.url("/go")), &[]);
    assert_redirects(
        &c,
        &format!(
            "the Location is {} bytes, more than the 8192 sitewatch requests",
            long.len()
        ),
    );
    assert!(detail(&c).len() < 600, "capped: {} bytes", detail(&c).len());
    assert!(detail(&c).contains("…[+"), "{c}");
}

#[test]
fn a_redirect_without_location_is_refused() {
    let site = RawSite::start(|_| response("301 Moved Permanently", &[], b""));
    let c = check_one(get(&site.url("/x")), &[]);
    assert_redirects(&c, "HTTP 301 Moved Permanently without a Location header");
}

#[test]
fn credentials_go_to_the_configured_origin_only() {
    let other = RawSite::start_on("127.0.0.2", |_| ok());
    let cross: &'static str = other.url("/cross").leak();
    let site = RawSite::start(move |seen| match seen.target.as_str() {
        "/start" => redirect("302 Found", b"/same"),
        "/same" => redirect("307 Temporary Redirect", cross.as_bytes()),
        _ => ok(),
    });
    let c = check_one(
        json!({
            "url": site.url("/start"),
            "headers": {"Authorization": "Bearer s3cret", "Cookie": "sid=1",
                        "Proxy-Authorization": "Basic eDp5", "X-Trace": "t1"},
        }),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["final_url"], cross);
    let same = &site.seen_at("/same")[0];
    assert_eq!(
        same.header("authorization"),
        Some("Bearer s3cret"),
        "kept on the same origin"
    );
    assert_eq!(same.header("cookie"), Some("sid=1"));
    let far = &other.seen_at("/cross")[0];
    assert_eq!(far.header("authorization"), None, "{far:?}");
    assert_eq!(far.header("cookie"), None, "{far:?}");
    assert_eq!(far.header("proxy-authorization"), None, "{far:?}");
    assert_eq!(far.header("x-trace"), Some("t1"), "other headers go along");
    assert_eq!(
        c["redirects"],
        json!([{"status": 302, "url": site.url("/start")},
               {"status": 307, "url": site.url("/same")}])
    );
}

#[test]
fn url_userinfo_is_sent_on_the_same_origin_only_and_never_shown() {
    let other = RawSite::start(|_| ok());
    let cross: &'static str = other.url("/cross").leak();
    let site = RawSite::start(move |seen| match seen.target.as_str() {
        "/start" => redirect("302 Found", b"/same"),
        "/same" => redirect("302 Found", cross.as_bytes()),
        _ => ok(),
    });
    let url = format!("http://me:pw@{}/start", site.addr());
    let c = check_one(json!({"url": url}), &[]);
    assert_eq!(c["up"], true, "{c}");
    // "me:pw" in Basic auth.
    assert_eq!(
        site.seen_at("/same")[0].header("authorization"),
        Some("Basic bWU6cHc=")
    );
    assert_eq!(other.seen_at("/cross")[0].header("authorization"), None);
    let chain = c["redirects"].to_string();
    assert!(!chain.contains("pw@"), "{chain}");
    assert_eq!(
        c["redirects"][1]["url"],
        format!("http://me:***@{}/same", site.addr())
    );
}

#[test]
fn a_redirect_to_another_port_is_another_origin() {
    let other = RawSite::start(|_| ok());
    let cross: &'static str = other.url("/x").leak();
    let site = redirecting_to(cross.as_bytes());
    let c = check_one(
        json!({"url": site.url("/go"), "headers": {"Authorization": "Bearer s3cret"}}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(other.seen()[0].header("authorization"), None);
}

#[test]
fn https_to_http_is_refused_unless_allow_http_redirect() {
    let plain = RawSite::start(|_| ok());
    let secure = TlsSite::answering(redirect(
        "301 Moved Permanently",
        plain.url("/ok").as_bytes(),
    ));
    let c = check_one(json!({"url": secure.url("/"), "insecure": true}), &[]);
    assert_redirects(
        &c,
        "a downgrade from https to http (set allow_http_redirect to follow it)",
    );
    assert!(plain.seen().is_empty(), "nothing went out over plain http");
    let c = check_one(
        json!({"url": secure.url("/"), "insecure": true, "allow_http_redirect": true}),
        &[],
    );
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(c["final_url"], plain.url("/ok"));
}

#[test]
fn insecure_covers_the_configured_origin_only() {
    // Both self-signed: `insecure` lets the first through, the hop to the second is verified.
    let target = TlsSite::start();
    let first = TlsSite::answering(redirect("302 Found", target.url("/").as_bytes()));
    let c = check_one(json!({"url": first.url("/"), "insecure": true}), &[]);
    assert_eq!(c["up"], false, "{c}");
    assert_eq!(c["reason"], "tls", "{c}");
    assert_eq!(target.hits(), 0);
    assert_eq!(first.hits(), 1);
}

#[test]
fn the_chain_is_in_the_json_line_and_absent_without_redirects() {
    let site = LocalSite::start().unwrap();
    let c = check_one(get(&site.url("/redirect/2")), &[]);
    assert_eq!(c["up"], true, "{c}");
    assert_eq!(
        c["redirects"],
        json!([{"status": 302, "url": site.url("/redirect/2")},
               {"status": 302, "url": site.url("/redirect/1")}])
    );
    assert_eq!(c["final_url"], site.url("/redirect/0"));
    let c = check_one(get(&site.url("/ok")), &[]);
    assert!(c.get("redirects").is_none(), "{c}");
}

#[test]
fn post_becomes_get_on_303_and_stays_post_on_308() {
    let site = RawSite::start(|seen| match seen.target.as_str() {
        "/see-other" => redirect("303 See Other", b"/landing"),
        "/permanent" => redirect("308 Permanent Redirect", b"/landing"),
        _ => ok(),
    });
    for (path, method, length) in [
        ("/see-other", "GET", None),
        ("/permanent", "POST", Some("5")),
    ] {
        let c = check_one(
            json!({"url": site.url(path), "method": "POST", "body": "hello"}),
            &[],
        );
        assert_eq!(c["up"], true, "{c}");
        let landing = site.seen_at("/landing");
        let last = landing.last().expect("landing reached");
        assert_eq!(last.method, method, "{path}");
        assert_eq!(last.header("content-length"), length, "{path}");
    }
}

#[test]
fn the_whole_chain_shares_the_monitor_timeout() {
    // Every hop takes 400 ms and redirects again: the 1 s deadline is spent by the third hop,
    // well before max_redirects (20) would be.
    let site = RawSite::start(|seen| {
        std::thread::sleep(Duration::from_millis(400));
        let next = format!("/hop{}", seen.target.len());
        redirect("302 Found", next.as_bytes())
    });
    let c = check_one(
        json!({"url": site.url("/h"), "timeout": "1s", "max_redirects": 20}),
        &[],
    );
    assert_eq!(c["up"], false, "{c}");
    assert_eq!(c["reason"], "timeout", "{c}");
    assert!(num(&c, "ms") < 2500.0, "one deadline for the chain: {c}");
    assert!(site.seen().len() <= 4, "{} hops", site.seen().len());
}

#[test]
fn an_env_valued_header_is_a_secret_that_stays_on_the_configured_origin() {
    let other = RawSite::start_on("127.0.0.2", |_| ok());
    let cross: &'static str = other.url("/cross").leak();
    let site = RawSite::start(move |seen| match seen.target.as_str() {
        "/start" => redirect("302 Found", b"/same"),
        "/same" => redirect("302 Found", cross.as_bytes()),
        _ => ok(),
    });
    let file = crate::util::config(&json!({
        "defaults": {"retries": 0},
        "urls": [{"url": site.url("/start"), "timeout": "3s",
                  "headers": {"X-Api-Key": {"env": "SW_TEST_API_KEY"}, "X-Trace": "t1"}}],
    }));
    let run = crate::util::Sitewatch::spawn_env(
        ["--once", "--format", "json", crate::util::path(&file)],
        &[("SW_TEST_API_KEY", "k-123")],
    )
    .finish(crate::util::within(20.0));
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(site.seen_at("/start")[0].header("x-api-key"), Some("k-123"));
    assert_eq!(site.seen_at("/same")[0].header("x-api-key"), Some("k-123"));
    let far = &other.seen_at("/cross")[0];
    assert_eq!(far.header("x-api-key"), None, "{far:?}");
    assert_eq!(far.header("x-trace"), Some("t1"), "{far:?}");
    assert!(!run.to_string().contains("k-123"), "{run}");
}
