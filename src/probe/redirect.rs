//! Redirects, followed by sitewatch itself: where a `Location` leads, and whether to go there.
//!
//! ureq is asked to follow no redirect; the probe loops over the hops and asks this module, for
//! every 3xx that redirects, what the next request is. Guarantees of [`next_hop`]:
//!
//! - the `Location` is resolved as an RFC 3986 reference against the URL that answered
//!   (`../ok`, `?q=1`, `//host/x` and absolute URLs alike), by the `url` crate;
//! - the target is validated like a config URL: `http` or `https` only (never `javascript:`,
//!   `file:`, `data:`, `mailto:`, `ftp:` …), a host, a port from 1 to 65535, at most
//!   [`MAX_URL_BYTES`] long, and an `https` monitor never goes on over plain `http` unless the
//!   monitor allows it (`allow_http_redirect`);
//! - a refusal is a detail naming the hop (its text sanitised, see [`crate::text`]); the probe
//!   ends the check with reason `redirects`;
//! - credentials go to the configured origin only: the next request carries the monitor's URL
//!   userinfo only when it stays on that origin (scheme, host and port), and [`same_origin`]
//!   tells the probe whether to send the credential headers. Userinfo a server puts in a
//!   `Location` is never sent.
//!
//! The method changes as browsers change it: 301, 302 and 303 turn anything but GET and HEAD
//! into a GET without a body; 307 and 308 keep the method and the body.

use serde::Serialize;
use ureq::http::{StatusCode, Uri};
use url::Url;

use crate::model::Method;
use crate::text;

pub use crate::model::MAX_URL_BYTES;

/// One redirect on the way to the final response: the status that redirected and the URL that
/// answered it (userinfo redacted, sanitised and capped like all server-chosen text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    /// The 3xx status.
    pub status: u16,
    /// The URL that answered with it.
    pub url: String,
}

/// The next request of a redirect chain.
#[derive(Debug)]
pub(super) struct Hop {
    /// What to request (with the monitor's userinfo only on its own origin).
    pub uri: Uri,
    /// The same target for resolving the next `Location` against.
    pub url: Url,
    /// The method of the next request.
    pub method: Method,
    /// Whether the configured body goes along (307 and 308 only, and only if it went before).
    pub with_body: bool,
}

/// Whether `status` is a redirect sitewatch follows: 301, 302, 303, 307, 308 (300 and 304 are
/// final answers).
pub(super) fn is_followed(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Scheme, host and port of `url` (default ports filled in), as the origin is compared.
pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// What to request after `status` with `location` (raw header bytes, if any) from `current`,
/// whose request used `method` (`with_body` if the body went along). `configured` is the
/// monitor's own URL. `Err` is the detail of a refused hop.
pub(super) fn next_hop(
    configured: &Url,
    current: &Url,
    status: StatusCode,
    location: Option<&[u8]>,
    method: Method,
    with_body: bool,
    allow_http: bool,
) -> Result<Hop, String> {
    let code = describe(status);
    let Some(raw) = location else {
        return Err(format!("{code} without a Location header"));
    };
    let refused = |why: &str| {
        format!(
            "{code} to \"{}\" not followed: {why}",
            text::server_bytes(raw)
        )
    };
    if raw.len() > MAX_URL_BYTES {
        return Err(refused(&format!(
            "the Location is {} bytes, more than the {MAX_URL_BYTES} sitewatch requests",
            raw.len()
        )));
    }
    let Ok(reference) = std::str::from_utf8(raw) else {
        return Err(refused("the Location is not valid UTF-8"));
    };
    if reference.trim().is_empty() {
        return Err(refused("the Location is empty"));
    }
    let mut url = current
        .join(reference)
        .map_err(|e| refused(&format!("not a valid URL reference ({e})")))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(refused(&format!(
                "scheme {:?} (only http and https are followed)",
                text::server_text(other)
            )))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refused("no host"));
    }
    if url.port() == Some(0) {
        return Err(refused("port 0"));
    }
    if configured.scheme() == "https" && url.scheme() == "http" && !allow_http {
        return Err(refused(
            "a downgrade from https to http (set allow_http_redirect to follow it)",
        ));
    }
    // A fragment is never sent; userinfo from the server is never used.
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let mut request_url = url.clone();
    if same_origin(&url, configured) {
        let _ = request_url.set_username(configured.username());
        let _ = request_url.set_password(configured.password());
    }
    if request_url.as_str().len() > MAX_URL_BYTES {
        return Err(refused(&format!(
            "it resolves to {} bytes, more than the {MAX_URL_BYTES} sitewatch requests",
            request_url.as_str().len()
        )));
    }
    let uri: Uri = request_url
        .as_str()
        .parse()
        .map_err(|e| refused(&format!("not a URL sitewatch can request ({e})")))?;
    let keeps_method = matches!(status.as_u16(), 307 | 308);
    let (method, with_body) = if keeps_method || matches!(method, Method::Get | Method::Head) {
        (method, with_body && keeps_method)
    } else {
        (Method::Get, false)
    };
    Ok(Hop {
        uri,
        url,
        method,
        with_body,
    })
}

/// `url` for output: the password replaced by `***`, sanitised and capped.
pub(super) fn shown(url: &str) -> String {
    let redacted = match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    };
    text::server_text(&redacted)
}

fn describe(status: StatusCode) -> String {
    format!("HTTP {}", super::expect::describe_status(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn hop(from: &str, location: &str) -> Result<Hop, String> {
        let current = url(from);
        next_hop(
            &current,
            &current,
            StatusCode::FOUND,
            Some(location.as_bytes()),
            Method::Get,
            false,
            false,
        )
    }

    fn target(from: &str, location: &str) -> String {
        hop(from, location).unwrap().uri.to_string()
    }

    #[test]
    fn references_resolve_per_rfc_3986() {
        let base = "http://a.test:8080/b/c/redirect";
        assert_eq!(target(base, "../ok"), "http://a.test:8080/b/ok");
        assert_eq!(target(base, "?q=1"), "http://a.test:8080/b/c/redirect?q=1");
        assert_eq!(target(base, "/x"), "http://a.test:8080/x");
        assert_eq!(target(base, "//other.test/y"), "http://other.test/y");
        assert_eq!(target(base, "https://s.test/z#frag"), "https://s.test/z");
        assert_eq!(target(base, "d"), "http://a.test:8080/b/c/d");
    }

    #[test]
    fn other_schemes_are_refused_naming_the_hop() {
        for (location, scheme) in [
            ("javascript:alert(1)", "javascript"),
            ("file:///etc/passwd", "file"),
            ("mailto:a@b.test", "mailto"),
            ("data:text/html,hi", "data"),
            ("ftp://127.0.0.1/x", "ftp"),
        ] {
            let e = hop("http://a.test/", location).unwrap_err();
            assert!(e.starts_with("HTTP 302 Found to "), "{e}");
            assert!(e.contains(location), "{e}");
            assert!(
                e.ends_with(&format!(
                    "scheme \"{scheme}\" (only http and https are followed)"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_ports_long_urls_and_missing_locations_are_refused() {
        let e = hop("http://a.test/", "http://a.test:65616/").unwrap_err();
        assert!(e.contains("invalid port number"), "{e}");
        let e = hop("http://a.test/", "http://a.test:0/").unwrap_err();
        assert!(e.ends_with("port 0"), "{e}");
        let long = format!("/{}", "a".repeat(20_000));
        let e = hop("http://a.test/", &long).unwrap_err();
        assert!(
            e.contains("the Location is 20001 bytes, more than the 8192"),
            "{e}"
        );
        assert!(e.len() < 500, "the detail is capped: {} bytes", e.len());
        let current = url("http://a.test/");
        let e = next_hop(
            &current,
            &current,
            StatusCode::MOVED_PERMANENTLY,
            None,
            Method::Get,
            false,
            false,
        )
        .unwrap_err();
        assert_eq!(e, "HTTP 301 Moved Permanently without a Location header");
        let e = next_hop(
            &current,
            &current,
            StatusCode::FOUND,
            Some(b"/\xff"),
            Method::Get,
            false,
            false,
        )
        .unwrap_err();
        assert!(e.ends_with("the Location is not valid UTF-8"), "{e}");
    }

    #[test]
    fn the_hop_text_is_sanitised() {
        let e = hop("http://a.test/", "javascript:\u{1b}[2J\u{202e}x").unwrap_err();
        assert!(!e.chars().any(text::needs_escape), "{e}");
        assert!(e.contains("\\u{1b}[2J\\u{202e}x"), "{e}");
    }

    #[test]
    fn https_to_http_is_refused_unless_allowed() {
        let from = url("https://a.test/");
        let go = |allow| {
            next_hop(
                &from,
                &from,
                StatusCode::FOUND,
                Some(b"http://a.test/x"),
                Method::Get,
                false,
                allow,
            )
        };
        let e = go(false).unwrap_err();
        assert!(e.ends_with("set allow_http_redirect to follow it)"), "{e}");
        assert_eq!(go(true).unwrap().uri.to_string(), "http://a.test/x");
    }

    #[test]
    fn userinfo_goes_to_the_configured_origin_only() {
        let configured = url("http://me:pw@a.test/start");
        let go = |location: &str| {
            next_hop(
                &configured,
                &configured,
                StatusCode::FOUND,
                Some(location.as_bytes()),
                Method::Get,
                false,
                false,
            )
            .unwrap()
            .uri
            .to_string()
        };
        assert_eq!(go("/next"), "http://me:pw@a.test/next");
        assert_eq!(go("http://a.test:80/n"), "http://me:pw@a.test/n");
        assert_eq!(go("http://a.test:81/n"), "http://a.test:81/n");
        assert_eq!(go("http://b.test/n"), "http://b.test/n");
        assert_eq!(go("https://a.test/n"), "https://a.test/n");
        // A server's own userinfo is dropped.
        assert_eq!(go("http://x:y@b.test/n"), "http://b.test/n");
        assert!(same_origin(
            &url("http://a.test/"),
            &url("http://a.test:80/z")
        ));
        assert!(!same_origin(
            &url("http://a.test/"),
            &url("https://a.test/")
        ));
        assert!(!same_origin(
            &url("http://127.0.0.1/"),
            &url("http://127.0.0.2/")
        ));
    }

    #[test]
    fn methods_change_as_browsers_change_them() {
        let from = url("http://a.test/");
        let go = |status: u16, method| {
            let h = next_hop(
                &from,
                &from,
                StatusCode::from_u16(status).unwrap(),
                Some(b"/n"),
                method,
                true,
                false,
            )
            .unwrap();
            (h.method, h.with_body)
        };
        for status in [301, 302, 303] {
            assert_eq!(go(status, Method::Post), (Method::Get, false), "{status}");
            assert_eq!(go(status, Method::Head), (Method::Head, false), "{status}");
        }
        for status in [307, 308] {
            assert_eq!(go(status, Method::Post), (Method::Post, true), "{status}");
            assert_eq!(go(status, Method::Put), (Method::Put, true), "{status}");
        }
        assert!(is_followed(StatusCode::MOVED_PERMANENTLY));
        assert!(!is_followed(StatusCode::NOT_MODIFIED));
        assert!(!is_followed(StatusCode::MULTIPLE_CHOICES));
    }

    #[test]
    fn shown_urls_hide_the_password() {
        assert_eq!(shown("http://me:pw@a.test/x"), "http://me:***@a.test/x");
        assert_eq!(shown("http://a.test/x"), "http://a.test/x");
    }
}
