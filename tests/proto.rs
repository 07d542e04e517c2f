//! The wire format: golden bytes pin representative messages (an accidental
//! protocol change fails here), random messages round-trip, and no input
//! makes the decoder panic.

use std::collections::BTreeMap;

use bytes::BytesMut;
use monit::net::frame::{encode_frame, FrameError, MessageCodec};
use monit::net::proto::*;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

fn golden() -> Vec<(&'static str, Message)> {
    vec![
        (
            "hello",
            Message::Hello(Hello {
                protocol: 2,
                role: PeerKind::Node,
                name: "web-1".into(),
                version: "0.1.0".into(),
                nonce: "c0ffee".into(),
            }),
        ),
        (
            "challenge",
            Message::Challenge(Challenge {
                nonce: "00ff".into(),
                server_id: "configd-1".into(),
            }),
        ),
        (
            "auth",
            Message::Auth(Auth {
                token_id: "abc123".into(),
                proof: "beef".into(),
            }),
        ),
        (
            "welcome",
            Message::Welcome(Welcome {
                server_id: "configd-1".into(),
                server_version: "0.1.0".into(),
                name: "web-1".into(),
                role: Role::Node,
                heartbeat_interval_ms: 1000,
                dead_after_ms: 3000,
                server_proof: "f00d".into(),
            }),
        ),
        (
            "error",
            Message::Error(ErrorFrame::new(ErrorCode::TooLarge, "too big")),
        ),
        ("ping", Message::Ping(Ping { seq: 7 })),
        ("cancel", Message::Cancel(Cancel { id: 3 })),
        (
            "register",
            Message::Request(Request {
                id: 1,
                body: RequestBody::Register(Registration {
                    hostname: "h".into(),
                    version: "0.1.0".into(),
                    labels: BTreeMap::from([("role".to_string(), "web".to_string())]),
                    addrs: vec!["10.0.0.1".into()],
                    checks: vec![],
                    commands: vec![],
                    takes_checks: false,
                }),
            }),
        ),
        (
            "run_command",
            Message::Request(Request {
                id: 3,
                body: RequestBody::RunCommand(RunCommand {
                    job: 7,
                    command: "open-zone".into(),
                    args: vec!["218".into(), "20261201".into()],
                    timeout_ms: Some(1000),
                }),
            }),
        ),
        (
            "set_checks",
            Message::Request(Request {
                id: 11,
                body: RequestBody::SetChecks(SetChecks {
                    checks: vec![CentralCheck {
                        name: "load".into(),
                        command: vec!["/usr/lib/nagios/plugins/check_load".into()],
                        interval_ms: 60_000,
                        retry_interval_ms: 10_000,
                        max_attempts: 3,
                        timeout_ms: 10_000,
                        freshness_ms: None,
                    }],
                }),
            }),
        ),
        (
            "checks_set",
            Message::Response(Response {
                id: 11,
                body: ResponseBody::ChecksSet(ChecksSet {
                    accepted: vec!["load".into()],
                    refused: vec![RefusedCheck {
                        name: "disk".into(),
                        reason: "accept_checks = false".into(),
                    }],
                }),
            }),
        ),
        (
            "run",
            Message::Request(Request {
                id: 4,
                body: RequestBody::Run(RunRequest {
                    command: "open-zone".into(),
                    args: vec!["218".into()],
                    target: "zone=218".into(),
                    timeout_ms: None,
                    force_target: false,
                    reason: String::new(),
                }),
            }),
        ),
        (
            "inventory_write",
            Message::Request(Request {
                id: 5,
                body: RequestBody::InventoryWrite(InventoryWrite {
                    ops: vec![InventoryOp::Delete {
                        kind: "zone".into(),
                        key: "218".into(),
                    }],
                }),
            }),
        ),
        (
            "command_output",
            Message::Response(Response {
                id: 3,
                body: ResponseBody::CommandOutput(CommandOutput {
                    stream: OutputStream::Stderr,
                    data: "x\n".into(),
                }),
            }),
        ),
        (
            "command_exit",
            Message::Response(Response {
                id: 3,
                body: ResponseBody::CommandExit(CommandExit {
                    state: TargetState::Ok,
                    exit_code: Some(0),
                    message: String::new(),
                }),
            }),
        ),
        (
            "target_done",
            Message::Response(Response {
                id: 4,
                body: ResponseBody::TargetDone(TargetResult {
                    node: "web-1".into(),
                    state: TargetState::Lost,
                    exit_code: None,
                    duration_ms: Some(5),
                    message: "gone".into(),
                }),
            }),
        ),
        (
            "query_nodes",
            Message::Request(Request {
                id: 2,
                body: RequestBody::QueryNodes(QueryNodes {
                    filters: vec!["state=up".into()],
                }),
            }),
        ),
        (
            "nodes_page",
            Message::Response(Response {
                id: 2,
                body: ResponseBody::Nodes(NodesPage {
                    nodes: vec![NodeView {
                        name: "web-1".into(),
                        state: NodeState::Up,
                        addr: "127.0.0.1".into(),
                        first_seen_ms: 1,
                        last_seen_ms: 2,
                        version: "0.1.0".into(),
                        hostname: "h".into(),
                        ..NodeView::default()
                    }],
                    done: true,
                }),
            }),
        ),
        (
            "check_results",
            Message::Request(Request {
                id: 3,
                body: RequestBody::CheckResults(CheckResults {
                    results: vec![CheckResult {
                        name: "load".into(),
                        state: CheckState::Warning,
                        output: "LOAD WARNING".into(),
                        long_output: String::new(),
                        perfdata: vec![PerfData {
                            label: "load1".into(),
                            value: 5.5,
                            uom: String::new(),
                            warn: Some("5".into()),
                            crit: Some("10".into()),
                            min: Some(0.0),
                            max: None,
                        }],
                        time_ms: 1000,
                        duration_ms: 3,
                        latency_ms: 1,
                        max_attempts: 3,
                        state_type: StateType::Soft,
                        attempt: 1,
                    }],
                }),
            }),
        ),
        (
            "results_ack",
            Message::Response(Response {
                id: 3,
                body: ResponseBody::ResultsAck(ResultsAck { accepted: 1 }),
            }),
        ),
        (
            "ack",
            Message::Request(Request {
                id: 4,
                body: RequestBody::Acknowledge(AckRequest {
                    node: "web-1".into(),
                    check: "load".into(),
                    comment: "on it".into(),
                    sticky: true,
                    remove: false,
                }),
            }),
        ),
        (
            "downtime",
            Message::Request(Request {
                id: 5,
                body: RequestBody::Downtime(DowntimeRequest {
                    node: "web-1".into(),
                    check: None,
                    start_ms: 1,
                    end_ms: 2,
                    comment: "maint".into(),
                }),
            }),
        ),
        (
            "submit",
            Message::Request(Request {
                id: 6,
                body: RequestBody::Submit(SubmitResult {
                    node: "web-1".into(),
                    check: "backup".into(),
                    state: CheckState::Ok,
                    output: "done".into(),
                }),
            }),
        ),
        (
            "query_checks",
            Message::Request(Request {
                id: 7,
                body: RequestBody::QueryChecks(QueryChecks {
                    node: Some("web-1".into()),
                    filters: vec!["state!=ok".into()],
                }),
            }),
        ),
        (
            "query_events",
            Message::Request(Request {
                id: 8,
                body: RequestBody::QueryEvents(QueryEvents {
                    filters: vec![],
                    limit: 10,
                }),
            }),
        ),
        (
            "done",
            Message::Response(Response {
                id: 8,
                body: ResponseBody::Done(Done {
                    message: "ok".into(),
                    id: None,
                }),
            }),
        ),
        (
            "log_batch",
            Message::Request(Request {
                id: 4,
                body: RequestBody::LogBatch(LogBatch {
                    stream: 9,
                    first_line: 100,
                    lines: vec![LogLine {
                        time_ms: 1,
                        node: String::new(),
                        level: Level::Warn,
                        source: "job:7".into(),
                        message: "disk".into(),
                    }],
                }),
            }),
        ),
        (
            "log_ack",
            Message::Response(Response {
                id: 4,
                body: ResponseBody::LogAck(LogAck { count: 1 }),
            }),
        ),
        (
            "subscribe_logs",
            Message::Request(Request {
                id: 5,
                body: RequestBody::SubscribeLogs(SubscribeLogs {
                    nodes: vec!["a".into()],
                    min_level: Some(Level::Warn),
                    sources: vec![],
                    grep: Some("disk".into()),
                    regex: None,
                    backlog: 10,
                    since_ms: None,
                    follow: true,
                }),
            }),
        ),
        (
            "log_lines",
            Message::Response(Response {
                id: 5,
                body: ResponseBody::LogLines(LogLines {
                    lines: vec![LogLine {
                        time_ms: 1,
                        node: "a".into(),
                        level: Level::Error,
                        source: "check:load".into(),
                        message: "critical".into(),
                    }],
                    skipped: 3,
                    done: false,
                }),
            }),
        ),
        (
            "list_commands",
            Message::Request(Request {
                id: 9,
                body: RequestBody::ListCommands(ListCommands {}),
            }),
        ),
        (
            "command_names",
            Message::Response(Response {
                id: 9,
                body: ResponseBody::CommandNames(CommandNames {
                    names: vec!["open-zone".into()],
                }),
            }),
        ),
        (
            "query_problems",
            Message::Request(Request {
                id: 10,
                body: RequestBody::QueryProblems(QueryChecks {
                    node: None,
                    filters: vec!["kind=node".into()],
                }),
            }),
        ),
        (
            "problems",
            Message::Response(Response {
                id: 10,
                body: ResponseBody::Problems(ProblemsPage {
                    problems: vec![ProblemView {
                        node: "web-1".into(),
                        check: None,
                        state: "down".into(),
                        state_type: "hard".into(),
                        since_ms: 1,
                        output: "closed by peer".into(),
                        acknowledged: true,
                        in_downtime: false,
                        flapping: false,
                        stale: false,
                    }],
                    done: true,
                }),
            }),
        ),
        (
            "unack",
            Message::Request(Request {
                id: 11,
                body: RequestBody::Acknowledge(AckRequest {
                    node: "web-1".into(),
                    check: String::new(),
                    comment: String::new(),
                    sticky: false,
                    remove: true,
                }),
            }),
        ),
        (
            "cancel_job",
            Message::Request(Request {
                id: 12,
                body: RequestBody::CancelJob(CancelJob { id: 7 }),
            }),
        ),
        (
            "query_commands",
            Message::Request(Request {
                id: 13,
                body: RequestBody::QueryCommands(QueryChecks {
                    node: Some("web-1".into()),
                    filters: vec![],
                }),
            }),
        ),
    ]
}

/// Hex of each golden message's whole frame. Regenerate deliberately (and
/// bump PROTOCOL_VERSION when old peers break) with
/// `GOLDEN_PRINT=1 cargo test --test proto golden -- --nocapture`.
const GOLDEN: &[(&str, &str)] = &[
    ("log_batch", "0000006e81a75265717565737482a2696404a4626f647981a84c6f67426174636883a673747265616d09aa66697273745f6c696e6564a56c696e65739185a774696d655f6d7301a46e6f6465a0a56c6576656ca47761726ea6736f75726365a56a6f623a37a76d657373616765a46469736b"),
    ("log_ack", "0000002481a8526573706f6e736582a2696404a4626f647981a64c6f6741636b81a5636f756e7401"),
    ("log_lines", "0000007581a8526573706f6e736582a2696405a4626f647981a84c6f674c696e657383a56c696e65739185a774696d655f6d7301a46e6f6465a161a56c6576656ca56572726f72a6736f75726365aa636865636b3a6c6f6164a76d657373616765a8637269746963616ca7736b697070656403a4646f6e65c2"),
    ("subscribe_logs", "0000007081a75265717565737482a2696405a4626f647981ad5375627363726962654c6f677388a56e6f64657391a161a96d696e5f6c6576656ca47761726ea7736f757263657390a467726570a46469736ba57265676578c0a76261636b6c6f670aa873696e63655f6d73c0a6666f6c6c6f77c3"),
    ("cancel", "0000000d81a643616e63656c81a2696403"),
    ("hello", "0000004281a548656c6c6f85a870726f746f636f6c02a4726f6c65a46e6f6465a46e616d65a57765622d31a776657273696f6ea5302e312e30a56e6f6e6365a6633066666565"),
    ("challenge", "0000002b81a94368616c6c656e676582a56e6f6e6365a430306666a97365727665725f6964a9636f6e666967642d31"),
    ("auth", "0000002281a44175746882a8746f6b656e5f6964a6616263313233a570726f6f66a462656566"),
    ("welcome", "0000008481a757656c636f6d6587a97365727665725f6964a9636f6e666967642d31ae7365727665725f76657273696f6ea5302e312e30a46e616d65a57765622d31a4726f6c65a46e6f6465b56865617274626561745f696e74657276616c5f6d73cd03e8ad646561645f61667465725f6d73cd0bb8ac7365727665725f70726f6f66a466303064"),
    ("error", "0000002781a54572726f7282a4636f6465a9746f6f5f6c61726765a76d657373616765a7746f6f20626967"),
    ("ping", "0000000c81a450696e6781a373657107"),
    ("register", "0000005881a75265717565737482a2696401a4626f647981a8526567697374657284a8686f73746e616d65a168a776657273696f6ea5302e312e30a66c6162656c7381a4726f6c65a3776562a5616464727391a831302e302e302e31"),
    ("run_command", "0000005881a75265717565737482a2696403a4626f647981aa52756e436f6d6d616e6484a36a6f6207a7636f6d6d616e64a96f70656e2d7a6f6e65a46172677392a3323138a83230323631323031aa74696d656f75745f6d73cd03e8"),
    ("set_checks", "0000009f81a75265717565737482a269640ba4626f647981a9536574436865636b7381a6636865636b739186a46e616d65a46c6f6164a7636f6d6d616e6491d9222f7573722f6c69622f6e6167696f732f706c7567696e732f636865636b5f6c6f6164ab696e74657276616c5f6d73cdea60b172657472795f696e74657276616c5f6d73cd2710ac6d61785f617474656d70747303aa74696d656f75745f6d73cd2710"),
    ("checks_set", "0000006081a8526573706f6e736582a269640ba4626f647981a9436865636b7353657482a8616363657074656491a46c6f6164a7726566757365649182a46e616d65a46469736ba6726561736f6eb56163636570745f636865636b73203d2066616c7365"),
    ("run", "0000005181a75265717565737482a2696404a4626f647981a352756e84a7636f6d6d616e64a96f70656e2d7a6f6e65a46172677391a3323138a6746172676574a87a6f6e653d323138aa74696d656f75745f6d73c0"),
    ("inventory_write", "0000004481a75265717565737482a2696405a4626f647981ae496e76656e746f7279577269746581a36f70739181a644656c65746582a46b696e64a47a6f6e65a36b6579a3323138"),
    ("command_output", "0000003a81a8526573706f6e736582a2696403a4626f647981ad436f6d6d616e644f757470757482a673747265616da6737464657272a464617461a2780a"),
    ("command_exit", "0000003f81a8526573706f6e736582a2696403a4626f647981ab436f6d6d616e644578697483a57374617465a26f6ba9657869745f636f646500a76d657373616765a0"),
    ("target_done", "0000005c81a8526573706f6e736582a2696404a4626f647981aa546172676574446f6e6585a46e6f6465a57765622d31a57374617465a46c6f7374a9657869745f636f6465c0ab6475726174696f6e5f6d7305a76d657373616765a4676f6e65"),
    ("query_nodes", "0000003281a75265717565737482a2696402a4626f647981aa51756572794e6f64657381a766696c7465727391a873746174653d7570"),
    ("nodes_page", "000000c381a8526573706f6e736582a2696402a4626f647981a54e6f64657382a56e6f646573918aa46e616d65a57765622d31a57374617465a27570a461646472a93132372e302e302e31ad66697273745f7365656e5f6d7301ac6c6173745f7365656e5f6d7302a776657273696f6ea5302e312e30a8686f73746e616d65a168a5616464727390a66c6162656c7380a6636865636b7385a26f6b00a77761726e696e6700a8637269746963616c00a7756e6b6e6f776e00a770656e64696e6700a4646f6e65c3"),
    ("check_results", "000000fc81a75265717565737482a2696403a4626f647981ac436865636b526573756c747381a7726573756c7473918ba46e616d65a46c6f6164a57374617465a77761726e696e67a66f7574707574ac4c4f4144205741524e494e47ab6c6f6e675f6f7574707574a0a870657266646174619187a56c6162656ca56c6f616431a576616c7565cb4016000000000000a3756f6da0a47761726ea135a463726974a23130a36d696ecb0000000000000000a36d6178c0a774696d655f6d73cd03e8ab6475726174696f6e5f6d7303aa6c6174656e63795f6d7301ac6d61785f617474656d70747303aa73746174655f74797065a4736f6674a7617474656d707401"),
    ("results_ack", "0000002b81a8526573706f6e736582a2696403a4626f647981aa526573756c747341636b81a8616363657074656401"),
    ("ack", "0000004d81a75265717565737482a2696404a4626f647981ab41636b6e6f776c6564676584a46e6f6465a57765622d31a5636865636ba46c6f6164a7636f6d6d656e74a56f6e206974a6737469636b79c3"),
    ("downtime", "0000005081a75265717565737482a2696405a4626f647981a8446f776e74696d6585a46e6f6465a57765622d31a5636865636bc0a873746172745f6d7301a6656e645f6d7302a7636f6d6d656e74a56d61696e74"),
    ("submit", "0000004981a75265717565737482a2696406a4626f647981a65375626d697484a46e6f6465a57765622d31a5636865636ba66261636b7570a57374617465a26f6ba66f7574707574a4646f6e65"),
    ("query_checks", "0000003f81a75265717565737482a2696407a4626f647981ab5175657279436865636b7382a46e6f6465a57765622d31a766696c7465727391a97374617465213d6f6b"),
    ("query_events", "0000003181a75265717565737482a2696408a4626f647981ab51756572794576656e747382a766696c7465727390a56c696d69740a"),
    ("done", "0000002681a8526573706f6e736582a2696408a4626f647981a4446f6e6581a76d657373616765a26f6b"),
    ("list_commands", "0000002281a75265717565737482a2696409a4626f647981ac4c697374436f6d6d616e647380"),
    ("command_names", "0000003481a8526573706f6e736582a2696409a4626f647981ac436f6d6d616e644e616d657381a56e616d657391a96f70656e2d7a6f6e65"),    ("query_problems", "0000003c81a75265717565737482a269640aa4626f647981ad517565727950726f626c656d7382a46e6f6465c0a766696c7465727391a96b696e643d6e6f6465"),
    ("problems", "000000a981a8526573706f6e736582a269640aa4626f647981a850726f626c656d7382a870726f626c656d73918aa46e6f6465a57765622d31a5636865636bc0a57374617465a4646f776eaa73746174655f74797065a468617264a873696e63655f6d7301a66f7574707574ae636c6f7365642062792070656572ac61636b6e6f776c6564676564c3ab696e5f646f776e74696d65c2a8666c617070696e67c2a57374616c65c2a4646f6e65c3"),
    ("unack", "0000004c81a75265717565737482a269640ba4626f647981ab41636b6e6f776c6564676585a46e6f6465a57765622d31a5636865636ba0a7636f6d6d656e74a0a6737469636b79c2a672656d6f7665c3"),
    ("cancel_job", "0000002381a75265717565737482a269640ca4626f647981a943616e63656c4a6f6281a2696407"),
    ("query_commands", "0000003781a75265717565737482a269640da4626f647981ad5175657279436f6d6d616e647382a46e6f6465a57765622d31a766696c7465727390"),
];

#[test]
fn golden_bytes() {
    let print = std::env::var_os("GOLDEN_PRINT").is_some();
    for (name, msg) in golden() {
        let hex = hex::encode(encode_frame(&msg, DEFAULT_MAX_FRAME).unwrap());
        if print {
            println!("    (\"{name}\", \"{hex}\"),");
            continue;
        }
        let want = GOLDEN
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no golden bytes for {name}"))
            .1;
        assert_eq!(hex, want, "wire bytes of {name} changed");
        // And the pinned bytes still decode to the message.
        let mut buf = BytesMut::from(&hex::decode(want).unwrap()[..]);
        let back = MessageCodec::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(back, msg);
    }
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[a-z0-9.-]{1,20}"]
}

fn arb_message() -> impl Strategy<Value = Message> {
    let labels = || prop::collection::btree_map("[a-z]{1,8}", arb_string(), 0..4);
    let node = (
        arb_string(),
        any::<i64>(),
        any::<i64>(),
        labels(),
        any::<u32>(),
    )
        .prop_map(|(name, f, l, labels, ok)| NodeView {
            name,
            state: NodeState::Down,
            addr: "::1".into(),
            first_seen_ms: f,
            last_seen_ms: l,
            version: "v".into(),
            addrs: vec!["a".into()],
            labels,
            checks: CheckCounts {
                ok,
                ..Default::default()
            },
            // A field added later is written too.
            ..NodeView::default()
        });
    prop_oneof![
        (any::<u32>(), arb_string(), arb_string(), arb_string()).prop_map(
            |(protocol, name, version, nonce)| {
                Message::Hello(Hello {
                    protocol,
                    role: PeerKind::Client,
                    name,
                    version,
                    nonce,
                })
            }
        ),
        (arb_string(), arb_string())
            .prop_map(|(nonce, server_id)| Message::Challenge(Challenge { nonce, server_id })),
        (arb_string(), arb_string())
            .prop_map(|(token_id, proof)| Message::Auth(Auth { token_id, proof })),
        any::<u64>().prop_map(|seq| Message::Ping(Ping { seq })),
        any::<u64>().prop_map(|seq| Message::Pong(Ping { seq })),
        arb_string().prop_map(|m| Message::Error(ErrorFrame::new(ErrorCode::Malformed, m))),
        (
            any::<u64>(),
            arb_string(),
            labels(),
            prop::collection::vec(arb_string(), 0..3)
        )
            .prop_map(|(id, hostname, labels, addrs)| Message::Request(Request {
                id,
                body: RequestBody::Register(Registration {
                    hostname,
                    version: "x".into(),
                    labels,
                    addrs,
                    checks: vec![],
                    commands: vec![],
                    takes_checks: false,
                })
            })),
        (any::<u64>(), prop::collection::vec(arb_string(), 0..4)).prop_map(|(id, filters)| {
            Message::Request(Request {
                id,
                body: RequestBody::QueryNodes(QueryNodes { filters }),
            })
        }),
        (
            any::<u64>(),
            prop::collection::vec(node, 0..3),
            any::<bool>()
        )
            .prop_map(|(id, nodes, done)| {
                Message::Response(Response {
                    id,
                    body: ResponseBody::Nodes(NodesPage { nodes, done }),
                })
            }),
    ]
}

proptest! {
    #[test]
    fn random_messages_round_trip(msgs in prop::collection::vec(arb_message(), 1..5)) {
        // Several frames back to back, fed in arbitrary pieces.
        let mut wire = Vec::new();
        for m in &msgs {
            wire.extend_from_slice(&encode_frame(m, DEFAULT_MAX_FRAME).unwrap());
        }
        let mut codec = MessageCodec::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in wire.chunks(7) {
            buf.extend_from_slice(chunk);
            while let Some(m) = codec.decode(&mut buf).unwrap() {
                out.push(m);
            }
        }
        prop_assert_eq!(out, msgs);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut codec = MessageCodec::new(1024);
        let mut buf = BytesMut::from(&bytes[..]);
        // Decode until it needs more input or fails; either is fine.
        for _ in 0..64 {
            match codec.decode(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
        let _ = codec.decode_eof(&mut buf);
    }

    #[test]
    fn random_bodies_are_errors_not_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        let mut buf = BytesMut::from(&frame[..]);
        let _ = MessageCodec::default().decode(&mut buf);
    }
}

#[test]
fn oversized_length_is_refused_before_allocating() {
    let mut codec = MessageCodec::new(4 * 1024 * 1024);
    let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 1, 2][..]);
    let cap_before = buf.capacity();
    match codec.decode(&mut buf) {
        Err(FrameError::TooLarge { len, max }) => {
            assert_eq!(len, u32::MAX as usize);
            assert_eq!(max, 4 * 1024 * 1024);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(
        buf.capacity(),
        cap_before,
        "no memory reserved for a refused frame"
    );
    // Exactly at the limit is fine (it just waits for the body).
    let mut buf = BytesMut::from(&(4u32 * 1024 * 1024).to_be_bytes()[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
}

#[test]
fn truncated_frames_wait_then_fail_at_eof() {
    let full = encode_frame(&Message::Ping(Ping { seq: 1 }), DEFAULT_MAX_FRAME).unwrap();
    for cut in 1..full.len() {
        let mut codec = MessageCodec::default();
        let mut buf = BytesMut::from(&full[..cut]);
        assert!(codec.decode(&mut buf).unwrap().is_none(), "cut at {cut}");
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(FrameError::Truncated)
        ));
    }
}

#[test]
fn garbage_body_is_malformed() {
    for body in [
        &b"\xc1"[..],
        b"GET / HTTP/1.1",
        b"\x81\xa5Hello\xc0",
        b"\x92\x01\x02",
    ] {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        let mut buf = BytesMut::from(&frame[..]);
        assert!(
            matches!(
                MessageCodec::default().decode(&mut buf),
                Err(FrameError::Malformed(_))
            ),
            "{body:?}"
        );
    }
}

#[test]
fn outgoing_frames_respect_the_limit() {
    let big = Message::Error(ErrorFrame::new(ErrorCode::Internal, "x".repeat(2000)));
    assert!(matches!(
        encode_frame(&big, 1000),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn requests_and_answers_of_unknown_kinds_keep_their_id() {
    use monit::net::frame::decode_body;
    // {"Request": {"id": 7, "body": {"QueryWidgets": {"colour": "blue"}}}}
    let req = b"\x81\xa7Request\x82\xa2id\x07\xa4body\x81\xacQueryWidgets\x81\xa6colour\xa4blue";
    match decode_body(req) {
        Err(FrameError::UnknownRequest { id, name }) => {
            assert_eq!((id, name.as_str()), (7, "QueryWidgets"))
        }
        other => panic!("expected UnknownRequest, got {other:?}"),
    }
    // A unit variant is a bare string.
    let resp = b"\x81\xa8Response\x82\xa2id\x09\xa4body\xa6Future";
    match decode_body(resp) {
        Err(FrameError::UnknownResponse { id, name }) => {
            assert_eq!((id, name.as_str()), (9, "Future"))
        }
        other => panic!("expected UnknownResponse, got {other:?}"),
    }
    // A known request with a broken body is still malformed, as is a
    // request without an id.
    for body in [
        &b"\x81\xa7Request\x82\xa2id\x07\xa4body\x81\xaaQueryNodes\x81\xa7filters\x07"[..],
        b"\x81\xa7Request\x81\xa4body\xa6Future",
    ] {
        assert!(
            matches!(decode_body(body), Err(FrameError::Malformed(_))),
            "{:?}",
            decode_body(body)
        );
    }
}

#[test]
fn an_error_code_from_a_newer_peer_still_decodes() {
    use monit::net::frame::decode_body;
    // {"Error": {"code": "rate_limited", "message": "slow down"}}
    let body = b"\x81\xa5Error\x82\xa4code\xacrate_limited\xa7message\xa9slow down";
    match decode_body(body) {
        Ok(Message::Error(e)) => {
            assert_eq!(e.code, ErrorCode::Other);
            assert_eq!(e.message, "slow down");
        }
        other => panic!("expected an Error frame, got {other:?}"),
    }
}

fn arb_text() -> impl Strategy<Value = String> {
    // Short, long (str8/str16 lengths) and anything-goes text.
    prop_oneof![
        ".{0,40}",
        "[a-z]{30,300}",
        (0usize..70_000).prop_map(|n| "x".repeat(n)),
    ]
}

fn arb_level() -> impl Strategy<Value = Level> {
    prop_oneof![
        Just(Level::Trace),
        Just(Level::Debug),
        Just(Level::Info),
        Just(Level::Warn),
        Just(Level::Error),
    ]
}

fn arb_log_line() -> impl Strategy<Value = LogLine> {
    (
        any::<i64>(),
        arb_string(),
        arb_level(),
        arb_string(),
        arb_text(),
    )
        .prop_map(|(time_ms, node, level, source, message)| LogLine {
            time_ms,
            node,
            level,
            source,
            message,
        })
}

#[allow(clippy::needless_update)] // see the `..NodeView::default()` below
fn arb_node() -> impl Strategy<Value = NodeView> {
    (
        arb_text(),
        prop_oneof![
            Just(NodeState::Up),
            Just(NodeState::Down),
            Just(NodeState::Pending)
        ],
        any::<i64>(),
        prop::collection::vec(arb_string(), 0..20),
        prop::collection::btree_map(arb_string(), arb_string(), 0..20),
        any::<[u32; 5]>(),
    )
        .prop_map(|(name, state, t, addrs, labels, c)| NodeView {
            name,
            state,
            addr: "127.0.0.1:1".into(),
            first_seen_ms: t,
            last_seen_ms: t.wrapping_neg(),
            version: "0.1.0".into(),
            hostname: "h".into(),
            addrs,
            labels,
            checks: CheckCounts {
                ok: c[0],
                warning: c[1],
                critical: c[2],
                unknown: c[3],
                pending: c[4],
            },
            // So a field added later does not touch this test: it is
            // written, read and compared all the same.
            ..NodeView::default()
        })
}

fn arb_bulk() -> impl Strategy<Value = Message> {
    let node = arb_node();
    prop_oneof![
        (
            any::<u64>(),
            prop::collection::vec(node, 0..20),
            any::<bool>()
        )
            .prop_map(|(id, nodes, done)| Message::Response(Response {
                id,
                body: ResponseBody::Nodes(NodesPage { nodes, done }),
            })),
        (
            any::<u64>(),
            prop::collection::vec(arb_log_line(), 0..20),
            any::<u64>(),
            any::<bool>()
        )
            .prop_map(|(id, lines, skipped, done)| Message::Response(Response {
                id,
                body: ResponseBody::LogLines(LogLines {
                    lines,
                    skipped,
                    done,
                }),
            })),
        (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            prop::collection::vec(arb_log_line(), 0..20)
        )
            .prop_map(|(id, stream, first_line, lines)| Message::Request(Request {
                id,
                body: RequestBody::LogBatch(LogBatch {
                    stream,
                    first_line,
                    lines,
                }),
            })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The hand-written bulk encoding is rmp-serde's, byte for byte, and
    /// reads back.
    #[test]
    fn bulk_messages_are_rmp_serde_bytes(msg in arb_bulk()) {
        let mut fast = Vec::new();
        prop_assert!(monit::net::bulk::encode(&msg, &mut fast));
        let reference = rmp_serde::to_vec_named(&msg).unwrap();
        prop_assert!(fast == reference, "bytes differ");
        prop_assert_eq!(monit::net::bulk::decode(&reference), Some(msg.clone()));
        // The link routes an answer by the id it peeks at.
        let peeked = monit::net::bulk::response_id(&reference);
        match &msg {
            Message::Response(r) => prop_assert_eq!(peeked, Some(r.id)),
            _ => prop_assert_eq!(peeked, None),
        }
        // A node page read in place holds the same nodes, for its own id only.
        if let Message::Response(Response { id, body: ResponseBody::Nodes(page) }) = &msg {
            let read = monit::net::bulk::nodes_page(&reference, *id).unwrap();
            let nodes: Vec<_> = read.nodes.iter().map(|n| n.to_view()).collect();
            prop_assert_eq!(&nodes, &page.nodes);
            prop_assert_eq!(read.done, page.done);
            // And prints the same JSON.
            let json = |nodes: Vec<monit::net::bulk::NodeRef>| {
                let mut w = monit::json_out::NodesJson::new(true);
                let mut out = Vec::new();
                nodes.iter().for_each(|n| w.node(&mut out, n));
                w.end(&mut out);
                out
            };
            let from_views = json(page.nodes.iter().map(Into::into).collect());
            prop_assert!(json(read.nodes) == from_views, "JSON differs");
            prop_assert!(monit::net::bulk::nodes_page(&reference, id.wrapping_add(1)).is_none());
        }
    }

    /// A node written from its pre-encoded fields is the same bytes as the
    /// node written whole.
    #[test]
    fn encoded_nodes_write_like_whole_nodes(n in arb_node()) {
        use monit::net::bulk::{EncodedNode, NodeRef, Writer};
        let mut whole = Vec::new();
        Writer(&mut whole).node(&NodeRef::from(&n));
        let mut parts = Vec::new();
        let encoded = EncodedNode::new(&NodeRef::from(&n));
        Writer(&mut parts).encoded_node(&encoded, &NodeRef::from(&n));
        prop_assert!(whole == parts, "bytes differ");
        let read = encoded.with_maps(NodeRef::from(&n));
        let labels: Vec<(&str, &str)> = read.labels.iter().collect();
        let want: Vec<(&str, &str)> = n.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        prop_assert_eq!(labels, want);
    }

    /// Cut anywhere, a bulk frame is an error, never a panic or a message.
    #[test]
    fn truncated_bulk_messages_are_errors(msg in arb_bulk(), cut in any::<prop::sample::Index>()) {
        let bytes = rmp_serde::to_vec_named(&msg).unwrap();
        let at = cut.index(bytes.len());
        prop_assert_eq!(monit::net::bulk::decode(&bytes[..at]), None);
        prop_assert!(monit::net::frame::decode_body(&bytes[..at]).is_err());
    }
}

#[test]
fn bulk_reading_takes_any_field_order_unknown_fields_and_int_widths() {
    // A newer sender: fields reordered, an extra field with a nested
    // value, `time_ms` as a 64-bit int, `skipped` as a u16.
    #[derive(serde::Serialize)]
    enum M {
        Response { body: B, id: u64 },
    }
    #[derive(serde::Serialize)]
    enum B {
        LogLines {
            future: Vec<BTreeMap<String, Vec<u8>>>,
            done: bool,
            lines: Vec<L>,
            skipped: u16,
        },
    }
    #[derive(serde::Serialize)]
    struct L {
        message: String,
        extra: Option<f64>,
        level: &'static str,
        source: String,
        node: String,
        time_ms: u64,
    }
    let m = M::Response {
        body: B::LogLines {
            future: vec![BTreeMap::from([("k".to_string(), vec![1, 2, 3])])],
            done: true,
            lines: vec![L {
                message: "hello".into(),
                extra: Some(1.5),
                level: "warn",
                source: "job:3".into(),
                node: "web-1".into(),
                time_ms: 1_764_042_600_123,
            }],
            skipped: 300,
        },
        id: 9,
    };
    let bytes = rmp_serde::to_vec_named(&m).unwrap();
    let want = Message::Response(Response {
        id: 9,
        body: ResponseBody::LogLines(LogLines {
            lines: vec![LogLine {
                time_ms: 1_764_042_600_123,
                node: "web-1".into(),
                level: Level::Warn,
                source: "job:3".into(),
                message: "hello".into(),
            }],
            skipped: 300,
            done: true,
        }),
    });
    assert_eq!(monit::net::bulk::decode(&bytes), Some(want.clone()));
    assert_eq!(monit::net::frame::decode_body(&bytes).unwrap(), want);
    // A repeated field is left to rmp-serde, which refuses it.
    let mut dup = rmp_serde::to_vec_named(&want).unwrap();
    let pos = dup.windows(4).position(|w| w == b"done").unwrap();
    dup[pos..pos + 4].copy_from_slice(b"skip");
    assert_eq!(monit::net::bulk::decode(&dup), None);
}

#[test]
fn node_labels_out_of_order_are_left_to_rmp_serde() {
    // A foreign sender may write labels in any order, even a key twice;
    // rmp-serde sorts them and keeps the last, and so the answer is the same.
    let node = NodeView {
        name: "n1".into(),
        addrs: vec!["127.0.0.1".into(), "::1".into()],
        labels: BTreeMap::from([("role".into(), "web".into()), ("zone".into(), "10".into())]),
        ..NodeView::default()
    };
    let msg = Message::Response(Response {
        id: 4,
        body: ResponseBody::Nodes(NodesPage {
            nodes: vec![node],
            done: true,
        }),
    });
    let sorted: &[u8] = b"\x82\xa4role\xa3web\xa4zone\xa210";
    let foreign: &[u8] = b"\x83\xa4zone\xa19\xa4role\xa3web\xa4zone\xa210";
    let bytes = rmp_serde::to_vec_named(&msg).unwrap();
    let at = bytes
        .windows(sorted.len())
        .position(|w| w == sorted)
        .unwrap();
    let bytes = [&bytes[..at], foreign, &bytes[at + sorted.len()..]].concat();
    assert!(monit::net::bulk::nodes_page(&bytes, 4).is_none());
    assert_eq!(monit::net::frame::decode_body(&bytes).unwrap(), msg);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A body encoded once and framed per request is the same frame as the
    /// whole message encoded.
    #[test]
    fn encoded_request_bodies_frame_like_whole_messages(msg in prop_oneof![arb_bulk(), arb_message()]) {
        if let Message::Request(Request { id, body }) = &msg {
            let encoded = monit::net::bulk::encode_request_body(body).unwrap();
            let frame = monit::net::frame::seal(
                monit::net::frame::request_frame(*id, &encoded),
                DEFAULT_MAX_FRAME,
            )
            .unwrap();
            prop_assert_eq!(frame, encode_frame(&msg, DEFAULT_MAX_FRAME).unwrap());
        }
    }
}
