//! Which step of a request a worker is in, so that a timeout names it truthfully, and when each
//! step started and ended, so that a check says where its time went ([`Phases`]).
//!
//! Every check has one deadline (ureq's global timeout), and when it passes ureq says only
//! `Timeout::Global`, whatever was going on: a stalled TLS handshake would read "waiting for
//! the response headers". The agent's resolver and connector chain therefore mark each step
//! as it starts, in a thread-local: a check runs on one worker thread from its first lookup to
//! its last byte (ureq is blocking), so the mark a thread holds after a failed request is the
//! step that request failed in. [`start`] resets it before every request.
//!
//! The same links note the time ([`Instant`]) at each mark, and the last link wraps the
//! connection in a [`Timed`] transport that notes when the request was sent and when the first
//! byte of the response arrived. [`finish`] turns one request's times into its [`Phases`].
//! ureq has no timing of its own that a caller can read, so this is the only source.
//!
//! What cannot be told apart is left out (`None`), never guessed: no `dns` for a URL whose host
//! is an IP address (there is no lookup), no `connect`/`tls` for a connection that was not
//! opened by this request (sitewatch never reuses one, but ureq could), no `tls` for `http`,
//! nothing from the step a request failed in on (an unfinished step has no length).
//!
//! The marks are set by [`Marked`] (around the resolver), [`Mark`] (links of the connector
//! chain: before TCP, after TCP and after TLS) and [`Timed`] (the connection's reads and
//! writes); nothing else writes them.

use std::cell::Cell;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// A step of one request, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Looking up the host name.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake (certificate check included).
    Handshake,
    /// Connected: sending the request and waiting for the response headers.
    Response,
}

/// Where one check's time went, summed over the requests of its redirect chain. `None`: the
/// phase did not happen or could not be told apart (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    /// Looking up the host name.
    pub dns: Option<Duration>,
    /// Opening the TCP connection.
    pub connect: Option<Duration>,
    /// The TLS handshake, certificate check included (`https` only).
    pub tls: Option<Duration>,
    /// From the request sent (the start of its last write) to the first byte of the response.
    pub ttfb: Option<Duration>,
    /// From the first byte of the response to its last: headers, then the body (of the final
    /// response; a redirect's body is not read).
    pub transfer: Option<Duration>,
}

impl Phases {
    /// The phase names, in order, as in JSON, the history and `/metrics`.
    pub const NAMES: [&'static str; 5] = ["dns", "connect", "tls", "ttfb", "transfer"];

    /// The phases with their names, in order.
    pub fn named(&self) -> [(&'static str, Option<Duration>); 5] {
        let [dns, connect, tls, ttfb, transfer] = Phases::NAMES;
        [
            (dns, self.dns),
            (connect, self.connect),
            (tls, self.tls),
            (ttfb, self.ttfb),
            (transfer, self.transfer),
        ]
    }

    /// True when no phase was measured (a check that never got as far as a lookup).
    pub fn is_empty(&self) -> bool {
        self.named().iter().all(|(_, d)| d.is_none())
    }

    /// Adds another request's phases: a phase is measured when either measured it.
    pub fn add(&mut self, other: Phases) {
        let sum = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        self.dns = sum(self.dns, other.dns);
        self.connect = sum(self.connect, other.connect);
        self.tls = sum(self.tls, other.tls);
        self.ttfb = sum(self.ttfb, other.ttfb);
        self.transfer = sum(self.transfer, other.transfer);
    }
}

/// The times noted during one request on this thread.
#[derive(Debug, Clone, Copy, Default)]
struct Times {
    resolve_start: Option<Instant>,
    /// The lookup's end, when there was a lookup (not for an IP address).
    resolved: Option<Instant>,
    tcp_start: Option<Instant>,
    tcp_done: Option<Instant>,
    /// Only when this request's chain did the handshake.
    tls_done: Option<Instant>,
    /// The start of the request's last write before the first byte of the response.
    sent: Option<Instant>,
    first_byte: Option<Instant>,
}

thread_local! {
    static STEP: Cell<Step> = const { Cell::new(Step::Response) };
    static TIMES: Cell<Times> = const {
        Cell::new(Times {
            resolve_start: None,
            resolved: None,
            tcp_start: None,
            tcp_done: None,
            tls_done: None,
            sent: None,
            first_byte: None,
        })
    };
}

/// Marks the start of a request on this thread.
pub(super) fn start() {
    set(Step::Resolve);
    TIMES.with(|t| t.set(Times::default()));
}

/// The step the last request on this thread reached.
pub(super) fn current() -> Step {
    STEP.with(Cell::get)
}

/// The phases of the request started last on this thread. `end`: when its response was read
/// to the end (the last body byte, or the head of a response whose body is not read); `None`
/// when it failed, which leaves `transfer` out.
pub(super) fn finish(end: Option<Instant>) -> Phases {
    let t = TIMES.with(Cell::get);
    let span = |from: Option<Instant>, to: Option<Instant>| match (from, to) {
        (Some(from), Some(to)) => Some(to.saturating_duration_since(from)),
        _ => None,
    };
    Phases {
        dns: span(t.resolve_start, t.resolved),
        connect: span(t.tcp_start, t.tcp_done),
        tls: span(t.tcp_done, t.tls_done),
        ttfb: span(t.sent, t.first_byte),
        transfer: span(t.first_byte, end),
    }
}

fn set(step: Step) {
    STEP.with(|s| s.set(step));
}

fn note(f: impl FnOnce(&mut Times)) {
    TIMES.with(|cell| {
        let mut t = cell.get();
        f(&mut t);
        cell.set(t);
    });
}

/// Whether the URL's host is an IP address, which needs no lookup.
fn is_address(uri: &Uri) -> bool {
    uri.host().is_some_and(|h| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok()
    })
}

/// A resolver that marks the lookup, then the connect that follows it.
#[derive(Debug)]
pub(super) struct Marked<R>(pub R);

impl<R: Resolver> Resolver for Marked<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        set(Step::Resolve);
        let begun = Instant::now();
        let addrs = self.0.resolve(uri, config, timeout)?;
        let lookup = !is_address(uri);
        note(|t| {
            t.resolve_start = Some(begun);
            t.resolved = lookup.then(Instant::now);
        });
        set(Step::Connect);
        Ok(addrs)
    }
}

/// A link of the connector chain that marks what comes after the link before it.
#[derive(Debug)]
pub(super) enum Mark {
    /// First link: the TCP connect starts.
    BeforeTcp,
    /// After TCP: the handshake for `https`, else the exchange.
    AfterTcp,
    /// After TLS: the exchange.
    AfterTls,
}

impl<In: Transport> Connector<In> for Mark {
    type Out = In;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<In>, ureq::Error> {
        let now = Instant::now();
        match (self, &chained) {
            (Mark::BeforeTcp, None) => note(|t| t.tcp_start = Some(now)),
            (Mark::BeforeTcp, Some(_)) => {}
            (_, None) => {}
            (Mark::AfterTcp, Some(_)) => {
                note(|t| t.tcp_done = Some(now));
                let https = details.uri.scheme_str() == Some("https");
                set(if https {
                    Step::Handshake
                } else {
                    Step::Response
                });
            }
            (Mark::AfterTls, Some(transport)) => {
                if transport.is_tls() {
                    note(|t| t.tls_done = Some(now));
                }
                set(Step::Response);
            }
        }
        Ok(chained)
    }
}

/// The last link of the connector chain: wraps the connection in a [`Timed`] transport.
#[derive(Debug)]
pub(super) struct Clock;

impl<In: Transport> Connector<In> for Clock {
    type Out = Timed<In>;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Timed<In>>, ureq::Error> {
        Ok(chained.map(|inner| Timed {
            inner,
            answered: false,
        }))
    }
}

/// A connection that notes, on the thread using it, when the request was sent (its last write
/// before any response byte) and when the first byte of the response arrived. Everything else
/// is the wrapped transport's.
#[derive(Debug)]
pub(super) struct Timed<T> {
    inner: T,
    /// The first byte of the response to the current request arrived: nothing more to note,
    /// so the body's reads cost no clock reading.
    answered: bool,
}

impl<T: Transport> Transport for Timed<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        // Still the request that was answered (a reused connection carries a new one, which
        // [`start`] announced by clearing the times).
        if self.answered && TIMES.with(|t| t.get().first_byte.is_some()) {
            return self.inner.transmit_output(amount, timeout);
        }
        self.answered = false;
        // Noted as the write starts: on loopback, a write can wake the server, which may run
        // (and answer) before this thread does again; the time noted after the write would
        // then lie after the first byte of the response.
        let now = Instant::now();
        self.inner.transmit_output(amount, timeout)?;
        note(|t| t.sent = Some(now));
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let progress = self.inner.await_input(timeout)?;
        if progress && !self.answered {
            self.answered = true;
            let now = Instant::now();
            note(|t| {
                if t.sent.is_some() {
                    t.first_byte = Some(now);
                }
            });
        }
        Ok(progress)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    #[test]
    fn adding_sums_what_either_measured() {
        let mut a = Phases {
            dns: ms(1),
            connect: ms(2),
            tls: None,
            ttfb: ms(3),
            transfer: ms(4),
        };
        a.add(Phases {
            dns: None,
            connect: ms(1),
            tls: ms(5),
            ttfb: ms(1),
            transfer: None,
        });
        assert_eq!(
            a,
            Phases {
                dns: ms(1),
                connect: ms(3),
                tls: ms(5),
                ttfb: ms(4),
                transfer: ms(4),
            }
        );
        assert!(Phases::default().is_empty() && !a.is_empty());
    }

    #[test]
    fn a_request_that_failed_early_has_only_what_it_finished() {
        start();
        let t0 = Instant::now();
        note(|t| {
            t.resolve_start = Some(t0);
            t.resolved = Some(t0 + Duration::from_millis(2));
            t.tcp_start = Some(t0 + Duration::from_millis(2));
        });
        let p = finish(None);
        assert_eq!(p.dns, ms(2));
        assert_eq!(
            (p.connect, p.tls, p.ttfb, p.transfer),
            (None, None, None, None)
        );
        // The next request starts clean.
        start();
        assert!(finish(Some(Instant::now())).is_empty());
    }

    #[test]
    fn ip_addresses_need_no_lookup() {
        let is = |u: &str| is_address(&u.parse().unwrap());
        assert!(is("http://127.0.0.1:8080/") && is("https://[::1]/"));
        assert!(!is("http://localhost/") && !is("https://example.com/"));
    }
}
