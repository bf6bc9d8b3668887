//! A local webhook receiver for the notification tests: records every request with its body,
//! and also serves a monitored page whose status the test switches.
//!
//! Routes (any method): `/site` answers the status set with [`Receiver::set_site`] (200 at
//! first) and is not recorded; `/500…` answers 500; `/hang…` never answers (until the receiver
//! is dropped); `/fail-once…` answers 500 to the first request on that path, then 204;
//! `/redirect…` answers 307 to `/stolen` on the same receiver;
//! anything else answers 200 `ok`. Every request but `/site` is recorded before it is answered.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hook {
    /// Path, with the query string.
    pub path: String,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Hook {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, by name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Shared {
    stop: AtomicBool,
    hooks: Mutex<Vec<Hook>>,
    arrived: Condvar,
    site: AtomicU16,
    failed_once: Mutex<HashSet<String>>,
}

/// The receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on 127.0.0.1, a free port.
    pub fn start() -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            hooks: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            site: AtomicU16::new(200),
            failed_once: Mutex::new(HashSet::new()),
        });
        let s = Arc::clone(&shared);
        let accept = thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    let _ = serve(stream, &s);
                });
            }
        });
        Receiver {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sets the status `/site` answers with.
    pub fn set_site(&self, status: u16) {
        self.shared.site.store(status, Ordering::SeqCst);
    }

    /// The requests so far whose path starts with `prefix`.
    pub fn hooks(&self, prefix: &str) -> Vec<Hook> {
        let hooks = self.shared.hooks.lock().unwrap();
        hooks
            .iter()
            .filter(|h| h.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Waits until at least `n` requests on `prefix` arrived; panics at `deadline`.
    pub fn wait_for(&self, n: usize, prefix: &str, deadline: Instant) -> Vec<Hook> {
        let mut hooks = self.shared.hooks.lock().unwrap();
        loop {
            let matching: Vec<Hook> = hooks
                .iter()
                .filter(|h| h.path.starts_with(prefix))
                .cloned()
                .collect();
            if matching.len() >= n {
                return matching;
            }
            let now = Instant::now();
            if now >= deadline {
                panic!("waited for {n} requests on {prefix}, got {matching:#?}");
            }
            hooks = self
                .shared
                .arrived
                .wait_timeout(hooks, deadline - now)
                .unwrap()
                .0;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)).is_ok() {
            if let Some(handle) = self.accept.take() {
                let _ = handle.join();
            }
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut stream = stream;
    if path == "/site" {
        let status = shared.site.load(Ordering::SeqCst);
        return respond(&mut stream, status);
    }
    shared.hooks.lock().unwrap().push(Hook {
        path: path.clone(),
        headers,
        body,
        at: Instant::now(),
    });
    shared.arrived.notify_all();
    if path.starts_with("/hang") {
        let end = Instant::now() + Duration::from_secs(60);
        while !shared.stop.load(Ordering::SeqCst) && Instant::now() < end {
            thread::sleep(Duration::from_millis(20));
        }
        return Ok(());
    }
    if path.starts_with("/redirect") {
        let head =
            "HTTP/1.1 307 X\r\nLocation: /stolen\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        return stream.write_all(head.as_bytes());
    }
    let status = if path.starts_with("/500") {
        500
    } else if path.starts_with("/fail-once") {
        if shared.failed_once.lock().unwrap().insert(path) {
            500
        } else {
            204
        }
    } else {
        200
    };
    respond(&mut stream, status)
}

fn respond(stream: &mut TcpStream, status: u16) -> std::io::Result<()> {
    let body: &[u8] = if status == 204 { b"" } else { b"ok" };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}
