//! Integration tests for the `sitewatch` binary, run against local sites on 127.0.0.1 only
//! (`sitewatch::localsite`, and a local TLS site made at test time): no test touches the internet
//! or does a DNS lookup (DNS failures go through an injected resolver).

mod assertions;
mod authoring;
mod browser;
mod check;
mod checks;
mod config_errors;
mod config_fuzz;
mod degraded;
mod dns;
mod fleet;
mod fleet_e2e;
mod history;
mod history_guard;
mod hostile;
mod hostile_input;
mod kinds;
mod maintenance;
mod metrics;
mod notify;
mod notify_util;
mod once;
mod outages;
mod output;
mod output_failures;
mod pages;
mod phases;
mod pool_load;
mod raw_site;
mod redirects;
mod reload;
mod schedule;
mod secrets;
mod selfwatch;
mod serve;
mod shutdown;
mod stack;
mod tls;
mod tls_server;
mod usage;
mod util;
