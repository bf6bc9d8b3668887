//! DNS failures and the resolver hook, at the library level: `HttpProbe::with_resolver` with a
//! fake resolver, so no test does a real lookup. (The binary uses the system resolver, which a
//! test must never ask.)

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use serde_json::json;
use sitewatch::config::{Config, Monitor};
use sitewatch::localsite::LocalSite;
use sitewatch::probe::{HttpProbe, Probe, ProbeSettings};
use sitewatch::{Outcome, Reason};
use ureq::config::Config as UreqConfig;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How [`FakeDns`] fails a name it does not know.
#[derive(Debug, Clone, Copy)]
pub enum Miss {
    /// Like the system resolver on NXDOMAIN. ureq's default resolver calls std's
    /// `ToSocketAddrs`, whose `getaddrinfo` failure is an `io::Error` of kind `Uncategorized`
    /// reading "failed to lookup address information: " and glibc's `gai_strerror` text;
    /// ureq passes it on as `ureq::Error::Io`. `Uncategorized` cannot be built outside std, so
    /// this uses `Other` (sitewatch recognises the message, whatever the kind).
    NoSuchName,
    /// Like ureq's default resolver when a name resolved but no address is usable (say, only
    /// IPv6 addresses for an IPv4-only agent): `ureq::Error::HostNotFound`.
    NoUsableAddress,
}

/// glibc's `gai_strerror(EAI_NONAME)`, the NXDOMAIN case.
pub const EAI_NONAME_TEXT: &str = "Name or service not known";

impl Miss {
    fn error(self) -> ureq::Error {
        match self {
            Miss::NoSuchName => ureq::Error::Io(io::Error::other(format!(
                "failed to lookup address information: {EAI_NONAME_TEXT}"
            ))),
            Miss::NoUsableAddress => ureq::Error::HostNotFound,
        }
    }
}

/// A resolver with a fixed table of names; unknown names fail as [`Miss`] says. Every name
/// asked for is recorded, in a list shared by all clones.
#[derive(Debug, Clone)]
pub struct FakeDns {
    names: Vec<(String, IpAddr)>,
    miss: Miss,
    asked: Arc<Mutex<Vec<String>>>,
}

impl FakeDns {
    /// An empty table: every name fails as `miss`.
    pub fn failing(miss: Miss) -> FakeDns {
        FakeDns {
            names: Vec::new(),
            miss,
            asked: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Adds `name` → `ip` (the port comes from the URL, as with the system resolver).
    pub fn with(mut self, name: &str, ip: IpAddr) -> FakeDns {
        self.names.push((name.to_string(), ip));
        self
    }

    /// The host names asked for so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Resolver for FakeDns {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &UreqConfig,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or_default();
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(host.to_string());
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        match self
            .names
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(host))
        {
            Some((_, ip)) => {
                let mut addrs = self.empty();
                addrs.push(SocketAddr::new(*ip, port));
                Ok(addrs)
            }
            None => Err(self.miss.error()),
        }
    }
}

/// `127.0.0.1`.
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The one monitor of a config with one entry `{url, timeout: 2s}`, through `Config::parse`.
pub fn monitor(url: &str) -> Monitor {
    let text = json!([{"url": url, "timeout": "2s"}]).to_string();
    let mut config = Config::parse(&text).unwrap_or_else(|e| panic!("config {text}: {e}"));
    config.monitors.remove(0)
}

fn down(outcome: &Outcome) -> (Reason, &str) {
    match outcome {
        Outcome::Down { reason, detail } => (*reason, detail.as_str()),
        other => panic!("expected down, got {other:?}"),
    }
}

#[test]
fn name_that_does_not_resolve_is_down_with_reason_dns() {
    let dns = FakeDns::failing(Miss::NoSuchName);
    let probe = HttpProbe::with_resolver(&ProbeSettings::default(), dns.clone());
    let seen = probe.check(&monitor("http://no-such-host.test/health"));
    let (reason, detail) = down(&seen.outcome);
    assert_eq!(reason, Reason::Dns, "{seen:?}");
    assert_eq!(
        detail,
        "host name not resolved: failed to lookup address information: Name or service not known"
    );
    assert_eq!(dns.asked(), ["no-such-host.test"]);
    assert!(seen.status.is_none() && seen.bytes.is_none() && seen.ttfb.is_none());
    assert!(seen.final_url.is_none(), "{seen:?}");
}

#[test]
fn name_without_a_usable_address_is_down_with_reason_dns() {
    let dns = FakeDns::failing(Miss::NoUsableAddress);
    let probe = HttpProbe::with_resolver(&ProbeSettings::default(), dns.clone());
    let seen = probe.check(&monitor("https://v6-only.test/"));
    let (reason, detail) = down(&seen.outcome);
    assert_eq!(reason, Reason::Dns, "{seen:?}");
    assert_eq!(detail, "host name not found");
    assert_eq!(dns.asked(), ["v6-only.test"]);
    assert!(seen.status.is_none(), "{seen:?}");
}

#[test]
fn made_up_name_resolved_by_the_hook_reaches_the_local_site() {
    let site = LocalSite::start().unwrap();
    let port = site.addr().port();
    let dns = FakeDns::failing(Miss::NoSuchName).with("site.test", LOOPBACK);
    let probe = HttpProbe::with_resolver(&ProbeSettings::default(), dns.clone());
    let url = format!("http://site.test:{port}/ok");
    let seen = probe.check(&monitor(&url));
    assert_eq!(seen.outcome, Outcome::Up, "{seen:?}");
    assert_eq!(seen.status, Some(200));
    assert_eq!(seen.bytes, Some(3));
    assert_eq!(seen.final_url.as_deref(), Some(url.as_str()));
    assert_eq!(dns.asked(), ["site.test"]);
    // The request reached the site, addressed to the made-up name.
    let requests = site.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/ok");
    let host: Vec<&str> = requests[0]
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(host, [format!("site.test:{port}")], "{requests:?}");
}

#[test]
fn every_redirect_hop_is_resolved_through_the_hook() {
    // No connection is reused, so each hop asks the resolver again: a pinned address holds
    // for the whole check, and the system resolver is never consulted mid-chain.
    let site = LocalSite::start().unwrap();
    let port = site.addr().port();
    let dns = FakeDns::failing(Miss::NoSuchName).with("site.test", LOOPBACK);
    let probe = HttpProbe::with_resolver(&ProbeSettings::default(), dns.clone());
    let seen = probe.check(&monitor(&format!("http://site.test:{port}/redirect/2")));
    assert!(seen.outcome.is_up(), "{seen:?}");
    let last = format!("http://site.test:{port}/redirect/0");
    assert_eq!(seen.final_url.as_deref(), Some(last.as_str()));
    assert_eq!(dns.asked(), ["site.test", "site.test", "site.test"]);
}
