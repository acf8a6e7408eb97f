//! The journal's record format: what a record says ([`Record`]) and how it
//! lies on disk ([`encode`], [`decode`]).
//!
//! A record is a 12-byte header — payload length (`u32` LE), CRC-32 of the
//! payload, CRC-32 of the format tag and those 8 bytes — then the payload,
//! one JSON object. The header's own checksum makes a damaged length
//! detectable: it is never mistaken for a record that runs past the end.
//!
//! The damage model: an append that a crash cut short leaves a *torn tail*
//! — the file ends inside a record, or the rest of the file from inside a
//! record on is zeros (space the file system allocated but never wrote).
//! That tail is dropped. Anything else that fails a checksum (a flipped
//! bit anywhere, the last record included) is damage, reported with its
//! offset and never truncated. JSON never holds a zero byte, so a record's
//! own bytes can never pass for zero fill.

use serde::{Deserialize, Serialize};

use super::kinds::{CreateOutcome, SagaEnd, SagaOp};
use crate::address::HostAddress;

/// Longest record accepted: a longer length in a valid header is damage.
const MAX_RECORD: u32 = 16 * 1024 * 1024;
/// Length, payload checksum, header checksum.
pub(crate) const HEADER: usize = 12;
/// Mixed into the header checksum: a record of another format never passes.
const FORMAT_TAG: &[u8; 4] = b"ccj2";

/// What the journal knows of one node's group, folded over a group's
/// sagas (see `history`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NodeState {
    /// The node lacked the group when last known.
    Absent,
    /// The group is there and this client's sagas put it there (or a
    /// delete the user asked for did not finish): recovery removes it.
    Ours,
    /// A create of ours may have been applied: if the group is there, it
    /// is ours.
    MaybeOurs,
    /// The group was there before any saga of ours: never deleted.
    Foreign,
    /// Whether the group was there before is unknown: never deleted,
    /// reported while the group is there.
    Unknown,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub(crate) enum Record {
    /// A saga began.
    Begin {
        saga: u64,
        op: SagaOp,
        group: String,
        nodes: Vec<String>,
        request_id: String,
    },
    /// What the nodes said before any create was sent: the nodes that
    /// lacked the group and the ones that held it (the rest gave no usable
    /// answer). Written and synced before the first create leaves: it is the
    /// intent to send a create to these nodes.
    Before {
        saga: u64,
        lacked: Vec<String>,
        held: Vec<String>,
    },
    /// A node's final create outcome.
    Outcome {
        saga: u64,
        node: String,
        outcome: CreateOutcome,
    },
    /// A compensation (delete where this saga created) on one node.
    Compensated { saga: u64, node: String, ok: bool },
    /// The saga ended; `left` names the nodes where its group may remain
    /// (create) or still remains (delete), or that did not converge (repair).
    Finish {
        saga: u64,
        end: SagaEnd,
        left: Vec<String>,
    },
    /// What earlier sagas of one group left open, folded into one record
    /// (by `recover()` or compaction): the op of the latest of them, and
    /// each open node's state.
    Carry {
        saga: u64,
        group: String,
        request_id: String,
        latest: SagaOp,
        nodes: Vec<String>,
        states: Vec<(String, NodeState)>,
    },
}

impl Record {
    /// The saga this record belongs to.
    pub fn saga(&self) -> u64 {
        match self {
            Record::Begin { saga, .. }
            | Record::Before { saga, .. }
            | Record::Outcome { saga, .. }
            | Record::Compensated { saga, .. }
            | Record::Finish { saga, .. }
            | Record::Carry { saga, .. } => *saga,
        }
    }

    /// Every node the record names.
    fn node_names(&self) -> Vec<&String> {
        match self {
            Record::Begin { nodes, .. } | Record::Finish { left: nodes, .. } => {
                nodes.iter().collect()
            }
            Record::Before { lacked, held, .. } => lacked.iter().chain(held).collect(),
            Record::Outcome { node, .. } | Record::Compensated { node, .. } => vec![node],
            Record::Carry { nodes, states, .. } => {
                nodes.iter().chain(states.iter().map(|(n, _)| n)).collect()
            }
        }
    }
}

fn header_crc(len: u32, payload_crc: u32) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(FORMAT_TAG);
    h.update(&len.to_le_bytes());
    h.update(&payload_crc.to_le_bytes());
    h.finalize()
}

/// Encodes one record: header, JSON.
pub(crate) fn encode(record: &Record, out: &mut Vec<u8>) {
    // Serialising these plain types cannot fail; an empty payload would be
    // rejected on reading, never misread.
    let payload = serde_json::to_vec(record).unwrap_or_default();
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(&payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&header_crc(len, crc).to_le_bytes());
    out.extend_from_slice(&payload);
}

/// Encodes records one after another.
pub(crate) fn encode_all(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        encode(r, &mut out);
    }
    out
}

/// Damage found by [`decode`]: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damage {
    pub offset: u64,
    pub reason: String,
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Decodes a whole journal. Returns the records and the length of the
/// valid prefix: a torn tail (see the module docs) is left out, and the
/// prefix ends where it starts. Damage anywhere is an error naming its offset.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Vec<Record>, usize), Damage> {
    // Where the file's trailing run of zeros begins.
    let zeros_from = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mut records = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let damage = |reason: &str| Damage {
            offset: at as u64,
            reason: reason.to_string(),
        };
        if rest.len() < HEADER {
            break; // a header cut by the end of the file
        }
        let (len, crc) = (le32(&rest[0..4]), le32(&rest[4..8]));
        if header_crc(len, crc) != le32(&rest[8..12]) {
            if zeros_from <= at + HEADER {
                break; // zeros from inside this header on: never written
            }
            return Err(damage("record header damaged (checksum mismatch)"));
        }
        if len == 0 || len > MAX_RECORD {
            return Err(damage(&format!("record length {len} is not plausible")));
        }
        let end = HEADER + len as usize;
        if rest.len() < end {
            break; // a payload cut by the end of the file
        }
        let payload = &rest[HEADER..end];
        if crc32fast::hash(payload) != crc {
            if zeros_from < at + end {
                break; // zeros from inside this payload on: never written
            }
            return Err(damage("record damaged (checksum mismatch)"));
        }
        let record: Record = serde_json::from_slice(payload)
            .map_err(|e| damage(&format!("unreadable record: {e}")))?;
        // Nodes are written as their normalised `HostAddress`: anything
        // else is damage (recovery reports nodes by address).
        let is_address = |n: &str| n.parse::<HostAddress>().is_ok_and(|h| h.as_str() == n);
        if let Some(bad) = record.node_names().into_iter().find(|n| !is_address(n)) {
            return Err(damage(&format!("record names {bad:?}, not a node address")));
        }
        records.push(record);
        at += end;
    }
    Ok((records, at))
}

/// Records for tests of the journal's parts.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// One create saga, begun, with its intent, finished.
    pub(crate) fn sample() -> Vec<Record> {
        vec![
            Record::Begin {
                saga: 1,
                op: SagaOp::Create,
                group: "g".into(),
                nodes: vec!["http://127.0.0.1:1".into()],
                request_id: "abc".into(),
            },
            Record::Before {
                saga: 1,
                lacked: vec!["http://127.0.0.1:1".into()],
                held: vec![],
            },
            Record::Finish {
                saga: 1,
                end: SagaEnd::Ok,
                left: vec![],
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::sample;
    use super::*;

    #[test]
    fn records_round_trip() {
        let b = encode_all(&sample());
        assert_eq!(decode(&b), Ok((sample(), b.len())));
        assert_eq!(decode(&[]), Ok((vec![], 0)));
    }

    #[test]
    fn a_torn_last_record_is_dropped_at_any_cut() {
        let b = encode_all(&sample());
        let first_two = encode_all(&sample()[..2]).len();
        for cut in first_two..b.len() {
            let (records, valid) = decode(&b[..cut]).unwrap();
            assert_eq!(records, sample()[..2].to_vec(), "cut at {cut}");
            assert_eq!(valid, first_two);
        }
    }

    #[test]
    fn a_zero_filled_tail_of_any_length_is_dropped() {
        let b = encode_all(&sample());
        let first_two = encode_all(&sample()[..2]).len();
        for cut in first_two..b.len() {
            for extra in [0usize, 1, 7, 4096] {
                let mut torn = b[..cut].to_vec();
                torn.resize(b.len() + extra, 0);
                let (records, valid) = decode(&torn).unwrap();
                assert_eq!(records, sample()[..2].to_vec(), "cut {cut} extra {extra}");
                assert_eq!(valid, first_two);
            }
        }
        // Zeros alone, as after a crash right after the file grew.
        assert_eq!(decode(&[0u8; 100]), Ok((vec![], 0)));
    }

    #[test]
    fn a_flipped_bit_anywhere_is_damage_at_its_record_never_a_torn_tail() {
        let b = encode_all(&sample());
        let starts = [
            0,
            encode_all(&sample()[..1]).len(),
            encode_all(&sample()[..2]).len(),
        ];
        for byte in 0..b.len() {
            for bit in 0..8 {
                let mut d = b.clone();
                d[byte] ^= 1 << bit;
                let record_start = *starts.iter().rev().find(|&&s| s <= byte).unwrap();
                match decode(&d) {
                    Err(Damage { offset, .. }) => {
                        assert_eq!(offset, record_start as u64, "byte {byte} bit {bit}")
                    }
                    Ok((records, valid)) => panic!(
                        "byte {byte} bit {bit}: read as {} records, {valid} bytes",
                        records.len()
                    ),
                }
            }
        }
    }

    #[test]
    fn a_node_name_that_is_not_a_node_address_is_damage() {
        let good = encode_all(&sample());
        for bad in ["not a host", "HTTP://127.0.0.1:1/", ""] {
            let mut records = sample();
            records.push(Record::Compensated {
                saga: 1,
                node: bad.to_string(),
                ok: true,
            });
            let e = decode(&encode_all(&records)).unwrap_err();
            assert_eq!(e.offset, good.len() as u64, "{bad:?}");
            assert!(e.reason.contains("not a node address"), "{e:?}");
        }
    }

    #[test]
    fn a_damaged_length_is_named_not_truncated() {
        let mut b = encode_all(&sample());
        b[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&b).unwrap_err().offset, 0);
        let mut b = encode_all(&sample());
        b[1] ^= 0x01;
        assert_eq!(decode(&b).unwrap_err().offset, 0);
    }
}
