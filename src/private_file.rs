//! Files sitewatch creates: private whatever the umask, and never written through a symbolic
//! link someone else could have planted.
//!
//! The history database (and the `-wal` and `-shm` files SQLite makes next to it), the log file
//! and a report written with `--output` can hold what an operator would not show everyone: URLs,
//! names, failure details. A file sitewatch creates is created with mode `0600` (the umask can
//! only remove bits from that, so it is never group- or world-readable); a file that already
//! exists keeps its permissions, which are the operator's choice. SQLite gives `-wal` and `-shm`
//! the permissions of the database file, so a database created here keeps them private too.
//!
//! In a directory that others can write (group- or world-writable, `/tmp` for one), anyone could
//! put a symbolic link where sitewatch is about to write, and have it append to or truncate a
//! file of the operator's elsewhere. There, sitewatch opens with `O_NOFOLLOW` and refuses a
//! symbolic link (for the database: also at its `-wal` and `-shm` names). In a directory only its
//! owner can write, a symbolic link is the owner's own and is followed as usual.

use std::fs::{File, OpenOptions};
use std::io::{Error, ErrorKind};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Permissions of every file sitewatch creates: read and write for its owner only.
pub const MODE: u32 = 0o600;

/// The directory `path` is in (`.` for a bare file name).
fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Whether users other than the owner can create entries in `path`'s directory. When the
/// directory cannot be read, assume they can (the stricter choice).
fn shared_directory(path: &Path) -> bool {
    std::fs::metadata(directory(path)).map_or(true, |m| m.mode() & 0o022 != 0)
}

/// The error for a symbolic link at `path` in a directory others can write.
fn planted(path: &Path) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link in {}, a directory others can write to; sitewatch does not \
             write through it (give the path of the real file, or use a private directory)",
            path.display(),
            directory(path).display()
        ),
    )
}

/// Opens `path` for writing as `options` says, created with [`MODE`], refusing a symbolic link
/// in a directory others can write.
fn open(path: &Path, options: &mut OpenOptions) -> Result<File, Error> {
    let shared = shared_directory(path);
    options.mode(MODE);
    if shared {
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path).map_err(|e| {
        if shared && e.raw_os_error() == Some(libc::ELOOP) {
            planted(path)
        } else {
            e
        }
    })
}

/// Opens (or creates, private) `path` to append to it: the log file.
pub fn append(path: &Path) -> Result<File, Error> {
    open(path, OpenOptions::new().create(true).append(true))
}

/// Creates (or truncates) `path` to write it whole: a report's `--output`.
pub fn replace(path: &Path) -> Result<File, Error> {
    open(
        path,
        OpenOptions::new().create(true).write(true).truncate(true),
    )
}

/// Readies `path` for SQLite to open as a database: creates it, empty and private, when it does
/// not exist (SQLite treats an empty file as a new database, and makes `-wal` and `-shm` with its
/// permissions), and in a directory others can write refuses a symbolic link at the database's
/// name or at its `-wal` or `-shm` names. Call it just before opening the database read-write.
pub fn prepare_database(path: &Path) -> Result<(), Error> {
    if shared_directory(path) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let name = PathBuf::from(name);
            if std::fs::symlink_metadata(&name).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(planted(&name));
            }
        }
    }
    match open(path, OpenOptions::new().write(true).create_new(true)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn dir(mode: u32) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        d
    }

    #[test]
    fn created_files_are_private_and_existing_ones_keep_their_mode() {
        let d = dir(0o700);
        let log = d.path().join("a.log");
        append(&log).unwrap().write_all(b"x\n").unwrap();
        append(&log).unwrap().write_all(b"y\n").unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "x\ny\n");
        assert_eq!(mode(&log), 0o600);
        let report = d.path().join("r.html");
        std::fs::write(&report, "old and longer").unwrap();
        std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace(&report).unwrap().write_all(b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&report).unwrap(), "new");
        assert_eq!(mode(&report), 0o640);
        let db = d.path().join("h.db");
        prepare_database(&db).unwrap();
        prepare_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
    }

    #[test]
    fn a_symlink_in_a_shared_directory_is_refused_in_a_private_one_followed() {
        let victim_dir = dir(0o700);
        let victim = victim_dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let shared = dir(0o777);
        for name in ["x.log", "x.html", "x.db", "y.db-wal"] {
            std::os::unix::fs::symlink(&victim, shared.path().join(name)).unwrap();
        }
        let e = append(&shared.path().join("x.log")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let e = replace(&shared.path().join("x.html")).unwrap_err();
        assert!(e.to_string().contains("others can write"), "{e}");
        let e = prepare_database(&shared.path().join("x.db")).unwrap_err();
        assert!(e.to_string().contains("x.db is a symbolic link"), "{e}");
        let e = prepare_database(&shared.path().join("y.db")).unwrap_err();
        assert!(e.to_string().contains("y.db-wal is a symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

        let own = dir(0o700);
        let link = own.path().join("link.log");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        append(&link).unwrap().write_all(b"!").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious!");
    }
}
