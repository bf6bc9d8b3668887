//! The daily digest's numbers from the history database, when the run keeps one.
//!
//! The digest is made once a day on the notifier thread; it opens its own read-only connection
//! each time (WAL readers never block the writer thread) and builds the same report that
//! `sitewatch report` prints, so the digest and the report always agree. Monitors of this run are
//! matched to the database's by URL, name and interval; one with no rows in the window reports
//! zero checks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::catalog::Catalog;
use crate::config::Monitor;
use crate::notify::digest::{Digest, DigestSource, Incident, MonitorDigest};
use crate::probe::Reason;
use crate::report::{self, MonitorReport, Query};
use crate::state::State;
use crate::store::{epoch_ms, from_epoch_ms, open_for_report};

/// A [`DigestSource`] reading the history database at `path`.
pub struct HistoryDigest {
    path: PathBuf,
    monitors: Arc<Vec<Monitor>>,
    /// Where a reload publishes the monitors (the list then digested).
    catalog: Option<Arc<Catalog>>,
}

impl HistoryDigest {
    /// Digests of `monitors` from the database at `path`.
    pub fn new(path: PathBuf, monitors: Arc<Vec<Monitor>>) -> HistoryDigest {
        HistoryDigest {
            path,
            monitors,
            catalog: None,
        }
    }

    /// Digests the monitors `catalog` holds at each digest (a reload may have changed them).
    pub fn following(mut self, catalog: Arc<Catalog>) -> HistoryDigest {
        self.catalog = Some(catalog);
        self
    }
}

/// The history follows a monitor's id (schema version 4): a changed interval is one monitor.
fn same_monitor(m: &Monitor, r: &MonitorReport) -> bool {
    r.id == m.id()
}

impl DigestSource for HistoryDigest {
    fn digest(&self, from: SystemTime, to: SystemTime) -> Result<Digest, String> {
        let conn = open_for_report(&self.path).map_err(|e| e.to_string())?;
        let query = Query {
            from: epoch_ms(from),
            to: epoch_ms(to),
            pattern: None,
            now: epoch_ms(to),
        };
        let report = report::build(&conn, &query)
            .map_err(|e| format!("cannot read the history database: {e}"))?;
        let list = self
            .catalog
            .as_ref()
            .map_or_else(|| Arc::clone(&self.monitors), |c| c.load());
        let monitors = list
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let found = report.monitors.iter().find(|r| same_monitor(m, r));
                let incidents = report
                    .incidents
                    .iter()
                    .filter(|x| x.id == m.id())
                    .map(|x| Incident {
                        start: from_epoch_ms(x.start),
                        end: x.end.map(from_epoch_ms),
                        reason: x.reason.as_deref().and_then(Reason::from_name),
                        detail: x.detail.clone(),
                    })
                    .collect();
                MonitorDigest {
                    monitor: i,
                    url: m.url.to_string(),
                    id: m.id().to_owned(),
                    name: m.name.as_deref().map(str::to_owned),
                    checks: found.map_or(0, |r| r.checks),
                    up: found.map_or(0, |r| r.up),
                    downtime: Duration::from_secs_f64(found.map_or(0.0, |r| r.downtime_s.max(0.0))),
                    incidents,
                    down_now: found.is_some_and(|r| r.state == State::Down),
                }
            })
            .collect();
        Ok(Digest {
            from: from_epoch_ms(report.from),
            to,
            offset_s: 0,
            monitors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::{migrate, rollup};

    /// `fixtures/history.sql` in a database file (known answers are listed at its top).
    fn fixture_db(dir: &std::path::Path) -> PathBuf {
        let path = dir.join("history.db");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrate(&mut conn).unwrap();
        let sql =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/history.sql"))
                .unwrap();
        conn.execute_batch(&sql).unwrap();
        rollup::rebuild(&conn).unwrap();
        path
    }

    #[test]
    fn digest_comes_from_the_database_with_the_reports_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = fixture_db(dir.path());
        let config = Config::parse(
            r#"[{"url": "https://edge.example/", "name": "edge"},
                {"url": "https://flappy.example/api", "name": "flappy"},
                {"url": "https://not-in-the-db.example/"}]"#,
        )
        .unwrap();
        let source = HistoryDigest::new(path, config.monitors.into());
        let t0 = from_epoch_ms(1_767_225_600_000);
        let d = source.digest(t0, t0 + Duration::from_secs(86_400)).unwrap();
        assert_eq!(d.monitors.len(), 3);
        let edge = &d.monitors[0];
        assert_eq!((edge.monitor, edge.checks), (0, 1440));
        assert_eq!(edge.downtime, Duration::from_secs(5400));
        assert_eq!(edge.incidents.len(), 1);
        assert_eq!(edge.incidents[0].reason, Some(Reason::Connect));
        assert!(!edge.down_now);
        let flappy = &d.monitors[1];
        assert_eq!(flappy.incidents.len(), 2);
        assert_eq!(flappy.downtime, Duration::from_secs(4200));
        assert!(flappy.down_now);
        let absent = &d.monitors[2];
        assert_eq!((absent.checks, absent.incidents.len()), (0, 0));
    }

    #[test]
    fn a_missing_database_is_an_error_not_a_panic() {
        let config = Config::parse(r#"[{"url": "https://a.example/"}]"#).unwrap();
        let source = HistoryDigest::new("/nonexistent/sitewatch.db".into(), config.monitors.into());
        assert!(source.digest(SystemTime::now(), SystemTime::now()).is_err());
    }
}
