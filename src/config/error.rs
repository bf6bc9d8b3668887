//! Why a configuration is refused: [`ConfigError`] (one problem, one actionable line) and
//! [`ConfigErrors`] (every problem of a file, bounded), with the helpers that quote the
//! config in a message.
//!
//! Guarantees: a message is one line, quotes at most `MAX_QUOTED` characters of any value and
//! is at most `MAX_MESSAGE` bytes, with control and bidi characters escaped, whatever the file
//! holds.

use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

/// Most problems a [`ConfigErrors`] lists; the rest are counted.
pub const MAX_LISTED: usize = 50;

/// Every problem found in a config, in file order: up to [`MAX_LISTED`] of them, and how
/// many more there were. Never empty when returned as an error.
#[derive(Debug, Default)]
pub struct ConfigErrors {
    /// The problems listed, each one line.
    pub errors: Vec<ConfigError>,
    /// How many more were found but not kept.
    pub more: usize,
}

impl ConfigErrors {
    pub(super) fn push(&mut self, error: ConfigError) {
        if self.errors.len() < MAX_LISTED {
            self.errors.push(error);
        } else {
            self.more += 1;
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The first problem, for callers that report one.
    pub fn first(self) -> ConfigError {
        self.errors.into_iter().next().unwrap_or(ConfigError::Empty)
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> ConfigErrors {
        ConfigErrors {
            errors: vec![error],
            more: 0,
        }
    }
}

/// Why a configuration was rejected. `Display` gives one actionable line.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    Read {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The text is not valid JSON.
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// Column of the error as reported by serde_json (1-based; 0 at the
        /// very start of a line, e.g. for an unexpected end of file).
        column: usize,
        /// serde_json's description, without the position.
        message: String,
    },
    /// The top level has the wrong shape (not an array or object, unknown
    /// key, `urls` missing or not an array).
    Shape(String),
    /// There are no entries, so nothing to monitor.
    Empty,
    /// A problem in the `defaults` object.
    Defaults(String),
    /// A problem in the `notify` list; the message names the channel.
    Notify(String),
    /// A problem in the `connectivity` object.
    Connectivity(String),
    /// A problem in the `maintenance` list; the message names the window.
    Maintenance(String),
    /// Two entries have the same `name` (names identify monitors, so they must differ).
    DuplicateName {
        /// 0-based position of the earlier entry.
        first: usize,
        /// 0-based position of the later entry.
        second: usize,
        /// The name both have.
        name: String,
    },
    /// The text looks like YAML (a `key: value`, `- item` or `---` line) and is not JSON.
    Yaml {
        /// 1-based line that looks like YAML.
        line: usize,
    },
    /// A problem with the `include` list (a pattern, a file that cannot be read, a cycle).
    Include(String),
    /// A problem in a file named by `include`.
    Included {
        /// The included file, as found from its pattern.
        path: PathBuf,
        /// What is wrong in it (entry positions count within that file).
        source: Box<ConfigError>,
    },
    /// A problem in one entry.
    Entry {
        /// 0-based position of the entry in the list.
        index: usize,
        /// The entry's `url`, when it has a non-empty string one.
        url: Option<String>,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ConfigError {
    /// The message for a URL given on the command line: named by the URL (its shown form, no
    /// password) rather than by the "entry N" of the list it is checked as.
    pub fn for_command_line(&self) -> String {
        match self {
            ConfigError::Entry {
                url: Some(url),
                message,
                ..
            } => format!(
                "the URL {:?} given on the command line: {}",
                clip(url, MAX_QUOTED),
                clip(message, MAX_MESSAGE)
            ),
            other => format!("a URL on the command line: {other}"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Syntax {
                line,
                column,
                message,
            } => write!(
                f,
                "line {line}, column {column}: {}",
                clip(message, MAX_MESSAGE)
            ),
            ConfigError::Shape(message) => f.write_str(&clip(message, MAX_MESSAGE)),
            ConfigError::Yaml { line } => write!(
                f,
                "line {line}: this looks like YAML; sitewatch reads JSON (with comments), \
                 such as [{{\"url\": \"https://example.com\"}}]"
            ),
            ConfigError::Include(message) => write!(f, "include: {}", clip(message, MAX_MESSAGE)),
            ConfigError::Included { path, source } => {
                write!(f, "included file {}: {source}", path.display())
            }
            ConfigError::Empty => f.write_str(
                "no URLs listed, so there is nothing to monitor; \
                 add at least one entry such as {\"url\": \"https://example.com\"}",
            ),
            ConfigError::Defaults(message) => {
                write!(f, "defaults: {}", clip(message, MAX_MESSAGE))
            }
            ConfigError::Notify(message) => write!(f, "notify: {}", clip(message, MAX_MESSAGE)),
            ConfigError::Connectivity(message) => {
                write!(f, "connectivity: {}", clip(message, MAX_MESSAGE))
            }
            ConfigError::Maintenance(message) => {
                write!(f, "maintenance: {}", clip(message, MAX_MESSAGE))
            }
            ConfigError::DuplicateName {
                first,
                second,
                name,
            } => write!(
                f,
                "entries {} (index {first}) and {} (index {second}) have the same name {:?}; \
                 a name identifies its monitor (its id, in lines, history, notifications and \
                 page addresses), so give each entry its own name",
                first + 1,
                second + 1,
                clip(name, MAX_QUOTED)
            ),
            // Both the 1-based position (how people count) and the 0-based
            // index (how tools such as jq count) so either finds the entry.
            ConfigError::Entry {
                index,
                url: Some(url),
                message,
            } => write!(
                f,
                "entry {} (index {index}, {:?}): {}",
                index + 1,
                clip(url, MAX_QUOTED),
                clip(message, MAX_MESSAGE)
            ),
            ConfigError::Entry {
                index,
                url: None,
                message,
            } => write!(
                f,
                "entry {} (index {index}): {}",
                index + 1,
                clip(message, MAX_MESSAGE)
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Turns a serde_json syntax error into [`ConfigError::Syntax`].
pub(super) fn syntax_error(e: serde_json::Error) -> ConfigError {
    let (line, column) = (e.line(), e.column());
    // serde_json's Display ends in " at line L column C"; we print the
    // position ourselves, first, so strip it to avoid saying it twice.
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ConfigError::Syntax {
        line,
        column,
        message,
    }
}

/// Longest text quoted from the config in an error message, in characters: a 100 MB value
/// must not make a 100 MB message.
pub(super) const MAX_QUOTED: usize = 200;
/// Longest error message, in bytes (a last bound for everything not quoted through [`shown`],
/// such as an unknown key that serde names).
pub(super) const MAX_MESSAGE: usize = 2000;

/// `text` cut to at most `max` bytes on a character boundary, with a marker when cut, and with
/// control and bidi characters escaped (`\n`, `\u{202e}`), so a message quoting the config (as
/// serde does an unknown key) stays one honest line.
pub(super) fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.chars().any(forbidden_in_name) {
        let escaped: String = text
            .chars()
            .map(|c| {
                if forbidden_in_name(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        return clip(&escaped, max).into_owned().into();
    }
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len()).into()
}

/// Whether `c` must not appear in a name: C0 and C1 controls, DEL, and the Unicode bidi
/// controls (embeddings, overrides, isolates, marks), which forge log lines or reorder what a
/// terminal or a report shows.
pub(super) fn forbidden_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// A value as it should appear in an error: scalars verbatim (strings quoted
/// and escaped, so the message stays on one line, and cut after [`MAX_QUOTED`]
/// characters), containers by kind only.
pub(crate) fn shown(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() > MAX_QUOTED => {
            let head: String = s.chars().take(MAX_QUOTED).collect();
            format!("{head:?}… ({} bytes in all)", s.len())
        }
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) | Value::Object(_) => kind(value).to_owned(),
        scalar => scalar.to_string(),
    }
}

/// The JSON type of a value, with an article, for "found ..." messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
