//! Which step of a request a worker is in, so that a timeout names it truthfully.
//!
//! Every check has one deadline (ureq's global timeout), and when it passes ureq says only
//! `Timeout::Global`, whatever was going on: a stalled TLS handshake would read "waiting for
//! the response headers". The agent's resolver and connector chain therefore mark each step
//! as it starts, in a thread-local: a check runs on one worker thread from its first lookup to
//! its last byte (ureq is blocking), so the mark a thread holds after a failed request is the
//! step that request failed in. [`start`] resets it before every request.
//!
//! The marks are set by [`Marked`] (around the resolver) and [`Mark`] (links of the connector
//! chain, after TCP and after TLS); nothing else writes them.

use std::cell::Cell;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{ConnectionDetails, Connector, NextTimeout, Transport};

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

thread_local! {
    static STEP: Cell<Step> = const { Cell::new(Step::Response) };
}

/// Marks the start of a request on this thread.
pub(super) fn start() {
    set(Step::Resolve);
}

/// The step the last request on this thread reached.
pub(super) fn current() -> Step {
    STEP.with(Cell::get)
}

fn set(step: Step) {
    STEP.with(|s| s.set(step));
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
        let addrs = self.0.resolve(uri, config, timeout)?;
        set(Step::Connect);
        Ok(addrs)
    }
}

/// A link of the connector chain that marks what comes after the link before it.
#[derive(Debug)]
pub(super) enum Mark {
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
        if chained.is_some() {
            let https = details.uri.scheme_str() == Some("https");
            set(match self {
                Mark::AfterTcp if https => Step::Handshake,
                _ => Step::Response,
            });
        }
        Ok(chained)
    }
}
