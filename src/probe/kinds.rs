//! One probe for every kind of target: the monitor's [`Target`] picks the [`Checker`] that
//! checks it.
//!
//! Each kind is one file of this module (`tcp`, `icmp`, `dns`; HTTP is [`HttpProbe`], adapted
//! here) behind the same small trait, so the worker pool, `sitewatch check` and `/probe` hold one
//! [`Probes`] and never ask what they are checking. All kinds share one resolver, so a test that
//! injects one ([`Probes::with_resolver`]) never reaches a real DNS server, whatever it checks.

use std::time::{Duration, Instant, SystemTime};

use ureq::unversioned::resolver::Resolver;

use super::agent::LiteralFirst;
use super::dns::{DnsProbe, Lookup};
use super::icmp::IcmpProbe;
use super::tcp::{TcpProbe, Trust};
use super::{cert, degraded, HttpProbe, Observation, Outcome, Probe, ProbeSettings, MAX_DETAIL};
use crate::model::target::Target;
use crate::model::Monitor;
use crate::text;

/// Checks one kind of target.
pub trait Checker: Send + Sync {
    /// Checks `monitor` once; the check ends by `deadline` (its start plus the monitor's
    /// timeout), give or take scheduling noise.
    fn check(&self, monitor: &Monitor, deadline: Instant) -> Observation;
}

/// HTTP: the probe keeps its own deadline, from the same timeout.
impl Checker for HttpProbe {
    fn check(&self, monitor: &Monitor, _deadline: Instant) -> Observation {
        Probe::check(self, monitor)
    }
}

impl Checker for TcpProbe {
    fn check(&self, monitor: &Monitor, deadline: Instant) -> Observation {
        let Target::Tcp(target) = monitor.target() else {
            return wrong_kind(monitor);
        };
        let trust = if monitor.insecure {
            Trust::Insecure
        } else if let Some(tls) = monitor.ca_file() {
            Trust::CaFile(tls)
        } else {
            Trust::WebPki
        };
        let report = TcpProbe::check(self, target, trust, deadline, monitor.timeout);
        let mut observation = report.observation;
        // As for HTTPS: the earliest expiry of the chain the handshake accepted.
        observation.cert_expiry = cert::earliest_expiry(&report.peer_certificates);
        observation
    }
}

impl Checker for IcmpProbe {
    fn check(&self, monitor: &Monitor, deadline: Instant) -> Observation {
        match monitor.target() {
            Target::Icmp(target) => IcmpProbe::check(self, target, deadline, monitor.timeout),
            _ => wrong_kind(monitor),
        }
    }
}

impl Checker for DnsProbe {
    fn check(&self, monitor: &Monitor, deadline: Instant) -> Observation {
        match monitor.target() {
            Target::Dns(target) => DnsProbe::check(self, target, deadline, monitor.timeout),
            _ => wrong_kind(monitor),
        }
    }
}

/// A checker handed a monitor of another kind: a bug, said as a protocol failure rather than
/// a panic on a worker.
fn wrong_kind(monitor: &Monitor) -> Observation {
    Observation::without_response(
        Duration::ZERO,
        Outcome::down(
            super::Reason::Protocol,
            format!(
                "internal error: a {} target reached the wrong checker",
                monitor.target().kind().as_str()
            ),
        ),
    )
}

/// The probe of every kind: HTTP, TCP, ICMP and DNS, sharing one resolver.
pub struct Probes {
    http: HttpProbe,
    tcp: TcpProbe,
    icmp: IcmpProbe,
    dns: DnsProbe,
}

impl Probes {
    /// Every kind, resolving names with the system resolver.
    pub fn new(settings: &ProbeSettings) -> Probes {
        let lookup = Lookup::new(LiteralFirst::default());
        Probes {
            http: HttpProbe::new(settings),
            tcp: TcpProbe::from_lookup(lookup.clone()),
            icmp: IcmpProbe::from_lookup(lookup.clone()),
            dns: DnsProbe::from_lookup(lookup),
        }
    }

    /// Like [`Probes::new`], but every kind resolves names with `resolver` (see
    /// [`HttpProbe::with_resolver`]).
    pub fn with_resolver(settings: &ProbeSettings, resolver: impl Resolver + Clone) -> Probes {
        let lookup = Lookup::new(resolver.clone());
        Probes {
            http: HttpProbe::with_resolver(settings, resolver),
            tcp: TcpProbe::from_lookup(lookup.clone()),
            icmp: IcmpProbe::from_lookup(lookup.clone()),
            dns: DnsProbe::from_lookup(lookup),
        }
    }

    /// The checker for `target`'s kind.
    fn checker(&self, target: &Target) -> &dyn Checker {
        match target {
            Target::Http => &self.http,
            Target::Tcp(_) => &self.tcp,
            Target::Icmp(_) => &self.icmp,
            Target::Dns(_) => &self.dns,
        }
    }
}

impl Probe for Probes {
    fn check(&self, monitor: &Monitor) -> Observation {
        let deadline = Instant::now() + monitor.timeout;
        let target = monitor.target();
        let mut observation = self.checker(target).check(monitor, deadline);
        if *target != Target::Http {
            // `max_response_time` holds for every kind (HTTP checks it among its assertions),
            // and so do `warn_response_time` and `cert_expiry_warn` (HttpProbe judges its own).
            if let Some(detail) = observation
                .outcome
                .is_up()
                .then(|| monitor.expect().time_failure(observation.elapsed))
                .flatten()
            {
                observation.outcome = Outcome::down(super::Reason::Assertion, detail);
            }
            observation.degraded = degraded::judge(monitor, &observation, SystemTime::now());
        }
        if let Outcome::Down { detail, .. } = &mut observation.outcome {
            // As HttpProbe does: every detail bounded and escaped, whichever kind made it.
            if detail.len() > MAX_DETAIL || detail.chars().any(text::needs_escape) {
                *detail = text::capped(detail, MAX_DETAIL - 40);
            }
        }
        observation
    }
}
