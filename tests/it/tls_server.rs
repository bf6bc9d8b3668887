//! Local servers for the TLS tests, on `127.0.0.1:0` only.
//!
//! [`TlsSite`] is an HTTPS site with a self-signed certificate made at start-up (rcgen, for
//! `localhost` and `127.0.0.1`), served by rustls with the ring provider. Every connection
//! carries one request and is answered with `HTTP/1.1 200 OK` and the 3-byte body `ok\n`, then
//! closed ([`TlsSite::answering`]: with a response the test chooses). No client trusts the certificate (it is in no root store), so a verifying client
//! fails the handshake and the site counts no hit; [`TlsSite::hits`] counts requests that
//! arrived over a completed handshake.
//!
//! [`PlainHttpPort`] is a plain-HTTP port that answers anything at once with a `400`, for
//! `https://` pointed at a plain-HTTP server.
//!
//! Both use a std `TcpListener` and a thread per connection, and are bounded everywhere: reads
//! are capped in size and count, with 2 s read and write timeouts. Dropping a server sets a
//! stop flag and wakes the blocking `accept` by connecting to itself, then joins the accept
//! thread; connection threads end within their timeouts.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// Largest request head read before giving up on a connection.
const MAX_HEAD: usize = 16 * 1024;
/// Read and write timeout of every connection (the handshake included).
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// The one answer of [`PlainHttpPort`], to anything.
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
/// The one response of [`TlsSite`], to every request.
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

/// A listener on `127.0.0.1:0` with an accept thread that hands every connection to its own
/// handler thread, until dropped.
struct Listener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
}

impl Listener {
    fn start(name: &str, handle: impl Fn(TcpStream) + Clone + Send + 'static) -> Listener {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let accept_stop = Arc::clone(&stop);
        let conn_name = format!("{name}-conn");
        let accept_thread = thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || loop {
                let accepted = listener.accept();
                if accept_stop.load(Ordering::SeqCst) {
                    return;
                }
                match accepted {
                    Ok((stream, _)) => {
                        let handle = handle.clone();
                        // If no thread can be spawned the stream is dropped, i.e. closed.
                        let _ = thread::Builder::new()
                            .name(conn_name.clone())
                            .spawn(move || handle(stream));
                    }
                    // E.g. out of file descriptors: back off instead of spinning.
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            })
            .expect("spawn accept thread");
        Listener {
            addr,
            stop,
            accept_thread: Some(accept_thread),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
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

/// An HTTPS site on `127.0.0.1` with a self-signed certificate; serves until dropped.
pub struct TlsSite {
    listener: Listener,
    hits: Arc<AtomicUsize>,
    cert_pem: String,
}

impl TlsSite {
    /// Makes a fresh self-signed certificate, binds 127.0.0.1:0 and serves in background
    /// threads. Panics if any of that fails (it is test set-up).
    pub fn start() -> TlsSite {
        TlsSite::answering(RESPONSE.to_vec())
    }

    /// Like [`TlsSite::start`], answering every request with `response` (a whole HTTP/1.1
    /// response, e.g. a redirect) instead of `200 OK`.
    pub fn answering(response: Vec<u8>) -> TlsSite {
        TlsSite::serving(server_config(None), response)
    }

    /// Like [`TlsSite::start`], with a certificate valid for the 30 days up to `not_after`
    /// (in the past for an expired one).
    pub fn expiring(not_after: std::time::SystemTime) -> TlsSite {
        TlsSite::serving(server_config(Some(not_after)), RESPONSE.to_vec())
    }

    fn serving((config, cert_pem): (ServerConfig, String), response: Vec<u8>) -> TlsSite {
        let config = Arc::new(config);
        let response = Arc::new(response);
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let listener = Listener::start("tls-site", move |stream| {
            let _ = serve_tls(stream, Arc::clone(&config), &counter, &response);
        });
        TlsSite {
            listener,
            hits,
            cert_pem,
        }
    }

    /// The site's self-signed certificate, PEM-encoded, to trust it as a private CA.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The bound address (`127.0.0.1` and the OS-chosen port).
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr
    }

    /// `https://127.0.0.1:PORT{path}`; `path` starts with '/'.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr(), path)
    }

    /// Requests that arrived over a completed TLS handshake (each was answered `200 OK`).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A plain-HTTP port that answers every connection at once with `HTTP/1.1 400 Bad Request`
/// and closes it, without waiting for a request head: what nginx, Apache and most servers do
/// when a TLS ClientHello arrives on a plain-HTTP port. ([`sitewatch::localsite::LocalSite`]
/// instead waits up to 5 s for a complete request head, which a ClientHello never is.)
pub struct PlainHttpPort {
    listener: Listener,
}

impl PlainHttpPort {
    /// Binds 127.0.0.1:0 and answers in background threads until dropped.
    pub fn start() -> PlainHttpPort {
        let listener = Listener::start("plain-port", |stream| {
            let _ = answer_400(stream);
        });
        PlainHttpPort { listener }
    }

    /// `https://127.0.0.1:PORT{path}`: the wrong scheme for this port, on purpose.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{}", self.listener.addr, path)
    }
}

/// A rustls server configuration (ring provider) with a fresh self-signed certificate for
/// `localhost` and `127.0.0.1` (rcgen's default validity, or the 30 days up to `not_after`),
/// and that certificate in PEM.
fn server_config(not_after: Option<std::time::SystemTime>) -> (ServerConfig, String) {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let mut params = rcgen::CertificateParams::new(names).expect("certificate names");
    if let Some(not_after) = not_after {
        params.not_before = (not_after - Duration::from_secs(30 * 86_400)).into();
        params.not_after = not_after.into();
    }
    let signing_key = rcgen::KeyPair::generate().expect("key pair");
    let cert = params
        .self_signed(&signing_key)
        .expect("self-signed certificate");
    let pem = cert.pem();
    let cert: CertificateDer<'static> = cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("certificate and key match");
    (config, pem)
}

/// Handshake, read one request head, answer it, close. Any failure (a client rejecting the
/// certificate, a client that is not TLS) just ends the connection.
fn serve_tls(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    hits: &AtomicUsize,
    response: &[u8],
) -> io::Result<()> {
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, tcp);
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Ok(());
        }
        // The first read drives the handshake; a rejected certificate fails it here.
        let n = tls.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    hits.fetch_add(1, Ordering::SeqCst);
    tls.write_all(response)?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// Reads whatever arrives first (a ClientHello, say; bounded by the timeout), answers `400`
/// in plain HTTP, closes.
fn answer_400(mut tcp: TcpStream) -> io::Result<()> {
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut buf = [0u8; 4096];
    let _ = tcp.read(&mut buf)?;
    tcp.write_all(BAD_REQUEST)?;
    tcp.flush()?;
    // Closing with unread bytes would send a reset that can overtake the answer: say we are
    // done writing, then read until the client hangs up (bounded by the timeout and a count).
    tcp.shutdown(Shutdown::Write)?;
    for _ in 0..64 {
        if tcp.read(&mut buf)? == 0 {
            break;
        }
    }
    Ok(())
}
