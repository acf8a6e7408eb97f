//! What `recover()` and `repair_group` report.

use crate::address::HostAddress;
use crate::error::NodeError;

/// What [`ClusterClient::recover`](crate::ClusterClient::recover) did.
#[cfg(feature = "journal")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Sagas the journal showed unfinished (or left with leftovers), now finished.
    pub finished: Vec<RecoveredSaga>,
    /// Nodes where recovery deleted a group an interrupted create had made.
    pub repaired: Vec<Repaired>,
    /// Nodes recovery could not settle: a person should look (see
    /// [`ClusterClient::repair_group`](crate::ClusterClient::repair_group)).
    pub needs_attention: Vec<Attention>,
}

#[cfg(feature = "journal")]
impl RecoveryReport {
    /// True when nothing needs a person.
    pub fn is_clean(&self) -> bool {
        self.needs_attention.is_empty()
    }
}

/// One saga recovery finished.
#[cfg(feature = "journal")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredSaga {
    /// The group.
    pub group_id: String,
    /// What the saga did (compares equal to `"create"`, `"delete"`, `"repair"`).
    pub operation: SagaKind,
    /// The saga's `X-Request-Id`.
    pub request_id: String,
    /// How it ended, in words.
    pub outcome: String,
}

/// A node recovery repaired.
#[cfg(feature = "journal")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// The group.
    pub group_id: String,
    /// The node.
    pub host: HostAddress,
    /// What was done (compares equal to `"deleted"`).
    pub action: RepairAction,
}

/// A node recovery could not settle, and why.
#[cfg(feature = "journal")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attention {
    /// The group.
    pub group_id: String,
    /// The node, as the journal names it.
    pub host: String,
    /// Why a person should look.
    pub reason: String,
}

/// What the user wants of a group on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// The group on every node (created where missing).
    Present,
    /// The group on no node (deleted where present).
    Absent,
}

/// One node's part of a repair.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeRepair {
    /// It held the group already.
    AlreadyPresent,
    /// It lacked the group already.
    AlreadyAbsent,
    /// The group was created there.
    Created,
    /// The group was deleted there.
    Deleted,
    /// The node could not be brought to the intent.
    Failed(NodeError),
}

/// What [`ClusterClient::repair_group`](crate::ClusterClient::repair_group) did, node by node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// The group.
    pub group_id: String,
    /// The intent.
    pub intent: Intent,
    /// Every node, in node order, with what happened there.
    pub nodes: Vec<(HostAddress, NodeRepair)>,
}

impl RepairReport {
    /// True when every node now matches the intent.
    pub fn is_converged(&self) -> bool {
        self.failed().is_empty()
    }

    /// The nodes that could not be brought to the intent.
    pub fn failed(&self) -> Vec<&HostAddress> {
        self.nodes
            .iter()
            .filter(|(_, r)| matches!(r, NodeRepair::Failed(_)))
            .map(|(h, _)| h)
            .collect()
    }
}

/// Defines a small public enum that reads as its lower-case name: `Display`,
/// `as_str`, and `==` with a `&str`.
#[cfg(feature = "journal")]
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $variant),+
        }

        impl $name {
            /// The name, e.g. for JSON output.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
    };
}

#[cfg(feature = "journal")]
named_enum! {
    /// The kind of saga `recover()` finished.
    #[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
    SagaKind {
        /// `create_group`.
        Create => "create",
        /// `delete_group`.
        Delete => "delete",
        /// `repair_group`.
        Repair => "repair",
    }
}

#[cfg(feature = "journal")]
named_enum! {
    /// What `recover()` did on a node.
    #[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
    RepairAction {
        /// It deleted the group a saga of this client left there.
        Deleted => "deleted",
    }
}
