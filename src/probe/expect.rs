//! What a response must look like for a check to be up: its status, headers, body and speed.
//!
//! [`Expect`] is built once from the config (see `config`) and evaluated by the probe
//! on every check, in this order: status (`expect_status`, reason `status`), then headers
//! (`expect_headers`), body (`body_contains`, `body_not_contains`, `body_matches`, `json`) and total
//! time (`max_response_time`), all with reason `assertion`. Each check returns the first
//! failure as a detail that says what was expected and what came.
//!
//! The body is never held whole for `body_contains` / `body_not_contains`: [`BodyCheck`]
//! searches each chunk as it streams past, keeping only the last `needle length - 1` bytes so
//! that a needle split across two chunks is still found. Only `body_matches` keeps the body,
//! because a regex can span any distance: its first [`BODY_MATCH_CAP`] bytes (or `--max-body`
//! if smaller), so a worker holds at most that much whatever the site sends, and the worst case
//! is workers × cap. The regex runs on those bytes as they are (`regex::bytes`: no copy, and a
//! body that is not valid UTF-8 still matches where it is); a match that would start past the
//! cap is not seen, and the failure says so.
//!
//! `json` keeps the body too, whole, since JSON cannot be parsed from a prefix: up to the same
//! [`BODY_MATCH_CAP`]; a larger body fails the assertion saying so, rather than being judged on
//! part of it.

use std::time::{Duration, SystemTime};

use memchr::memmem;
use regex::bytes::Regex;
use ureq::http::{HeaderMap, StatusCode};

pub use crate::model::expect::{
    Expect, StatusPattern, StatusSet, BODY_MATCH_CAP, MAX_STATUS, MIN_STATUS,
};

impl Expect {
    /// `None` if `status` is accepted, else the detail of the `status` failure:
    /// `HTTP 503 Service Unavailable` under the default (any 2xx), or
    /// `expected 201, got 200 OK` when `expect_status` is set.
    pub fn status_failure(&self, status: StatusCode) -> Option<String> {
        if self.status_ok(status.as_u16()) {
            return None;
        }
        Some(match &self.status {
            None => format!("HTTP {}", describe_status(status)),
            Some(set) => format!("expected {set}, got {}", describe_status(status)),
        })
    }

    /// `None` if every expected header is present and contains its substring, else the detail
    /// of the first that is not.
    pub fn header_failure(&self, headers: &HeaderMap) -> Option<String> {
        for (name, wanted) in &self.headers {
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            if values.is_empty() {
                return Some(format!("header {name} missing"));
            }
            if !values.iter().any(|v| v.contains(wanted.as_str())) {
                return Some(format!(
                    "header {name} is {}, expected it to contain {}",
                    quoted(&values.join(", ")),
                    quoted(wanted)
                ));
            }
        }
        None
    }

    /// A fresh body checker for one response whose body is capped at `cap` bytes.
    pub fn body_check(&self, cap: u64) -> BodyCheck<'_> {
        BodyCheck {
            contains: self.body_contains.as_deref().map(StreamSearch::new),
            not_contains: self.body_not_contains.as_deref().map(StreamSearch::new),
            matches: self.body_matches.as_ref().map(|re| (re, Vec::new())),
            json: (!self.json.is_empty()).then(|| (self.json.as_slice(), Vec::new(), false)),
            cap: usize::try_from(cap.min(BODY_MATCH_CAP)).unwrap_or(usize::MAX),
        }
    }

    /// `None` if the check was fast enough, else the detail of the `assertion` failure.
    pub fn time_failure(&self, elapsed: Duration) -> Option<String> {
        let limit = self.max_response_time?;
        if elapsed <= limit {
            return None;
        }
        // Whole milliseconds read best, unless they would print the limit itself.
        let took = if elapsed.as_millis() > limit.as_millis() {
            format!("{} ms", elapsed.as_millis())
        } else {
            format!("{:.3} ms", elapsed.as_secs_f64() * 1000.0)
        };
        Some(format!(
            "response took {took}, more than max_response_time {}",
            humantime::format_duration(limit)
        ))
    }
}

/// The body assertions of one response, fed chunk by chunk as the body streams in.
pub struct BodyCheck<'a> {
    contains: Option<StreamSearch<'a>>,
    not_contains: Option<StreamSearch<'a>>,
    /// The regex and the body kept for it (at most `cap` bytes).
    ///
    /// Grown as the body arrives, never reserved up front: a short page costs its length.
    matches: Option<(&'a Regex, Vec<u8>)>,
    /// The `json` assertions, the body kept for them (at most `cap` bytes) and whether more
    /// came than was kept: JSON cannot be parsed from a prefix.
    json: Option<JsonKept<'a>>,
    cap: usize,
}

/// The `json` assertions, the body kept for them, and whether the body overflowed the cap.
type JsonKept<'a> = (&'a [(String, serde_json::Value)], Vec<u8>, bool);

impl BodyCheck<'_> {
    /// Takes the next chunk of the decoded body.
    pub fn feed(&mut self, chunk: &[u8]) {
        if let Some(search) = &mut self.contains {
            search.feed(chunk);
        }
        if let Some(search) = &mut self.not_contains {
            search.feed(chunk);
        }
        if let Some((_, kept)) = &mut self.matches {
            let room = self.cap.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        if let Some((_, kept, over)) = &mut self.json {
            let room = self.cap.saturating_sub(kept.len());
            *over |= chunk.len() > room;
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }

    /// After the whole body was fed (`bytes` of it): `None` if every body assertion holds,
    /// else the detail of the first that fails.
    pub fn failure(&self, bytes: u64) -> Option<String> {
        if let Some(search) = &self.contains {
            if !search.found {
                return Some(format!(
                    "body does not contain {} ({bytes} bytes read)",
                    quoted(search.needle_text())
                ));
            }
        }
        if let Some(search) = &self.not_contains {
            if search.found {
                return Some(format!(
                    "body contains {}, which body_not_contains forbids ({bytes} bytes read)",
                    quoted(search.needle_text())
                ));
            }
        }
        if let Some((re, kept)) = &self.matches {
            if !re.is_match(kept) {
                let seen = if bytes > kept.len() as u64 {
                    format!(
                        "in its first {} bytes, the most body_matches looks at; {bytes} bytes read",
                        kept.len()
                    )
                } else {
                    format!("{bytes} bytes read")
                };
                return Some(format!(
                    "body does not match the regex {} ({seen})",
                    quoted(re.as_str())
                ));
            }
        }
        if let Some((wanted, kept, over)) = &self.json {
            return json_failure(wanted, kept, *over, bytes);
        }
        None
    }
}

/// The detail of the first `json` assertion that fails on `body`, naming its pointer; `None`
/// when all hold. `over` means the body was larger than what was kept, so it is not parsed.
fn json_failure(
    wanted: &[(String, serde_json::Value)],
    body: &[u8],
    over: bool,
    bytes: u64,
) -> Option<String> {
    let first = &wanted.first()?.0;
    if over {
        return Some(format!(
            "body is larger than {} bytes, the most json assertions parse, so {} cannot be \
             checked ({bytes} bytes read)",
            body.len(),
            pointer_shown(first)
        ));
    }
    let doc: serde_json::Value = match serde_json::from_slice(body) {
        Ok(doc) => doc,
        Err(e) => {
            return Some(format!(
                "body is not JSON ({}), so {} cannot be checked ({bytes} bytes read)",
                crate::text::server_text(&e.to_string()),
                pointer_shown(first)
            ))
        }
    };
    for (pointer, expected) in wanted {
        match doc.pointer(pointer) {
            None => {
                return Some(format!(
                    "json {} is missing from the body",
                    pointer_shown(pointer)
                ))
            }
            Some(found) if found != expected => {
                return Some(format!(
                    "json {} is {}, expected {}",
                    pointer_shown(pointer),
                    crate::text::server_text(&found.to_string()),
                    quoted_json(expected)
                ))
            }
            Some(_) => {}
        }
    }
    None
}

/// A JSON Pointer for a detail: quoted, so the empty pointer (the whole body) shows as `""`.
fn pointer_shown(pointer: &str) -> String {
    quoted(pointer)
}

/// An expected value for a detail, as compact JSON and shortened like [`quoted`] text.
fn quoted_json(value: &serde_json::Value) -> String {
    crate::text::capped(&value.to_string(), crate::text::MAX_SERVER_TEXT)
}

/// Finds a needle in a stream of chunks without keeping the stream: between chunks it keeps
/// only the last `needle.len() - 1` bytes, enough for a match that straddles a boundary.
pub struct StreamSearch<'a> {
    needle: &'a str,
    finder: memmem::Finder<'a>,
    /// The stream's last bytes (at most `needle.len() - 1` between calls).
    tail: Vec<u8>,
    found: bool,
}

impl<'a> StreamSearch<'a> {
    /// A search for `needle` (non-empty: the empty needle is found at once).
    pub fn new(needle: &'a str) -> StreamSearch<'a> {
        StreamSearch {
            needle,
            finder: memmem::Finder::new(needle.as_bytes()),
            tail: Vec::with_capacity(needle.len().saturating_sub(1) * 2),
            found: needle.is_empty(),
        }
    }

    /// Takes the next chunk of the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found || chunk.is_empty() {
            return;
        }
        let keep = self.needle.len() - 1;
        // A match that starts in the tail ends within the chunk's first `keep` bytes.
        let head = chunk.len().min(keep);
        self.tail.extend_from_slice(&chunk[..head]);
        if self.finder.find(&self.tail).is_some() || self.finder.find(chunk).is_some() {
            self.found = true;
            self.tail = Vec::new();
            return;
        }
        if chunk.len() >= keep {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            // The whole (short) chunk is in the tail already; keep its last `keep` bytes.
            let excess = self.tail.len().saturating_sub(keep);
            self.tail.drain(..excess);
        }
    }

    /// Whether the needle has been seen so far.
    pub fn found(&self) -> bool {
        self.found
    }

    fn needle_text(&self) -> &str {
        self.needle
    }
}

/// `503 Service Unavailable`, or `599` for a code without a standard reason phrase.
pub(crate) fn describe_status(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(text) => format!("{} {text}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// A value quoted for a detail: escaped, on one line, and shortened past 80 characters.
fn quoted(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}

/// How long a `Retry-After` value asks to wait, seen at `now`: whole seconds (`120`) or an
/// HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`; a date in the past means no wait). `None` for
/// anything else, which is ignored.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::HeaderName;
    use ureq::http::HeaderValue;

    fn set(items: &[&str]) -> StatusSet {
        StatusSet::new(
            items
                .iter()
                .map(|s| StatusPattern::parse(s).unwrap())
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn status_patterns_parse_and_match() {
        assert_eq!(StatusPattern::parse("2xx"), Ok(StatusPattern::Class(2)));
        assert_eq!(StatusPattern::parse("5XX"), Ok(StatusPattern::Class(5)));
        assert_eq!(
            StatusPattern::parse("200-299"),
            Ok(StatusPattern::Range(200, 299))
        );
        assert_eq!(
            StatusPattern::parse(" 301 - 308 "),
            Ok(StatusPattern::Range(301, 308))
        );
        assert_eq!(StatusPattern::parse("301"), Ok(StatusPattern::Code(301)));
        assert_eq!(StatusPattern::code(404), Ok(StatusPattern::Code(404)));

        let class = StatusPattern::Class(2);
        assert!(class.matches(200) && class.matches(299));
        assert!(!class.matches(199) && !class.matches(300));
        let range = StatusPattern::Range(301, 303);
        assert!(range.matches(301) && range.matches(302) && range.matches(303));
        assert!(!range.matches(300) && !range.matches(304));
        let single = StatusPattern::Code(404);
        assert!(single.matches(404) && !single.matches(403) && !single.matches(405));
    }

    #[test]
    fn bad_status_patterns_are_rejected_quoting_the_item() {
        for bad in [
            "", "2x", "6xx", "0xx", "xx", "2xy", "abc", "99", "600", "1000", "200-", "-200",
            "200-600", "2xx-3xx", "+200",
        ] {
            let e = StatusPattern::parse(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
        assert!(StatusPattern::parse("299-200")
            .unwrap_err()
            .contains("empty range"));
        for bad in [0u64, 99, 600, 70000] {
            let e = StatusPattern::code(bad).unwrap_err();
            assert!(e.starts_with(&bad.to_string()), "{e}");
            assert!(e.contains("100 to 599"), "{e}");
        }
    }

    #[test]
    fn status_set_matches_any_pattern_and_displays_as_written() {
        let s = set(&["200", "3xx", "401-403"]);
        for code in [200, 300, 302, 399, 401, 402, 403] {
            assert!(s.matches(code), "{code}");
        }
        for code in [201, 299, 400, 404, 500] {
            assert!(!s.matches(code), "{code}");
        }
        assert_eq!(s.to_string(), "200, 3xx or 401-403");
        assert_eq!(set(&["200", "301"]).to_string(), "200 or 301");
        assert_eq!(StatusSet::success().to_string(), "2xx");
        assert!(StatusSet::new(Vec::new()).is_none());
    }

    #[test]
    fn status_failure_details() {
        let default = Expect::default();
        assert_eq!(default.status_failure(StatusCode::OK), None);
        assert_eq!(default.status_failure(StatusCode::NO_CONTENT), None);
        assert_eq!(
            default.status_failure(StatusCode::SERVICE_UNAVAILABLE),
            Some("HTTP 503 Service Unavailable".into())
        );
        let explicit = Expect {
            status: Some(set(&["201"])),
            ..Expect::default()
        };
        assert_eq!(
            explicit.status_failure(StatusCode::OK),
            Some("expected 201, got 200 OK".into())
        );
        let two = Expect {
            status: Some(StatusSet::success()),
            ..Expect::default()
        };
        assert_eq!(
            two.status_failure(StatusCode::from_u16(599).unwrap()),
            Some("expected 2xx, got 599".into())
        );
        let not_found = Expect {
            status: Some(set(&["404"])),
            ..Expect::default()
        };
        assert_eq!(not_found.status_failure(StatusCode::NOT_FOUND), None);
    }

    /// Feeds `body` split at each of `cuts` and reports whether `needle` was found.
    fn found_split(needle: &str, body: &[u8], cuts: &[usize]) -> bool {
        let mut s = StreamSearch::new(needle);
        let mut at = 0;
        for &cut in cuts {
            s.feed(&body[at..cut]);
            at = cut;
        }
        s.feed(&body[at..]);
        s.found()
    }

    #[test]
    fn stream_search_finds_a_needle_split_across_two_chunks() {
        let body = b"....Welcome....";
        // Every split point, including inside the needle and at its edges.
        for cut in 0..=body.len() {
            assert!(found_split("Welcome", body, &[cut]), "cut at {cut}");
        }
        assert!(!found_split("Welcomer", body, &[7]));
    }

    #[test]
    fn stream_search_across_many_tiny_chunks() {
        let body = b"xxhello worldxx";
        let every_byte: Vec<usize> = (1..body.len()).collect();
        assert!(found_split("hello world", body, &every_byte));
        assert!(found_split("o w", body, &every_byte));
        assert!(!found_split("hello  world", body, &every_byte));
        // Chunks of two with a one-byte needle and a needle longer than any chunk.
        let pairs: Vec<usize> = (2..body.len()).step_by(2).collect();
        assert!(found_split("w", body, &pairs));
        assert!(found_split("llo wor", body, &pairs));
        // A near miss at a boundary must not leave a stale tail behind.
        assert!(!found_split("abcd", b"abcXbcdX", &[3, 4, 7]));
        assert!(found_split("abcd", b"abXabcd", &[2, 3, 5]));
    }

    #[test]
    fn stream_search_with_empty_chunks_and_exact_tail() {
        let mut s = StreamSearch::new("abc");
        s.feed(b"");
        s.feed(b"xa");
        s.feed(b"");
        assert!(!s.found());
        s.feed(b"b");
        assert!(!s.found());
        s.feed(b"c");
        assert!(s.found());
    }

    fn expect_body(contains: Option<&str>, not: Option<&str>, re: Option<&str>) -> Expect {
        Expect {
            body_contains: contains.map(str::to_owned),
            body_not_contains: not.map(str::to_owned),
            body_matches: re.map(|r| Regex::new(r).unwrap()),
            ..Expect::default()
        }
    }

    fn body_failure(expect: &Expect, cap: u64, chunks: &[&[u8]]) -> Option<String> {
        let mut check = expect.body_check(cap);
        let mut n = 0;
        for c in chunks {
            check.feed(c);
            n += c.len() as u64;
        }
        check.failure(n)
    }

    #[test]
    fn body_assertions_in_order_with_details() {
        let e = expect_body(
            Some("Welcome"),
            Some("Error"),
            Some(r"(?i)^hello \w+ world$"),
        );
        assert!(e.has_body_assertions());
        assert_eq!(
            e.body_assertion_names(),
            ["body_contains", "body_not_contains", "body_matches"]
        );
        assert_eq!(body_failure(&e, 100, &[b"Hello Wel", b"come World"]), None);
        assert_eq!(
            body_failure(&e, 100, &[b"hello big world"]),
            Some(r#"body does not contain "Welcome" (15 bytes read)"#.into())
        );
        assert_eq!(
            body_failure(&e, 100, &[b"hello Welcome Error world"]),
            Some(
                r#"body contains "Error", which body_not_contains forbids (25 bytes read)"#.into()
            )
        );
        assert_eq!(
            body_failure(&e, 100, &[b"Welcome, hello world"]),
            Some(
                r#"body does not match the regex "(?i)^hello \\w+ world$" (20 bytes read)"#.into()
            )
        );
        assert!(!Expect::default().has_body_assertions());
    }

    #[test]
    fn regex_matches_bytes_that_are_not_utf8() {
        let e = expect_body(None, None, Some(r"ok: \d+$"));
        assert_eq!(
            body_failure(&e, 100, &[b"\xff\xfe\x00caf\xe9 ok: 42"]),
            None
        );
        // Unicode classes still match valid UTF-8 around the invalid bytes.
        let e = expect_body(None, None, Some(r"^caf(?-u:\xff) d\w+$"));
        assert_eq!(
            body_failure(&e, 100, &[b"caf\xff d\xc3\xa9j\xc3\xa0"]),
            None
        );
        assert!(body_failure(&e, 100, &[b"caf\xfe d\xc3\xa9j\xc3\xa0"]).is_some());
    }

    #[test]
    fn regex_looks_at_the_first_body_match_cap_bytes_only() {
        let e = expect_body(None, None, Some("needle"));
        let big = vec![b'x'; BODY_MATCH_CAP as usize];
        let check = |cap| {
            let mut c = e.body_check(cap);
            c.feed(&big);
            c.feed(b"needle");
            c.failure(BODY_MATCH_CAP + 6)
        };
        assert_eq!(
            check(u64::MAX),
            Some(format!(
                "body does not match the regex \"needle\" (in its first {BODY_MATCH_CAP} bytes, \
                 the most body_matches looks at; {} bytes read)",
                BODY_MATCH_CAP + 6
            ))
        );
        let mut c = e.body_check(u64::MAX);
        c.feed(b"a needle");
        assert_eq!(c.failure(8), None);
    }

    #[test]
    fn regex_sees_the_body_up_to_the_cap() {
        let tail = expect_body(None, None, Some("needle"));
        // Past the cap the body is not kept (such a body fails as body_too_large anyway).
        assert!(body_failure(&tail, 4, &[b"xx", b"xxneedle"]).is_some());
        assert_eq!(body_failure(&tail, 8, &[b"xx", b"needle"]), None);
    }

    #[test]
    fn header_assertions() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b-json"));
        let expect = |name: &str, value: &str| Expect {
            headers: vec![(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.into(),
            )],
            ..Expect::default()
        };
        assert_eq!(
            expect("Content-Type", "text").header_failure(&headers),
            None
        );
        assert_eq!(expect("content-type", "").header_failure(&headers), None);
        assert_eq!(expect("x-multi", "json").header_failure(&headers), None);
        assert_eq!(
            expect("content-type", "json").header_failure(&headers),
            Some(r#"header content-type is "text/plain", expected it to contain "json""#.into())
        );
        assert_eq!(
            expect("X-Foo", "1").header_failure(&headers),
            Some("header x-foo missing".into())
        );
        assert_eq!(
            expect("x-multi", "c").header_failure(&headers),
            Some(r#"header x-multi is "a, b-json", expected it to contain "c""#.into())
        );
    }

    #[test]
    fn time_assertion() {
        let e = Expect {
            max_response_time: Some(Duration::from_millis(500)),
            ..Expect::default()
        };
        assert_eq!(e.time_failure(Duration::from_millis(500)), None);
        assert_eq!(
            e.time_failure(Duration::from_millis(812)),
            Some("response took 812 ms, more than max_response_time 500ms".into())
        );
        assert_eq!(
            e.time_failure(Duration::from_micros(500_400)),
            Some("response took 500.400 ms, more than max_response_time 500ms".into())
        );
        assert_eq!(
            Expect::default().time_failure(Duration::from_secs(99)),
            None
        );
    }

    #[test]
    fn long_values_are_shortened_in_details() {
        let long = "x".repeat(200);
        let q = quoted(&long);
        assert!(q.ends_with("\"…") && q.len() < 100, "{q}");
        assert_eq!(quoted("a\"b\n"), r#""a\"b\n""#);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::now();
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("0", now), Some(Duration::ZERO));
        let later = now + Duration::from_secs(30);
        let got = retry_after(&httpdate::fmt_http_date(later), now).unwrap();
        // HTTP dates have whole seconds.
        assert!(
            (Duration::from_secs(29)..=Duration::from_secs(30)).contains(&got),
            "{got:?}"
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "soon", "-5", "1.5", "99999999999999999999999"] {
            assert_eq!(retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn json_body_past_the_cap_is_not_parsed_and_says_so() {
        let e = Expect {
            json: vec![("/a".into(), serde_json::json!(1))],
            ..Expect::default()
        };
        let mut check = e.body_check(10);
        check.feed(br#"{"a": 1,"#);
        check.feed(br#" "b": 2}"#);
        assert_eq!(
            check.failure(16).as_deref(),
            Some(
                r#"body is larger than 10 bytes, the most json assertions parse, so "/a" cannot be checked (16 bytes read)"#
            )
        );
        let mut whole = e.body_check(BODY_MATCH_CAP * 4);
        whole.feed(br#"{"a": 1, "b": 2}"#);
        assert_eq!(whole.failure(16), None);
        assert!(whole.cap == usize::try_from(BODY_MATCH_CAP).unwrap());
    }
}
