//! Who may read: nobody needs credentials unless the config's `server.auth` asks for them;
//! then every path (the health check too) needs them.
//!
//! The expected `Authorization` value is built once at start and compared with the request's
//! in constant time ([`subtle`]), so the time taken says nothing about how much of a guess
//! was right. Secrets are never logged or echoed.

use subtle::ConstantTimeEq;

use crate::config::server::Auth as Configured;

/// The credentials every request must carry.
pub struct Auth {
    /// The exact `Authorization` header value expected; `None`: open to anyone.
    expected: Option<Vec<u8>>,
    /// The challenge sent with a 401.
    challenge: &'static str,
}

impl Auth {
    /// From the validated config.
    pub fn new(configured: Option<&Configured>) -> Auth {
        match configured {
            None => Auth {
                expected: None,
                challenge: "",
            },
            Some(Configured::Token(token)) => Auth {
                expected: Some(format!("Bearer {}", token.expose()).into_bytes()),
                challenge: "Bearer realm=\"sitewatch\"",
            },
            Some(Configured::Basic { user, password }) => {
                let pair = format!("{user}:{}", password.expose());
                Auth {
                    expected: Some(format!("Basic {}", base64(pair.as_bytes())).into_bytes()),
                    challenge: "Basic realm=\"sitewatch\", charset=\"UTF-8\"",
                }
            }
        }
    }

    /// Whether a request with this `Authorization` header (if any) may read.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        match (&self.expected, authorization) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(expected), Some(given)) => {
                bool::from(expected.as_slice().ct_eq(given.trim_ascii()))
            }
        }
    }

    /// The `WWW-Authenticate` value of a 401.
    pub fn challenge(&self) -> &'static str {
        self.challenge
    }
}

/// Standard base64 with padding (RFC 4648), for the one value basic auth needs.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::config::Secret;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn token_and_basic_are_checked_exactly() {
        let open = Auth::new(None);
        assert!(open.allows(None));
        let token = Auth::new(Some(&Configured::Token(Secret::new("t0k"))));
        assert!(token.allows(Some(b"Bearer t0k")));
        assert!(!token.allows(Some(b"Bearer t0")));
        assert!(!token.allows(None));
        let basic = Auth::new(Some(&Configured::Basic {
            user: "Aladdin".into(),
            password: Secret::new("open sesame"),
        }));
        assert!(basic.allows(Some(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")));
        assert!(!basic.allows(Some(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ")));
    }
}
