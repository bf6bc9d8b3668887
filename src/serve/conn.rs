//! The server loop: one thread that accepts connections and reads request heads, and a fixed
//! pool of serving threads that answer them.
//!
//! Idle connections cost no thread: the accept thread holds every connection whose head has
//! not arrived yet (at most [`MAX_PENDING`]) in one `poll(2)` set, reading what each sends
//! without blocking. A connection whose head is not complete by [`HEAD_TIMEOUT`] after it was
//! accepted (a client trickling a byte at a time included) is closed; when the set is full,
//! the connection waiting longest is closed to make room, so a flood of idle connections can
//! neither hold the port nor starve a real client. A head larger than [`MAX_HEAD`] is answered
//! `431`. A complete head goes to the serving threads through a bounded channel of
//! [`BACKLOG`]; when they are that far behind, the connection is answered `503` at once.
//!
//! A serving thread parses the head, checks the method and the credentials, runs the route,
//! writes the reply (at most [`WRITE_TIMEOUT`]) and closes the connection.

use std::io::{self, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::request::Method;
use super::{
    routes, Auth, Ctx, Reply, Request, BACKLOG, HEAD_TIMEOUT, MAX_HEAD, THREADS, WRITE_TIMEOUT,
};
use crate::engine::spawn;
use crate::error::Error;

/// Connections whose request head has not arrived yet, at most (fewer when the open-files
/// limit is low: see [`super::pending_connections`]).
pub const MAX_PENDING: usize = 1024;
/// Most headers parsed in one request.
const MAX_HEADERS: usize = 32;
/// Longest the accept thread sleeps in `poll`, so it sees a stop request soon.
const POLL_AT_MOST: Duration = Duration::from_millis(250);
/// Pause after a failed accept (e.g. out of file descriptors), so the loop does not spin
/// while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A connection whose head is being read.
struct Pending {
    stream: TcpStream,
    deadline: Instant,
    head: Vec<u8>,
}

/// What the serving threads take: a connection and its complete head.
type Ready = (TcpStream, Vec<u8>);

/// Starts the accept thread and [`THREADS`] serving threads.
pub(super) fn start(
    listener: TcpListener,
    auth: Arc<Auth>,
    ctx: Arc<Ctx>,
    stopping: Arc<AtomicBool>,
    max_pending: usize,
) -> Result<Vec<JoinHandle<()>>, Error> {
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Usage(format!("listen: {e}")))?;
    let (tx, rx) = bounded::<Ready>(BACKLOG);
    let mut threads = Vec::with_capacity(THREADS + 1);
    for i in 0..THREADS {
        let (rx, auth, ctx) = (rx.clone(), Arc::clone(&auth), Arc::clone(&ctx));
        threads.push(spawn(format!("sitewatch-http-{i}"), move || {
            serve(&rx, &auth, &ctx)
        })?);
    }
    threads.push(spawn("sitewatch-http-accept".into(), move || {
        accept_loop(&listener, &tx, &stopping, max_pending)
    })?);
    Ok(threads)
}

/// Answers `reply` on a connection no serving thread will take, and closes it.
fn refuse(mut stream: TcpStream, reply: &Reply) {
    // A fresh socket's send buffer takes this small reply without blocking.
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = reply.write_to(&mut stream, false);
    let _ = stream.shutdown(Shutdown::Both);
}

fn accept_loop(
    listener: &TcpListener,
    ready: &Sender<Ready>,
    stopping: &AtomicBool,
    max_pending: usize,
) {
    let mut pending: Vec<Pending> = Vec::new();
    let mut warned = false;
    while !stopping.load(Ordering::Relaxed) {
        let now = Instant::now();
        // Cut off heads that did not arrive in time.
        pending.retain(|p| {
            let keep = p.deadline > now;
            if !keep {
                let _ = p.stream.shutdown(Shutdown::Both);
            }
            keep
        });
        let wait = pending
            .iter()
            .map(|p| p.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(POLL_AT_MOST)
            .min(POLL_AT_MOST);
        let (listener_ready, readable) = {
            let mut fds = Vec::with_capacity(pending.len() + 1);
            fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
            fds.extend(
                pending
                    .iter()
                    .map(|p| PollFd::new(p.stream.as_fd(), PollFlags::POLLIN)),
            );
            let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::NONE);
            if let Err(e) = poll(&mut fds, timeout) {
                if e != nix::errno::Errno::EINTR {
                    log::warn!("status server: poll failed ({e}); retrying");
                    std::thread::sleep(ACCEPT_BACKOFF);
                }
                continue;
            }
            let fired = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            let readable: Vec<bool> = fds[1..].iter().map(fired).collect();
            (fired(&fds[0]), readable)
        };
        // Read what arrived; hand over complete heads, drop closed or failed connections.
        let before = std::mem::take(&mut pending);
        for (mut p, fired) in before.into_iter().zip(readable) {
            if !fired {
                pending.push(p);
                continue;
            }
            match read_some(&mut p) {
                Progress::More => pending.push(p),
                Progress::Closed => {}
                Progress::TooLarge => {
                    let reply =
                        Reply::text(431, format!("request head larger than {MAX_HEAD} bytes"));
                    refuse(p.stream, &reply);
                }
                Progress::Complete => match ready.try_send((p.stream, p.head)) {
                    Ok(()) => {}
                    Err(
                        TrySendError::Full((stream, _)) | TrySendError::Disconnected((stream, _)),
                    ) => {
                        let reply = Reply::text(503, "busy: too many requests; try again")
                            .header("Retry-After", "1");
                        refuse(stream, &reply);
                    }
                },
            }
        }
        if listener_ready {
            accept_all(listener, &mut pending, max_pending, &mut warned);
        }
    }
    for p in pending {
        let _ = p.stream.shutdown(Shutdown::Both);
    }
}

fn accept_all(
    listener: &TcpListener,
    pending: &mut Vec<Pending>,
    max_pending: usize,
    warned: &mut bool,
) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                if pending.len() >= max_pending {
                    // The connection waiting longest makes room: idle ones cannot hold the port.
                    let oldest = pending.remove(0);
                    let _ = oldest.stream.shutdown(Shutdown::Both);
                }
                pending.push(Pending {
                    stream,
                    deadline: Instant::now() + HEAD_TIMEOUT,
                    head: Vec::new(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                if !*warned {
                    log::warn!("status server: cannot accept a connection ({e}); retrying");
                    *warned = true;
                }
                std::thread::sleep(ACCEPT_BACKOFF);
                return;
            }
        }
    }
}

enum Progress {
    More,
    Complete,
    TooLarge,
    Closed,
}

/// Reads what is available of a head without blocking.
fn read_some(p: &mut Pending) -> Progress {
    let mut buf = [0u8; 4096];
    loop {
        let room = MAX_HEAD - p.head.len();
        let take = room.min(buf.len());
        match p.stream.read(&mut buf[..take]) {
            Ok(0) => return Progress::Closed,
            Ok(n) => {
                // Search from a little before the new bytes: the blank line may straddle reads.
                let from = p.head.len().saturating_sub(3);
                p.head.extend_from_slice(&buf[..n]);
                if let Some(end) = memchr::memmem::find(&p.head[from..], b"\r\n\r\n") {
                    p.head.truncate(from + end + 4);
                    return Progress::Complete;
                }
                if p.head.len() >= MAX_HEAD {
                    return Progress::TooLarge;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::More,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Progress::Closed,
        }
    }
}

fn serve(ready: &Receiver<Ready>, auth: &Auth, ctx: &Ctx) {
    for (mut stream, head) in ready {
        if let Some((reply, head_only)) = answer(&head, auth, ctx) {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
            let _ = reply.write_to(&mut stream, head_only);
        }
        let _ = stream.shutdown(Shutdown::Both);
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
