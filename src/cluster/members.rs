//! The living node set: nodes added and removed at runtime. A change swaps
//! the whole set; a call in flight keeps the snapshot it started with, so a
//! removed node takes no new calls at once, finishes the ones it has, and
//! its pool closes when the last of them lets it go.

use std::sync::Arc;

use super::{Cluster, NodeSet};
use crate::address::HostAddress;
use crate::error::Error;
use crate::node::Node;

impl Cluster {
    /// Builds a node for `host` (not yet a member).
    fn build_node(&self, position: usize, host: &HostAddress) -> Result<Arc<Node>, Error> {
        (self.make_node)(position, host, &self.node_settings, self.events.clone()).map(Arc::new)
    }

    fn refuse_after_shutdown(&self) -> Result<(), Error> {
        if self.is_shut_down() {
            Err(Error::Shutdown)
        } else {
            Ok(())
        }
    }

    /// Adds `host`; `InvalidConfig` for a bad host or one already a member.
    pub fn add_node(&self, host: &str) -> Result<(), Error> {
        self.refuse_after_shutdown()?;
        let host = parse_member(host)?;
        let mut members = self.members.write();
        if members.iter().any(|n| n.address == host) {
            return Err(Error::InvalidConfig(format!("{host} is already a node")));
        }
        let node = self.build_node(members.len(), &host)?;
        let mut next: Vec<Arc<Node>> = members.as_ref().clone();
        next.push(node);
        *members = Arc::new(next);
        log::info!("node {host} added");
        Ok(())
    }

    /// Removes `host`; `false` when it is not a member. The last node is
    /// not removed (`InvalidConfig`): a cluster has at least one node.
    pub fn remove_node(&self, host: &HostAddress) -> Result<bool, Error> {
        self.refuse_after_shutdown()?;
        let mut members = self.members.write();
        if !members.iter().any(|n| &n.address == host) {
            return Ok(false);
        }
        if members.len() == 1 {
            return Err(Error::InvalidConfig(format!(
                "{host} is the last node: a cluster keeps at least one"
            )));
        }
        let next: Vec<Arc<Node>> = members
            .iter()
            .filter(|n| &n.address != host)
            .cloned()
            .collect();
        *members = Arc::new(next);
        log::info!("node {host} removed (its calls in flight finish)");
        Ok(true)
    }

    /// Makes `hosts` the node set, in that order: nodes that stay keep
    /// their pools, health and metrics; new ones are built; the others
    /// leave as with [`Cluster::remove_node`]. Nothing changes on error.
    pub fn set_nodes(&self, hosts: Vec<HostAddress>) -> Result<(), Error> {
        self.refuse_after_shutdown()?;
        if hosts.is_empty() {
            return Err(Error::InvalidConfig(
                "an empty node set: a cluster keeps at least one node".to_string(),
            ));
        }
        let mut members = self.members.write();
        let mut next: Vec<Arc<Node>> = Vec::with_capacity(hosts.len());
        for (i, host) in hosts.iter().enumerate() {
            if hosts[..i].contains(host) {
                return Err(Error::InvalidConfig(format!("{host} is listed twice")));
            }
            match members.iter().find(|n| &n.address == host) {
                Some(n) => next.push(n.clone()),
                None => next.push(self.build_node(i, host)?),
            }
        }
        *members = Arc::new(next);
        Ok(())
    }
}

/// A host to add, checked as the builder checks its hosts.
pub(crate) fn parse_member(host: &str) -> Result<HostAddress, Error> {
    HostAddress::parse(host).map_err(|e| Error::InvalidConfig(e.to_string()))
}

/// The position of `host` in a node set, if it is a member.
pub(crate) fn position(nodes: &NodeSet, host: &HostAddress) -> Option<usize> {
    nodes.iter().position(|n| &n.address == host)
}
