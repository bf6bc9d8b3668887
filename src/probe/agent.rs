//! The shared ureq [`Agent`]: one per run, cloned cheaply into every worker.

use ureq::Agent;

use super::ProbeSettings;

/// Builds the agent every check goes through.
///
/// Choices, deliberately: status codes are data (`http_status_as_error(false)`); no connection
/// reuse, so every check measures a real connect like a first-time visitor; proxy variables in
/// the environment are ignored, so a monitor measures the site and not a proxy that happens to
/// be configured for other tools.
pub(super) fn build(settings: &ProbeSettings) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(settings.max_redirects)
        .max_redirects_will_error(true)
        .proxy(None)
        .user_agent(settings.user_agent.as_str())
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
        .into()
}
