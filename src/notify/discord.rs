//! The `discord` channel: a Discord webhook.
//!
//! Payload: `{"content": …, "allowed_mentions": {"parse": []}}` (plus `username` if set), per
//! Discord's "Execute Webhook" (<https://discord.com/developers/docs/resources/webhook>).
//! `content` holds at most 2,000 characters, so a long message (a big group, a digest) is cut
//! there with a closing `…`. Mentions are disabled so that a detail or a name containing
//! `@everyone` pings no one, link previews are suppressed (`flags`: SUPPRESS_EMBEDS), and text a
//! site chose (failure details) is made inert ([`super::chat`]): no link, mention or markdown of
//! its choosing renders. The webhook URL is a credential: put it in an environment variable.

use std::time::Duration;

use serde_json::{json, Value};

use super::config::Secret;
use super::{chat, http, render, Channel, Notification};

/// Discord's limit on `content`, in characters.
pub const MAX_CONTENT: usize = 2000;
/// Discord's SUPPRESS_EMBEDS message flag (1 << 2): no link previews.
const SUPPRESS_EMBEDS: u64 = 1 << 2;

/// Posts to a Discord webhook.
pub struct Discord {
    client: http::Client,
    url: Secret,
    username: Option<String>,
}

impl Discord {
    /// A Discord channel posting to `url`, as `username` if given.
    pub fn new(url: &Secret, username: Option<String>, timeout: Duration) -> Discord {
        Discord {
            client: http::Client::new(timeout),
            url: url.clone(),
            username,
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The JSON payload.
pub fn payload(n: &Notification, username: Option<&str>) -> Value {
    let mut v = json!({
        "content": truncate(&render::text(&chat::defanged(n)), MAX_CONTENT),
        "allowed_mentions": {"parse": []},
        "flags": SUPPRESS_EMBEDS,
    });
    if let Some(u) = username {
        v["username"] = json!(u);
    }
    v
}

impl Channel for Discord {
    fn deliver(&self, n: &Notification) -> Result<(), String> {
        let body = serde_json::to_vec(&payload(n, self.username.as_deref()))
            .expect("a payload always serializes");
        self.client
            .post(self.url.expose(), &[], "application/json", &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::samples;
    use crate::notify::Alert;

    #[test]
    fn payload_shapes() {
        assert_eq!(
            payload(&Notification::Alert(samples::down()), Some("sitewatch")),
            json!({
                "content": "DOWN api (https://api.example.com/health): status: `HTTP 503 Service Unavailable` (3 failed attempts)",
                "allowed_mentions": {"parse": []},
                "flags": 4,
                "username": "sitewatch"
            })
        );
        assert_eq!(
            payload(&Notification::Alert(samples::recovered()), None),
            json!({
                "content": "RECOVERED api (https://api.example.com/health): up again after 12m 34s down",
                "allowed_mentions": {"parse": []},
                "flags": 4
            })
        );
        let group = payload(&samples::group(), None);
        assert!(group["content"]
            .as_str()
            .unwrap()
            .starts_with("2 monitors down:\n- DOWN api"));
        let digest = payload(&samples::digest(), None);
        assert!(digest["content"]
            .as_str()
            .unwrap()
            .starts_with("sitewatch daily digest"));
    }

    #[test]
    fn server_text_renders_no_link_mention_or_markdown() {
        let mut a = samples::down();
        a.detail = Some("HTTP 302: see [login](https://evil.example/) @everyone <@123>".into());
        let v = payload(&Notification::Alert(a), None);
        let content = v["content"].as_str().unwrap();
        assert!(
            content.contains(
                "`HTTP 302: see [login](https:\u{2060}//evil.example/) @\u{2060}everyone <@\u{2060}123>`"
            ),
            "{content}"
        );
        assert_eq!(v["allowed_mentions"], json!({"parse": []}));
    }

    #[test]
    fn long_content_is_cut_at_2000_characters() {
        let alerts: Vec<Alert> = (0..100)
            .map(|i| Alert {
                url: format!("https://site-{i}.example.com/ä"),
                ..samples::down()
            })
            .collect();
        let v = payload(&Notification::Group(alerts), None);
        let content = v["content"].as_str().unwrap();
        assert_eq!(content.chars().count(), MAX_CONTENT);
        assert!(content.ends_with('…'));
    }
}
