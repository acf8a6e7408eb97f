//! The saga journal: an append-only file of what each group saga did, so a
//! process killed mid-saga leaves nothing behind that
//! [`ClusterClient::recover`](crate::ClusterClient::recover) cannot find.
//!
//! One concern a file: [`kinds`] (what a saga tells its trail), [`record`]
//! (what a record says and how it lies on disk, the damage model), [`file`]
//! (the locked file: whole appends or none, reading, rewriting through a
//! temporary file), [`history`] (the saga policy: what the records say is
//! still open, and what recovery may do about it). Without feature
//! `journal` only [`kinds`] is built: sagas name their steps, and nothing
//! is written.
//!
//! One process at a time: a client holds an exclusive advisory lock on
//! `<path>.lock` for as long as it lives (until its last handle drops or
//! `shutdown()`), and a second client (in this or another process) opening
//! the same journal gets [`Error::Journal`](crate::Error::Journal). Give
//! each process its own journal path.

#[cfg(feature = "journal")]
mod file;
#[cfg(feature = "journal")]
pub(crate) mod history;
mod kinds;
#[cfg(feature = "journal")]
mod record;

#[cfg(feature = "journal")]
pub(crate) use self::file::Journal;
pub(crate) use self::kinds::{CreateOutcome, SagaEnd, SagaOp};
#[cfg(feature = "journal")]
pub(crate) use self::record::Record;
