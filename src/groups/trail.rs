//! A saga's trail in the journal: what `create_group`, `delete_group` and
//! `repair_group` write, each call a no-op when no journal is kept.

use std::sync::Arc;

use super::ledger::{Ledger, Running};
use crate::cluster::NodeSet;
use crate::error::Error;
use crate::journal::{CreateOutcome, Journal, Record, SagaEnd, SagaOp};
use crate::random::random_u64;

/// One saga's records.
pub(super) struct Trail<'a> {
    journal: Option<Arc<Journal>>,
    ledger: &'a Ledger,
    /// The node set the saga works on: positions are named by address.
    view: NodeSet,
    saga: u64,
    _running: Option<Running<'a>>,
}

impl<'a> Trail<'a> {
    /// Starts a saga's trail: its `Begin` record (not synced: until a
    /// `Before` record is, nothing has been sent that needs undoing).
    /// After `shutdown()` the journal is gone: `Error::Shutdown`. While
    /// `recover()` settles the group it waits, until `deadline`.
    pub fn begin(
        ledger: &'a Ledger,
        view: &NodeSet,
        op: SagaOp,
        group: &str,
        request_id: &str,
        deadline: std::time::Instant,
    ) -> Result<Trail<'a>, Error> {
        let journal = ledger.journal();
        if ledger.is_kept() && journal.is_none() {
            return Err(Error::Shutdown);
        }
        // Without a journal nothing is written: no id is drawn.
        let saga = journal.as_ref().map_or(0, |_| random_u64());
        let running = match &journal {
            Some(j) => Some(ledger.begin(
                j,
                Record::Begin {
                    saga,
                    op,
                    group: group.to_string(),
                    nodes: view.iter().map(|n| n.address.to_string()).collect(),
                    request_id: request_id.to_string(),
                },
                group,
                deadline,
            )?),
            None => None,
        };
        Ok(Trail {
            journal,
            ledger,
            view: view.clone(),
            saga,
            _running: running,
        })
    }

    /// True when a journal is kept.
    pub fn is_kept(&self) -> bool {
        self.journal.is_some()
    }

    fn names(&self, nodes: &[usize]) -> Vec<String> {
        nodes
            .iter()
            .map(|&i| self.view[i].address.to_string())
            .collect()
    }

    /// The nodes that lacked and held the group before any create: synced
    /// to disk before the first create leaves (the intent).
    pub fn before(&self, lacked: &[usize], held: &[usize]) -> Result<(), Error> {
        match &self.journal {
            Some(j) => j.append(
                &[Record::Before {
                    saga: self.saga,
                    lacked: self.names(lacked),
                    held: self.names(held),
                }],
                true,
            ),
            None => Ok(()),
        }
    }

    /// Each node's create outcome. A journal error here is logged: the
    /// saga goes on, and `recover()` re-verifies what it cannot read.
    pub fn outcomes(&self, outcomes: &[(usize, CreateOutcome)]) {
        let records: Vec<Record> = outcomes
            .iter()
            .map(|&(node, outcome)| Record::Outcome {
                saga: self.saga,
                node: self.view[node].address.to_string(),
                outcome,
            })
            .collect();
        self.write(&records);
    }

    /// A compensation's result on each node.
    pub fn compensated(&self, results: &[(usize, bool)]) {
        let records: Vec<Record> = results
            .iter()
            .map(|&(node, ok)| Record::Compensated {
                saga: self.saga,
                node: self.view[node].address.to_string(),
                ok,
            })
            .collect();
        self.write(&records);
    }

    /// The saga's end, with the nodes it left (named by address); the
    /// journal is then compacted if it has doubled.
    pub fn finish(&self, end: SagaEnd, left: Vec<String>) {
        self.write(&[Record::Finish {
            saga: self.saga,
            end,
            left,
        }]);
        if let Some(j) = &self.journal {
            if let Err(e) = self.ledger.compact_if_due(j) {
                log::error!("saga {:016x}: {e}", self.saga);
            }
        }
    }

    fn write(&self, records: &[Record]) {
        if let Some(j) = &self.journal {
            if let Err(e) = j.append(records, false) {
                log::error!("saga {:016x}: {e}", self.saga);
            }
        }
    }
}
