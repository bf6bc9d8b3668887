//! A parsed request: method, path segments (percent-decoded) and query parameters.
//!
//! Only what the routes need is kept; headers other than `Authorization` (checked before any
//! route runs) are dropped.

use std::borrow::Cow;

/// The methods served; anything else is answered `405` before a route runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the same reply without its body.
    Head,
}

/// One request, as the routes see it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET` or `HEAD`.
    pub method: Method,
    /// The path as sent, without the query (still percent-encoded).
    pub path: String,
    /// The path's segments, percent-decoded (`/a/b%20c` → `["a", "b c"]`); empty for `/`.
    pub segments: Vec<String>,
    /// Query parameters in order, decoded (`+` is a space).
    pub query: Vec<(String, String)>,
    /// Prometheus's `X-Prometheus-Scrape-Timeout-Seconds` header, if sent and valid.
    pub scrape_timeout: Option<std::time::Duration>,
}

impl Request {
    /// Splits a request target (`/path?query`) into a request.
    pub fn new(method: Method, target: &str) -> Request {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(
                |s| match percent_encoding::percent_decode_str(s).decode_utf8() {
                    Ok(Cow::Borrowed(s)) => s.to_string(),
                    Ok(Cow::Owned(s)) => s,
                    Err(_) => s.to_string(),
                },
            )
            .collect();
        let query = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Request {
            method,
            path: path.to_string(),
            segments,
            query,
            scrape_timeout: None,
        }
    }

    /// The last value of query parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The segments as `&str`, for matching with slice patterns.
    pub fn parts(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_query_are_decoded() {
        let r = Request::new(
            Method::Get,
            "/monitors/slow%20(1.5%20s)?q=a+b&page=2&page=3",
        );
        assert_eq!(r.parts(), ["monitors", "slow (1.5 s)"]);
        assert_eq!(r.param("q"), Some("a b"));
        assert_eq!(r.param("page"), Some("3"));
        assert_eq!(r.param("state"), None);
        assert!(Request::new(Method::Get, "/").segments.is_empty());
    }
}
