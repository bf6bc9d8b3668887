//! The TLS link of the probe's connector chain: ureq's rustls link, plus the certificates.
//!
//! ureq's own `RustlsConnector` keeps the rustls connection private, so the certificates a
//! server presented cannot be read through it, and its `TlsConfig` takes no verifier of our
//! own. This link does what it does, the same way — same rustls, ring provider, all protocol
//! versions, Mozilla's roots (`webpki-roots`) or a monitor's `ca_file` roots, SNI on, rustls's
//! own webpki verifier, verification off only for an `insecure` monitor — and after the
//! handshake hands the peer's chain to [`super::cert::record`]. Trust decisions are rustls's,
//! unchanged: an expired or untrusted certificate fails the handshake as before (reason `tls`).
//!
//! Built client configurations are kept ([`ClientConfigs`], which `tcp://` checks with `tls`
//! use too, so `insecure` and `ca_file` mean the same for both): one for the agent's defaults, one for `insecure`, and
//! one per `ca_file` root set (keyed by its shared allocation, kept alive here, so a key is
//! never reused; a handful at most, dropped all at once past [`MAX_CACHED`]).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    StreamOwned,
};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::transport::time::{Duration as UreqDuration, Instant};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

use super::cert;

/// Client configurations kept for `ca_file` root sets before the cache starts over.
const MAX_CACHED: usize = 64;

/// The connector link (see the module docs).
#[derive(Debug, Default)]
pub(super) struct TlsConnector {
    configs: ClientConfigs,
}

/// The rustls client configurations of every TLS handshake the probe makes (HTTPS here,
/// `tcp://` with `tls` in [`super::tcp`]), so that `insecure` and `ca_file` mean one thing
/// whatever the kind of target.
#[derive(Debug, Default)]
pub(super) struct ClientConfigs {
    verified: OnceLock<Arc<ClientConfig>>,
    unverified: OnceLock<Arc<ClientConfig>>,
    /// Per `ca_file`: its roots (kept so that the pointer key stays unique) and the config.
    private: Mutex<Vec<(Roots, Arc<ClientConfig>)>>,
}

/// A `ca_file`'s root certificates, as ureq's `TlsConfig` shares them.
type Roots = Arc<Vec<Certificate<'static>>>;

impl<In: Transport> Connector<In> for TlsConnector {
    // Boxed: the rustls connection is over a kilobyte, and every link after this one moves its
    // transport by value. Unboxed, each of those moves took room on a worker's stack on every
    // check, `http` ones included (see `handshake`).
    type Out = Either<In, Box<TlsTransport>>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        self.handshake(details, transport.boxed())
            .map(|tls| Some(Either::B(tls)))
    }
}

impl TlsConnector {
    /// The handshake, in a frame of its own: its locals (a rustls connection among them) take
    /// several kilobytes of stack, which a check that does not use TLS should not touch (each
    /// worker keeps the deepest stack any of its checks reached).
    #[inline(never)]
    fn handshake(
        &self,
        details: &ConnectionDetails,
        transport: Box<dyn Transport>,
    ) -> Result<Box<TlsTransport>, ureq::Error> {
        let config = self.configs.get(details.config.tls_config());
        let host = details.uri.host().ok_or(ureq::Error::Tls(
            "no host to verify the certificate against",
        ))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(host)
            .map_err(|_| ureq::Error::Tls("invalid host name for TLS"))?
            .to_owned();
        let mut conn = ClientConnection::new(config, name)?;
        let mut sock = TransportAdapter::new(transport, details.current_time.clone());
        // The handshake gets what is left of the budget the connection started with.
        sock.set_timeout(remaining(details));
        conn.complete_io(&mut sock)?;
        if let Some(chain) = conn.peer_certificates() {
            cert::record(chain);
        }
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Box::new(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        }))
    }
}

/// `details.timeout`, less the time since the connection started (`details.now`).
fn remaining(details: &ConnectionDetails) -> NextTimeout {
    let mut timeout = details.timeout;
    if let (UreqDuration::Exact(after), Instant::Exact(now), Instant::Exact(start)) =
        (timeout.after, (details.current_time)(), details.now)
    {
        timeout.after =
            UreqDuration::Exact(after.saturating_sub(now.saturating_duration_since(start)));
    }
    timeout
}

impl ClientConfigs {
    /// The configuration for a monitor's `tls` (ureq's form of `insecure` and `ca_file`).
    pub(super) fn get(&self, tls: &TlsConfig) -> Arc<ClientConfig> {
        if tls.disable_verification() {
            return Arc::clone(self.unverified.get_or_init(|| build(tls)));
        }
        match tls.root_certs() {
            RootCerts::Specific(roots) => {
                let mut cache = self.private.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((_, config)) = cache.iter().find(|(r, _)| Arc::ptr_eq(r, roots)) {
                    return Arc::clone(config);
                }
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
                let config = build(tls);
                cache.push((Arc::clone(roots), Arc::clone(&config)));
                config
            }
            _ => Arc::clone(self.verified.get_or_init(|| build(tls))),
        }
    }
}

/// A client configuration as ureq's rustls link builds it for `tls`.
fn build(tls: &TlsConfig) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("ring supports every TLS version rustls has");
    let builder = if tls.disable_verification() {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified))
    } else {
        let roots = match tls.root_certs() {
            RootCerts::Specific(certs) => {
                let mut store = RootCertStore::empty();
                store.add_parsable_certificates(
                    certs
                        .iter()
                        .map(|c| CertificateDer::from(c.der()).into_owned()),
                );
                store
            }
            // sitewatch builds no other root setting: Mozilla's roots, ureq's default.
            _ => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        builder.with_root_certificates(roots)
    };
    let mut config = builder.with_no_client_auth();
    config.enable_sni = tls.use_sni();
    Arc::new(config)
}

/// The connection after the handshake: ureq's rustls transport, field for field.
pub(super) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// The verifier of an `insecure` monitor: accepts anything, exactly as ureq's own does (so an
/// `insecure` monitor behaves as before); the certificate's expiry is still recorded.
#[derive(Debug)]
struct Unverified;

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        use SignatureScheme::*;
        vec![
            RSA_PKCS1_SHA1,
            RSA_PKCS1_SHA256,
            RSA_PKCS1_SHA384,
            RSA_PKCS1_SHA512,
            ECDSA_NISTP256_SHA256,
            ECDSA_NISTP384_SHA384,
            ECDSA_NISTP521_SHA512,
            RSA_PSS_SHA256,
            RSA_PSS_SHA384,
            RSA_PSS_SHA512,
            ED25519,
            ED448,
        ]
    }
}
