//! Monitor identity: the `id` every output names a monitor by.
//!
//! An id is what the status page, the API and the badges put in a URL path
//! (`/monitors/{id}`), what the history, the notifications and the lines carry so that two
//! monitors of one URL can be told apart. So it is:
//!
//! - **path safe**: only `[a-z0-9._-]`, starting and ending with a letter or digit, at most
//!   [`MAX_ID`] bytes (never `.` or `..`);
//! - **free of secrets**: it is made from the *shown* URL ([`super::Monitor::url`]: the
//!   password of a userinfo is already gone, a URL from the environment is `env:VAR`), and of
//!   that only the host, port and path; the userinfo is dropped and a query string, which may
//!   hold a token, only adds a short hash of itself (`-q` and 6 hex digits);
//! - **unique** within a config, and **stable**: the same config gives the same ids on every
//!   start, and adding or removing an entry leaves the ids of the others alone, except where
//!   it collides with them.
//!
//! How it is made: the slug of the monitor's `name` when it has one (a name is a display
//! label, the id its path-safe form: `"Home Page"` is `home-page`), else the slug of the
//! URL's host and path (`https://Example.com/health?key=…` is `example.com-health-q1a2b3c`).
//! A slug keeps ASCII letters (lowercased) and digits; every other run of characters becomes
//! one `-` (a lone `.` stays); one longer than [`MAX_ID`] is cut and ends with a hash of the
//! whole. Two monitors that would get one id (the same URL twice, or a name whose slug is
//! another's) are told apart by a short suffix: the first one (a named monitor before an
//! unnamed one, then in config order) keeps the plain slug, each other one gets `-` and 6 hex
//! digits of a hash of its settings (method, interval, headers, assertions…), so its id does
//! not depend on its position; only entries alike in every setting fall back to `-2`, `-3`…
//! in config order. Two entries with the same `name` are a config error: a name is meant to
//! identify.
//!
//! The hash is 64-bit FNV-1a, written out here, so that ids do not change with the Rust
//! version or a dependency.

use std::collections::{HashMap, HashSet};
use std::fmt;

use regex::bytes::Regex;

use super::Monitor;

/// Longest id, in bytes.
pub const MAX_ID: usize = 64;

/// Two entries with the same `name` (0-based indices, `first < second`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateName {
    /// The earlier entry.
    pub first: usize,
    /// The later entry.
    pub second: usize,
    /// The name both have.
    pub name: Box<str>,
}

/// 64-bit FNV-1a: tiny, and the same on every platform and release.
#[derive(Clone, Copy)]
pub(super) struct Fnv(u64);

impl Fnv {
    pub(super) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub(super) fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(super) fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Write for Fnv {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

fn hash(text: &str) -> Fnv {
    let mut h = Fnv::new();
    h.bytes(text.as_bytes());
    h
}

/// Appends the slug of `text` to `out`: ASCII letters lowercased and digits kept, every other
/// run of characters one `-`, or `.` when the run is a lone `.`; nothing before the first
/// letter or digit, nothing after the last.
fn push_slug(out: &mut String, text: &str) {
    let start = out.len();
    // The run of other characters since the last letter or digit: its length (counted up to
    // 2) and whether it starts with a `.`.
    let (mut run, mut dot) = (0u8, false);
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if run > 0 && out.len() > start {
                out.push(if run == 1 && dot { '.' } else { '-' });
            }
            run = 0;
            out.push(c.to_ascii_lowercase());
        } else {
            if run == 0 {
                dot = c == '.';
            }
            run = (run + 1).min(2);
        }
    }
}

/// Appends 6 hex digits of `h`.
fn push_short(out: &mut String, h: Fnv) {
    use fmt::Write as _;
    let _ = write!(out, "{:06x}", h.0 & 0xff_ffff);
}

/// Drops trailing `-` and `.` (left by a cut).
fn trim_end(out: &mut String) {
    while out.ends_with(['-', '.']) {
        out.pop();
    }
}

/// Bounds the slug in `out` to [`MAX_ID`] bytes: a longer one is cut and ends with a hash of
/// the whole, so two long slugs with one prefix stay apart. An empty slug (a name with no
/// ASCII letter or digit) becomes `m-` and a hash of `source`.
fn bound(out: &mut String, source: &str) {
    if out.is_empty() {
        out.push_str("m-");
        push_short(out, hash(source));
    } else if out.len() > MAX_ID {
        let whole = hash(out);
        out.truncate(MAX_ID - 7);
        trim_end(out);
        out.push('-');
        push_short(out, whole);
    }
}

/// Writes into `out` (cleared first) the id a name gives, before collisions are resolved.
fn write_name_slug(out: &mut String, name: &str) {
    out.clear();
    push_slug(out, name);
    bound(out, name);
}

/// Writes into `out` (cleared first) the id a shown URL gives, before collisions are
/// resolved: host, port and path; a query adds `-q` and a hash of itself; userinfo and
/// fragment are left out.
fn write_url_slug(out: &mut String, url: &str) {
    out.clear();
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split_once('#').map_or(rest, |(rest, _fragment)| rest);
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    push_slug(out, host);
    let host_end = out.len();
    if host_end > 0 {
        out.push('-');
    }
    let path_start = out.len();
    push_slug(out, path);
    if out.len() == path_start {
        out.truncate(host_end);
    }
    bound(out, url);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        // The query's mark must survive the length bound: it is what tells ?a from ?b.
        out.truncate(out.len().min(MAX_ID - 8));
        trim_end(out);
        out.push_str("-q");
        push_short(out, hash(q));
    }
}

/// The id a name gives, before collisions are resolved.
pub fn name_slug(name: &str) -> String {
    let mut out = String::new();
    write_name_slug(&mut out, name);
    out
}

/// The id a shown URL gives, before collisions are resolved.
pub fn url_slug(url: &str) -> String {
    let mut out = String::new();
    write_url_slug(&mut out, url);
    out
}

/// 32 bits of a hash of `id`, the high half of a sort key whose low half is a position.
fn key(id: &str, position: usize) -> u64 {
    (hash(id).0 << 32) | position as u64
}

/// The position in `keys` (sorted [`key`]s) of a monitor whose id is `id`.
fn lookup(keys: &[u64], monitors: &[Monitor], id: &str) -> Option<usize> {
    let high = key(id, 0);
    let from = keys.partition_point(|&k| k < high);
    keys[from..]
        .iter()
        .take_while(|&&k| k >> 32 == high >> 32)
        .map(|&k| (k & 0xffff_ffff) as usize)
        .find(|&i| &*monitors[i].id == id)
}

/// Gives every monitor its id (see the module doc), or says which two entries share a name.
///
/// A million monitors take well under a second and no more memory than their ids: each id
/// is built in one scratch buffer and stored in an allocation of its exact length, and
/// collisions are found by sorting 8-byte keys (a hash of the id and a position), not
/// strings.
pub fn assign(monitors: &mut [Monitor]) -> Result<(), DuplicateName> {
    let mut scratch = String::with_capacity(4 * MAX_ID);
    for m in monitors.iter_mut() {
        match &m.name {
            Some(name) => write_name_slug(&mut scratch, name),
            None => write_url_slug(&mut scratch, &m.url),
        }
        m.id = Box::from(scratch.as_str());
    }
    // The same sorted (hash, index) keys as the index of ids, to find collisions.
    let keys = Ids::new(monitors).0;
    let mut renamed: Vec<(usize, String)> = Vec::new();
    for same_hash in keys.chunk_by(|a, b| a >> 32 == b >> 32) {
        if same_hash.len() < 2 {
            continue;
        }
        // Within one id, named monitors first, then config order: the first keeps the id.
        let mut run: Vec<usize> = same_hash
            .iter()
            .map(|&k| (k & 0xffff_ffff) as usize)
            .collect();
        run.sort_by(|&a, &b| {
            let order = |i: usize| (&monitors[i].id, monitors[i].name.is_none(), i);
            order(a).cmp(&order(b))
        });
        for same_id in run.chunk_by(|&a, &b| monitors[a].id == monitors[b].id) {
            // Equal names give equal ids, so they meet here; named monitors come first, in
            // config order.
            let mut names: HashMap<&str, usize> = HashMap::new();
            for (k, &i) in same_id.iter().enumerate() {
                let m = &monitors[i];
                if let Some(name) = &m.name {
                    if let Some(&j) = names.get(&**name) {
                        return Err(DuplicateName {
                            first: j,
                            second: i,
                            name: name.clone(),
                        });
                    }
                    names.insert(name, i);
                }
                if k == 0 {
                    continue;
                }
                let mut h = Fnv::new();
                m.fingerprint(&mut h);
                let mut suffix = String::new();
                push_short(&mut suffix, h);
                renamed.push((i, suffixed(&m.id, &suffix)));
            }
        }
    }
    if renamed.is_empty() {
        return Ok(());
    }
    // A suffixed id may still meet another id (entries alike in every setting, or a name
    // that happens to look like a suffixed slug): those count up, in config order.
    renamed.sort_unstable_by_key(|&(i, _)| i);
    let mut given: HashSet<String> = HashSet::new();
    // Where counting up resumes for each suffixed id, so that a list of the same entry a
    // million times takes a million steps, not a million squared.
    let mut next: HashMap<String, u32> = HashMap::new();
    let mut done = Vec::with_capacity(renamed.len());
    for (i, id) in renamed {
        let mut candidate = id.clone();
        let n = next.entry(id.clone()).or_insert(2);
        while lookup(&keys, monitors, &candidate).is_some() || given.contains(&candidate) {
            candidate = suffixed(&id, &n.to_string());
            *n += 1;
        }
        given.insert(candidate.clone());
        done.push((i, candidate));
    }
    for (i, id) in done {
        monitors[i].id = id.into_boxed_str();
    }
    Ok(())
}

/// `id` with `-suffix`, cut so that the whole stays within [`MAX_ID`].
fn suffixed(id: &str, suffix: &str) -> String {
    let mut out = id[..id.len().min(MAX_ID - suffix.len() - 1)].to_owned();
    trim_end(&mut out);
    out.push('-');
    out.push_str(suffix);
    out
}

/// Finds monitors by id, built once: 8 bytes a monitor (a hash of the id and a position,
/// sorted), so a million monitors index in a few tens of milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Ids(Box<[u64]>);

impl Ids {
    /// The index of `monitors` (whose ids [`assign`] made unique).
    pub fn new(monitors: &[Monitor]) -> Ids {
        let mut keys: Vec<u64> = monitors
            .iter()
            .enumerate()
            .map(|(i, m)| key(&m.id, i))
            .collect();
        keys.sort_unstable();
        Ids(keys.into_boxed_slice())
    }

    /// The position in `monitors` (the slice the index was built from) of the monitor `id`.
    pub fn find(&self, monitors: &[Monitor], id: &str) -> Option<usize> {
        lookup(&self.0, monitors, id)
    }
}

impl Monitor {
    /// Feeds every setting that makes this monitor differ from another on the same URL into
    /// `h` (secret header values by name only), in a fixed textual form: the hash behind an
    /// id's collision suffix, which must not change while the config does not.
    fn fingerprint(&self, h: &mut Fnv) {
        use fmt::Write as _;
        let _ = write!(
            h,
            "url={}\nname={:?}\nmethod={}\ninterval={}\ntimeout={}\nfollow={}\ninsecure={}\n",
            self.url,
            self.name,
            self.method.as_str(),
            self.interval.as_millis(),
            self.timeout.as_millis(),
            self.follow_redirects,
            self.insecure
        );
        let Some(x) = self.extra() else { return };
        for (name, value) in &x.headers {
            let shown = if value.is_sensitive() {
                b"(secret)"
            } else {
                value.as_bytes()
            };
            let _ = write!(h, "header={}:", name.as_str());
            h.bytes(shown);
            h.bytes(b"\n");
        }
        let e = &x.expect;
        let _ = write!(
            h,
            "body={:?}\nua={:?}\nmax_redirects={:?}\nstatus={:?}\n",
            x.body,
            x.user_agent,
            x.max_redirects,
            e.status.as_ref().map(ToString::to_string)
        );
        for (name, value) in &e.headers {
            let _ = writeln!(h, "expect_header={}:{value}", name.as_str());
        }
        for (pointer, expected) in &e.json {
            let _ = writeln!(h, "json={pointer:?}:{expected}");
        }
        let _ = write!(
            h,
            "contains={:?}\nnot_contains={:?}\nmatches={:?}\nmax_time={:?}\n\
             retries={:?}\nretry_delay={:?}\nrecover={:?}\nbackoff={:?}\nnotify={:?}\n\
             http_redirect={}\nca={}\ncert_warn={:?}\nwarn_time={:?}\n",
            e.body_contains,
            e.body_not_contains,
            e.body_matches.as_ref().map(Regex::as_str),
            e.max_response_time.map(|d| d.as_millis()),
            x.retries,
            x.retry_delay.map(|d| d.as_millis()),
            x.recover_after,
            x.max_backoff.map(|d| d.as_millis()),
            x.notify,
            x.allow_http_redirect,
            x.ca_file.is_some(),
            x.cert_expiry_warn.map(|d| d.as_millis()),
            x.warn_response_time.map(|d| d.as_millis())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_slugs_keep_host_port_and_path_only() {
        assert_eq!(url_slug("https://Example.com/health"), "example.com-health");
        assert_eq!(url_slug("https://example.com/"), "example.com");
        assert_eq!(url_slug("https://example.com"), "example.com");
        assert_eq!(
            url_slug("http://127.0.0.1:8080/a/b.json"),
            "127.0.0.1-8080-a-b.json"
        );
        assert_eq!(
            url_slug("https://user:***@example.com/x#frag"),
            "example.com-x"
        );
        assert_eq!(url_slug("env:SITE_URL"), "env-site-url");
        assert_eq!(url_slug("http://[::1]:9/"), "1-9");
    }

    #[test]
    fn a_query_is_hashed_never_shown() {
        let a = url_slug("https://example.com/feed?token=s3cr3t");
        let b = url_slug("https://example.com/feed?token=other");
        assert!(a.starts_with("example.com-feed-q") && a.len() == "example.com-feed-q".len() + 6);
        assert!(!a.contains("s3cr3t") && !a.contains("token"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, url_slug("https://example.com/feed?token=s3cr3t"));
        // An empty query is no query.
        assert_eq!(url_slug("https://example.com/feed?"), "example.com-feed");
    }

    #[test]
    fn slugs_are_path_safe_and_bounded() {
        let long = format!("https://example.com/{}", "segment/".repeat(40));
        for text in [
            url_slug(&long),
            url_slug(&format!("{long}?q=1")),
            name_slug("Home Page (EU) — fast!"),
            name_slug(".."),
            name_slug("日本語"),
            name_slug(&"x".repeat(300)),
        ] {
            assert!(!text.is_empty() && text.len() <= MAX_ID, "{text}");
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)),
                "{text}"
            );
            assert!(
                !text.starts_with(['-', '.']) && !text.ends_with(['-', '.']),
                "{text}"
            );
        }
        assert_eq!(name_slug("Home Page (EU) — fast!"), "home-page-eu-fast");
        assert_ne!(
            url_slug(&long),
            url_slug(&long.replace("segment/segment/segment/segment/segment/segment/segment/segment/segment/segment/segment", "segment/other"))
        );
    }

    fn ids(text: &str) -> Vec<String> {
        super::super::Config::parse(text)
            .unwrap()
            .monitors
            .iter()
            .map(|m| m.id().to_owned())
            .collect()
    }

    #[test]
    fn names_give_ids_and_must_be_unique() {
        assert_eq!(
            ids(
                r#"[{"url": "https://a.example/x", "name": "Home Page"}, {"url": "https://b.example/"}]"#
            ),
            ["home-page", "b.example"]
        );
        let err = super::super::Config::parse(
            r#"[{"url": "https://a.example", "name": "shop"}, {"url": "https://b.example"},
                {"url": "https://c.example", "name": "shop"}]"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("entries 1 (index 0) and 3 (index 2) have the same name \"shop\""),
            "{err}"
        );
        // A name from `defaults` taken by two entries is the same name twice.
        let err = super::super::Config::parse(
            r#"{"defaults": {"name": "x"}, "urls": [{"url": "https://a.example"}, {"url": "https://b.example"}]}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("have the same name \"x\""),
            "{err}"
        );
    }

    #[test]
    fn collisions_get_a_suffix_from_their_settings_not_their_position() {
        let two = ids(
            r#"[{"url": "http://127.0.0.1:9/a"}, {"url": "http://127.0.0.1:9/a", "method": "HEAD"}]"#,
        );
        assert_eq!(two[0], "127.0.0.1-9-a");
        assert!(two[1].starts_with("127.0.0.1-9-a-") && two[1].len() == two[0].len() + 7);
        // The suffixed id does not depend on unrelated entries before it.
        let three = ids(
            r#"[{"url": "http://other.example/"}, {"url": "http://127.0.0.1:9/a"},
                {"url": "http://127.0.0.1:9/a", "method": "HEAD"}]"#,
        );
        assert_eq!(three[1..], two[..]);
        // Entries alike in everything count up in config order, in linear time.
        let same = ids(r#"[{"url": "http://h/a"}, {"url": "http://h/a"}, {"url": "http://h/a"}]"#);
        assert_eq!(same[0], "h-a");
        assert!(same[2].ends_with("-2") && same[1] != same[2], "{same:?}");
        let many = ids(&format!(
            "[{}]",
            vec![r#"{"url": "http://h/a"}"#; 20_000].join(",")
        ));
        assert_eq!(many.iter().collect::<HashSet<_>>().len(), 20_000);
        assert!(many[19_999].ends_with("-19999"), "{}", many[19_999]);
        // A name that slugs like another monitor's URL wins the plain id, wherever it is.
        let named = ids(r#"[{"url": "http://h/a"}, {"url": "http://x/", "name": "H a"}]"#);
        assert_eq!(named[1], "h-a");
        assert_ne!(named[0], "h-a");
        // Distinct names with one slug are distinct monitors, not an error.
        let slugs =
            ids(r#"[{"url": "http://h/", "name": "A b"}, {"url": "http://h/", "name": "a-b"}]"#);
        assert_eq!(slugs[0], "a-b");
        assert!(slugs[1].starts_with("a-b-"));
        // The same config, the same ids.
        assert_eq!(
            ids(r#"[{"url": "http://h/a"}, {"url": "http://h/a", "interval": 9}]"#),
            ids(r#"[{"url": "http://h/a"}, {"url": "http://h/a", "interval": 9}]"#)
        );
    }

    #[test]
    fn monitors_are_found_by_id() {
        let config = super::super::Config::parse(
            r#"[{"url": "http://h/a"}, {"url": "http://h/b", "name": "B"}, {"url": "http://h/a"}]"#,
        )
        .unwrap();
        let index = Ids::new(&config.monitors);
        for (i, m) in config.monitors.iter().enumerate() {
            assert_eq!(index.find(&config.monitors, m.id()), Some(i));
            assert_eq!(config.monitor(m.id()).map(|m| m.id()), Some(m.id()));
        }
        assert_eq!(index.find(&config.monitors, "nope"), None);
        assert!(config.monitor("nope").is_none());

        // Many monitors, some on one URL: every id unique and found where it is.
        let entries: Vec<String> = (0..3000)
            .map(|i| {
                format!(
                    r#"{{"url": "http://h/{}", "interval": {}}}"#,
                    i % 1000,
                    1 + i / 1000
                )
            })
            .collect();
        let config = super::super::Config::parse(&format!("[{}]", entries.join(","))).unwrap();
        let index = Ids::new(&config.monitors);
        let unique: HashSet<&str> = config.monitors.iter().map(|m| m.id()).collect();
        assert_eq!(unique.len(), 3000);
        for (i, m) in config.monitors.iter().enumerate() {
            assert_eq!(index.find(&config.monitors, m.id()), Some(i));
        }
        assert_eq!(config.monitors[0].id(), "h-0");
        assert!(config.monitors[1000].id().starts_with("h-0-"));
    }

    #[test]
    fn group_is_a_label_from_defaults_or_the_entry() {
        let config = super::super::Config::parse(
            r#"{"defaults": {"group": "web"}, "urls": [{"url": "http://h/a"}, {"url": "http://h/b", "group": " API "}]}"#,
        )
        .unwrap();
        assert_eq!(config.monitors[0].group(), Some("web"));
        assert_eq!(config.monitors[1].group(), Some("API"));
        assert_eq!(ids(r#"[{"url": "http://h/a"}]"#), ["h-a"]);
        for (bad, says) in [
            (r#""group": 3"#, "group must be a string"),
            (r#""group": " ""#, "group is empty"),
            (
                r#""group": "a\u001b[31m""#,
                "contains the control character U+001B",
            ),
        ] {
            let err = super::super::Config::parse(&format!(r#"[{{"url": "http://h/", {bad}}}]"#))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn the_hash_is_pinned() {
        // Ids are stored in the history and put in bookmarks: they must not change between
        // releases. These are FNV-1a's published test values.
        assert_eq!(hash("").0, 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a").0, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(
            url_slug("https://example.com/feed?token=abc"),
            "example.com-feed-q52f573",
            "the README's example"
        );
        assert_eq!(
            url_slug("https://example.com/feed?token=1"),
            format!("example.com-feed-q{:06x}", hash("token=1").0 & 0xff_ffff)
        );
    }
}
