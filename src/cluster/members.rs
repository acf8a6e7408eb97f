//! The living node set: nodes added and removed at runtime. A change swaps
//! the whole set; a call in flight keeps the snapshot it started with, so a
//! removed node takes no new calls at once, finishes the ones it has, and
//! its pool closes when the last of them lets it go.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{Cluster, NodeSet};
use crate::address::HostAddress;
use crate::error::Error;
use crate::node::Node;
use crate::request::{Method, RequestPath};

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

/// A coordinator endpoint as ArangoDB reports it, as a node address:
/// `tcp://` is `http://`, `ssl://` is `https://`; other schemes are skipped.
fn endpoint_host(endpoint: &str) -> Option<HostAddress> {
    let url = if let Some(rest) = endpoint.strip_prefix("tcp://") {
        format!("http://{rest}")
    } else if let Some(rest) = endpoint.strip_prefix("ssl://") {
        format!("https://{rest}")
    } else if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.to_string()
    } else {
        log::warn!("discovery: endpoint {endpoint:?} skipped (not tcp:// or ssl://)");
        return None;
    };
    match HostAddress::parse(&url) {
        Ok(h) => Some(h),
        Err(e) => {
            log::warn!("discovery: endpoint {endpoint:?} skipped: {e}");
            None
        }
    }
}

impl Cluster {
    /// Asks the cluster for its coordinators (`GET /_api/cluster/endpoints`)
    /// and makes them the node set; the new set. A failed call, an answer
    /// that is not the list, or an empty list changes nothing (`Err`).
    pub fn discover(&self, scope: &super::CallScope) -> Result<Vec<HostAddress>, Error> {
        let path = "/_api/cluster/endpoints";
        let answer = self.request_one(scope, &Method::GET, RequestPath::parse(path)?, None)?;
        let unexpected = |reason: String| Error::UnexpectedResponse {
            host: answer.host.clone(),
            path: path.to_string(),
            status: answer.status,
            reason,
        };
        if !(200..300).contains(&answer.status) {
            return Err(unexpected("not a success".to_string()));
        }
        let value: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|e| unexpected(format!("not JSON: {e}")))?;
        let list = value
            .get("endpoints")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| unexpected("no \"endpoints\" list".to_string()))?;
        let mut hosts: Vec<HostAddress> = Vec::new();
        for e in list {
            let found = e
                .get("endpoint")
                .and_then(serde_json::Value::as_str)
                .and_then(endpoint_host);
            if let Some(h) = found.filter(|h| !hosts.contains(h)) {
                hosts.push(h);
            }
        }
        if hosts.is_empty() {
            return Err(unexpected(
                "no usable endpoint: the node set is unchanged".to_string(),
            ));
        }
        self.set_nodes(hosts.clone())?;
        log::info!("discovery: {} node(s)", hosts.len());
        Ok(hosts)
    }
}

/// Discovery repeated by the background thread (`[discovery] interval`).
pub(crate) struct Discovery {
    every: Duration,
    next: Mutex<Instant>,
    running: AtomicBool,
}

impl Discovery {
    pub fn every(every: Duration) -> Discovery {
        Discovery {
            every,
            next: Mutex::new(Instant::now() + every),
            running: AtomicBool::new(false),
        }
    }
}

impl Cluster {
    /// On the background thread: starts a discovery (on a thread of its
    /// own, one at a time) when one is due. A failure is logged; the node
    /// set stays as it is.
    pub(super) fn discover_if_due(self: &Arc<Self>, now: Instant) {
        let Some(d) = &self.discovery else { return };
        {
            let mut next = d.next.lock();
            if now < *next {
                return;
            }
            *next = now + d.every;
        }
        if d.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let cluster = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("cluster-client-discovery".to_string())
            .spawn(move || {
                if let Err(e) = cluster.discover(&cluster.default_scope()) {
                    log::warn!("discovery failed, the node set is unchanged: {e}");
                }
                if let Some(d) = &cluster.discovery {
                    d.running.store(false, Ordering::Release);
                }
            });
        if let Err(e) = spawned {
            log::warn!("could not start a discovery: {e}");
            d.running.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_become_hosts() {
        let h = |s: &str| endpoint_host(s).map(|h| h.to_string());
        assert_eq!(
            h("tcp://127.0.0.1:8529").as_deref(),
            Some("http://127.0.0.1:8529")
        );
        assert_eq!(
            h("ssl://db.example:8530").as_deref(),
            Some("https://db.example:8530")
        );
        assert_eq!(h("http://a:1").as_deref(), Some("http://a:1"));
        assert_eq!(h("vst://a:1"), None);
        assert_eq!(h("tcp://"), None);
    }
}
