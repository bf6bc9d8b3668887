//! Maps what ureq reports into one [`Reason`] from the closed set, with a message for a person.
//!
//! ureq's errors are `#[non_exhaustive]`, and some failures (DNS, TLS) arrive as plain io errors;
//! every path, including the catch-all, still ends in exactly one reason.
//!
//! Except when the failure is sitewatch's own: an io error whose OS code says the process or
//! the machine ran out of something ([`local_kind`]) is an [`Outcome::Local`], not a verdict
//! about the site.

use std::io;
use std::time::Duration;

use super::{LocalKind, Outcome, Reason};

/// Linux error numbers of the local resource failures (`raw_os_error`).
const ENOMEM: i32 = 12;
const ENFILE: i32 = 23;
const EMFILE: i32 = 24;
const EADDRNOTAVAIL: i32 = 99;

/// The local resource `io` says sitewatch ran out of, if any: looks at its OS error code and
/// at every io error it wraps (ureq and rustls nest them).
pub(crate) fn local_kind(io: &io::Error) -> Option<LocalKind> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(io);
    // Bounded: error chains are a few links long.
    for _ in 0..8 {
        let error = current?;
        if let Some(io) = error.downcast_ref::<io::Error>() {
            let kind = match io.raw_os_error() {
                Some(EMFILE | ENFILE) => Some(LocalKind::FileDescriptors),
                Some(ENOMEM) => Some(LocalKind::Memory),
                Some(EADDRNOTAVAIL) => Some(LocalKind::EphemeralPorts),
                _ => None,
            };
            if kind.is_some() {
                return kind;
            }
            if let Some(inner) = io.get_ref() {
                current = Some(inner);
                continue;
            }
        }
        current = error.source();
    }
    None
}

/// Where in the exchange an error surfaced; ureq's global timeout does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Looking up the host name.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// In the TLS handshake.
    Handshake,
    /// Before the response headers were complete.
    Response,
    /// While reading the body.
    Body,
}

/// Maps a ureq error to one reason from the closed set, with a message for a person.
pub(crate) fn classify(
    error: &ureq::Error,
    phase: Phase,
    timeout: Duration,
    https: bool,
) -> Outcome {
    use ureq::Error as E;
    let limit = humantime::format_duration(timeout);
    match error {
        E::Timeout(which) => {
            let what = match which {
                ureq::Timeout::Resolve => "resolving the host name".to_string(),
                _ if phase == Phase::Handshake => "in the TLS handshake".to_string(),
                ureq::Timeout::Connect => "connecting".to_string(),
                ureq::Timeout::RecvBody => "reading the body".to_string(),
                ureq::Timeout::RecvResponse => "waiting for the response headers".to_string(),
                _ if phase == Phase::Body => "reading the body".to_string(),
                _ if phase == Phase::Resolve => "resolving the host name".to_string(),
                _ if phase == Phase::Connect => "connecting".to_string(),
                _ => "waiting for the response headers".to_string(),
            };
            Outcome::down(
                Reason::Timeout,
                format!("timed out after {limit} while {what}"),
            )
        }
        E::Io(io) => classify_io(io, phase, https),
        E::HostNotFound => Outcome::down(Reason::Dns, "host name not found"),
        E::TooManyRedirects => Outcome::down(Reason::Redirects, "too many redirects (loop?)"),
        E::RedirectFailed => Outcome::down(Reason::Redirects, "redirect could not be followed"),
        E::BodyExceedsLimit(_) => Outcome::down(Reason::BodyTooLarge, too_large_detail(error)),
        E::Tls(_) | E::Rustls(_) | E::Pem(_) | E::TlsRequired => {
            Outcome::down(Reason::Tls, format!("TLS failed: {error}"))
        }
        E::ConnectionFailed => Outcome::down(Reason::Connect, "connection failed"),
        E::Protocol(inner) if inner.to_string() == TOO_MANY_HEADERS => Outcome::down(
            Reason::Protocol,
            format!("more than {MAX_RESPONSE_HEADERS} response headers, the most sitewatch reads"),
        ),
        E::LargeResponseHeader(_, max) => Outcome::down(
            Reason::Protocol,
            format!("response headers larger than {max} bytes, the most sitewatch reads"),
        ),
        // ureq's own text already starts with "protocol:"; say it once.
        E::Protocol(inner) => {
            Outcome::down(Reason::Protocol, format!("invalid HTTP response: {inner}"))
        }
        E::Decompress(..) | E::BodyStalled => {
            Outcome::down(Reason::Protocol, format!("invalid HTTP response: {error}"))
        }
        // `Error` is non-exhaustive: anything new is still a failure to talk HTTP.
        _ => Outcome::down(Reason::Protocol, error.to_string()),
    }
}

/// How ureq's HTTP parser says a response had more headers than it reads.
const TOO_MANY_HEADERS: &str = "http parse resulted in too many headers";
/// Most response headers ureq reads (`ureq_proto::client::MAX_RESPONSE_HEADERS`).
const MAX_RESPONSE_HEADERS: usize = 128;

fn too_large_detail(error: &ureq::Error) -> String {
    match error {
        ureq::Error::BodyExceedsLimit(cap) => {
            let cap = cap.saturating_sub(1);
            format!("body larger than the {cap}-byte cap (raise --max-body to accept it)")
        }
        _ => error.to_string(),
    }
}

fn classify_io(io: &io::Error, phase: Phase, https: bool) -> Outcome {
    use io::ErrorKind as K;
    let text = io.to_string();
    if let Some(kind) = local_kind(io) {
        return Outcome::Local { kind, detail: text };
    }
    match io.kind() {
        K::ConnectionRefused => Outcome::down(Reason::Connect, "connection refused"),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Outcome::down(
            Reason::Connect,
            format!("connection reset by peer ({text})"),
        ),
        K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable | K::NotConnected => {
            Outcome::down(Reason::Connect, format!("cannot reach host: {text}"))
        }
        K::TimedOut | K::WouldBlock => Outcome::down(Reason::Timeout, format!("timed out: {text}")),
        K::UnexpectedEof if phase == Phase::Body => Outcome::down(
            Reason::Protocol,
            "connection closed before the body was complete (truncated)",
        ),
        K::UnexpectedEof => Outcome::down(
            Reason::Protocol,
            "connection closed before a response arrived",
        ),
        // rustls reports handshake and certificate failures as InvalidData; on plain HTTP the
        // same kind means the bytes were not a valid response.
        K::InvalidData if https => Outcome::down(Reason::Tls, format!("TLS failed: {text}")),
        K::InvalidData => Outcome::down(Reason::Protocol, format!("invalid response: {text}")),
        _ if is_dns_failure(&text) => {
            Outcome::down(Reason::Dns, format!("host name not resolved: {text}"))
        }
        _ => Outcome::down(Reason::Connect, text),
    }
}

/// The system resolver's failures come back as uncategorized io errors; their text is all
/// there is to recognise them by.
fn is_dns_failure(text: &str) -> bool {
    const MARKERS: [&str; 4] = [
        "failed to lookup address",
        "Name or service not known",
        "No address associated",
        "Temporary failure in name resolution",
    ];
    MARKERS.iter().any(|m| text.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(error: ureq::Error, phase: Phase, https: bool) -> Reason {
        classify(&error, phase, Duration::from_secs(1), https)
            .reason()
            .expect("down")
    }

    fn io(kind: io::ErrorKind, text: &str) -> ureq::Error {
        ureq::Error::Io(io::Error::new(kind, text))
    }

    #[test]
    fn local_resource_failures_are_not_verdicts() {
        let cases = [
            (24, LocalKind::FileDescriptors),
            (23, LocalKind::FileDescriptors),
            (12, LocalKind::Memory),
            (99, LocalKind::EphemeralPorts),
        ];
        for (code, want) in cases {
            let error = ureq::Error::Io(io::Error::from_raw_os_error(code));
            let outcome = classify(&error, Phase::Response, Duration::from_secs(1), false);
            assert!(
                matches!(&outcome, Outcome::Local { kind, .. } if *kind == want),
                "{code}: {outcome:?}"
            );
        }
        // Wrapped in another io error, as a TLS or body reader may do.
        let wrapped = io::Error::other(io::Error::from_raw_os_error(24));
        assert_eq!(local_kind(&wrapped), Some(LocalKind::FileDescriptors));
        // A refused connection is still the site's.
        let refused = io::Error::from_raw_os_error(111);
        assert_eq!(local_kind(&refused), None);
    }

    #[test]
    fn io_errors_map_to_reasons() {
        use io::ErrorKind as K;
        assert_eq!(
            reason(io(K::ConnectionRefused, "x"), Phase::Response, false),
            Reason::Connect
        );
        assert_eq!(
            reason(io(K::ConnectionReset, "x"), Phase::Body, false),
            Reason::Connect
        );
        assert_eq!(
            reason(io(K::UnexpectedEof, "x"), Phase::Body, false),
            Reason::Protocol
        );
        assert_eq!(
            reason(io(K::InvalidData, "bad cert"), Phase::Response, true),
            Reason::Tls
        );
        assert_eq!(
            reason(io(K::InvalidData, "x"), Phase::Response, false),
            Reason::Protocol
        );
        let dns = "failed to lookup address information: Name or service not known";
        assert_eq!(
            reason(io(K::Other, dns), Phase::Response, false),
            Reason::Dns
        );
        assert_eq!(
            reason(io(K::TimedOut, "x"), Phase::Response, false),
            Reason::Timeout
        );
    }

    #[test]
    fn ureq_errors_map_to_reasons() {
        assert_eq!(
            reason(ureq::Error::HostNotFound, Phase::Response, false),
            Reason::Dns
        );
        assert_eq!(
            reason(ureq::Error::TooManyRedirects, Phase::Response, false),
            Reason::Redirects
        );
        assert_eq!(
            reason(ureq::Error::BodyExceedsLimit(11), Phase::Body, false),
            Reason::BodyTooLarge
        );
        assert_eq!(
            reason(ureq::Error::ConnectionFailed, Phase::Response, false),
            Reason::Connect
        );
        assert_eq!(
            reason(ureq::Error::Tls("x"), Phase::Response, true),
            Reason::Tls
        );
    }

    #[test]
    fn timeout_says_which_phase() {
        let body = classify(
            &ureq::Error::Timeout(ureq::Timeout::Global),
            Phase::Body,
            Duration::from_secs(2),
            false,
        );
        assert_eq!(
            body,
            Outcome::down(Reason::Timeout, "timed out after 2s while reading the body")
        );
        let head = classify(
            &ureq::Error::Timeout(ureq::Timeout::Global),
            Phase::Response,
            Duration::from_secs(2),
            false,
        );
        assert_eq!(
            head,
            Outcome::down(
                Reason::Timeout,
                "timed out after 2s while waiting for the response headers"
            )
        );
        for (phase, what) in [
            (Phase::Resolve, "resolving the host name"),
            (Phase::Connect, "connecting"),
            (Phase::Handshake, "in the TLS handshake"),
        ] {
            for which in [ureq::Timeout::Global, ureq::Timeout::Connect] {
                if phase == Phase::Resolve && which == ureq::Timeout::Connect {
                    continue;
                }
                let got = classify(
                    &ureq::Error::Timeout(which),
                    phase,
                    Duration::from_secs(2),
                    true,
                );
                let want = format!("timed out after 2s while {what}");
                assert_eq!(got, Outcome::down(Reason::Timeout, want), "{which:?}");
            }
        }
    }

    #[test]
    fn response_limits_are_named() {
        let big = classify(
            &ureq::Error::LargeResponseHeader(70_000, 64_512),
            Phase::Response,
            Duration::from_secs(2),
            false,
        );
        assert_eq!(
            big,
            Outcome::down(
                Reason::Protocol,
                "response headers larger than 64512 bytes, the most sitewatch reads"
            )
        );
    }
}
