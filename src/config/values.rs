//! The config file's value types that serde cannot read as they are:
//! humane durations, `"never"`, hosts as a list or a string, and
//! `group_api` as a preset name or a table.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::groups::{GroupApi, GroupEndpoint};

/// A duration written the humane way (`"250ms"`), or a bare number of
/// seconds (`30`, `0.5`, `"30"`), as clusterctl's `--timeout` takes it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Humane(pub(super) Duration);

/// `text` as a humane duration, where a bare number is seconds.
fn humane(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return super::parse_duration(&format!("{t}s"))
            .map_err(|e| format!("{e}; a bare number is seconds"));
    }
    super::parse_duration(text).map_err(String::from)
}

/// A TOML number as seconds.
fn seconds(n: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(n).map_err(|_| {
        format!("invalid duration {n}: a number is seconds, from 0 up (or write e.g. \"250ms\", \"2s\")")
    })
}

struct HumaneVisitor;

impl Visitor<'_> for HumaneVisitor {
    type Value = Duration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"250ms\", \"2s\", \"1m\", or a number of seconds")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        humane(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("invalid duration {v}: it must not be negative")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        seconds(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Humane {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HumaneVisitor).map(Humane)
    }
}

/// A purge age, or `"never"`.
#[derive(Debug, Clone, Copy)]
pub(super) struct PurgeAfter(pub(super) Option<Duration>);

struct PurgeVisitor;

impl Visitor<'_> for PurgeVisitor {
    type Value = Option<Duration>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"60s\", a number of seconds, or \"never\"")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.trim() == "never" {
            return Ok(None);
        }
        humane(v)
            .map(Some)
            .map_err(|e| E::custom(format!("{e}, or \"never\"")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        HumaneVisitor.visit_i64(v).map(Some)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Duration::from_secs(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        HumaneVisitor.visit_f64(v).map(Some)
    }
}

impl<'de> Deserialize<'de> for PurgeAfter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PurgeVisitor).map(PurgeAfter)
    }
}

/// `hosts = ["http://a:1", ...]` or `hosts = "http://a:1,http://b:2"`.
#[derive(Debug, Clone)]
pub(super) struct HostsSetting(pub(super) Vec<String>);

impl<'de> Deserialize<'de> for HostsSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HostsSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of node URLs or one comma-separated string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HostsSetting, E> {
                Ok(HostsSetting(v.split(',').map(str::to_string).collect()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HostsSetting, A::Error> {
                let mut hosts = Vec::new();
                while let Some(h) = seq.next_element::<String>()? {
                    hosts.push(h);
                }
                Ok(HostsSetting(hosts))
            }
        }
        d.deserialize_any(V)
    }
}

/// `group_api = "reference" | "webdav"` or the table form.
#[derive(Debug, Clone)]
pub(super) struct GroupApiSetting(pub(super) GroupApi);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupApiTable {
    create: EndpointTable,
    verify: EndpointTable,
    delete: EndpointTable,
    #[serde(default)]
    allow_slash_in_id: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointTable {
    method: String,
    path: String,
    #[serde(default)]
    json_body: bool,
    done: Vec<u16>,
    #[serde(default)]
    unchanged: Vec<u16>,
}

impl EndpointTable {
    fn endpoint(&self) -> GroupEndpoint {
        GroupEndpoint::new(
            &self.method,
            &self.path,
            self.json_body,
            &self.done,
            &self.unchanged,
        )
    }
}

impl<'de> Deserialize<'de> for GroupApiSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GroupApiSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"reference\", \"webdav\" or a table of create/verify/delete")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GroupApiSetting, E> {
                match v {
                    "reference" => Ok(GroupApiSetting(GroupApi::reference())),
                    "webdav" => Ok(GroupApiSetting(GroupApi::webdav())),
                    other => Err(E::custom(format!(
                        "unknown group_api preset {other:?}: use \"reference\", \"webdav\" or a table"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<GroupApiSetting, A::Error> {
                let t = GroupApiTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(GroupApiSetting(GroupApi {
                    create: t.create.endpoint(),
                    verify: t.verify.endpoint(),
                    delete: t.delete.endpoint(),
                    allow_slash_in_id: t.allow_slash_in_id,
                }))
            }
        }
        d.deserialize_any(V)
    }
}
