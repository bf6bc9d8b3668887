//! Integration tests for the `sitewatch` binary, run against local sites on 127.0.0.1 only
//! (`sitewatch::localsite`): no test touches the internet or does a DNS lookup.

mod checks;
mod config_errors;
mod history;
mod output;
mod schedule;
mod shutdown;
mod usage;
mod util;
