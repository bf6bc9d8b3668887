//! Serves sitewatch's local test site on 127.0.0.1 for a bounded time, for measuring by hand:
//!
//! ```text
//! cargo run --release --example localsite -- 300   # serve for 300 s, print the base URL
//! ```
//!
//! Routes are those of `sitewatch::localsite` (`/ok`, `/status/503`, `/hang`, …); the query
//! string is ignored, so `/ok?n=1`, `/ok?n=2`, … are distinct URLs served alike.

use std::time::Duration;

fn main() -> std::io::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("seconds to serve, e.g. 300"))
        .unwrap_or(300);
    let site = sitewatch::localsite::LocalSite::start()?;
    println!("{}", site.url(""));
    eprintln!(
        "serving for {seconds} s\n{}",
        sitewatch::localsite::routes_help()
    );
    std::thread::sleep(Duration::from_secs(seconds));
    Ok(())
}
