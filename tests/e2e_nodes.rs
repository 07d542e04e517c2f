//! End to end with real processes: configd + node agents + monit-cli.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{stderr, wait_for, Fleet};

#[test]
fn three_nodes_go_up_down_and_survive_a_configd_restart() {
    let mut fleet = Fleet::start();
    let mut nodes = vec![
        fleet.node("web-1", &[("role", "web"), ("dc", "a")]),
        fleet.node("web-2", &[("role", "web"), ("dc", "b")]),
        fleet.node("db-1", &[("role", "db")]),
    ];
    wait_for(Duration::from_secs(10), "3 nodes up", || {
        let list = fleet.nodes();
        (list.len() == 3 && list.iter().all(|n| n["state"] == "up")).then_some(())
    });
    let before = fleet.nodes();
    let web1 = before.iter().find(|n| n["name"] == "web-1").unwrap();
    assert_eq!(web1["labels"]["role"], "web");
    assert_eq!(web1["labels"]["dc"], "a");
    assert_eq!(web1["addr"], "127.0.0.1");
    assert_eq!(web1["version"], env!("CARGO_PKG_VERSION"));
    for key in ["first_seen", "last_seen"] {
        let t = web1[key].as_str().unwrap();
        assert!(
            monit::timefmt::parse_rfc3339(t).is_some(),
            "{key} is RFC 3339: {t}"
        );
    }
    for c in ["ok", "warning", "critical", "unknown", "pending"] {
        assert!(web1["checks"][c].is_u64(), "checks.{c}");
    }

    // kill -9 a node: down within node_dead_after (1 s) + 1 s.
    let killed = Instant::now();
    nodes[2].kill9();
    fleet.wait_state("db-1", "down", Duration::from_secs(2));
    eprintln!("db-1 down after {:?}", killed.elapsed());
    // Start it again: up.
    nodes[2] = fleet.node("db-1", &[("role", "db")]);
    fleet.wait_state("db-1", "up", Duration::from_secs(5));
    // The store writes events in batches: the kill -9 below is meant to
    // test the registry, not to race the batch that holds db-1's return.
    wait_for(Duration::from_secs(5), "db-1's return in the store", || {
        let db = rusqlite::Connection::open(fleet.data_dir.join("monit.db")).ok()?;
        let n: i64 = db
            .query_row(
                "SELECT count(*) FROM events WHERE kind = 'node_state' AND node = 'db-1' AND state = 'up'",
                [],
                |r| r.get(0),
            )
            .ok()?;
        (n >= 2).then_some(())
    });

    // kill -9 configd, start it on the same address: the nodes come back by
    // themselves within 5 s, and the registry survived.
    let addr = fleet.addr.clone();
    fleet.configd().kill9();
    fleet.start_configd(&addr);
    let restarted = Instant::now();
    let after = wait_for(
        Duration::from_secs(5),
        "3 nodes up after the restart",
        || {
            let list = fleet.nodes();
            (list.len() == 3 && list.iter().all(|n| n["state"] == "up")).then_some(list)
        },
    );
    eprintln!("all up {:?} after the configd restart", restarted.elapsed());
    for b in &before {
        let a = after.iter().find(|n| n["name"] == b["name"]).unwrap();
        assert_eq!(
            a["first_seen"], b["first_seen"],
            "first_seen of {}",
            b["name"]
        );
        assert_eq!(a["labels"], b["labels"]);
    }
    // Every state change is an event with a timestamp, in the store.
    let db = rusqlite::Connection::open(fleet.data_dir.join("monit.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT time, node, previous_state, state FROM events WHERE kind = 'node_state' ORDER BY id")
        .unwrap();
    let events: Vec<(i64, String, Option<String>, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let db1: Vec<(Option<&str>, &str)> = events
        .iter()
        .filter(|e| e.1 == "db-1")
        .map(|e| (e.2.as_deref(), e.3.as_str()))
        .collect();
    assert_eq!(
        &db1[..3],
        &[(None, "up"), (Some("up"), "down"), (Some("down"), "up")],
        "{events:?}"
    );
    assert!(events.iter().all(|e| e.0 > 1_700_000_000_000));
    // The nodes did not restart: same processes.
    for n in &mut nodes {
        assert!(
            n.child.try_wait().unwrap().is_none(),
            "{} still running",
            n.name
        );
    }
}

#[test]
fn known_nodes_are_pending_until_heard_from_after_a_restart() {
    let mut fleet = Fleet::start();
    let mut node = fleet.node("lonely", &[]);
    fleet.wait_state("lonely", "up", Duration::from_secs(10));
    node.kill9();
    fleet.wait_state("lonely", "down", Duration::from_secs(3));
    // SIGTERM: graceful stop, then start again.
    fleet.configd().signal(nix::sys::signal::Signal::SIGTERM);
    let status = fleet.configd().wait_exit(Duration::from_secs(10));
    assert!(status.success(), "configd exits 0 on SIGTERM");
    fleet.start_configd("127.0.0.1:0");
    assert_eq!(fleet.state_of("lonely").as_deref(), Some("pending"));
}

#[test]
fn a_silent_node_is_marked_down_by_heartbeat() {
    let fleet = Fleet::start();
    let node = fleet.node("sleepy", &[]);
    fleet.wait_state("sleepy", "up", Duration::from_secs(10));
    // SIGSTOP keeps the socket open but stops the heartbeats.
    let stopped = Instant::now();
    node.signal(nix::sys::signal::Signal::SIGSTOP);
    fleet.wait_state("sleepy", "down", Duration::from_secs(3));
    let took = stopped.elapsed();
    assert!(
        took >= Duration::from_millis(700),
        "not before node_dead_after: {took:?}"
    );
    node.signal(nix::sys::signal::Signal::SIGCONT);
    // It notices configd dropped it and reconnects by itself.
    fleet.wait_state("sleepy", "up", Duration::from_secs(10));
}

#[test]
fn a_node_keeps_retrying_while_configd_is_away() {
    let mut fleet = Fleet::start();
    let mut node = fleet.node("patient", &[]);
    fleet.wait_state("patient", "up", Duration::from_secs(10));
    let addr = fleet.addr.clone();
    fleet.configd().kill9();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        node.child.try_wait().unwrap().is_none(),
        "noded never exits because configd is away"
    );
    fleet.start_configd(&addr);
    fleet.wait_state("patient", "up", Duration::from_secs(10));
    let log = node.log();
    assert!(log.contains("reconnecting in"), "{log}");
    assert!(log.contains("registered with configd"), "{log}");
}

#[test]
fn query_nodes_filters_and_formats() {
    let fleet = Fleet::start();
    let _a = fleet.node("web-1", &[("role", "web")]);
    let _b = fleet.node("web-2", &[("role", "web")]);
    let _c = fleet.node("db-1", &[("role", "db")]);
    wait_for(Duration::from_secs(10), "3 nodes up", || {
        (fleet.nodes().iter().filter(|n| n["state"] == "up").count() == 3).then_some(())
    });
    let names = |args: &[&str]| -> Vec<String> {
        let out = fleet.cli(args);
        assert!(out.status.success(), "{}", stderr(&out));
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        list.iter()
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&[
            "query",
            "nodes",
            "--filter",
            "labels.role=web",
            "-o",
            "json"
        ]),
        ["web-1", "web-2"]
    );
    assert_eq!(
        names(&[
            "query",
            "nodes",
            "--filter",
            "labels.role=web",
            "--filter",
            "name~2$",
            "-o",
            "json"
        ]),
        ["web-2"]
    );
    assert_eq!(
        names(&["query", "nodes", "--filter", "state!=up", "-o", "json"]),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&["query", "nodes", "--filter", "name~^db", "-o", "json"]),
        ["db-1"]
    );

    // jsonl: one object per line.
    let out = fleet.cli(&["query", "nodes", "-o", "jsonl"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["name"].is_string());
    }

    // The table fits 80 columns.
    let out = fleet.cli(&["query", "nodes"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("NAME"), "{text}");
    assert_eq!(text.lines().count(), 4);
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line}");
    }
    assert!(text.contains("web-1") && text.contains("role=db"), "{text}");
}

#[test]
fn cli_exit_codes() {
    let fleet = Fleet::start();
    // Bad filter: usage error, 2, before connecting.
    let out = fleet.cli(&["query", "nodes", "--filter", "state"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("key=value"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1);
    // A field nodes never have: 2, naming the fields there are.
    let out = fleet.cli(&["query", "nodes", "--filter", "lables.role=web"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no field `lables.role` in nodes")
            && stderr(&out).contains("labels.KEY"),
        "{}",
        stderr(&out)
    );
    // Unknown subcommand: 2.
    assert_eq!(fleet.cli(&["query", "bogus"]).status.code(), Some(2));
    // Nothing listening: 3, one line that says what to do.
    let out = common::command("monit-cli", fleet.path())
        .args(["--server", "127.0.0.1:1", "--token-file"])
        .arg(&fleet.viewer)
        .args(["query", "nodes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("cannot connect") && err.contains("--server"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // No token at all: 3.
    let out = common::command("monit-cli", fleet.path())
        .args(["--server", &fleet.addr, "query", "nodes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("no token"), "{}", stderr(&out));
    // $MONIT_TOKEN works in place of a file.
    let token = std::fs::read_to_string(&fleet.viewer).unwrap();
    let out = common::command("monit-cli", fleet.path())
        .env("MONIT_TOKEN", token.trim())
        .env("MONIT_SERVER", &fleet.addr)
        .args(["query", "nodes", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // client.toml in the user config dir supplies both.
    let cfg = fleet.path().join(".config/monit");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("client.toml"),
        format!(
            "server = \"{}\"\ntoken_file = \"{}\"\n",
            fleet.addr,
            fleet.viewer.display()
        ),
    )
    .unwrap();
    let out = common::command("monit-cli", fleet.path())
        .args(["query", "nodes", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Each request's log lines carry its session (peer, name, role) and the
/// request's name; a refused request is logged once, at warn.
#[test]
fn configd_logs_each_request_in_its_session_and_request_span() {
    let mut fleet = Fleet::start();
    let _node = fleet.node("web-1", &[]);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    let up = wait_for(Duration::from_secs(5), "`node up` in configd's log", || {
        let log = fleet.configd().log();
        log.lines()
            .find(|l| l.contains("node up"))
            .map(str::to_string)
    });
    for part in [
        "session{",
        "name=web-1",
        "role=node",
        "request{req=\"register\"",
    ] {
        assert!(up.contains(part), "no `{part}` in: {up}");
    }
    let viewer = fleet.token("vera", "viewer");
    let out = fleet.cli_as(&viewer, &["ack", "web-1/load"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let refused = wait_for(
        Duration::from_secs(5),
        "the refusal in configd's log",
        || {
            let log = fleet.configd().log();
            let lines: Vec<String> = log
                .lines()
                .filter(|l| l.contains("refused") && l.contains("name=vera"))
                .map(str::to_string)
                .collect();
            (!lines.is_empty()).then_some(lines)
        },
    );
    // Give a second copy time to show.
    std::thread::sleep(Duration::from_millis(300));
    let log = fleet.configd().log();
    let again = log
        .lines()
        .filter(|l| l.contains("refused") && l.contains("name=vera"))
        .count();
    assert_eq!(again, 1, "{log}");
    for part in ["WARN", "role=viewer", "request{req=", "code=\"forbidden\""] {
        assert!(refused[0].contains(part), "no `{part}` in: {}", refused[0]);
    }
}
