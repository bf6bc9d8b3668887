//! Where operator lines are written: stdout and the `--log-file`, so that no failure is silent.
//!
//! Each line is written whole, unbuffered, to each output in turn, and [`write()`] says whether
//! every output took it; the caller counts a line some output lost in `dropped_lines`. What
//! this module guarantees:
//!
//! - **stdout closed by its reader** (EPIPE; Rust ignores SIGPIPE, so the write fails): one
//!   warning on stderr (`stdout closed (broken pipe); stopping`), the hook set with
//!   [`on_stdout_closed`] is called once (it asks for a graceful stop), and stdout is not
//!   written to again; [`stdout_closed`] then says so, for the exit status.
//! - **any other write error** (disk full, I/O error, file-size limit): one error line on
//!   stderr naming the output and the error, at most once per [`WARN_EVERY`], saying how many
//!   lines were dropped since the last one; writing is tried again with every line, and when
//!   it works again one line says so. A line cut short by the error is ended before the next.
//! - **log rotation**: at most every [`ROTATION_CHECK`] (when writing, and from the printer's
//!   tick), the `--log-file` path is compared (device and inode) with the open file; when it
//!   names another file or none (renamed or deleted), a new file is opened at the path. The
//!   file is opened in append mode, so `copytruncate` works too: lines go on at its start.
//!
//! Only the printer, the reporter and the main thread write here, never a worker; the outputs
//! sit behind one mutex, as they did behind the logger before.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Shortest time between two error lines about the same output.
pub const WARN_EVERY: Duration = Duration::from_secs(60);
/// Shortest time between two checks that the log file path still names the open file.
pub const ROTATION_CHECK: Duration = Duration::from_secs(1);

static OUTPUTS: OnceLock<Mutex<Outputs>> = OnceLock::new();
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
type Hook = Box<dyn Fn() + Send + Sync>;
static ON_STDOUT_CLOSED: OnceLock<Hook> = OnceLock::new();

/// Opens the outputs: stdout, and `log_file` (created if missing, appended to). Call once; a
/// second call keeps the first outputs.
pub fn init(log_file: Option<&Path>) -> io::Result<()> {
    let file = log_file.map(LogFile::open).transpose()?;
    let _ = OUTPUTS.set(Mutex::new(Outputs {
        stdout: Output::new("stdout".into(), stdout(), true),
        file,
    }));
    Ok(())
}

/// Sets what to do when stdout is closed by its reader (once; later calls are ignored).
pub fn on_stdout_closed(hook: impl Fn() + Send + Sync + 'static) {
    let _ = ON_STDOUT_CLOSED.set(Box::new(hook));
}

/// True once stdout was found closed by its reader.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Writes `line` (without its newline) to every output; false if some output lost it. Before
/// [`init`] there are no outputs and nothing is lost.
pub fn write(line: &str) -> bool {
    let Some(outputs) = OUTPUTS.get() else {
        return true;
    };
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let mut outputs = outputs.lock().unwrap_or_else(|e| e.into_inner());
    outputs.write(&bytes, Instant::now())
}

/// Checks at once whether the `--log-file` was moved (SIGHUP), without waiting for the next
/// periodic check; harmless when it was not.
pub fn reopen() {
    if let Some(outputs) = OUTPUTS.get() {
        let mut outputs = outputs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = &mut outputs.file {
            let now = Instant::now();
            if let Some(due) = now.checked_sub(ROTATION_CHECK) {
                file.checked = file.checked.min(due);
            }
            file.follow_rotation(now);
        }
    }
}

/// Follows log rotation even when no line is written: the printer calls it about every second.
pub fn tick() {
    if let Some(outputs) = OUTPUTS.get() {
        let mut outputs = outputs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = &mut outputs.file {
            file.follow_rotation(Instant::now());
        }
    }
}

#[cfg(unix)]
fn stdout() -> Box<dyn Write + Send> {
    use std::os::fd::AsFd;
    // A File on a duplicate of fd 1: unbuffered, so an error belongs to the line being written,
    // and no half-written buffer is retried later.
    match io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(File::from(fd)),
        Err(_) => Box::new(io::stdout()),
    }
}

#[cfg(not(unix))]
fn stdout() -> Box<dyn Write + Send> {
    Box::new(io::stdout())
}

struct Outputs {
    stdout: Output,
    file: Option<LogFile>,
}

impl Outputs {
    fn write(&mut self, line: &[u8], now: Instant) -> bool {
        let mut ok = self.stdout.write(line, now);
        if let Some(file) = &mut self.file {
            file.follow_rotation(now);
            ok &= file.output.write(line, now);
        }
        ok
    }
}

/// One output and what went wrong with it.
pub(crate) struct Output {
    name: String,
    out: Box<dyn Write + Send>,
    /// stdout: a broken pipe means its reader is gone for good.
    is_stdout: bool,
    closed: bool,
    /// The last line was cut short by an error: end it before the next.
    partial: bool,
    /// Lines lost since the error was last said.
    unsaid: u64,
    /// Lines lost since writing last worked.
    lost: u64,
    last_said: Option<Instant>,
}

impl Output {
    pub(crate) fn new(name: String, out: Box<dyn Write + Send>, is_stdout: bool) -> Output {
        Output {
            name,
            out,
            is_stdout,
            closed: false,
            partial: false,
            unsaid: 0,
            lost: 0,
            last_said: None,
        }
    }

    /// Writes one whole line; false if it was lost.
    pub(crate) fn write(&mut self, line: &[u8], now: Instant) -> bool {
        if self.closed {
            return false;
        }
        if self.partial {
            if let Err(e) = write_counted(&mut self.out, b"\n") {
                return self.failed(e.1, now);
            }
            self.partial = false;
        }
        match write_counted(&mut self.out, line) {
            Ok(()) => {
                if self.lost > 0 {
                    log::warn!(
                        "writing to {} again; {} line(s) were dropped",
                        self.name,
                        self.lost
                    );
                    (self.lost, self.unsaid, self.last_said) = (0, 0, None);
                }
                true
            }
            Err((written, e)) => {
                self.partial = written > 0;
                self.failed(e, now)
            }
        }
    }

    fn failed(&mut self, e: io::Error, now: Instant) -> bool {
        if self.is_stdout && e.kind() == io::ErrorKind::BrokenPipe {
            self.closed = true;
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            log::warn!("stdout closed (broken pipe); stopping");
            if let Some(hook) = ON_STDOUT_CLOSED.get() {
                hook();
            }
            return false;
        }
        self.lost += 1;
        self.unsaid += 1;
        if self
            .last_said
            .is_none_or(|t| now.saturating_duration_since(t) >= WARN_EVERY)
        {
            if self.lost == 1 {
                log::error!(
                    "cannot write to {}: {e}; its lines are dropped and counted \
                     (dropped_lines) until it works again; monitoring goes on",
                    self.name
                );
            } else {
                log::error!(
                    "still cannot write to {}: {e}; {} more line(s) dropped",
                    self.name,
                    self.unsaid
                );
            }
            (self.unsaid, self.last_said) = (0, Some(now));
        }
        false
    }
}

/// `write_all` that says how many bytes went out before an error.
fn write_counted(out: &mut dyn Write, mut buf: &[u8]) -> Result<(), (usize, io::Error)> {
    let mut written = 0;
    while !buf.is_empty() {
        match out.write(buf) {
            Ok(0) => return Err((written, io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                written += n;
                buf = &buf[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((written, e)),
        }
    }
    Ok(())
}

/// The `--log-file`: an output that follows rotation.
struct LogFile {
    path: PathBuf,
    output: Output,
    id: Option<FileId>,
    checked: Instant,
    reopen_failed: bool,
}

impl LogFile {
    fn open(path: &Path) -> io::Result<LogFile> {
        let (file, id) = open_append(path)?;
        Ok(LogFile {
            path: path.to_owned(),
            output: Output::new(
                format!("the log file {}", path.display()),
                Box::new(file),
                false,
            ),
            id,
            checked: Instant::now(),
            reopen_failed: false,
        })
    }

    /// Opens a new file at the path if it no longer names the open one (checked at most every
    /// [`ROTATION_CHECK`]).
    fn follow_rotation(&mut self, now: Instant) {
        if now.saturating_duration_since(self.checked) < ROTATION_CHECK {
            return;
        }
        self.checked = now;
        let Some(id) = self.id else { return };
        match std::fs::metadata(&self.path) {
            Ok(m) if FileId::of(&m) == Some(id) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Cannot tell (e.g. permissions changed): keep the open file.
            Err(_) => return,
        }
        match open_append(&self.path) {
            Ok((file, new_id)) => {
                log::info!(
                    "log file {} was moved or deleted (rotated); writing to a new file at that path",
                    self.path.display()
                );
                self.output.out = Box::new(file);
                self.output.partial = false;
                self.id = new_id;
                self.reopen_failed = false;
            }
            Err(e) => {
                if !self.reopen_failed {
                    log::error!(
                        "log file {} was moved or deleted, and a new one cannot be created \
                         there: {e}; still writing to the old file, trying again every second",
                        self.path.display()
                    );
                }
                self.reopen_failed = true;
            }
        }
    }
}

fn open_append(path: &Path) -> io::Result<(File, Option<FileId>)> {
    // Created private (0600), never through a symlink planted in a shared directory.
    let file = crate::private_file::append(path)?;
    let id = file.metadata().ok().and_then(|m| FileId::of(&m));
    Ok((file, id))
}

/// A file's identity: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

impl FileId {
    #[cfg(unix)]
    fn of(m: &std::fs::Metadata) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        Some(FileId(m.dev(), m.ino()))
    }

    #[cfg(not(unix))]
    fn of(_: &std::fs::Metadata) -> Option<FileId> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Takes `room` bytes, then fails with `error`.
    struct Limited {
        taken: Arc<Mutex<Vec<u8>>>,
        room: usize,
        error: io::ErrorKind,
    }

    impl Write for Limited {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut taken = self.taken.lock().unwrap();
            let n = buf.len().min(self.room.saturating_sub(taken.len()));
            if n == 0 && !buf.is_empty() {
                return Err(self.error.into());
            }
            taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn limited(room: usize) -> (Output, Arc<Mutex<Vec<u8>>>) {
        let taken = Arc::new(Mutex::new(Vec::new()));
        let out = Limited {
            taken: Arc::clone(&taken),
            room,
            error: io::ErrorKind::StorageFull,
        };
        (Output::new("x".into(), Box::new(out), false), taken)
    }

    #[test]
    fn a_full_output_loses_lines_and_a_cut_line_is_ended_when_room_comes_back() {
        let (mut out, taken) = limited(10);
        let now = Instant::now();
        assert!(out.write(b"line one\n", now));
        assert!(!out.write(b"line two\n", now), "cut after 1 byte");
        assert!(!out.write(b"line three\n", now));
        assert_eq!((out.lost, out.partial), (2, true));
        assert_eq!(out.last_said, Some(now), "said once");
        assert_eq!(out.unsaid, 1, "the second loss waits for the next message");
        taken.lock().unwrap().clear();
        assert!(out.write(b"four\n", now));
        assert_eq!(&*taken.lock().unwrap(), b"\nfour\n");
        assert_eq!(out.lost, 0);
    }

    #[test]
    fn a_rotated_log_file_is_reopened_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut log = LogFile::open(&path).unwrap();
        let t0 = Instant::now();
        assert!(log.output.write(b"before\n", t0));
        std::fs::rename(&path, dir.path().join("a.log.1")).unwrap();
        log.follow_rotation(t0);
        assert!(!path.exists(), "not checked again within a second");
        log.follow_rotation(t0 + ROTATION_CHECK);
        assert!(log.output.write(b"after\n", t0));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.log.1")).unwrap(),
            "before\n"
        );
    }
}
