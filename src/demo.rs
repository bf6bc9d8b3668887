//! `sitewatch demo`: every feature at work with no internet.
//!
//! Starts local sites on 127.0.0.1 inside the process ([`LocalSite`]) — healthy, slow, erroring,
//! flaky, hanging, redirecting, oversized and dead — and monitors them with short intervals
//! through the same config validation, scheduler and pool as a real run.

use crate::config::{Config, ConfigError};
use crate::localsite::{refused_url, LocalSite};

/// Body size of the demo's oversized page: just over the default 10 MiB cap.
const BIG_BODY: u64 = 11 * 1024 * 1024;

/// The demo's local sites and the config that monitors them. Keep the value alive for as long
/// as the monitors run: dropping it stops the sites.
pub struct Demo {
    /// The local HTTP server behind every demo URL except the dead one.
    pub site: LocalSite,
    /// Monitors for each behaviour.
    pub config: Config,
}

/// Starts the local sites and builds the demo config.
pub fn start() -> std::io::Result<Demo> {
    let site = LocalSite::start()?;
    let config = config_for(&site).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(Demo { site, config })
}

fn config_for(site: &LocalSite) -> Result<Config, ConfigError> {
    let entry = |name: &str, url: String, interval: &str| serde_json::json!({"name": name, "url": url, "interval": interval});
    let urls = vec![
        entry("healthy", site.url("/ok"), "3s"),
        entry("redirects twice", site.url("/redirect/2"), "3s"),
        entry("gzip body", site.url("/gzip/50000"), "4s"),
        entry("slow (1.5 s)", site.url("/slow-headers/1500"), "3s"),
        entry("server error", site.url("/status/500"), "3s"),
        entry("not found", site.url("/status/404"), "5s"),
        entry("flaky", site.url("/flaky"), "3s"),
        entry("hangs past timeout", site.url("/hang"), "4s"),
        entry("too big", site.url(&format!("/bytes/{BIG_BODY}")), "10s"),
        entry("truncated", site.url("/truncated/1000"), "5s"),
        entry("not HTTP", site.url("/garbage"), "5s"),
        entry("redirect loop", site.url("/redirect-loop"), "6s"),
        entry("dead (refused)", refused_url(), "3s"),
    ];
    let text = serde_json::json!({
        // Short retries so outages are declared within seconds of starting.
        "defaults": {"timeout": "2s", "retry_delay": "500ms"},
        "urls": urls,
    })
    .to_string();
    Config::parse(&text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_config_is_valid_and_local() {
        let demo = super::start().expect("local sites start");
        assert_eq!(demo.config.monitors.len(), 13);
        assert!(demo
            .config
            .monitors
            .iter()
            .all(|m| m.uri().unwrap().host() == Some("127.0.0.1")));
    }
}
