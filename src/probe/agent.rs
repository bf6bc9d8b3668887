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

use ureq::config::Config;
use ureq::unversioned::resolver::Resolver;
use ureq::unversioned::transport::DefaultConnector;
use ureq::Agent;

use super::ProbeSettings;

/// Builds the agent every check goes through, resolving names with the system resolver.
///
/// Choices, deliberately: status codes are data (`http_status_as_error(false)`); no connection
/// reuse, so every check measures a real connect like a first-time visitor; proxy variables in
/// the environment are ignored, so a monitor measures the site and not a proxy that happens to
/// be configured for other tools.
pub(super) fn build(settings: &ProbeSettings) -> Agent {
    Agent::new_with_config(config(settings))
}

/// Like [`build`], but host names are resolved by `resolver` instead of the system resolver.
///
/// Everything else is what [`build`] gives: the same configuration, and ureq's default
/// connector chain ([`DefaultConnector`]: TCP, then rustls for `https`, with the webpki roots),
/// so TLS behaves exactly as in production. The resolver must return at least one address or
/// an error (`ureq::Error::HostNotFound` when no address is usable; the system resolver's own
/// failures arrive as `ureq::Error::Io`).
///
/// This exists so that tests never depend on a real DNS server, and as the hook for pinning a
/// monitor to an address later.
pub(super) fn build_with_resolver(settings: &ProbeSettings, resolver: impl Resolver) -> Agent {
    Agent::with_parts(config(settings), DefaultConnector::new(), resolver)
}

/// The configuration shared by [`build`] and [`build_with_resolver`] (see [`build`]).
fn config(settings: &ProbeSettings) -> Config {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(settings.max_redirects)
        .max_redirects_will_error(true)
        .proxy(None)
        .user_agent(settings.user_agent.as_str())
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
}
