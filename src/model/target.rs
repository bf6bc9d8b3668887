//! What a monitor checks: its kind, picked by the scheme of its URL, and the settings only that
//! kind has.
//!
//! `http://` and `https://` are [`Target::Http`] (everything HTTP lives in the monitor itself);
//! `tcp://host:port`, `icmp://host` and `dns://name` are the other kinds, each checked by one
//! file under `probe/`. [`Target::parse`] validates the URL of a non-HTTP kind once, at the
//! edge: a probe never sees a malformed host or a missing port.

use std::net::IpAddr;

use ureq::http::Uri;

/// Echo requests an `icmp://` check sends when the monitor does not set `count`.
pub const DEFAULT_ICMP_COUNT: u32 = 3;
/// Most echo requests one `icmp://` check sends: a check is a probe, not a flood.
pub const MAX_ICMP_COUNT: u32 = 20;
/// Longest `send` or `expect` text of a `tcp://` monitor, in bytes: a banner protocol's
/// greeting or command fits many times over.
pub const MAX_TCP_TEXT: usize = 1024;

/// The kinds of check, by URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `http://` and `https://`: one HTTP exchange (the redirects it follows included).
    Http,
    /// `tcp://host:port`: a TCP connect, optionally TLS and a banner exchange.
    Tcp,
    /// `icmp://host`: ICMP echo requests and their replies.
    Icmp,
    /// `dns://name`: the name resolves (to an expected address).
    Dns,
}

impl Kind {
    /// The kind a URL scheme names (lowercase, as `http::Uri` gives it), if any.
    pub fn from_scheme(scheme: &str) -> Option<Kind> {
        match scheme {
            "http" | "https" => Some(Kind::Http),
            "tcp" => Some(Kind::Tcp),
            "icmp" => Some(Kind::Icmp),
            "dns" => Some(Kind::Dns),
            _ => None,
        }
    }

    /// The kind's name, as error messages and the README write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Tcp => "tcp",
            Kind::Icmp => "icmp",
            Kind::Dns => "dns",
        }
    }
}

/// A monitor's target: HTTP, or one of the other kinds with its own settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Target {
    /// An HTTP(S) URL; its settings are the monitor's own.
    #[default]
    Http,
    /// `tcp://host:port`.
    Tcp(TcpTarget),
    /// `icmp://host`.
    Icmp(IcmpTarget),
    /// `dns://name`.
    Dns(DnsTarget),
}

impl Target {
    /// Which kind this is.
    pub fn kind(&self) -> Kind {
        match self {
            Target::Http => Kind::Http,
            Target::Tcp(_) => Kind::Tcp,
            Target::Icmp(_) => Kind::Icmp,
            Target::Dns(_) => Kind::Dns,
        }
    }
}

/// A `tcp://host:port` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpTarget {
    /// Host name or IP address (without the brackets of an IPv6 literal).
    pub host: Box<str>,
    /// Port, 1 to 65535.
    pub port: u16,
    /// Make a TLS handshake after connecting (`tls: true`), verified like HTTPS.
    pub tls: bool,
    /// Text sent once connected (and after the handshake), if any.
    pub send: Option<Box<str>>,
    /// Text the first bytes read must contain, if any.
    pub expect: Option<Box<str>>,
}

/// An `icmp://host` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpTarget {
    /// Host name or IP address.
    pub host: Box<str>,
    /// Echo requests per check, 1 to [`MAX_ICMP_COUNT`].
    pub count: u32,
}

/// A `dns://name` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTarget {
    /// The name to resolve.
    pub name: Box<str>,
    /// Addresses of which at least one must be among the answers; empty: any answer will do.
    pub expect_address: Vec<IpAddr>,
}

/// The host of `uri` without the brackets of an IPv6 literal.
fn bare_host(uri: &Uri) -> Result<Box<str>, String> {
    let host = uri.host().unwrap_or_default();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err("url has no host".to_owned());
    }
    Ok(host.into())
}

/// Refuses what a non-HTTP URL cannot use: userinfo, a path, a query, a fragment.
fn only_authority(text: &str, uri: &Uri, kind: Kind) -> Result<(), String> {
    let example = match kind {
        Kind::Tcp => "tcp://db.example.com:5432",
        Kind::Icmp => "icmp://example.com",
        _ => "dns://example.com",
    };
    let authority = uri.authority().map_or("", |a| a.as_str());
    if authority.contains('@') {
        return Err(format!(
            "a {}:// url takes no user or password; write it as {example}",
            kind.as_str()
        ));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() || text.contains('#') {
        return Err(format!(
            "a {}:// url has only a host{}; write it as {example}",
            kind.as_str(),
            if kind == Kind::Tcp { " and a port" } else { "" }
        ));
    }
    Ok(())
}

impl TcpTarget {
    /// The target of a `tcp://host:port` URL, its settings at their defaults.
    pub fn parse(text: &str, uri: &Uri) -> Result<TcpTarget, String> {
        only_authority(text, uri, Kind::Tcp)?;
        let host = bare_host(uri)?;
        let port =
            match uri.port_u16() {
                Some(p) if p != 0 => p,
                _ => return Err(
                    "a tcp:// url needs a port from 1 to 65535, as in tcp://db.example.com:5432"
                        .to_owned(),
                ),
            };
        Ok(TcpTarget {
            host,
            port,
            tls: false,
            send: None,
            expect: None,
        })
    }
}

impl IcmpTarget {
    /// The target of an `icmp://host` URL, with [`DEFAULT_ICMP_COUNT`] echoes.
    pub fn parse(text: &str, uri: &Uri) -> Result<IcmpTarget, String> {
        only_authority(text, uri, Kind::Icmp)?;
        if uri.port().is_some() {
            return Err("an icmp:// url takes no port; write it as icmp://example.com".to_owned());
        }
        Ok(IcmpTarget {
            host: bare_host(uri)?,
            count: DEFAULT_ICMP_COUNT,
        })
    }
}

impl DnsTarget {
    /// The target of a `dns://name` URL, expecting any address.
    pub fn parse(text: &str, uri: &Uri) -> Result<DnsTarget, String> {
        only_authority(text, uri, Kind::Dns)?;
        if uri.port().is_some() {
            return Err(
                "a dns:// url takes no port (the system resolver is asked); write it as dns://example.com"
                    .to_owned(),
            );
        }
        Ok(DnsTarget {
            name: bare_host(uri)?,
            expect_address: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().unwrap()
    }

    #[test]
    fn schemes_pick_the_kind() {
        assert_eq!(Kind::from_scheme("https"), Some(Kind::Http));
        assert_eq!(Kind::from_scheme("tcp"), Some(Kind::Tcp));
        assert_eq!(Kind::from_scheme("icmp"), Some(Kind::Icmp));
        assert_eq!(Kind::from_scheme("dns"), Some(Kind::Dns));
        assert_eq!(Kind::from_scheme("ftp"), None);
    }

    #[test]
    fn tcp_urls_need_a_port_and_nothing_else() {
        let t = TcpTarget::parse("tcp://[::1]:6379", &uri("tcp://[::1]:6379")).unwrap();
        assert_eq!((&*t.host, t.port), ("::1", 6379));
        let t = TcpTarget::parse("tcp://db:5432/", &uri("tcp://db:5432/")).unwrap();
        assert_eq!((&*t.host, t.port), ("db", 5432));
        let err = TcpTarget::parse("tcp://db", &uri("tcp://db")).unwrap_err();
        assert!(err.contains("needs a port"), "{err}");
        let err = TcpTarget::parse("tcp://db:5/x", &uri("tcp://db:5/x")).unwrap_err();
        assert!(err.contains("only a host and a port"), "{err}");
        let err = TcpTarget::parse("tcp://u:p@db:5", &uri("tcp://u:p@db:5")).unwrap_err();
        assert!(err.contains("no user or password"), "{err}");
    }

    #[test]
    fn icmp_and_dns_urls_are_a_host_only() {
        let t = IcmpTarget::parse("icmp://127.0.0.1", &uri("icmp://127.0.0.1")).unwrap();
        assert_eq!((&*t.host, t.count), ("127.0.0.1", DEFAULT_ICMP_COUNT));
        let err = IcmpTarget::parse("icmp://h:1", &uri("icmp://h:1")).unwrap_err();
        assert!(err.contains("no port"), "{err}");
        let t = DnsTarget::parse("dns://example.test", &uri("dns://example.test")).unwrap();
        assert_eq!(&*t.name, "example.test");
        let err = DnsTarget::parse("dns://a?b", &uri("dns://a?b")).unwrap_err();
        assert!(err.contains("only a host"), "{err}");
    }
}
