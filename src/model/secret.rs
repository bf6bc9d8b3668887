//! A value that must never be shown: a URL with credentials, a header read from the
//! environment, a channel's token. [`Secret`] hides its value from `Debug`; only the one place
//! that sends it calls [`Secret::expose`].

use std::fmt;

/// A value that must not be shown: a webhook URL with a token in it, a header, a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}
