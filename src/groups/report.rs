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
    /// How it ended (displays as, and compares equal to, the words it was
    /// given in before it was typed).
    pub outcome: SagaOutcome,
}

/// How a saga [`recover()`](crate::ClusterClient::recover) finished ended.
#[cfg(feature = "journal")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SagaOutcome {
    /// The group is on every node: the saga is complete.
    Completed,
    /// The create (or a repair to absent) was undone: the group was deleted
    /// on `deleted` nodes where this client's sagas had left it.
    RolledBack {
        /// Nodes where the group was deleted.
        deleted: usize,
    },
    /// The interrupted delete was finished on `deleted` nodes.
    DeleteCompleted {
        /// Nodes where the group was deleted.
        deleted: usize,
    },
    /// A repair to present, run again, still failed on `failed` nodes
    /// (each named in [`RecoveryReport::needs_attention`]).
    RepairIncomplete {
        /// Nodes that could not be repaired.
        failed: usize,
    },
}

#[cfg(feature = "journal")]
impl std::fmt::Display for SagaOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const LEFT: &str = "node(s) where this client's sagas left the group";
        match self {
            SagaOutcome::Completed => f.write_str("completed: the group is on every node"),
            SagaOutcome::RolledBack { deleted } => {
                write!(f, "rolled back: deleted on {deleted} {LEFT}")
            }
            SagaOutcome::DeleteCompleted { deleted } => {
                write!(f, "completed the delete: deleted on {deleted} {LEFT}")
            }
            SagaOutcome::RepairIncomplete { failed } => {
                write!(f, "{failed} node(s) could not be repaired")
            }
        }
    }
}

#[cfg(feature = "journal")]
impl SagaOutcome {
    /// Whether the words this displays as contain `needle`, as the text
    /// the outcome was before it was typed did (`o.contains("rolled back")`).
    pub fn contains(&self, needle: &str) -> bool {
        self.to_string().contains(needle)
    }

    /// Whether this displays as exactly `text` (compared as it is written,
    /// without building the string).
    fn displays_as(&self, text: &str) -> bool {
        use std::fmt::Write;
        struct Rest<'a>(&'a str);
        impl Write for Rest<'_> {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0 = self.0.strip_prefix(s).ok_or(std::fmt::Error)?;
                Ok(())
            }
        }
        let mut rest = Rest(text);
        write!(rest, "{self}").is_ok() && rest.0.is_empty()
    }
}

#[cfg(feature = "journal")]
impl PartialEq<str> for SagaOutcome {
    fn eq(&self, other: &str) -> bool {
        self.displays_as(other)
    }
}

#[cfg(feature = "journal")]
impl PartialEq<&str> for SagaOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.displays_as(other)
    }
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
    /// The node.
    pub host: HostAddress,
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
                f.pad(self.as_str())
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

#[cfg(all(test, feature = "journal"))]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_equals_exactly_the_words_it_displays_as() {
        let o = SagaOutcome::RolledBack { deleted: 2 };
        let words = "rolled back: deleted on 2 node(s) where this client's sagas left the group";
        assert_eq!(o.to_string(), words);
        assert_eq!(o, words);
        assert!(o == *words);
        for other in [
            "",
            "rolled back",
            &format!("{words}."),
            &words.replace('2', "3"),
        ] {
            assert_ne!(o, other);
        }
        assert_eq!(
            SagaOutcome::Completed,
            "completed: the group is on every node"
        );
        assert!(o.contains("rolled back") && o.contains("deleted on 2"));
        assert!(!o.contains("completed"));
        assert_eq!(
            SagaOutcome::RepairIncomplete { failed: 1 },
            "1 node(s) could not be repaired"
        );
    }
}
