//! Benchmarks of the history, through the same code a run uses (`Store::open`, the writer
//! thread, `report::build`), bounded in size and time. `scripts/bench-history.sh` runs them and
//! writes BENCHMARKS-history.md.
//!
//! ```text
//! cargo run --release --example bench_history -- writer [--rows 1000000] [--monitors 1000] [--batch 500] [--runs 5]
//! cargo run --release --example bench_history -- fill --db PATH [--monitors 1000] [--days 30] [--interval 60] [--demo [--base URL]]
//! cargo run --release --example bench_history -- report --db PATH [--days 30] [--runs 5]
//! ```
//!
//! `writer`: events pushed as fast as a producer thread can make them through the writer's
//! channel into a fresh database; rows per second from the first send to the last commit.
//! `fill`: a synthetic history ending now (latency with a daily swing and noise, outages with
//! their state transitions), written through the writer; `--demo` makes six named monitors with
//! a story (for the README's screenshots) instead of `--monitors` generic ones, and `--base URL`
//! puts their URLs under a local site (`URL/api/health`, …) so a live run can monitor them.
//! `report`: time to build the report over the last `--days` and render it in every format.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::bounded;
use sitewatch::config::Config;
use sitewatch::event::{Event, StateChange};
use sitewatch::probe::{Observation, Outcome, Reason};
use sitewatch::report::{self, Query, ReportFormat};
use sitewatch::state::State;
use sitewatch::stats::Stats;
use sitewatch::store::writer::{History, Settings, Writer, CHANNEL};
use sitewatch::store::{epoch_ms, from_epoch_ms, open_for_report, Store};
use sitewatch::worker::CheckRecord;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("bad value for {name}: {v}"))
        })
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A tiny deterministic random source (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn config(urls: &[(String, Option<String>)], interval_s: u64) -> Config {
    let entries: Vec<serde_json::Value> = urls
        .iter()
        .map(|(url, name)| {
            let mut e = serde_json::json!({"url": url, "interval": interval_s});
            if let Some(n) = name {
                e["name"] = serde_json::Value::String(n.clone());
            }
            e
        })
        .collect();
    Config::parse(&serde_json::Value::Array(entries).to_string()).expect("valid config")
}

fn check(monitor: usize, ts: i64, ms: f64, down: Option<Reason>) -> Event {
    Event::Check(Arc::new(CheckRecord {
        monitor,
        started_at: from_epoch_ms(ts),
        lateness: Duration::from_micros(150),
        queued: Duration::from_micros(20),
        observation: Observation {
            status: match down {
                None => Some(200),
                Some(Reason::Status) => Some(503),
                Some(_) => None,
            },
            bytes: down.is_none().then_some(4096),
            ..Observation::without_response(
                Duration::from_secs_f64(ms / 1000.0),
                match down {
                    None => Outcome::Up,
                    Some(reason) => Outcome::Down {
                        reason,
                        detail: match reason {
                            Reason::Status => "HTTP 503 Service Unavailable".into(),
                            Reason::Timeout => "timed out after 10s".into(),
                            _ => "connection refused".into(),
                        },
                    },
                },
            )
        },
    }))
}

fn change(monitor: usize, ts: i64, from: State, to: State, reason: Option<Reason>) -> Event {
    Event::State(Arc::new(StateChange {
        monitor,
        at: from_epoch_ms(ts),
        from,
        to,
        since: from_epoch_ms(ts),
        attempts: if to == State::Down { 3 } else { 0 },
        reason,
        status: (reason == Some(Reason::Status)).then_some(503),
        detail: reason.map(|r| {
            match r {
                Reason::Status => "HTTP 503 Service Unavailable",
                Reason::Timeout => "timed out after 10s",
                _ => "connection refused",
            }
            .to_string()
        }),
    }))
}

/// Runs a writer over a fresh store at `db` and feeds it `produce`'s events; returns the
/// seconds from the first send to the last commit and the rows written.
fn drive(
    db: &Path,
    config: &Config,
    batch: usize,
    produce: impl FnOnce(&dyn Fn(Event)) + Send,
) -> (f64, u64) {
    let mut store = Store::open(db).expect("open store");
    // Registered here, so that the figures are those of the writes alone.
    store.register(&config.monitors).expect("register monitors");
    let stats = Arc::new(Stats::new(config.monitors.len(), 1));
    let settings = Settings {
        batch_rows: batch,
        ..Settings::default()
    };
    let writer = Writer::new(
        History { store, settings },
        Arc::new(config.monitors.clone()),
        Arc::clone(&stats),
    );
    let (tx, rx) = bounded(CHANNEL);
    let started = Instant::now();
    let thread = std::thread::spawn(move || writer.run(rx));
    std::thread::scope(|s| {
        s.spawn(|| {
            let send = |e: Event| tx.send(e).expect("writer alive");
            produce(&send);
        });
    });
    drop(tx);
    let written = thread.join().expect("writer thread");
    assert_eq!(written.failed, 0, "nothing unwritten");
    (
        started.elapsed().as_secs_f64(),
        written.checks + written.transitions,
    )
}

fn writer_bench(args: &[String]) {
    let rows: u64 = arg(args, "--rows", 1_000_000);
    let monitors: usize = arg(args, "--monitors", 1000);
    let batch: usize = arg(args, "--batch", 500);
    let runs: usize = arg(args, "--runs", 5);
    let urls: Vec<(String, Option<String>)> = (0..monitors)
        .map(|i| (format!("https://host{i}.example/"), None))
        .collect();
    let config = config(&urls, 60);
    let t0 = epoch_ms(SystemTime::now()) - 30 * 86_400_000;
    let mut rates = Vec::new();
    for run in 0..runs {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("bench.db");
        let (secs, written) = drive(&db, &config, batch, |send| {
            let step = 60_000 / monitors as i64;
            for i in 0..rows {
                let m = (i % monitors as u64) as usize;
                let ts = t0 + (i / monitors as u64) as i64 * 60_000 + m as i64 * step;
                send(check(m, ts, 20.0 + (i % 97) as f64, None));
            }
        });
        let rate = written as f64 / secs;
        let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "run {}: {written} rows in {secs:.2} s = {rate:.0} rows/s, {:.1} MB",
            run + 1,
            size as f64 / 1e6
        );
        rates.push(rate);
    }
    println!(
        "writer rows={rows} monitors={monitors} batch={batch} runs={runs} median_rows_per_s={:.0}",
        median(rates)
    );
}

/// One synthetic monitor: latency model and outages (start offset from the window's start, ms;
/// length, ms; reason).
struct Profile {
    url: String,
    name: Option<String>,
    base_ms: f64,
    swing: f64,
    slow: Option<(i64, i64, f64)>,
    outages: Vec<(i64, i64, Reason)>,
}

fn demo_profiles(span: i64) -> Vec<Profile> {
    let h = 3_600_000;
    let d = 24 * h;
    let p = |url: &str, name: &str, base_ms: f64| Profile {
        url: url.into(),
        name: Some(name.into()),
        base_ms,
        swing: 0.25,
        slow: None,
        outages: Vec::new(),
    };
    let mut home = p("https://www.example.com/", "homepage", 85.0);
    home.outages = vec![(2 * d + 14 * h, 25 * 60_000, Reason::Status)];
    let mut api = p("https://api.example.com/health", "api", 45.0);
    api.outages = vec![
        (d + 3 * h, 6 * 60_000, Reason::Connect),
        (3 * d + 20 * h, 12 * 60_000, Reason::Connect),
        (5 * d + 9 * h, 9 * 60_000, Reason::Timeout),
    ];
    let mut shop = p("https://shop.example.com/", "shop", 240.0);
    shop.slow = Some((4 * d + 8 * h, 10 * h, 3.5));
    let status = p("https://status.example.com/", "status page", 30.0);
    let mut legacy = p("https://legacy.example.net/", "legacy", 420.0);
    legacy.outages = vec![(5 * d + 22 * h, 7 * h, Reason::Timeout)];
    let mut cdn = p("https://cdn.example.net/logo.png", "cdn", 14.0);
    cdn.swing = 0.1;
    cdn.outages = vec![(span - 40 * 60_000, 40 * 60_000, Reason::Status)];
    vec![home, api, shop, status, legacy, cdn]
}

fn generic_profiles(monitors: usize, span: i64) -> Vec<Profile> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..monitors)
        .map(|k| {
            let mut outages = Vec::new();
            // About one monitor in four has an outage or two in the period.
            if k % 4 == 0 {
                for _ in 0..1 + (k / 4) % 2 {
                    let start = (rng.unit() * (span - 4 * 3_600_000) as f64) as i64;
                    let len = 5 * 60_000 + (rng.unit() * 3.0 * 3_600_000.0) as i64;
                    let reason = [Reason::Connect, Reason::Status, Reason::Timeout][k % 3];
                    outages.push((start, len, reason));
                }
                outages.sort_by_key(|o| o.0);
            }
            Profile {
                url: format!("https://host{k}.example/"),
                name: None,
                base_ms: 15.0 + (k * 37 % 400) as f64,
                swing: 0.3,
                slow: None,
                outages,
            }
        })
        .collect()
}

fn fill(args: &[String]) {
    let db = PathBuf::from(arg(args, "--db", String::from("history-bench.db")));
    let demo = args.iter().any(|a| a == "--demo");
    let days: i64 = arg(args, "--days", 30);
    let interval_s: i64 = arg(args, "--interval", 60);
    let span = days * 86_400_000;
    let profiles = if demo {
        let mut profiles = demo_profiles(span);
        let base = arg(args, "--base", String::new());
        if !base.is_empty() {
            for p in &mut profiles {
                // https://api.example.com/health -> BASE/api/health
                let u = url::Url::parse(&p.url).expect("demo URL");
                let host = u.host_str().unwrap_or("").split('.').next().unwrap_or("");
                p.url = format!("{}/{host}{}", base.trim_end_matches('/'), u.path());
            }
        }
        profiles
    } else {
        generic_profiles(arg(args, "--monitors", 1000), span)
    };
    let urls: Vec<(String, Option<String>)> = profiles
        .iter()
        .map(|p| (p.url.clone(), p.name.clone()))
        .collect();
    let config = config(&urls, interval_s as u64);
    let end = epoch_ms(SystemTime::now());
    let start = end - span;
    let step = interval_s * 1000;
    let n = profiles.len() as i64;
    let (secs, written) = drive(&db, &config, 500, |send| {
        let mut rng = Rng(42);
        let mut state = vec![State::Unknown; profiles.len()];
        let ticks = span / step;
        for t in 0..ticks {
            for (k, p) in profiles.iter().enumerate() {
                let ts = start + t * step + (k as i64 * step) / n;
                let offset = ts - start;
                let outage = p
                    .outages
                    .iter()
                    .find(|(s, len, _)| offset >= *s && offset < s + len);
                let down = outage.map(|o| o.2);
                let hour = (ts / 3_600_000 % 24) as f64;
                let daily = 1.0 + p.swing * (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin();
                // Mostly near 1, with a tail of slow checks up to 6× the typical time.
                let noise = (-(rng.unit().max(1e-9)).ln() * 0.35).exp().min(6.0);
                let slow = p
                    .slow
                    .filter(|(s, len, _)| offset >= *s && offset < s + len)
                    .map_or(1.0, |x| x.2);
                let ms = match down {
                    Some(Reason::Timeout) => 10_000.0,
                    Some(_) => 1.0 + rng.unit() * 3.0,
                    None => p.base_ms * daily * noise * slow,
                };
                send(check(k, ts, ms, down));
                let want = if down.is_some() {
                    State::Down
                } else {
                    State::Up
                };
                if want != state[k] {
                    send(change(k, ts + 1, state[k], want, down));
                    state[k] = want;
                }
            }
        }
    });
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!(
        "fill monitors={} days={days} interval_s={interval_s} rows={written} secs={secs:.1} rows_per_s={:.0} db_mb={:.0}",
        profiles.len(),
        written as f64 / secs,
        size as f64 / 1e6
    );
}

fn report_bench(args: &[String]) {
    let db = PathBuf::from(arg(args, "--db", String::from("history-bench.db")));
    let days: i64 = arg(args, "--days", 30);
    let runs: usize = arg(args, "--runs", 5);
    let conn = open_for_report(&db).expect("open database");
    let now = epoch_ms(SystemTime::now());
    let query = Query {
        from: now - days * 86_400_000,
        to: now,
        pattern: None,
        now,
    };
    let mut build_s = Vec::new();
    let mut formats: Vec<(ReportFormat, Vec<f64>, usize)> = [
        ReportFormat::Table,
        ReportFormat::Json,
        ReportFormat::Csv,
        ReportFormat::Html,
    ]
    .into_iter()
    .map(|f| (f, Vec::new(), 0))
    .collect();
    let mut checks = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let r = report::build(&conn, &query).expect("report");
        build_s.push(t.elapsed().as_secs_f64());
        checks = r.monitors.iter().map(|m| m.checks).sum::<u64>();
        for (format, times, bytes) in &mut formats {
            let t = Instant::now();
            *bytes = report::render(&r, *format).len();
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let mut line = format!(
        "report days={days} runs={runs} checks_covered={checks} median_build_s={:.3}",
        median(build_s)
    );
    for (format, times, bytes) in formats {
        line.push_str(&format!(
            " render_{format:?}_s={:.3} ({:.1} MB)",
            median(times),
            bytes as f64 / 1e6
        ));
    }
    println!("{line}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("writer") => writer_bench(&args),
        Some("fill") => fill(&args),
        Some("report") => report_bench(&args),
        _ => {
            eprintln!("usage: bench_history writer|fill|report [options] (see the file's header)");
            std::process::exit(2);
        }
    }
}
