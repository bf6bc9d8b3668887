//! Reading a config file: bounded in size, refusing what is not a regular file, and turning
//! the text into plain JSON for the parser (byte-order mark, comments and trailing commas
//! removed), with a pointed message for a file that looks like YAML.
//!
//! Guarantees: never reads more than [`MAX_CONFIG_BYTES`], never blocks on a FIFO or device.

use std::path::Path;

use super::error::ConfigError;
use super::source;

/// Text as read, made plain JSON for the parser: no byte-order mark (editors on Windows
/// like to add one, and it carries no meaning), comments and trailing commas blanked (see
/// [`source`]). An empty file is refused here, with a sentence rather than "EOF while parsing".
pub(super) fn prepare(mut text: String) -> Result<String, ConfigError> {
    if text.starts_with('\u{feff}') {
        text.replace_range(..3, "");
    }
    let text = source::strip(text).map_err(|at| ConfigError::Syntax {
        line: at.line,
        column: at.column,
        message: "this /* comment is never closed by */".to_owned(),
    })?;
    if text.trim().is_empty() {
        return Err(ConfigError::Empty);
    }
    Ok(text)
}

/// A syntax error in what looks like YAML becomes a sentence saying so.
pub(super) fn yaml_or(error: ConfigError, text: &str) -> ConfigError {
    match (&error, source::looks_like_yaml(text)) {
        (ConfigError::Syntax { .. }, Some(line)) => ConfigError::Yaml { line },
        _ => error,
    }
}

/// Largest config file read, in bytes: room for about three million plain entries.
pub const MAX_CONFIG_BYTES: u64 = 256 << 20;

/// Reads a config file as text, refusing what is not a regular file or a pipe, and anything
/// longer than [`MAX_CONFIG_BYTES`].
pub(super) fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    use std::os::unix::fs::FileTypeExt;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    let too_large = || {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "it is larger than the {} MiB a config may have",
                MAX_CONFIG_BYTES >> 20
            ),
        )
    };
    if kind.is_file() && meta.len() > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    if !(kind.is_file() || kind.is_fifo()) {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("it is {what}; give a JSON file"),
        ));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    Ok(text)
}
