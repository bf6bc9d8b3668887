//! The `sitewatch` binary: parse the command line, run, map the result to an exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sitewatch::cli::Cli::parse();
    match sitewatch::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sitewatch: error: {e}");
            ExitCode::from(2)
        }
    }
}
