//! The open-files limit: raised as far as allowed at start, and checked against `--workers`.
//!
//! Every running check holds one socket (connections are not reused), and a redirect may open
//! the next connection before the previous one is closed, so a worker needs up to
//! [`FDS_PER_WORKER`]. sitewatch itself needs up to [`FDS_BASE`] more: stdio (3), the log file
//! (1), the history database with its WAL and shared-memory files (3, and 3 more while the daily
//! digest reads it), and a few for notification deliveries in progress. The soft limit is raised to the hard limit with the
//! `rlimit` crate (no `unsafe` in sitewatch); if the workers still cannot fit, a warning says
//! so before anything starts. Running short anyway is not fatal: such checks are local errors,
//! not site failures.

/// File descriptors one worker may hold at once.
pub const FDS_PER_WORKER: u64 = 2;
/// File descriptors sitewatch needs besides its workers.
pub const FDS_BASE: u64 = 16;

/// Raises the soft open-files limit to the hard one and returns the soft limit now in force
/// (`None` where there is no such limit or it cannot be read).
pub fn raise_open_files() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(e) => {
                log::warn!("cannot raise the open-files limit: {e}");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The warning to give when `workers` cannot fit in `limit` open files, if they cannot.
pub fn fit_warning(workers: usize, limit: u64) -> Option<String> {
    let need = FDS_BASE + FDS_PER_WORKER * workers as u64;
    if need <= limit {
        return None;
    }
    let fit = limit.saturating_sub(FDS_BASE) / FDS_PER_WORKER;
    let fewer = if fit > 0 {
        format!(" or use --workers {fit} or fewer")
    } else {
        String::new()
    };
    Some(format!(
        "--workers {workers} may need up to {need} open files, but sitewatch may only open \
         {limit} (the hard limit); checks that find none left are local errors, not site \
         failures. Raise the limit (`ulimit -n`, LimitNOFILE= in a systemd unit){fewer}"
    ))
}

/// Raises the limit and warns when `workers` cannot fit in it; returns the limit now in force.
pub fn prepare(workers: usize) -> Option<u64> {
    let limit = raise_open_files();
    if let Some(limit) = limit {
        if let Some(warning) = fit_warning(workers, limit) {
            log::warn!("{warning}");
        }
    }
    limit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_only_when_the_workers_cannot_fit() {
        assert_eq!(fit_warning(64, 1024), None);
        let w = fit_warning(200, 128).unwrap();
        assert!(
            w.contains("--workers 200 may need up to 416 open files"),
            "{w}"
        );
        assert!(w.contains("--workers 56 or fewer"), "{w}");
        let w = fit_warning(1, 10).unwrap();
        assert!(w.ends_with("in a systemd unit)"), "{w}");
    }
}
