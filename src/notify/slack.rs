//! The `slack` channel: a Slack incoming webhook.
//!
//! Payload: `{"text": …}` — Slack's documented minimal message for incoming webhooks
//! (<https://api.slack.com/messaging/webhooks>), shown as the notification's plain text. Slack
//! reads `&`, `<` and `>` as markup in `text`, so they are escaped as its docs ask (which also
//! keeps text from forming `<!everyone>`-style mentions or `<url|label>` links); text a site chose
//! (failure details) is made inert ([`super::chat`]), and link previews are off
//! (`unfurl_links`, `unfurl_media`). The webhook
//! URL is a credential: put it in an environment variable (`"url": {"env": "SLACK_WEBHOOK_URL"}`).

use std::time::Duration;

use serde_json::{json, Value};

use super::config::Secret;
use super::{chat, http, render, Channel, Notification};

/// Posts to a Slack incoming webhook.
pub struct Slack {
    client: http::Client,
    url: Secret,
}

impl Slack {
    /// A Slack channel posting to `url`.
    pub fn new(url: &Secret, timeout: Duration) -> Slack {
        Slack {
            client: http::Client::new(timeout),
            url: url.clone(),
        }
    }
}

/// Slack's control characters in message text, escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The JSON payload.
pub fn payload(n: &Notification) -> Value {
    json!({
        "text": escape(&render::text(&chat::defanged(n))),
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

impl Channel for Slack {
    fn deliver(&self, n: &Notification) -> Result<(), String> {
        let body = serde_json::to_vec(&payload(n)).expect("a payload always serializes");
        self.client
            .post(self.url.expose(), &[], "application/json", &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::samples;

    #[test]
    fn payload_shapes() {
        assert_eq!(
            payload(&Notification::Alert(samples::down())),
            json!({"text": "DOWN api (https://api.example.com/health): status: `HTTP 503 Service Unavailable` (3 failed attempts)",
                   "unfurl_links": false, "unfurl_media": false})
        );
        assert_eq!(
            payload(&Notification::Alert(samples::recovered())),
            json!({"text": "RECOVERED api (https://api.example.com/health): up again after 12m 34s down",
                   "unfurl_links": false, "unfurl_media": false})
        );
        assert_eq!(
            payload(&samples::group()),
            json!({"text": "2 monitors down:\n\
                - DOWN api (https://api.example.com/health): status: `HTTP 503 Service Unavailable` (3 failed attempts)\n\
                - DOWN https://www.example.com/: connect: `connection refused` (3 failed attempts)",
                   "unfurl_links": false, "unfurl_media": false})
        );
        let digest = payload(&samples::digest());
        assert_eq!(digest.as_object().unwrap().len(), 3);
        assert!(digest["text"].as_str().unwrap().starts_with(
            "sitewatch daily digest: 2 monitors, 1 with incidents since 2026-11-22 10:00 +01:00\n"
        ));
    }

    #[test]
    fn markup_characters_are_escaped() {
        let mut a = samples::down();
        a.detail = Some("body contains \"<b>&\"".into());
        let text = payload(&Notification::Alert(a))["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(text.contains("\"&lt;b&gt;&amp;\""), "{text}");
    }

    #[test]
    fn server_text_renders_no_link_or_mention() {
        let mut a = samples::down();
        a.detail = Some("moved to <https://evil.example|click> @here".into());
        let text = payload(&Notification::Alert(a))["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            text.contains("`moved to &lt;https:\u{2060}//evil.example|click&gt; @\u{2060}here`"),
            "{text}"
        );
    }
}
