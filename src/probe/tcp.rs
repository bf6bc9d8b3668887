//! `tcp://host:port` checks: connect, optionally make a TLS handshake, optionally send a line
//! and look for an expected text in the first bytes that come back (banner protocols: SMTP's
//! `220`, Redis's `PING` → `+PONG`).
//!
//! Guarantees:
//! - one deadline (the monitor's timeout) covers the lookup, the connect, the handshake, the
//!   write and the read; every blocking call gets what is left of it;
//! - at most [`MAX_READ`] bytes are read, and only when `expect` is set;
//! - the TLS handshake verifies the certificate exactly as an HTTPS monitor does: the webpki
//!   roots, or only the monitor's `ca_file`, or nothing with `insecure: true`; the peer's
//!   certificates are kept in [`TcpReport::peer_certificates`] (for certificate expiry);
//! - every failure maps to one [`Reason`]: `dns` (lookup), `connect` (refused, unreachable,
//!   reset), `timeout` (naming the step), `tls` (handshake or certificate), `assertion`
//!   (`expect` not found in what the peer sent before closing, or in the first [`MAX_READ`]
//!   bytes); running out of local resources is sitewatch's own failure, not a verdict;
//! - text the peer sent is escaped and capped before it reaches a detail.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::ClientConnection;
use ureq::tls::TlsConfig;

use super::classify::local_kind;
use super::dns::{resolve, Lookup};
use super::tls::ClientConfigs;
use super::{Observation, Outcome, Phases, Reason};
use crate::model::target::TcpTarget;
use crate::text;

/// Most bytes read while looking for `expect`: a greeting banner is a line or two.
pub const MAX_READ: usize = 4096;

/// Which certificates a `tls: true` check trusts.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// The webpki roots, as HTTPS monitors.
    WebPki,
    /// Only the certificates of the monitor's `ca_file`.
    CaFile(&'a TlsConfig),
    /// Any certificate (`insecure: true`).
    Insecure,
}

impl Trust<'_> {
    /// The trust in ureq's form, the one HTTPS checks are configured with.
    fn tls_config(self) -> TlsConfig {
        match self {
            Trust::WebPki => TlsConfig::default(),
            Trust::CaFile(tls) => tls.clone(),
            Trust::Insecure => TlsConfig::builder().disable_verification(true).build(),
        }
    }
}

/// What one `tcp://` check saw.
#[derive(Debug, Clone)]
pub struct TcpReport {
    /// The check, as every kind reports it (`status` is always `None`; `bytes` the bytes read).
    pub observation: Observation,
    /// The certificate chain the server presented, leaf first, once the handshake accepted
    /// it (rustls keeps no chain it rejected); empty without TLS or after a failed handshake.
    pub peer_certificates: Vec<CertificateDer<'static>>,
}

/// Checks `tcp://` targets.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    lookup: Lookup,
    /// The same client configurations as HTTPS checks build.
    configs: Arc<ClientConfigs>,
}

impl TcpProbe {
    /// Resolves host names with `resolver` (the system resolver in production, see
    /// [`super::Probes`]).
    pub fn with_resolver(resolver: impl ureq::unversioned::resolver::Resolver) -> TcpProbe {
        TcpProbe::from_lookup(Lookup::new(resolver))
    }

    pub(crate) fn from_lookup(lookup: Lookup) -> TcpProbe {
        TcpProbe {
            lookup,
            configs: Arc::default(),
        }
    }

    /// Checks `target` once before `deadline` (`timeout` is the check's, for messages),
    /// trusting `trust` when `target.tls`.
    pub fn check(
        &self,
        target: &TcpTarget,
        trust: Trust<'_>,
        deadline: Instant,
        timeout: Duration,
    ) -> TcpReport {
        let started = Instant::now();
        let mut run = Run {
            started,
            deadline,
            limit: humantime::format_duration(timeout).to_string(),
            bytes: None,
            ttfb: None,
            phases: Phases::default(),
            asked: started,
            peer_certificates: Vec::new(),
        };
        let outcome = match run.go(&self.lookup, &self.configs, target, trust) {
            Ok(()) => Outcome::Up,
            Err(outcome) => outcome,
        };
        let mut observation = Observation::without_response(started.elapsed(), outcome);
        observation.bytes = run.bytes;
        observation.ttfb = run.ttfb;
        observation.phases = run.phases;
        TcpReport {
            observation,
            peer_certificates: run.peer_certificates,
        }
    }
}

/// The state of one check as it goes.
struct Run {
    started: Instant,
    deadline: Instant,
    limit: String,
    bytes: Option<u64>,
    ttfb: Option<Duration>,
    /// `dns`, `connect` and `tls` as they complete; `ttfb` from `asked` (connected, or `send`
    /// written) to the first byte read.
    phases: Phases,
    asked: Instant,
    peer_certificates: Vec<CertificateDer<'static>>,
}

/// A step of the check, for timeout messages.
#[derive(Clone, Copy)]
enum Step {
    Connect,
    Handshake,
    Send,
    Read,
}

impl Step {
    fn words(self) -> &'static str {
        match self {
            Step::Connect => "connecting",
            Step::Handshake => "in the TLS handshake",
            Step::Send => "sending",
            Step::Read => "waiting for the expected text",
        }
    }
}

impl Run {
    fn go(
        &mut self,
        lookup: &Lookup,
        configs: &ClientConfigs,
        target: &TcpTarget,
        trust: Trust<'_>,
    ) -> Result<(), Outcome> {
        let timeout = self.deadline.saturating_duration_since(self.started);
        let addrs = resolve(lookup, &target.host, target.port, self.deadline, timeout)?;
        let mut at = Instant::now();
        // As for HTTP: an IP address needs no lookup, so it has no `dns` phase.
        if target.host.parse::<std::net::IpAddr>().is_err() {
            self.phases.dns = Some(at - self.started);
        }
        let mut tcp = self.connect(&addrs)?;
        self.phases.connect = Some(at.elapsed());
        at = Instant::now();
        self.asked = at;
        if target.tls {
            let mut tls = self.handshake(tcp, &target.host, configs, trust)?;
            self.phases.tls = Some(at.elapsed());
            self.asked = Instant::now();
            self.converse(&mut tls, target)
        } else {
            self.converse(&mut tcp, target)
        }
    }

    /// What is left of the deadline, or the timeout outcome for `step`.
    fn remaining(&self, step: Step) -> Result<Duration, Outcome> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timed_out(step));
        }
        Ok(left)
    }

    fn timed_out(&self, step: Step) -> Outcome {
        Outcome::down(
            Reason::Timeout,
            format!("timed out after {} while {}", self.limit, step.words()),
        )
    }

    /// Connects to the first address that accepts, in the resolver's order.
    fn connect(&self, addrs: &[SocketAddr]) -> Result<TcpStream, Outcome> {
        let mut last = Outcome::down(Reason::Dns, "host name not found");
        for addr in addrs {
            let left = self.remaining(Step::Connect)?;
            match TcpStream::connect_timeout(addr, left) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => {
                    last = self.io_failure(&e, Step::Connect);
                    if !last.is_down() || last.reason() == Some(Reason::Timeout) {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }

    /// What an io error in `step` means.
    fn io_failure(&self, e: &io::Error, step: Step) -> Outcome {
        use io::ErrorKind as K;
        if let Some(kind) = local_kind(e) {
            return Outcome::Local {
                kind,
                detail: e.to_string(),
            };
        }
        match e.kind() {
            K::TimedOut | K::WouldBlock => self.timed_out(step),
            K::ConnectionRefused => Outcome::down(Reason::Connect, "connection refused"),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                Outcome::down(Reason::Connect, format!("connection reset by peer ({e})"))
            }
            K::UnexpectedEof if matches!(step, Step::Handshake) => Outcome::down(
                Reason::Tls,
                "TLS failed: connection closed in the handshake",
            ),
            // rustls reports handshake and certificate failures as InvalidData.
            K::InvalidData if matches!(step, Step::Handshake) => Outcome::down(
                Reason::Tls,
                format!("TLS failed: {}", text::server_text(&e.to_string())),
            ),
            K::HostUnreachable | K::NetworkUnreachable | K::NotConnected => {
                Outcome::down(Reason::Connect, format!("cannot reach host: {e}"))
            }
            _ => Outcome::down(Reason::Connect, e.to_string()),
        }
    }

    /// The TLS handshake over `tcp`, keeping the peer's certificates whatever its verdict.
    fn handshake(
        &mut self,
        mut tcp: TcpStream,
        host: &str,
        configs: &ClientConfigs,
        trust: Trust<'_>,
    ) -> Result<rustls::StreamOwned<ClientConnection, TcpStream>, Outcome> {
        let config = configs.get(&trust.tls_config());
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            Outcome::down(
                Reason::Tls,
                format!("TLS failed: {host:?} is not a server name ({e})"),
            )
        })?;
        let mut conn = ClientConnection::new(config, name)
            .map_err(|e| Outcome::down(Reason::Tls, format!("TLS failed: {e}")))?;
        // Bounded: each round either moves bytes or fails, and the deadline bounds each wait.
        while conn.is_handshaking() {
            let left = self.remaining(Step::Handshake)?;
            set_timeouts(&tcp, left).map_err(|e| self.io_failure(&e, Step::Handshake))?;
            let step = conn.complete_io(&mut tcp);
            if let Some(chain) = conn.peer_certificates() {
                if self.peer_certificates.is_empty() {
                    self.peer_certificates = chain.iter().map(|c| c.clone().into_owned()).collect();
                }
            }
            match step {
                Ok((0, 0)) if conn.is_handshaking() => {
                    return Err(self.io_failure(
                        &io::Error::from(io::ErrorKind::UnexpectedEof),
                        Step::Handshake,
                    ))
                }
                Ok(_) => {}
                Err(e) => return Err(self.io_failure(&e, Step::Handshake)),
            }
        }
        Ok(rustls::StreamOwned::new(conn, tcp))
    }

    /// Sends `target.send` and looks for `target.expect`, when set.
    fn converse<S: Read + Write + Timeouts>(
        &mut self,
        stream: &mut S,
        target: &TcpTarget,
    ) -> Result<(), Outcome> {
        if let Some(send) = &target.send {
            let left = self.remaining(Step::Send)?;
            stream
                .timeouts(left)
                .map_err(|e| self.io_failure(&e, Step::Send))?;
            stream
                .write_all(send.as_bytes())
                .and_then(|()| stream.flush())
                .map_err(|e| self.io_failure(&e, Step::Send))?;
            self.asked = Instant::now();
        }
        let Some(expect) = &target.expect else {
            return Ok(());
        };
        let mut buf = vec![0u8; MAX_READ];
        let mut got = 0usize;
        // Bounded: every round reads at least one byte or ends.
        loop {
            if contains(&buf[..got], expect.as_bytes()) {
                return Ok(());
            }
            if got == MAX_READ {
                return Err(self.mismatch(expect, &buf[..got], "in the first"));
            }
            let left = match self.remaining(Step::Read) {
                Ok(left) => left,
                Err(timeout) if got == 0 => return Err(timeout),
                Err(_) => return Err(self.mismatch(expect, &buf[..got], "before the timeout in")),
            };
            stream
                .timeouts(left)
                .map_err(|e| self.io_failure(&e, Step::Read))?;
            match stream.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(self.mismatch(expect, &buf[..got], "before the peer closed, in"))
                }
                Ok(n) => {
                    if got == 0 {
                        self.ttfb = Some(self.started.elapsed());
                        self.phases.ttfb = Some(self.asked.elapsed());
                    }
                    got += n;
                    self.bytes = Some(got as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) && got > 0 =>
                {
                    return Err(self.mismatch(expect, &buf[..got], "before the timeout in"))
                }
                // A TLS peer that closes without close_notify: what it sent is all there is.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(self.mismatch(expect, &buf[..got], "before the peer closed, in"))
                }
                Err(e) => return Err(self.io_failure(&e, Step::Read)),
            }
            self.bytes = Some(got as u64);
        }
    }

    fn mismatch(&self, expect: &str, got: &[u8], when: &str) -> Outcome {
        let seen = if got.is_empty() {
            "nothing".to_owned()
        } else {
            format!("\"{}\"", text::server_bytes(got))
        };
        Outcome::down(
            Reason::Assertion,
            format!(
                "expected \"{}\" {when} {} bytes read; got {seen}",
                text::server_text(expect),
                got.len()
            ),
        )
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Read and write timeouts of a stream, plain or TLS.
trait Timeouts {
    fn timeouts(&self, left: Duration) -> io::Result<()>;
}

impl Timeouts for TcpStream {
    fn timeouts(&self, left: Duration) -> io::Result<()> {
        set_timeouts(self, left)
    }
}

impl Timeouts for rustls::StreamOwned<ClientConnection, TcpStream> {
    fn timeouts(&self, left: Duration) -> io::Result<()> {
        set_timeouts(&self.sock, left)
    }
}

fn set_timeouts(tcp: &TcpStream, left: Duration) -> io::Result<()> {
    tcp.set_read_timeout(Some(left))?;
    tcp.set_write_timeout(Some(left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    fn probe() -> TcpProbe {
        TcpProbe::from_lookup(Lookup::new(super::super::agent::LiteralFirst::default()))
    }

    fn target(port: u16, send: Option<&str>, expect: Option<&str>) -> TcpTarget {
        TcpTarget {
            host: "127.0.0.1".into(),
            port,
            tls: false,
            send: send.map(Into::into),
            expect: expect.map(Into::into),
        }
    }

    fn check(t: &TcpTarget) -> Observation {
        let timeout = Duration::from_secs(2);
        probe()
            .check(t, Trust::WebPki, Instant::now() + timeout, timeout)
            .observation
    }

    /// A server that answers one connection with `reply` to whatever it reads first (or at
    /// once when `greet`), then closes.
    fn banner(reply: &'static [u8], greet: bool) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                if !greet {
                    let mut buf = [0u8; 64];
                    let _ = s.read(&mut buf);
                }
                let _ = s.write_all(reply);
            }
        });
        port
    }

    #[test]
    fn an_open_port_is_up_and_reads_nothing() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let seen = check(&target(listener.local_addr().unwrap().port(), None, None));
        assert!(seen.outcome.is_up(), "{seen:?}");
        assert_eq!((seen.status, seen.bytes), (None, None));
    }

    #[test]
    fn a_closed_port_is_refused() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let seen = check(&target(port, None, None));
        assert_eq!(
            seen.outcome,
            Outcome::down(Reason::Connect, "connection refused")
        );
    }

    #[test]
    fn send_and_expect_match_a_reply() {
        let port = banner(b"+PONG\r\n", false);
        let seen = check(&target(port, Some("PING\r\n"), Some("+PONG")));
        assert!(seen.outcome.is_up(), "{seen:?}");
        assert_eq!(seen.bytes, Some(7));
        assert!(seen.ttfb.is_some());
        let p = seen.phases;
        assert!(p.connect.is_some() && p.ttfb.is_some(), "{p:?}");
        assert_eq!(
            (p.dns, p.tls, p.transfer),
            (None, None, None),
            "no lookup of an address"
        );
    }

    #[test]
    fn a_banner_without_the_expected_text_is_an_assertion() {
        let port = banner(b"554 go away\r\n", true);
        let seen = check(&target(port, None, Some("220")));
        assert_eq!(
            seen.outcome,
            Outcome::down(
                Reason::Assertion,
                r#"expected "220" before the peer closed, in 13 bytes read; got "554 go away\r\n""#
            )
        );
    }

    #[test]
    fn a_handshake_nobody_answers_times_out_naming_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut t = target(listener.local_addr().unwrap().port(), None, None);
        t.tls = true;
        let timeout = Duration::from_millis(300);
        let seen = probe()
            .check(&t, Trust::WebPki, Instant::now() + timeout, timeout)
            .observation;
        assert_eq!(
            seen.outcome,
            Outcome::down(
                Reason::Timeout,
                "timed out after 300ms while in the TLS handshake"
            )
        );
    }

    #[test]
    fn a_plain_text_answer_to_a_handshake_is_tls() {
        let port = banner(b"220 plain smtp\r\n", true);
        let mut t = target(port, None, None);
        t.tls = true;
        let seen = check(&t);
        assert_eq!(seen.outcome.reason(), Some(Reason::Tls), "{seen:?}");
    }

    #[test]
    fn silence_until_the_deadline_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let t = target(listener.local_addr().unwrap().port(), None, Some("220"));
        let timeout = Duration::from_millis(300);
        let seen = probe()
            .check(&t, Trust::WebPki, Instant::now() + timeout, timeout)
            .observation;
        assert_eq!(
            seen.outcome,
            Outcome::down(
                Reason::Timeout,
                "timed out after 300ms while waiting for the expected text"
            )
        );
        drop(listener);
    }
}
