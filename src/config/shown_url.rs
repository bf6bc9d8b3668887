//! A monitor's URL as it is shown, as opposed to as it is sent.
//!
//! A URL may carry a credential: userinfo (`https://user:pass@host/`, sent as Basic auth) or,
//! when it is read from the environment (`{"env": "VAR"}`), anything at all (a token in the
//! path or query). Every output path (check and state lines, stderr, the log file, the history
//! database, reports, notifications, the command channel's environment, config errors) prints
//! the *shown* form built here once, at load, so none of them can leak what the config hid:
//!
//! - `https://user:pass@host/x` → `https://user:***@host/x`
//! - `https://token@host/x` (a user name alone, often a token) → `https://***@host/x`
//! - a URL from `{"env": "VAR"}` → `env:VAR` (no part of it is shown)
//!
//! [`redact_userinfo`] is also applied to URLs that come back from a check (the final URL
//! after redirects), which may repeat the configured userinfo.

use std::borrow::Cow;

/// What replaces a password (or a lone user name) in a shown URL.
pub const REDACTED: &str = "***";

/// `url` with the password of its userinfo replaced by `***` (`user:***@host`), or the whole
/// userinfo when it has no password (`***@host`). A URL without userinfo is returned as is.
pub fn redact_userinfo(url: &str) -> Cow<'_, str> {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return Cow::Borrowed(url);
    };
    let rest = &url[start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    // The last `@` ends the userinfo: a password may contain `@` only percent-encoded, but
    // a careless one that does not is still hidden whole.
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(url);
    };
    let userinfo = &authority[..at];
    let shown_user = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:{REDACTED}"),
        None => REDACTED.to_owned(),
    };
    Cow::Owned(format!(
        "{}{shown_user}{}",
        &url[..start],
        &url[start + at..]
    ))
}

/// The shown form of a URL read from the environment variable `var`.
pub fn from_env(var: &str) -> String {
    format!("env:{var}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_redacted_user_kept() {
        assert_eq!(
            redact_userinfo("https://alice:s3cret@example.com/x?q=1"),
            "https://alice:***@example.com/x?q=1"
        );
        assert_eq!(
            redact_userinfo("http://alice:@127.0.0.1:8080"),
            "http://alice:***@127.0.0.1:8080"
        );
    }

    #[test]
    fn lone_user_name_is_hidden_whole() {
        assert_eq!(
            redact_userinfo("https://ghp_token@example.com/"),
            "https://***@example.com/"
        );
    }

    #[test]
    fn an_at_sign_in_the_password_or_the_path() {
        assert_eq!(
            redact_userinfo("https://a:p@ss@example.com/"),
            "https://a:***@example.com/"
        );
        // An `@` after the authority is not userinfo.
        assert_eq!(
            redact_userinfo("https://example.com/users/@me?x=a@b"),
            "https://example.com/users/@me?x=a@b"
        );
        assert!(matches!(
            redact_userinfo("https://example.com/@x"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn urls_without_userinfo_are_borrowed() {
        assert!(matches!(
            redact_userinfo("https://example.com/"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(redact_userinfo("not a url"), Cow::Borrowed(_)));
    }
}
