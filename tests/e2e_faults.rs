//! Reliability under faults, with real processes on 127.0.0.1 (issue 17):
//! commands do not outlive their agent, open requests are bounded per
//! connection, operators get in during a reconnect storm, and an error
//! frame reaches a peer that pipelined more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{stderr, wait_for, Fleet};

/// Processes whose command line holds `needle` (excluding ourselves).
fn processes_with(needle: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // Zombies have an empty cmdline: they are gone in all but name.
        if line.contains(needle) && pid != std::process::id() as i32 {
            found.push(pid);
        }
    }
    found
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// kill -9 of noded while a command runs: the command's leader dies with
/// it (within 2 s, no restart needed) and the job's target is `lost`; a
/// background child of a script, which escapes that, is killed by the
/// next noded at start, which logs it.
#[test]
fn commands_do_not_outlive_a_killed_agent() {
    let fleet = Fleet::start();
    let extra = "
[[command]]
name = \"nap\"
argv = [\"/bin/sleep\", \"117.25\"]
timeout = \"5m\"

[[command]]
name = \"nap-in-script\"
argv = [\"/bin/sh\", \"-c\", \"/bin/sleep 118.25 & wait\"]
timeout = \"5m\"
";
    let mut node = fleet.node_with("web-1", &[], extra);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    let op = fleet.token("ops", "operator");
    let mut run = fleet.cli_spawn_as(&op, "run-nap", &["run", "nap", "--target", "node=web-1"]);
    wait_for(Duration::from_secs(10), "the sleep to start", || {
        (!processes_with("117.25").is_empty()).then_some(())
    });
    node.kill9();
    wait_for(
        Duration::from_secs(2),
        "the command to die with noded",
        || processes_with("117.25").is_empty().then_some(()),
    );
    let status = run.wait_exit(Duration::from_secs(10));
    assert!(!status.success());
    let jobs = json(&fleet.cli(&["query", "jobs", "-o", "json"]));
    let target = &jobs[0]["targets"][0];
    assert_eq!(target["state"], "lost", "{jobs}");

    // A script's background child is not the group leader.
    let mut node = fleet.node_with("web-1", &[], extra);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    let mut run = fleet.cli_spawn_as(
        &op,
        "run-script",
        &["run", "nap-in-script", "--target", "node=web-1"],
    );
    wait_for(
        Duration::from_secs(10),
        "the script's sleep to start",
        || (!processes_with("118.25").is_empty()).then_some(()),
    );
    node.kill9();
    let _ = run.wait_exit(Duration::from_secs(10));
    let node = fleet.node_with("web-1", &[], extra);
    wait_for(Duration::from_secs(10), "the leftover to be killed", || {
        processes_with("118.25").is_empty().then_some(())
    });
    wait_for(Duration::from_secs(5), "the log line", || {
        node.log()
            .contains("killed the process group of a command a previous noded left running")
            .then_some(())
    });
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Opens `n` follows on one connection; how many were refused `busy`
/// (answered within `wait`; an open follow says nothing), the refusal
/// messages seen, and the open ones.
async fn follow_many(
    client: &monit::net::client::Client,
    n: usize,
    wait: Duration,
) -> (usize, Vec<String>, Vec<monit::net::link::Responses>) {
    use monit::net::proto::{RequestBody, ResponseBody, SubscribeLogs};
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let body = RequestBody::SubscribeLogs(SubscribeLogs {
            follow: true,
            grep: Some("never-matches-anything".into()),
            ..Default::default()
        });
        streams.push(client.request(body).await.unwrap());
    }
    let mut refused = 0;
    let mut messages = Vec::new();
    let mut open = Vec::new();
    let answers = futures::future::join_all(streams.into_iter().map(|mut s| async move {
        let first = tokio::time::timeout(wait, s.next()).await;
        (first, s)
    }))
    .await;
    for (first, s) in answers {
        match first {
            Ok(Some(Ok(ResponseBody::Error(e)))) => {
                refused += 1;
                if messages.len() < 3 && !messages.contains(&e.message) {
                    messages.push(e.message.clone());
                }
            }
            _ => open.push(s),
        }
    }
    (refused, messages, open)
}

/// Open requests are capped per connection and per token; memory stays
/// small under 20,000 follows on one connection and comes back after.
#[test]
fn open_requests_are_bounded_per_connection_and_token() {
    let mut fleet = Fleet::start_with(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"2s\"\nmax_open_requests = 256\nmax_open_requests_per_token = 400\n",
    );
    let pid = fleet.configd().pid();
    std::thread::sleep(Duration::from_millis(500));
    let start = rss_kib(pid);
    let token =
        monit::auth::Token::parse(&std::fs::read_to_string(&fleet.viewer).unwrap()).unwrap();
    let endpoint = fleet.endpoint(&token);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let a = monit::net::client::Client::connect(&endpoint, "many")
            .await
            .unwrap();
        let (refused, messages, open_a) = follow_many(&a, 20_000, Duration::from_secs(8)).await;
        assert_eq!(refused, 20_000 - 256, "{messages:?}");
        assert!(
            messages[0].contains("on this connection (at most 256)"),
            "{messages:?}"
        );
        assert_eq!(open_a.len(), 256);
        let peak = rss_kib(pid);
        assert!(peak < 64 * 1024, "configd RSS {peak} KiB");
        // A second connection of the same token: the token's budget.
        let b = monit::net::client::Client::connect(&endpoint, "more")
            .await
            .unwrap();
        let (refused, messages, open_b) = follow_many(&b, 200, Duration::from_secs(3)).await;
        assert_eq!(refused, 200 - (400 - 256), "{messages:?}");
        assert!(messages[0].contains("for this token"), "{messages:?}");
        // Another token is not affected.
        let other = fleet.token("other", "viewer");
        let other = monit::auth::Token::parse(&std::fs::read_to_string(other).unwrap()).unwrap();
        let c = monit::net::client::Client::connect(&fleet.endpoint(&other), "other")
            .await
            .unwrap();
        let (refused, _, open_c) = follow_many(&c, 10, Duration::from_secs(2)).await;
        assert_eq!(refused, 0);
        drop((open_a, open_b, open_c, a, b, c));
    });
    let out = fleet.cli(&["query", "nodes", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(Duration::from_secs(10), "memory to come back", || {
        (rss_kib(pid) < start + 10 * 1024).then_some(())
    });
}

/// A malformed frame after many pipelined requests, with more bytes still
/// coming: the error frame naming the problem arrives before the close
/// (configd shuts its side and drains, instead of a reset that would
/// destroy it).
#[test]
fn the_reason_for_a_close_arrives() {
    use monit::net::proto::*;
    use tokio::io::AsyncWriteExt;
    let fleet = Fleet::start();
    let token =
        monit::auth::Token::parse(&std::fs::read_to_string(&fleet.viewer).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for round in 0..3 {
            let dialed =
                monit::net::dial::dial(&fleet.endpoint(&token), PeerKind::Client, "pipeliner")
                    .await
                    .unwrap();
            let stream = dialed.conn.into_inner();
            let mut bytes = Vec::new();
            for id in 1..=2000u64 {
                let msg = Message::Request(Request {
                    id,
                    body: RequestBody::QueryNodes(QueryNodes::default()),
                });
                bytes.extend_from_slice(
                    &monit::net::frame::encode_frame(&msg, DEFAULT_MAX_FRAME).unwrap(),
                );
            }
            bytes.extend_from_slice(&[0, 0, 0, 4, 0xc1, 0xc1, 0xc1, 0xc1]);
            bytes.extend(vec![0x55u8; 512 * 1024]);
            // Written while reading, so neither side stalls on a full buffer.
            let (mut rd, mut wr) = tokio::io::split(stream);
            let writer = tokio::spawn(async move {
                let _ = wr.write_all(&bytes).await;
                let _ = wr.flush().await;
                wr
            });
            let mut conn = monit::net::Connection::new(
                tokio::io::join(&mut rd, tokio::io::sink()),
                DEFAULT_MAX_FRAME,
            );
            let mut error = None;
            let mut answers = 0;
            loop {
                match tokio::time::timeout(Duration::from_secs(10), conn.read()).await {
                    Ok(Ok(Some(Message::Error(e)))) => error = Some(e),
                    Ok(Ok(Some(_))) => answers += 1,
                    Ok(Ok(None)) | Ok(Err(_)) => break,
                    Err(_) => panic!("no close within 10 s"),
                }
            }
            let e = error.unwrap_or_else(|| {
                panic!("round {round}: closed without a reason after {answers} answers")
            });
            assert_eq!(e.code, ErrorCode::Malformed, "{e}");
            drop(conn);
            let _ = writer.await;
        }
    });
}

/// 3,000 simulated nodes connecting at once (from twelve addresses) fill
/// the handshake slots, but the slots kept for operators let 20 of 20
/// `monit-cli query nodes` through during the storm.
#[test]
fn operators_get_in_during_a_reconnect_storm() {
    use monit::net::dial::Endpoint;
    use monit::net::handshake::{client_handshake, HandshakeError};
    use monit::net::proto::{ErrorCode, PeerKind, DEFAULT_MAX_FRAME};
    use monit::net::tls::secure;
    use monit::net::Connection;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const NODES: usize = 3000;
    let fleet = Fleet::start_with(
        "heartbeat_interval = \"1s\"\nnode_dead_after = \"10s\"\nmax_handshakes = 64\nmax_handshakes_per_address = 64\n",
    );
    let tokens = monit::auth::TokensFile::edit(&fleet.data_dir.join("tokens.toml"), |f| {
        (0..NODES)
            .map(|i| f.add(&format!("storm-{i:04}"), monit::net::proto::Role::Node))
            .collect::<Result<Vec<_>, _>>()
    })
    .unwrap();
    let fp = fleet.fingerprint();
    let addr = fleet.addr.clone();
    let busy = Arc::new(AtomicUsize::new(0));
    let registered = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm = {
        let (busy, registered, stop) = (busy.clone(), registered.clone(), stop.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut tasks = Vec::new();
                for (i, token) in tokens.into_iter().enumerate() {
                    let endpoint = Endpoint {
                        server: addr.clone(),
                        token,
                        trust: monit::net::tls::Trust::Pinned(fp),
                    };
                    let src = format!("127.0.0.{}", 2 + i % 12);
                    let (busy, registered, stop) = (busy.clone(), registered.clone(), stop.clone());
                    tasks.push(tokio::spawn(async move {
                        let name = format!("storm-{i:04}");
                        while !stop.load(Ordering::Relaxed) {
                            // From this node's own address: TLS, then the handshake.
                            let Ok(tcp) = common::tcp_from(&src, &endpoint.server).await else {
                                continue;
                            };
                            let Ok(secured) = secure(
                                tcp,
                                &endpoint.server,
                                &endpoint.trust,
                                monit::net::tls::ALPN_NODE,
                            )
                            .await
                            else {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            };
                            let binding = secured.stream.channel_binding();
                            let mut conn = Connection::new(secured.stream, DEFAULT_MAX_FRAME);
                            match client_handshake(
                                &mut conn,
                                PeerKind::Node,
                                &name,
                                &endpoint.token,
                                &binding,
                            )
                            .await
                            {
                                Ok(_) => {
                                    registered.fetch_add(1, Ordering::Relaxed);
                                    // Hold the connection until the storm ends.
                                    while !stop.load(Ordering::Relaxed) {
                                        tokio::time::sleep(Duration::from_millis(100)).await;
                                    }
                                    return;
                                }
                                Err(HandshakeError::Refused(r)) if r.code == ErrorCode::Busy => {
                                    busy.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(_) => {}
                            }
                            let jitter = rand::random::<u64>() % 200;
                            tokio::time::sleep(Duration::from_millis(50 + jitter)).await;
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            });
        })
    };
    // Queries while the storm runs.
    let mut ok = 0;
    for _ in 0..20 {
        let out = fleet.cli(&["query", "nodes", "-o", "json"]);
        if out.status.success() {
            ok += 1;
        } else {
            eprintln!("query failed: {}", stderr(&out));
        }
    }
    let seen_busy = busy.load(std::sync::atomic::Ordering::Relaxed);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    storm.join().unwrap();
    let done = registered.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("storm: {done} nodes in, {seen_busy} turned away busy");
    assert_eq!(ok, 20, "{ok} of 20 queries during the storm");
    assert!(seen_busy > 0, "the storm never filled the slots");
}
