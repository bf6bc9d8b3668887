//! A tiny local HTTP/1.1 site with deliberately faulty behaviours.
//!
//! [`LocalSite`] lets `sitewatch demo` run without internet access, and gives
//! the integration tests misbehaving servers to point the monitor at: slow
//! headers, dripping bodies, hangs, resets, truncated bodies, garbage instead
//! of HTTP, redirect chains and loops, flaky status codes and so on (see
//! [`routes_help`]).
//!
//! Guarantees:
//! - It binds `127.0.0.1` only (port 0, so the OS picks a free port) and
//!   never connects anywhere but its own listener.
//! - It uses only `std`: one accept thread, plus one thread per connection.
//!   Each connection carries one request and gets `Connection: close`.
//! - Every request head is recorded *before* any byte of the response is
//!   written, so once a client has seen any outcome, [`LocalSite::hits`] and
//!   [`LocalSite::requests`] already include that request.
//! - Handlers never panic on client misbehaviour; write errors end the
//!   handler quietly. Reads time out after 5 s, writes after 10 s.
//! - Dropping the [`LocalSite`] sets a stop flag and wakes the blocking
//!   `accept` by connecting to itself, then joins the accept thread only.
//!   Connection handlers are not joined: every wait in them (slow, dripping
//!   and hanging routes) polls the stop flag at least every 50 ms and is capped
//!   at 120 s, and streaming routes check it between chunks, so they end soon
//!   after the drop on their own.

// The module is shared by the binary (`sitewatch demo`) and the integration
// tests, and each uses a different subset of it.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

/// Largest accepted request head (request line plus headers).
const MAX_HEAD: usize = 64 * 1024;
/// Read timeout for request heads (and request bodies, which are discarded).
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Write timeout, so a client that stops reading cannot pin a handler.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for every deliberate wait (`/hang`, `/slow-*`).
const MAX_WAIT: Duration = Duration::from_secs(120);
/// How often waiting handlers look at the stop flag.
const POLL: Duration = Duration::from_millis(25);
/// Write size for streamed bodies: just under 64 KiB and a multiple of
/// `PATTERN.len()`, so the pattern runs on seamlessly across chunks.
const CHUNK: usize = 65_530;
/// Body bytes of `/bytes`, `/chunked`, `/truncated`: byte `i` is `PATTERN[i % 10]`.
const PATTERN: &[u8; 10] = b"abcdefghij";
/// Largest payload of one deflate stored block.
const STORED_MAX: usize = 65_535;
/// Largest request body that is read (and discarded, except by `/echo-body`) before responding.
const MAX_DRAIN: u64 = 1024 * 1024;
/// Furthest `/retry-after-date/{secs}` goes into the future (a day), so the date stays valid.
const MAX_RETRY_AFTER: u64 = 24 * 60 * 60;

/// A short description of every route, one per line.
pub fn routes_help() -> &'static str {
    "\
/, /ok              200 \"ok\\n\"
/status/{code}      that status (100..=599), body \"status {code}\\n\"
/bytes/{n}          200 with exactly n bytes (Content-Length)
/chunked/{n}        200 with n bytes, Transfer-Encoding: chunked
/gzip/{n}           200, Content-Encoding: gzip of n bytes of 'a'
/slow-headers/{ms}  waits ms before responding 200 \"ok\\n\"
/slow-body/{ms}     headers at once, 10 body bytes dripped over ms
/hang               reads the request, never answers
/truncated/{n}      Content-Length n, sends n/2 bytes, closes
/reset              closes with unread data: the client sees a TCP reset
/redirect/{n}       302 to /redirect/{n-1}; /redirect/0 is 200 \"ok\\n\"
/redirect-loop      302 to itself
/garbage            answers \"this is not http\" instead of HTTP
/flaky              200, 503, 200, 503, ... per request to this path
/echo-headers       200, body lists the request headers as \"name: value\"
/echo-body          200, body is the request body (Content-Length framed, up to 1 MiB)
/text/{word}        200 \"hello {word} world\\n\"
/header/{name}/{value}  200 \"ok\\n\" with response header name: value (value may hold '/')
/retry-after/{secs}     503 with Retry-After: secs
/retry-after-date/{secs}  429 with Retry-After: the HTTP date secs from now
anything else       404 \"not found\\n\"
"
}

/// One request head as received by a [`LocalSite`].
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Request method as sent, e.g. `GET` or `HEAD`.
    pub method: String,
    /// Request path without query string or fragment, e.g. `/status/503`.
    pub path: String,
    /// Header lines in order, name and value trimmed, case as sent.
    pub headers: Vec<(String, String)>,
    /// When the complete head had arrived.
    pub at: Instant,
}

/// State shared by the site handle, the accept thread and the handlers.
struct Shared {
    stop: AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
    arrived: Condvar,
    flaky: AtomicUsize,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn requests(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        // A handler cannot panic while holding the lock, but never propagate poison.
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, req: RecordedRequest) {
        self.requests().push(req);
        self.arrived.notify_all();
    }

    /// Sleeps until `end` (capped at `MAX_WAIT` from now), polling the stop
    /// flag. Returns false if the site was stopped meanwhile.
    fn pause_until(&self, end: Instant) -> bool {
        let end = end.min(Instant::now() + MAX_WAIT);
        loop {
            if self.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            thread::sleep((end - now).min(POLL));
        }
    }
}

/// A local HTTP/1.1 server on `127.0.0.1` with faulty routes; see the module
/// docs. It serves until dropped.
pub struct LocalSite {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl LocalSite {
    /// Binds 127.0.0.1:0 and serves in background threads until dropped.
    pub fn start() -> io::Result<LocalSite> {
        LocalSite::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Binds `addr` (a loopback address) and serves until dropped: with the address of a site
    /// that was dropped, the same site comes back, as a restarted server would.
    pub fn start_on(addr: SocketAddr) -> io::Result<LocalSite> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a local site binds a loopback address only",
            ));
        }
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            flaky: AtomicUsize::new(0),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("localsite-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(LocalSite {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    /// The bound address (`127.0.0.1` and the OS-chosen port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`; path starts with '/'.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every request head received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests().clone()
    }

    /// How many requests arrived for exactly this path (query string excluded).
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// Waits until at least `n` requests were recorded; false on timeout.
    #[cfg(test)]
    fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.shared.requests();
        while guard.len() < n {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = match self.shared.arrived.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

impl Drop for LocalSite {
    /// Stops accepting and tells waiting handlers to give up; returns promptly.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the accept thread sees the flag.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)).is_ok();
        if let Some(handle) = self.accept_thread.take() {
            // Without the wake-up connection the join could block: detach instead.
            if woke {
                let _ = handle.join();
            }
        }
    }
}

/// A URL on 127.0.0.1 where nothing listens (bind port 0, note the port, drop
/// the listener): connecting is refused.
pub fn refused_url() -> String {
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        // Port 1 (tcpmux) is essentially never served on loopback.
        .unwrap_or(1);
    format!("http://127.0.0.1:{port}/")
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stopped() {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                // If no thread can be spawned the stream is dropped, i.e. closed.
                let _ = thread::Builder::new()
                    .name("localsite-conn".into())
                    .spawn(move || {
                        let _ = handle_connection(stream, &shared);
                    });
            }
            // E.g. out of file descriptors: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn handle_connection(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let Some(head) = peek_head(&stream, shared)? else {
        return Ok(());
    };
    let Some(req) = parse_head(&head) else {
        stream.read_exact(&mut vec![0; head.len()])?;
        return send(&mut stream, false, 400, &[], b"bad request\n");
    };
    shared.record(req.clone());
    if req.path == "/reset" {
        // Consume one byte only: closing a socket with unread received data
        // makes Linux answer with RST instead of FIN.
        stream.read_exact(&mut [0u8; 1])?;
        return Ok(());
    }
    stream.read_exact(&mut vec![0; head.len()])?;
    // The body is read before responding: kept for `/echo-body`, discarded otherwise.
    let body_len = header(&req, "content-length").and_then(|v| v.parse::<u64>().ok());
    let mut body = Vec::new();
    if let Some(len) = body_len {
        let mut limited = (&stream).take(len.min(MAX_DRAIN));
        if req.path == "/echo-body" {
            limited.read_to_end(&mut body)?;
        } else {
            io::copy(&mut limited, &mut io::sink())?;
        }
    }
    respond(&mut stream, &req, &body, shared)
}

/// Peeks (without consuming) until the buffered data holds a complete head;
/// returns its bytes including the final blank line. `None` on EOF, an
/// oversized head, a timeout or a stopped site.
fn peek_head(stream: &TcpStream, shared: &Shared) -> io::Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut buf = vec![0u8; MAX_HEAD];
    loop {
        // Blocks until data is available (or the read timeout fires).
        let n = stream.peek(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(pos) = find(&buf[..n], b"\r\n\r\n") {
            buf.truncate(pos + 4);
            return Ok(Some(buf));
        }
        if n >= MAX_HEAD || Instant::now() >= deadline || shared.stopped() {
            return Ok(None);
        }
        // Only part of the head is here and peek would return at once: wait a bit.
        thread::sleep(Duration::from_millis(2));
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &[u8]) -> Option<RecordedRequest> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if method.is_empty() || !version.starts_with("HTTP/") {
        return None;
    }
    // Absolute form (`http://host:port/path`), as sent to proxies.
    let target = match target.find("://") {
        Some(i) => target[i + 3..]
            .find('/')
            .map_or("/", |j| &target[i + 3 + j..]),
        None => target,
    };
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    Some(RecordedRequest {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        at: Instant::now(),
    })
}

fn header<'a>(req: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    let found = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name));
    found.map(|(_, v)| v.as_str())
}

fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_head(stream: &mut TcpStream, code: u16, headers: &[(&str, String)]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())
}

/// Writes a complete response with a fixed body (omitted for HEAD).
fn send(
    stream: &mut TcpStream,
    head_only: bool,
    code: u16,
    extra: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut headers = vec![("Content-Length", body.len().to_string())];
    // The default Content-Type unless the caller sets its own.
    if !extra
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type", "text/plain".to_string()));
    }
    headers.extend_from_slice(extra);
    write_head(stream, code, &headers)?;
    if !head_only {
        stream.write_all(body)?;
    }
    Ok(())
}

/// Streams `n` bytes of `PATTERN` in `CHUNK`-sized writes, raw or chunk-framed.
fn write_pattern(stream: &mut TcpStream, shared: &Shared, n: u64, framed: bool) -> io::Result<()> {
    let chunk: Vec<u8> = PATTERN.iter().copied().cycle().take(CHUNK).collect();
    let mut left = n;
    while left > 0 {
        if shared.stopped() {
            return Ok(());
        }
        let len = left.min(CHUNK as u64) as usize;
        if framed {
            stream.write_all(format!("{len:x}\r\n").as_bytes())?;
            stream.write_all(&chunk[..len])?;
            stream.write_all(b"\r\n")?;
        } else {
            stream.write_all(&chunk[..len])?;
        }
        left -= len as u64;
    }
    Ok(())
}

/// Number of deflate stored blocks needed for `n` bytes (at least one).
fn stored_blocks(n: u64) -> u64 {
    n.div_ceil(STORED_MAX as u64).max(1)
}

/// Streams gzip(`n` bytes of `a`) built from deflate stored blocks.
fn write_gzip(stream: &mut TcpStream, shared: &Shared, n: u64) -> io::Result<()> {
    // Magic, CM=deflate, no flags, MTIME=0, no XFL, OS=unknown.
    stream.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
    let data = vec![b'a'; STORED_MAX];
    let mut crc = 0u32;
    let mut left = n;
    loop {
        if shared.stopped() {
            return Ok(());
        }
        let len = left.min(STORED_MAX as u64) as u16;
        left -= u64::from(len);
        let last = left == 0;
        // BFINAL bit, BTYPE=00 (stored), padding to the byte boundary; LEN, NLEN.
        let mut block = vec![u8::from(last)];
        block.extend_from_slice(&len.to_le_bytes());
        block.extend_from_slice(&(!len).to_le_bytes());
        block.extend_from_slice(&data[..usize::from(len)]);
        stream.write_all(&block)?;
        crc = crc32_update(crc, &data[..usize::from(len)]);
        if last {
            break;
        }
    }
    let mut trailer = crc.to_le_bytes().to_vec();
    trailer.extend_from_slice(&(n as u32).to_le_bytes()); // ISIZE: n mod 2^32
    stream.write_all(&trailer)
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) lookup table.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// Continues a CRC-32: `crc32_update(crc32_update(0, a), b)` is the CRC of `a ++ b`.
fn crc32_update(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Whether `/header/{name}/{value}` may send this header: a token name that does not change
/// the framing, and a value of visible ASCII and spaces.
fn settable_header(name: &str, value: &str) -> bool {
    const FRAMING: [&str; 3] = ["content-length", "transfer-encoding", "connection"];
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !name.is_empty()
        && name.bytes().all(token)
        && !FRAMING.iter().any(|f| name.eq_ignore_ascii_case(f))
        && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

fn respond(
    stream: &mut TcpStream,
    req: &RecordedRequest,
    body: &[u8],
    shared: &Shared,
) -> io::Result<()> {
    let head_only = req.method.eq_ignore_ascii_case("HEAD");
    let rest = req.path.strip_prefix('/').unwrap_or("\0");
    let (route, arg) = match rest.split_once('/') {
        Some((route, arg)) => (route, Some(arg)),
        None => (rest, None),
    };
    let num = arg.and_then(|a| a.parse::<u64>().ok());
    let ok = |stream: &mut TcpStream| send(stream, head_only, 200, &[], b"ok\n");
    match (route, arg, num) {
        ("" | "ok", None, _) => ok(stream),
        ("status", _, Some(code @ 100..=599)) => {
            let code = code as u16;
            if code < 200 || code == 204 || code == 304 {
                // These never carry a body (nor, here, a Content-Length).
                write_head(stream, code, &[])
            } else {
                send(
                    stream,
                    head_only,
                    code,
                    &[],
                    format!("status {code}\n").as_bytes(),
                )
            }
        }
        ("bytes", _, Some(n)) => {
            write_head(stream, 200, &[("Content-Length", n.to_string())])?;
            if head_only {
                return Ok(());
            }
            write_pattern(stream, shared, n, false)
        }
        ("chunked", _, Some(n)) => {
            write_head(stream, 200, &[("Transfer-Encoding", "chunked".into())])?;
            if head_only {
                return Ok(());
            }
            write_pattern(stream, shared, n, true)?;
            stream.write_all(b"0\r\n\r\n")
        }
        ("gzip", _, Some(n)) => {
            let size = 10 + 5 * stored_blocks(n) + n + 8;
            let headers = [
                ("Content-Encoding", "gzip".to_string()),
                ("Content-Length", size.to_string()),
            ];
            write_head(stream, 200, &headers)?;
            if head_only {
                return Ok(());
            }
            write_gzip(stream, shared, n)
        }
        ("slow-headers", _, Some(ms)) => {
            let start = Instant::now();
            if shared.pause_until(start + Duration::from_millis(ms).min(MAX_WAIT)) {
                ok(stream)?;
            }
            Ok(())
        }
        ("slow-body", _, Some(ms)) => {
            write_head(stream, 200, &[("Content-Length", "10".into())])?;
            if head_only {
                return Ok(());
            }
            let start = Instant::now();
            let total = Duration::from_millis(ms).min(MAX_WAIT);
            for (i, byte) in (1u32..).zip(PATTERN) {
                if !shared.pause_until(start + total * i / 10) {
                    return Ok(());
                }
                stream.write_all(&[*byte])?;
            }
            Ok(())
        }
        ("hang", None, _) => {
            shared.pause_until(Instant::now() + MAX_WAIT);
            Ok(())
        }
        ("truncated", _, Some(n)) => {
            write_head(stream, 200, &[("Content-Length", n.to_string())])?;
            if head_only {
                return Ok(());
            }
            write_pattern(stream, shared, n / 2, false)
        }
        ("redirect", _, Some(0)) => ok(stream),
        ("redirect", _, Some(n)) => {
            let location = [("Location", format!("/redirect/{}", n - 1))];
            send(stream, head_only, 302, &location, b"redirect\n")
        }
        ("redirect-loop", None, _) => {
            let location = [("Location", "/redirect-loop".to_string())];
            send(stream, head_only, 302, &location, b"redirect\n")
        }
        ("garbage", None, _) => stream.write_all(b"this is not http\r\n\r\n"),
        ("flaky", None, _) => {
            if shared
                .flaky
                .fetch_add(1, Ordering::SeqCst)
                .is_multiple_of(2)
            {
                ok(stream)
            } else {
                send(stream, head_only, 503, &[], b"status 503\n")
            }
        }
        ("echo-headers", None, _) => {
            let body: String = req
                .headers
                .iter()
                .map(|(n, v)| format!("{n}: {v}\n"))
                .collect();
            send(stream, head_only, 200, &[], body.as_bytes())
        }
        ("echo-body", None, _) => send(stream, head_only, 200, &[], body),
        ("text", Some(word), _) if !word.is_empty() => {
            let text = format!("hello {word} world\n");
            send(stream, head_only, 200, &[], text.as_bytes())
        }
        ("header", Some(arg), _) => match arg.split_once('/') {
            Some((name, value)) if settable_header(name, value) => send(
                stream,
                head_only,
                200,
                &[(name, value.to_string())],
                b"ok\n",
            ),
            _ => send(stream, head_only, 404, &[], b"not found\n"),
        },
        ("retry-after", _, Some(secs)) => {
            let after = [("Retry-After", secs.to_string())];
            send(stream, head_only, 503, &after, b"status 503\n")
        }
        ("retry-after-date", _, Some(secs)) => {
            let at = SystemTime::now() + Duration::from_secs(secs.min(MAX_RETRY_AFTER));
            let after = [("Retry-After", httpdate::fmt_http_date(at))];
            send(stream, head_only, 429, &after, b"status 429\n")
        }
        _ => send(stream, head_only, 404, &[], b"not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into()
    }

    fn agent_with_timeout(ms: u64) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(ms)))
            .build()
            .into()
    }

    /// GET with the no-redirect agent: (status, body).
    fn get(site: &LocalSite, path: &str) -> (u16, Vec<u8>) {
        let mut resp = agent().get(&site.url(path)).call().expect("request");
        let status = resp.status().as_u16();
        let body = resp.body_mut().with_config().limit(u64::MAX).read_to_vec();
        (status, body.expect("body"))
    }

    fn io_kind(err: &ureq::Error) -> Option<io::ErrorKind> {
        match err {
            ureq::Error::Io(e) => Some(e.kind()),
            _ => None,
        }
    }

    #[test]
    fn root_and_ok() {
        let site = LocalSite::start().unwrap();
        assert_eq!(get(&site, "/"), (200, b"ok\n".to_vec()));
        assert_eq!(get(&site, "/ok"), (200, b"ok\n".to_vec()));
        assert!(site.url("/ok").starts_with("http://127.0.0.1:"));
        assert!(site.addr().ip().is_loopback());
    }

    #[test]
    fn status_codes() {
        let site = LocalSite::start().unwrap();
        for code in [200u16, 201, 404, 418, 429, 500, 503, 599] {
            let (status, body) = get(&site, &format!("/status/{code}"));
            assert_eq!(status, code);
            assert_eq!(body, format!("status {code}\n").into_bytes());
        }
        assert_eq!(get(&site, "/status/204"), (204, Vec::new()));
        assert_eq!(get(&site, "/status/304"), (304, Vec::new()));
        assert_eq!(get(&site, "/status/600").0, 404);
        assert_eq!(get(&site, "/status/abc").0, 404);
        // 4xx/5xx become Error::StatusCode with the default agent config.
        let err = ureq::get(&site.url("/status/503")).call().unwrap_err();
        assert!(matches!(err, ureq::Error::StatusCode(503)), "{err:?}");
    }

    #[test]
    fn bytes_exact_length_and_pattern() {
        let site = LocalSite::start().unwrap();
        let (status, body) = get(&site, "/bytes/1000003");
        assert_eq!(status, 200);
        assert_eq!(body.len(), 1_000_003);
        assert!(body.iter().enumerate().all(|(i, b)| *b == PATTERN[i % 10]));
        assert_eq!(get(&site, "/bytes/0"), (200, Vec::new()));
    }

    #[test]
    fn head_has_no_body() {
        let site = LocalSite::start().unwrap();
        let mut resp = agent().head(&site.url("/bytes/1000")).call().unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-length"], "1000");
        assert!(resp.body_mut().read_to_vec().unwrap().is_empty());
        assert_eq!(site.requests()[0].method, "HEAD");
    }

    #[test]
    fn chunked_body() {
        let site = LocalSite::start().unwrap();
        let resp = agent().get(&site.url("/chunked/150000")).call().unwrap();
        assert_eq!(resp.headers()["transfer-encoding"], "chunked");
        let (status, body) = get(&site, "/chunked/150000");
        assert_eq!(status, 200);
        assert_eq!(body.len(), 150_000);
        assert!(body.iter().enumerate().all(|(i, b)| *b == PATTERN[i % 10]));
        assert_eq!(get(&site, "/chunked/0"), (200, Vec::new()));
    }

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32_update(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(
            crc32_update(crc32_update(0, b"1234"), b"56789"),
            0xCBF4_3926
        );
        assert_eq!(crc32_update(0, b""), 0);
    }

    #[test]
    fn gzip_decodes() {
        let site = LocalSite::start().unwrap();
        for n in [0usize, 1, 65_535, 65_536, 200_000] {
            let (status, body) = get(&site, &format!("/gzip/{n}"));
            assert_eq!(status, 200);
            assert_eq!(body.len(), n, "n={n}");
            assert!(body.iter().all(|b| *b == b'a'));
        }
    }

    /// Sends `parts` over a raw socket, returns (head, body) of the response.
    fn raw(site: &LocalSite, parts: &[&str]) -> (String, Vec<u8>) {
        let mut stream = TcpStream::connect(site.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        for part in parts {
            stream.write_all(part.as_bytes()).unwrap();
        }
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        let end = find(&all, b"\r\n\r\n").expect("head") + 4;
        (
            String::from_utf8_lossy(&all[..end]).into_owned(),
            all[end..].to_vec(),
        )
    }

    #[test]
    fn raw_framing() {
        let site = LocalSite::start().unwrap();
        let (head, body) = raw(&site, &["HEAD /bytes/1000 HTTP/1.1\r\nHo", "st: x\r\n\r\n"]);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Content-Length: 1000\r\n") && head.contains("Connection: close"));
        assert!(body.is_empty());
        // A request body is read and discarded, so the close is orderly.
        let (head, body) = raw(
            &site,
            &["POST /ok HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"],
        );
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(body, b"ok\n");
        // gzip: Content-Length matches, and the trailer holds CRC-32 and ISIZE.
        let n = 70_000usize;
        let (head, body) = raw(&site, &[&format!("GET /gzip/{n} HTTP/1.1\r\n\r\n")]);
        assert!(
            head.contains(&format!("Content-Length: {}\r\n", body.len())),
            "{head}"
        );
        assert_eq!(body.len(), 10 + 2 * 5 + n + 8);
        assert_eq!(body[..2], [0x1f, 0x8b]);
        let trailer = &body[body.len() - 8..];
        assert_eq!(trailer[..4], crc32_update(0, &vec![b'a'; n]).to_le_bytes());
        assert_eq!(trailer[4..], (n as u32).to_le_bytes());
        let (head, _) = raw(&site, &["nonsense\r\n\r\n"]);
        assert!(head.starts_with("HTTP/1.1 400 Bad Request"));
    }

    #[test]
    fn slow_headers_times_out() {
        let site = LocalSite::start().unwrap();
        let started = Instant::now();
        let err = agent_with_timeout(100)
            .get(&site.url("/slow-headers/5000"))
            .call()
            .unwrap_err();
        assert!(matches!(err, ureq::Error::Timeout(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(get(&site, "/slow-headers/20"), (200, b"ok\n".to_vec()));
    }

    #[test]
    fn slow_body_drips() {
        let site = LocalSite::start().unwrap();
        let started = Instant::now();
        let mut resp = agent().get(&site.url("/slow-body/200")).call().unwrap();
        let headers_after = started.elapsed();
        let body = resp.body_mut().read_to_vec().unwrap();
        assert_eq!(body, PATTERN.to_vec());
        assert!(
            headers_after < Duration::from_millis(150),
            "{headers_after:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(180));
        // A global timeout shorter than the drip fails while reading the body.
        let mut resp = agent_with_timeout(100)
            .get(&site.url("/slow-body/1000"))
            .call()
            .unwrap();
        let err = resp.body_mut().read_to_vec().unwrap_err();
        assert!(matches!(err, ureq::Error::Timeout(_)), "{err:?}");
    }

    #[test]
    fn drop_is_prompt_while_hanging() {
        let site = LocalSite::start().unwrap();
        let url = site.url("/hang");
        let client = thread::spawn(move || agent_with_timeout(10_000).get(&url).call());
        assert!(site.wait_for_requests(1, Duration::from_secs(2)));
        assert_eq!(site.hits("/hang"), 1);
        let started = Instant::now();
        drop(site);
        assert!(started.elapsed() < Duration::from_secs(1));
        // The handler gives up soon after the drop: the client sees the close.
        let result = client.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        let err = result.unwrap_err();
        assert!(
            matches!(err, ureq::Error::Protocol(_) | ureq::Error::Io(_)),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_body_is_an_error() {
        let site = LocalSite::start().unwrap();
        let mut resp = agent().get(&site.url("/truncated/1000")).call().unwrap();
        assert_eq!(resp.headers()["content-length"], "1000");
        let err = resp.body_mut().read_to_vec().unwrap_err();
        assert_eq!(io_kind(&err), Some(io::ErrorKind::UnexpectedEof), "{err:?}");
    }

    #[test]
    fn reset_gives_connection_reset() {
        let site = LocalSite::start().unwrap();
        let err = agent().get(&site.url("/reset")).call().unwrap_err();
        assert_eq!(
            io_kind(&err),
            Some(io::ErrorKind::ConnectionReset),
            "{err:?}"
        );
        assert_eq!(site.hits("/reset"), 1);
    }

    #[test]
    fn redirects() {
        let site = LocalSite::start().unwrap();
        let resp = agent().get(&site.url("/redirect/2")).call().unwrap();
        assert_eq!(resp.status(), 302);
        assert_eq!(resp.headers()["location"], "/redirect/1");
        let followed = ureq::get(&site.url("/redirect/3")).call().unwrap();
        assert_eq!(followed.status(), 200);
        for n in 0..=3 {
            assert_eq!(
                site.hits(&format!("/redirect/{n}")),
                if n == 2 { 2 } else { 1 }
            );
        }
        let err = ureq::get(&site.url("/redirect-loop")).call().unwrap_err();
        assert!(matches!(err, ureq::Error::TooManyRedirects), "{err:?}");
        assert_eq!(site.hits("/redirect-loop"), 11);
    }

    #[test]
    fn garbage_is_an_error() {
        let site = LocalSite::start().unwrap();
        let err = agent().get(&site.url("/garbage")).call().unwrap_err();
        assert!(matches!(err, ureq::Error::Protocol(_)), "{err:?}");
    }

    #[test]
    fn flaky_alternates() {
        let site = LocalSite::start().unwrap();
        let codes: Vec<u16> = (0..4).map(|_| get(&site, "/flaky").0).collect();
        assert_eq!(codes, [200, 503, 200, 503]);
        assert_eq!(site.hits("/flaky"), 4);
    }

    #[test]
    fn echo_headers_and_recording() {
        let site = LocalSite::start().unwrap();
        let mut resp = agent()
            .get(&site.url("/echo-headers?x=1"))
            .header("X-Probe", "42")
            .call()
            .unwrap();
        let body = resp.body_mut().read_to_string().unwrap();
        assert!(
            body.lines().any(|l| l.eq_ignore_ascii_case("x-probe: 42")),
            "{body}"
        );
        get(&site, "/nope?q");
        let reqs = site.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].path.as_str()),
            ("GET", "/echo-headers")
        );
        assert!(header(&reqs[0], "x-probe") == Some("42"));
        assert!(header(&reqs[0], "host").is_some());
        assert_eq!(reqs[1].path, "/nope");
        assert!(reqs[0].at <= reqs[1].at);
        assert_eq!(site.hits("/echo-headers"), 1);
        assert_eq!(site.hits("/echo-headers?x=1"), 0);
    }

    #[test]
    fn echo_body_returns_the_request_body_and_records_the_method() {
        let site = LocalSite::start().unwrap();
        let mut resp = agent()
            .post(&site.url("/echo-body"))
            .send("name=sitewatch&x=1")
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.body_mut().read_to_string().unwrap(),
            "name=sitewatch&x=1"
        );
        let mut resp = agent().put(&site.url("/echo-body")).send("").unwrap();
        assert_eq!(resp.body_mut().read_to_string().unwrap(), "");
        assert_eq!(get(&site, "/echo-body"), (200, Vec::new()));
        let methods: Vec<String> = site.requests().into_iter().map(|r| r.method).collect();
        assert_eq!(methods, ["POST", "PUT", "GET"]);
        // Other routes still discard a request body.
        let mut resp = agent().post(&site.url("/ok")).send("ignored").unwrap();
        assert_eq!(resp.body_mut().read_to_string().unwrap(), "ok\n");
    }

    #[test]
    fn text_route_wraps_the_word() {
        let site = LocalSite::start().unwrap();
        assert_eq!(
            get(&site, "/text/Welcome"),
            (200, b"hello Welcome world\n".to_vec())
        );
        assert_eq!(get(&site, "/text/").0, 404);
        assert_eq!(get(&site, "/text").0, 404);
    }

    #[test]
    fn header_route_sets_one_response_header() {
        let site = LocalSite::start().unwrap();
        let resp = agent().get(&site.url("/header/X-Foo/bar")).call().unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-foo"], "bar");
        // A value may contain slashes; Content-Type replaces the default one.
        let resp = agent()
            .get(&site.url("/header/content-type/application/json"))
            .call()
            .unwrap();
        let types: Vec<_> = resp.headers().get_all("content-type").iter().collect();
        assert_eq!(types, ["application/json"]);
        for bad in [
            "/header/x-foo",
            "/header//v",
            "/header/bad@name/v",
            "/header/content-length/5",
            "/header/Connection/keep-alive",
        ] {
            assert_eq!(get(&site, bad).0, 404, "{bad}");
        }
    }

    #[test]
    fn retry_after_routes() {
        let site = LocalSite::start().unwrap();
        let resp = agent().get(&site.url("/retry-after/7")).call().unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "7");
        let before = SystemTime::now();
        let resp = agent()
            .get(&site.url("/retry-after-date/30"))
            .call()
            .unwrap();
        assert_eq!(resp.status(), 429);
        let date = resp.headers()["retry-after"].to_str().unwrap();
        let at = httpdate::parse_http_date(date).unwrap();
        let ahead = at.duration_since(before).unwrap();
        // HTTP dates have whole seconds.
        assert!(
            (Duration::from_secs(29)..=Duration::from_secs(31)).contains(&ahead),
            "{date}: {ahead:?}"
        );
        assert_eq!(get(&site, "/retry-after/soon").0, 404);
    }

    #[test]
    fn unknown_is_404() {
        let site = LocalSite::start().unwrap();
        assert_eq!(get(&site, "/nope"), (404, b"not found\n".to_vec()));
        assert_eq!(get(&site, "/ok/extra").0, 404);
    }

    #[test]
    fn refused_url_is_refused() {
        let err = agent().get(&refused_url()).call().unwrap_err();
        assert_eq!(
            io_kind(&err),
            Some(io::ErrorKind::ConnectionRefused),
            "{err:?}"
        );
    }

    #[test]
    fn parse_head_forms() {
        let req = parse_head(b"GET http://h:1/a/b?c HTTP/1.1\r\nA: 1\r\nB:2 \r\n\r\n").unwrap();
        assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", "/a/b"));
        assert_eq!(
            req.headers,
            [("A".into(), "1".into()), ("B".into(), "2".into())]
        );
        assert_eq!(
            parse_head(b"GET http://h HTTP/1.1\r\n\r\n").unwrap().path,
            "/"
        );
        assert!(parse_head(b"garbage\r\n\r\n").is_none());
        assert!(!routes_help().is_empty());
    }
}
