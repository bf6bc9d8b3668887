//! The object form's `server` key: where the live status surface listens and who may read it.
//!
//! `"server": {"listen": "127.0.0.1:9736", "auth": {"token": {"env": "VAR"}}}` or
//! `"auth": {"basic": {"user": "ops", "password": {"env": "VAR"}}}`. Secrets take the same
//! forms as the notification channels' (a string, or `{"env": "VAR"}` read at start) and are
//! never shown. Unknown keys are errors, like everywhere else in the config. `--listen` on the
//! command line wins over `listen` here.

use std::net::SocketAddr;

use serde::Deserialize;
use serde_json::Value;

use super::secret_value;
use super::ConfigError;
use crate::model::Secret;

/// The validated `server` key.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Where to listen, if the config says.
    pub listen: Option<SocketAddr>,
    /// Who may read; `None`: anyone who can reach the address.
    pub auth: Option<Auth>,
    /// `per_monitor_metrics`: `/metrics` has per-monitor series (`None`: yes).
    pub per_monitor_metrics: Option<bool>,
    /// `probe_any_target`: `/probe` checks any http(s) URL, not only configured monitors.
    pub probe_any_target: bool,
}

/// Credentials every request must carry.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: Bearer TOKEN`.
    Token(Secret),
    /// `Authorization: Basic …` with this user and password.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<Value>,
    auth: Option<Value>,
    per_monitor_metrics: Option<bool>,
    probe_any_target: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasic {
    user: Value,
    password: Value,
}

/// Parses a listen address such as `127.0.0.1:9736` or `[::1]:9736` (port 0: any free port).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        format!("{s:?} is not an address to listen on; use e.g. 127.0.0.1:9736 or [::1]:9736")
    })
}

/// Validates the `server` value.
pub(super) fn parse(value: Value) -> Result<ServerConfig, ConfigError> {
    parse_with(value, &|var| std::env::var(var).ok())
        .map_err(|m| ConfigError::Shape(format!("server: {m}")))
}

fn parse_with(value: Value, env: &dyn Fn(&str) -> Option<String>) -> Result<ServerConfig, String> {
    let raw: Raw = serde_json::from_value(value).map_err(|e| {
        format!(
            "{e}; the accepted keys are \"listen\", \"auth\", \"per_monitor_metrics\" \
                 and \"probe_any_target\" (true or false)"
        )
    })?;
    let listen = match raw.listen {
        None => None,
        Some(Value::String(s)) => Some(parse_listen(&s)?),
        Some(other) => {
            return Err(format!(
                "listen must be a string such as \"127.0.0.1:9736\", found {other}"
            ))
        }
    };
    let auth = match raw.auth {
        None => None,
        Some(Value::Object(map)) if map.len() == 1 && map.contains_key("token") => {
            Some(Auth::Token(secret_value("auth.token", &map["token"], env)?))
        }
        Some(Value::Object(map)) if map.len() == 1 && map.contains_key("basic") => {
            let basic: RawBasic = serde_json::from_value(map["basic"].clone())
                .map_err(|e| format!("auth.basic: {e}; give \"user\" and \"password\""))?;
            let user = match basic.user {
                Value::String(u) if !u.is_empty() && !u.contains(':') => u,
                _ => return Err("auth.basic.user must be a non-empty string without ':'".into()),
            };
            let password = secret_value("auth.basic.password", &basic.password, env)?;
            Some(Auth::Basic { user, password })
        }
        Some(_) => {
            return Err(
                "auth must be {\"token\": {\"env\": \"VAR\"}} or {\"basic\": {\"user\": \"…\", \"password\": {\"env\": \"VAR\"}}}"
                    .into(),
            )
        }
    };
    Ok(ServerConfig {
        listen,
        auth,
        per_monitor_metrics: raw.per_monitor_metrics,
        probe_any_target: raw.probe_any_target.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(var: &str) -> Option<String> {
        (var == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn listen_and_auth_forms() {
        let c = parse_with(
            json!({"listen": "[::1]:0", "auth": {"token": {"env": "TOKEN"}}}),
            &env,
        )
        .unwrap();
        assert_eq!(c.listen, Some("[::1]:0".parse().unwrap()));
        assert!(matches!(c.auth, Some(Auth::Token(ref s)) if s.expose() == "s3cret"));
        let c = parse_with(
            json!({"auth": {"basic": {"user": "ops", "password": {"env": "TOKEN"}}}}),
            &env,
        )
        .unwrap();
        assert!(matches!(c.auth, Some(Auth::Basic { ref user, .. }) if user == "ops"));
    }

    #[test]
    fn prometheus_switches() {
        let c = parse_with(json!({}), &env).unwrap();
        assert_eq!((c.per_monitor_metrics, c.probe_any_target), (None, false));
        let c = parse_with(
            json!({"per_monitor_metrics": false, "probe_any_target": true}),
            &env,
        )
        .unwrap();
        assert_eq!(
            (c.per_monitor_metrics, c.probe_any_target),
            (Some(false), true)
        );
        let err = parse_with(json!({"probe_any_target": "yes"}), &env).unwrap_err();
        assert!(err.contains("probe_any_target"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (value, needle) in [
            (json!({"listen": "nowhere"}), "not an address"),
            (json!({"listen": 9736}), "listen"),
            (json!({"port": 1}), "listen"),
            (json!({"auth": {"token": {"env": "MISSING"}}}), "MISSING"),
            (json!({"auth": {"cookie": "x"}}), "auth must be"),
            (
                json!({"auth": {"basic": {"user": "a:b", "password": "p"}}}),
                "user",
            ),
        ] {
            let err = parse_with(value.clone(), &env).unwrap_err();
            assert!(err.contains(needle), "{value}: {err}");
        }
    }
}
