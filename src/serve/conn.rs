//! The server loop: one accept thread and a fixed pool of serving threads.
//!
//! The accept thread hands each connection to the pool through a bounded channel
//! ([`BACKLOG`]); when the pool is that far behind (a flood of idle connections), the
//! connection is answered `503` and closed at once instead of queued, so the number of open
//! sockets stays bounded (they share the open-files limit with the workers' checks).
//!
//! A serving thread reads one request head with a deadline ([`HEAD_TIMEOUT`], counted from the
//! connection's hand-over, not per read, so a client trickling a byte at a time is cut off too)
//! and a size cap ([`MAX_HEAD`]), checks the method and the credentials, runs the route, writes
//! the reply and closes the connection.

use std::io::{self, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, TrySendError};

use super::request::Method;
use super::{
    routes, Auth, Ctx, Reply, Request, BACKLOG, HEAD_TIMEOUT, MAX_HEAD, THREADS, WRITE_TIMEOUT,
};
use crate::engine::spawn;
use crate::error::Error;

/// Most headers parsed in one request.
const MAX_HEADERS: usize = 32;
/// Shortest pause after a failed accept (e.g. out of file descriptors), so the loop does not
/// spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Starts the accept thread and [`THREADS`] serving threads.
pub(super) fn start(
    listener: TcpListener,
    auth: Arc<Auth>,
    ctx: Arc<Ctx>,
    stopping: Arc<AtomicBool>,
) -> Result<Vec<JoinHandle<()>>, Error> {
    let (tx, rx) = bounded::<(TcpStream, Instant)>(BACKLOG);
    let mut threads = Vec::with_capacity(THREADS + 1);
    for i in 0..THREADS {
        let (rx, auth, ctx) = (rx.clone(), Arc::clone(&auth), Arc::clone(&ctx));
        threads.push(spawn(format!("sitewatch-http-{i}"), move || {
            serve(&rx, &auth, &ctx)
        })?);
    }
    threads.push(spawn("sitewatch-http-accept".into(), move || {
        let mut warned = false;
        for stream in listener.incoming() {
            if stopping.load(Ordering::Relaxed) {
                break;
            }
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    if !warned {
                        log::warn!("status server: cannot accept a connection ({e}); retrying");
                        warned = true;
                    }
                    std::thread::sleep(ACCEPT_BACKOFF);
                    continue;
                }
            };
            match tx.try_send((stream, Instant::now())) {
                Ok(()) => {}
                Err(TrySendError::Full((mut stream, _))) => {
                    // A fresh socket's send buffer takes this small reply without blocking.
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                    let _ = Reply::text(503, "busy: too many connections; try again")
                        .header("Retry-After", "1")
                        .write_to(&mut stream, false);
                    let _ = stream.shutdown(Shutdown::Both);
                }
                Err(TrySendError::Disconnected(_)) => break,
            }
        }
    })?);
    Ok(threads)
}

fn serve(connections: &Receiver<(TcpStream, Instant)>, auth: &Auth, ctx: &Ctx) {
    for (mut stream, accepted) in connections {
        let reply = match read_head(&mut stream, accepted + HEAD_TIMEOUT) {
            Ok(Head::Complete(bytes)) => answer(&bytes, auth, ctx),
            Ok(Head::TooLarge) => Some((
                Reply::text(431, format!("request head larger than {MAX_HEAD} bytes")),
                false,
            )),
            // Closed, timed out or failed before a request arrived: nothing to answer.
            Ok(Head::Closed) | Err(_) => None,
        };
        if let Some((reply, head_only)) = reply {
            let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
            let _ = reply.write_to(&mut stream, head_only);
        }
        let _ = stream.shutdown(Shutdown::Both);
    }
}

enum Head {
    Complete(Vec<u8>),
    TooLarge,
    Closed,
}

/// Reads until the blank line that ends the head, by `deadline` at the latest.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> io::Result<Head> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut buf[len..])?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        // Search from a little before the new bytes: the blank line may straddle two reads.
        let from = len.saturating_sub(3);
        len += n;
        if let Some(end) = memchr::memmem::find(&buf[from..len], b"\r\n\r\n") {
            buf.truncate(from + end + 4);
            return Ok(Head::Complete(buf));
        }
        if len == MAX_HEAD {
            return Ok(Head::TooLarge);
        }
    }
}

/// Parses a complete head and runs the route: the reply, and whether it goes without body.
fn answer(bytes: &[u8], auth: &Auth, ctx: &Ctx) -> Option<(Reply, bool)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return None,
        Err(httparse::Error::TooManyHeaders) => {
            return Some((
                Reply::text(431, format!("more than {MAX_HEADERS} request headers")),
                false,
            ))
        }
        Err(e) => return Some((Reply::text(400, format!("bad request: {e}")), false)),
    }
    let method = match parsed.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        Some(other) => {
            let reply = Reply::text(
                405,
                format!("method {other} not allowed: this server is read-only"),
            )
            .header("Allow", "GET, HEAD");
            return Some((reply, false));
        }
        None => return Some((Reply::text(400, "bad request: no method"), false)),
    };
    let head_only = method == Method::Head;
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let has_body = header("Transfer-Encoding").is_some()
        || header("Content-Length").is_some_and(|v| v.trim_ascii() != b"0");
    if has_body {
        return Some((
            Reply::text(413, "request bodies are not accepted"),
            head_only,
        ));
    }
    if !auth.allows(header("Authorization")) {
        let reply = Reply::text(
            401,
            "credentials required (see the server's \"auth\" setting)",
        )
        .header("WWW-Authenticate", auth.challenge());
        return Some((reply, head_only));
    }
    let target = parsed.path.unwrap_or("/");
    let mut request = Request::new(method, target);
    request.scrape_timeout = header("X-Prometheus-Scrape-Timeout-Seconds")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok());
    Some((routes::route(ctx, &request), head_only))
}
