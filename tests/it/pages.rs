//! The live pages, `GET /` and `GET /monitors/{id}`, against runs on local sites: status
//! codes, the overall status and states in words, filters and pagination, and escaping of
//! hostile names and server-sent details. The real-browser test is in [`crate::browser`].

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sitewatch::localsite::{refused_url, LocalSite};

use crate::raw_site::{response, RawSite};
use crate::util::{within, Sitewatch};

/// One reply: status, head (lowercased) and body.
pub struct Page {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// `GET target` from the server at `addr` (one request per connection, read to the end).
pub fn get(addr: &str, target: &str) -> Page {
    let mut s = TcpStream::connect(addr).expect("connect to the status server");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the reply");
    let raw = String::from_utf8(raw).expect("reply is UTF-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let status = head[9..12].parse().expect("status code");
    Page {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

/// The address the run serves on, from its `listening on http://ADDR/` line.
pub fn serving(sw: &mut Sitewatch) -> String {
    let line = sw.wait_for_stderr(within(10.0), "listening on http://");
    let from = line.find("http://").unwrap() + 7;
    line[from..].trim_end().trim_end_matches('/').to_string()
}

/// Polls `target` until `ready` holds for its body (bounded by `deadline`), and returns it.
pub fn wait_for_page(
    addr: &str,
    target: &str,
    deadline: Instant,
    ready: impl Fn(&str) -> bool,
) -> Page {
    loop {
        let page = get(addr, target);
        if page.status == 200 && ready(&page.body) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "{target} never became ready; last reply {}:\n{}",
            page.status,
            page.body
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The link to the monitor shown as `title` (escaped as HTML) on the status page `html`.
pub fn link_to(html: &str, title: &str) -> String {
    let end = html
        .find(&format!("\">{title}</a>"))
        .unwrap_or_else(|| panic!("no link to {title}: {html}"));
    let start = html[..end].rfind("href=\"").unwrap() + 6;
    let href = &html[start..end];
    assert!(href.starts_with("/monitors/"), "{href}");
    href.to_string()
}

/// A run serving on a free loopback port; dropping it stops the run and removes its files.
struct Run {
    _sw: Sitewatch,
    addr: String,
    _dir: tempfile::TempDir,
}

/// Starts a run of `monitors` without history (`--no-db`), or with one in a fresh directory.
fn run(monitors: &Value, history: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    std::fs::write(&file, monitors.to_string()).unwrap();
    let db = dir.path().join("history.db");
    let mut args = vec!["--listen", "127.0.0.1:0", file.to_str().unwrap()];
    if history {
        args.extend(["--db", db.to_str().unwrap()]);
    } else {
        args.push("--no-db");
    }
    let mut sw = Sitewatch::spawn(args);
    let addr = serving(&mut sw);
    Run {
        _sw: sw,
        addr,
        _dir: dir,
    }
}

#[test]
fn status_page_says_the_overall_status_and_each_state_in_words() {
    let site = LocalSite::start().unwrap();
    let run = run(
        &json!([
            {"name": "shop", "url": site.url("/ok"), "interval": "1s"},
            {"name": "blog", "url": site.url("/ok"), "interval": "1s"},
            {"name": "gone", "url": refused_url(), "interval": "1s", "retries": 0},
        ]),
        false,
    );
    let addr = run.addr.clone();
    let page = wait_for_page(&addr, "/", within(15.0), |b| {
        b.contains("1 down") && !b.contains("not checked yet")
    });
    assert!(
        page.head.contains("content-type: text/html; charset=utf-8"),
        "{}",
        page.head
    );
    let html = &page.body;
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<span class=\"word\">1 down</span>"),
        "{html}"
    );
    assert!(html.contains("Problems (1)"));
    for name in ["shop", "blog", "gone"] {
        assert!(
            html.contains(&format!(">{name}</a>")),
            "{name} listed: {html}"
        );
    }
    assert_eq!(html.matches("class=\"badge up\">up<").count(), 2, "{html}");
    // Once under problems, once in the list.
    assert_eq!(
        html.matches("class=\"badge down\">down<").count(),
        2,
        "{html}"
    );
    assert!(html.contains("history: off (--no-db)"));
    assert!(html.contains("sitewatch: <b>3</b> monitors"));
    for external in ["<script", "<link", "src=", "url(", "@import"] {
        assert!(!html.contains(external), "external asset: {external}");
    }
}

#[test]
fn all_up_is_said_only_when_every_monitor_is_up() {
    let site = LocalSite::start().unwrap();
    let run = run(
        &json!([
            {"name": "a", "url": site.url("/ok"), "interval": "1s"},
            {"name": "b", "url": site.url("/ok"), "interval": "1s"},
        ]),
        false,
    );
    let addr = run.addr.clone();
    let page = wait_for_page(&addr, "/", within(15.0), |b| {
        b.contains("All 2 monitors up")
    });
    assert!(page
        .body
        .contains("<title>All 2 monitors up · sitewatch</title>"));
}

#[test]
fn the_list_filters_by_text_and_state_and_pages() {
    let site = LocalSite::start().unwrap();
    let mut monitors: Vec<Value> = (0..120)
        .map(|i| json!({"name": format!("web-{i:03}"), "group": "web", "url": site.url("/ok"), "interval": "2s"}))
        .collect();
    monitors
        .push(json!({"name": "dead-one", "group": "db", "url": refused_url(), "interval": "1s", "retries": 0}));
    let run = run(&json!(monitors), false);
    let addr = run.addr.clone();
    wait_for_page(&addr, "/", within(20.0), |b| {
        b.contains("1 down") && !b.contains("not checked yet")
    });

    let down = get(&addr, "/?state=down").body;
    assert!(down.contains(">dead-one</a>"), "{down}");
    assert!(!down.contains(">web-000</a>"), "{down}");
    assert!(down.contains("1 of 121 monitors match"), "{down}");
    assert!(down.contains("<option value=\"down\" selected>down</option>"));

    let db = get(&addr, "/?group=db").body;
    assert!(
        db.contains(">dead-one</a>") && !db.contains(">web-000</a>"),
        "{db}"
    );
    assert!(
        db.contains("<div class=\"group\">db</div>"),
        "a group heading: {db}"
    );
    assert!(
        db.contains("<option value=\"db\" selected>db</option>"),
        "{db}"
    );

    let q = get(&addr, "/?q=web-11").body;
    assert_eq!(q.matches("\">web-11").count(), 10, "web-110..119: {q}");
    assert!(q.contains("value=\"web-11\""), "the form keeps the filter");

    // 121 monitors, more than a page: a pager whose links keep the filter.
    let first = get(&addr, "/?q=web").body;
    assert!(first.contains("page 1 of "), "{first}");
    assert!(first.contains("href=\"/?q=web&amp;page=2\""), "{first}");
    let second = get(&addr, "/?q=web&page=2");
    assert_eq!(second.status, 200);
    assert!(second.body.contains("page 2 of "));
    assert!(
        !second.body.contains(">web-000</a>"),
        "page 2 starts past the first page"
    );

    for bad in ["/?state=sideways", "/?page=0", "/?page=x"] {
        let page = get(&addr, bad);
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
}

#[test]
fn monitor_page_lists_recent_checks_with_reasons_and_404_names_an_unknown_id() {
    let site = LocalSite::start().unwrap();
    let run = run(
        &json!([
            {"name": "api", "url": site.url("/ok"), "interval": "1s"},
            {"name": "broken one", "url": site.url("/status/503"), "interval": "1s", "retries": 0},
        ]),
        true,
    );
    let addr = run.addr.clone();
    // The incident is counted from the history once the writer has stored it.
    let list = wait_for_page(&addr, "/", within(15.0), |b| {
        b.contains("1 down") && b.contains("1 incident</a> in 30 d, last ")
    });
    assert!(
        list.body.contains("no incidents in 30 d"),
        "api's: {}",
        list.body
    );
    // With a history: the strips of the last 90 days and 24 hours, and uptime figures.
    assert!(
        list.body
            .contains("aria-label=\"uptime per day, last 90 days\""),
        "{}",
        list.body
    );
    assert!(list
        .body
        .contains("aria-label=\"uptime per hour, last 24 hours\""));
    assert!(list.body.contains("history: on"));
    let broken = link_to(&list.body, "broken one");
    let page = wait_for_page(&addr, &broken, within(15.0), |b| {
        b.contains("class=\"badge down\"") && b.contains("HTTP 503")
    });
    let html = page.body;
    assert!(html.contains("<h1>broken one"), "{html}");
    assert!(html.contains("Recent checks"));
    assert!(
        html.contains("HTTP 503 Service Unavailable"),
        "the detail: {html}"
    );
    assert!(html.contains(">status</td>"), "the reason: {html}");
    assert!(
        html.contains("aria-label=\"latency per cell\""),
        "the chart: {html}"
    );
    assert!(html.contains("href=\"/\""), "a way back");

    let api = link_to(&list.body, "api");
    let ok = wait_for_page(&addr, &api, within(10.0), |b| {
        b.contains("class=\"badge up\"")
    });
    assert!(ok.body.contains("<span class=\"ok\">up</span>"));

    let missing = get(&addr, "/monitors/nope");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("nope"), "{}", missing.body);
}

#[test]
fn hostile_names_and_server_details_are_escaped() {
    let evil = "<script>alert(1)</script>";
    let site = RawSite::start(|_| {
        response(
            "200 OK",
            &[("X-Version", "<img src=x onerror=alert(2)>")],
            b"ok",
        )
    });
    let run = run(
        &json!([{
            "name": evil,
            "url": site.url("/"),
            "interval": "1s",
            "retries": 0,
            "expect_headers": {"x-version": "v2"},
        }]),
        true,
    );
    let addr = run.addr.clone();
    // Problems say why it went down (from the history, once stored), escaped.
    let page = wait_for_page(&addr, "/", within(15.0), |b| {
        b.contains("1 down") && b.contains("onerror")
    });
    assert!(!page.body.contains(evil), "{}", page.body);
    assert!(!page.body.contains("<img"), "{}", page.body);
    assert!(
        page.body.contains("<b>assertion</b>: header x-version is"),
        "{}",
        page.body
    );
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let href = link_to(&page.body, "&lt;script&gt;alert(1)&lt;/script&gt;");
    let one = wait_for_page(&addr, &href, within(10.0), |b| b.contains("onerror"));
    assert!(!one.body.contains("<img"), "{}", one.body);
    assert!(!one.body.contains(evil));
    assert!(
        one.body.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{}",
        one.body
    );
}
