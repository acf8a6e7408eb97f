//! What a saga tells its trail: the operation, each node's create outcome,
//! how it ended. The journal's records hold them; a build without the
//! journal (feature `journal` off) keeps these words and writes nothing.

use serde::{Deserialize, Serialize};

/// What a saga does to the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SagaOp {
    /// `create_group`.
    Create,
    /// `delete_group`.
    Delete,
    /// `repair_group(id, Intent::Present)`.
    RepairPresent,
    /// `repair_group(id, Intent::Absent)`.
    RepairAbsent,
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
    /// Done as asked: the group is on every node (create, repair present)
    /// or on none (delete, repair absent).
    Ok,
    /// The create failed and everything it created was deleted again.
    RolledBack,
    /// Nodes were left as named in the record.
    Leftovers,
}
