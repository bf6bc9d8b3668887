//! Is the database path still the file being written? The writer keeps the database file open
//! (its own descriptor, opened before SQLite's) and compares it with what the path names: the
//! same device and inode, and a header that still starts with the SQLite magic string. A stat
//! and a 16-byte read: cheap enough for every commit.
//!
//! The descriptor is never closed before the SQLite connection is: closing any descriptor of
//! a file drops every POSIX lock the process holds on it, SQLite's included.
//!
//! When the path no longer names the file ([`Gone`]), [`DbFile::abandon`] makes sure nothing
//! sitewatch left behind can damage whatever is now at the path: it moves what was committed
//! into the file it had open (wherever that file now is: renamed, or unlinked), tells SQLite
//! not to checkpoint on close, and removes the `-wal` and `-shm` files it made, which SQLite
//! would otherwise apply to a new file of the same name.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::Connection;

/// A file's identity: device and inode.
type Id = (u64, u64);

fn id_of(path: &Path) -> Option<Id> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// `db` with `suffix` appended to its name (`-wal`, `-shm`).
pub fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// How the path stopped naming the database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// Nothing is at the path.
    Deleted,
    /// Another file is at the path (moved or copied there, or the database renamed away).
    Replaced,
    /// The same file, but its header is no longer SQLite's (overwritten in place).
    Overwritten,
}

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Gone::Deleted => "deleted",
            Gone::Replaced => "replaced by another file",
            Gone::Overwritten => "overwritten",
        })
    }
}

/// The open database file and the identities of the files SQLite made next to it.
#[derive(Debug)]
pub struct DbFile {
    file: File,
    path: PathBuf,
    id: Id,
    /// `-wal` and `-shm`, once they exist.
    sidecars: Vec<(PathBuf, Id)>,
}

impl DbFile {
    /// Opens (creating it private if needed) the database file for reading and writing. A
    /// writer needs both; a file it may not write is an error of kind `PermissionDenied`.
    pub fn open(path: &Path) -> io::Result<DbFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(crate::private_file::MODE)
            .open(path)?;
        let m = file.metadata()?;
        Ok(DbFile {
            file,
            path: path.to_owned(),
            id: (m.dev(), m.ino()),
            sidecars: Vec::new(),
        })
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Notes the `-wal` and `-shm` files SQLite made, once it has made them.
    pub fn note_sidecars(&mut self) {
        self.sidecars = ["-wal", "-shm"]
            .iter()
            .filter_map(|s| {
                let p = sidecar(&self.path, s);
                id_of(&p).map(|id| (p, id))
            })
            .collect();
    }

    /// `Ok` while the path names the open file and its header is intact. A path that cannot be
    /// examined (a permission error, say) counts as intact: only a sure change is reported.
    pub fn check(&self) -> Result<(), Gone> {
        match std::fs::metadata(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Gone::Deleted),
            Err(_) => return Ok(()),
            Ok(m) if (m.dev(), m.ino()) != self.id => return Err(Gone::Replaced),
            Ok(_) => {}
        }
        let mut magic = [0u8; 16];
        match self.file.read_exact_at(&mut magic, 0) {
            Ok(()) if &magic == b"SQLite format 3\0" => Ok(()),
            Ok(()) => Err(Gone::Overwritten),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Gone::Overwritten),
            Err(_) => Ok(()),
        }
    }

    /// Stops `conn` from ever touching the path again; see the module docs.
    pub fn abandon(&self, conn: &Connection, gone: Gone) {
        if gone != Gone::Overwritten {
            // The file is ours alone now (renamed or unlinked): what the WAL holds goes into
            // it, so a renamed database is complete. Never into a file overwritten in place.
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        let _ = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
        for (path, id) in &self.sidecars {
            if id_of(path) == Some(*id) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_replaced_and_overwritten_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        std::fs::write(&path, b"SQLite format 3\0 and the rest").unwrap();
        let db = DbFile::open(&path).unwrap();
        assert_eq!(db.check(), Ok(()));
        std::fs::write(&path, b"garbage garbage garbage").unwrap();
        assert_eq!(db.check(), Err(Gone::Overwritten));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(db.check(), Err(Gone::Deleted));
        std::fs::write(&path, b"SQLite format 3\0 another").unwrap();
        assert_eq!(db.check(), Err(Gone::Replaced));
    }
}
