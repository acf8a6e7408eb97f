//! The operations layer's bookkeeping: the saga journal (when one is kept)
//! and the sagas in flight, ordered so that `recover()` and compaction
//! never remove a running saga's records.
//!
//! Lock order: `books`, then the journal's file. A saga's `Begin` record
//! is appended and the saga registered under `books`; `recover()` reads
//! the journal and the sagas in flight under it too, so every saga whose
//! `Begin` it reads is either known to be running or truly ended. And the
//! groups `recover()` settles are marked there: a saga of such a group
//! waits to begin until recovery is done with it (a saga already running
//! keeps its group out of recovery), so recovery never deletes what a
//! running saga made.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, JournalErrorKind};
use crate::journal::{history, Journal, Record};

/// The journal and the sagas in flight.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// The journal; `None` without one, or once the client shut down
    /// (sagas still running keep their own handle until they end).
    journal: Mutex<Option<Arc<Journal>>>,
    kept: bool,
    books: Mutex<Books>,
    /// Signalled when recovery lets a group go.
    released: Condvar,
    /// One `recover()` at a time.
    recovering: Mutex<()>,
}

/// Who works on which group now.
#[derive(Debug, Default)]
pub(crate) struct Books {
    /// Sagas in flight: id → group.
    pub active: HashMap<u64, String>,
    /// Groups `recover()` is settling.
    pub recovering: HashSet<String>,
}

/// A saga registered as in flight; dropping it ends that.
pub(crate) struct Running<'a> {
    ledger: &'a Ledger,
    saga: u64,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.ledger.books.lock().active.remove(&self.saga);
    }
}

impl Ledger {
    /// Opens the journal at `path` (and takes its lock), if one is kept.
    pub fn open(path: Option<&Path>) -> Result<Ledger, Error> {
        Ok(Ledger {
            journal: Mutex::new(path.map(Journal::open).transpose()?.map(Arc::new)),
            kept: path.is_some(),
            ..Ledger::default()
        })
    }

    /// True when a journal was configured.
    pub fn is_kept(&self) -> bool {
        self.kept
    }

    /// The journal, while the client is up.
    pub fn journal(&self) -> Option<Arc<Journal>> {
        self.journal.lock().clone()
    }

    /// Lets the journal go (at `shutdown()`): its file and lock close when
    /// the last running saga ends.
    pub fn release(&self) {
        self.journal.lock().take();
    }

    /// Writes a saga's first record and registers it as in flight, as one
    /// step for `recover()`; waits (until `deadline`) while recovery
    /// settles the same group.
    pub fn begin(
        &self,
        journal: &Journal,
        record: Record,
        group: &str,
        deadline: Instant,
    ) -> Result<Running<'_>, Error> {
        let saga = record.saga();
        let mut books = self.books.lock();
        while books.recovering.contains(group) {
            if self.released.wait_until(&mut books, deadline).timed_out() {
                return Err(Error::Journal {
                    path: journal.path().to_path_buf(),
                    offset: None,
                    reason: format!("group {group:?} is being recovered; try again"),
                    kind: JournalErrorKind::Busy,
                    source: None,
                });
            }
        }
        journal.append(&[record], false)?;
        books.active.insert(saga, group.to_string());
        Ok(Running { ledger: self, saga })
    }

    /// Reads the journal with the books locked: `take` gets the records and
    /// the books, and may mark groups as being recovered.
    pub fn snapshot<T>(
        &self,
        journal: &Journal,
        take: impl FnOnce(Vec<Record>, &mut Books) -> T,
    ) -> Result<T, Error> {
        let mut books = self.books.lock();
        let records = journal.read_all()?;
        Ok(take(records, &mut books))
    }

    /// Recovery is done with `group`: sagas waiting for it go on.
    pub fn release_group(&self, group: &str) {
        self.books.lock().recovering.remove(group);
        self.released.notify_all();
    }

    /// Serialises `recover()` calls.
    pub fn recovering(&self) -> MutexGuard<'_, ()> {
        self.recovering.lock()
    }

    /// Compacts the journal when it has doubled since it last was: every
    /// group's open state folded into one record, the records of sagas in
    /// flight kept as they are.
    pub fn compact_if_due(&self, journal: &Journal) -> Result<(), Error> {
        if !journal.wants_compaction() {
            return Ok(());
        }
        let books = self.books.lock();
        journal.rewrite(|records| history::compact(&records, &|s| books.active.contains_key(&s)))
    }
}
