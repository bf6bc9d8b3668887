//! A local HTTP site whose every answer is written by the test, byte for byte, for responses
//! no well-behaved server sends (hostile `Location`s, control characters in a reason phrase,
//! a megabyte header line).
//!
//! [`RawSite`] binds `IP:0` on a loopback address (`127.0.0.1`, or `127.0.0.2` for a second
//! origin, which Linux answers on loopback), reads one request head per connection (at most
//! 64 KiB, 2 s read and write timeouts), records it, and writes whatever the test's handler
//! returns for it, then closes. Dropping the site wakes the blocking `accept` by connecting to
//! itself and joins the accept thread; connection threads end within their timeouts.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Largest request head read.
const MAX_HEAD: usize = 64 * 1024;
/// Read and write timeout of every connection.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// One request as the site saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    /// Header lines, names lowercased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The value of header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Seen) -> Vec<u8> + Send + Sync;

/// A local site answering every request with the bytes its handler returns.
pub struct RawSite {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    accept_thread: Option<JoinHandle<()>>,
}

impl RawSite {
    /// Serves on `127.0.0.1:0`.
    pub fn start(handler: impl Fn(&Seen) -> Vec<u8> + Send + Sync + 'static) -> RawSite {
        RawSite::start_on("127.0.0.1", handler)
    }

    /// Serves on `ip:0` (a loopback address).
    pub fn start_on(
        ip: &str,
        handler: impl Fn(&Seen) -> Vec<u8> + Send + Sync + 'static,
    ) -> RawSite {
        let listener = TcpListener::bind((ip, 0)).expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (accept_stop, accept_seen) = (Arc::clone(&stop), Arc::clone(&seen));
        let accept_thread = thread::Builder::new()
            .name("raw-site-accept".into())
            .spawn(move || loop {
                let accepted = listener.accept();
                if accept_stop.load(Ordering::SeqCst) {
                    return;
                }
                match accepted {
                    Ok((stream, _)) => {
                        let (handler, seen) = (Arc::clone(&handler), Arc::clone(&accept_seen));
                        let _ = thread::Builder::new()
                            .name("raw-site-conn".into())
                            .spawn(move || serve(stream, &*handler, &seen));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            })
            .expect("spawn accept thread");
        RawSite {
            addr,
            stop,
            seen,
            accept_thread: Some(accept_thread),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every request seen so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The requests seen for exactly this target (path and query).
    pub fn seen_at(&self, target: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.target == target)
            .collect()
    }
}

impl Drop for RawSite {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)).is_ok();
        if let Some(handle) = self.accept_thread.take() {
            if woke {
                let _ = handle.join();
            }
        }
    }
}

/// A response with `status line` (e.g. `302 Found`), extra header lines and a body.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}

/// A redirect with `status` (e.g. `302 Found`) to `location`, taken as raw bytes.
pub fn redirect(status: &str, location: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nLocation: ").into_bytes();
    out.extend_from_slice(location);
    out.extend_from_slice(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    out
}

fn serve(mut tcp: TcpStream, handler: &Handler, seen: &Mutex<Vec<Seen>>) {
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if head.len() > MAX_HEAD {
            return;
        }
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let request = Seen {
        method: first.next().unwrap_or("").to_string(),
        target: first.next().unwrap_or("").to_string(),
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect(),
    };
    // Any request body is left unread: bodies here are small, and the answer does not depend on it.
    let answer = handler(&request);
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(request);
    let _ = tcp.write_all(&answer);
    let _ = tcp.flush();
    // Say we are done writing, then read until the client hangs up (bounded by the timeout and
    // a count), so that unread request bytes do not turn the close into a reset.
    let _ = tcp.shutdown(Shutdown::Write);
    for _ in 0..64 {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}
