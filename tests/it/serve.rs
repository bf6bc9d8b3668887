//! The live status surface end to end: `--listen` on a run against local sites, then every
//! endpoint over real TCP (a minimal HTTP/1.1 client, one request per connection like the
//! server), its status codes, filters, auth, security headers and limits.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sitewatch::localsite::{refused_url, LocalSite};

use crate::util::{config, path, within, Sitewatch};

/// A reply as read off the wire.
struct Got {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.head, self.text()))
    }

    /// The security headers every reply must carry.
    fn assert_secure(&self) {
        let csp = self.header("Content-Security-Policy").expect("a CSP");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(
            self.header("X-Content-Type-Options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(
            self.header("Referrer-Policy").as_deref(),
            Some("no-referrer")
        );
        assert_eq!(self.header("X-Frame-Options").as_deref(), Some("DENY"));
        assert!(self.header("Cache-Control").is_some());
    }
}

/// Sends `raw` and reads the whole reply (the server closes the connection after it).
fn exchange(addr: SocketAddr, raw: &[u8]) -> Got {
    let mut s = TcpStream::connect(addr).expect("connect to the status server");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(raw).expect("send the request");
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no reply head: {:?}", String::from_utf8_lossy(&bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    Got {
        status,
        head,
        body: bytes[split + 4..].to_vec(),
    }
}

fn request(addr: SocketAddr, method: &str, target: &str, headers: &str) -> Got {
    let raw = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n{headers}\r\n");
    exchange(addr, raw.as_bytes())
}

fn get(addr: SocketAddr, target: &str) -> Got {
    request(addr, "GET", target, "")
}

/// Starts sitewatch with `args` and returns it with the address it says it listens on.
fn listening(args: &[&str], env: &[(&str, &str)]) -> (Sitewatch, SocketAddr) {
    let mut sw = Sitewatch::spawn_env(args, env);
    let line = sw.wait_for_stderr(within(20.0), "listening on http://");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (sw, addr)
}

/// Polls `/api/v1/status` until `done` holds for it.
fn status_until(addr: SocketAddr, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = within(30.0);
    loop {
        let v = get(addr, &format!("/api/v1/status{query}")).json();
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "never reached: {v:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sites(site: &LocalSite) -> Value {
    json!({
        "defaults": {"interval": "1s", "timeout": "2s", "retry_delay": "100ms"},
        "urls": [
            {"name": "shop", "group": "eu", "url": site.url("/ok")},
            {"name": "api", "group": "us", "url": site.url("/status/500")},
            {"name": "blog", "url": format!("{}?token=x", site.url("/ok"))},
            {"name": "dead", "group": "eu", "url": refused_url()},
        ]
    })
}

fn names(v: &Value) -> Vec<String> {
    v["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn status_api_filters_badges_and_errors_on_a_run_without_history() {
    let site = LocalSite::start().unwrap();
    let cfg = config(&sites(&site));
    let (_sw, addr) = listening(&[path(&cfg), "--listen", "127.0.0.1:0", "--no-db"], &[]);

    let v = status_until(addr, "", |v| {
        v["overall"]["down"] == 2 && v["overall"]["up"] == 2
    });
    assert_eq!(v["overall"]["headline"], "2 down");
    assert_eq!(v["history"], false);
    assert_eq!(v["sitewatch"]["monitors"], 4);
    for key in [
        "checks_per_minute",
        "lateness_p99_ms",
        "missed",
        "coalesced",
        "unwritten",
        "lost_notifications",
    ] {
        assert!(v["sitewatch"][key].is_number(), "{key}: {v:#}");
    }
    // Problems first, config order within a state.
    assert_eq!(names(&v), ["api", "dead", "shop", "blog"]);
    let api = &v["monitors"][0];
    assert_eq!(api["state"], "down");
    assert_eq!(api["group"], "us");
    assert_eq!(api["last_check"]["status"], 500);
    assert_eq!(api["last_check"]["reason"], "status");
    assert_eq!(api["last_check"]["nature"], "verdict");
    assert_eq!(api["uptime"]["run"], 0.0);
    assert!(api["uptime"]["24h"].is_null(), "no history: {api:#}");
    assert_eq!(v["monitors"][2]["uptime"]["run"], 100.0);

    // Filters and pagination.
    assert_eq!(
        names(&get(addr, "/api/v1/status?state=down").json()),
        ["api", "dead"]
    );
    assert_eq!(
        names(&get(addr, "/api/v1/status?group=eu").json()),
        ["dead", "shop"]
    );
    assert_eq!(names(&get(addr, "/api/v1/status?q=SHO").json()), ["shop"]);
    assert_eq!(
        names(&get(addr, "/api/v1/status?q=token%3Dx").json()),
        ["blog"]
    );
    let p = get(addr, "/api/v1/status?per_page=3&page=2").json();
    assert_eq!(names(&p), ["blog"]);
    assert_eq!(
        p["page"],
        json!({"number": 2, "per_page": 3, "pages": 2, "matching": 4})
    );
    for (query, param) in [
        ("state=sideways", "state"),
        ("page=0", "page"),
        ("per_page=x", "per_page"),
    ] {
        let bad = get(addr, &format!("/api/v1/status?{query}"));
        assert_eq!(bad.status, 400, "{query}");
        assert!(
            bad.text().contains(&format!("{param:?}")),
            "{query}: {}",
            bad.text()
        );
        bad.assert_secure();
    }

    // One monitor.
    let one = get(addr, "/api/v1/monitors/api");
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(
        (one["id"].as_str(), one["history"].as_bool()),
        (Some("api"), Some(false))
    );
    assert!(one["recent_checks"].as_array().unwrap().is_empty());
    let missing = get(addr, "/api/v1/monitors/nope");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("\"nope\""), "{}", missing.text());

    // Badges.
    let svg = get(addr, "/badge/shop/status.svg");
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("Content-Type").as_deref(), Some("image/svg+xml"));
    assert_eq!(
        svg.header("Cache-Control").as_deref(),
        Some("no-cache, no-store, must-revalidate")
    );
    assert!(svg.text().contains(">up</text>") && svg.text().contains(r#"height="20""#));
    svg.assert_secure();
    let doc = get(addr, "/badge/api/status.json").json();
    assert_eq!(
        doc,
        json!({"schemaVersion": 1, "label": "status", "message": "down", "color": "red"})
    );
    let up = get(addr, "/badge/shop/uptime/24h.json").json();
    assert_eq!(
        (up["label"].as_str(), up["message"].as_str()),
        (Some("uptime (this run)"), Some("100%"))
    );
    assert!(get(addr, "/badge/shop/uptime/7d.svg")
        .text()
        .contains("100%"));
    assert_eq!(get(addr, "/badge/shop/uptime/1y.svg").status, 404);
    assert_eq!(get(addr, "/badge/nope/status.svg").status, 404);

    // Health, unknown paths, methods.
    let health = get(addr, "/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    health.assert_secure();
    let nothing = get(addr, "/nothing/here");
    assert_eq!(nothing.status, 404);
    assert_eq!(
        nothing.header("Content-Type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(nothing.text().contains("/nothing/here"));
    let post = request(addr, "POST", "/api/v1/status", "Content-Length: 0\r\n");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow").as_deref(), Some("GET, HEAD"));
    post.assert_secure();
    let head = request(addr, "HEAD", "/api/v1/status", "");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn oversized_requests_bodies_and_idle_connections_are_refused() {
    let site = LocalSite::start().unwrap();
    let cfg = config(&sites(&site));
    let (_sw, addr) = listening(&[path(&cfg), "--listen", "127.0.0.1:0", "--no-db"], &[]);

    let huge = format!("X-Filler: {}\r\n", "a".repeat(10_000));
    let big = request(addr, "GET", "/healthz", &huge);
    assert_eq!(big.status, 431);
    big.assert_secure();
    let many: String = (0..40).map(|i| format!("X-{i}: y\r\n")).collect();
    assert_eq!(request(addr, "GET", "/healthz", &many).status, 431);
    let body = request(addr, "GET", "/healthz", "Content-Length: 5\r\n");
    assert_eq!(body.status, 413);

    // Idle connections hold no serving thread: with 300 of them open, requests are answered.
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(addr).expect("an idle connection"))
        .collect();
    for _ in 0..5 {
        assert_eq!(get(addr, "/healthz").status, 200);
    }
    drop(idle);

    // Slowloris: a head that never ends is cut off by the head deadline (5 s), and meanwhile
    // the other serving threads keep answering.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(get(addr, "/healthz").status, 200);
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = idle.read_to_end(&mut rest);
    assert!(
        matches!(closed, Ok(0)) || closed.is_err() && started.elapsed() < Duration::from_secs(19),
        "an idle connection is closed by the server: {closed:?}"
    );
    assert!(
        rest.is_empty(),
        "nothing is answered to an unfinished request"
    );
}

#[test]
fn auth_guards_every_path_with_a_bearer_token() {
    let site = LocalSite::start().unwrap();
    let mut doc = sites(&site);
    doc["server"] = json!({"listen": "127.0.0.1:0", "auth": {"token": {"env": "SW_IT_TOKEN"}}});
    let cfg = config(&doc);
    let (sw, addr) = listening(&[path(&cfg), "--no-db"], &[("SW_IT_TOKEN", "tok-123")]);
    for target in [
        "/healthz",
        "/api/v1/status",
        "/badge/shop/status.svg",
        "/nothing",
    ] {
        let denied = get(addr, target);
        assert_eq!(denied.status, 401, "{target}");
        assert!(denied
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Bearer"));
        denied.assert_secure();
        assert!(!denied.text().contains("tok-123"));
        let wrong = request(addr, "GET", target, "Authorization: Bearer tok-124\r\n");
        assert_eq!(wrong.status, 401, "{target}");
    }
    let ok = request(addr, "GET", "/healthz", "Authorization: Bearer tok-123\r\n");
    assert_eq!(ok.status, 200);
    let mut sw = sw;
    assert!(
        !sw.transcript().contains("tok-123"),
        "the token is never logged"
    );
}

#[test]
fn basic_auth_and_cli_listen_wins_over_the_config() {
    let site = LocalSite::start().unwrap();
    let mut doc = sites(&site);
    // The config's address is taken by nothing, but --listen wins anyway.
    doc["server"] = json!({
        "listen": "127.0.0.1:1",
        "auth": {"basic": {"user": "ops", "password": {"env": "SW_IT_PASSWORD"}}}
    });
    let cfg = config(&doc);
    let (_sw, addr) = listening(
        &[path(&cfg), "--no-db", "--listen", "127.0.0.1:0"],
        &[("SW_IT_PASSWORD", "pw")],
    );
    assert_ne!(addr.port(), 1);
    let denied = get(addr, "/healthz");
    assert_eq!(denied.status, 401);
    assert!(denied
        .header("WWW-Authenticate")
        .unwrap()
        .starts_with("Basic"));
    // "ops:pw"
    let ok = request(addr, "GET", "/healthz", "Authorization: Basic b3BzOnB3\r\n");
    assert_eq!(ok.status, 200);
}

#[test]
fn history_gives_uptime_windows_recent_checks_and_incidents() {
    let site = LocalSite::start().unwrap();
    let cfg = config(&sites(&site));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let (_sw, addr) = listening(
        &[
            path(&cfg),
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
        ],
        &[],
    );
    // Figures are cached for 30 s: wait for a monitor page, which reads the history each time.
    let deadline = within(30.0);
    let one = loop {
        let one = get(addr, "/api/v1/monitors/api").json();
        if !one["incidents"].as_array().unwrap().is_empty()
            && one["recent_checks"][0]["detail"].is_string()
        {
            break one;
        }
        assert!(Instant::now() < deadline, "no history yet: {one:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(one["history"], true);
    let check = &one["recent_checks"][0];
    assert_eq!(check["status"], 500);
    assert_eq!(check["reason"], "status");
    assert!(check["detail"].as_str().unwrap().contains("500"), "{check}");
    let incident = &one["incidents"][0];
    assert_eq!(incident["ongoing"], true);
    assert_eq!(incident["status"], 500);
    let v = get(addr, "/api/v1/status").json();
    assert_eq!(v["history"], true);
    assert!(v.get("history_error").is_none(), "{v:#}");
    let badge = get(addr, "/badge/shop/uptime/30d.json").json();
    assert_eq!(badge["label"], "uptime 30d");
}

#[test]
fn demo_listens_on_a_free_loopback_port() {
    let (_sw, addr) = listening(&["demo", "--duration", "30s"], &[]);
    assert!(addr.ip().is_loopback());
    assert_eq!(get(addr, "/healthz").status, 200);
    let v = get(addr, "/api/v1/status").json();
    assert_eq!(v["sitewatch"]["monitors"], 13);
}

#[test]
fn a_taken_or_bad_address_is_a_usage_error_before_anything_starts() {
    let site = LocalSite::start().unwrap();
    let cfg = config(&sites(&site));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = crate::util::run([path(&cfg), "--no-db", "--listen", addr.as_str()], 20.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr_text()
            .contains(&format!("cannot listen on {addr}")),
        "{out}"
    );
    assert!(out.stdout.is_empty(), "nothing was checked: {out}");
    let out = crate::util::run([path(&cfg), "--no-db", "--listen", "localhost"], 20.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr_text().contains("not an address to listen on"),
        "{out}"
    );
    let mut doc = sites(&site);
    doc["server"] = json!({"listen": "127.0.0.1:0", "auth": {"token": {"env": "SW_IT_UNSET_VAR"}}});
    let bad = config(&doc);
    let out = crate::util::run([path(&bad), "--no-db"], 20.0);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr_text().contains("SW_IT_UNSET_VAR"), "{out}");
}
