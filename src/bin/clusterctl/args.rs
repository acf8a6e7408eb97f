//! The command line: what `clusterctl` is asked to do, checked before any
//! configuration is read or anything is sent. Parsing is pure (arguments
//! and environment in, [`Args`] or a [`Usage`] message out).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use cluster_client::{parse_duration, HostResolver, Intent, MaintenanceMode};

pub use crate::usage::USAGE;

/// The longest `--timeout` accepted.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// What the command line asks for. `None` means "not given": the
/// configuration file or clusterctl's default decides.
#[derive(Debug, Default)]
pub struct Args {
    pub config: Option<PathBuf>,
    pub hosts: Option<Vec<String>>,
    pub api: Option<ApiPreset>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub resolver: Option<HostResolver>,
    pub journal: Option<PathBuf>,
    pub json: bool,
    pub command: Command,
}

/// A named group API (`--api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiPreset {
    Reference,
    Webdav,
}

/// Where a request body comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySource {
    File(PathBuf),
    Stdin,
}

#[derive(Debug, Default)]
pub enum Command {
    #[default]
    Help,
    Version,
    GroupCreate(String),
    GroupDelete(String),
    GroupVerify(String),
    GroupRepair {
        id: String,
        intent: Intent,
    },
    Recover,
    Nodes {
        round_trip: bool,
    },
    Request {
        method: String,
        path: String,
        body: Option<BodySource>,
    },
    Admin(Admin),
    Metrics {
        prometheus: bool,
    },
}

#[derive(Debug)]
pub enum Admin {
    Id,
    Role,
    Health,
    Count,
    Version(String),
    Engine(String),
    Stats(String),
    Maintenance(MaintenanceMode),
}

/// A bad command line: the message to print before the hint to `--help`.
#[derive(Debug)]
pub struct Usage(pub String);

impl From<lexopt::Error> for Usage {
    fn from(e: lexopt::Error) -> Self {
        Usage(e.to_string())
    }
}

/// Options that belong to one command only.
#[derive(Default)]
struct CommandFlags {
    present: bool,
    absent: bool,
    prometheus: bool,
    round_trip: bool,
    body: Option<BodySource>,
}

/// Parses the arguments (without the program name). `config_env` is the
/// value of `$CLUSTER_CLIENT_CONFIG`, used when `--config` is not given.
pub fn parse_args<I>(args: I, config_env: Option<OsString>) -> Result<Args, Usage>
where
    I: IntoIterator<Item = OsString>,
{
    use lexopt::prelude::*;

    let mut parser = lexopt::Parser::from_args(args);
    let mut a = Args::default();
    let mut flags = CommandFlags::default();
    let (mut help, mut version) = (false, false);
    let mut words: Vec<String> = Vec::new();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("config") => a.config = Some(PathBuf::from(parser.value()?)),
            Long("hosts") => a.hosts = Some(hosts(&text("--hosts", parser.value()?)?)?),
            Long("api") => a.api = Some(api(&text("--api", parser.value()?)?)?),
            Long("timeout") => a.timeout = Some(timeout(&text("--timeout", parser.value()?)?)?),
            Long("retries") => a.retries = Some(retries(&text("--retries", parser.value()?)?)?),
            Long("resolver") => {
                a.resolver = Some(resolver(&text("--resolver", parser.value()?)?)?);
            }
            Long("json") => a.json = true,
            Long("journal") => a.journal = Some(PathBuf::from(parser.value()?)),
            Long("present") => flags.present = true,
            Long("absent") => flags.absent = true,
            Long("prometheus") => flags.prometheus = true,
            Long("round-trip") => flags.round_trip = true,
            Long("body") => {
                let v = parser.value()?;
                flags.body = Some(if v == "-" {
                    BodySource::Stdin
                } else {
                    BodySource::File(PathBuf::from(v))
                });
            }
            Short('h') | Long("help") => help = true,
            Short('V') | Long("version") => version = true,
            Value(v) => words.push(text("a command word", v)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    if a.config.is_none() {
        a.config = config_env.filter(|v| !v.is_empty()).map(PathBuf::from);
    }
    a.command = if help {
        Command::Help
    } else if version {
        Command::Version
    } else {
        parse_command(&words, flags)?
    };
    Ok(a)
}

/// An argument as UTF-8 text, or an error naming the option.
fn text(what: &str, v: OsString) -> Result<String, Usage> {
    v.into_string()
        .map_err(|v| Usage(format!("{what}: {v:?} is not valid UTF-8")))
}

/// `--hosts`: every comma-separated entry must be there (a stray or
/// trailing comma is a mistake worth telling, not something to guess past).
fn hosts(list: &str) -> Result<Vec<String>, Usage> {
    let entries: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
    if entries.iter().any(String::is_empty) {
        return Err(Usage(format!(
            "--hosts {list:?} has an empty entry (a stray or trailing comma?); \
             give addresses separated by single commas, e.g. http://10.0.0.1:8000,http://10.0.0.2:8000"
        )));
    }
    Ok(entries)
}

fn api(name: &str) -> Result<ApiPreset, Usage> {
    match name {
        "reference" => Ok(ApiPreset::Reference),
        "webdav" => Ok(ApiPreset::Webdav),
        other => Err(Usage(format!(
            "--api {other:?} is not known: use reference or webdav \
             (any other API goes in the configuration file's group_api table)"
        ))),
    }
}

/// `--resolver`: the configuration file's `host_resolver` names.
fn resolver(name: &str) -> Result<HostResolver, Usage> {
    match name {
        "round_robin" => Ok(HostResolver::RoundRobin),
        "random" => Ok(HostResolver::Random),
        "fallback" => Ok(HostResolver::Fallback),
        "least_loaded" => Ok(HostResolver::LeastLoaded),
        other => Err(Usage(format!(
            "--resolver {other:?} is not known: use round_robin, random, fallback \
             or least_loaded"
        ))),
    }
}

/// `--timeout`: a humane duration, or a bare number of seconds.
fn timeout(v: &str) -> Result<Duration, Usage> {
    let t = v.trim();
    let bare_number = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.');
    let parsed = if bare_number {
        parse_duration(&format!("{t}s"))
    } else {
        parse_duration(t)
    };
    let d = parsed.map_err(|e| Usage(format!("--timeout: {e}; a bare number is seconds")))?;
    if d.is_zero() || d > LONGEST_TIMEOUT {
        return Err(Usage(format!(
            "--timeout must be more than zero and at most 24h (e.g. 30s, 250ms, 2m; \
             a bare number is seconds), got {v:?}"
        )));
    }
    Ok(d)
}

fn retries(v: &str) -> Result<u32, Usage> {
    match v.trim().parse::<u32>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(Usage(format!(
            "--retries must be a whole number from 1 to 100 (attempts per node, \
             the first included), got {v:?}"
        ))),
    }
}

fn parse_command(words: &[String], flags: CommandFlags) -> Result<Command, Usage> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let command = match w.as_slice() {
        [] => return Err(Usage("no command given".into())),
        ["group", "create", rest @ ..] => Command::GroupCreate(id("group create", rest)?),
        ["group", "delete", rest @ ..] => Command::GroupDelete(id("group delete", rest)?),
        ["group", "verify", rest @ ..] => Command::GroupVerify(id("group verify", rest)?),
        ["group", "repair", rest @ ..] => {
            let intent = match (flags.present, flags.absent) {
                (true, false) => Intent::Present,
                (false, true) => Intent::Absent,
                _ => {
                    return Err(Usage(
                        "group repair needs exactly one of --present or --absent".into(),
                    ))
                }
            };
            Command::GroupRepair {
                id: id("group repair", rest)?,
                intent,
            }
        }
        ["group", ..] => return Err(Usage("group needs create, delete, verify or repair".into())),
        ["recover"] => Command::Recover,
        ["nodes"] => Command::Nodes {
            round_trip: flags.round_trip,
        },
        ["metrics"] => Command::Metrics {
            prometheus: flags.prometheus,
        },
        ["request", method, path] => Command::Request {
            method: method.to_string(),
            path: path.to_string(),
            body: flags.body.clone(),
        },
        ["request", ..] => {
            return Err(Usage(
                "request needs METHOD and PATH, e.g. request GET /_api/version".into(),
            ))
        }
        ["admin", rest @ ..] => Command::Admin(parse_admin(rest)?),
        [cmd, ..] => return Err(Usage(format!("unknown command or extra words: {cmd:?}"))),
    };
    let misplaced = [
        (flags.prometheus, "--prometheus", "metrics"),
        (flags.round_trip, "--round-trip", "nodes"),
        (flags.body.is_some(), "--body", "request"),
        (flags.present, "--present", "group repair"),
        (flags.absent, "--absent", "group repair"),
    ];
    for (given, flag, owner) in misplaced {
        let belongs = matches!(
            (&command, owner),
            (Command::Metrics { .. }, "metrics")
                | (Command::Nodes { .. }, "nodes")
                | (Command::Request { .. }, "request")
                | (Command::GroupRepair { .. }, "group repair")
        );
        if given && !belongs {
            return Err(Usage(format!("{flag} goes with the {owner} command")));
        }
    }
    Ok(command)
}

/// The one ID a command takes.
fn id(what: &str, rest: &[&str]) -> Result<String, Usage> {
    match rest {
        [id] => Ok((*id).to_string()),
        [] => Err(Usage(format!("{what} needs an ID"))),
        _ => Err(Usage(format!("{what} takes one ID"))),
    }
}

fn parse_admin(rest: &[&str]) -> Result<Admin, Usage> {
    Ok(match rest {
        ["id"] => Admin::Id,
        ["role"] => Admin::Role,
        ["health"] => Admin::Health,
        ["count"] => Admin::Count,
        ["version", rest @ ..] => Admin::Version(id("admin version", rest)?),
        ["engine", rest @ ..] => Admin::Engine(id("admin engine", rest)?),
        ["stats", rest @ ..] => Admin::Stats(id("admin stats", rest)?),
        ["maintenance", "on"] => Admin::Maintenance(MaintenanceMode::On),
        ["maintenance", "off"] => Admin::Maintenance(MaintenanceMode::Off),
        ["maintenance", ..] => return Err(Usage("admin maintenance needs on or off".into())),
        _ => {
            return Err(Usage(
                "admin needs id, role, health, count, version, engine, stats or maintenance".into(),
            ))
        }
    })
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
