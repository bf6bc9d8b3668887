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

use std::collections::HashSet;
use std::fmt;

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

    /// The low 24 bits as 6 hex digits.
    fn short(self) -> String {
        format!("{:06x}", self.0 & 0xff_ffff)
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
/// run of characters one `-`, or `.` when the run is a lone `.`; nothing leading or trailing.
fn push_slug(out: &mut String, text: &str) {
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if !run.is_empty() {
                if !out.is_empty() {
                    out.push(if run == "." { '.' } else { '-' });
                }
                run.clear();
            }
            out.push(c.to_ascii_lowercase());
        } else if run.len() < 2 {
            run.push(c);
        }
    }
}

/// Bounds `slug` to [`MAX_ID`] bytes: a longer one is cut and ends with a hash of the whole,
/// so two long slugs with one prefix stay apart. An empty slug (a name with no ASCII letter
/// or digit) becomes `m-` and a hash of `source`.
fn bounded(mut slug: String, source: &str) -> String {
    if slug.is_empty() {
        return format!("m-{}", hash(source).short());
    }
    if slug.len() > MAX_ID {
        let tail = hash(&slug).short();
        slug.truncate(MAX_ID - tail.len() - 1);
        while slug.ends_with(['-', '.']) {
            slug.pop();
        }
        slug.push('-');
        slug.push_str(&tail);
    }
    slug
}

/// The id a name gives, before collisions are resolved.
pub fn name_slug(name: &str) -> String {
    let mut slug = String::new();
    push_slug(&mut slug, name);
    bounded(slug, name)
}

/// The id a shown URL gives, before collisions are resolved: host, port and path; a query
/// adds `-q` and a hash of itself; userinfo and fragment are left out.
pub fn url_slug(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (rest, _fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let mut slug = String::new();
    push_slug(&mut slug, host);
    let mut tail = String::new();
    push_slug(&mut tail, path);
    if !tail.is_empty() {
        slug.push('-');
        slug.push_str(&tail);
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let mark = format!("-q{}", hash(q).short());
        let full = bounded(slug, url);
        // The query's mark must survive the length bound: it is what tells ?a from ?b.
        let keep = full.len().min(MAX_ID - mark.len());
        let mut slug = full[..keep].trim_end_matches(['-', '.']).to_owned();
        slug.push_str(&mark);
        return slug.trim_start_matches('-').to_owned();
    }
    bounded(slug, url)
}

/// The id `monitor` gets when nothing collides with it.
fn base(monitor: &Monitor) -> String {
    match &monitor.name {
        Some(name) => name_slug(name),
        None => url_slug(&monitor.url),
    }
}

/// Gives every monitor its id (see the module doc), or says which two entries share a name.
pub fn assign(monitors: &mut [Monitor]) -> Result<(), DuplicateName> {
    for m in monitors.iter_mut() {
        m.id = base(m).into_boxed_str();
    }
    // Sorting the positions by id finds the collisions without a map of a million strings;
    // within one id, named monitors first, then config order: the first keeps the plain id.
    let mut order: Vec<u32> = (0..monitors.len() as u32).collect();
    let key = |i: u32| {
        let m = &monitors[i as usize];
        (&m.id, m.name.is_none(), i)
    };
    order.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)));
    let mut renamed: Vec<(usize, String)> = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let id = &monitors[order[start] as usize].id;
        let end = start + order[start..].partition_point(|&i| monitors[i as usize].id == *id);
        let run = &order[start..end];
        for (k, &i) in run.iter().enumerate().skip(1) {
            let m = &monitors[i as usize];
            if let Some(name) = &m.name {
                if let Some(&j) = run[..k]
                    .iter()
                    .find(|&&j| monitors[j as usize].name.as_ref() == Some(name))
                {
                    let (first, second) = (j.min(i) as usize, j.max(i) as usize);
                    return Err(DuplicateName {
                        first,
                        second,
                        name: name.clone(),
                    });
                }
            }
            let mut h = Fnv::new();
            m.fingerprint(&mut h);
            renamed.push((i as usize, suffixed(&m.id, &h.short())));
        }
        start = end;
    }
    if renamed.is_empty() {
        return Ok(());
    }
    // A suffixed id may still meet another id (entries alike in every setting, or a name
    // that happens to look like a suffixed slug): those count up, in config order.
    renamed.sort_unstable_by_key(|&(i, _)| i);
    let taken = |id: &str, monitors: &[Monitor], order: &[u32]| {
        order
            .binary_search_by(|&j| (*monitors[j as usize].id).cmp(id))
            .is_ok()
    };
    let mut given: HashSet<String> = HashSet::new();
    let mut done = Vec::with_capacity(renamed.len());
    for (i, id) in renamed {
        let mut candidate = id.clone();
        let mut n = 2u32;
        while taken(&candidate, monitors, &order) || given.contains(&candidate) {
            candidate = suffixed(&id, &n.to_string());
            n += 1;
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
    let keep = id.len().min(MAX_ID - suffix.len() - 1);
    let mut out = id[..keep].trim_end_matches(['-', '.']).to_owned();
    out.push('-');
    out.push_str(suffix);
    out
}

/// Finds monitors by id: the positions sorted by id, 4 bytes a monitor, built once.
#[derive(Debug, Clone, Default)]
pub struct Ids(Box<[u32]>);

impl Ids {
    /// The index of `monitors` (whose ids [`assign`] made unique).
    pub fn new(monitors: &[Monitor]) -> Ids {
        let mut order: Vec<u32> = (0..monitors.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| monitors[a as usize].id.cmp(&monitors[b as usize].id));
        Ids(order.into_boxed_slice())
    }

    /// The position in `monitors` (the slice the index was built from) of the monitor `id`.
    pub fn find(&self, monitors: &[Monitor], id: &str) -> Option<usize> {
        self.0
            .binary_search_by(|&i| (*monitors[i as usize].id).cmp(id))
            .ok()
            .map(|k| self.0[k] as usize)
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
        // Entries alike in everything count up in config order.
        let same = ids(r#"[{"url": "http://h/a"}, {"url": "http://h/a"}, {"url": "http://h/a"}]"#);
        assert_eq!(same[0], "h-a");
        assert!(same[2].ends_with("-2") && same[1] != same[2], "{same:?}");
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
            url_slug("https://example.com/feed?token=1"),
            format!("example.com-feed-q{}", hash("token=1").short())
        );
    }
}
