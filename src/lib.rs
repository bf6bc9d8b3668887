//! sitewatch: a URL uptime monitor built from plain threads, one bounded channel and blocking HTTP.
//!
//! A timing-wheel scheduler thread hands due checks to a fixed pool of workers through a bounded
//! queue; workers run blocking ureq requests and feed the stats, the printer and the scheduler;
//! a reporter thread logs a status line every minute. See ARCHITECTURE.md for who owns what.
//!
//! The binary is a thin shell over [`cli::run`]; the integration tests drive the same library
//! and binary against local HTTP sites ([`localsite`]).

#![forbid(unsafe_code)]

pub mod catalog;
pub mod check;
pub mod cli;
pub mod config;
pub mod counters;
pub mod demo;
pub mod engine;
pub mod error;
pub mod event;
pub mod histogram;
pub mod html;
pub mod localsite;
pub mod location;
pub mod maintenance;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod output;
pub mod pool_load;
pub mod private_file;
pub mod probe;
pub mod reload;
pub mod report;
pub mod reporter;
pub mod scheduler;
pub mod selfwatch;
pub mod serve;
pub mod signal;
pub mod sinks;
pub mod state;
pub mod stats;
pub mod store;
pub mod summary;
pub mod table;
pub mod text;
pub mod wheel;
pub mod worker;

pub use config::{Config, ConfigError, Monitor};
pub use error::Error;
pub use probe::{Cause, LocalKind, Nature, Observation, Outcome, Probe, Reason};
pub use summary::Summary;
