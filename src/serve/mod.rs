//! The live status surface: a small read-only HTTP server inside sitewatch (`--listen`).
//!
//! What it guarantees:
//! - **Never in the way of the checks.** It reads what the pipeline already publishes (the
//!   [`Stats`](crate::stats::Stats) atomics and windows, the scheduler's published states) and
//!   the history through its own read-only SQLite connection. No scheduler or worker thread
//!   ever waits for it; it takes no lock they hold for longer than they already do.
//! - **Bounded.** One thread accepts connections and reads request heads for all of them with
//!   `poll(2)`, so idle connections cost no thread; at most [`conn::MAX_PENDING`] (fewer when
//!   the open-files limit is low: the workers' checks come first) wait for their head (the
//!   longest-waiting is closed to make room), and each is closed unless its
//!   whole head arrives within [`HEAD_TIMEOUT`] and fits in [`MAX_HEAD`] bytes (`431`
//!   otherwise). A fixed pool of [`THREADS`] threads answers complete requests, one per
//!   connection; at most [`BACKLOG`] wait for them (`503` beyond). A body is refused (`413`);
//!   a reply must be taken within [`WRITE_TIMEOUT`].
//! - **Read-only and closed by default.** Only `GET` and `HEAD` (`405` otherwise). Optional
//!   auth for every path (bearer token or basic), compared in constant time. Security headers
//!   on every reply ([`reply`]); no external assets.
//!
//! Where routes go: [`routes::route`], one `match` arm per path.
//!
//! Threads: `sitewatch-http-accept` and `sitewatch-http-N`; [`Server::stop`] ends them.

pub mod api;
pub mod auth;
mod badge;
pub mod conn;
pub mod ctx;
mod health;
pub mod history;
pub mod ident;
mod pages;
mod prometheus;
pub mod reply;
pub mod request;
pub mod routes;
pub mod status;
pub mod strips;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use auth::Auth;
pub use ctx::Ctx;
pub use reply::Reply;
pub use request::Request;

use crate::error::Error;

/// Threads serving requests.
pub const THREADS: usize = 4;
/// Complete requests that may wait for a serving thread.
pub const BACKLOG: usize = 64;
/// The whole request head must arrive within this; an idle connection is closed after it.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a reply may take to be written to a slow reader.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) accepted, in bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// How many connections the server may hold open waiting for their request head: what the
/// open-files limit leaves after `workers`' checks, halved (the rest is headroom), between 16
/// and [`conn::MAX_PENDING`]. Idle connections then never take the descriptors checks need.
pub fn pending_connections(workers: usize, open_files: Option<u64>) -> usize {
    use crate::selfwatch::limits::{FDS_BASE, FDS_PER_WORKER};
    let most = conn::MAX_PENDING;
    let Some(limit) = open_files else {
        return most;
    };
    let left = limit.saturating_sub(FDS_BASE + FDS_PER_WORKER * workers as u64) / 2;
    usize::try_from(left).unwrap_or(most).clamp(16, most)
}

/// What `--listen` and the config's `server` key ask for, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Credentials every request must carry, if any.
    pub auth: Option<crate::config::server::Auth>,
    /// What `/metrics` and `/probe` offer.
    pub prometheus: crate::metrics::Settings,
}

/// A bound listener, before the threads start (so a bad address fails before monitoring does).
pub struct Bound {
    listener: TcpListener,
    auth: Auth,
}

impl Bound {
    /// Binds `settings.listen`.
    pub fn bind(settings: &Settings) -> Result<Bound, Error> {
        let listener = TcpListener::bind(settings.listen).map_err(|e| {
            Error::Usage(format!(
                "cannot listen on {} ({e}); use a free port, or port 0 for any",
                settings.listen
            ))
        })?;
        Ok(Bound {
            listener,
            auth: Auth::new(settings.auth.as_ref()),
        })
    }

    /// The address actually bound (the port chosen when 0 was asked).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts the accept thread and the serving threads; at most `pending` connections (at
    /// most [`conn::MAX_PENDING`]) are held waiting for their request head.
    pub fn start(self, ctx: Arc<Ctx>, pending: usize) -> Result<Server, Error> {
        let addr = self
            .local_addr()
            .map_err(|e| Error::Usage(format!("listen: {e}")))?;
        let stopping = Arc::new(AtomicBool::new(false));
        let threads = conn::start(
            self.listener,
            Arc::new(self.auth),
            ctx,
            Arc::clone(&stopping),
            pending.clamp(1, conn::MAX_PENDING),
        )?;
        Ok(Server {
            addr,
            stopping,
            threads,
        })
    }
}

/// The running server.
pub struct Server {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Server {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets the serving threads finish the request in hand (bounded by the
    /// timeouts) and joins them.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::Relaxed);
        // Wake the accept thread blocked in accept(): it sees the flag and ends, which closes
        // the serving threads' channel.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for t in self.threads {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_connections_leave_the_workers_their_descriptors() {
        assert_eq!(pending_connections(16, None), conn::MAX_PENDING);
        assert_eq!(pending_connections(16, Some(1 << 20)), conn::MAX_PENDING);
        assert_eq!(pending_connections(16, Some(1024)), (1024 - 16 - 32) / 2);
        assert_eq!(pending_connections(4096, Some(1024)), 16);
    }
}
