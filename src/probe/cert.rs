//! Certificate expiry: when the first certificate of a chain a server presented stops being valid.
//!
//! [`earliest_expiry`] is the one place that reads certificates: any kind of check that makes a
//! TLS handshake (HTTPS through [`super::tls`], a TCP check with TLS) hands it the peer's chain
//! as rustls gives it. It reads only `notAfter`; whether the chain is trusted is rustls's and
//! webpki's business, decided during the handshake, and an untrusted or expired chain has
//! already failed the check with reason `tls` by then.
//!
//! The HTTPS probe learns the chain inside ureq's connector chain, far from the code that
//! builds the [`super::Observation`]. A check runs on one worker thread from its first lookup
//! to its last byte (ureq is blocking), so the TLS link leaves the expiry in a thread-local
//! ([`record`]) and the probe takes it after the check ([`take`]), as [`super::phase`] does
//! for the step a request is in. [`reset`] clears it before each request, so a value is never
//! carried from one check to the next, and after redirects it is the final server's (what
//! blackbox_exporter's `probe_ssl_earliest_cert_expiry` reports too).

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::CertificateDer;
use x509_cert::der::Decode;
use x509_cert::Certificate;

/// The earliest `notAfter` over `chain` (the end-entity certificate and the intermediates the
/// server sent), or `None` for an empty chain. A certificate that does not parse is skipped:
/// rustls has accepted (or, with `insecure`, not judged) the chain, and a partial answer is
/// more useful than none; a chain where none parses gives `None`.
pub fn earliest_expiry(chain: &[CertificateDer<'_>]) -> Option<SystemTime> {
    chain
        .iter()
        .filter_map(|der| Certificate::from_der(der.as_ref()).ok())
        .map(|cert| {
            let not_after = cert.tbs_certificate().validity().not_after;
            UNIX_EPOCH + not_after.to_unix_duration()
        })
        .min()
}

thread_local! {
    static EXPIRY: Cell<Option<SystemTime>> = const { Cell::new(None) };
}

/// Forgets what the last request on this thread recorded. Called before every request.
pub(super) fn reset() {
    EXPIRY.with(|e| e.set(None));
}

/// Records the earliest expiry of the chain just received on this thread.
pub(super) fn record(chain: &[CertificateDer<'_>]) {
    EXPIRY.with(|e| e.set(earliest_expiry(chain)));
}

/// What this thread recorded since its last [`reset`].
pub(super) fn take() -> Option<SystemTime> {
    EXPIRY.with(Cell::take)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cert(not_after_days: i64) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2030, 1, 1) + time::Duration::days(not_after_days);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn the_earliest_not_after_of_the_chain() {
        let base = UNIX_EPOCH + Duration::from_secs(1_893_456_000); // 2030-01-01T00:00:00Z
        let chain = [cert(30), cert(5), cert(400)];
        assert_eq!(
            earliest_expiry(&chain),
            Some(base + Duration::from_secs(5 * 86_400))
        );
        assert_eq!(earliest_expiry(&[]), None);
    }

    #[test]
    fn garbage_is_skipped() {
        let junk = CertificateDer::from(vec![0x30, 0x03, 1, 2, 3]);
        assert_eq!(earliest_expiry(std::slice::from_ref(&junk)), None);
        let base = UNIX_EPOCH + Duration::from_secs(1_893_456_000);
        assert_eq!(
            earliest_expiry(&[junk, cert(1)]),
            Some(base + Duration::from_secs(86_400))
        );
    }

    #[test]
    fn recorded_per_thread_and_reset() {
        reset();
        record(&[cert(10), cert(3)]);
        let base = UNIX_EPOCH + Duration::from_secs(1_893_456_000);
        assert_eq!(take(), Some(base + Duration::from_secs(3 * 86_400)));
        assert_eq!(take(), None);
        record(&[cert(20)]);
        reset();
        assert_eq!(take(), None);
    }
}
