//! The `ntfy` channel: publish to an ntfy topic (<https://ntfy.sh>, or a self-hosted server).
//!
//! As ntfy documents for publishing (<https://docs.ntfy.sh/publish/>): a POST to the topic URL
//! (`https://ntfy.sh/TOPIC`) whose body is the message, with the `Title`, `Priority` (1–5) and
//! `Tags` headers; tags that name an emoji are shown as one. A title that is not ASCII is sent
//! RFC 2047-encoded, which ntfy decodes. An access token goes in `Authorization: Bearer`.

use std::time::Duration;

use super::config::Secret;
use super::{http, render, Channel, Kind, Notification};

/// Publishes to an ntfy topic.
pub struct Ntfy {
    client: http::Client,
    url: Secret,
    token: Option<Secret>,
}

impl Ntfy {
    /// An ntfy channel publishing to the topic `url`.
    pub fn new(url: &Secret, token: Option<&Secret>, timeout: Duration) -> Ntfy {
        Ntfy {
            client: http::Client::new(timeout),
            url: url.clone(),
            token: token.cloned(),
        }
    }
}

/// The request: headers (name, value) and body.
pub fn payload(n: &Notification) -> (Vec<(&'static str, String)>, String) {
    let (priority, tag) = match (n, n.worst()) {
        (_, Some(Kind::Down)) => (4, "rotating_light"),
        (_, Some(Kind::Flapping)) => (4, "warning"),
        (_, Some(Kind::Reminder)) => (3, "hourglass"),
        (_, Some(Kind::Recovered)) => (3, "white_check_mark"),
        (_, Some(Kind::Degraded)) => (3, "warning"),
        (_, Some(Kind::Cleared)) => (2, "white_check_mark"),
        (Notification::Digest(_), _) => (2, "bar_chart"),
        _ => (3, "test_tube"),
    };
    let headers = vec![
        ("Title", header_text(&render::title(n))),
        ("Priority", priority.to_string()),
        ("Tags", format!("{tag},sitewatch")),
    ];
    (headers, render::text(n))
}

/// ASCII as is; anything else as an RFC 2047 encoded word (`=?UTF-8?B?…?=`).
fn header_text(s: &str) -> String {
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        s.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", base64(s.as_bytes()))
    }
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Channel for Ntfy {
    fn deliver(&self, n: &Notification) -> Result<(), String> {
        let (mut headers, body) = payload(n);
        let auth;
        if let Some(token) = &self.token {
            auth = format!("Bearer {}", token.expose());
            headers.push(("Authorization", auth.clone()));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.client.post(
            self.url.expose(),
            &headers,
            "text/plain; charset=utf-8",
            body.as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::samples;

    fn shape(n: &Notification) -> (Vec<(&'static str, String)>, String) {
        payload(n)
    }

    #[test]
    fn payload_shapes() {
        let (headers, body) = shape(&Notification::Alert(samples::down()));
        assert_eq!(
            headers,
            vec![
                ("Title", "DOWN api".to_string()),
                ("Priority", "4".to_string()),
                ("Tags", "rotating_light,sitewatch".to_string()),
            ]
        );
        assert_eq!(
            body,
            "DOWN api (https://api.example.com/health): status: HTTP 503 Service Unavailable (3 failed attempts)"
        );
        let (headers, body) = shape(&Notification::Alert(samples::recovered()));
        assert_eq!(headers[0].1, "RECOVERED api");
        assert_eq!(headers[1].1, "3");
        assert_eq!(headers[2].1, "white_check_mark,sitewatch");
        assert!(body.starts_with("RECOVERED api"));
        let (headers, body) = shape(&samples::group());
        assert_eq!(headers[0].1, "2 monitors down");
        assert_eq!(headers[1].1, "4");
        assert!(body.starts_with("2 monitors down:\n- DOWN api"));
        let (headers, body) = shape(&samples::digest());
        assert_eq!(
            headers,
            vec![
                (
                    "Title",
                    "sitewatch daily digest: 2 monitors, 1 with incidents".to_string()
                ),
                ("Priority", "2".to_string()),
                ("Tags", "bar_chart,sitewatch".to_string()),
            ]
        );
        assert!(body.contains("\n  - 2026-11-23 04:00 +01:00, 12m: status"));
    }

    #[test]
    fn non_ascii_titles_are_encoded() {
        assert_eq!(header_text("DOWN café"), "=?UTF-8?B?RE9XTiBjYWbDqQ==?=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
