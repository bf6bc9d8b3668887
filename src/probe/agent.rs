//! The shared ureq [`Agent`]: one per run, cloned cheaply into every worker.
//!
//! Two ways to build it, with the same settings and the same connector chain (TCP, then TLS
//! through rustls for `https`):
//! - [`build`] resolves host names with the system resolver, as a monitor in production does;
//! - [`build_with_resolver`] takes the resolver as a part, so that tests (and later, features
//!   that pin a monitor to an address) never depend on a real DNS server: a test maps made-up
//!   names to `127.0.0.1`, or fails a lookup exactly the way the system resolver does.
//!
//! The resolver and connector traits are ureq's `unversioned` API, which ureq does not cover by
//! semver: a ureq upgrade may need this module changed, and nothing else.

use std::net::{IpAddr, SocketAddr};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Connector, NextTimeout, TcpConnector};
use ureq::Agent;

use super::lean::Lean;
use super::phase::{Clock, Mark, Marked};
use super::tls::TlsConnector;
use super::ProbeSettings;

/// Builds the agent every check goes through, resolving names with the system resolver.
/// `settings` is not read yet beyond the `User-Agent`; redirects are the probe's own.
///
/// Choices, deliberately: status codes are data (`http_status_as_error(false)`); no connection
/// reuse, so every check measures a real connect like a first-time visitor; proxy variables in
/// the environment are ignored, so a monitor measures the site and not a proxy that happens to
/// be configured for other tools.
///
/// Names are resolved by ureq's default resolver, except IP literals, which [`LiteralFirst`]
/// turns into an address at once.
pub(super) fn build(settings: &ProbeSettings) -> Agent {
    build_with_resolver(settings, LiteralFirst::default())
}

/// ureq's [`DefaultResolver`], except that a URL whose host is an IP literal (`127.0.0.1`,
/// `[::1]`) is answered at once.
///
/// With a timeout set (every check has one), the default resolver runs each lookup on a
/// newly spawned thread so that it can give up on time, even when the host is already an
/// address: a thread spawned and joined per check, which was most of sitewatch's CPU per check
/// against local or address-only URLs (see BENCHMARKS.md). An address needs no lookup and
/// cannot time out, so it skips that; host names still go through the default resolver,
/// timeout included.
#[derive(Debug, Default)]
pub(super) struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match literal_addr(uri) {
            Some(addr) => {
                let mut addrs = self.empty();
                addrs.push(addr);
                Ok(addrs)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}

/// The socket address of a URL whose host is an IP literal, with the scheme's default port
/// when none is given; `None` for host names (and for anything the default resolver should
/// judge, such as an unknown scheme without a port).
fn literal_addr(uri: &Uri) -> Option<SocketAddr> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = host.parse().ok()?;
    let port = uri.port_u16().or(match uri.scheme_str()? {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some(SocketAddr::new(ip, port))
}

/// Like [`build`], but host names are resolved by `resolver` instead of the system resolver.
///
/// Everything else is what [`build`] gives: the same configuration, and the connector chain of
/// ureq's default connector without its proxy links (TCP, then rustls for `https`, with the
/// webpki roots; our own TLS link, [`super::tls`], which also keeps the certificates' expiry),
/// so TLS behaves exactly as in production. The resolver and the chain mark
/// each step of a request, and time it, for timeout details and phase timings
/// ([`super::phase`]); the last link puts buffers that grow with the response head over the
/// connection ([`super::lean`]). The resolver must return at least one address or
/// an error (`ureq::Error::HostNotFound` when no address is usable; the system resolver's own
/// failures arrive as `ureq::Error::Io`).
///
/// This exists so that tests never depend on a real DNS server, and as the hook for pinning a
/// monitor to an address later.
pub(super) fn build_with_resolver(settings: &ProbeSettings, resolver: impl Resolver) -> Agent {
    let connector =
        ().chain(Mark::BeforeTcp)
            .chain(TcpConnector::default())
            .chain(Mark::AfterTcp)
            .chain(TlsConnector::default())
            .chain(Mark::AfterTls)
            .chain(Clock)
            .chain(Lean);
    Agent::with_parts(config(settings), connector, Marked(resolver))
}

/// Bytes of buffer each layer of a connection (TCP, and TLS over it) gets from ureq, each way.
/// ureq reads and writes through the buffers of the [`Lean`] link on top, which start small
/// and grow with the response head; the layers below only pass bytes through in pieces of
/// this size. ureq's default (128 KiB each way, allocated and zeroed for every connection, and
/// once more for TLS) was a tenth of sitewatch's CPU per check and most of the memory of a
/// large pool.
const LAYER_BUFFER: usize = 4 * 1024;

/// Largest response head (status line and headers) accepted; a larger one fails the check with
/// "response headers larger than N bytes". The [`Lean`] link's input grows to a little more
/// than this (so that a head too large is reported as such), and only for such a head.
pub(super) const MAX_RESPONSE_HEAD: usize = 63 * 1024;

/// Bytes of request a connection buffers when a line of the request head may be long. Only
/// the longest single line of the head has to fit (ureq writes the head line by line, and
/// fails a line longer than the buffer): the config and redirect checks keep every line within
/// it (URLs of at most 8 KiB, headers of at most 8 KiB, Basic credentials from an 8 KiB URL).
/// Request bodies stream through it in pieces.
pub(super) const OUTPUT_BUFFER: usize = 16 * 1024;

/// Bytes of request a connection buffers when every line of the request head is short (see
/// [`output_buffer`]).
const SHORT_OUTPUT: usize = 4 * 1024;

/// Bytes of request a connection buffers when every line of the request head is shorter still
/// and there is no body: most checks. A typical head (a few hundred bytes) still goes out in one
/// write.
const TINY_OUTPUT: usize = 1024;

/// The request buffer `request` needs: the smallest of [`TINY_OUTPUT`] (only without a body,
/// which would otherwise go out in more, smaller writes), [`SHORT_OUTPUT`] and
/// [`OUTPUT_BUFFER`] that every line ureq will write for it certainly fits. The lines are the request line (the URL),
/// `Host`, `Authorization` for credentials in the URL (base64: 4/3 of them), the `User-Agent`
/// (`user_agent` when the monitor sets one, else the agent's short default) and the request's
/// own headers; ureq adds only short ones besides (`Accept`, `Accept-Encoding`, the body's
/// length).
pub(super) fn output_buffer<B>(
    request: &ureq::http::Request<B>,
    user_agent: Option<&str>,
    with_body: bool,
) -> usize {
    // Room for a line's name, separators and method around its variable part.
    const MARGIN: usize = 256;
    let url = request.uri().to_string().len();
    let longest = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .chain([2 * url, user_agent.map_or(0, str::len)])
        .max()
        .unwrap_or(0);
    if !with_body && longest + MARGIN <= TINY_OUTPUT {
        TINY_OUTPUT
    } else if longest + MARGIN <= SHORT_OUTPUT {
        SHORT_OUTPUT
    } else {
        OUTPUT_BUFFER
    }
}

/// The configuration shared by [`build`] and [`build_with_resolver`] (see [`build`]).
fn config(settings: &ProbeSettings) -> Config {
    Agent::config_builder()
        .http_status_as_error(false)
        // The probe follows redirects itself, hop by hop (see `super::redirect`).
        .max_redirects(0)
        .max_redirects_will_error(false)
        .proxy(None)
        .user_agent(settings.user_agent.as_str())
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .input_buffer_size(LAYER_BUFFER)
        .max_response_header_size(MAX_RESPONSE_HEAD)
        .output_buffer_size(OUTPUT_BUFFER)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(url: &str) -> Option<SocketAddr> {
        literal_addr(&url.parse().unwrap())
    }

    #[test]
    fn ip_literals_resolve_without_a_lookup() {
        assert_eq!(
            addr("http://127.0.0.1:8080/x"),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            addr("http://127.0.0.2/"),
            Some("127.0.0.2:80".parse().unwrap())
        );
        assert_eq!(
            addr("https://127.0.0.1/"),
            Some("127.0.0.1:443".parse().unwrap())
        );
        assert_eq!(
            addr("http://[::1]:9000/"),
            Some("[::1]:9000".parse().unwrap())
        );
        assert_eq!(addr("https://[::1]/"), Some("[::1]:443".parse().unwrap()));
    }

    #[test]
    fn request_buffer_is_small_unless_a_line_may_be_long() {
        let request = |uri: &str, header: &str| {
            ureq::http::Request::get(uri)
                .header("x-long", header)
                .body(())
                .unwrap()
        };
        let short = request("http://127.0.0.1/ok", "v");
        assert_eq!(output_buffer(&short, None, false), TINY_OUTPUT);
        assert_eq!(output_buffer(&short, None, true), SHORT_OUTPUT, "a body");
        let header = |n| request("http://127.0.0.1/ok", &"h".repeat(n));
        assert_eq!(output_buffer(&header(700), None, false), TINY_OUTPUT);
        assert_eq!(output_buffer(&header(800), None, false), SHORT_OUTPUT);
        assert_eq!(
            output_buffer(&short, Some(&"u".repeat(3900)), false),
            OUTPUT_BUFFER
        );
        let long_url = format!("http://127.0.0.1/{}", "p".repeat(2000));
        assert_eq!(
            output_buffer(&request(&long_url, "v"), None, false),
            OUTPUT_BUFFER
        );
        assert_eq!(output_buffer(&header(3900), None, false), OUTPUT_BUFFER);
        // The largest lines the config accepts fit the large buffer with room to spare.
        let largest = request(
            &format!(
                "http://127.0.0.1/{}",
                "p".repeat(super::super::MAX_URL_BYTES - 20)
            ),
            &"h".repeat(super::super::MAX_HEADER_BYTES - 6),
        );
        assert_eq!(output_buffer(&largest, None, true), OUTPUT_BUFFER);
        const { assert!(super::super::MAX_URL_BYTES + 64 < OUTPUT_BUFFER) };
    }

    #[test]
    fn host_names_go_to_the_default_resolver() {
        assert_eq!(addr("http://localhost:8080/"), None);
        assert_eq!(addr("https://example.invalid/"), None);
        // Not an address, however it looks.
        assert_eq!(addr("http://127.0.0.1.example.invalid/"), None);
        assert_eq!(addr("ftp://127.0.0.1/"), None);
    }
}
