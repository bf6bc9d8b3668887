//! One writer per history database: the writer holds an exclusive lock on a sidecar file,
//! `<db>.lock` (next to the file the path resolves to), for its whole life, and writes its
//! process id into it.
//!
//! Why a sidecar and not the database file itself: SQLite locks the database with POSIX
//! (`fcntl`) locks, which belong to the process and are all dropped when *any* descriptor of
//! the file is closed. A lock of our own on the database file would be one more descriptor to
//! get wrong, and on NFS `flock` is emulated with `fcntl` and would collide with SQLite's. The
//! sidecar is locked with `flock` (`std::fs::File::try_lock`), which SQLite never touches, and
//! the kernel releases it when the process ends however it ends (a crash leaves a stale file
//! that the next writer simply takes over).
//!
//! The lock is taken before the database is opened, created or migrated, so two writers
//! started at the same instant on a new file cannot race: exactly one gets the lock. Readers
//! (`sitewatch report`, the digest) never take it. A clean stop removes the file while still
//! holding the lock; a writer that locks a file which is then no longer at the path (removed
//! by a stopping writer meanwhile) starts over, so two writers never hold locks on two
//! different files for one database.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Attempts at locking a lock file that a stopping writer removes under us.
const ATTEMPTS: usize = 10;
/// How long a refused writer waits for the holder's pid to appear in the lock file (the holder
/// writes it just after locking).
const PID_WAIT: Duration = Duration::from_millis(500);

/// The path of the lock file of database `db`: `<db>.lock`, next to the file the path resolves
/// to (through symbolic links, as SQLite does for its `-wal`), so that two paths to one database
/// share one lock.
pub fn lock_path(db: &Path) -> PathBuf {
    let resolved = std::fs::canonicalize(db).unwrap_or_else(|_| {
        // A new database: resolve its directory.
        let dir = match db.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        match (std::fs::canonicalize(dir), db.file_name()) {
            (Ok(dir), Some(name)) => dir.join(name),
            _ => db.to_owned(),
        }
    });
    let mut name = resolved.into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// An exclusive lock on a database's lock file, held until dropped.
#[derive(Debug)]
pub struct WriterLock {
    file: File,
    path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it; its pid, when the lock file says.
    Held(Option<u32>),
    /// The lock file (this path) cannot be created or opened.
    Io(PathBuf, io::Error),
}

impl WriterLock {
    /// Takes the lock of database `db` without waiting, and records this process's id in it.
    pub fn acquire(db: &Path) -> Result<WriterLock, LockError> {
        let path = lock_path(db);
        for _ in 0..ATTEMPTS {
            // Private like every file sitewatch makes, and never through a symbolic link: one
            // planted at the name would have us write our pid into someone else's file.
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(crate::private_file::MODE)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(|e| {
                    let e = if e.raw_os_error() == Some(libc::ELOOP) {
                        io::Error::other(
                            "it is a symbolic link; sitewatch does not write through one",
                        )
                    } else {
                        e
                    };
                    LockError::Io(path.clone(), e)
                })?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Err(LockError::Held(holder(&mut file))),
                Err(TryLockError::Error(e)) => return Err(LockError::Io(path, e)),
            }
            // A stopping writer may have removed the file between our open and our lock: then
            // we hold a lock nobody else can see. Take the one at the path instead.
            if !same_file(&file, &path) {
                continue;
            }
            let pid = std::process::id();
            file.set_len(0)
                .and_then(|()| file.write_all(format!("{pid}\n").as_bytes()))
                .and_then(|()| file.flush())
                .map_err(|e| LockError::Io(path.clone(), e))?;
            return Ok(WriterLock { file, path });
        }
        let e = io::Error::other("the lock file keeps being replaced");
        Err(LockError::Io(path, e))
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Remove it while still holding the lock (see `acquire` for the other side).
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
        // Closing `file` releases the lock.
    }
}

/// True when `path` names the open `file`.
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// The pid recorded in a lock file held by another process, waiting briefly for it to be
/// written.
fn holder(file: &mut File) -> Option<u32> {
    let deadline = Instant::now() + PID_WAIT;
    loop {
        let mut text = String::new();
        let read = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut text));
        if let Ok(pid) = text.trim().parse() {
            return Some(pid);
        }
        if read.is_err() || Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("h.db");
        std::fs::write(&db, b"").unwrap();
        let first = WriterLock::acquire(&db).unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(first.path(), real.join("h.db.lock"));
        // Another path to the same file shares the lock.
        std::os::unix::fs::symlink(&db, dir.path().join("link.db")).unwrap();
        assert!(WriterLock::acquire(&dir.path().join("link.db")).is_err());
        match WriterLock::acquire(&db) {
            Err(LockError::Held(pid)) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert!(!dir.path().join("h.db.lock").exists(), "removed at drop");
        let again = WriterLock::acquire(&db).unwrap();
        drop(again);
    }

    #[test]
    fn the_lock_file_is_private_and_never_a_symbolic_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("h.db");
        let lock = WriterLock::acquire(&db).unwrap();
        let mode = std::fs::metadata(lock.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(lock);
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, lock_path(&db)).unwrap();
        match WriterLock::acquire(&db) {
            Err(LockError::Io(_, e)) => assert!(e.to_string().contains("symbolic link"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[test]
    fn a_stale_lock_file_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("h.db");
        std::fs::write(lock_path(&db), "999999999\n").unwrap();
        let lock = WriterLock::acquire(&db).unwrap();
        let text = std::fs::read_to_string(lock.path()).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
    }
}
