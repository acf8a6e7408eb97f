//! The saga journal: an append-only file of what each group saga did, so a
//! process killed mid-saga leaves nothing behind that
//! [`ClusterClient::recover`](crate::ClusterClient::recover) cannot find.
//!
//! Format: a sequence of records, each `length: u32 LE`, `crc32: u32 LE`
//! (of the payload), then `length` bytes of JSON. A torn last record (a
//! crash mid-write) is detected and dropped; damage anywhere else is
//! [`Error::Journal`] naming the offset, never a panic.
//!
//! One process at a time: a client holds an exclusive advisory lock on
//! `<path>.lock` for as long as it lives, and a second client (in this or
//! another process) opening the same journal gets [`Error::Journal`]. Give
//! each process its own journal path.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Longest record accepted: a longer length field is damage, not data.
const MAX_RECORD: u32 = 16 * 1024 * 1024;
const HEADER: usize = 8;
/// Size past which finished sagas are compacted out as sagas end.
pub(crate) const COMPACT_AT: u64 = 1024 * 1024;

/// What a saga does to the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SagaOp {
    Create,
    Delete,
}

/// One node's outcome of a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CreateOutcome {
    /// This saga created the group there.
    Created,
    /// The group was there already (409 or the API's "unchanged").
    WasThere,
    /// The create may or may not have been applied.
    Unknown,
    /// The create failed; nothing was applied.
    Failed,
}

/// How a saga ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SagaEnd {
    /// The group is on every node (create) or on none (delete).
    Ok,
    /// The create failed and everything it created was deleted again.
    RolledBack,
    /// Nodes were left as named in the record.
    Leftovers,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub(crate) enum Record {
    /// A saga began.
    Begin {
        saga: u64,
        op: SagaOp,
        group: String,
        nodes: Vec<String>,
        request_id: String,
    },
    /// What the nodes said before any create was sent: the nodes that
    /// lacked the group and the ones that held it (the rest gave no usable
    /// answer). Written and synced before the first create leaves: it is the
    /// intent to send a create to these nodes.
    Before {
        saga: u64,
        lacked: Vec<String>,
        held: Vec<String>,
    },
    /// A node's final create outcome.
    Outcome {
        saga: u64,
        node: String,
        outcome: CreateOutcome,
    },
    /// A compensation (delete where this saga created) on one node.
    Compensated { saga: u64, node: String, ok: bool },
    /// The saga ended; `left` names the nodes where its group may remain
    /// (create) or still remains (delete).
    Finish {
        saga: u64,
        end: SagaEnd,
        left: Vec<String>,
    },
}

impl Record {
    /// The saga this record belongs to.
    pub fn saga(&self) -> u64 {
        match self {
            Record::Begin { saga, .. }
            | Record::Before { saga, .. }
            | Record::Outcome { saga, .. }
            | Record::Compensated { saga, .. }
            | Record::Finish { saga, .. } => *saga,
        }
    }
}

/// Encodes one record: length, checksum, JSON.
pub(crate) fn encode(record: &Record, out: &mut Vec<u8>) {
    // Serialising these plain types cannot fail; an empty payload would be
    // rejected on reading, never misread.
    let payload = serde_json::to_vec(record).unwrap_or_default();
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

/// Decodes a whole journal. Returns the records and the length of the
/// valid prefix: a torn last record is left out (and the prefix ends before
/// it). Damage before the end is an error naming its offset.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Vec<Record>, usize), (u64, String)> {
    let mut records = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < HEADER {
            break; // a torn header at the end
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let offset = at as u64;
        if len == 0 || len > MAX_RECORD {
            return Err((offset, format!("record length {len} is not plausible")));
        }
        let end = HEADER + len as usize;
        if rest.len() < end {
            break; // a torn payload at the end
        }
        let payload = &rest[HEADER..end];
        if crc32fast::hash(payload) != crc {
            if at + end == bytes.len() {
                break; // the last record was torn mid-write
            }
            return Err((offset, "checksum mismatch".to_string()));
        }
        let record: Record = serde_json::from_slice(payload)
            .map_err(|e| (offset, format!("unreadable record: {e}")))?;
        records.push(record);
        at += end;
    }
    Ok((records, at))
}

/// An open journal, locked for this client.
pub(crate) struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    /// Held for the journal's lifetime: the advisory lock.
    _lock: File,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

impl Journal {
    /// Opens (or creates) the journal at `path`, takes its lock, checks
    /// every record and drops a torn tail.
    pub fn open(path: &Path) -> Result<Journal, Error> {
        let err = |offset: Option<u64>, reason: String| Error::Journal {
            path: path.display().to_string(),
            offset,
            reason,
        };
        let lock_path = lock_path(path);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                err(
                    None,
                    format!("{} cannot be opened: {e}", lock_path.display()),
                )
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(err(
                    None,
                    "in use by another client (one journal per process)".to_string(),
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(err(None, format!("cannot be locked: {e}")))
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| err(None, format!("cannot be opened: {e}")))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| err(None, format!("cannot be read: {e}")))?;
        let (_, valid) = decode(&bytes).map_err(|(o, why)| err(Some(o), why))?;
        if valid < bytes.len() {
            log::warn!(
                "journal {}: dropping a torn last record at offset {valid}",
                path.display()
            );
            file.set_len(valid as u64)
                .map_err(|e| err(None, format!("cannot be truncated: {e}")))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| err(None, format!("cannot be positioned: {e}")))?;
        Ok(Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            _lock: lock,
        })
    }

    fn error(&self, reason: String) -> Error {
        Error::Journal {
            path: self.path.display().to_string(),
            offset: None,
            reason,
        }
    }

    /// Appends records in one write; `sync` makes them durable (fsync)
    /// before returning.
    pub fn append(&self, records: &[Record], sync: bool) -> Result<(), Error> {
        let mut bytes = Vec::new();
        for r in records {
            encode(r, &mut bytes);
        }
        let mut file = self.file.lock();
        file.write_all(&bytes)
            .map_err(|e| self.error(format!("cannot be written: {e}")))?;
        if sync {
            file.sync_data()
                .map_err(|e| self.error(format!("cannot be synced: {e}")))?;
        }
        Ok(())
    }

    /// Every record in the journal now.
    pub fn read_all(&self) -> Result<Vec<Record>, Error> {
        let bytes =
            std::fs::read(&self.path).map_err(|e| self.error(format!("cannot be read: {e}")))?;
        decode(&bytes)
            .map(|(records, _)| records)
            .map_err(|(offset, reason)| Error::Journal {
                path: self.path.display().to_string(),
                offset: Some(offset),
                reason,
            })
    }

    /// Replaces the records of the sagas in `settled` with `replacement`,
    /// keeping every other record (sagas appended meanwhile included):
    /// under the write lock, written to a temporary file, synced, then
    /// renamed over the journal.
    pub fn replace(
        &self,
        settled: &std::collections::HashSet<u64>,
        replacement: &[Record],
    ) -> Result<(), Error> {
        let mut file = self.file.lock();
        let mut keep: Vec<Record> = self
            .read_all()?
            .into_iter()
            .filter(|r| !settled.contains(&r.saga()))
            .collect();
        keep.extend_from_slice(replacement);
        self.rewrite_locked(&mut file, &keep)
    }

    /// When the journal has grown past [`COMPACT_AT`], drops the sagas that
    /// ended cleanly (`Ok` or `RolledBack`), under the write lock so no
    /// record appended meanwhile is lost.
    pub fn compact_if_large(&self) -> Result<(), Error> {
        let mut file = self.file.lock();
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < COMPACT_AT {
            return Ok(());
        }
        let records = self.read_all()?;
        let done: std::collections::HashSet<u64> = records
            .iter()
            .filter_map(|r| match r {
                Record::Finish {
                    saga,
                    end: SagaEnd::Ok | SagaEnd::RolledBack,
                    ..
                } => Some(*saga),
                _ => None,
            })
            .collect();
        let keep: Vec<Record> = records
            .into_iter()
            .filter(|r| !done.contains(&r.saga()))
            .collect();
        self.rewrite_locked(&mut file, &keep)
    }

    fn rewrite_locked(&self, file: &mut File, keep: &[Record]) -> Result<(), Error> {
        let mut bytes = Vec::new();
        for r in keep {
            encode(r, &mut bytes);
        }
        let tmp = self.path.with_extension("compacting");
        let written = (|| {
            let mut t = File::create(&tmp)?;
            t.write_all(&bytes)?;
            t.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            let mut reopened = OpenOptions::new().read(true).write(true).open(&self.path)?;
            reopened.seek(SeekFrom::End(0))?;
            Ok::<File, std::io::Error>(reopened)
        })();
        match written {
            Ok(f) => {
                *file = f;
                Ok(())
            }
            Err(e) => Err(self.error(format!("cannot be compacted: {e}"))),
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Record> {
        vec![
            Record::Begin {
                saga: 1,
                op: SagaOp::Create,
                group: "g".into(),
                nodes: vec!["http://127.0.0.1:1".into()],
                request_id: "abc".into(),
            },
            Record::Before {
                saga: 1,
                lacked: vec!["http://127.0.0.1:1".into()],
                held: vec![],
            },
            Record::Finish {
                saga: 1,
                end: SagaEnd::Ok,
                left: vec![],
            },
        ]
    }

    fn bytes(records: &[Record]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            encode(r, &mut out);
        }
        out
    }

    #[test]
    fn records_round_trip() {
        let b = bytes(&sample());
        assert_eq!(decode(&b), Ok((sample(), b.len())));
        assert_eq!(decode(&[]), Ok((vec![], 0)));
    }

    #[test]
    fn a_torn_last_record_is_dropped_at_any_cut() {
        let b = bytes(&sample());
        let first_two = bytes(&sample()[..2]).len();
        for cut in first_two..b.len() {
            let (records, valid) = decode(&b[..cut]).unwrap();
            assert_eq!(records, sample()[..2].to_vec(), "cut at {cut}");
            assert_eq!(valid, first_two);
        }
    }

    #[test]
    fn damage_before_the_end_names_its_offset() {
        let mut b = bytes(&sample());
        let second = bytes(&sample()[..1]).len();
        b[second + HEADER + 3] ^= 0x20; // a bit flip in the second record
        let (offset, why) = decode(&b).unwrap_err();
        assert_eq!(offset, second as u64);
        assert!(why.contains("checksum"), "{why}");
        let mut b = bytes(&sample());
        b[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&b).unwrap_err().0, 0);
    }

    #[test]
    fn a_large_journal_keeps_only_the_sagas_that_did_not_end_cleanly() {
        let dir = std::env::temp_dir().join(format!(
            "cluster-client-compact-{}-{}",
            std::process::id(),
            crate::retry::random_u64()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let j = Journal::open(&dir.join("j")).unwrap();
        let begin = |saga| Record::Begin {
            saga,
            op: SagaOp::Create,
            group: "g".repeat(100),
            nodes: vec!["http://127.0.0.1:1".into(); 3],
            request_id: "0123456789abcdef".into(),
        };
        let mut batch = Vec::new();
        for saga in 10..5000 {
            batch.push(begin(saga));
            batch.push(Record::Finish {
                saga,
                end: SagaEnd::Ok,
                left: vec![],
            });
        }
        let open = [
            begin(1),
            Record::Finish {
                saga: 2,
                end: SagaEnd::Leftovers,
                left: vec!["http://127.0.0.1:1".into()],
            },
        ];
        j.append(&open, false).unwrap();
        j.append(&batch, false).unwrap();
        j.compact_if_large().unwrap();
        assert_eq!(j.read_all().unwrap(), open.to_vec());
        j.compact_if_large().unwrap(); // small now: nothing to do
        assert_eq!(j.read_all().unwrap().len(), 2);
        drop(j);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_client_cannot_open_a_locked_journal() {
        let dir = std::env::temp_dir().join(format!(
            "cluster-client-journal-{}-{}",
            std::process::id(),
            crate::retry::random_u64()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let j = Journal::open(&path).unwrap();
        j.append(&sample(), true).unwrap();
        assert!(matches!(Journal::open(&path), Err(Error::Journal { .. })));
        assert_eq!(j.read_all().unwrap(), sample());
        let settled = std::collections::HashSet::from([1]);
        j.replace(&settled, &sample()[..1]).unwrap();
        j.append(&sample()[2..], false).unwrap();
        assert_eq!(j.read_all().unwrap().len(), 2);
        drop(j);
        // The lock went with the client; a torn tail is dropped on open.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[7, 0, 0]).unwrap();
        drop(f);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.read_all().unwrap().len(), 2);
        drop(j);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
