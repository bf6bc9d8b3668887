//! Failures of sitewatch itself, as opposed to failed checks (which are [`crate::probe::Outcome`]s).
//!
//! Each variant says what went wrong in words a user can act on; `main` prints it and exits 2.

use std::io;
use std::path::PathBuf;

use crate::config::{ConfigError, ConfigErrors};
use crate::store::StoreError;

/// Why sitewatch could not run.
#[derive(Debug)]
pub enum Error {
    /// The config file is missing, unreadable or invalid. Nothing was started.
    Config {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong with it.
        source: ConfigError,
    },
    /// The config file has several problems (each entry is validated on its own); one
    /// line each, then how many more were not listed.
    ConfigErrors {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong with it.
        errors: ConfigErrors,
    },
    /// A command-line value is out of range in a way the argument parser cannot see.
    Usage(String),
    /// The `--log-file` could not be opened for appending.
    LogFile {
        /// The path given.
        path: PathBuf,
        /// Why it could not be opened.
        source: io::Error,
    },
    /// A global logger was already installed (only possible when embedding the library).
    Logger,
    /// The Ctrl-C / SIGTERM handler could not be installed.
    Signal(io::Error),
    /// The operating system refused to start a thread.
    Thread(io::Error),
    /// The demo's local sites could not be started.
    Demo(io::Error),
    /// The history database could not be opened, created or migrated (nothing was started), or
    /// `sitewatch report` could not read it. The message says what to do.
    Store(StoreError),
    /// A report could not be read from the database or written out.
    Report(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Config { path, source } => write!(f, "{}: {source}", path.display()),
            Error::ConfigErrors { path, errors } => {
                let path = path.display();
                for (i, e) in errors.errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{path}: {e}")?;
                }
                if errors.more > 0 {
                    write!(f, "\n{path}: … and {} more", errors.more)?;
                }
                Ok(())
            }
            Error::Usage(message) => f.write_str(message),
            Error::LogFile { path, source } => {
                write!(
                    f,
                    "cannot open log file {} for appending: {source}",
                    path.display()
                )
            }
            Error::Logger => f.write_str("a logger is already installed"),
            Error::Signal(e) => write!(f, "cannot install the Ctrl-C/SIGTERM handler: {e}"),
            Error::Thread(e) => write!(f, "cannot start a thread: {e}"),
            Error::Demo(e) => write!(f, "cannot start the demo's local sites: {e}"),
            Error::Store(e) => e.fmt(f),
            Error::Report(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config { source, .. } => Some(source),
            Error::LogFile { source, .. } => Some(source),
            Error::Signal(e) | Error::Thread(e) | Error::Demo(e) => Some(e),
            Error::Store(e) => Some(e),
            Error::ConfigErrors { .. } | Error::Usage(_) | Error::Logger | Error::Report(_) => None,
        }
    }
}
