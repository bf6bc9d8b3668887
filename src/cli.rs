//! Command-line arguments, turned into validated options before anything starts.
//!
//! Raw flags are parsed by clap, checked here (ranges clap cannot express, per-command
//! defaults), and only then are the logger, the signal handler and the threads set up. A bad
//! value fails with a message and exit status 2, with nothing started.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};

use crate::config::{parse_duration, Config, Shard};
use crate::engine::{self, Options};
use crate::error::Error;
use crate::output::{init_logging, Format};
use crate::probe::{ProbeSettings, Probes};
use crate::report::{self, ReportFormat};
use crate::scheduler::Mode;
use crate::store::writer::{History, Settings};
use crate::store::{self, Store};
use crate::{demo, signal, sinks};

/// Most worker threads accepted: beyond this, threads cost more than they check (each is a
/// thread, a connection and a few tens of KB while its check is in flight; see BENCHMARKS.md).
const MAX_WORKERS: usize = 16_384;
/// Shortest report period accepted.
const MIN_REPORT_EVERY: Duration = Duration::from_millis(100);
/// Largest `--queue` accepted. The queue is allocated up front (about 50 bytes a slot), and it
/// never holds more than one job per monitor, so a million covers the largest lists.
pub const MAX_QUEUE: usize = 1_000_000;
/// Longest duration any flag accepts (`--report-every`, `--duration`, `--retain`, `--since`):
/// 100 years (of 365.25 days, as humantime counts them), far beyond any use, and small enough
/// that no clock arithmetic overflows.
pub const MAX_FLAG_DURATION: Duration = Duration::from_secs(3_155_760_000);
/// The history database used when `--db` is not given (in the working directory).
pub const DEFAULT_DB: &str = "sitewatch.db";
/// Shortest `--retain` accepted: rollups are hourly, so raw checks must outlive an hour.
const MIN_RETAIN: Duration = Duration::from_secs(3600);

/// sitewatch: checks a list of URLs on their schedules with a fixed pool of workers, logs a
/// line per check and a status report every minute, and prints a summary on Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "sitewatch", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A config file, JSON list of URLs with intervals (see README: "Config"), and/or URLs to
    /// monitor: an argument starting with http://, https://, tcp://, icmp:// or dns:// is a URL,
    /// any other is the config
    /// [default: urls.json, unless URLs are given].
    #[arg(value_name = "CONFIG|URL")]
    inputs: Vec<String>,
    /// Time between checks of the URLs given on the command line, at least 1s.
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    interval: Option<Duration>,
    /// Check every URL once, print the summary and exit: 0 if all were up, 1 if any was down or
    /// undecided (no verdict yet when --duration or a signal cut the run short), 2 if sitewatch
    /// could not run.
    #[arg(long)]
    once: bool,
    /// Check only shard K of N of the monitors (by their ids), e.g. 2/3; N instances with
    /// 1/N … N/N check every monitor exactly once (see README: "Shards").
    #[arg(long, value_name = "K/N", value_parser = shard_arg)]
    shard: Option<Shard>,
    #[command(flatten)]
    common: Common,
}

fn shard_arg(s: &str) -> Result<Shard, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check URLs or hosts like ping: a line per check every --interval until Ctrl-C or
    /// --count, then statistics per target (checks, up, loss, latency). A host means
    /// https://HOST/. Exit 0 if every target's last check was up, else 1. No database is written.
    Check(CheckArgs),
    /// Monitor built-in local sites (healthy, slow, failing, dead…): no internet needed.
    Demo {
        #[command(flatten)]
        common: Common,
    },
    /// Notification channels (the config's `notify` list).
    Notify {
        #[command(subcommand)]
        action: NotifyCommand,
    },
    /// Uptime, incidents and latency per monitor from the history database.
    Report(ReportArgs),
    /// Check a config without a single request: exit 0 and a one-line summary, or 2 and
    /// every problem found (up to 50).
    Validate {
        /// The config to check.
        #[arg(value_name = "CONFIG", default_value = "urls.json")]
        config: PathBuf,
    },
    /// Maintenance windows in the history database, seen by a running sitewatch within seconds.
    Maintenance {
        #[command(subcommand)]
        action: MaintenanceCommand,
    },
}

#[derive(Debug, Subcommand)]
enum MaintenanceCommand {
    /// Start a window now: failures of the monitors it covers notify no one and count neither
    /// up nor down. Without --monitor and --group it covers every monitor.
    Add {
        /// How long, e.g. 30m, 2h.
        #[arg(long = "for", value_name = "DURATION", value_parser = duration_arg)]
        length: Duration,
        /// A monitor it covers, by id (repeatable).
        #[arg(long, value_name = "ID")]
        monitor: Vec<String>,
        /// A group it covers (repeatable).
        #[arg(long, value_name = "GROUP")]
        group: Vec<String>,
        /// Why, shown in lines and reports.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// History database of the running sitewatch.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
    /// List the windows not ended yet (with --all, every window).
    List {
        /// Every window, past ones too.
        #[arg(long)]
        all: bool,
        /// History database.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
    /// End window ID now.
    End {
        /// The window's id, as `add` and `list` show it.
        #[arg(value_name = "ID")]
        id: i64,
        /// History database.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum NotifyCommand {
    /// Send a test notification through every channel, or CHANNEL, and say which worked:
    /// exit 0 all delivered, 1 some failed, 2 bad config or unknown channel.
    Test {
        /// The channel to test, by name [default: every channel].
        #[arg(value_name = "CHANNEL")]
        channel: Option<String>,
        /// The config [default: urls.json]; a lone argument ending in .json is the CONFIG.
        #[arg(value_name = "CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// Worker threads doing checks [default: 16; demo: 4].
    #[arg(long, short = 'w', value_name = "N")]
    workers: Option<NonZeroUsize>,
    /// Capacity of the queue between scheduler and workers [default: 2 × workers].
    #[arg(long, value_name = "N")]
    queue: Option<NonZeroUsize>,
    /// Largest share of the workers that checks of failing, retrying, down or slow monitors may
    /// occupy, from 0 (exclusive) to 1, e.g. 0.5; the rest stays free for healthy ones (first
    /// checks of new monitors may also borrow what healthy ones leave idle).
    #[arg(long, value_name = "SHARE", default_value_t = 0.5, value_parser = share_arg)]
    suspect_share: f64,
    /// Line format on stdout and in the log file.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also append every line to this file.
    #[arg(long, value_name = "PATH")]
    log_file: Option<PathBuf>,
    /// Time between status reports, e.g. 60s, 5m [default: 60s; demo: 10s].
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    report_every: Option<Duration>,
    /// Largest response body accepted (decoded), e.g. 10MiB, 512KiB, 1000.
    #[arg(long, value_name = "SIZE", default_value = "10MiB", value_parser = size_arg)]
    max_body: u64,
    /// Redirects followed before a check fails with `redirects`.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_redirects: u32,
    /// Stop by itself after this long, e.g. 30s [default: run until Ctrl-C].
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    duration: Option<Duration>,
    /// History database (SQLite), created if missing [default: sitewatch.db; demo: none].
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Keep no history: write no database.
    #[arg(long, conflicts_with_all = ["db", "retain"])]
    no_db: bool,
    /// Delete raw checks older than this, e.g. 90d; hourly rollups are kept [default: keep all].
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    retain: Option<Duration>,
    /// Serve the live status page, JSON API and badges on this address, e.g. 127.0.0.1:9736
    /// or [::1]:9736 (port 0: any free port) [default: the config's server.listen; demo: 127.0.0.1:0].
    #[arg(long, value_name = "ADDR", value_parser = crate::config::server::parse_listen)]
    listen: Option<std::net::SocketAddr>,
    /// Where this instance checks from, e.g. eu-west: shown on every line and carried in the
    /// summary, history, /metrics and notifications [default: the config's "location"].
    #[arg(long, value_name = "NAME", value_parser = location_arg)]
    location: Option<String>,
}

fn location_arg(s: &str) -> Result<String, String> {
    crate::location::validate(s).map(str::to_owned)
}

/// `sitewatch check`: the targets and how often to check them.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// URLs (http://, https://, tcp://HOST:PORT, icmp://HOST, dns://NAME) or hosts (example.com,
    /// example.com:8443: checked over https).
    #[arg(value_name = "TARGET", required = true)]
    targets: Vec<String>,
    /// Stop after COUNT checks of each target [default: until Ctrl-C].
    #[arg(long, short = 'c', value_name = "COUNT")]
    count: Option<std::num::NonZeroU64>,
    /// Time between two checks of a target, at least 100ms.
    #[arg(long, short = 'i', value_name = "DURATION", default_value = "1s", value_parser = duration_arg)]
    interval: Duration,
    /// Time a check may take before it fails with `timeout`.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration_arg)]
    timeout: Duration,
    /// Line format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Shortest `sitewatch check --interval` accepted.
const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// `sitewatch check`: validates the targets, then checks them until Ctrl-C or --count.
fn check_command(args: CheckArgs) -> Result<ExitCode, Error> {
    if args.interval < MIN_CHECK_INTERVAL {
        return Err(Error::Usage(format!(
            "--interval must be at least {}",
            humantime::format_duration(MIN_CHECK_INTERVAL)
        )));
    }
    if args.timeout.is_zero() {
        return Err(Error::Usage("--timeout must be above 0".into()));
    }
    let urls = args
        .targets
        .iter()
        .map(|t| crate::check::target_url(t).map_err(Error::Usage))
        .collect::<Result<Vec<_>, _>>()?;
    let plan = crate::check::Plan {
        urls,
        count: args.count.map(std::num::NonZeroU64::get),
        interval: args.interval,
        timeout: args.timeout,
        format: args.format,
    };
    let (stop, requests, _reload) = signal::install()?;
    crate::check::run(&plan, &stop, requests).map(ExitCode::from)
}

/// `sitewatch report`: what to read, which window, which monitors, which format.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// History database to read; repeat for several (one per location or shard), whose rows
    /// are marked with their location (see README: "Reports over several databases").
    #[arg(long, value_name = "PATH", default_value = DEFAULT_DB)]
    db: Vec<PathBuf>,
    /// With several --db: also list the times when at least Q locations saw a monitor down.
    #[arg(long, value_name = "Q")]
    quorum: Option<NonZeroUsize>,
    /// Report on the last DURATION, e.g. 24h, 7d [default: 24h].
    #[arg(long, value_name = "DURATION", value_parser = duration_arg, conflicts_with_all = ["from", "to"])]
    since: Option<Duration>,
    /// Start of the window: RFC 3339 UTC time or date, e.g. 2026-11-01 or 2026-11-01T12:00:00Z [default: --to minus 24h].
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    from: Option<SystemTime>,
    /// End of the window (exclusive), same forms as --from [default: now].
    #[arg(long, value_name = "TIME", value_parser = time_arg)]
    to: Option<SystemTime>,
    /// Only monitors whose URL, name or id contains PATTERN; `*` and `?` make it a glob.
    #[arg(long, value_name = "PATTERN")]
    url: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "PATH")]
    output: Option<PathBuf>,
}

/// Parses a point in time: RFC 3339 (`2026-11-01T12:00:00Z`, also with a space and without
/// `Z`, read as UTC) or a bare date (`2026-11-01`, midnight UTC).
pub fn time_arg(s: &str) -> Result<SystemTime, String> {
    let s = s.trim();
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    humantime::parse_rfc3339_weak(&full).map_err(|e| {
        format!("{s:?} is not a time ({e}); use e.g. 2026-11-01 or 2026-11-01T12:00:00Z")
    })
}

/// Parses a share of the workers: a number above 0 and at most 1.
pub fn share_arg(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err(format!(
            "{s:?} is not a share of the workers; use a number above 0 and at most 1, e.g. 0.5"
        )),
    }
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > MAX_FLAG_DURATION {
        return Err(format!(
            "{} is longer than the 100 years accepted",
            s.trim()
        ));
    }
    Ok(d)
}

/// Parses a byte size: a whole number with an optional unit (B, KB, KiB, MB, MiB, GB, GiB;
/// K, M, G mean KiB, MiB, GiB).
pub fn size_arg(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size; use e.g. 10MiB, 512KiB or 1000"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "k" | "kib" => 1 << 10,
        "mb" => 1_000_000,
        "m" | "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "g" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit {other:?}; use B, KiB, MiB or GiB"
            ))
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{s:?} is too large"))
}

impl Common {
    fn options(
        &self,
        mode: Mode,
        workers: usize,
        report_every: Duration,
    ) -> Result<Options, Error> {
        let workers = self.workers.map_or(workers, NonZeroUsize::get);
        if workers > MAX_WORKERS {
            return Err(Error::Usage(format!(
                "--workers {workers} is more than the {MAX_WORKERS} supported"
            )));
        }
        let report_every = self.report_every.unwrap_or(report_every);
        if report_every < MIN_REPORT_EVERY {
            return Err(Error::Usage(format!(
                "--report-every must be at least {}",
                humantime::format_duration(MIN_REPORT_EVERY)
            )));
        }
        let workers = NonZeroUsize::new(workers).expect("workers is at least 1");
        let queue = self
            .queue
            .unwrap_or_else(|| workers.saturating_mul(NonZeroUsize::new(2).expect("2 > 0")));
        if queue.get() > MAX_QUEUE {
            return Err(Error::Usage(format!(
                "--queue {queue} is more than the {MAX_QUEUE} supported \
                 (the queue never holds more than one job per monitor)"
            )));
        }
        Ok(Options {
            workers,
            queue,
            report_every,
            mode,
            format: self.format,
            duration: self.duration,
            suspect_share: self.suspect_share,
            serve: None,
        })
    }

    /// The status server this run asks for: `--listen` wins over the config's
    /// `server.listen`; `default` (the demo's) when neither is given.
    fn serve(
        &self,
        config: &Config,
        default: Option<SocketAddr>,
    ) -> Option<crate::serve::Settings> {
        let server = config.server.clone().unwrap_or_default();
        let listen = self.listen.or(server.listen).or(default)?;
        Some(crate::serve::Settings {
            listen,
            auth: server.auth,
            prometheus: crate::metrics::Settings {
                per_monitor: server.per_monitor_metrics.unwrap_or(true),
                any_target: server.probe_any_target,
            },
        })
    }

    /// Opens the history database this run asks for (`default` when `--db` is absent), before
    /// anything starts; `None` with `--no-db` or when there is no default.
    fn history(&self, default: Option<&Path>) -> Result<Option<History>, Error> {
        if self.no_db {
            return Ok(None);
        }
        let Some(path) = self.db.as_deref().or(default) else {
            if self.retain.is_some() {
                return Err(Error::Usage(
                    "--retain needs a database: add --db PATH".into(),
                ));
            }
            return Ok(None);
        };
        if let Some(retain) = self.retain {
            if retain < MIN_RETAIN {
                return Err(Error::Usage(format!(
                    "--retain must be at least {} (rollups are hourly)",
                    humantime::format_duration(MIN_RETAIN)
                )));
            }
        }
        // Created private (0600) before SQLite opens it, so its -wal and -shm are private too; a
        // symlink planted in a shared directory is refused. Any other problem (a missing
        // directory, no permission) is left for Store::open to explain.
        if let Err(e) = crate::private_file::prepare_database(path) {
            if e.kind() == std::io::ErrorKind::InvalidInput {
                return Err(Error::Usage(format!("history database: {e}")));
            }
        }
        let store = Store::open(path).map_err(Error::Store)?;
        Ok(Some(History {
            store,
            settings: Settings {
                retain: self.retain,
                ..Settings::default()
            },
        }))
    }

    fn probe_settings(&self) -> ProbeSettings {
        ProbeSettings {
            max_body: self.max_body,
            max_redirects: self.max_redirects,
            ..ProbeSettings::default()
        }
    }
}

/// `sitewatch maintenance …`: prints what was done; any problem is a usage error (exit 2).
fn maintenance_command(action: MaintenanceCommand) -> Result<ExitCode, Error> {
    use crate::maintenance::command;
    let lines = match action {
        MaintenanceCommand::Add {
            length,
            monitor,
            group,
            reason,
            db,
        } => {
            let request = command::AddRequest {
                length,
                monitors: &monitor,
                groups: &group,
                reason: reason.as_deref(),
            };
            vec![command::add(&db, &request).map_err(Error::Usage)?]
        }
        MaintenanceCommand::List { all, db } => command::list(&db, all).map_err(Error::Usage)?,
        MaintenanceCommand::End { id, db } => vec![command::end(&db, id).map_err(Error::Usage)?],
    };
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}")
            .map_err(|e| Error::Usage(format!("cannot write to stdout ({e}); it was: {line}")))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs sitewatch as the command line asks. `Ok` carries the exit status (1 when `--once` saw a
/// URL down or left one undecided); `Err` means sitewatch could not run, which `main` reports with status 2.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Some(Command::Notify {
            action: NotifyCommand::Test { channel, config },
        }) => notify_test(channel, config),
        Some(Command::Check(args)) => check_command(args),
        Some(Command::Report(args)) => {
            report_command(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Validate { config }) => {
            let summary = validated(&load(&config)?);
            use std::io::Write;
            writeln!(std::io::stdout(), "{summary}")
                .map_err(|e| Error::Report(format!("cannot write to stdout: {e}")))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Maintenance { action }) => maintenance_command(action),
        Some(Command::Demo { common }) => {
            let mut options = common.options(Mode::Repeat, 4, Duration::from_secs(10))?;
            let demo = demo::start().map_err(Error::Demo)?;
            options.serve = common.serve(&demo.config, Some(SocketAddr::from(([127, 0, 0, 1], 0))));
            // The demo keeps no history unless asked to with --db: it leaves no file behind.
            let history = common.history(None)?;
            log_start_after_init(
                &common,
                &demo.config,
                &options,
                "demo: local sites on 127.0.0.1",
            )?;
            let summary = monitor(demo.config, None, &options, &common, history)?;
            Ok(stop_status(&summary).unwrap_or(ExitCode::SUCCESS))
        }
        None => {
            let (path, urls) = inputs(&cli.inputs)?;
            if urls.is_empty() && cli.interval.is_some() {
                return Err(Error::Usage(
                    "--interval sets the interval of URLs given on the command line; \
                     give one (https://…), or set \"interval\" in the config"
                        .into(),
                ));
            }
            let from_urls = (!urls.is_empty())
                .then(|| {
                    Config::of_urls(&urls, cli.interval.unwrap_or(DEFAULT_URL_INTERVAL))
                        .map_err(|e| Error::Usage(e.for_command_line()))
                })
                .transpose()?;
            let extra = from_urls
                .as_ref()
                .map(|c| c.monitors.clone())
                .unwrap_or_default();
            let loaded = path
                .as_deref()
                .map(crate::reload::FileStamp::of)
                .unwrap_or_default();
            let mut config = match (&path, from_urls) {
                (Some(path), _) => {
                    let mut config = load(path)?;
                    config.add_monitors(&extra).map_err(|e| Error::Config {
                        path: path.clone(),
                        source: e,
                    })?;
                    config
                }
                (None, Some(config)) => config,
                // `inputs` gives no path only when URLs are given.
                (None, None) => return Err(Error::Usage("give a config file or URLs".into())),
            };
            let shown = path
                .clone()
                .unwrap_or_else(|| PathBuf::from("the command line"));
            let sharded = cli
                .shard
                .map(|shard| apply_shard(shard, &mut config, &shown))
                .transpose()?;
            let mode = if cli.once { Mode::Once } else { Mode::Repeat };
            let mut options = cli.common.options(mode, 16, Duration::from_secs(60))?;
            options.serve = cli.common.serve(&config, None);
            let history = cli.common.history(Some(Path::new(DEFAULT_DB)))?;
            let source = match (&path, urls.len()) {
                (Some(path), 0) => path.display().to_string(),
                (Some(path), n) => format!("{} and {n} URL(s) on the command line", path.display()),
                (None, _) => "the command line".to_owned(),
            };
            log_start_after_init(&cli.common, &config, &options, &source)?;
            if let Some(line) = sharded {
                log::info!("{line}");
            }
            let summary = monitor(
                config,
                path.as_deref().map(|p| (p, cli.shard, loaded, extra)),
                &options,
                &cli.common,
                history,
            )?;
            if let Some(status) = stop_status(&summary) {
                return Ok(status);
            }
            if cli.once && (summary.any_failing() || summary.any_undecided()) {
                Ok(ExitCode::from(1))
            } else {
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// Exit status when sitewatch was stopped at once by a second request.
pub const EXIT_INTERRUPTED: u8 = signal::EXIT_INTERRUPTED;
/// Exit status when stdout was closed by its reader, as shells report death by SIGPIPE.
pub const EXIT_STDOUT_CLOSED: u8 = 141;

/// The exit status a stop imposes, whatever the checks said: 130 after a stop at once, 141 when
/// stdout was closed by its reader.
fn stop_status(summary: &crate::Summary) -> Option<ExitCode> {
    if summary.interrupted {
        Some(ExitCode::from(EXIT_INTERRUPTED))
    } else if sinks::stdout_closed() {
        Some(ExitCode::from(EXIT_STDOUT_CLOSED))
    } else {
        None
    }
}

/// `sitewatch notify test [CHANNEL] [CONFIG]`: one test message per channel, a line each.
fn notify_test(channel: Option<String>, config: Option<PathBuf>) -> Result<ExitCode, Error> {
    let (channel, path) = match (channel, config) {
        (Some(c), None) if c.ends_with(".json") => (None, PathBuf::from(c)),
        (channel, config) => (
            channel,
            config.unwrap_or_else(|| PathBuf::from("urls.json")),
        ),
    };
    let config = load(&path)?;
    if config.notify.specs.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no notification channels: add a \"notify\" list (see README: Notifications)",
            path.display()
        )));
    }
    let outcomes = crate::notify::send_test(&config.notify, channel.as_deref())
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    let mut all_ok = true;
    let mut out = std::io::stdout().lock();
    for o in &outcomes {
        use std::io::Write;
        let written = match &o.result {
            Ok(()) => writeln!(out, "{} ({}): OK", o.name, o.kind),
            Err(reason) => {
                all_ok = false;
                writeln!(out, "{} ({}): failed: {reason}", o.name, o.kind)
            }
        };
        // The messages went out (or not) already: say so on stderr rather than panic.
        written.and_then(|()| out.flush()).map_err(|e| {
            Error::Report(format!(
                "cannot write the test results to stdout ({e}); results: {}",
                outcomes
                    .iter()
                    .map(|o| format!(
                        "{} {}",
                        o.name,
                        if o.result.is_ok() { "OK" } else { "failed" }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Keeps only `shard`'s monitors of `config`, right after loading, so the others cost nothing;
/// returns the start line that says so. A shard left with no monitor is an error: an instance
/// that checks nothing would look healthy while doing nothing.
fn apply_shard(shard: Shard, config: &mut Config, path: &Path) -> Result<String, Error> {
    let total = config.monitors.len();
    shard.retain(&mut config.monitors);
    let kept = config.monitors.len();
    if kept == 0 {
        return Err(Error::Usage(format!(
            "shard {shard} holds none of the {total} monitors in {}; use fewer shards",
            path.display()
        )));
    }
    Ok(format!(
        "shard {shard}: {} of {} monitors",
        crate::reporter::grouped(kept as u64),
        crate::reporter::grouped(total as u64)
    ))
}

/// Interval of URLs given on the command line without `--interval`.
const DEFAULT_URL_INTERVAL: Duration = Duration::from_secs(60);

/// The main command's arguments split into the config file and the URLs: an argument starting
/// with `http://`, `https://`, `tcp://`, `icmp://` or `dns://` (any case) is a URL, any other the config path, of which there
/// may be one. No argument at all means `urls.json`; URLs alone mean no config file.
fn inputs(args: &[String]) -> Result<(Option<PathBuf>, Vec<String>), Error> {
    let is_url = |a: &str| {
        let lower = a.get(..8).unwrap_or(a).to_ascii_lowercase();
        lower
            .split_once("://")
            .is_some_and(|(scheme, _)| crate::model::Kind::from_scheme(scheme).is_some())
    };
    let (urls, paths): (Vec<&String>, Vec<&String>) = args.iter().partition(|a| is_url(a));
    let path = match paths.as_slice() {
        [] if urls.is_empty() => Some(PathBuf::from("urls.json")),
        [] => None,
        [one] => Some(PathBuf::from(one.as_str())),
        [first, second, ..] => {
            return Err(Error::Usage(format!(
                "two configs given ({first} and {second}): give one config file; a URL to \
                 monitor must start with http://, https://, tcp://, icmp:// or dns://"
            )))
        }
    };
    Ok((path, urls.into_iter().cloned().collect()))
}

/// Loads a config, reporting every problem found (each entry is validated on its own).
fn load(path: &Path) -> Result<Config, Error> {
    Config::load_all(path).map_err(|errors| {
        if errors.errors.len() == 1 && errors.more == 0 {
            Error::Config {
                path: path.to_owned(),
                source: errors.first(),
            }
        } else {
            Error::ConfigErrors {
                path: path.to_owned(),
                errors,
            }
        }
    })
}

/// What `sitewatch validate` says of a valid config:
/// `ok: 1,000 monitors in 3 groups, 2 notification channels`.
fn validated(config: &Config) -> String {
    let plural = |n: usize, one: &str| {
        let s = if n == 1 { "" } else { "s" };
        format!("{} {one}{s}", crate::reporter::grouped(n as u64))
    };
    let groups: std::collections::HashSet<&str> =
        config.monitors.iter().filter_map(|m| m.group()).collect();
    let in_groups = if groups.is_empty() {
        String::new()
    } else {
        format!(" in {}", plural(groups.len(), "group"))
    };
    format!(
        "ok: {}{in_groups}, {}",
        plural(config.monitors.len(), "monitor"),
        plural(config.notify.specs.len(), "notification channel")
    )
}

/// Sets up logging, then says on stderr what is about to run and what looks unwise.
fn log_start_after_init(
    common: &Common,
    config: &Config,
    options: &Options,
    source: &str,
) -> Result<(), Error> {
    init_logging(common.log_file.as_deref())?;
    // Set before any thread starts, so every line, metric and notification carries it.
    if let Some(location) = common.location.as_deref().or(config.location.as_deref()) {
        crate::location::set(location);
        log::info!("location: {location}");
    }
    let workers = options.workers;
    log::info!(
        "sitewatch {}: {} monitors from {source}, {workers} workers, queue {}, report every {}{}",
        env!("CARGO_PKG_VERSION"),
        config.monitors.len(),
        options.queue,
        humantime::format_duration(options.report_every),
        if options.mode == Mode::Once {
            ", once"
        } else {
            "; Ctrl-C for a summary"
        },
    );
    let slow: Vec<(usize, &str)> = config
        .monitors
        .iter()
        .enumerate()
        .filter(|(_, m)| m.timeout >= m.interval)
        .map(|(i, m)| (i, &*m.url))
        .collect();
    let insecure: Vec<String> = config
        .monitors
        .iter()
        .enumerate()
        .filter(|(_, m)| m.insecure)
        .map(|(i, m)| format!("entry {} ({})", i + 1, m.url))
        .collect();
    if !insecure.is_empty() {
        log::warn!(
            "TLS CERTIFICATE VERIFICATION IS OFF (insecure: true) for {} monitor(s): {}; \
             these checks cannot tell the real site from an impostor",
            insecure.len(),
            insecure.join(", "),
        );
    }
    if options.mode == Mode::Repeat {
        if let Some((index, url)) = slow.first() {
            log::warn!(
                "{} monitor(s) have a timeout at least as long as their interval, so a slow check \
                 makes them skip (coalesce) their next occurrence; first: entry {} ({url})",
                slow.len(),
                index + 1,
            );
        }
    }
    Ok(())
}

fn monitor(
    config: Config,
    config_path: Option<(
        &Path,
        Option<Shard>,
        crate::reload::FileStamp,
        Vec<crate::config::Monitor>,
    )>,
    options: &Options,
    common: &Common,
    history: Option<History>,
) -> Result<crate::Summary, Error> {
    if let Some(h) = &history {
        log::info!(
            "history: writing to {}{}",
            h.store.path().display(),
            h.settings.retain.map_or(String::new(), |r| format!(
                ", keeping raw checks for {}",
                humantime::format_duration(r)
            ))
        );
    }
    let (stop, requests, reloads) = signal::install()?;
    // stdout closed by its reader (`| head`) asks for the same graceful stop as Ctrl-C.
    sinks::on_stdout_closed(move || {
        requests.request(signal::Cause::StdoutClosed);
    });
    let probe = Arc::new(Probes::new(&common.probe_settings()));
    let reload = engine::Reload {
        path: config_path.as_ref().map(|(path, ..)| path.to_path_buf()),
        shard: config_path.as_ref().and_then(|(_, shard, ..)| *shard),
        loaded: config_path
            .as_ref()
            .map(|(_, _, loaded, _)| *loaded)
            .unwrap_or_default(),
        extra: config_path.map(|(.., extra)| extra).unwrap_or_default(),
        requests: reloads,
        status: Default::default(),
    };
    engine::run(config, options, probe, stop, history, reload)
}

/// `sitewatch report`: reads the database, renders, writes to stdout or `--output`.
fn report_command(args: &ReportArgs) -> Result<(), Error> {
    let now = SystemTime::now();
    let to = args.to.unwrap_or(now);
    let from = match (args.from, args.since) {
        (Some(from), _) => from,
        (None, Some(since)) => match to.checked_sub(since) {
            Some(from) if from >= std::time::UNIX_EPOCH => from,
            _ => {
                return Err(Error::Usage(format!(
                    "--since {} reaches back before 1970-01-01, where no history can be; \
                     use a shorter window or --from",
                    humantime::format_duration(since)
                )))
            }
        },
        (None, None) => to
            .checked_sub(Duration::from_secs(86_400))
            .unwrap_or(std::time::UNIX_EPOCH),
    };
    if from >= to {
        return Err(Error::Usage("--from must be before --to".into()));
    }
    // A report holds a cell per day of its window for every monitor: 1970 to 9999 would be
    // gigabytes of HTML.
    if to.duration_since(from).unwrap_or_default() > MAX_FLAG_DURATION {
        return Err(Error::Usage(
            "the report window is longer than the 100 years accepted; narrow --from/--to".into(),
        ));
    }
    if let Some(q) = args.quorum {
        if q.get() > args.db.len() {
            return Err(Error::Usage(format!(
                "--quorum {q} needs at least {q} databases (--db), one per location; {} given",
                args.db.len()
            )));
        }
    }
    let query = report::Query {
        from: store::epoch_ms(from),
        to: store::epoch_ms(to),
        pattern: args.url.clone(),
        now: store::epoch_ms(now),
    };
    let cannot = |path: &Path, e: rusqlite::Error| {
        Error::Report(format!(
            "cannot read the history in {}: {e}",
            path.display()
        ))
    };
    let report = if let [db] = args.db.as_slice() {
        let conn = store::open_for_report(db).map_err(Error::Store)?;
        report::build(&conn, &query).map_err(|e| cannot(db, e))?
    } else {
        let mut conns = Vec::with_capacity(args.db.len());
        for db in &args.db {
            let conn = store::open_for_report(db).map_err(Error::Store)?;
            let location = report::fleet::location_of(&conn, db);
            conns.push((conn, location));
        }
        let sources: Vec<(&rusqlite::Connection, String)> =
            conns.iter().map(|(c, l)| (c, l.clone())).collect();
        report::fleet::build_many(&sources, &query, args.quorum.map(NonZeroUsize::get)).map_err(
            |e| {
                cannot(
                    Path::new(
                        &args
                            .db
                            .iter()
                            .map(|d| d.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    e,
                )
            },
        )?
    };
    let text = report::render(&report, args.format);
    match &args.output {
        Some(path) => crate::private_file::replace(path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
            .map_err(|e| {
                Error::Report(format!(
                    "cannot write the report to {}: {e}",
                    path.display()
                ))
            }),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth reporting.
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(Error::Report(format!("cannot write the report: {e}")))
                }
                _ => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(size_arg("1000"), Ok(1000));
        assert_eq!(size_arg("10MiB"), Ok(10 << 20));
        assert_eq!(size_arg("10 mb"), Ok(10_000_000));
        assert_eq!(size_arg("2G"), Ok(2 << 30));
        assert!(size_arg("ten").is_err());
        assert!(size_arg("5 parsecs").unwrap_err().contains("parsecs"));
    }

    #[test]
    fn queue_defaults_to_twice_the_workers() {
        let cli = Cli::try_parse_from(["sitewatch", "--workers", "8", "x.json"]).unwrap();
        let o = cli
            .common
            .options(Mode::Repeat, 16, Duration::from_secs(60))
            .unwrap();
        assert_eq!((o.workers.get(), o.queue.get()), (8, 16));
        assert_eq!(o.report_every, Duration::from_secs(60));
    }

    #[test]
    fn suspect_share_is_above_zero_and_at_most_one() {
        assert_eq!(share_arg("0.5"), Ok(0.5));
        assert_eq!(share_arg("1"), Ok(1.0));
        for bad in ["0", "-0.1", "1.5", "half", "NaN"] {
            assert!(share_arg(bad).is_err(), "{bad}");
        }
        let cli = Cli::try_parse_from(["sitewatch", "x.json"]).unwrap();
        let o = cli
            .common
            .options(Mode::Repeat, 16, Duration::from_secs(60))
            .unwrap();
        assert_eq!(o.suspect_share, 0.5);
    }

    #[test]
    fn out_of_range_values_are_usage_errors() {
        let cli = Cli::try_parse_from(["sitewatch", "--report-every", "10ms"]).unwrap();
        let err = cli
            .common
            .options(Mode::Repeat, 16, Duration::from_secs(60))
            .unwrap_err();
        assert!(err.to_string().contains("--report-every"), "{err}");
        assert!(Cli::try_parse_from(["sitewatch", "--workers", "0"]).is_err());
    }

    #[test]
    fn notify_test_takes_a_channel_and_a_config() {
        let cli = Cli::try_parse_from(["sitewatch", "notify", "test", "pager", "x.json"]).unwrap();
        let Some(Command::Notify {
            action: NotifyCommand::Test { channel, config },
        }) = cli.command
        else {
            panic!("{cli:?}")
        };
        assert_eq!(channel.as_deref(), Some("pager"));
        assert_eq!(config, Some(PathBuf::from("x.json")));
    }

    #[test]
    fn demo_takes_the_common_options() {
        let cli =
            Cli::try_parse_from(["sitewatch", "demo", "--duration", "5s", "-w", "2"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Demo { .. })));
    }
}
