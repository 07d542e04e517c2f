//! docs/PROTOCOL.md stays true: every ```hex example in it is the frame
//! (or handshake value) it claims, every message, request and answer kind
//! has its section, and every documented type's field table lists exactly
//! the fields the code has.
//!
//! Print the examples afresh (after a deliberate protocol change) with
//! `PROTOCOL_DOC_PRINT=1 cargo test --test protocol_doc -- --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use bytes::BytesMut;
use hmac::{KeyInit, Mac};
use monit::auth::{client_proof, server_proof, verify_client_proof, TokenKeys, Transcript};
use monit::net::frame::{decode_body, encode_frame, MessageCodec};
use monit::net::proto::*;
use monit::ops::spec::{ArgSpec, ArgType, CommandRole, CommandSpec, InventoryLink};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use sha2::{Digest, Sha256};
use tokio_util::codec::Decoder;

const DOC: &str = include_str!("../docs/PROTOCOL.md");

// ------------------------------------------------------------ the examples

fn request(id: u64, body: RequestBody) -> Message {
    Message::Request(Request { id, body })
}

fn response(id: u64, body: ResponseBody) -> Message {
    Message::Response(Response { id, body })
}

/// The messages the doc's frame examples claim to be.
#[allow(clippy::needless_update)] // see the `..NodeView::default()` below
fn examples() -> Vec<(&'static str, Message)> {
    vec![
        ("ping", Message::Ping(Ping { seq: 7 })),
        ("pong", Message::Pong(Ping { seq: 7 })),
        ("cancel", Message::Cancel(Cancel { id: 3 })),
        (
            "hello",
            Message::Hello(Hello {
                protocol: PROTOCOL_VERSION,
                role: PeerKind::Node,
                name: "web-1".into(),
                version: "0.1.0".into(),
                nonce: CLIENT_NONCE.into(),
            }),
        ),
        (
            "challenge",
            Message::Challenge(Challenge {
                nonce: SERVER_NONCE.into(),
                server_id: SERVER_ID.into(),
            }),
        ),
        (
            "auth",
            Message::Auth(Auth {
                token_id: TOKEN_ID.into(),
                proof: client_proof(&secret(), &transcript()),
            }),
        ),
        (
            "welcome",
            Message::Welcome(Welcome {
                server_id: SERVER_ID.into(),
                server_version: "0.1.0".into(),
                name: "web-1".into(),
                role: Role::Node,
                heartbeat_interval_ms: 1000,
                dead_after_ms: 3000,
                server_proof: server_proof(&TokenKeys::derive(&secret()), &transcript()),
            }),
        ),
        (
            "error",
            Message::Error(ErrorFrame::new(ErrorCode::TooLarge, "too big")),
        ),
        (
            "register",
            request(
                1,
                RequestBody::Register(Registration {
                    hostname: "web-1.example".into(),
                    version: "0.1.0".into(),
                    labels: BTreeMap::from([("role".to_string(), "web".to_string())]),
                    addrs: vec!["10.0.0.5".into()],
                    checks: vec![CheckDecl {
                        name: "backup".into(),
                        max_attempts: 1,
                        freshness_ms: Some(90_000),
                    }],
                    takes_checks: false,
                    commands: vec![CommandSpec {
                        name: "open-zone".into(),
                        description: "Open a zone".into(),
                        argv: vec!["/usr/local/bin/open-zone".into(), "{zone}".into()],
                        args: vec![
                            ArgSpec {
                                name: "zone".into(),
                                kind: ArgType::Int {
                                    min: Some(1),
                                    max: None,
                                },
                            },
                            ArgSpec {
                                name: "peer".into(),
                                kind: ArgType::Ip,
                            },
                        ],
                        timeout_ms: 60_000,
                        concurrency: 1,
                        inventory: None,
                        role: Default::default(),
                    }],
                }),
            ),
        ),
        (
            "registered",
            response(
                1,
                ResponseBody::Registered(Registered {
                    first_seen_ms: 1_764_547_200_000,
                }),
            ),
        ),
        (
            "query_nodes",
            request(
                2,
                RequestBody::QueryNodes(QueryNodes {
                    filters: vec!["state=up".into()],
                }),
            ),
        ),
        (
            "nodes",
            response(
                2,
                ResponseBody::Nodes(NodesPage {
                    nodes: vec![NodeView {
                        name: "web-1".into(),
                        state: NodeState::Up,
                        addr: "10.0.0.5".into(),
                        first_seen_ms: 1_764_547_200_000,
                        last_seen_ms: 1_764_550_800_000,
                        version: "0.1.0".into(),
                        hostname: "web-1.example".into(),
                        addrs: vec!["10.0.0.5".into()],
                        labels: BTreeMap::from([("role".to_string(), "web".to_string())]),
                        checks: CheckCounts {
                            ok: 3,
                            warning: 1,
                            ..CheckCounts::default()
                        },
                        // A field added later is checked against the
                        // document all the same.
                        ..NodeView::default()
                    }],
                    done: true,
                }),
            ),
        ),
        (
            "answer_error",
            response(
                5,
                ResponseBody::Error(ErrorFrame::new(
                    ErrorCode::Forbidden,
                    "running commands needs an operator or admin token",
                )),
            ),
        ),
        (
            "run_command",
            request(
                3,
                RequestBody::RunCommand(RunCommand {
                    job: 7,
                    command: "open-zone".into(),
                    args: vec!["218".into()],
                    timeout_ms: None,
                }),
            ),
        ),
        (
            "command_output",
            response(
                3,
                ResponseBody::CommandOutput(CommandOutput {
                    stream: OutputStream::Stdout,
                    data: "zone 218 open\n".into(),
                }),
            ),
        ),
        (
            "command_exit",
            response(
                3,
                ResponseBody::CommandExit(CommandExit {
                    state: TargetState::Ok,
                    exit_code: Some(0),
                    message: String::new(),
                }),
            ),
        ),
        (
            "inventory_write",
            request(
                4,
                RequestBody::InventoryWrite(InventoryWrite {
                    ops: vec![
                        InventoryOp::Add {
                            kind: "zone".into(),
                            key: "218".into(),
                            node: "web-1".into(),
                            attrs: BTreeMap::from([("state".to_string(), "closed".to_string())]),
                            replace: false,
                            line: None,
                        },
                        InventoryOp::Delete {
                            kind: "zone".into(),
                            key: "17".into(),
                        },
                    ],
                }),
            ),
        ),
        (
            "subscribe_logs",
            request(
                6,
                RequestBody::SubscribeLogs(SubscribeLogs {
                    nodes: vec![],
                    min_level: Some(Level::Warn),
                    sources: vec!["job:".into()],
                    grep: None,
                    regex: None,
                    backlog: 100,
                    since_ms: None,
                    follow: true,
                }),
            ),
        ),
        (
            "log_lines",
            response(
                6,
                ResponseBody::LogLines(LogLines {
                    lines: vec![LogLine {
                        time_ms: 1_764_550_800_123,
                        node: "web-1".into(),
                        level: Level::Warn,
                        source: "job:7".into(),
                        message: "disk 91% full".into(),
                    }],
                    skipped: 0,
                    done: false,
                }),
            ),
        ),
        (
            "list_commands",
            request(8, RequestBody::ListCommands(ListCommands {})),
        ),
        (
            "problems",
            response(
                9,
                ResponseBody::Problems(ProblemsPage {
                    problems: vec![
                        ProblemView {
                            node: "web-2".into(),
                            check: None,
                            state: "down".into(),
                            state_type: "hard".into(),
                            since_ms: 1_764_550_700_000,
                            output: "no heartbeat for 3.0s".into(),
                            acknowledged: false,
                            in_downtime: false,
                            flapping: false,
                            stale: false,
                        },
                        ProblemView {
                            node: "web-2".into(),
                            check: Some("disk".into()),
                            state: "critical".into(),
                            state_type: "hard".into(),
                            since_ms: 1_764_550_000_000,
                            output: "DISK CRITICAL - / 97% full".into(),
                            acknowledged: true,
                            in_downtime: false,
                            flapping: false,
                            stale: true,
                        },
                    ],
                    done: true,
                }),
            ),
        ),
        (
            "set_checks",
            request(
                1,
                RequestBody::SetChecks(SetChecks {
                    checks: vec![
                        CentralCheck {
                            name: "disk".into(),
                            command: vec![
                                "/usr/lib/monit/check_disk".into(),
                                "-w".into(),
                                "10%".into(),
                            ],
                            interval_ms: 60_000,
                            retry_interval_ms: 15_000,
                            max_attempts: 3,
                            timeout_ms: 10_000,
                            freshness_ms: None,
                        },
                        CentralCheck {
                            name: "backup".into(),
                            command: vec![],
                            interval_ms: 60_000,
                            retry_interval_ms: 60_000,
                            max_attempts: 1,
                            timeout_ms: 10_000,
                            freshness_ms: Some(90_000),
                        },
                    ],
                }),
            ),
        ),
        (
            "checks_set",
            response(
                1,
                ResponseBody::ChecksSet(ChecksSet {
                    accepted: vec!["disk".into()],
                    refused: vec![RefusedCheck {
                        name: "backup".into(),
                        reason: "a local check of the same name (noded.toml) wins".into(),
                    }],
                }),
            ),
        ),
        (
            "read_file",
            request(
                4,
                RequestBody::ReadFile(ReadFile {
                    path: "zone-101.tar".into(),
                    max_size: 4 << 30,
                }),
            ),
        ),
        (
            "file_chunk",
            response(
                4,
                ResponseBody::FileChunk(FileChunk {
                    data: b"ustar".to_vec(),
                }),
            ),
        ),
        (
            "write_chunk",
            request(
                9,
                RequestBody::WriteChunk(WriteChunk {
                    handle: 42,
                    offset: 262_144,
                    data: b"ustar".to_vec(),
                }),
            ),
        ),
    ]
}

// The worked handshake.
const CLIENT_NONCE: &str = "6d2c1e0b5a4f39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0";
const SERVER_NONCE: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SERVER_ID: &str = "configd-1";
const TOKEN_ID: &str = "4f2a9c01b7e3";

/// The token's secret: bytes 0x00..=0x1f (the token reads
/// `4f2a9c01b7e3.000102...1f`).
fn secret() -> Vec<u8> {
    (0u8..32).collect()
}

/// The TLS exporter value of the example (made up: bytes 0xa0..=0xbf).
fn binding() -> Vec<u8> {
    (0xa0u8..=0xbf).collect()
}

fn transcript() -> Transcript<'static> {
    // Leaked once per call: a test, and the binding must outlive the borrow.
    let binding: &'static [u8] = Box::leak(binding().into_boxed_slice());
    Transcript {
        client_nonce: CLIENT_NONCE,
        server_nonce: SERVER_NONCE,
        server_id: SERVER_ID,
        kind: PeerKind::Node,
        name: "web-1",
        token_id: TOKEN_ID,
        binding,
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The handshake values the doc shows, by name, computed by the library
/// where it exposes them and by the doc's formulas where it does not.
fn proof_values() -> Vec<(&'static str, String)> {
    let secret = secret();
    let keys = TokenKeys::derive(&secret);
    let t = transcript();
    let auth_message = t.auth_message();
    let client = client_proof(&secret, &t);
    // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage).
    let signature = hmac(&keys.stored_key, &auth_message);
    let client_key: Vec<u8> = hex::decode(&client)
        .unwrap()
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    vec![
        ("proof.secret", hex::encode(&secret)),
        ("proof.binding", hex::encode(binding())),
        ("proof.client_key", hex::encode(&client_key)),
        ("proof.stored_key", hex::encode(keys.stored_key)),
        ("proof.server_key", hex::encode(keys.server_key)),
        ("proof.auth_message", hex::encode(&auth_message)),
        ("proof.client_signature", hex::encode(&signature)),
        ("proof.client_proof", client),
        ("proof.server_proof", server_proof(&keys, &t)),
    ]
}

// ------------------------------------------------------------ reading the doc

/// Each ```hex block: its `name:` line and its digits.
fn hex_blocks() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = DOC.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```hex" {
            continue;
        }
        let name = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("name:"))
            .unwrap_or_else(|| panic!("a ```hex block must start with `name: ...`"))
            .trim()
            .to_string();
        let mut digits = String::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            digits.extend(l.chars().filter(|c| !c.is_whitespace()));
        }
        out.push((name, digits));
    }
    out
}

/// The backticked first cells of the table under the heading `####
/// `name``, up to the next heading, in order.
fn table_keys(name: &str) -> Option<Vec<String>> {
    let heading = format!("#### `{name}`");
    let mut lines = DOC.lines().skip_while(|l| l.trim() != heading);
    lines.next()?;
    let mut keys = Vec::new();
    for l in lines {
        if l.starts_with('#') {
            break;
        }
        let Some(row) = l.trim().strip_prefix("| `") else {
            continue;
        };
        if let Some((key, _)) = row.split_once('`') {
            keys.push(key.to_string());
        }
    }
    Some(keys)
}

// ------------------------------------------------------------ what serde knows

/// A deserializer that only records what a type asks for: a struct's
/// field names or an enum's variant names (as they are on the wire).
#[derive(Default)]
struct Shape {
    fields: Option<&'static [&'static str]>,
    variants: Option<&'static [&'static str]>,
}

impl<'de> Deserializer<'de> for &mut Shape {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("shape only"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.fields = Some(fields);
        Err(de::Error::custom("shape only"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.variants = Some(variants);
        Err(de::Error::custom("shape only"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

fn fields_of<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
    let mut s = Shape::default();
    let _ = T::deserialize(&mut s);
    s.fields.expect("a struct").to_vec()
}

fn variants_of<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
    let mut s = Shape::default();
    let _ = T::deserialize(&mut s);
    s.variants.expect("an enum").to_vec()
}

/// Every struct on the wire, by the name its `####` heading has.
fn structs() -> Vec<(&'static str, Vec<&'static str>)> {
    macro_rules! s {
        ($($t:ident),* $(,)?) => { vec![$((stringify!($t), fields_of::<$t>())),*] };
    }
    s![
        Hello,
        Challenge,
        Auth,
        Welcome,
        ErrorFrame,
        Ping,
        Cancel,
        Request,
        Response,
        Registration,
        CheckDecl,
        CommandSpec,
        ArgSpec,
        InventoryLink,
        Registered,
        QueryNodes,
        NodesPage,
        NodeView,
        CheckCounts,
        CheckResults,
        CheckResult,
        PerfData,
        ResultsAck,
        QueryChecks,
        ChecksPage,
        CheckView,
        QueryEvents,
        EventsPage,
        EventView,
        AckRequest,
        DowntimeRequest,
        ListDowntimes,
        CancelDowntime,
        DowntimesPage,
        DowntimeView,
        SubmitResult,
        Done,
        LogBatch,
        LogLine,
        LogAck,
        SubscribeLogs,
        LogLines,
        InventoryWrite,
        InventoryWritten,
        InventoryPage,
        InventoryItem,
        ResolveTargets,
        Targets,
        RunRequest,
        JobStarted,
        JobOutput,
        TargetResult,
        JobView,
        JobsPage,
        ShowJob,
        JobDetail,
        NodeOutput,
        ListCommands,
        CommandNames,
        RunCommand,
        CommandOutput,
        CommandExit,
        ProblemsPage,
        ProblemView,
        CommandsPage,
        CommandOffer,
        CancelJob,
        SetChecks,
        CentralCheck,
        ChecksSet,
        RefusedCheck,
        RunbookRequest,
        RunbookPlan,
        RunbookOffer,
        RunbookArgInfo,
        StepView,
        InventoryChange,
        StepProgress,
        ReadFile,
        FileSize,
        FileChunk,
        FileEnd,
        WriteFile,
        WriteOpen,
        WriteChunk,
        ChunkAck,
        WriteCommit,
        WriteDone,
    ]
}

/// Every enum whose values are names on the wire.
fn enums() -> Vec<(&'static str, Vec<&'static str>)> {
    macro_rules! e {
        ($($t:ident),* $(,)?) => { vec![$((stringify!($t), variants_of::<$t>())),*] };
    }
    e![
        PeerKind,
        Role,
        ErrorCode,
        OutputStream,
        TargetState,
        NodeState,
        Level,
        CheckState,
        StateType,
        ArgType,
        CommandRole,
        InventoryOp,
        StepKind,
        StepState,
    ]
}

// ------------------------------------------------------------ the tests

fn frame_hex(msg: &Message) -> String {
    hex::encode(encode_frame(msg, DEFAULT_MAX_FRAME).unwrap())
}

#[test]
fn print_examples_when_asked() {
    if std::env::var_os("PROTOCOL_DOC_PRINT").is_none() {
        return;
    }
    for (name, msg) in examples() {
        println!("```hex\nname: {name}\n{}\n```\n{msg:?}\n", frame_hex(&msg));
    }
    for (name, value) in proof_values() {
        println!("```hex\nname: {name}\n{value}\n```\n");
    }
}

#[test]
fn frame_examples_are_the_bytes_of_their_messages() {
    let blocks: BTreeMap<String, String> = hex_blocks().into_iter().collect();
    assert_eq!(
        blocks.len(),
        hex_blocks().len(),
        "two ```hex blocks share a name"
    );
    let examples = examples();
    for (name, msg) in &examples {
        let doc = blocks
            .get(*name)
            .unwrap_or_else(|| panic!("docs/PROTOCOL.md lost the example `{name}`"));
        assert_eq!(
            doc,
            &frame_hex(msg),
            "example `{name}` in docs/PROTOCOL.md is not the frame of {msg:?}"
        );
        // And the documented bytes read back as the message.
        let mut buf = BytesMut::from(&hex::decode(doc).unwrap()[..]);
        let back = MessageCodec::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(&back, msg, "{name}");
        assert!(buf.is_empty(), "{name}: bytes after the frame");
    }
    // Nothing in the doc that this test does not check.
    let proofs = proof_values();
    for name in blocks.keys() {
        assert!(
            examples.iter().any(|(n, _)| n == name) || proofs.iter().any(|(n, _)| n == name),
            "docs/PROTOCOL.md has a ```hex block `{name}` no test checks"
        );
    }
}

#[test]
fn the_worked_handshake_is_what_the_library_computes() {
    let blocks: BTreeMap<String, String> = hex_blocks().into_iter().collect();
    for (name, want) in proof_values() {
        let doc = blocks
            .get(name)
            .unwrap_or_else(|| panic!("docs/PROTOCOL.md lost the handshake value `{name}`"));
        assert_eq!(doc, &want, "handshake value `{name}` in docs/PROTOCOL.md");
    }
    // The doc's key schedule, from its formulas, meets the library's.
    let secret = secret();
    let keys = TokenKeys::derive(&secret);
    let client_key = hmac(&secret, b"monit client key");
    assert_eq!(hex::encode(&client_key), blocks["proof.client_key"]);
    assert_eq!(
        Sha256::digest(&client_key).as_slice(),
        keys.stored_key.as_slice()
    );
    assert_eq!(hmac(&secret, b"monit server key"), keys.server_key.to_vec());
    // AuthMessage from the doc's layout: u64 big-endian length, then bytes.
    let mut layout = Vec::new();
    for part in [
        b"monit-handshake-v2".as_slice(),
        CLIENT_NONCE.as_bytes(),
        SERVER_NONCE.as_bytes(),
        SERVER_ID.as_bytes(),
        b"node",
        b"web-1",
        TOKEN_ID.as_bytes(),
        &binding(),
    ] {
        layout.extend_from_slice(&(part.len() as u64).to_be_bytes());
        layout.extend_from_slice(part);
    }
    assert_eq!(hex::encode(&layout), blocks["proof.auth_message"]);
    assert_eq!(
        hex::encode(hmac(&keys.server_key, &layout)),
        blocks["proof.server_proof"]
    );
    assert!(verify_client_proof(
        &keys,
        &transcript(),
        &blocks["proof.client_proof"]
    ));
    // Hex of either case is accepted, as the doc says.
    assert!(verify_client_proof(
        &keys,
        &transcript(),
        &blocks["proof.client_proof"].to_uppercase()
    ));
}

#[test]
fn every_message_request_and_answer_has_its_section() {
    let has = |heading: String| DOC.lines().any(|l| l.trim() == heading);
    for v in variants_of::<Message>() {
        assert!(has(format!("### `{v}`")), "no `### `{v}`` section");
    }
    for v in variants_of::<RequestBody>() {
        assert!(
            has(format!("### Request `{v}`")),
            "no `### Request `{v}`` section"
        );
    }
    for v in variants_of::<ResponseBody>() {
        assert!(
            has(format!("### Answer `{v}`")),
            "no `### Answer `{v}`` section"
        );
    }
}

/// In the code's order too: the doc says fields are written in the order
/// of its tables.
#[test]
fn every_field_table_lists_exactly_the_fields() {
    for (name, fields) in structs() {
        let doc = table_keys(name)
            .unwrap_or_else(|| panic!("docs/PROTOCOL.md has no `#### `{name}`` table"));
        assert_eq!(doc, fields, "fields of {name}: doc (left) and code (right)");
    }
    for (name, variants) in enums() {
        let doc = table_keys(name)
            .unwrap_or_else(|| panic!("docs/PROTOCOL.md has no `#### `{name}`` table"));
        assert_eq!(
            doc, variants,
            "values of {name}: doc (left) and code (right)"
        );
    }
}

/// What the doc says about decoding, checked on rmp-serde itself.
#[test]
fn decoding_rules_the_doc_states() {
    let w = |v: &serde_json::Value| rmp_serde::to_vec_named(v).unwrap();
    // Unknown fields are skipped.
    let body = w(&serde_json::json!({"Ping": {"seq": 1, "later": [1, 2]}}));
    assert_eq!(decode_body(&body).unwrap(), Message::Ping(Ping { seq: 1 }));
    // A missing Option field is None; a missing other field is an error.
    let body = w(
        &serde_json::json!({"Request": {"id": 1, "body": {"RunCommand":
        {"job": 1, "command": "x", "args": []}}}}),
    );
    match decode_body(&body).unwrap() {
        Message::Request(Request {
            body: RequestBody::RunCommand(r),
            ..
        }) => assert_eq!(r.timeout_ms, None),
        other => panic!("{other:?}"),
    }
    let body = w(&serde_json::json!({"Ping": {}}));
    assert!(decode_body(&body).is_err());
    // Any integer width that holds the value.
    let mut body = hex::decode("81a450696e6781a3736571").unwrap();
    body.extend_from_slice(&[0xcf, 0, 0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(decode_body(&body).unwrap(), Message::Ping(Ping { seq: 7 }));
    // A unit variant is its name as a string; an unknown error code reads
    // as `other`.
    let body = w(&serde_json::json!({"Error": {"code": "from_the_future", "message": "m"}}));
    assert_eq!(
        decode_body(&body).unwrap(),
        Message::Error(ErrorFrame::new(ErrorCode::Other, "m"))
    );
    // A request of an unknown kind keeps its id.
    let body = w(&serde_json::json!({"Request": {"id": 9, "body": {"Later": {}}}}));
    assert!(matches!(
        decode_body(&body),
        Err(monit::net::frame::FrameError::UnknownRequest { id: 9, .. })
    ));
    // Bytes after the message, inside its frame, are not looked at.
    let mut body = w(&serde_json::json!({"Ping": {"seq": 1}}));
    body.extend_from_slice(&[0xc1, 0xff]);
    assert_eq!(decode_body(&body).unwrap(), Message::Ping(Ping { seq: 1 }));
    assert!(decode_body(&[]).is_err());
    // f64 is always written as float 64, whatever its value.
    assert_eq!(
        rmp_serde::to_vec_named(&1.0f64).unwrap(),
        hex::decode("cb3ff0000000000000").unwrap()
    );
}
