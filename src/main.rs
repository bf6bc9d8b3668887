//! The `sitewatch` binary: parse the command line, run, map the result to an exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sitewatch::cli::Cli::parse();
    match sitewatch::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Most errors are one line; a config with several problems gives one line each.
            for line in e.to_string().lines() {
                eprintln!("sitewatch: error: {line}");
            }
            ExitCode::from(2)
        }
    }
}
