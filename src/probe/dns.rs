//! `dns://name` checks: the name resolves, through the same resolver HTTP checks use, and
//! (with `expect_address`) to one of the expected addresses.
//!
//! Guarantees:
//! - the lookup is bounded by the check's deadline (ureq's default resolver gives up on time);
//! - a name that does not resolve is down with reason `dns`, a lookup that ran out of time
//!   `timeout`, and answers without any expected address `assertion` (naming what was found);
//!   a lookup that failed for want of a local resource (no file descriptors, …) is sitewatch's
//!   own failure, not a verdict;
//! - the resolver is a part ([`DnsProbe::with_resolver`]), so tests never ask a real server.
//!
//! [`resolve`] is also how `tcp://` checks find their host.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::Resolver;
use ureq::unversioned::transport::{time, NextTimeout};
use ureq::Agent;

use super::classify::{local_kind, Phase};
use super::{Observation, Outcome, Reason};
use crate::model::target::DnsTarget;

/// A resolver shared by the checks of every kind that looks up names.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    resolver: Arc<dyn Resolver>,
    config: Arc<Config>,
}

impl Lookup {
    /// Looks names up with `resolver`.
    pub(crate) fn new(resolver: impl Resolver) -> Lookup {
        Lookup {
            resolver: Arc::new(resolver),
            config: Arc::new(Agent::config_builder().build()),
        }
    }
}

/// The addresses of `host` (a name or an IP literal, without brackets) with `port`, looked up
/// before `deadline` (`timeout` is the check's, for the message); a failure is the outcome it
/// means for the check.
pub(crate) fn resolve(
    lookup: &Lookup,
    host: &str,
    port: u16,
    deadline: Instant,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, Outcome> {
    let limit = humantime::format_duration(timeout);
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(Outcome::down(
            Reason::Timeout,
            format!("timed out after {limit} while resolving the host name"),
        ));
    }
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let uri: Uri = format!("http://{authority}/").parse().map_err(|e| {
        Outcome::down(
            Reason::Dns,
            format!("{host:?} is not a host name sitewatch can look up ({e})"),
        )
    })?;
    let timeout = NextTimeout {
        after: time::Duration::Exact(remaining),
        reason: ureq::Timeout::Resolve,
        per_read: None,
        per_write: None,
    };
    match lookup.resolver.resolve(&uri, &lookup.config, timeout) {
        Ok(addrs) if !addrs.is_empty() => Ok(addrs.iter().copied().collect()),
        Ok(_) => Err(Outcome::down(Reason::Dns, "host name not found")),
        Err(e) => Err(failure(&e, &limit.to_string())),
    }
}

/// What a failed lookup means: a timeout, sitewatch's own failure, or else a `dns` failure,
/// whatever words the resolver chose.
fn failure(error: &ureq::Error, limit: &str) -> Outcome {
    match error {
        ureq::Error::Timeout(_) => Outcome::down(
            Reason::Timeout,
            format!("timed out after {limit} while resolving the host name"),
        ),
        ureq::Error::Io(io) => match local_kind(io) {
            Some(kind) => Outcome::Local {
                kind,
                detail: io.to_string(),
            },
            None => match super::classify::classify(error, Phase::Resolve, Duration::ZERO, false) {
                dns @ Outcome::Down {
                    reason: Reason::Dns,
                    ..
                } => dns,
                _ => Outcome::down(Reason::Dns, format!("host name not resolved: {io}")),
            },
        },
        ureq::Error::HostNotFound => Outcome::down(Reason::Dns, "host name not found"),
        other => Outcome::down(Reason::Dns, format!("host name not resolved: {other}")),
    }
}

/// Checks `dns://` targets.
#[derive(Debug, Clone)]
pub struct DnsProbe {
    lookup: Lookup,
}

impl DnsProbe {
    /// Resolves with `resolver` (the system resolver in production, see [`super::Probes`]).
    pub fn with_resolver(resolver: impl Resolver) -> DnsProbe {
        DnsProbe {
            lookup: Lookup::new(resolver),
        }
    }

    pub(crate) fn from_lookup(lookup: Lookup) -> DnsProbe {
        DnsProbe { lookup }
    }

    /// Checks `target` once, before `deadline` (`timeout` is the check's, for messages).
    pub fn check(&self, target: &DnsTarget, deadline: Instant, timeout: Duration) -> Observation {
        let started = Instant::now();
        // The port is not asked for; any will do.
        let (outcome, looked_up) = match resolve(&self.lookup, &target.name, 80, deadline, timeout)
        {
            Err(outcome) => (outcome, None),
            Ok(addrs) => (judge(target, &addrs), Some(started.elapsed())),
        };
        // As for HTTP: an IP address needs no lookup, so it has no `dns` phase.
        let looked_up = match target.name.parse::<IpAddr>() {
            Ok(_) => None,
            Err(_) => looked_up,
        };
        let mut observation = Observation::without_response(started.elapsed(), outcome);
        observation.phases.dns = looked_up;
        observation
    }
}

/// Up when any answer is expected (or nothing particular is).
fn judge(target: &DnsTarget, addrs: &[SocketAddr]) -> Outcome {
    let found: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
    if target.expect_address.is_empty() || found.iter().any(|a| target.expect_address.contains(a)) {
        return Outcome::Up;
    }
    Outcome::down(
        Reason::Assertion,
        format!(
            "{} resolved to {}, none of the expected {}",
            target.name,
            list(&found),
            list(&target.expect_address)
        ),
    )
}

/// `a, b, c`, with at most 8 shown (a name may have many addresses).
fn list(addrs: &[IpAddr]) -> String {
    let mut out = String::new();
    for (i, a) in addrs.iter().take(8).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{a}");
    }
    if addrs.len() > 8 {
        let _ = write!(out, " and {} more", addrs.len() - 8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn target(expect: &[&str]) -> DnsTarget {
        DnsTarget {
            name: "db.test".into(),
            expect_address: expect.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|a| SocketAddr::new(a.parse().unwrap(), 80))
            .collect()
    }

    #[test]
    fn any_answer_is_up_without_expect_address() {
        assert!(judge(&target(&[]), &addrs(&["10.0.0.1"])).is_up());
    }

    #[test]
    fn one_expected_address_among_the_answers_is_enough() {
        let t = target(&["10.0.0.2", "::1"]);
        assert!(judge(&t, &addrs(&["10.0.0.1", "::1"])).is_up());
        let down = judge(&t, &addrs(&["10.0.0.1"]));
        assert_eq!(
            down,
            Outcome::down(
                Reason::Assertion,
                "db.test resolved to 10.0.0.1, none of the expected 10.0.0.2, ::1"
            )
        );
    }

    #[test]
    fn resolver_failures_are_dns_timeouts_or_local() {
        let nxdomain = ureq::Error::Io(io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        assert_eq!(failure(&nxdomain, "2s").reason(), Some(Reason::Dns));
        // Words the classifier does not know are still a failed lookup.
        let odd = ureq::Error::Io(io::Error::other("resolver exploded"));
        assert_eq!(failure(&odd, "2s").reason(), Some(Reason::Dns));
        assert_eq!(
            failure(&ureq::Error::HostNotFound, "2s").reason(),
            Some(Reason::Dns)
        );
        let late = ureq::Error::Timeout(ureq::Timeout::Resolve);
        assert_eq!(
            failure(&late, "2s"),
            Outcome::down(
                Reason::Timeout,
                "timed out after 2s while resolving the host name"
            )
        );
        let emfile = ureq::Error::Io(io::Error::from_raw_os_error(24));
        assert!(matches!(failure(&emfile, "2s"), Outcome::Local { .. }));
    }
}
