//! `cluster-testnodes`: starts N in-process test nodes on 127.0.0.1 (the
//! library's `testkit`), prints their hosts comma-separated on one line, and
//! serves until standard input closes or a signal ends the process. For
//! tests and benchmarks in other languages (the C demo, the Python package).
//!
//! ```sh
//! cluster-testnodes --count 3 --api webdav --latency 20ms
//! ```
//!
//! While it runs, each line on standard input is a command, answered by one
//! line on standard output: `ok[ <result>]` or `error <why>` (see `USAGE`).

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use cluster_client::parse_duration;
use cluster_client::testkit::{Fault, FaultRule, TestCluster, TestNode};

const USAGE: &str = "\
cluster-testnodes: N in-process test nodes on 127.0.0.1, for tests

Usage: cluster-testnodes [--count N] [--port BASE] [--api reference|webdav] [--latency DURATION]

  --count N        number of nodes (default 3, at most 64)
  --port BASE      listen on ports BASE, BASE+1, ... (default: random free
                   ports in 20000..32000)
  --api API        group wire protocol: reference (default) or webdav
  --latency D      delay every answer, e.g. 20ms (default 0)

Prints the nodes' hosts comma-separated on one line, then reads commands
from standard input, one per line, each answered by one line `ok [...]` or
`error <why>`, until standard input closes or `quit`. NODE is an index
(0-based) or `*` for every node:

  fault NODE METHOD STATUS COUNT     the next COUNT METHOD requests get STATUS (not applied)
  fault-applied NODE METHOD STATUS COUNT   ... applied, then answered STATUS
  drop NODE METHOD COUNT             the next COUNT METHOD requests: applied, connection dropped
  latency NODE DURATION              delay every answer (0 turns it off)
  down NODE | up NODE                stop accepting / accept again on the same port
  clear NODE                         remove every fault rule
  groups ID                          `ok I J ...`: the nodes holding group ID
  count NODE METHOD                  `ok N`: METHOD requests the node read so far
  quit                               stop the nodes and exit
";

/// The command line.
struct Args {
    count: usize,
    /// The first node's port; `None`: random free ports.
    port: Option<u16>,
    webdav: bool,
    latency: Duration,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        count: 3,
        port: None,
        webdav: false,
        latency: Duration::ZERO,
    };
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Ok(None);
        }
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{name} needs a value")),
        };
        match name.as_str() {
            "--count" => {
                parsed.count = match value.parse() {
                    Ok(n) if (1..=64).contains(&n) => n,
                    _ => return Err(format!("--count {value}: expected 1..=64")),
                }
            }
            "--port" => {
                parsed.port = match value.parse::<u16>() {
                    Ok(p) if p > 0 => Some(p),
                    _ => return Err(format!("--port {value}: expected a port, 1..=65535")),
                }
            }
            "--api" => {
                parsed.webdav = match value.as_str() {
                    "reference" => false,
                    "webdav" => true,
                    _ => return Err(format!("--api {value}: expected reference or webdav")),
                }
            }
            "--latency" => {
                parsed.latency = parse_duration(&value).map_err(|e| format!("--latency: {e}"))?;
            }
            _ => return Err(format!("unknown option {name}")),
        }
    }
    Ok(Some(parsed))
}

/// The nodes a `NODE` argument names.
fn select<'a>(cluster: &'a TestCluster, arg: Option<&str>) -> Result<Vec<&'a TestNode>, String> {
    match arg {
        Some("*") => Ok(cluster.nodes().iter().collect()),
        Some(i) => match i.parse::<usize>() {
            Ok(i) if i < cluster.nodes().len() => Ok(vec![&cluster.nodes()[i]]),
            _ => Err(format!("no node {i:?}")),
        },
        None => Err("missing NODE".to_string()),
    }
}

fn number<T: std::str::FromStr>(arg: Option<&str>, what: &str) -> Result<T, String> {
    let arg = arg.ok_or_else(|| format!("missing {what}"))?;
    arg.parse().map_err(|_| format!("bad {what} {arg:?}"))
}

fn word<'a>(arg: Option<&'a str>, what: &str) -> Result<&'a str, String> {
    arg.ok_or_else(|| format!("missing {what}"))
}

/// `drop NODE METHOD COUNT`: the next COUNT METHOD requests are applied,
/// then their connection is dropped.
fn drop_after_applying<'a>(
    cluster: &TestCluster,
    words: &mut impl Iterator<Item = &'a str>,
) -> Result<String, String> {
    let nodes = select(cluster, words.next())?;
    let method = word(words.next(), "METHOD")?.to_ascii_uppercase();
    let count: usize = number(words.next(), "COUNT")?;
    for node in nodes {
        node.inject(
            FaultRule::new(Fault::ApplyThenDrop)
                .method(&method)
                .times(count),
        );
    }
    Ok(String::new())
}

/// Runs one command line; `Ok(None)` for `quit`.
fn command(cluster: &TestCluster, line: &str) -> Result<Option<String>, String> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return Ok(Some(String::new()));
    };
    let mut inject = |fault: fn(u16) -> Fault| -> Result<String, String> {
        let nodes = select(cluster, words.next())?;
        let method = word(words.next(), "METHOD")?.to_ascii_uppercase();
        let status: u16 = number(words.next(), "STATUS")?;
        let count: usize = number(words.next(), "COUNT")?;
        for node in nodes {
            node.inject(FaultRule::new(fault(status)).method(&method).times(count));
        }
        Ok(String::new())
    };
    let result = match name {
        "fault" => inject(|status| Fault::Status {
            status,
            retry_after: None,
        })?,
        "fault-applied" => inject(Fault::ApplyThenStatus)?,
        "drop" => drop_after_applying(cluster, &mut words)?,
        "latency" => {
            let nodes = select(cluster, words.next())?;
            let d = parse_duration(word(words.next(), "DURATION")?)?;
            nodes.iter().for_each(|n| n.set_latency(d));
            String::new()
        }
        "down" => {
            select(cluster, words.next())?
                .iter()
                .for_each(|n| n.go_down());
            String::new()
        }
        "up" => {
            for node in select(cluster, words.next())? {
                node.come_up().map_err(|e| format!("up: {e}"))?;
            }
            String::new()
        }
        "clear" => {
            select(cluster, words.next())?
                .iter()
                .for_each(|n| n.clear_faults());
            String::new()
        }
        "groups" => {
            let id = word(words.next(), "ID")?;
            let holders: Vec<String> = cluster
                .nodes_with_group(id)
                .iter()
                .map(ToString::to_string)
                .collect();
            holders.join(" ")
        }
        "count" => {
            let nodes = select(cluster, words.next())?;
            let method = word(words.next(), "METHOD")?;
            nodes
                .iter()
                .map(|n| n.count_requests(method))
                .sum::<usize>()
                .to_string()
        }
        "quit" => return Ok(None),
        other => return Err(format!("unknown command {other:?}")),
    };
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?}"));
    }
    Ok(Some(result))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("cluster-testnodes: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = match args.port {
        Some(base) => TestCluster::start_on_ports(base, args.count),
        None => TestCluster::start(args.count),
    };
    let cluster = match started {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cluster-testnodes: cannot start nodes: {e}");
            return ExitCode::FAILURE;
        }
    };
    for node in cluster.nodes() {
        node.speak_webdav(args.webdav);
        node.set_latency(args.latency);
    }
    let mut out = io::stdout().lock();
    if writeln!(out, "{}", cluster.hosts_csv())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let answer = match command(&cluster, &line) {
            Ok(None) => break,
            Ok(Some(r)) if r.is_empty() => "ok".to_string(),
            Ok(Some(r)) => format!("ok {r}"),
            Err(e) => format!("error {e}"),
        };
        if writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
    ExitCode::SUCCESS
}
