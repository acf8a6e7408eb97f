//! The builder's saga journal setting (feature `journal`).

use super::ClientBuilder;

#[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
impl ClientBuilder {
    /// Journal every group saga to this file, so a process killed mid-saga
    /// leaves nothing [`ClusterClient::recover`](crate::ClusterClient::recover)
    /// cannot find and undo (see the README's "Crash safety"). One client
    /// per journal: the file is locked while the client lives. With a journal, a create first asks
    /// every node whether it holds the group (one extra round trip) and
    /// syncs that to disk before any create is sent.
    pub fn journal(mut self, path: impl AsRef<std::path::Path>) -> Self {
        self.journal = Some(path.as_ref().to_path_buf());
        self
    }

    /// Keeps no saga journal, even if a configuration file named one: for a
    /// short-lived helper client beside the one that holds the journal's
    /// lock (one client per journal).
    pub fn without_journal(mut self) -> Self {
        self.journal = None;
        self
    }
}
