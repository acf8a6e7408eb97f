//! The operations layer's bookkeeping: the saga journal (when one is kept)
//! and the sagas in flight, ordered so that `recover()` and compaction
//! never remove a running saga's records.
//!
//! Lock order: `active`, then the journal's file. A saga's `Begin` record
//! is appended and the saga registered under `active`; `recover()` reads
//! the journal and the sagas in flight under it too, so every saga whose
//! `Begin` it reads is either known to be running or truly ended.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Error;
use crate::journal::{history, Journal, Record};

/// The journal and the sagas in flight.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// The journal; `None` without one, or once the client shut down
    /// (sagas still running keep their own handle until they end).
    journal: Mutex<Option<Arc<Journal>>>,
    kept: bool,
    /// Sagas in flight: id → group.
    active: Mutex<HashMap<u64, String>>,
    /// One `recover()` at a time.
    recovering: Mutex<()>,
}

/// A saga registered as in flight; dropping it ends that.
pub(crate) struct Running<'a> {
    ledger: &'a Ledger,
    saga: u64,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.ledger.active.lock().remove(&self.saga);
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
    /// step for `recover()`.
    pub fn begin(
        &self,
        journal: &Journal,
        record: Record,
        group: &str,
    ) -> Result<Running<'_>, Error> {
        let saga = record.saga();
        let mut active = self.active.lock();
        journal.append(&[record], false)?;
        active.insert(saga, group.to_string());
        Ok(Running { ledger: self, saga })
    }

    /// The journal's records and the sagas in flight, read as one.
    pub fn snapshot(
        &self,
        journal: &Journal,
    ) -> Result<(Vec<Record>, HashMap<u64, String>), Error> {
        let active = self.active.lock();
        Ok((journal.read_all()?, active.clone()))
    }

    /// Serialises `recover()` calls.
    pub fn recovering(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.recovering.lock()
    }

    /// Compacts the journal when it has doubled since it last was: every
    /// group's open state folded into one record, the records of sagas in
    /// flight kept as they are.
    pub fn compact_if_due(&self, journal: &Journal) -> Result<(), Error> {
        if !journal.wants_compaction() {
            return Ok(());
        }
        let active = self.active.lock();
        journal.rewrite(|records| history::compact(&records, &|s| active.contains_key(&s)))
    }
}
