//! The help text.

pub const USAGE: &str = "\
clusterctl: drive a cluster of HTTP nodes as one

Usage: clusterctl [OPTIONS] <COMMAND>

Commands:
  group create ID         create group ID on every node (verified, or rolled back)
  group delete ID         delete group ID on every node
  group verify ID         show whether each node holds group ID
  group repair ID --present|--absent
                          converge group ID on every node: create it where
                          missing, or delete it where present
  recover                 finish what a killed run left, from the saga
                          journal (--journal or the file's [journal] path)
  nodes [--round-trip]    per node: reachable, speaks the group API (? =
                          unchecked), healthy (--round-trip also creates,
                          verifies and deletes a reserved probe group on each
                          node, in parallel, which proves it: yes or no);
                          then each node's answer times (count, p50/p90/p99)
  request METHOD PATH [--body FILE|-]
                          one request to one node (picked as the library
                          does, failing over); prints the status and the body
  admin id                the answering server's id
  admin role              the answering server's role
  admin health            the cluster's health, server by server
  admin count             the number of servers
  admin version ID        server ID's version
  admin engine ID         server ID's storage engine
  admin stats ID          server ID's statistics
  admin maintenance on|off  turn the cluster's maintenance mode on or off
  metrics [--prometheus]  pool metrics, answer times (count, p50/p90/p99 per
                          node) and hedges sent/won of this run's own traffic
                          (a fresh client: mostly zeros; a long-running
                          program exports its own)

Options:
  --config FILE      the library's TOML configuration file
                     [default: $CLUSTER_CLIENT_CONFIG]
  --hosts LIST       comma-separated node addresses, e.g.
                     http://10.0.0.1:8000,http://10.0.0.2:8000
                     [default: the file's hosts, else $HOSTS]
  --api NAME         the group API: reference or webdav [default: the file's,
                     else reference]
  --timeout TIME     bound on one whole operation, retries included, e.g.
                     30s, 250ms, 2m; a bare number is seconds [default: 30s]
  --retries N        attempts per node, the first included [default: 3]
  --resolver NAME    where a one-node call (request, admin) starts:
                     round_robin, random, fallback or least_loaded
                     [default: the file's host_resolver, else round_robin]
  --journal PATH     keep the saga journal in PATH (see recover)
  --json             print JSON for scripts instead of tables (every command
                     and error; metrics --prometheus prints Prometheus text)
  -h, --help         print this help
  -V, --version      print the version

Options given on the command line override the configuration file, which
overrides clusterctl's defaults. Hedged reads are set in the file only:
[hedging] enabled = true, delay = \"p95\" (or \"20ms\"), budget_percent = 5.

Exit codes: 0 success, 1 the operation failed (failed nodes on stderr),
2 bad usage, invalid input or a configuration error (nothing was sent).
";
