//! Fuzzing on the stable toolchain (issue 13): a seeded, deterministic
//! mutator over the parsers a peer or a file can reach, run for a fixed
//! number of inputs.
//!
//! ```text
//! cargo bench --bench fuzz                        # 10,000,000 inputs in all
//! cargo bench --bench fuzz -- --inputs 1000000 --seed 7
//! ```
//!
//! Targets, and their share of the inputs:
//!
//! - `frames` (40%): byte streams of 1-3 encoded frames of every message
//!   kind, mutated (bit flips, interesting bytes, truncation, insertion,
//!   deletion, splices, MessagePack counts set huge, tampered length
//!   headers), fed whole or in two pieces to `MessageCodec` (4 MiB and
//!   4 KiB limits) and `BodyCodec` (what a connection reads with), then
//!   `decode_eof`.
//! - `bodies` (40%): mutated frame bodies to `decode_body` and the in-place
//!   readers `bulk::nodes_page` / `bulk::log_lines_page`; whatever decodes
//!   is encoded again, decoded again and must encode to the same bytes.
//! - `handshake` (2%, it is the slow one: a runtime turn, HMACs and hex per
//!   input): `server_handshake` and `client_handshake` against a scripted
//!   peer over `tokio::io::duplex`, which sends each handshake message
//!   valid, mutated, replaced by another kind, or not at all.
//! - `configd.toml`, `noded.toml` (6% each): mutated example configs
//!   (bytes, and lines from a dictionary of keys and edge values) to
//!   `ConfigdConfig::from_str` / `NodedConfig::from_str`.
//! - `tokens file` (6%): mutated tokens files written to a temp file (0600)
//!   and read with `TokensFile::load`.
//!
//! A panic prints the target, the input number and the input (hex) and
//! exits 1. VmRSS is read at the start and the end; growth over 256 MiB
//! fails the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use common::bench::{figure, rss_kib, Target};
use monit::auth::{
    client_proof, server_proof, verify_client_proof, Token, TokenKeys, TokensFile, Transcript,
};
use monit::config::{ConfigdConfig, NodedConfig};
use monit::net::bulk;
use monit::net::frame::{decode_body, encode_frame, BodyCodec, MessageCodec, HEADER_LEN};
use monit::net::handshake::{client_handshake, server_handshake, Authenticator};
use monit::net::proto::*;
use monit::net::Connection;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use tokio_util::codec::Decoder;

const PRE_AUTH_MAX_FRAME: usize = 4096;
/// Mutated inputs are kept under this size: big enough for every seed.
const MAX_INPUT: usize = 64 * 1024;
const MAX_RSS_GROWTH_KIB: u64 = 256 * 1024;
/// SHA-256 of `hello`, the bytes of the transfer seeds.
const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

// ---------------------------------------------------------------- generator

/// xorshift64*: fast, and the same run for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Bytes a MessagePack decoder treats specially: fix-family bounds,
/// nil/never-used/bools, and every sized marker.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3,
    0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd4, 0xd8, 0xd9, 0xda, 0xdb, 0xdc,
    0xdd, 0xde, 0xdf, 0xe0, 0xff,
];

/// 32-bit values for counts and lengths: empty, one, limits, huge.
const INTERESTING_U32: &[u32] = &[
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0xffff,
    4095,
    4096,
    4097,
    4 * 1024 * 1024,
    4 * 1024 * 1024 + 1,
    0x7fff_ffff,
    0xffff_ffff,
];

/// Mutates `data` in place, 1-4 times; `other` is a second seed to splice.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(11) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = *rng.pick(INTERESTING);
            }
            2 if len > 0 => {
                let at = rng.below(len);
                data[at] = rng.next() as u8;
            }
            3 => data.truncate(rng.below(len + 1)),
            4 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(32)).min(len);
                data.drain(at..end);
            }
            6 if len > 0 => {
                // Repeat a stretch elsewhere (nested structure, repeated keys).
                let at = rng.below(len);
                let end = (at + 1 + rng.below(64)).min(len);
                let chunk = data[at..end].to_vec();
                let to = rng.below(len + 1);
                data.splice(to..to, chunk);
            }
            7 if !other.is_empty() => {
                // Our head, the other's tail.
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            8 => {
                // A container or string claiming a huge (or exact) count.
                let at = rng.below(len + 1);
                let marker = *rng.pick(&[0xdc, 0xdd, 0xde, 0xdf, 0xd9, 0xda, 0xdb, 0xc6]);
                let n = *rng.pick(INTERESTING_U32);
                let mut bytes = vec![marker];
                match marker {
                    0xd9 => bytes.push(n as u8),
                    0xdc | 0xde | 0xda => bytes.extend_from_slice(&(n as u16).to_be_bytes()),
                    _ => bytes.extend_from_slice(&n.to_be_bytes()),
                }
                let end = (at + rng.below(2)).min(len);
                data.splice(at..end, bytes);
            }
            9 if len > 0 => {
                // An integer field set to an edge value, any width.
                let at = rng.below(len);
                let v = match rng.below(4) {
                    0 => vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                    1 => vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
                    2 => vec![0xce, 0xff, 0xff, 0xff, 0xff],
                    _ => vec![0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1],
                };
                let end = (at + 1).min(len);
                data.splice(at..end, v);
            }
            _ => {
                // Random bytes, all of it.
                let n = rng.below(64);
                *data = (0..n).map(|_| rng.next() as u8).collect();
            }
        }
    }
    data.truncate(MAX_INPUT);
}

// ---------------------------------------------------------------- seeds

fn msg(v: serde_json::Value) -> Message {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("bad seed {v}: {e}"))
}

/// One message of every kind, every request and every answer.
fn seed_messages() -> Vec<Message> {
    use serde_json::json;
    let req = |id: u64, body: serde_json::Value| msg(json!({"Request": {"id": id, "body": body}}));
    let resp =
        |id: u64, body: serde_json::Value| msg(json!({"Response": {"id": id, "body": body}}));
    let node = json!({"name": "web-1", "state": "up", "addr": "10.0.0.5", "first_seen_ms": 1,
        "last_seen_ms": -2, "version": "0.1.0", "hostname": "h", "addrs": ["10.0.0.5", "::1"],
        "labels": {"dc": "eu-1", "role": "web"},
        "checks": {"ok": 3, "warning": 1, "critical": 0, "unknown": 0, "pending": 300}});
    let perf = json!({"label": "load1", "value": 5.5, "uom": "", "warn": "5", "crit": "10",
        "min": 0.0, "max": null});
    let line = json!({"time_ms": 1_764_550_800_123i64, "node": "web-1", "level": "warn",
        "source": "job:7", "message": "disk 91% full"});
    let target = json!({"node": "web-1", "state": "lost", "exit_code": null,
        "duration_ms": 5, "message": "gone"});
    let job = json!({"id": 7, "who": "alice", "started_ms": 1, "finished_ms": 2,
        "command": "open-zone", "args": ["218"], "targets": [target.clone()],
        "requires": {"state": "new"}, "effects": {}, "item": "zone=218", "message": ""});
    // Runbook steps: an effects step, and a transfer with its undo.
    let step = json!({"index": 1, "name": "retire", "kind": "effects", "item": "218",
        "node": null, "to_node": null, "command": null, "args": [], "file": null,
        "changes": [{"kind": "zone", "key": "218", "attr": "state", "from": null,
            "to": "moving"}],
        "undo": null, "state": "pending", "started_ms": null, "finished_ms": null,
        "exit_code": null, "bytes": null, "message": ""});
    let copy = json!({"index": 2, "name": "copy", "kind": "transfer", "item": "218",
        "node": "web-1", "to_node": "web-2", "command": null, "args": [],
        "file": "zones/218.tar", "changes": [],
        "undo": {"index": 2, "name": "copy", "kind": "run", "item": "218", "node": "web-2",
            "to_node": null, "command": "rm-zone", "args": ["218"], "file": null,
            "changes": [], "undo": null, "state": "pending", "started_ms": null,
            "finished_ms": null, "exit_code": null, "bytes": null, "message": ""},
        "state": "running", "started_ms": 1, "finished_ms": null, "exit_code": null,
        "bytes": null, "message": ""});
    let mut step_done = copy.clone();
    step_done["state"] = json!("ok");
    step_done["finished_ms"] = json!(2);
    step_done["bytes"] = json!(5_242_880);
    vec![
        msg(
            json!({"Hello": {"protocol": 2, "role": "node", "name": "web-1",
            "version": "0.1.0", "nonce": "ab".repeat(32)}}),
        ),
        msg(json!({"Challenge": {"nonce": "cd".repeat(32), "server_id": "configd-1"}})),
        msg(json!({"Auth": {"token_id": "4f2a9c01b7e3", "proof": "ef".repeat(32)}})),
        msg(
            json!({"Welcome": {"server_id": "configd-1", "server_version": "0.1.0",
            "name": "web-1", "role": "node", "heartbeat_interval_ms": 1000,
            "dead_after_ms": 3000, "server_proof": "01".repeat(32)}}),
        ),
        msg(json!({"Error": {"code": "too_large", "message": "too big"}})),
        msg(json!({"Ping": {"seq": 7}})),
        msg(json!({"Pong": {"seq": u64::MAX}})),
        msg(json!({"Cancel": {"id": 3}})),
        req(
            1,
            json!({"Register": {"hostname": "h", "version": "0.1.0",
            "labels": {"role": "web"}, "addrs": ["10.0.0.1"],
            "checks": [{"name": "backup", "max_attempts": 1, "freshness_ms": 90000}],
            "commands": [{"name": "open-zone", "description": "d",
                "argv": ["/bin/x", "{zone}"],
                "args": [{"name": "zone", "kind": {"int": {"min": 1, "max": null}}},
                         {"name": "peer", "kind": "ip"},
                         {"name": "s", "kind": {"string": {"pattern": "[a-z]+", "max_len": 8}}},
                         {"name": "e", "kind": {"enum": {"values": ["a", "b"]}}},
                         {"name": "d", "kind": {"date": {"format": null}}},
                         {"name": "k", "kind": {"key": {"kind": "zone"}}}],
                "timeout_ms": 60000, "concurrency": 1,
                "inventory": {"kind": "zone", "key": "zone", "requires": {"state": "new"},
                    "on_success": {"state": "live"}}}]}}),
        ),
        req(
            2,
            json!({"QueryNodes": {"filters": ["state=up", "name~^web"]}}),
        ),
        req(
            3,
            json!({"CheckResults": {"results": [{"name": "load", "state": "warning",
            "output": "LOAD WARNING", "long_output": "", "perfdata": [perf.clone()],
            "time_ms": 1000, "duration_ms": 3, "latency_ms": 1, "max_attempts": 3,
            "state_type": "soft", "attempt": 1}]}}),
        ),
        req(
            4,
            json!({"QueryChecks": {"node": "web-1", "filters": ["state!=ok"]}}),
        ),
        req(5, json!({"QueryEvents": {"filters": [], "limit": 10}})),
        req(
            6,
            json!({"Acknowledge": {"node": "web-1", "check": "load", "comment": "c",
            "sticky": true}}),
        ),
        req(
            7,
            json!({"Downtime": {"node": "web-1", "check": null, "start_ms": 1, "end_ms": 2,
            "comment": "maint"}}),
        ),
        req(8, json!({"ListDowntimes": {}})),
        req(9, json!({"CancelDowntime": {"id": 4}})),
        req(
            10,
            json!({"Submit": {"node": "web-1", "check": "backup", "state": "ok",
            "output": "done"}}),
        ),
        req(
            11,
            json!({"LogBatch": {"stream": 9, "first_line": 100, "lines": [line.clone(), line.clone()]}}),
        ),
        req(
            12,
            json!({"SubscribeLogs": {"nodes": ["a"], "min_level": "warn", "sources": ["job:"],
            "grep": "disk", "regex": null, "backlog": 10, "since_ms": null, "follow": true}}),
        ),
        req(
            13,
            json!({"InventoryWrite": {"ops": [
            {"Add": {"kind": "zone", "key": "218", "node": "web-1", "attrs": {"state": "new"},
                "replace": false, "line": 3}},
            {"Update": {"kind": "zone", "key": "218", "attrs": {"state": "live"}}},
            {"Delete": {"kind": "zone", "key": "17"}}]}}),
        ),
        req(14, json!({"QueryInventory": {"filters": ["kind=zone"]}})),
        req(15, json!({"ResolveTargets": {"target": "label.role=web"}})),
        req(
            16,
            json!({"Run": {"command": "open-zone", "args": ["218"], "target": "zone=218",
            "timeout_ms": 1000}}),
        ),
        req(17, json!({"QueryJobs": {"filters": []}})),
        req(18, json!({"ShowJob": {"id": 7, "follow": true}})),
        req(19, json!({"ListCommands": {}})),
        req(
            20,
            json!({"RunCommand": {"job": 7, "command": "open-zone", "args": ["218"],
            "timeout_ms": null}}),
        ),
        resp(
            1,
            json!({"Registered": {"first_seen_ms": 1_764_547_200_000i64}}),
        ),
        resp(
            2,
            json!({"Nodes": {"nodes": [node.clone(), node], "done": true}}),
        ),
        resp(11, json!({"LogAck": {"count": 2}})),
        resp(
            12,
            json!({"LogLines": {"lines": [line.clone(), line], "skipped": 3, "done": false}}),
        ),
        resp(5, json!({"Error": {"code": "forbidden", "message": "no"}})),
        resp(3, json!({"ResultsAck": {"accepted": 1}})),
        resp(
            4,
            json!({"Checks": {"checks": [{"node": "web-1", "name": "load",
            "state": "critical", "state_type": "hard", "attempt": 3, "max_attempts": 3,
            "output": "o", "long_output": "l", "perfdata": [perf], "last_check_ms": 1,
            "last_change_ms": 0, "acknowledged": false, "in_downtime": true,
            "flapping": false}], "done": true}}),
        ),
        resp(
            5,
            json!({"Events": {"events": [{"time_ms": 1, "kind": "node_state",
            "node": "web-1", "check": null, "state": "down", "previous_state": "up",
            "who": null, "message": "m"}], "done": true}}),
        ),
        resp(
            8,
            json!({"Downtimes": {"downtimes": [{"id": 1, "node": "web-1", "check": "load",
            "start_ms": 1, "end_ms": 2, "who": "alice", "comment": "c"}]}}),
        ),
        resp(6, json!({"Done": {"message": "ok"}})),
        resp(13, json!({"InventoryWritten": {"changed": 3}})),
        resp(
            14,
            json!({"Inventory": {"items": [{"kind": "zone", "key": "218", "node": "web-1",
            "attrs": {"port": "7000"}, "ints": ["key", "port"]}], "done": true}}),
        ),
        resp(15, json!({"Targets": {"nodes": ["web-1", "web-2"]}})),
        resp(16, json!({"JobStarted": {"id": 7, "targets": ["web-1"]}})),
        resp(
            16,
            json!({"JobOutput": {"node": "web-1", "stream": "stdout", "data": "ok\n"}}),
        ),
        resp(16, json!({"TargetDone": target})),
        resp(16, json!({"JobDone": job.clone()})),
        resp(17, json!({"Jobs": {"jobs": [job.clone()], "done": true}})),
        resp(
            18,
            json!({"JobDetail": {"job": job, "outputs": [{"node": "web-1", "output": "x",
            "truncated": false}]}}),
        ),
        resp(
            20,
            json!({"CommandOutput": {"stream": "stderr", "data": "x\n"}}),
        ),
        resp(
            20,
            json!({"CommandExit": {"state": "ok", "exit_code": 0, "message": ""}}),
        ),
        resp(19, json!({"CommandNames": {"names": ["open-zone"]}})),
        req(
            21,
            json!({"QueryCommands": {"node": "web-1", "filters": []}}),
        ),
        req(22, json!({"CancelJob": {"id": 7}})),
        req(
            23,
            json!({"QueryProblems": {"node": null, "filters": ["state=critical"]}}),
        ),
        req(
            24,
            json!({"SetChecks": {"checks": [
            {"name": "disk", "command": ["/usr/lib/nagios/plugins/check_disk", "-w", "10%"],
                "interval_ms": 60000, "retry_interval_ms": 10000, "max_attempts": 3,
                "timeout_ms": 10000},
            {"name": "backup", "command": [], "interval_ms": 0, "retry_interval_ms": 0,
                "max_attempts": 1, "timeout_ms": 0, "freshness_ms": 90000}]}}),
        ),
        req(
            25,
            json!({"RunbookPlan": {"name": "move-zone", "args": ["218", "web-2"],
            "digest": null}}),
        ),
        req(
            26,
            json!({"RunbookRun": {"name": "move-zone", "args": ["218", "web-2"],
            "digest": "3f9a0c1b2d4e5f60"}}),
        ),
        req(27, json!({"RunbookUndo": {"id": 8, "follow": true}})),
        req(
            28,
            json!({"ReadFile": {"path": "zones/218.tar", "max_size": 1u64 << 30}}),
        ),
        req(
            29,
            json!({"WriteFile": {"path": "zones/218.tar", "size": 5, "overwrite": false}}),
        ),
        req(
            31,
            json!({"WriteCommit": {"handle": 1, "sha256": HELLO_SHA256}}),
        ),
        resp(
            23,
            json!({"Problems": {"problems": [
            {"node": "web-2", "check": null, "state": "down", "state_type": "hard",
                "since_ms": 1, "output": "connection lost", "acknowledged": false,
                "in_downtime": false, "flapping": false, "stale": false},
            {"node": "web-2", "check": "load", "state": "critical", "state_type": "soft",
                "since_ms": 2, "output": "LOAD CRITICAL", "acknowledged": true,
                "in_downtime": true, "flapping": true, "stale": true}], "done": true}}),
        ),
        resp(
            21,
            json!({"Commands": {"commands": [{"spec": {"name": "open-zone",
                "description": "d", "argv": ["/bin/x", "{zone}"],
                "args": [{"name": "zone", "kind": {"int": {"min": 1, "max": 9999}}}],
                "timeout_ms": 60000, "concurrency": 1, "inventory": null, "role": "admin"},
                "nodes": ["web-1", "web-2"]}],
            "runbooks": [{"name": "move-zone", "description": "move a zone",
                "role": "operator", "usage": "move-zone <zone:key zone> <dst:node>",
                "args": [{"name": "zone", "kind": "key", "rule": "a zone key",
                    "requires": {"state": "live"}},
                    {"name": "dst", "kind": "node", "rule": "a node", "requires": {}}],
                "steps": ["stop", "copy", "start"]}]}}),
        ),
        resp(
            24,
            json!({"ChecksSet": {"accepted": ["disk"],
            "refused": [{"name": "backup", "reason": "defined in noded.toml"}]}}),
        ),
        resp(
            25,
            json!({"RunbookPlanned": {"name": "move-zone", "args": ["218", "web-2"],
            "steps": [step.clone(), copy.clone()], "digest": "3f9a0c1b2d4e5f60"}}),
        ),
        resp(26, json!({"StepStarted": copy.clone()})),
        resp(
            26,
            json!({"StepProgress": {"index": 2, "bytes": 1_048_576, "total": 5_242_880}}),
        ),
        resp(26, json!({"StepDone": step_done})),
        resp(28, json!({"FileSize": {"size": 5}})),
        resp(28, json!({"FileEnd": {"bytes": 5, "sha256": HELLO_SHA256}})),
        resp(29, json!({"WriteOpen": {"handle": 1}})),
        resp(30, json!({"ChunkAck": {"written": 5}})),
        resp(
            31,
            json!({"WriteDone": {"bytes": 5, "sha256": HELLO_SHA256}}),
        ),
        // `#[serde(with = "bin")]` takes MessagePack bin only, not JSON.
        Message::Request(Request {
            id: 30,
            body: RequestBody::WriteChunk(WriteChunk {
                handle: 1,
                offset: 0,
                data: b"hello".to_vec(),
            }),
        }),
        Message::Response(Response {
            id: 28,
            body: ResponseBody::FileChunk(FileChunk {
                data: b"hello".to_vec(),
            }),
        }),
    ]
}

/// Records the variant names an enum asks its deserializer for.
#[derive(Default)]
struct Variants(Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for &mut Variants {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("variants only"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(variants);
        Err(de::Error::custom("variants only"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

fn variants_of<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
    let mut v = Variants::default();
    let _ = T::deserialize(&mut v);
    v.0.unwrap_or_default().to_vec()
}

/// The seeds must hold every kind, so a new one is fuzzed from day one.
fn check_seed_coverage(seeds: &[Message]) {
    let mut have = BTreeSet::new();
    for m in seeds {
        let v = serde_json::to_value(m).unwrap();
        let (kind, content) = v.as_object().unwrap().iter().next().unwrap();
        have.insert(format!("Message::{kind}"));
        if let Some(body) = content.get("body").and_then(|b| b.as_object()) {
            let side = if kind == "Request" {
                "RequestBody"
            } else {
                "ResponseBody"
            };
            if let Some(name) = body.keys().next() {
                have.insert(format!("{side}::{name}"));
            }
        }
    }
    let mut want = BTreeSet::new();
    for (side, names) in [
        ("Message", variants_of::<Message>()),
        ("RequestBody", variants_of::<RequestBody>()),
        ("ResponseBody", variants_of::<ResponseBody>()),
    ] {
        for n in names {
            want.insert(format!("{side}::{n}"));
        }
    }
    let missing: Vec<_> = want.difference(&have).collect();
    assert!(missing.is_empty(), "fuzz seeds lack {missing:?}");
}

// ---------------------------------------------------------------- targets

/// A failing input: which target, which input, the bytes.
struct Failure {
    target: &'static str,
    index: u64,
    input: Vec<u8>,
    what: String,
}

type Outcome = Result<(), Failure>;

fn guarded(
    target: &'static str,
    index: u64,
    input: &[u8],
    f: impl FnOnce() -> Result<(), String>,
) -> Outcome {
    let what = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(why)) => why,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            format!("panic: {msg}")
        }
    };
    Err(Failure {
        target,
        index,
        input: input.to_vec(),
        what,
    })
}

/// Decodes everything in `buf` with `codec` (at most 16 frames), then at EOF.
fn drain<D: Decoder>(codec: &mut D, buf: &mut BytesMut) {
    for _ in 0..16 {
        match codec.decode(buf) {
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => break,
        }
    }
    let _ = codec.decode_eof(buf);
}

struct Frames<'a> {
    frames: &'a [Vec<u8>],
}

impl Frames<'_> {
    fn input(&self, rng: &mut Rng) -> Vec<u8> {
        let mut data = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let frame: &Vec<u8> = rng.pick(self.frames);
            data.extend_from_slice(frame);
        }
        if !rng.one_in(8) {
            let other = rng.pick(self.frames).clone();
            mutate(rng, &mut data, &other);
        }
        if data.len() >= HEADER_LEN && rng.one_in(4) {
            // The length header: off by one, at the limits, or anything.
            let body = (data.len() - HEADER_LEN) as u32;
            let len = match rng.below(4) {
                0 => body.wrapping_add(1),
                1 => body.wrapping_sub(1),
                2 => *rng.pick(INTERESTING_U32),
                _ => rng.next() as u32,
            };
            data[..HEADER_LEN].copy_from_slice(&len.to_be_bytes());
        }
        data
    }

    fn run(&self, rng: &mut Rng, index: u64) -> Outcome {
        let input = self.input(rng);
        let split = rng.below(input.len() + 1);
        let which = rng.below(3);
        guarded("frames", index, &input, || {
            let mut buf = BytesMut::from(&input[..split]);
            match which {
                0 => {
                    let mut c = MessageCodec::default();
                    let _ = c.decode(&mut buf);
                    buf.extend_from_slice(&input[split..]);
                    drain(&mut c, &mut buf);
                }
                1 => {
                    let mut c = MessageCodec::new(PRE_AUTH_MAX_FRAME);
                    let _ = c.decode(&mut buf);
                    buf.extend_from_slice(&input[split..]);
                    drain(&mut c, &mut buf);
                }
                _ => {
                    let mut c = BodyCodec(MessageCodec::default());
                    let _ = c.decode(&mut buf);
                    buf.extend_from_slice(&input[split..]);
                    drain(&mut c, &mut buf);
                }
            }
            Ok(())
        })
    }
}

struct Bodies<'a> {
    bodies: &'a [Vec<u8>],
}

impl Bodies<'_> {
    fn run(&self, rng: &mut Rng, index: u64) -> Outcome {
        let mut input = rng.pick(self.bodies).clone();
        let other = rng.pick(self.bodies).clone();
        mutate(rng, &mut input, &other);
        let id = rng.below(32) as u64;
        guarded("bodies", index, &input, || {
            let _ = bulk::nodes_page(&input, id);
            let _ = bulk::log_lines_page(&input, id);
            let Ok(first) = decode_body(&input) else {
                return Ok(());
            };
            // The link routes answers by the id it peeks at.
            if let Message::Response(r) = &first {
                if bulk::response_id(&input) != Some(r.id) {
                    return Err(format!(
                        "answer {} peeked as {:?}",
                        r.id,
                        bulk::response_id(&input)
                    ));
                }
            }
            // Whatever decodes must encode, and encode the same once read back.
            let once = encode_frame(&first, DEFAULT_MAX_FRAME)
                .map_err(|e| format!("decoded {first:?} but cannot encode it: {e}"))?;
            let again = decode_body(&once[HEADER_LEN..])
                .map_err(|e| format!("re-encoded {first:?} does not decode: {e}"))?;
            let twice = encode_frame(&again, DEFAULT_MAX_FRAME)
                .map_err(|e| format!("cannot encode {again:?}: {e}"))?;
            if once != twice {
                return Err(format!("{first:?} changes on a round trip: {again:?}"));
            }
            Ok(())
        })
    }
}

// ---------------------------------------------------------------- handshake

const SERVER_ID: &str = "configd-fuzz";
const BINDING: &[u8] = b"0123456789abcdef0123456789abcdef";

/// configd's decision, as `configd::tokens` makes it, for one token.
struct FuzzAuth {
    token: Token,
    keys: TokenKeys,
}

impl Authenticator for FuzzAuth {
    type Identity = ();

    fn authenticate(
        &self,
        hello: &Hello,
        challenge: &Challenge,
        auth: &Auth,
        binding: &[u8],
    ) -> Result<((), Welcome), ErrorFrame> {
        let t = Transcript {
            client_nonce: &hello.nonce,
            server_nonce: &challenge.nonce,
            server_id: &challenge.server_id,
            kind: hello.role,
            name: &hello.name,
            token_id: &auth.token_id,
            binding,
        };
        if auth.token_id != self.token.id || !verify_client_proof(&self.keys, &t, &auth.proof) {
            return Err(ErrorFrame::new(ErrorCode::Auth, "authentication failed"));
        }
        Ok((
            (),
            Welcome {
                server_id: challenge.server_id.clone(),
                server_version: "fuzz".into(),
                name: hello.name.clone(),
                role: Role::Node,
                heartbeat_interval_ms: 1000,
                dead_after_ms: 3000,
                server_proof: server_proof(&self.keys, &t),
            },
        ))
    }
}

/// What the scripted peer does with one handshake message.
enum Step {
    Valid,
    Mutated,
    /// Another kind of message (an early Welcome, an Error, a Request...).
    Other,
    Nothing,
}

fn choose(rng: &mut Rng) -> Step {
    match rng.below(8) {
        0..=2 => Step::Valid,
        3..=5 => Step::Mutated,
        6 => Step::Other,
        _ => Step::Nothing,
    }
}

struct Handshakes<'a> {
    frames: &'a [Vec<u8>],
    auth: FuzzAuth,
    rt: tokio::runtime::Runtime,
    /// Handshakes that reached `Welcome`: [server side, client side], to
    /// show the mutator gets past the first message.
    completed: std::cell::Cell<[u64; 2]>,
}

impl Handshakes<'_> {
    fn completed(&self, side: usize) {
        let mut c = self.completed.get();
        c[side] += 1;
        self.completed.set(c);
    }
}

/// The frame the scripted peer sends for `msg`, per `how`, and whether the
/// other side will read it as exactly one whole frame (only then may the
/// scripted peer wait for an answer: anything else could leave both sides
/// waiting for the other).
fn scripted(
    rng: &mut Rng,
    how: Step,
    msg: &Message,
    frames: &[Vec<u8>],
    max: usize,
    sent: &mut Vec<u8>,
) -> Option<(Bytes, bool)> {
    let mut frame = match how {
        Step::Nothing => return None,
        Step::Valid => encode_frame(msg, DEFAULT_MAX_FRAME).unwrap().to_vec(),
        Step::Other => rng.pick(frames).clone(),
        Step::Mutated => {
            let mut f = encode_frame(msg, DEFAULT_MAX_FRAME).unwrap().to_vec();
            let other = rng.pick(frames).clone();
            mutate(rng, &mut f, &other);
            f
        }
    };
    frame.truncate(MAX_INPUT);
    sent.extend_from_slice(&frame);
    let mut buf = BytesMut::from(&frame[..]);
    let whole = matches!(MessageCodec::new(max).decode(&mut buf), Ok(Some(_))) && buf.is_empty();
    Some((Bytes::from(frame), whole))
}

impl Handshakes<'_> {
    fn run(&self, rng: &mut Rng, index: u64) -> Outcome {
        let mut sent = Vec::new();
        let server_side = rng.one_in(2);
        let plan: Vec<Step> = (0..2).map(|_| choose(rng)).collect();
        let mut local = Rng(rng.next() | 1);
        let result = catch_unwind(AssertUnwindSafe(|| {
            if server_side {
                self.rt
                    .block_on(self.against_server(&mut local, plan, &mut sent));
            } else {
                self.rt
                    .block_on(self.against_client(&mut local, plan, &mut sent));
            }
        }));
        let tag = if server_side {
            "handshake (server side)"
        } else {
            "handshake (client side)"
        };
        guarded(tag, index, &sent, || match result {
            Ok(()) => Ok(()),
            Err(p) => std::panic::resume_unwind(p),
        })
    }

    /// `server_handshake` with a scripted dialler.
    async fn against_server(&self, rng: &mut Rng, plan: Vec<Step>, sent: &mut Vec<u8>) {
        let (a, b) = tokio::io::duplex(2 * MAX_INPUT);
        let server = async move {
            let mut conn = Connection::new(a, PRE_AUTH_MAX_FRAME);
            if server_handshake(&mut conn, SERVER_ID, &self.auth, BINDING)
                .await
                .is_ok()
            {
                self.completed(0);
            }
        };
        let frames = self.frames;
        let token = &self.auth.token;
        let dialler = async move {
            let mut conn = Connection::new(b, DEFAULT_MAX_FRAME);
            let mut plan = plan.into_iter();
            let kind = if rng.one_in(2) {
                PeerKind::Node
            } else {
                PeerKind::Client
            };
            let hello = Hello {
                protocol: if rng.one_in(16) { 1 } else { PROTOCOL_VERSION },
                role: kind,
                name: "web-1".into(),
                version: "fuzz".into(),
                nonce: format!("{:064x}", rng.next()),
            };
            let how = plan.next().unwrap_or(Step::Valid);
            let Some((frame, whole)) = scripted(
                rng,
                how,
                &Message::Hello(hello.clone()),
                frames,
                PRE_AUTH_MAX_FRAME,
                sent,
            ) else {
                return;
            };
            if conn.feed_frame(frame).await.is_err() || conn.flush().await.is_err() || !whole {
                return;
            }
            let Ok(Some(Message::Challenge(challenge))) = conn.read().await else {
                return;
            };
            let t = Transcript {
                client_nonce: &hello.nonce,
                server_nonce: &challenge.nonce,
                server_id: &challenge.server_id,
                kind,
                name: &hello.name,
                token_id: &token.id,
                binding: BINDING,
            };
            let auth = Auth {
                token_id: token.id.clone(),
                proof: client_proof(&token.key(), &t),
            };
            let how = plan.next().unwrap_or(Step::Valid);
            let Some((frame, whole)) = scripted(
                rng,
                how,
                &Message::Auth(auth),
                frames,
                PRE_AUTH_MAX_FRAME,
                sent,
            ) else {
                return;
            };
            if conn.feed_frame(frame).await.is_err() || conn.flush().await.is_err() || !whole {
                return;
            }
            let _ = conn.read().await;
        };
        tokio::join!(server, dialler);
    }

    /// `client_handshake` with a scripted configd.
    async fn against_client(&self, rng: &mut Rng, plan: Vec<Step>, sent: &mut Vec<u8>) {
        let (a, b) = tokio::io::duplex(2 * MAX_INPUT);
        let token = &self.auth.token;
        let kind = if rng.one_in(2) {
            PeerKind::Node
        } else {
            PeerKind::Client
        };
        let client = async move {
            let mut conn = Connection::new(a, DEFAULT_MAX_FRAME);
            if client_handshake(&mut conn, kind, "web-1", token, BINDING)
                .await
                .is_ok()
            {
                self.completed(1);
            }
        };
        let frames = self.frames;
        let keys = &self.auth.keys;
        let configd = async move {
            let mut conn = Connection::new(b, PRE_AUTH_MAX_FRAME);
            let Ok(Some(Message::Hello(hello))) = conn.read().await else {
                return;
            };
            let mut plan = plan.into_iter();
            let challenge = Challenge {
                nonce: format!("{:064x}", rng.next()),
                server_id: SERVER_ID.into(),
            };
            let how = plan.next().unwrap_or(Step::Valid);
            let Some((frame, whole)) = scripted(
                rng,
                how,
                &Message::Challenge(challenge.clone()),
                frames,
                DEFAULT_MAX_FRAME,
                sent,
            ) else {
                return;
            };
            // The challenge the client read, if it read one (a mutated one
            // may still be a challenge).
            let mut buf = BytesMut::from(&frame[..]);
            let seen = match MessageCodec::default().decode(&mut buf) {
                Ok(Some(Message::Challenge(c))) => c,
                _ => challenge,
            };
            if conn.feed_frame(frame).await.is_err() || conn.flush().await.is_err() || !whole {
                return;
            }
            let Ok(Some(Message::Auth(auth))) = conn.read().await else {
                return;
            };
            let t = Transcript {
                client_nonce: &hello.nonce,
                server_nonce: &seen.nonce,
                server_id: &seen.server_id,
                kind: hello.role,
                name: &hello.name,
                token_id: &auth.token_id,
                binding: BINDING,
            };
            let welcome = Welcome {
                server_id: SERVER_ID.into(),
                server_version: "fuzz".into(),
                name: hello.name.clone(),
                role: Role::Node,
                heartbeat_interval_ms: 1000,
                dead_after_ms: 3000,
                server_proof: server_proof(keys, &t),
            };
            let how = plan.next().unwrap_or(Step::Valid);
            if let Some((frame, _)) = scripted(
                rng,
                how,
                &Message::Welcome(welcome),
                frames,
                DEFAULT_MAX_FRAME,
                sent,
            ) {
                let _ = conn.feed_frame(frame).await;
                let _ = conn.flush().await;
            }
        };
        tokio::join!(client, configd);
    }
}

// ---------------------------------------------------------------- text files

/// Lines and fragments the mutator splices into TOML: keys of each file
/// with edge values, and TOML's own corner cases.
const TOML_DICT: &[&str] = &[
    "heartbeat_interval = \"18446744073709551615s\"",
    "heartbeat_interval = \"10000000000000000000s\"",
    "heartbeat_interval = \"1ns\"",
    "node_dead_after = \"1ns\"",
    "node_dead_after = \"18446744073709551615s\"",
    "heartbeat_interval = \"0s\"",
    "max_connections = 0",
    "max_connections = 18446744073709551615",
    "max_handshakes = 0",
    "max_handshakes_per_address = 0",
    "max_handshakes_per_address = 9223372036854775807",
    "log_buffer_lines = -1",
    "log_buffer_lines = 0",
    "tls = false",
    "tls = true",
    "listen = \"0.0.0.0:7400\"",
    "listen = \"[::1]:0\"",
    "listen = \"nohost\"",
    "tls_cert = \"c.pem\"",
    "tls_key = \"k.pem\"",
    "server = \"[::1]:7400\"",
    "server = \":\"",
    "server_fingerprint = \"sha256:00\"",
    "server_fingerprint = \"sha256:\"",
    "ca_file = \"/nonexistent/ca.pem\"",
    "name = \"\"",
    "name = \"-x\"",
    "token_file = \"\"",
    "shutdown_grace = \"18446744073709551615s\"",
    "max_concurrent_checks = 0",
    "[labels]",
    "role = \"\u{7}\"",
    "[[check]]",
    "name = \"c\"",
    "command = []",
    "command = [\"\"]",
    "interval = \"18446744073709551615s\"",
    "retry_interval = \"1ns\"",
    "timeout = \"18446744073709551615s\"",
    "freshness = \"18446744073709551615s\"",
    "max_attempts = 0",
    "max_attempts = 4294967296",
    "[[command]]",
    "argv = [\"/bin/x\", \"{zone}\", \"{}\", \"{{\"]",
    "args = [{ name = \"zone\", type = \"int\", min = 9223372036854775807, max = -9223372036854775808 }]",
    "args = [{ name = \"s\", type = \"string\", pattern = \"(a+)+$\", max_len = 18446744073709551615 }]",
    "args = [{ name = \"s\", type = \"string\", pattern = \"[\" }]",
    "args = [{ name = \"d\", type = \"date\", format = \"%Q%%%\" }]",
    "args = [{ name = \"e\", type = \"enum\", values = [] }]",
    "concurrency = 0",
    "inventory = { kind = \"zone\", key = \"nope\" }",
    "[inventory.zone]",
    "key = \"int\"",
    "key = \"enum()\"",
    "attributes = { state = \"enum(new,live\" }",
    "defaults = { state = \"x\" }",
    "[[notify]]",
    "states = [\"nope\"]",
    "[log]",
    "level = \"loud\"",
    "max_size = \"99999999999999999999GiB\"",
    "keep = -1",
    "rotation = \"size\"",
    "=",
    "\"",
    "'''",
    "\"\"\"",
    "[",
    "]]",
    "{",
    "[[[[[[[[1]]]]]]]]",
    "x = 1e400",
    "x = nan",
    "x = -inf",
    "x = 99999999999999999999999",
    "x = 1979-05-27T07:32:00Z",
    "\\u0000",
    "\\uD800",
    "a.b.c.d = 1",
];

/// Mutated TOML text: byte mutations (made UTF-8 lossily) or lines from
/// the dictionary inserted, replaced or spliced in mid-line.
fn mutate_text(rng: &mut Rng, seed: &str, other: &str) -> String {
    match rng.below(3) {
        0 => {
            let mut bytes = seed.as_bytes().to_vec();
            mutate(rng, &mut bytes, other.as_bytes());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => {
            let mut lines: Vec<String> = seed.lines().map(str::to_string).collect();
            for _ in 0..1 + rng.below(3) {
                let word = rng.pick(TOML_DICT).to_string();
                let at = rng.below(lines.len() + 1);
                match rng.below(3) {
                    0 => lines.insert(at, word),
                    1 if at < lines.len() => lines[at] = word,
                    _ if at < lines.len() => {
                        let line = &mut lines[at];
                        let mut cut = rng.below(line.len() + 1);
                        while !line.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        line.insert_str(cut, &word);
                    }
                    _ => lines.push(word),
                }
            }
            lines.join("\n")
        }
    }
}

struct Configs {
    seeds: Vec<String>,
    path: PathBuf,
    configd: bool,
}

impl Configs {
    fn run(&self, rng: &mut Rng, index: u64) -> Outcome {
        let seed = rng.pick(&self.seeds);
        let other = rng.pick(&self.seeds);
        let text = mutate_text(rng, seed, other);
        let name = if self.configd {
            "configd.toml"
        } else {
            "noded.toml"
        };
        guarded(name, index, text.as_bytes(), || {
            if self.configd {
                let _ = ConfigdConfig::from_str(&self.path, &text);
            } else {
                let _ = NodedConfig::from_str(&self.path, &text);
            }
            Ok(())
        })
    }
}

struct Tokens {
    seeds: Vec<String>,
    path: PathBuf,
}

impl Tokens {
    fn run(&self, rng: &mut Rng, index: u64) -> Outcome {
        let seed = rng.pick(&self.seeds);
        let other = rng.pick(&self.seeds);
        let text = if rng.one_in(2) {
            mutate_text(rng, seed, other)
        } else {
            let mut bytes = seed.as_bytes().to_vec();
            mutate(rng, &mut bytes, other.as_bytes());
            // Raw bytes, invalid UTF-8 included: the loader reads a file.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.path)
                .unwrap();
            f.write_all(&bytes).unwrap();
            return guarded("tokens file", index, &bytes, || {
                if let Ok(file) = TokensFile::load(&self.path) {
                    let _ = file.plaintext_secrets();
                    for e in file.entries() {
                        let _ = e.keys();
                    }
                }
                Ok(())
            });
        };
        std::fs::write(&self.path, &text).unwrap();
        guarded("tokens file", index, text.as_bytes(), || {
            if let Ok(file) = TokensFile::load(&self.path) {
                let _ = file.plaintext_secrets();
                for e in file.entries() {
                    let _ = e.keys();
                }
            }
            Ok(())
        })
    }
}

fn token_seeds() -> Vec<String> {
    let keys = TokenKeys::derive(&[7u8; 32]);
    let stored = hex::encode(keys.stored_key);
    let server = hex::encode(keys.server_key);
    vec![
        format!(
            "[[token]]\nid = \"4f2a9c01b7e3\"\nname = \"web-1\"\nrole = \"node\"\nstored_key = \"{stored}\"\nserver_key = \"{server}\"\ncreated = \"2026-12-01T22:00:00Z\"\n\n[[token]]\nid = \"00aa\"\nname = \"alice\"\nrole = \"admin\"\nstored_key = \"{stored}\"\nserver_key = \"{server}\"\ncreated = \"2026-12-01T22:00:00Z\"\nrevoked = \"2026-12-01T23:00:00Z\"\n"
        ),
        "[[token]]\nid = \"0b0b\"\nname = \"bob\"\nrole = \"operator\"\nsecret = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"\ncreated = \"2026-11-01T00:00:00Z\"\n".to_string(),
        String::new(),
        "token = []\n".to_string(),
    ]
}

// ---------------------------------------------------------------- driver

fn arg(args: &[String], name: &str) -> Option<u64> {
    let at = args.iter().position(|a| a == name)?;
    let v = args.get(at + 1)?.replace(['_', ','], "");
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name} takes a number, not `{v}`")),
    )
}

fn fail(f: Failure) -> ! {
    eprintln!(
        "\nFAILED: target `{}`, input #{}: {}\ninput ({} bytes, hex): {}",
        f.target,
        f.index,
        f.what,
        f.input.len(),
        hex::encode(&f.input)
    );
    if let Ok(text) = std::str::from_utf8(&f.input) {
        eprintln!("input as text:\n{text}");
    }
    std::process::exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total = arg(&args, "--inputs").unwrap_or(10_000_000);
    let seed = arg(&args, "--seed").unwrap_or(0x6d6f_6e69_7431);

    let messages = seed_messages();
    check_seed_coverage(&messages);
    let frames: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| encode_frame(m, DEFAULT_MAX_FRAME).unwrap().to_vec())
        .collect();
    let bodies: Vec<Vec<u8>> = frames.iter().map(|f| f[HEADER_LEN..].to_vec()).collect();
    // tmpfs when there is one: on ext4, rewriting a file in place makes
    // every close flush it (auto_da_alloc), 100 times slower than parsing.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let tokens_path = dir.path().join("tokens.toml");
    common::write_private(&tokens_path, "");
    let token = Token::parse(&format!("4f2a9c01b7e3.{}", "07".repeat(32))).unwrap();
    let handshakes = Handshakes {
        frames: &frames,
        auth: FuzzAuth {
            keys: TokenKeys::derive(&token.key()),
            token,
        },
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        completed: std::cell::Cell::new([0, 0]),
    };
    let configd = Configs {
        seeds: vec![
            include_str!("../config/configd.toml").to_string(),
            "listen = \"127.0.0.1:7400\"\ntls = false\n[inventory.zone]\nkey = \"int\"\nattributes = { state = \"enum(new,live,archived)\", port = \"int\" }\ndefaults = { state = \"new\" }\n".to_string(),
        ],
        path: dir.path().join("configd.toml"),
        configd: true,
    };
    let noded = Configs {
        seeds: vec![
            include_str!("../config/noded.toml").to_string(),
            include_str!("../config/ops/commands.toml").to_string() + "\ntoken_file = \"t\"\n",
        ],
        path: dir.path().join("noded.toml"),
        configd: false,
    };
    let tokens = Tokens {
        seeds: token_seeds(),
        path: tokens_path,
    };
    let frames_t = Frames { frames: &frames };
    let bodies_t = Bodies { bodies: &bodies };

    // Shares of the total, in per mille; frames takes what is left.
    let share = |per_mille: u64| total * per_mille / 1000;
    let plan: Vec<(&str, u64)> = vec![
        ("handshake", share(20)),
        ("configd.toml", share(60)),
        ("noded.toml", share(60)),
        ("tokens file", share(60)),
        ("bodies", share(400)),
    ];
    let planned: u64 = plan.iter().map(|(_, n)| n).sum();
    let plan: Vec<(&str, u64)> = std::iter::once(("frames", total - planned))
        .chain(plan)
        .collect();

    println!(
        "fuzz: {total} inputs, seed {seed:#x}, {} seed messages (every kind)",
        messages.len()
    );
    let rss_start = rss_kib("self");
    let started = Instant::now();
    let mut rng = Rng(seed | 1);
    for (name, n) in &plan {
        let t0 = Instant::now();
        for i in 0..*n {
            let outcome = match *name {
                "frames" => frames_t.run(&mut rng, i),
                "bodies" => bodies_t.run(&mut rng, i),
                "handshake" => handshakes.run(&mut rng, i),
                "configd.toml" => configd.run(&mut rng, i),
                "noded.toml" => noded.run(&mut rng, i),
                _ => tokens.run(&mut rng, i),
            };
            if let Err(f) = outcome {
                fail(f);
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "  {name:<14} {n:>11} inputs  {secs:>8.1} s  {:>11.0} inputs/s",
            *n as f64 / secs.max(1e-9)
        );
        if *name == "handshake" {
            let [server, client] = handshakes.completed.get();
            println!(
                "  {:<14} ({server} reached Welcome against server_handshake, {client} against client_handshake)",
                ""
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let rss_end = rss_kib("self");
    println!(
        "  {:<14} {total:>11} inputs  {secs:>8.1} s  {:>11.0} inputs/s",
        "total",
        total as f64 / secs.max(1e-9)
    );
    println!(
        "  VmRSS: {rss_start} KiB at the start, {rss_end} KiB at the end ({:+} KiB)",
        rss_end as i64 - rss_start as i64
    );
    let growth_mib = rss_end.saturating_sub(rss_start) as f64 / 1024.0;
    let limit = (MAX_RSS_GROWTH_KIB / 1024) as f64;
    if !figure("fuzz.rss_growth", growth_mib, "MiB", Target::Below(limit)) {
        eprintln!("FAILED: memory grew by more than 256 MiB");
        std::process::exit(1);
    }
    println!("no panic, no failed check");
}
