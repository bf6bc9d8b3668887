//! The object form's `connectivity` key: the canaries that tell sitewatch whether its own
//! network works.
//!
//! `"connectivity": {"canaries": ["https://…", "https://…"], "interval": "10s"}`: at least one
//! http(s) URL, each checked every `interval` (at least 1 s, 10 s when absent) with a timeout
//! of the interval or 5 s, whichever is shorter. Unknown keys are errors, like everywhere else
//! in the config. What the canaries are used for is [`crate::selfwatch::canary`].

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{interval_value, parse_entry, shown, ConfigError, Defaults, Monitor};

/// Time between two rounds of canary checks when `interval` is absent.
pub const DEFAULT_CANARY_INTERVAL: Duration = Duration::from_secs(10);
/// The longest a canary check may take.
pub const CANARY_TIMEOUT: Duration = Duration::from_secs(5);

/// The validated `connectivity` key.
#[derive(Debug, Clone)]
pub struct Connectivity {
    /// The canaries, as monitors (never empty). They are not monitors of the run: they are not
    /// scheduled, reported or stored, only used to judge sitewatch's own network.
    pub canaries: Vec<Monitor>,
    /// Time between two rounds of canary checks.
    pub interval: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    canaries: Option<Value>,
    interval: Option<Value>,
}

/// Validates the `connectivity` value.
pub(super) fn parse(value: Value) -> Result<Connectivity, ConfigError> {
    parse_inner(value).map_err(ConfigError::Connectivity)
}

fn parse_inner(value: Value) -> Result<Connectivity, String> {
    const HINT: &str =
        "an object such as {\"canaries\": [\"https://example.com\"], \"interval\": \"10s\"}";
    if !value.is_object() {
        return Err(format!("must be {HINT}, found {}", shown(&value)));
    }
    let raw: Raw = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let interval = match raw.interval {
        None => DEFAULT_CANARY_INTERVAL,
        Some(v) => interval_value(&v)?,
    };
    let timeout = interval.min(CANARY_TIMEOUT);
    let urls = match raw.canaries {
        Some(Value::Array(urls)) if !urls.is_empty() => urls,
        Some(Value::Array(_)) | None => {
            return Err(
                "canaries must list at least one http(s) URL that answers when \
                 sitewatch's own network works, such as [\"https://example.com\"]"
                    .to_owned(),
            )
        }
        Some(other) => {
            return Err(format!(
                "canaries must be a list of URLs, found {}",
                shown(&other)
            ))
        }
    };
    let mut canaries = Vec::with_capacity(urls.len());
    for (i, url) in urls.into_iter().enumerate() {
        if !url.is_string() {
            return Err(format!(
                "canary {} must be a URL string, found {}",
                i + 1,
                shown(&url)
            ));
        }
        let shown =
            super::shown_url::redact_userinfo(url.as_str().unwrap_or_default()).into_owned();
        let entry = json!({
            "url": url,
            "interval": interval.as_secs(),
            "timeout": humantime::format_duration(timeout).to_string(),
        });
        let monitor = parse_entry(entry, &Defaults::default())
            .map_err(|message| format!("canary {} ({shown:?}): {message}", i + 1))?;
        canaries.push(monitor);
    }
    // Canaries have no names, so they cannot share one; ids only make their lines tellable apart.
    super::identity::assign(&mut canaries)
        .map_err(|d| format!("canaries {} and {} share a name", d.first + 1, d.second + 1))?;
    Ok(Connectivity { canaries, interval })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Connectivity, String> {
        parse_inner(serde_json::from_str(text).unwrap())
    }

    #[test]
    fn canaries_and_interval_are_validated() {
        let c = parse(
            r#"{"canaries": ["http://127.0.0.1:9/", "https://a.example"], "interval": "2s"}"#,
        )
        .unwrap();
        assert_eq!(c.canaries.len(), 2);
        assert_eq!(c.interval, Duration::from_secs(2));
        assert_eq!(c.canaries[0].timeout, Duration::from_secs(2));
        let c = parse(r#"{"canaries": ["http://127.0.0.1:9/"]}"#).unwrap();
        assert_eq!(c.interval, DEFAULT_CANARY_INTERVAL);
        assert_eq!(c.canaries[0].timeout, CANARY_TIMEOUT);
    }

    #[test]
    fn the_key_sits_in_the_object_form_once_and_names_itself_in_errors() {
        use crate::config::Config;
        let urls = r#""urls": [{"url": "http://127.0.0.1:9/"}]"#;
        let ok = Config::parse(&format!(
            r#"{{"connectivity": {{"canaries": ["http://127.0.0.1:9/c"]}}, {urls}}}"#
        ))
        .unwrap();
        assert_eq!(ok.connectivity.unwrap().canaries.len(), 1);
        assert!(Config::parse(&format!("{{{urls}}}"))
            .unwrap()
            .connectivity
            .is_none());
        let twice = Config::parse(&format!(
            r#"{{"connectivity": {{"canaries": [], "canaries": []}}, {urls}}}"#
        ))
        .unwrap_err()
        .to_string();
        assert!(
            twice.starts_with("connectivity: the key \"canaries\" is given twice"),
            "{twice}"
        );
        let bad = Config::parse(&format!(r#"{{"connectivity": {{}}, {urls}}}"#))
            .unwrap_err()
            .to_string();
        assert!(bad.starts_with("connectivity: canaries must list"), "{bad}");
    }

    #[test]
    fn bad_connectivity_says_what_to_fix() {
        let cases = [
            (r#"[]"#, "must be an object"),
            (r#"{}"#, "at least one http(s) URL"),
            (r#"{"canaries": []}"#, "at least one http(s) URL"),
            (
                r#"{"canaries": "http://a.example"}"#,
                "must be a list of URLs",
            ),
            (r#"{"canaries": [3]}"#, "canary 1 must be a URL string"),
            (
                r#"{"canaries": ["ftp://a.example"]}"#,
                "canary 1 (\"ftp://a.example\"): scheme",
            ),
            (
                r#"{"canaries": ["http://a.example"], "interval": "500ms"}"#,
                "interval",
            ),
            (
                r#"{"canaries": ["http://a.example"], "every": "5s"}"#,
                "unknown field `every`",
            ),
            (
                r#"{"canaries": ["ftp://me:hunter2@a.example"]}"#,
                "canary 1 (\"ftp://me:***@a.example\"): scheme",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
