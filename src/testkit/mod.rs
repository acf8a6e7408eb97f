//! In-process HTTP/1.1 test nodes on `127.0.0.1` with fault injection, for
//! tests, examples and benchmarks.
//!
//! A [`TestNode`] speaks the group service (`POST`/`DELETE /v1/group/`,
//! `GET /v1/group/<id>/`) and the ArangoDB-style coordinator administration
//! API (`/_admin/server/id`, `/_admin/cluster/health`, ...; any path may
//! carry a `/_db/<name>` prefix). A [`TestCluster`] starts several nodes that
//! share one cluster view, so health reports show nodes that are down.
//!
//! Each node keeps a log of the requests it read ([`RecordedRequest`]),
//! counts connections and concurrent requests, and can be told to misbehave
//! with [`FaultRule`]s ([`Fault`]: error statuses, dropped connections,
//! garbage, slow or huge bodies, ...), to answer slowly
//! ([`TestNode::set_latency`]), or to go down and come back up on the same
//! port ([`TestNode::go_down`], [`TestNode::come_up`]).
//!
//! Nodes use only the standard library: one thread per connection,
//! `TCP_NODELAY`, keep-alive, and one write per answer.
//!
//! ```
//! use cluster_client::testkit::{Fault, FaultRule, TestCluster};
//!
//! let cluster = TestCluster::start(3)?;
//! cluster.node(1).fail_next("POST", 2, 503);
//! cluster.node(2).inject(FaultRule::new(Fault::ApplyThenDrop).path_prefix("/v1/group"));
//! let hosts = cluster.hosts_csv(); // "http://127.0.0.1:P0,http://127.0.0.1:P1,..."
//! let client = cluster_client::ClusterClient::builder()
//!     .hosts_str(&hosts)
//!     .retry_policy(cluster_client::RetryPolicy::exponential(
//!         3,
//!         std::time::Duration::from_millis(10),
//!         std::time::Duration::from_millis(50),
//!     ))
//!     .build()?;
//! client.create_group("g")?; // node 1 is retried, node 2's lost answer is retried
//! assert_eq!(cluster.nodes_with_group("g"), vec![0, 1, 2]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod admin;
mod cluster;
mod fault;
mod groups;
mod http;
mod node;
mod resources;
#[cfg(feature = "tls")]
mod tls;
mod view;

pub use cluster::TestCluster;
pub use fault::{Fault, FaultRule};
pub use node::{RecordedRequest, TestNode};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::TlsTestNode;
