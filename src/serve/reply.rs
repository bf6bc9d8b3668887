//! What a route answers, and the headers every reply carries.
//!
//! Every reply, errors included, has the security headers: a strict Content-Security-Policy
//! (nothing from elsewhere: no scripts unless a page names its inline script by hash, styles
//! only inline or from this server, images only from here or `data:`), `nosniff`, no referrer,
//! no framing. Replies are never cached unless a route says otherwise ([`Reply::cache`]).
//! Each connection carries one request (`Connection: close`).

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

/// The Content-Security-Policy of every reply unless a route sets its own with
/// [`Reply::csp`] (a page with an inline script adds its `'sha256-…'` to `script-src`).
pub const CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                       script-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers on every reply besides the CSP.
const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
];

/// Plain text.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// JSON.
pub const JSON: &str = "application/json";
/// HTML.
pub const HTML: &str = "text/html; charset=utf-8";
/// SVG.
pub const SVG: &str = "image/svg+xml";

/// A reply: status, type, body and any extra headers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body (not sent for `HEAD`).
    pub body: Vec<u8>,
    /// `Cache-Control`.
    pub cache: &'static str,
    /// `Content-Security-Policy`.
    pub csp: &'static str,
    /// Other headers (e.g. `WWW-Authenticate`, `Allow`).
    pub headers: Vec<(&'static str, String)>,
    /// A body produced while it is sent, instead of `body` (see [`Reply::streamed`]).
    pub stream: Option<Stream>,
}

/// A body read while it is sent, in chunks (`Transfer-Encoding: chunked`, so a reader can
/// tell a cut-off body from a whole one). Shared by clones of its reply; sent once.
#[derive(Clone)]
pub struct Stream(Arc<Mutex<Option<Box<dyn Read + Send>>>>);

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}

/// Size of a chunk of a streamed body.
const STREAM_CHUNK: usize = 64 * 1024;

/// Writes `reader` to `out` as chunks, then the last (empty) chunk.
fn write_chunked(reader: &mut dyn Read, out: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; STREAM_CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        write!(out, "{n:x}\r\n")?;
        out.write_all(&buf[..n])?;
        out.write_all(b"\r\n")?;
    }
    out.write_all(b"0\r\n\r\n")?;
    out.flush()
}

impl Reply {
    /// A reply with `status`, `content_type` and `body`, not cacheable.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
            cache: "no-store",
            csp: CSP,
            headers: Vec::new(),
            stream: None,
        }
    }

    /// A reply whose body is read from `body` while it is sent: a large body is never held
    /// whole in memory.
    pub fn streamed(
        status: u16,
        content_type: &'static str,
        body: impl Read + Send + 'static,
    ) -> Reply {
        let mut reply = Reply::new(status, content_type, Vec::new());
        reply.stream = Some(Stream(Arc::new(Mutex::new(Some(Box::new(body))))));
        reply
    }

    /// Plain text; a line end is added.
    pub fn text(status: u16, text: impl Into<String>) -> Reply {
        let mut text = text.into();
        text.push('\n');
        Reply::new(status, TEXT, text)
    }

    /// `200` JSON.
    pub fn json(value: &serde_json::Value) -> Reply {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Reply::new(200, JSON, body)
    }

    /// `200` HTML.
    pub fn html(body: impl Into<String>) -> Reply {
        Reply::new(200, HTML, body.into())
    }

    /// `404` naming what was not found.
    pub fn not_found(what: &str) -> Reply {
        Reply::text(404, format!("not found: {what}"))
    }

    /// `404` for a monitor id that names no monitor.
    pub fn unknown_monitor(id: &str) -> Reply {
        Reply::text(404, format!("no monitor with id {id:?}"))
    }

    /// `400` naming the query parameter and what is wrong with it.
    pub fn bad_param(name: &str, why: &str) -> Reply {
        Reply::text(400, format!("bad query parameter {name:?}: {why}"))
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// Sets `Cache-Control`.
    pub fn cache(mut self, value: &'static str) -> Reply {
        self.cache = value;
        self
    }

    /// Sets the Content-Security-Policy.
    pub fn csp(mut self, value: &'static str) -> Reply {
        self.csp = value;
        self
    }

    /// Writes the reply (without its body when `head_only`), in one write where possible.
    pub fn write_to(&self, out: &mut impl Write, head_only: bool) -> io::Result<()> {
        let length = match self.stream {
            Some(_) => "Transfer-Encoding: chunked".to_string(),
            None => format!("Content-Length: {}", self.body.len()),
        };
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\n{length}\r\nCache-Control: {}\r\n\
             Content-Security-Policy: {}\r\nConnection: close\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.cache,
            self.csp,
        );
        for (name, value) in SECURITY_HEADERS {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        for (name, value) in &self.headers {
            // Values come from sitewatch, never from the request; still, no header splitting.
            let value: String = value.chars().filter(|c| !c.is_control()).collect();
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if let Some(Stream(stream)) = &self.stream {
            out.write_all(&bytes)?;
            let body = stream.lock().unwrap_or_else(|e| e.into_inner()).take();
            return match body {
                Some(mut body) if !head_only => write_chunked(&mut body, out),
                _ => out.flush(),
            };
        }
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        out.write_all(&bytes)?;
        out.flush()
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_has_the_security_headers_and_head_has_no_body() {
        let mut out = Vec::new();
        Reply::text(404, "not found: /x")
            .header("Allow", "GET\r\nX: y")
            .write_to(&mut out, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        for needle in [
            "Content-Security-Policy: default-src 'none'",
            "X-Content-Type-Options: nosniff",
            "Referrer-Policy: no-referrer",
            "X-Frame-Options: DENY",
            "Content-Length: 14\r\n",
            "Allow: GETX: y\r\n",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
        assert!(text.ends_with("\r\n\r\nnot found: /x\n"));
        let mut out = Vec::new();
        Reply::text(200, "ok").write_to(&mut out, true).unwrap();
        assert!(String::from_utf8(out).unwrap().ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_streamed_body_goes_in_chunks() {
        let body = vec![b'x'; STREAM_CHUNK + 3];
        let mut out = Vec::new();
        Reply::streamed(200, TEXT, io::Cursor::new(body))
            .write_to(&mut out, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Transfer-Encoding: chunked\r\n"));
        assert!(!text.contains("Content-Length"));
        let body = text.split_once("\r\n\r\n").unwrap().1;
        assert!(body.starts_with("10000\r\nxxx"));
        assert!(body.ends_with("xxx\r\n3\r\nxxx\r\n0\r\n\r\n"));
    }
}
