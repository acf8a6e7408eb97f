//! The journal's file: opening and locking it, appending whole records
//! (or none), reading, and rewriting it through a temporary file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::record::{decode, encode_all, Record};
use crate::error::{Error, JournalErrorKind};

/// Size below which the journal is never compacted.
pub(crate) const COMPACT_AT: u64 = 1024 * 1024;

/// An open journal, locked for this client.
pub(crate) struct Journal {
    path: PathBuf,
    tail: Mutex<Tail>,
    /// Held for the journal's lifetime: the advisory lock.
    _lock: File,
}

/// The file and how much of it holds whole records.
struct Tail {
    file: File,
    /// Bytes of whole records: every append starts here.
    len: u64,
    /// A failed append could not be undone: undo it before the next.
    dirty: bool,
    /// Compaction is due once the file reaches this size.
    compact_at: u64,
    /// Tests: fail the next append after writing this many bytes.
    #[cfg(test)]
    fail_after: Option<usize>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

/// The next compaction point after the file was compacted to `len` bytes:
/// it has to double first, so compaction costs O(1) per record written.
fn next_compaction(len: u64) -> u64 {
    COMPACT_AT.max(len.saturating_mul(2))
}

impl Journal {
    /// An error about this journal.
    fn error(
        path: &Path,
        kind: JournalErrorKind,
        reason: String,
        source: Option<std::io::Error>,
    ) -> Error {
        Error::Journal {
            path: path.to_path_buf(),
            offset: None,
            reason,
            kind,
            source,
        }
    }

    fn io(path: &Path, what: &str, e: std::io::Error) -> Error {
        Journal::error(path, JournalErrorKind::Io, format!("{what}: {e}"), Some(e))
    }

    /// Opens (or creates) the journal at `path`, takes its lock, checks
    /// every record and drops a torn tail (see `record`).
    pub fn open(path: &Path) -> Result<Journal, Error> {
        let lock = lock(path)?;
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Journal::io(path, "cannot be opened", e))?;
        if !existed {
            sync_dir(path).map_err(|e| Journal::io(path, "directory cannot be synced", e))?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Journal::io(path, "cannot be read", e))?;
        let (_, valid) = decode(&bytes).map_err(|d| Error::Journal {
            path: path.to_path_buf(),
            offset: Some(d.offset),
            reason: d.reason,
            kind: JournalErrorKind::Damaged,
            source: None,
        })?;
        if valid < bytes.len() {
            log::warn!(
                "journal {}: dropping a torn tail of {} bytes at offset {valid}",
                path.display(),
                bytes.len() - valid
            );
            file.set_len(valid as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| Journal::io(path, "cannot be truncated", e))?;
        }
        let len = valid as u64;
        Ok(Journal {
            path: path.to_path_buf(),
            tail: Mutex::new(Tail::new(file, len)),
            _lock: lock,
        })
    }

    /// Appends records in one write, all or none: a write that fails part
    /// way is cut back before the error returns (and, if even that fails,
    /// before the next append). `sync` makes them durable before returning.
    pub fn append(&self, records: &[Record], sync: bool) -> Result<(), Error> {
        let bytes = encode_all(records);
        let mut tail = self.tail.lock();
        let t = &mut *tail;
        if t.dirty {
            t.file.set_len(t.len).map_err(|e| {
                Journal::io(&self.path, "an earlier failed write cannot be undone", e)
            })?;
            t.dirty = false;
        }
        let written =
            t.write_at_end(&bytes)
                .and_then(|()| if sync { t.file.sync_data() } else { Ok(()) });
        match written {
            Ok(()) => {
                t.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                t.dirty = t.file.set_len(t.len).is_err();
                Err(Journal::io(&self.path, "cannot be written", e))
            }
        }
    }

    /// Every record in the journal now.
    pub fn read_all(&self) -> Result<Vec<Record>, Error> {
        let mut tail = self.tail.lock();
        self.read_locked(&mut tail)
    }

    fn read_locked(&self, t: &mut Tail) -> Result<Vec<Record>, Error> {
        let mut bytes = vec![0u8; usize::try_from(t.len).unwrap_or(usize::MAX)];
        t.file
            .seek(SeekFrom::Start(0))
            .and_then(|_| t.file.read_exact(&mut bytes))
            .map_err(|e| Journal::io(&self.path, "cannot be read", e))?;
        decode(&bytes)
            .map(|(records, _)| records)
            .map_err(|d| Error::Journal {
                path: self.path.clone(),
                offset: Some(d.offset),
                reason: d.reason,
                kind: JournalErrorKind::Damaged,
                source: None,
            })
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the journal has grown enough to be compacted.
    pub fn wants_compaction(&self) -> bool {
        let t = self.tail.lock();
        t.len >= t.compact_at
    }

    /// Replaces the journal's records by `change(records)`, under the write
    /// lock (no append can come between the read and the rename): written
    /// to `<file name>.compacting` beside it, synced, renamed over the
    /// journal, and the directory synced.
    pub fn rewrite(&self, change: impl FnOnce(Vec<Record>) -> Vec<Record>) -> Result<(), Error> {
        let mut tail = self.tail.lock();
        let records = self.read_locked(&mut tail)?;
        let bytes = encode_all(&change(records));
        let tmp = temporary_path(&self.path);
        let written = (|| {
            let mut t = File::create(&tmp)?;
            t.write_all(&bytes)?;
            t.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            sync_dir(&self.path)?;
            OpenOptions::new().read(true).write(true).open(&self.path)
        })();
        match written {
            Ok(file) => {
                let len = bytes.len() as u64;
                *tail = Tail::new(file, len);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(Journal::io(&self.path, "cannot be rewritten", e))
            }
        }
    }

    /// The size of the journal's whole records.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.tail.lock().len
    }

    /// Tests: the next append fails after writing `bytes` bytes (a full disk).
    #[cfg(test)]
    pub fn fail_next_append_after(&self, bytes: usize) {
        self.tail.lock().fail_after = Some(bytes);
    }
}

impl Tail {
    /// A file whose first `len` bytes are whole records.
    fn new(file: File, len: u64) -> Tail {
        Tail {
            file,
            len,
            dirty: false,
            compact_at: next_compaction(len),
            #[cfg(test)]
            fail_after: None,
        }
    }

    fn write_at_end(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(self.len))?;
        #[cfg(test)]
        if let Some(n) = self.fail_after.take() {
            self.file.write_all(&bytes[..n.min(bytes.len())])?;
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (test)",
            ));
        }
        self.file.write_all(bytes)
    }
}

/// Takes the journal's advisory lock, `<path>.lock`.
fn lock(path: &Path) -> Result<File, Error> {
    let lock_path = sibling(path, ".lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            Journal::io(
                path,
                &format!("{} cannot be opened", lock_path.display()),
                e,
            )
        })?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(Journal::error(
            path,
            JournalErrorKind::Locked,
            "in use by another client (one journal per process)".to_string(),
            None,
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(Journal::io(path, "cannot be locked", e)),
    }
}

/// `path` with `suffix` added to its full file name (`a.b` → `a.b.lock`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where a rewrite is written first: beside the journal, named from its
/// full file name, so journals in one directory never share it.
fn temporary_path(path: &Path) -> PathBuf {
    sibling(path, ".compacting")
}

/// Tests: how many times a directory was synced.
#[cfg(test)]
static DIR_SYNCS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Makes a file's creation or rename in its directory durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    DIR_SYNCS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
