//! Bad input against a real configd: each gets an Error frame where
//! possible and a disconnect, and a well-behaved client is served
//! meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{stderr, Fleet};
use monit::auth::Token;
use monit::net::frame::encode_frame;
use monit::net::handshake::{client_handshake, HandshakeError};
use monit::net::proto::*;
use monit::net::{Connection, Stream};
use tokio::io::AsyncWriteExt;

/// Reads until an Error frame or EOF; returns the error, if one came.
async fn error_then_close(stream: Stream, limit: Duration) -> Option<ErrorFrame> {
    let mut conn = Connection::new(stream, DEFAULT_MAX_FRAME);
    let deadline = Instant::now() + limit;
    let mut error = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, conn.read()).await {
            Err(_) => panic!("connection still open after {limit:?}"),
            Ok(Ok(Some(Message::Error(e)))) => error = Some(e),
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) | Ok(Err(_)) => return error,
        }
    }
}

fn assert_served(fleet: &Fleet) {
    let out = fleet.cli(&["query", "nodes", "-o", "json"]);
    assert!(
        out.status.success(),
        "well-behaved client not served: {}",
        stderr(&out)
    );
}

/// Raw bytes inside TLS (what a peer that got past TLS can send).
async fn send_raw(fleet: &Fleet, bytes: &[u8]) -> Stream {
    let mut s = fleet.tls().await;
    s.write_all(bytes).await.unwrap();
    s.flush().await.unwrap();
    s
}

fn frame(msg: &Message) -> Vec<u8> {
    encode_frame(msg, DEFAULT_MAX_FRAME).unwrap().to_vec()
}

fn hello(protocol: u32, role: PeerKind, name: &str) -> Message {
    Message::Hello(Hello {
        protocol,
        role,
        name: name.into(),
        version: "test".into(),
        nonce: "00".repeat(32),
    })
}

#[tokio::test]
async fn garbage_and_oversized_frames_are_refused() {
    let fleet = Fleet::start();
    // An HTTP request reads as a ~1.2 GB length: refused before allocating.
    let s = send_raw(&fleet, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let e = error_then_close(s, Duration::from_secs(3)).await.unwrap();
    assert_eq!(e.code, ErrorCode::TooLarge, "{e}");
    assert_served(&fleet);
    // A declared 5 MiB frame, no body.
    let s = send_raw(&fleet, &(5u32 * 1024 * 1024).to_be_bytes()).await;
    let e = error_then_close(s, Duration::from_secs(3)).await.unwrap();
    assert_eq!(e.code, ErrorCode::TooLarge);
    assert!(e.message.contains("limit"), "{e}");
    // A small frame of bytes that are not MessagePack.
    let s = send_raw(&fleet, &[0, 0, 0, 4, 0xc1, 0xc1, 0xff, 0x00]).await;
    let e = error_then_close(s, Duration::from_secs(3)).await.unwrap();
    assert_eq!(e.code, ErrorCode::Malformed);
    // Valid MessagePack, not a message.
    let s = send_raw(&fleet, &[0, 0, 0, 3, 0x92, 0x01, 0x02]).await;
    let e = error_then_close(s, Duration::from_secs(3)).await.unwrap();
    assert_eq!(e.code, ErrorCode::Malformed);
    assert_served(&fleet);
    // configd logged one line for each and kept running.
    let log = fleet.configd.as_ref().unwrap().log();
    assert!(log.matches("handshake failed").count() >= 4, "{log}");
}

#[tokio::test]
async fn half_a_frame_then_silence_times_out() {
    let fleet = Fleet::start();
    let started = Instant::now();
    let s = send_raw(&fleet, &[0, 0, 0, 100, 1, 2, 3]).await;
    // Served while the slow peer hangs on.
    assert_served(&fleet);
    let e = error_then_close(s, Duration::from_secs(8)).await.unwrap();
    assert_eq!(e.code, ErrorCode::Timeout, "{e}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(4500) && took < Duration::from_secs(7),
        "{took:?}"
    );
    // A peer that completes TLS and says nothing at all: the same.
    let s = fleet.tls().await;
    let e = error_then_close(s, Duration::from_secs(8)).await.unwrap();
    assert_eq!(e.code, ErrorCode::Timeout);
    assert_served(&fleet);
}

#[tokio::test]
async fn nothing_but_the_handshake_before_welcome() {
    let fleet = Fleet::start();
    // A request as the first frame.
    let query = Message::Request(Request {
        id: 1,
        body: RequestBody::QueryNodes(QueryNodes::default()),
    });
    let s = send_raw(&fleet, &frame(&query)).await;
    let e = error_then_close(s, Duration::from_secs(3)).await.unwrap();
    assert_eq!(e.code, ErrorCode::Protocol);
    assert!(e.message.contains("expected Hello"), "{e}");
    // A request in place of Auth.
    let mut bytes = frame(&hello(PROTOCOL_VERSION, PeerKind::Client, "x"));
    bytes.extend(frame(&query));
    let s = send_raw(&fleet, &bytes).await;
    let e = error_then_close(s, Duration::from_secs(3)).await.unwrap();
    assert_eq!(e.code, ErrorCode::Protocol);
    assert!(e.message.contains("expected Auth"), "{e}");
    // An unknown protocol version.
    let s = send_raw(&fleet, &frame(&hello(99, PeerKind::Node, "web-1"))).await;
    let e = error_then_close(s, Duration::from_secs(3)).await.unwrap();
    assert_eq!(e.code, ErrorCode::Protocol);
    assert!(
        e.message.contains("version 99") && e.message.contains("version 2"),
        "{e}"
    );
    assert_served(&fleet);
}

async fn handshake(
    fleet: &Fleet,
    kind: PeerKind,
    name: &str,
    token: &Token,
) -> Result<(Connection, Welcome), HandshakeError> {
    let stream = fleet.tls().await;
    let binding = stream.channel_binding();
    let mut conn = Connection::new(stream, DEFAULT_MAX_FRAME);
    let w = client_handshake(&mut conn, kind, name, token, &binding).await?;
    Ok((conn, w))
}

fn read_token(path: &std::path::Path) -> Token {
    Token::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn refusal(r: Result<(Connection, Welcome), HandshakeError>) -> ErrorFrame {
    match r {
        Err(HandshakeError::Refused(e)) => e,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got Welcome"),
    }
}

#[tokio::test]
async fn identities_are_enforced() {
    let fleet = Fleet::start();
    let web1 = read_token(&fleet.token("web-1", "node"));
    let viewer = read_token(&fleet.viewer);
    // A node token cannot register under another name.
    let e = refusal(handshake(&fleet, PeerKind::Node, "web-2", &web1).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(e.message.contains("belongs to node `web-1`"), "{e}");
    // A viewer token cannot register as a node.
    let e = refusal(handshake(&fleet, PeerKind::Node, "viewer", &viewer).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(e.message.contains("cannot register as a node"), "{e}");
    // A node token is not a client token.
    let e = refusal(handshake(&fleet, PeerKind::Client, "web-1", &web1).await);
    assert_eq!(e.code, ErrorCode::Forbidden);
    // A wrong secret, an unknown ID.
    let wrong = Token {
        id: web1.id.clone(),
        secret: "00".repeat(32),
    };
    let e = refusal(handshake(&fleet, PeerKind::Node, "web-1", &wrong).await);
    assert_eq!(e.code, ErrorCode::Auth);
    assert!(e.message.contains("unknown token or wrong secret"), "{e}");
    // An unknown ID gets the very same answer (but for the ID it names).
    let unknown = Token::generate();
    let e2 = refusal(handshake(&fleet, PeerKind::Node, "web-1", &unknown).await);
    assert_eq!(e2.code, ErrorCode::Auth);
    assert_eq!(e2.message.replace(&unknown.id, &web1.id), e.message);
    // A viewer that authenticated as a client cannot register a node.
    let (mut conn, welcome) = handshake(&fleet, PeerKind::Client, "script", &viewer)
        .await
        .unwrap();
    assert_eq!(welcome.role, Role::Viewer);
    conn.send(&Message::Request(Request {
        id: 9,
        body: RequestBody::Register(Registration::default()),
    }))
    .await
    .unwrap();
    match conn.read().await.unwrap() {
        Some(Message::Response(Response {
            id: 9,
            body: ResponseBody::Error(e),
        })) => {
            assert_eq!(e.code, ErrorCode::Forbidden)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A handshake message after Welcome ends the connection.
    conn.send(&hello(PROTOCOL_VERSION, PeerKind::Client, "again"))
        .await
        .unwrap();
    let e = error_then_close(conn_into_stream(conn), Duration::from_secs(3)).await;
    assert_eq!(e.map(|e| e.code), Some(ErrorCode::Protocol));
    assert!(fleet.nodes().is_empty(), "nothing registered");
}

fn conn_into_stream(conn: Connection) -> Stream {
    // No frames are buffered at this point, so nothing is lost.
    conn.into_inner()
}

#[test]
fn noded_with_a_foreign_name_is_refused_and_keeps_trying() {
    let fleet = Fleet::start();
    let web1 = fleet.token("web-1", "node");
    let mut impostor = fleet.node_with_token("web-9", &web1, &[]);
    common::wait_for(
        Duration::from_secs(10),
        "the refusal in noded's log",
        || {
            impostor
                .log()
                .contains("belongs to node `web-1`")
                .then_some(())
        },
    );
    assert!(
        impostor.child.try_wait().unwrap().is_none(),
        "noded keeps retrying"
    );
    assert!(fleet.nodes().is_empty());
}

#[test]
fn revoked_and_wrong_tokens_exit_3() {
    let fleet = Fleet::start();
    let op = fleet.token("ops", "operator");
    let run = |token: &std::path::Path| {
        common::command("monit-cli", fleet.path())
            .args(["--server", &fleet.addr, "--token-file"])
            .arg(token)
            .args(["query", "nodes"])
            .output()
            .unwrap()
    };
    assert!(run(&op).status.success());
    let id = std::fs::read_to_string(&op)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let out = common::command("monit-configd", fleet.path())
        .arg("--data-dir")
        .arg(&fleet.data_dir)
        .args(["token", "revoke", &id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The running configd sees the revocation at the next handshake.
    let out = run(&op);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    // token list shows it revoked, and never a secret.
    let out = common::command("monit-configd", fleet.path())
        .arg("--data-dir")
        .arg(&fleet.data_dir)
        .args(["token", "list", "-o", "json"])
        .output()
        .unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let entry = list.iter().find(|t| t["id"] == id.as_str()).unwrap();
    assert!(entry["revoked"].is_string());
    let secret = std::fs::read_to_string(&op)
        .unwrap()
        .trim()
        .split('.')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&secret));
    // Filtered: the revoked ones, then a field tokens do not have (usage, 2).
    let list_with = |filter: &str| {
        common::command("monit-configd", fleet.path())
            .arg("--data-dir")
            .arg(&fleet.data_dir)
            .args(["token", "list", "-o", "json", "--filter", filter])
            .output()
            .unwrap()
    };
    let out = list_with("revoked!=");
    let revoked: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["id"], id.as_str());
    let out = list_with("revoked=");
    let live: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(live.len(), list.len() - 1);
    let out = list_with("rol=node");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no field `rol` in tokens"),
        "{}",
        stderr(&out)
    );
    // A token file others can read is refused, with what to do.
    let loose = fleet.path().join("loose.token");
    std::fs::copy(&fleet.viewer, &loose).unwrap();
    std::fs::set_permissions(&loose, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = run(&loose);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
}

#[test]
fn unsafe_token_files_stop_the_daemons() {
    let mut fleet = Fleet::start();
    let token = fleet.token("web-1", "node");
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let mut node = fleet.node_with_token("web-1", &token, &[]);
    let status = node.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(1));
    assert!(node.log().contains("chmod 600"), "{}", node.log());
    // configd refuses a tokens file others can read.
    fleet.configd().kill9();
    let tokens = fleet.data_dir.join("tokens.toml");
    std::fs::set_permissions(&tokens, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = common::command("monit-configd", fleet.path())
        .arg("--data-dir")
        .arg(&fleet.data_dir)
        .args(["--listen", "127.0.0.1:0", "run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("tokens.toml") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn bad_config_files_stop_startup_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "listen = \"127.0.0.1:0\"\nlisen = \"x\"\n",
            "line 2",
            "lisen",
        ),
        (
            "heartbeat_interval = \"often\"\n",
            "line 1",
            "invalid duration",
        ),
        (
            "listen = \"127.0.0.1:0\"\n[log]\nlevel = \"chatty\"\n",
            "line 3",
            "chatty",
        ),
    ];
    for (text, line, key) in cases {
        let path = dir.path().join("configd.toml");
        std::fs::write(&path, text).unwrap();
        let out = common::command("monit-configd", dir.path())
            .arg("--config")
            .arg(&path)
            .arg("run")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("configd.toml") && err.contains(line) && err.contains(key),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let path = dir.path().join("noded.toml");
    std::fs::write(&path, "name = \"n\"\ntoken_file = \"t\"\nchecks = 1\n").unwrap();
    let out = common::command("monit-noded", dir.path())
        .arg("--config")
        .arg(&path)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("noded.toml") && err.contains("line 3") && err.contains("checks"),
        "{err}"
    );
    // A missing explicit config file is an error too.
    let out = common::command("monit-noded", dir.path())
        .args(["--config", "/nonexistent.toml", "run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent.toml"));
}

#[tokio::test]
async fn connection_and_handshake_limits_answer_busy() {
    let fleet = Fleet::start_with("max_connections = 6\nmax_handshakes = 2\n");
    // Two peers that send a TLS hello and then nothing fill the handshake
    // slots: a node the general one, an operator the one kept for operators.
    let a = common::stalled_tls_hello("127.0.0.2", &fleet.addr, monit::net::tls::ALPN_NODE).await;
    let b = common::stalled_tls_hello("127.0.0.3", &fleet.addr, monit::net::tls::ALPN_CLIENT).await;
    // Once configd has read both hellos (a moment on a loaded machine), a
    // third peer is told `busy`.
    // A try that got a slot (configd had not read a hello yet) keeps it:
    // dropping it would free the slot for the next try.
    let started = Instant::now();
    let mut holding = Vec::new();
    let e = loop {
        let c = common::tls_from("127.0.0.4", &fleet.addr, fleet.fingerprint()).await;
        let mut conn = Connection::new(c, DEFAULT_MAX_FRAME);
        if let Ok(Ok(Some(Message::Error(e)))) =
            tokio::time::timeout(Duration::from_secs(1), conn.read()).await
        {
            break e;
        }
        holding.push(conn);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never told busy"
        );
    };
    assert_eq!(e.code, ErrorCode::Busy, "{e}");
    drop((a, b, holding));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_served(&fleet);
    // Fill every connection slot with authenticated clients.
    let viewer = read_token(&fleet.viewer);
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(
            handshake(&fleet, PeerKind::Client, "hold", &viewer)
                .await
                .unwrap(),
        );
    }
    let s = fleet.tls().await;
    let e = error_then_close(s, Duration::from_secs(3)).await.unwrap();
    assert_eq!(e.code, ErrorCode::Busy);
    assert!(e.message.contains("connection limit"), "{e}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_served(&fleet);
}

#[tokio::test]
async fn a_flood_of_bad_peers_leaves_memory_bounded() {
    let mut fleet = Fleet::start();
    // 64 peers past TLS (from four addresses, each under its failure
    // budget) each declare a 4 MiB frame and send 256 KiB of it: refused at
    // once (nothing that large before Welcome); 200 more send garbage
    // instead of TLS, from another address.
    let mut refused = Vec::new();
    let mut body = (4u32 * 1024 * 1024).to_be_bytes().to_vec();
    body.extend(vec![0x90u8; 256 * 1024]);
    for i in 0..64 {
        let src = format!("127.0.0.{}", 10 + i % 4);
        let mut s = common::tls_from(&src, &fleet.addr, fleet.fingerprint()).await;
        let _ = s.write_all(&body).await;
        refused.push(s);
    }
    let mut junk = Vec::new();
    for i in 0..200u32 {
        junk.push(tokio::spawn(send_raw_owned(
            fleet.addr.clone(),
            i.to_le_bytes().repeat(64),
        )));
    }
    for j in junk {
        let _ = j.await;
    }
    assert_served(&fleet);
    let pid = fleet.configd().pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(rss_kb < 64 * 1024, "configd RSS {rss_kb} KiB");
    for s in refused {
        let e = error_then_close(s, Duration::from_secs(3)).await;
        assert_eq!(e.map(|e| e.code), Some(ErrorCode::TooLarge));
    }
    assert_served(&fleet);
}

async fn send_raw_owned(addr: String, bytes: Vec<u8>) {
    if let Ok(mut s) = common::tcp_from("127.0.0.2", &addr).await {
        let _ = s.write_all(&bytes).await;
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            tokio::io::AsyncReadExt::read(&mut s, &mut [0u8; 64]),
        )
        .await;
    }
}

/// A request from a newer peer, of a kind this configd does not know.
#[derive(serde::Serialize)]
enum FutureMessage {
    Request(FutureRequest),
}

#[derive(serde::Serialize)]
struct FutureRequest {
    id: u64,
    body: FutureBody,
}

#[derive(serde::Serialize)]
enum FutureBody {
    QueryWidgets { colour: String },
}

#[tokio::test]
async fn an_unknown_request_is_refused_alone_and_the_link_stays() {
    let fleet = Fleet::start();
    let viewer = read_token(&fleet.viewer);
    let (conn, _) = handshake(&fleet, PeerKind::Client, "newer-cli", &viewer)
        .await
        .unwrap();
    let mut stream = conn_into_stream(conn);
    let body = rmp_serde::to_vec_named(&FutureMessage::Request(FutureRequest {
        id: 10,
        body: FutureBody::QueryWidgets {
            colour: "blue".into(),
        },
    }))
    .unwrap();
    let mut raw = (body.len() as u32).to_be_bytes().to_vec();
    raw.extend_from_slice(&body);
    stream.write_all(&raw).await.unwrap();
    let mut conn = Connection::new(stream, DEFAULT_MAX_FRAME);
    match conn.read().await.unwrap() {
        Some(Message::Response(Response {
            id: 10,
            body: ResponseBody::Error(e),
        })) => {
            assert_eq!(e.code, ErrorCode::BadRequest);
            assert!(e.message.contains("`QueryWidgets`"), "{e}");
            assert!(e.message.contains("upgrade"), "{e}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The same connection still answers a request it knows.
    conn.send(&Message::Request(Request {
        id: 11,
        body: RequestBody::QueryNodes(QueryNodes { filters: vec![] }),
    }))
    .await
    .unwrap();
    match conn.read().await.unwrap() {
        Some(Message::Response(Response {
            id: 11,
            body: ResponseBody::Nodes(p),
        })) => assert!(p.done),
        other => panic!("expected the nodes page, got {other:?}"),
    }
    assert_served(&fleet);
}
