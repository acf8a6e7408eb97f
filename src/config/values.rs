//! The config file's value types that serde cannot read as they are:
//! humane durations, `"never"`, hosts as a list or a string, and
//! `group_api` as a preset name or a table.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::groups::{GroupApi, GroupEndpoint};

/// A duration written the humane way (`"250ms"`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Humane(pub(super) Duration);

impl<'de> Deserialize<'de> for Humane {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text)
            .map(Humane)
            .map_err(de::Error::custom)
    }
}

/// A purge age, or `"never"`.
#[derive(Debug, Clone, Copy)]
pub(super) struct PurgeAfter(pub(super) Option<Duration>);

impl<'de> Deserialize<'de> for PurgeAfter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim() == "never" {
            return Ok(PurgeAfter(None));
        }
        super::parse_duration(&text)
            .map(|d| PurgeAfter(Some(d)))
            .map_err(|e| de::Error::custom(format!("{e}, or \"never\"")))
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
