//! A local site that answers like the internet does, for the WAN-shaped benchmark
//! (`scripts/bench/wan.sh`): each URL carries its own delay, some never answer, some fail.
//!
//! Routes (the benchmark's generator draws the delays, so a URL's delay is fixed and the
//! server stays a dumb, fast executor of it):
//! - `/ok/<id>/<ms>`   `200 ok` after `<ms>` milliseconds
//! - `/fail/<id>/<ms>` `503 fail` after `<ms>` milliseconds
//! - `/hang/<id>`      reads the request and never answers; the connection is held until the
//!   client gives up (closes) or the server exits
//! - anything else     `404` at once
//!
//! "Refused" needs no route: the port this server listens on, at an address of 127.0.0.0/8 it
//! does not listen on (127.0.0.254), has nobody listening, so the kernel answers the SYN with a
//! reset, as a dead host's firewall-less port does. Nobody else can listen there on all
//! addresses while this server holds the port.
//!
//! One thread, non-blocking sockets and `poll(2)` over only the sockets that have something to
//! say (listeners, connections whose request is not read yet, held `/hang` connections); a
//! connection waiting out its delay is not polled but sits in a timer heap. So a few thousand
//! concurrent delayed answers cost a heap entry and a socket each, and the loop's work per
//! request is an accept, a read, a write and a close. Listen backlogs are 4,096 (socket2; std's
//! is 128) so a burst of connections is not dropped into a SYN retransmit. It listens on
//! 127.0.0.1 … 127.0.0.K (`--hosts K`, the same port on each): spreading URLs over several
//! destination addresses multiplies the client's ephemeral-port space for TIME_WAIT.
//!
//! Every request's arrival (the time its head was read, Unix seconds with µs) and path go to the
//! arrival log, one line each: `1764899000.123456 /ok/17/80`. It exits after `--secs` seconds,
//! closing everything, and prints to stderr (every 10 s and at the end) what it did so far (requests, most connections held at
//! once, most delayed answers pending at once, answers sent later than due by more than 5 ms and 50 ms, the latest).
//!
//! usage: cargo run --release --example latency_site -- --secs 300 --log arrivals.log [--hosts 4]
//! It prints `port P hosts K` on stdout once it listens.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Socket, Type};

/// Largest request head read; a longer one is answered 431 and closed.
const MAX_HEAD: usize = 8 * 1024;
/// Connections accepted per listener per turn of the loop (so timers are never starved).
const ACCEPT_BATCH: usize = 512;
/// An answer sent later than its due time by more than this counts as late.
const LATE: Duration = Duration::from_millis(5);
/// … and by more than this.
const VERY_LATE: Duration = Duration::from_millis(50);

enum State {
    /// The request head is being read.
    Reading(Vec<u8>),
    /// The answer is due at a time in the heap.
    Delayed(&'static [u8]),
    /// Never answered; watched only to notice the client's close.
    Held,
}

struct Conn {
    stream: TcpStream,
    state: State,
}

struct Args {
    secs: u64,
    log: String,
    hosts: u8,
}

fn args() -> Args {
    let mut a = Args {
        secs: 0,
        log: String::new(),
        hosts: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--secs" => a.secs = v.parse().expect("--secs takes whole seconds"),
            "--log" => a.log = v,
            "--hosts" => a.hosts = v.parse().expect("--hosts takes 1 to 250"),
            _ => panic!("unknown argument {k}; usage: --secs N --log FILE [--hosts K]"),
        }
    }
    assert!(
        a.secs > 0 && !a.log.is_empty(),
        "--secs and --log are required"
    );
    assert!((1..=250).contains(&a.hosts), "--hosts takes 1 to 250");
    a
}

fn listener(ip: Ipv4Addr, port: u16) -> std::io::Result<TcpListener> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&SocketAddr::from((ip, port)).into())?;
    s.listen(4096)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Binds 127.0.0.1 … 127.0.0.K on one port (retrying a few ports if one is taken elsewhere).
fn listeners(hosts: u8) -> Vec<TcpListener> {
    for _ in 0..20 {
        let first = listener(Ipv4Addr::LOCALHOST, 0).expect("cannot listen on 127.0.0.1");
        let port = first.local_addr().expect("a bound address").port();
        let mut all = vec![first];
        for k in 2..=hosts {
            match listener(Ipv4Addr::new(127, 0, 0, k), port) {
                Ok(l) => all.push(l),
                Err(_) => break,
            }
        }
        if all.len() == usize::from(hosts) {
            return all;
        }
    }
    panic!("could not find one free port on 127.0.0.1 … 127.0.0.{hosts}");
}

fn response(status: &str, body: &str) -> &'static [u8] {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Box::leak(text.into_boxed_str()).as_bytes()
}

/// What to do with a request for `path`: answer after a delay, or hold it.
fn route(path: &str, ok: &'static [u8], fail: &'static [u8]) -> Option<(&'static [u8], u64)> {
    let mut parts = path.trim_start_matches('/').split('/');
    let kind = parts.next().unwrap_or("");
    let mut delay = || parts.nth(1).and_then(|ms| ms.parse::<u64>().ok());
    match kind {
        "ok" => Some((ok, delay().unwrap_or(0))),
        "fail" => Some((fail, delay().unwrap_or(0))),
        "hang" => None,
        _ => Some((response("404 Not Found", "not found\n"), 0)),
    }
}

fn main() {
    let a = args();
    let listeners = listeners(a.hosts);
    let port = listeners[0].local_addr().expect("a bound address").port();
    let mut log = BufWriter::with_capacity(
        1 << 20,
        File::create(&a.log).expect("cannot create the log"),
    );
    println!("port {port} hosts {}", a.hosts);
    std::io::stdout().flush().ok();

    let ok = response("200 OK", "ok\n");
    let fail = response("503 Service Unavailable", "fail\n");
    let too_long = response("431 Request Header Fields Too Large", "");
    let end = Instant::now() + Duration::from_secs(a.secs);
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut timers: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    let (mut requests, mut accepted, mut open, mut most_open, mut most_delayed) =
        (0u64, 0u64, 0usize, 0usize, 0usize);
    // Answers sent more than LATE and VERY_LATE after their due time, and the latest.
    let mut late = (0u64, 0u64, Duration::ZERO);
    let mut next_flush = Instant::now() + Duration::from_secs(1);
    let mut flushes = 0u64;

    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Wait for a socket, the next answer due, the next log flush or the end.
        let mut wake = end.min(next_flush);
        if let Some(Reverse((due, _))) = timers.peek() {
            wake = wake.min(*due);
        }
        let mut watched: Vec<usize> = Vec::new();
        let ready: Vec<(bool, usize)> = {
            let mut fds: Vec<PollFd> = listeners
                .iter()
                .map(|l| PollFd::new(l.as_fd(), PollFlags::POLLIN))
                .collect();
            for (i, c) in conns.iter().enumerate() {
                if let Some(c) = c {
                    if !matches!(c.state, State::Delayed(_)) {
                        fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
                        watched.push(i);
                    }
                }
            }
            // Round up: a zero-millisecond poll would spin until a sub-millisecond due time.
            let wait = wake.saturating_duration_since(now) + Duration::from_micros(999);
            let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(0) => Vec::new(),
                Ok(_) => fds
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                    .map(|(k, _)| {
                        if k < listeners.len() {
                            (true, k)
                        } else {
                            (false, watched[k - listeners.len()])
                        }
                    })
                    .collect(),
                Err(nix::errno::Errno::EINTR) => Vec::new(),
                Err(e) => panic!("poll failed: {e}"),
            }
        };

        for (is_listener, k) in ready {
            if is_listener {
                for _ in 0..ACCEPT_BATCH {
                    match listeners[k].accept() {
                        Ok((stream, _)) => {
                            if stream.set_nonblocking(true).is_err() {
                                continue;
                            }
                            accepted += 1;
                            let conn = Conn {
                                stream,
                                state: State::Reading(Vec::new()),
                            };
                            match free.pop() {
                                Some(i) => conns[i] = Some(conn),
                                None => conns.push(Some(conn)),
                            }
                            open += 1;
                            most_open = most_open.max(open);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        // Out of file descriptors or a connection reset before accept: the
                        // client sees it; try again next turn.
                        Err(_) => break,
                    }
                }
                continue;
            }
            let Some(conn) = conns[k].as_mut() else {
                continue;
            };
            let mut buf = [0u8; 4096];
            let close = match conn.stream.read(&mut buf) {
                Ok(0) => true,
                Ok(n) => match &mut conn.state {
                    State::Reading(head) => {
                        head.extend_from_slice(&buf[..n]);
                        if let Some(line_end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                            let arrival = SystemTime::now()
                                .duration_since(UNIX_EPOCH)
                                .unwrap_or_default();
                            let line = String::from_utf8_lossy(&head[..line_end]);
                            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                            requests += 1;
                            let _ = writeln!(
                                log,
                                "{}.{:06} {path}",
                                arrival.as_secs(),
                                arrival.subsec_micros()
                            );
                            match route(&path, ok, fail) {
                                Some((answer, ms)) => {
                                    conn.state = State::Delayed(answer);
                                    timers.push(Reverse((
                                        Instant::now() + Duration::from_millis(ms),
                                        k,
                                    )));
                                    most_delayed = most_delayed.max(timers.len());
                                }
                                None => conn.state = State::Held,
                            }
                            false
                        } else if head.len() > MAX_HEAD {
                            let _ = conn.stream.write_all(too_long);
                            true
                        } else {
                            false
                        }
                    }
                    // A held connection sending more: ignore it, keep holding.
                    _ => false,
                },
                Err(e) if e.kind() == ErrorKind::WouldBlock => false,
                Err(_) => true,
            };
            if close {
                conns[k] = None;
                free.push(k);
                open -= 1;
            }
        }

        // Answers that are due: the answer fits in the socket buffer of a fresh connection,
        // so one non-blocking write sends it; then close (the server closes first, so
        // TIME_WAIT is on this side, not on the client's ephemeral ports).
        let now = Instant::now();
        while let Some(&Reverse((due, k))) = timers.peek() {
            if due > now {
                break;
            }
            timers.pop();
            let behind = now.saturating_duration_since(due);
            if behind > LATE {
                late.0 += 1;
            }
            if behind > VERY_LATE {
                late.1 += 1;
            }
            late.2 = late.2.max(behind);
            if let Some(Conn {
                mut stream,
                state: State::Delayed(answer),
            }) = conns[k].take()
            {
                let _ = stream.write_all(answer);
            }
            free.push(k);
            open -= 1;
        }
        if now >= next_flush {
            let _ = log.flush();
            next_flush = now + Duration::from_secs(1);
            flushes += 1;
            if flushes.is_multiple_of(10) {
                eprintln!(
                    "{}",
                    stats(requests, accepted, most_open, most_delayed, late)
                );
            }
        }
    }
    let _ = log.flush();
    eprintln!(
        "{}",
        stats(requests, accepted, most_open, most_delayed, late)
    );
}

fn stats(
    requests: u64,
    accepted: u64,
    open: usize,
    delayed: usize,
    late: (u64, u64, Duration),
) -> String {
    format!(
        "latency_site: {requests} requests, {accepted} connections; most connections open at once \
         {open}, most delayed answers pending at once {delayed}; answers late by more than {} ms: \
         {}, by more than {} ms: {}, at most {} ms",
        LATE.as_millis(),
        late.0,
        VERY_LATE.as_millis(),
        late.1,
        late.2.as_millis()
    )
}
