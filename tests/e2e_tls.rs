//! Secure transport, end to end with real processes on 127.0.0.1 (issue
//! 13): a node refuses a server it cannot verify (another certificate, or
//! a valid one without its token), the wire shows nothing in clear, a
//! relayed handshake fails, tokens at rest are keys only, one address
//! cannot lock others out, revocation is immediate, plaintext only when
//! asked for on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{stderr, wait_for, Fleet, Proc};
use monit::auth::{client_proof, random_nonce, Token};
use monit::net::proto::*;
use monit::net::tls::{CertPaths, Fingerprint, ServerTls};
use monit::net::{Connection, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A `[[command]]` that would leave `marker` behind if it ever ran, and
/// one named like the ops pack's, whose output we look for on the wire.
fn commands(dir: &Path) -> String {
    format!(
        r#"
[[command]]
name = "touch-marker"
argv = ["/usr/bin/touch", "{marker}"]

[[command]]
name = "open-zone"
description = "prints a recognisable line"
argv = ["/bin/echo", "zone-opened-{{zone}}-output-line"]
args = [{{ name = "zone", type = "int", min = 1, max = 99999 }}]
"#,
        marker = dir.join("marker").display()
    )
}

/// Starts monit-noded for `name` dialling `server`, with `extra` noded.toml
/// keys (before `[labels]`) and the node's commands.
fn node_at(fleet: &Fleet, name: &str, server: &str, extra: &str) -> Proc {
    let token = fleet.node_token(name);
    let config = fleet.path().join(format!("{name}.at.noded.toml"));
    let state = fleet.path().join(format!("{name}.at.state"));
    std::fs::write(
        &config,
        format!(
            "name = \"{name}\"\nserver = \"{server}\"\ntoken_file = \"{}\"\npid_file = \"{}\"\nspool_dir = \"{}\"\n{extra}\n{}",
            token.display(),
            state.join("noded.pid").display(),
            state.join("spool").display(),
            commands(fleet.path())
        ),
    )
    .unwrap();
    let mut cmd = common::command("monit-noded", fleet.path());
    cmd.arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(Stdio::null());
    Proc::spawn(&format!("noded-{name}"), cmd, fleet.path())
}

/// A certificate of our own (another "server"): its TLS settings.
fn other_server_tls(dir: &Path) -> ServerTls {
    let paths = CertPaths::in_data_dir(dir);
    monit::net::tls::ensure_self_signed(&paths).unwrap();
    ServerTls::load(&paths).unwrap()
}

fn run_command_frame(id: u64, command: &str) -> Message {
    Message::Request(Request {
        id,
        body: RequestBody::RunCommand(RunCommand {
            job: 99,
            command: command.into(),
            args: vec![],
            timeout_ms: Some(5000),
        }),
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A man in the middle with its own certificate: terminates the node's
/// TLS, relays to configd over TLS, and tries to slip the node a command
/// first. The node recorded configd's real certificate on first use, so
/// it refuses with the SSH-style mismatch error and never runs anything.
#[test]
fn a_node_refuses_a_proxy_with_another_certificate() {
    let mut fleet = Fleet::start();
    let real_fp = fleet.fingerprint();
    let first_addr = fleet.addr.clone();
    let mut node = node_at(&fleet, "web-1", &first_addr, "");
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    let known = std::fs::read_to_string(fleet.path().join("known_servers")).unwrap();
    assert!(
        known.contains(&format!("{first_addr} {real_fp}")),
        "{known}"
    );
    // configd moves to another port; the attacker takes the old one.
    fleet.configd().kill9();
    fleet.start_configd("127.0.0.1:0");
    let rt = rt();
    let tls = other_server_tls(&fleet.path().join("mitm"));
    let listener = rt.block_on(TcpListener::bind(&first_addr)).unwrap();
    let upstream = fleet.addr.clone();
    let acceptor = tls.acceptor.clone();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut node_side = Connection::new(Stream::Server(Box::new(tls)), 1 << 22);
                let _ = node_side.send(&run_command_frame(1, "touch-marker")).await;
                let up = common::tls_to(&upstream, real_fp).await;
                let (mut a, mut b) = (node_side.into_inner(), up);
                let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
            });
        }
    });
    wait_for(Duration::from_secs(20), "the mismatch refusal", || {
        node.log().contains("known_servers line 1").then_some(())
    });
    let log = node.log();
    assert!(
        log.contains(&real_fp.to_string())
            && log.contains(&tls.fingerprint.to_string())
            && log.contains("delete line 1"),
        "{log}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(!fleet.path().join("marker").exists(), "a command ran");
    node.kill9();
}

/// A fake configd whose certificate the node is told to trust, but which
/// does not hold the node's token: its Welcome carries no valid proof,
/// the node refuses it and never runs the command that follows.
#[test]
fn a_node_refuses_a_server_that_cannot_prove_its_token() {
    let fleet = Fleet::start();
    let rt = rt();
    let tls = other_server_tls(&fleet.path().join("fake"));
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let acceptor = tls.acceptor.clone();
    let welcomed = Arc::new(Mutex::new(0u32));
    let count = welcomed.clone();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let Ok(tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut conn = Connection::new(Stream::Server(Box::new(tls)), 1 << 22);
            let Ok(Some(Message::Hello(hello))) = conn.read().await else {
                continue;
            };
            let _ = conn
                .send(&Message::Challenge(Challenge {
                    nonce: random_nonce(),
                    server_id: "fake".into(),
                }))
                .await;
            let Ok(Some(Message::Auth(_))) = conn.read().await else {
                continue;
            };
            // Counted before it is sent: the node may refuse it at once.
            *count.lock().unwrap() += 1;
            let _ = conn
                .send(&Message::Welcome(Welcome {
                    server_id: "fake".into(),
                    server_version: "0".into(),
                    name: hello.name,
                    role: Role::Node,
                    heartbeat_interval_ms: 1000,
                    dead_after_ms: 3000,
                    server_proof: "00".repeat(32),
                }))
                .await;
            let _ = conn.send(&run_command_frame(1, "touch-marker")).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.read()).await;
        }
    });
    let fp = tls.fingerprint.to_string();
    let node = node_at(
        &fleet,
        "web-1",
        &addr,
        &format!("server_fingerprint = \"{fp}\""),
    );
    wait_for(Duration::from_secs(20), "the refusal of the fake", || {
        node.log().contains("did not prove").then_some(())
    });
    assert!(*welcomed.lock().unwrap() >= 1);
    std::thread::sleep(Duration::from_secs(1));
    assert!(!fleet.path().join("marker").exists(), "a command ran");
}

/// Everything that crosses the wire during a command run is ciphertext:
/// no token secret, no command name, no line of its output.
#[test]
fn the_wire_shows_no_secret_command_or_output() {
    let fleet = Fleet::start();
    let rt = rt();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let proxy_addr = listener.local_addr().unwrap().to_string();
    let captured = Arc::new(Mutex::new(Vec::<u8>::new()));
    let cap = captured.clone();
    let upstream = fleet.addr.clone();
    rt.spawn(async move {
        loop {
            let Ok((mut down, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            let cap = cap.clone();
            tokio::spawn(async move {
                let Ok(mut up) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut dr, mut dw) = down.split();
                let (mut ur, mut uw) = up.split();
                let c1 = cap.clone();
                let a = async {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = dr.read(&mut buf).await {
                        if n == 0 || uw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        c1.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = uw.shutdown().await;
                };
                let b = async {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = ur.read(&mut buf).await {
                        if n == 0 || dw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        cap.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = dw.shutdown().await;
                };
                tokio::join!(a, b);
            });
        }
    });
    let _node = node_at(&fleet, "web-1", &proxy_addr, "");
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    let op = fleet.token("ops", "operator");
    let out = fleet.cli_as(
        &op,
        &["run", "open-zone", "218", "--target", "node=web-1", "--yes"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(printed.contains("zone-opened-218-output-line"), "{printed}");
    let wire = captured.lock().unwrap().clone();
    assert!(wire.len() > 1000, "captured {} bytes", wire.len());
    let token = std::fs::read_to_string(fleet.node_token("web-1")).unwrap();
    let secret = token.trim().split('.').nth(1).unwrap().to_string();
    let secret_bytes = hex::decode(&secret).unwrap();
    for needle in [
        secret.as_bytes(),
        &secret_bytes[..],
        b"open-zone",
        b"zone-opened-218",
        b"web-1",
    ] {
        assert!(
            !wire.windows(needle.len()).any(|w| w == needle),
            "{:?} crossed the wire in clear",
            String::from_utf8_lossy(needle)
        );
    }
}

/// A handshake relayed to another connection fails: the proof binds the
/// TLS session it was made in. The same steps on their own session work.
#[test]
fn a_relayed_handshake_is_refused() {
    let fleet = Fleet::start();
    let viewer = Token::parse(&std::fs::read_to_string(&fleet.viewer).unwrap()).unwrap();
    rt().block_on(async {
        // The victim's session (whose binding its proof covers) and the
        // attacker's own session, over which the proof is relayed.
        let victim = fleet.tls().await;
        let relay = fleet.tls().await;
        assert_ne!(victim.channel_binding(), relay.channel_binding());
        match authenticate(relay, &viewer, &victim.channel_binding()).await {
            Message::Error(e) => assert_eq!(e.code, ErrorCode::Auth, "{e}"),
            other => panic!("relayed proof accepted: {other:?}"),
        }
        let own = fleet.tls().await;
        let binding = own.channel_binding();
        match authenticate(own, &viewer, &binding).await {
            Message::Welcome(w) => assert_eq!(w.role, Role::Viewer),
            other => panic!("own proof refused: {other:?}"),
        }
    });
}

/// Hello, Challenge, then an Auth whose proof covers `binding`; configd's
/// answer.
async fn authenticate(stream: Stream, token: &Token, binding: &[u8]) -> Message {
    let mut conn = Connection::new(stream, DEFAULT_MAX_FRAME);
    let nonce = random_nonce();
    conn.send(&Message::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        role: PeerKind::Client,
        name: "relay".into(),
        version: "test".into(),
        nonce: nonce.clone(),
    }))
    .await
    .unwrap();
    let Some(Message::Challenge(ch)) = conn.read().await.unwrap() else {
        panic!("no challenge")
    };
    let t = monit::auth::Transcript {
        client_nonce: &nonce,
        server_nonce: &ch.nonce,
        server_id: &ch.server_id,
        kind: PeerKind::Client,
        name: "relay",
        token_id: &token.id,
        binding,
    };
    conn.send(&Message::Auth(Auth {
        token_id: token.id.clone(),
        proof: client_proof(&token.key(), &t),
    }))
    .await
    .unwrap();
    conn.read().await.unwrap().unwrap()
}

/// The tokens file holds no secret after `token create`; an old file with
/// secrets is converted at start and its tokens keep working.
#[test]
fn tokens_at_rest_are_keys_only_and_old_files_convert() {
    let fleet = Fleet::start();
    let token = std::fs::read_to_string(&fleet.viewer).unwrap();
    let secret = token.trim().split('.').nth(1).unwrap();
    let file = fleet.data_dir.join("tokens.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("stored_key") && text.contains("server_key"));

    // An old-format file: the secret in clear.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let old = Token::generate();
    common::write_private(
        &data.join("tokens.toml"),
        &format!(
            "[[token]]\nid = \"{}\"\nname = \"old-viewer\"\nrole = \"viewer\"\nsecret = \"{}\"\ncreated = \"2026-01-01T00:00:00Z\"\n",
            old.id, old.secret
        ),
    );
    let old_file = dir.path().join("old.token");
    common::write_private(&old_file, &format!("{old}\n"));
    let config = dir.path().join("configd.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let mut cmd = common::command("monit-configd", dir.path());
    cmd.arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(Stdio::piped());
    let mut configd = Proc::spawn("old-configd", cmd, dir.path());
    let addr = common::first_line_addr(&mut configd);
    let text = std::fs::read_to_string(data.join("tokens.toml")).unwrap();
    assert!(!text.contains(&old.secret), "{text}");
    assert!(configd.log().contains("tokens file converted"));
    let out = common::command("monit-cli", dir.path())
        .args(["--server", &addr, "--token-file"])
        .arg(&old_file)
        .args(["query", "nodes", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Pins a process's open-file limit high enough for a flood of sockets.
fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
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

/// 1,100 idle unauthenticated connections from 127.0.0.2 leave a client
/// on 127.0.0.1 served; 1,000 peers (from many addresses) each sending a
/// large frame before authenticating leave configd under 64 MiB.
#[test]
fn one_address_cannot_lock_out_others_and_floods_stay_small() {
    raise_nofile();
    let mut fleet = Fleet::start();
    let rt = rt();
    let idle: Vec<TcpStream> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..1100 {
            if let Ok(s) = common::tcp_from("127.0.0.2", &fleet.addr).await {
                v.push(s);
            }
        }
        v
    });
    assert!(idle.len() >= 1000, "only {} connected", idle.len());
    for _ in 0..3 {
        let started = Instant::now();
        let out = fleet.cli(&["query", "nodes", "-o", "json"]);
        assert!(out.status.success(), "locked out: {}", stderr(&out));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    let log = fleet.configd().log();
    assert!(log.contains("refusing connections from 127.0.0.2"), "{log}");
    drop(idle);
    // Large frames from 40 addresses, 25 each (within each one's budget).
    let fp = fleet.fingerprint();
    let addr = fleet.addr.clone();
    let mut frame = (4u32 * 1024 * 1024).to_be_bytes().to_vec();
    frame.extend(vec![0x42u8; 64 * 1024]);
    let frame = Arc::new(frame);
    let peers: Vec<Stream> = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..1000 {
            let (addr, frame) = (addr.clone(), frame.clone());
            let src = format!("127.0.1.{}", 10 + i % 40);
            tasks.push(tokio::spawn(async move {
                let mut s = common::tls_from(&src, &addr, fp).await;
                let _ = s.write_all(&frame).await;
                s
            }));
        }
        let mut v = Vec::new();
        for t in tasks {
            v.push(t.await.unwrap());
        }
        v
    });
    let pid = fleet.configd().pid();
    let rss = rss_kib(pid);
    assert!(rss < 64 * 1024, "configd RSS {rss} KiB");
    drop(peers);
    let out = fleet.cli(&["query", "nodes", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Revoking a token closes its open sessions within a second: an
/// operator's `logs -f` ends with the reason, a node goes down; events
/// record both.
#[test]
fn revocation_closes_open_sessions_at_once() {
    let mut fleet = Fleet::start();
    let op = fleet.token("alice", "operator");
    let _node = fleet.node("web-1", &[]);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    let mut follow = fleet.cli_spawn_as(&op, "follow", &["logs", "-f"]);
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        follow.child.try_wait().unwrap().is_none(),
        "logs -f ended early"
    );
    let id = |path: &PathBuf| {
        std::fs::read_to_string(path)
            .unwrap()
            .trim()
            .split('.')
            .next()
            .unwrap()
            .to_string()
    };
    let revoke = |token_id: &str| {
        let out = fleet
            .configd_cmd()
            .args(["token", "revoke", token_id])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    revoke(&id(&op));
    let started = Instant::now();
    let status = follow.wait_exit(Duration::from_secs(3));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(!status.success());
    assert!(follow.log().contains("revoked"), "{}", follow.log());
    // Its next request fails.
    let out = fleet.cli_as(&op, &["query", "nodes"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // A node's token: the node goes down.
    revoke(&id(&fleet.node_token("web-1")));
    fleet.wait_state("web-1", "down", Duration::from_secs(5));
    let events = fleet.events(&["kind=token_revoked"]);
    assert_eq!(events.len(), 2, "{events:?}");
    let _ = fleet.configd();
}

/// Plaintext only when asked for, on loopback, on both ends.
#[test]
fn plaintext_is_loopback_only_and_never_a_silent_downgrade() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("configd.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"0.0.0.0:7400\"\ndata_dir = \"{}\"\ntls = false\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let out = common::command("monit-configd", dir.path())
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("`tls`") && err.contains("loopback"), "{err}");

    let mut fleet = Fleet::start_with(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\ntls = false\n",
    );
    assert!(fleet.configd().log().contains("PLAINTEXT"));
    // A client expecting TLS refuses, and says what to do.
    let out = fleet.cli(&["query", "nodes"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("tls = false"), "{}", stderr(&out));
    // Told the same, it works.
    let xdg = fleet.path().join(".config/monit");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(xdg.join("client.toml"), "tls = false\n").unwrap();
    let out = fleet.cli(&["query", "nodes", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let _node = node_at(&fleet, "web-1", &fleet.addr.clone(), "tls = false");
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
}

/// The operator's own certificate (tls_cert / tls_key) signed by their CA:
/// `fingerprint` prints it, a client with `ca_file` verifies it by name,
/// and SIGHUP switches to a renewed certificate for new connections.
#[test]
fn operator_certificates_ca_verification_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let issue = |name: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.signed_by(&key, &issuer).unwrap();
        common::write_private(&dir.path().join("key.pem"), &key.serialize_pem());
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        Fingerprint::of_der(cert.der())
    };
    let first = issue("configd-1");
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
    let mut fleet = Fleet::start_with(&format!(
        "tls_cert = \"{0}/cert.pem\"\ntls_key = \"{0}/key.pem\"\n",
        dir.path().display()
    ));
    let out = fleet.configd_cmd().arg("fingerprint").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        first.to_string()
    );
    let xdg = fleet.path().join(".config/monit");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(
        xdg.join("client.toml"),
        format!("ca_file = \"{}/ca.pem\"\n", dir.path().display()),
    )
    .unwrap();
    let out = fleet.cli(&["query", "nodes", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A renewed certificate, picked up on SIGHUP.
    let second = issue("configd-2");
    assert_ne!(first, second);
    fleet.configd().signal(nix::sys::signal::Signal::SIGHUP);
    let fp = fleet.addr.clone();
    wait_for(Duration::from_secs(5), "the new certificate", || {
        let got = rt().block_on(async {
            let trust = monit::net::tls::Trust::Pinned(second);
            monit::net::dial::open(&fp, &trust, PeerKind::Client)
                .await
                .is_ok()
        });
        got.then_some(())
    });
    let out = fleet.cli(&["query", "nodes", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A client pinned to the old one now refuses.
    let out = fleet
        .cli_cmd(
            &fleet.viewer,
            &["query", "nodes", "--fingerprint", &first.to_string()],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("not the pinned"), "{}", stderr(&out));
}

/// Trust on first use, as an operator sees it: the first `monit-cli` call
/// records configd's fingerprint next to the token file and says so once
/// on stderr; the next one is silent.
#[test]
fn the_first_cli_call_records_the_fingerprint_and_says_so() {
    let fleet = Fleet::start();
    let out = fleet.cli(&["query", "nodes", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let fp = fleet.fingerprint().to_string();
    assert!(
        err.contains("first connection to configd") && err.contains(&fp),
        "{err}"
    );
    let known = std::fs::read_to_string(fleet.path().join("known_servers")).unwrap();
    assert_eq!(known.trim(), format!("{} {fp}", fleet.addr));
    let out = fleet.cli(&["query", "nodes", "-o", "json"]);
    assert!(out.status.success());
    assert!(
        !stderr(&out).contains("first connection"),
        "{}",
        stderr(&out)
    );
}
