//! A build without feature `journal`: the ledger and a saga's trail with
//! the journal's interface, writing nothing, so every saga reads the same
//! in every build (as `trail.rs` does when no journal is configured).

use std::marker::PhantomData;
use std::time::Instant;

use crate::cluster::NodeSet;
use crate::error::Error;
use crate::journal::{CreateOutcome, SagaEnd, SagaOp};

/// No journal, and no bookkeeping of sagas in flight (only `recover()`,
/// which needs the journal, reads it).
/// Built as every ledger is, `Ledger::default()`.
#[derive(Debug, Default)]
pub(crate) struct Ledger(());

impl Ledger {
    /// At `shutdown()`: there is no journal to let go.
    pub fn release(&self) {}
}

/// A saga's trail that writes nothing.
pub(super) struct Trail<'a>(PhantomData<&'a Ledger>);

impl<'a> Trail<'a> {
    /// Starts a saga's trail: nothing to write, nothing to wait for.
    pub fn begin(
        _ledger: &'a Ledger,
        _view: &NodeSet,
        _op: SagaOp,
        _group: &str,
        _request_id: &str,
        _deadline: Instant,
    ) -> Result<Trail<'a>, Error> {
        Ok(Trail(PhantomData))
    }

    /// No journal is kept.
    pub fn is_kept(&self) -> bool {
        false
    }

    /// The nodes that lacked and held the group before any create.
    pub fn before(&self, _lacked: &[usize], _held: &[usize]) -> Result<(), Error> {
        Ok(())
    }

    /// Each node's create outcome.
    pub fn outcomes(&self, _outcomes: &[(usize, CreateOutcome)]) {}

    /// A compensation's result on each node.
    pub fn compensated(&self, _results: &[(usize, bool)]) {}

    /// The saga's end, with the nodes it left.
    pub fn finish(&self, _end: SagaEnd, _left: Vec<String>) {}
}
