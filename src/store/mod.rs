//! The history database: one SQLite file (`sitewatch.db` by default) holding every check, every
//! state change and hourly rollups, so `sitewatch report` can answer "how reliable was it?".
//!
//! [`Store::open`] runs on the main thread before any other thread starts: it takes the
//! database's writer lock ([`lock`]: one writer per database), checks the file ([`check`]:
//! header, whose it is, schema, bounded page checks), switches it to WAL, marks it as
//! sitewatch's (`PRAGMA application_id`), applies the schema migrations (`PRAGMA
//! user_version`) and takes SQLite's write lock once to be sure it can. Anything wrong with the
//! path — another sitewatch writing it, read-only, locked, corrupt, another program's, written
//! by a newer sitewatch, a missing directory — is a [`StoreError`] that says what to do, and
//! nothing is started. Afterwards the [`writer`] thread owns the
//! connection: it is the only code that writes, in batched transactions, and a failure then is
//! logged and counted, never fatal to the monitor. Its first job is [`Store::register`]ing the
//! monitors (a few µs each: seconds for a million), so monitoring never waits for it; the
//! first checks wait in the writer's queue meanwhile. Reports open the file read-only ([`open_for_report`]); in WAL mode
//! they never block the writer.
//!
//! Times are integer milliseconds since the Unix epoch (UTC) everywhere; latencies are REAL
//! milliseconds. The schema is [`MIGRATIONS`]; README.md ("History and reports") documents it.
//! Keys are time-major (`checks` indexed by `ts`, `rollups` keyed by `(hour, monitor)`): with
//! many monitors checked in turn, a batch then lands on the last few pages of each B-tree
//! instead of one page per monitor, which is what keeps commits cheap.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::config::Monitor;

pub mod check;
pub mod gap;
pub mod identity;
pub mod lock;
pub mod maintenance;
pub mod rollup;
pub mod writer;

use check::{Header, Owner, APPLICATION_ID};
use identity::DbFile;
use lock::{LockError, WriterLock};

/// How long an open or a write waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema, one migration per entry: entry `i` takes `user_version` from `i` to `i + 1`.
/// Never edit a released entry; append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: monitors, raw checks, state transitions, hourly rollups, and `meta` (key/value;
    // `pruned_before`: raw checks before this time may have been deleted by --retain).
    "CREATE TABLE monitors (
         id          INTEGER PRIMARY KEY,
         url         TEXT    NOT NULL,
         name        TEXT    NOT NULL DEFAULT '',
         interval_ms INTEGER NOT NULL,
         method      TEXT    NOT NULL,
         first_seen  INTEGER NOT NULL,
         last_seen   INTEGER NOT NULL,
         UNIQUE (url, name, interval_ms)
     );
     CREATE TABLE checks (
         ts          INTEGER NOT NULL,
         monitor     INTEGER NOT NULL REFERENCES monitors (id),
         status      INTEGER,
         reason      TEXT,
         detail      TEXT,
         bytes       INTEGER,
         ms          REAL    NOT NULL,
         lateness_ms REAL    NOT NULL
     );
     CREATE INDEX checks_by_time ON checks (ts);
     CREATE TABLE transitions (
         ts         INTEGER NOT NULL,
         monitor    INTEGER NOT NULL REFERENCES monitors (id),
         from_state TEXT    NOT NULL,
         to_state   TEXT    NOT NULL,
         reason     TEXT,
         status     INTEGER,
         detail     TEXT,
         attempts   INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX transitions_by_monitor ON transitions (monitor, ts);
     CREATE TABLE rollups (
         monitor INTEGER NOT NULL REFERENCES monitors (id),
         hour    INTEGER NOT NULL,
         checks  INTEGER NOT NULL,
         up      INTEGER NOT NULL,
         ms_sum  REAL    NOT NULL,
         ms_max  REAL    NOT NULL,
         sketch  BLOB    NOT NULL,
         PRIMARY KEY (hour, monitor)
     ) WITHOUT ROWID;
     CREATE TABLE meta (
         key   TEXT PRIMARY KEY,
         value
     ) WITHOUT ROWID;",
    // 2: the three natures of a result. `checks.nature` is NULL for a verdict about the site,
    // `local` for a local failure of sitewatch, `inconclusive` for a check that could not
    // measure fairly; for those two, `reason` holds the local kind or the cause. They are not
    // verdicts, so they are left out of the rollups (uptime); a partial index finds them.
    // `impairments`: times sitewatch could not measure (`paused`, `network_impaired`), which
    // reports count neither as up nor as down.
    "ALTER TABLE checks ADD COLUMN nature TEXT;
     CREATE INDEX checks_without_verdict ON checks (ts) WHERE nature IS NOT NULL;
     CREATE TABLE impairments (
         start_ts INTEGER NOT NULL,
         end_ts   INTEGER NOT NULL,
         cause    TEXT    NOT NULL,
         detail   TEXT
     );
     CREATE INDEX impairments_by_time ON impairments (start_ts);",
    // 3: `monitors.config_id`, the monitor's id in the config (`Monitor::id`) when it last ran,
    // which reports show. Rows of older runs are given the id their name or URL gives
    // (without any collision suffix, which depends on settings they did not record) by
    // `fill_config_ids`, in the same transaction. A row is still found by URL, name and
    // interval: two monitors alike in those share one row (and its id is the last one's).
    "ALTER TABLE monitors ADD COLUMN config_id TEXT NOT NULL DEFAULT '';",
    // 4: a monitor's history follows its id: `monitors` is rebuilt without UNIQUE (url, name,
    // interval_ms) and with a unique index on `config_id` (rows without one, '', only from
    // hand-made databases, are left as they are), and rows sharing an id (one monitor whose
    // interval, URL or timeout changed between runs) are merged into the oldest row id: its
    // checks and transitions point there, its hourly rollups are summed per hour (count, up,
    // time; the slowest kept; for an hour both rows have, the percentile sketch of the one
    // with more checks), `first_seen` is the earliest, and URL, name, interval, method and
    // `last_seen` are those of the row seen last.
    "CREATE TEMP TABLE m4_merge AS
         SELECT m.id AS old, k.keep AS keep
         FROM monitors m
         JOIN (SELECT config_id, min(id) AS keep FROM monitors
               WHERE config_id <> '' GROUP BY config_id) k
           ON k.config_id = m.config_id
         WHERE m.id <> k.keep;
     UPDATE checks SET monitor = (SELECT keep FROM m4_merge WHERE old = checks.monitor)
         WHERE monitor IN (SELECT old FROM m4_merge);
     UPDATE transitions SET monitor = (SELECT keep FROM m4_merge WHERE old = transitions.monitor)
         WHERE monitor IN (SELECT old FROM m4_merge);
     CREATE TEMP TABLE m4_rollups AS
         SELECT coalesce(g.keep, r.monitor) AS monitor, r.hour, r.checks, r.up, r.ms_sum,
                r.ms_max, r.sketch
         FROM rollups r LEFT JOIN m4_merge g ON g.old = r.monitor
         WHERE r.monitor IN (SELECT old FROM m4_merge)
            OR r.monitor IN (SELECT keep FROM m4_merge);
     DELETE FROM rollups
         WHERE monitor IN (SELECT old FROM m4_merge) OR monitor IN (SELECT keep FROM m4_merge);
     INSERT INTO rollups (monitor, hour, checks, up, ms_sum, ms_max, sketch)
         SELECT monitor, hour, sum(checks), sum(up), sum(ms_sum), max(ms_max),
                (SELECT b.sketch FROM m4_rollups b
                 WHERE b.monitor = a.monitor AND b.hour = a.hour
                 ORDER BY b.checks DESC LIMIT 1)
         FROM m4_rollups a GROUP BY monitor, hour;
     CREATE TABLE monitors_v4 (
         id          INTEGER PRIMARY KEY,
         url         TEXT    NOT NULL,
         name        TEXT    NOT NULL DEFAULT '',
         interval_ms INTEGER NOT NULL,
         method      TEXT    NOT NULL,
         first_seen  INTEGER NOT NULL,
         last_seen   INTEGER NOT NULL,
         config_id   TEXT    NOT NULL DEFAULT ''
     );
     INSERT INTO monitors_v4 (id, url, name, interval_ms, method, first_seen, last_seen, config_id)
         SELECT id, url, name, interval_ms, method, first_seen, last_seen, config_id
         FROM monitors WHERE id NOT IN (SELECT old FROM m4_merge);
     UPDATE monitors_v4
         SET (url, name, interval_ms, method, last_seen) =
                 (SELECT l.url, l.name, l.interval_ms, l.method, l.last_seen FROM monitors l
                  WHERE l.config_id = monitors_v4.config_id
                  ORDER BY l.last_seen DESC, l.id DESC LIMIT 1),
             first_seen = (SELECT min(first_seen) FROM monitors x
                           WHERE x.config_id = monitors_v4.config_id)
         WHERE id IN (SELECT keep FROM m4_merge);
     DROP TABLE monitors;
     ALTER TABLE monitors_v4 RENAME TO monitors;
     CREATE UNIQUE INDEX monitors_by_config_id ON monitors (config_id) WHERE config_id <> '';
     DROP TABLE m4_merge;
     DROP TABLE m4_rollups;",
    // 5: `maintenance`, planned work (`store::maintenance`): windows added by `sitewatch
    // maintenance add` (`origin` 'cli') and each occurrence of a config window a run applied
    // ('config'). `monitors`: the selectors as given ('all', or ids and group:NAME, space
    // separated); `ids`: the monitor ids they covered, as the running instance resolved them
    // (NULL until then). Reports count these times neither as up nor as down.
    "CREATE TABLE maintenance (
         id       INTEGER PRIMARY KEY,
         start_ts INTEGER NOT NULL,
         end_ts   INTEGER NOT NULL,
         monitors TEXT    NOT NULL,
         ids      TEXT,
         reason   TEXT,
         origin   TEXT    NOT NULL,
         added_ts INTEGER NOT NULL,
         UNIQUE (origin, start_ts, monitors)
     );
     CREATE INDEX maintenance_by_end ON maintenance (end_ts);",
    // 6: `monitors.location`, where the instance that last ran the monitor checked it from
    // (`--location`; '' when none). One database normally belongs to one instance, so one
    // location: a column per monitor row costs nothing per check, and `sitewatch report --db
    // a.db --db b.db` reads it to tell the databases' rows apart.
    "ALTER TABLE monitors ADD COLUMN location TEXT NOT NULL DEFAULT '';",
    // 7: phase timings of each check (`probe::Phases`), REAL milliseconds like `ms`: DNS
    // lookup, TCP connect, TLS handshake, request sent to first response byte, first byte to
    // last. NULL where the phase was not measured (no lookup for an IP address, no TLS for
    // http, nothing from the step a check failed in on) and in rows of older runs.
    "ALTER TABLE checks ADD COLUMN phase_dns_ms REAL;
     ALTER TABLE checks ADD COLUMN phase_connect_ms REAL;
     ALTER TABLE checks ADD COLUMN phase_tls_ms REAL;
     ALTER TABLE checks ADD COLUMN phase_ttfb_ms REAL;
     ALTER TABLE checks ADD COLUMN phase_transfer_ms REAL;",
    // 8: certificate expiry and the degraded state. `checks.cert_expiry`: the earliest
    // `notAfter` of the certificates the server presented (Unix ms; NULL without a TLS
    // handshake); `checks.degraded`: why a passing check needed attention (`cert_expiry`,
    // `response_time`; NULL when it did not). Degraded checks are up: they count as up in the
    // rollups. A monitor's time `degraded` is read from `transitions` (to_state 'degraded').
    "ALTER TABLE checks ADD COLUMN cert_expiry INTEGER;
     ALTER TABLE checks ADD COLUMN degraded TEXT;",
    // 9: the echoes of an `icmp://` check: requests sent and replies received (loss is
    // 1 - received / sent); NULL for every other kind and in rows of older runs.
    "ALTER TABLE checks ADD COLUMN echoes_sent INTEGER;
     ALTER TABLE checks ADD COLUMN echoes_received INTEGER;",
];

/// Gives each monitor row without a `config_id` the one its name or URL gives (migration 3).
fn fill_config_ids(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    use crate::config::identity::{name_slug, url_slug};
    let rows: Vec<(i64, String, String)> = tx
        .prepare("SELECT id, url, name FROM monitors WHERE config_id = ''")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut set = tx.prepare("UPDATE monitors SET config_id = ?2 WHERE id = ?1")?;
    for (id, url, name) in rows {
        let slug = if name.is_empty() {
            url_slug(&url)
        } else {
            name_slug(&name)
        };
        set.execute(params![id, slug])?;
    }
    Ok(())
}

/// The schema version this build writes.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Milliseconds since the Unix epoch (negative before 1970).
pub fn epoch_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn from_epoch_ms(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// What went wrong with the database, in the terms a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The file or its directory cannot be written.
    ReadOnly,
    /// Another process holds a lock on it for longer than the busy timeout.
    Locked,
    /// Another sitewatch writes to it (the process id its lock file records, if any).
    InUse {
        /// The writer's process id.
        pid: Option<u32>,
    },
    /// It is not a SQLite database, or is damaged.
    Corrupt,
    /// A SQLite database of another program (its `application_id`, 0 if none).
    Foreign {
        /// `PRAGMA application_id` found in the file.
        application_id: i32,
    },
    /// Its schema is newer than this build knows.
    Newer {
        /// `user_version` found in the file.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The disk is full.
    DiskFull,
    /// It cannot be opened or created (missing directory, permissions, a directory in the way).
    CannotOpen,
    /// `sitewatch report` was pointed at a file that does not exist.
    Missing,
    /// Anything else SQLite reported.
    Other,
}

/// Who was opening the database: decides what advice the message gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A monitoring run, which writes.
    Monitor,
    /// `sitewatch report`, which only reads.
    Report,
}

/// The database could not be opened or prepared; nothing was started.
#[derive(Debug)]
pub struct StoreError {
    /// The database path.
    pub path: PathBuf,
    /// What is wrong, classified.
    pub problem: Problem,
    /// Who was opening it.
    pub purpose: Purpose,
    /// SQLite's own words, if any (boxed: errors travel by value up to `main`).
    pub source: Option<Box<rusqlite::Error>>,
    /// What sitewatch found, when SQLite said nothing (a damaged header, a missing table, a
    /// lock file that cannot be made).
    pub detail: Option<Box<str>>,
}

impl StoreError {
    fn new(
        path: &Path,
        purpose: Purpose,
        problem: Problem,
        source: Option<rusqlite::Error>,
    ) -> Self {
        StoreError {
            path: path.to_owned(),
            problem,
            purpose,
            source: source.map(Box::new),
            detail: None,
        }
    }

    fn detailed(path: &Path, purpose: Purpose, problem: Problem, detail: String) -> Self {
        StoreError {
            detail: Some(detail.into()),
            ..StoreError::new(path, purpose, problem, None)
        }
    }

    fn sqlite(path: &Path, purpose: Purpose, e: rusqlite::Error) -> Self {
        StoreError::new(path, purpose, classify(&e), Some(e))
    }
}

/// Sorts a SQLite error into a [`Problem`].
pub fn classify(e: &rusqlite::Error) -> Problem {
    match e.sqlite_error_code() {
        Some(ErrorCode::ReadOnly) => Problem::ReadOnly,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Problem::Locked,
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Problem::Corrupt,
        Some(ErrorCode::DiskFull) => Problem::DiskFull,
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => Problem::CannotOpen,
        _ => Problem::Other,
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        let why = match (&self.source, &self.detail) {
            (Some(e), _) => format!(" ({e})"),
            (None, Some(d)) => format!(" ({d})"),
            (None, None) => String::new(),
        };
        let way_out = match self.purpose {
            Purpose::Monitor => "use --db PATH or --no-db",
            Purpose::Report => "use --db PATH to read another file",
        };
        match self.problem {
            Problem::ReadOnly => write!(f, "database is read-only: {path}{why}; {way_out}"),
            Problem::Locked => write!(
                f,
                "database is locked by another process: {path}{why}; stop the other writer, or {way_out}"
            ),
            Problem::InUse { pid } => {
                let who = pid.map_or("another sitewatch".to_string(), |p| {
                    format!("another sitewatch (pid {p})")
                });
                write!(
                    f,
                    "database {path} is being written by {who}; one database has one writer: \
                     stop that one, or use --db PATH for another file, or --no-db (a --once run \
                     next to a running sitewatch: --no-db)"
                )
            }
            Problem::Corrupt => write!(
                f,
                "database is corrupt or not a sitewatch database: {path}{why}; move it aside, or {way_out}"
            ),
            Problem::Foreign { application_id } => {
                let what = if application_id == 0 {
                    "a SQLite database without sitewatch's tables".to_string()
                } else {
                    format!("a SQLite database with application_id {application_id:#010x}")
                };
                write!(
                    f,
                    "database {path} is not a sitewatch database ({what}); it is left untouched: {way_out}"
                )
            }
            Problem::Newer { found, known } => write!(
                f,
                "database {path} has schema version {found}, newer than this sitewatch knows ({known}); \
                 upgrade sitewatch, or {way_out}"
            ),
            Problem::DiskFull => {
                write!(f, "disk full while preparing database {path}{why}; free some space, or {way_out}")
            }
            Problem::CannotOpen => write!(
                f,
                "cannot open database {path}{why}; check that its directory exists and is writable, or {way_out}"
            ),
            Problem::Missing => write!(
                f,
                "no history database at {path}; run `sitewatch --db {path} CONFIG` first, or {way_out}"
            ),
            Problem::Other => write!(f, "database error on {path}{why}; {way_out}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Applies every migration the database has not seen, each in its own transaction. Returns the
/// version it found. A database newer than this build is left untouched.
pub fn migrate(conn: &mut Connection) -> Result<i64, MigrateError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = schema_version();
    if found > known {
        return Err(MigrateError::Newer { found, known });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        // Migration 4 rebuilds a table others refer to: SQLite's way is with foreign keys
        // off (a no-op inside a transaction, hence here), checked before the commit.
        let rebuild = version + 1 == 4;
        let foreign_keys: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        if rebuild && foreign_keys {
            conn.pragma_update(None, "foreign_keys", false)?;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        if version + 1 == 3 {
            fill_config_ids(&tx)?;
        }
        if rebuild {
            let dangling: i64 =
                tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            if dangling > 0 {
                return Err(MigrateError::Sqlite(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!("{dangling} rows would refer to no monitor")),
                )));
            }
        }
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
        tx.commit()?;
        if rebuild && foreign_keys {
            conn.pragma_update(None, "foreign_keys", true)?;
        }
    }
    Ok(found)
}

/// Why [`migrate`] failed.
#[derive(Debug)]
pub enum MigrateError {
    /// The file's schema is newer than this build.
    Newer {
        /// Its `user_version`.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// SQLite failed.
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sqlite(e)
    }
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::Newer { found, known } => {
                write!(f, "schema version {found} is newer than {known}")
            }
            MigrateError::Sqlite(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MigrateError {}

fn migrate_for(conn: &mut Connection, path: &Path, purpose: Purpose) -> Result<(), StoreError> {
    migrate(conn).map(|_| ()).map_err(|e| match e {
        MigrateError::Newer { found, known } => {
            StoreError::new(path, purpose, Problem::Newer { found, known }, None)
        }
        MigrateError::Sqlite(e) => StoreError::sqlite(path, purpose, e),
    })
}

/// An open, migrated history database. Moved into the writer thread, which registers the
/// run's monitors and is then its only user.
pub struct Store {
    // Field order is drop order: the connection closes before the file descriptor (closing
    // it drops SQLite's POSIX locks) and before the writer lock is released.
    conn: Connection,
    file: DbFile,
    path: PathBuf,
    /// Database id of each monitor, by config index, once registered.
    monitor_ids: Option<Vec<i64>>,
    _lock: WriterLock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("monitors", &self.monitor_ids.as_ref().map(Vec::len))
            .finish()
    }
}

/// The [`Problem`] of an I/O error on the database path or its lock file.
fn io_problem(e: &std::io::Error) -> Problem {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            Problem::ReadOnly
        }
        std::io::ErrorKind::StorageFull => Problem::DiskFull,
        _ => Problem::CannotOpen,
    }
}

impl Store {
    /// Takes the database's writer lock, then opens (creating if needed) the database at
    /// `path`, checks it, sets WAL mode, marks it as sitewatch's, applies migrations and checks
    /// that it can take SQLite's write lock. Any problem is reported now, before anything
    /// starts. The monitors are registered later, by [`Store::register`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let purpose = Purpose::Monitor;
        let err = |e| StoreError::sqlite(path, purpose, e);
        let io_err = |what: &str, e: std::io::Error| {
            StoreError::detailed(path, purpose, io_problem(&e), format!("{what}: {e}"))
        };
        // First the lock, so that a second writer touches nothing, not even a new file.
        let lock = WriterLock::acquire(path).map_err(|e| match e {
            LockError::Held(pid) => StoreError::new(path, purpose, Problem::InUse { pid }, None),
            LockError::Io(lock, e) => {
                io_err(&format!("cannot open its lock file {}", lock.display()), e)
            }
        })?;
        let file = DbFile::open(path).map_err(|e| io_err("cannot open it for writing", e))?;
        let corrupt = |d: String| StoreError::detailed(path, purpose, Problem::Corrupt, d);
        let header = check::header(file.file()).map_err(corrupt)?;
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        // SQLite quietly falls back to read-only when the file is not writable.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(err)? {
            return Err(StoreError::new(path, purpose, Problem::ReadOnly, None));
        }
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // The first reads of the file: a damaged first page or schema fails here.
        let owner = check::owner(&conn).map_err(err)?;
        if let Owner::Other(application_id) = owner {
            return Err(StoreError::new(
                path,
                purpose,
                Problem::Foreign { application_id },
                None,
            ));
        }
        // Every check before the first write: a file refused is left as it was.
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        let known = schema_version();
        if found > known {
            let problem = Problem::Newer { found, known };
            return Err(StoreError::new(path, purpose, problem, None));
        }
        if header == Header::Sqlite && found >= 1 {
            let len = file.file().metadata().map_or(0, |m| m.len());
            if let Some(problem) = check::schema_and_pages(&conn, len).map_err(err)? {
                return Err(corrupt(problem));
            }
        }
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            log::warn!(
                "history: {} stays in journal mode {mode} (WAL is not available there)",
                path.display()
            );
        }
        // WAL + NORMAL: a commit survives a crash of sitewatch; only a power cut can lose the
        // last transactions, never corrupt the file.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        if owner != Owner::Sitewatch {
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(err)?;
        }
        migrate_for(&mut conn, path, purpose)?;
        if owner == Owner::Unmarked {
            // Made by a sitewatch that recorded no clean stops: close what it left open.
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, 0)",
                [gap::OPEN_RUN],
            )
            .map_err(err)?;
        }
        // Another process writing to the file would make every batch wait out the busy
        // timeout and fail: find out now, while it can still stop the start.
        conn.execute_batch("BEGIN IMMEDIATE; COMMIT;")
            .map_err(err)?;
        let mut file = file;
        file.note_sidecars();
        Ok(Store {
            conn,
            file,
            path: path.to_owned(),
            monitor_ids: None,
            _lock: lock,
        })
    }

    /// Inserts or refreshes one row per monitor (identified by URL, name and interval) and
    /// keeps their ids, in config order, for the rows written afterwards.
    pub fn register(&mut self, monitors: &[Monitor]) -> rusqlite::Result<()> {
        self.monitor_ids = Some(register(&mut self.conn, monitors)?);
        Ok(())
    }

    /// Forgets the registration, so that the next [`register`](Self::register) is required
    /// (a reload changed the list).
    pub fn forget_registration(&mut self) {
        self.monitor_ids = None;
    }

    /// The database ids of the monitors, by config index, once registered.
    pub fn monitor_ids(&self) -> Option<&[i64]> {
        self.monitor_ids.as_deref()
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the writer thread and tests.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The open database file, to check that the path still names it.
    pub fn file(&self) -> &DbFile {
        &self.file
    }
}

/// Inserts or refreshes one row per monitor, identified by its id (`config_id`: a changed
/// interval, URL or timeout keeps the row and its history), and returns their row ids in
/// config order.
fn register(conn: &mut Connection, monitors: &[Monitor]) -> rusqlite::Result<Vec<i64>> {
    let now = epoch_ms(SystemTime::now());
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut ids = vec![0; monitors.len()];
    {
        // A lookup, then an update or an insert: an `INSERT … ON CONFLICT DO UPDATE … RETURNING`
        // does the same in one statement but needs a statement journal, which tripled the cost.
        // `<> ''` as in the unique index's condition, so that SQLite uses it.
        let mut find =
            tx.prepare("SELECT id FROM monitors WHERE config_id = ?1 AND config_id <> ''")?;
        let mut refresh = tx.prepare(
            "UPDATE monitors SET url = ?2, name = ?3, interval_ms = ?4, method = ?5, last_seen = ?6,
                 location = ?7
             WHERE id = ?1",
        )?;
        let mut insert = tx.prepare(
            "INSERT INTO monitors (url, name, interval_ms, method, first_seen, last_seen, config_id,
                                   location)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
        )?;
        let location = crate::location::get().unwrap_or("");
        for (m, id) in monitors.iter().zip(ids.iter_mut()) {
            let name = m.name.as_deref().unwrap_or("");
            let interval = i64::try_from(m.interval.as_millis()).unwrap_or(i64::MAX);
            // Empty for a monitor that sends no HTTP request (tcp://, icmp://, dns://).
            let method = m.http_method().map_or("", |m| m.as_str());
            let found: Option<i64> = find.query_row(params![m.id()], |r| r.get(0)).optional()?;
            *id = match found {
                Some(id) => {
                    refresh.execute(params![id, m.url, name, interval, method, now, location])?;
                    id
                }
                None => {
                    insert.execute(params![
                        m.url,
                        name,
                        interval,
                        method,
                        now,
                        m.id(),
                        location
                    ])?;
                    tx.last_insert_rowid()
                }
            };
        }
    }
    tx.commit()?;
    Ok(ids)
}

/// Opens an existing database read-only for `sitewatch report` and checks that it is a
/// sitewatch database of a schema this build reads.
///
/// A reader that may not write to the database's directory cannot make the `-shm` file a WAL
/// database needs once its writer has stopped (and removed it). Then, and only when no `-wal`
/// file exists (so no writer is running and the file holds everything), the file is opened
/// `immutable`: read as it is, without locks.
///
/// Never opens a plain file descriptor on the database: the digest calls this inside a
/// running sitewatch, and closing one would drop the writer's POSIX locks.
pub fn open_for_report(path: &Path) -> Result<Connection, StoreError> {
    let purpose = Purpose::Report;
    if !path.exists() {
        return Err(StoreError::new(path, purpose, Problem::Missing, None));
    }
    let err = |e| StoreError::sqlite(path, purpose, e);
    let open = |uri: Option<String>| -> rusqlite::Result<(Connection, Owner)> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match uri {
            Some(uri) => Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?,
            None => Connection::open_with_flags(path, flags)?,
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let owner = check::owner(&conn)?;
        Ok((conn, owner))
    };
    let (conn, owner) = match open(None) {
        Err(e)
            if matches!(classify(&e), Problem::ReadOnly | Problem::CannotOpen)
                && !identity::sidecar(path, "-wal").exists() =>
        {
            open(Some(immutable_uri(path))).map_err(err)?
        }
        other => other.map_err(err)?,
    };
    match owner {
        Owner::Other(application_id) => {
            let problem = Problem::Foreign { application_id };
            return Err(StoreError::new(path, purpose, problem, None));
        }
        Owner::Empty => {
            let detail = "it holds no history yet".to_string();
            return Err(StoreError::detailed(
                path,
                purpose,
                Problem::Corrupt,
                detail,
            ));
        }
        Owner::Sitewatch | Owner::Unmarked => {}
    }
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    let known = schema_version();
    if found > known {
        return Err(StoreError::new(
            path,
            purpose,
            Problem::Newer { found, known },
            None,
        ));
    }
    if found < known {
        // An older sitewatch wrote it; the next run will migrate it.
        let detail = format!("schema version {found}: run sitewatch on it once to upgrade it");
        return Err(StoreError::detailed(path, purpose, Problem::Other, detail));
    }
    Ok(conn)
}

/// `file:PATH?immutable=1`, the path percent-encoded.
fn immutable_uri(path: &Path) -> String {
    use std::fmt::Write;
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            uri.push(b as char);
        } else {
            let _ = write!(uri, "%{b:02X}");
        }
    }
    uri.push_str("?immutable=1");
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn monitors() -> Vec<Monitor> {
        Config::parse(
            r#"[{"url": "http://127.0.0.1:9/a", "interval": 60},
                {"url": "http://127.0.0.1:9/a", "interval": 30},
                {"url": "http://127.0.0.1:9/b", "interval": 60}]"#,
        )
        .unwrap()
        .monitors
    }

    #[test]
    fn a_changed_interval_keeps_the_monitors_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("h.db")).unwrap();
        let named = |interval: u32| {
            Config::parse(&format!(
                r#"[{{"url": "http://127.0.0.1:9/a", "name": "shop", "interval": {interval}}}]"#
            ))
            .unwrap()
            .monitors
        };
        store.register(&named(60)).unwrap();
        store.register(&named(30)).unwrap();
        assert_eq!(store.monitor_ids(), Some(&[1][..]));
        let (rows, interval): (i64, i64) = store
            .connection()
            .query_row("SELECT count(*), max(interval_ms) FROM monitors", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(
            (rows, interval),
            (1, 30_000),
            "one row, the latest settings"
        );
    }

    #[test]
    fn migration_4_merges_rows_sharing_an_id_into_the_oldest() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO monitors (id, url, name, interval_ms, method, first_seen, last_seen, config_id)
                 VALUES (1, 'http://a/', 'shop', 60000, 'GET', 10, 20, 'shop'),
                        (2, 'http://b/', '', 60000, 'GET', 5, 50, 'b'),
                        (3, 'http://a/', 'shop', 30000, 'HEAD', 30, 40, 'shop');
             INSERT INTO checks (ts, monitor, ms, lateness_ms) VALUES (11, 1, 1, 0), (31, 3, 1, 0), (12, 2, 1, 0);
             INSERT INTO transitions (ts, monitor, from_state, to_state) VALUES (31, 3, 'unknown', 'up');
             INSERT INTO rollups (monitor, hour, checks, up, ms_sum, ms_max, sketch) VALUES
                 (1, 0, 2, 2, 4.0, 3.0, x'01'), (3, 0, 5, 4, 10.0, 9.0, x'03'), (3, 1, 1, 1, 1.0, 1.0, x'04');
             PRAGMA user_version = 3;",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let monitors: Vec<(i64, String, i64, String, i64, i64)> = conn
            .prepare("SELECT id, config_id, interval_ms, method, first_seen, last_seen FROM monitors ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            monitors,
            [
                (1, "shop".into(), 30_000, "HEAD".into(), 10, 40),
                (2, "b".into(), 60_000, "GET".into(), 5, 50)
            ]
        );
        let per_monitor = |sql: &str| -> Vec<(i64, i64)> {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert_eq!(
            per_monitor("SELECT monitor, count(*) FROM checks GROUP BY monitor"),
            [(1, 2), (2, 1)]
        );
        assert_eq!(
            per_monitor("SELECT monitor, count(*) FROM transitions GROUP BY monitor"),
            [(1, 1)]
        );
        let rollups: Vec<(i64, i64, i64, f64, Vec<u8>)> = conn
            .prepare("SELECT hour, checks, up, ms_max, sketch FROM rollups WHERE monitor = 1 ORDER BY hour")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rollups, [(0, 7, 6, 9.0, vec![3]), (1, 1, 1, 1.0, vec![4])]);
        let fk: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys back on");
        let dup = conn.execute(
            "INSERT INTO monitors (url, interval_ms, method, first_seen, last_seen, config_id)
             VALUES ('x', 1, 'GET', 0, 0, 'b')",
            [],
        );
        assert!(dup.is_err(), "config_id is unique");
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT id FROM monitors WHERE config_id = ?1 AND config_id <> ''",
                ["b"],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("monitors_by_config_id"), "{plan}");
    }

    #[test]
    fn open_creates_migrates_and_registers_monitors_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let mut first = Store::open(&path).unwrap();
        assert_eq!(first.monitor_ids(), None);
        first.register(&monitors()).unwrap();
        assert_eq!(first.monitor_ids(), Some(&[1, 2, 3][..]));
        drop(first);
        let mut again = Store::open(&path).unwrap();
        again.register(&monitors()[1..]).unwrap();
        assert_eq!(again.monitor_ids(), Some(&[2, 3][..]), "same id, same row");
        let mut reversed = monitors();
        reversed.reverse();
        again.register(&reversed).unwrap();
        assert_eq!(again.monitor_ids(), Some(&[3, 2, 1][..]), "by config index");
        let conn = again.connection();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema_version());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(migrate(conn).unwrap(), schema_version(), "idempotent");
        let ids: Vec<String> = conn
            .prepare("SELECT config_id FROM monitors ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<String> = monitors().iter().map(|m| m.id().to_owned()).collect();
        assert_eq!(ids, expected, "each row has its monitor's id");
    }

    #[test]
    fn a_version_2_database_gets_the_ids_of_its_monitors() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "INSERT INTO monitors VALUES (1, 'https://A.example/x?token=s', '', 60000, 'GET', 0, 0);
             INSERT INTO monitors VALUES (2, 'https://b.example/', 'Shop (EU)', 60000, 'GET', 0, 0);",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 2);
        let ids: Vec<String> = conn
            .prepare("SELECT config_id FROM monitors ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ids,
            [
                crate::config::identity::url_slug("https://A.example/x?token=s"),
                "shop-eu".to_owned()
            ]
        );
        assert!(ids[0].starts_with("a.example-x-q") && !ids[0].contains("token"));
    }

    #[test]
    fn a_version_1_database_keeps_its_checks_as_verdicts() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO monitors VALUES (1, 'http://a.example/', '', 60000, 'GET', 0, 0);
             INSERT INTO checks (ts, monitor, status, reason, detail, bytes, ms, lateness_ms)
             VALUES (0, 1, 200, NULL, NULL, 3, 1.5, 0.1);",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 1, "found version 1");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema_version());
        let nature: Option<String> = conn
            .query_row("SELECT nature FROM checks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(nature, None, "an old check is a verdict");
        assert_eq!(rollup::rebuild(&conn).unwrap(), 1);
    }

    #[test]
    fn a_newer_schema_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert_eq!(
            err.problem,
            Problem::Newer {
                found: 99,
                known: schema_version()
            }
        );
        assert!(err.to_string().contains("upgrade sitewatch"), "{err}");
        let err = open_for_report(&path).unwrap_err();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }

    #[test]
    fn garbage_is_corrupt_and_a_missing_directory_cannot_be_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![b'x'; 8192]).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert_eq!(err.problem, Problem::Corrupt, "{err}");
        assert!(
            err.to_string().contains("use --db PATH or --no-db"),
            "{err}"
        );
        let err = Store::open(&dir.path().join("no/such/dir.db")).unwrap_err();
        assert_eq!(err.problem, Problem::CannotOpen, "{err}");
        let err = open_for_report(&dir.path().join("absent.db")).unwrap_err();
        assert_eq!(err.problem, Problem::Missing);
    }

    #[test]
    fn another_programs_database_is_refused_and_an_older_sitewatch_one_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
            .unwrap();
        let before = std::fs::read(&other).unwrap();
        let err = Store::open(&other).unwrap_err();
        assert_eq!(err.problem, Problem::Foreign { application_id: 0 }, "{err}");
        assert_eq!(std::fs::read(&other).unwrap(), before, "left untouched");
        assert!(open_for_report(&other).is_err());

        let older = dir.path().join("older.db");
        migrate(&mut Connection::open(&older).unwrap()).unwrap();
        let mut store = Store::open(&older).unwrap();
        let id: i32 = store
            .connection()
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, APPLICATION_ID, "marked as sitewatch's");
        drop(store);
        assert!(open_for_report(&older).is_ok());
    }

    #[test]
    fn immutable_uris_escape_what_a_uri_would_misread() {
        assert_eq!(
            immutable_uri(Path::new("/srv/a b?#%.db")),
            "file:/srv/a%20b%3F%23%25.db?immutable=1"
        );
    }

    #[test]
    fn epoch_ms_round_trips() {
        for ms in [0, 1, 1_767_225_600_000, -5] {
            assert_eq!(epoch_ms(from_epoch_ms(ms)), ms);
        }
    }

    #[test]
    fn migration_7_adopts_a_version_6_database_with_null_phases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for sql in &MIGRATIONS[..6] {
                tx.execute_batch(sql).unwrap();
            }
            tx.execute_batch(
                "INSERT INTO monitors (id, url, name, interval_ms, method, first_seen, last_seen,
                                       config_id)
                 VALUES (1, 'http://a.example/', '', 60000, 'GET', 0, 0, 'a');
                 INSERT INTO checks (ts, monitor, status, reason, detail, bytes, ms, lateness_ms)
                 VALUES (0, 1, 200, NULL, NULL, 3, 1.5, 0.1);
                 PRAGMA user_version = 6;",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        let conn = store.connection();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema_version());
        let row: (f64, [Option<f64>; 5]) = conn
            .query_row(
                "SELECT ms, phase_dns_ms, phase_connect_ms, phase_tls_ms, phase_ttfb_ms,
                        phase_transfer_ms FROM checks",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            row,
            (1.5, [None; 5]),
            "the old check kept, its phases unknown"
        );
    }
}
