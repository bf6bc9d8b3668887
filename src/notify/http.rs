//! The HTTP side of the webhook, Slack, Discord and ntfy channels: one POST, judged by its status.
//!
//! Each HTTP channel has its own ureq [`Agent`], never the checks' agent, with a global timeout
//! (the channel's `timeout`, 10 s by default) covering DNS to the last byte, so a hung endpoint
//! costs one delivery thread at most that long per attempt. Proxy variables are ignored, as for
//! checks. Error messages never contain the URL: for chat services it is the credential.
//!
//! Redirects are not followed: a channel's headers (often a credential) must reach the
//! configured URL only, and a message that landed somewhere else is not delivered. A 3xx
//! answer is a failed delivery that says so.

use std::time::Duration;

use ureq::Agent;

/// Longest part of an error response quoted in a failure reason.
const EXCERPT: usize = 200;

/// One HTTP channel's client: its own agent, statuses as data, `timeout` on each request.
pub(super) struct Client {
    agent: Agent,
    timeout: Duration,
}

impl Client {
    /// A client whose requests each take at most `timeout`.
    pub fn new(timeout: Duration) -> Client {
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .proxy(None)
            .user_agent(format!("sitewatch/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { agent, timeout }
    }

    /// POSTs `body` to `url` with `headers`; any 2xx is delivered.
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &[u8],
    ) -> Result<(), String> {
        let mut request = self.agent.post(url).content_type(content_type);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send(body).map_err(|e| match e {
            ureq::Error::Timeout(_) => format!(
                "timeout: no complete answer within {}",
                humantime::format_duration(self.timeout)
            ),
            e => e.to_string().replace(url, "<url>"),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_redirection() {
            return Err(format!(
                "HTTP {} {}: redirects are not followed (the channel's headers go to its own URL \
                 only); set url to the address it redirects to",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ));
        }
        let excerpt = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let excerpt: String = excerpt
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(EXCERPT)
            .collect();
        let reason = status.canonical_reason().unwrap_or("");
        Err(if excerpt.is_empty() {
            format!("HTTP {} {reason}", status.as_u16())
        } else {
            format!("HTTP {} {reason}: {excerpt}", status.as_u16())
        })
    }
}
