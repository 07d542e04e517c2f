//! A node that goes down is a problem of its own: notified (`node_down`,
//! `node_up`), listed first by `query problems`, its checks marked stale,
//! acknowledgeable and covered by node downtime. Real configd, real noded,
//! a real notifier script.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{stderr, wait_for, Fleet};
use serde_json::Value;

fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Notes written so far by `files` (EVENT NODE STATE RENOTIFY CHECK), oldest first.
fn notes(dir: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().trim().to_string())
        .collect()
}

fn node_notes(dir: &Path) -> Vec<String> {
    notes(dir)
        .into_iter()
        .filter(|n| n.starts_with("node_") || n.starts_with("acknowledgement web-1 down"))
        .collect()
}

fn json(out: &std::process::Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_node_killed_is_notified_listed_first_stale_and_acknowledgeable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let notes_dir = dir.join("notes");
    std::fs::create_dir(&notes_dir).unwrap();
    let notifier = dir.join("notify.sh");
    let d = notes_dir.display();
    write_script(
        &notifier,
        &format!(
            "n=$(date +%s%N)-$$\necho \"$MONIT_EVENT $MONIT_NODE $MONIT_STATE $MONIT_RENOTIFY $MONIT_CHECK\" > {d}/$n.tmp\nmv {d}/$n.tmp {d}/$n"
        ),
    );
    let other_notes = dir.join("other");
    std::fs::create_dir(&other_notes).unwrap();
    let other = dir.join("other.sh");
    write_script(
        &other,
        &format!("touch {}/$MONIT_EVENT-$$", other_notes.display()),
    );
    let fleet = Fleet::start_with(&format!(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n\
         [[notify]]\nname = \"files\"\ncommand = [\"{}\"]\nrenotify_interval = \"2s\"\ntimeout = \"5s\"\n\
         [[notify]]\nname = \"db-only\"\ncommand = [\"{}\"]\nstates = [\"down\", \"up\"]\nlabels = {{ role = \"db\" }}\n",
        notifier.display(),
        other.display()
    ));
    let operator = fleet.token("alice", "operator");
    let ok = dir.join("ok.sh");
    write_script(&ok, "echo fine\nexit 0");
    let bad = dir.join("bad.sh");
    write_script(&bad, "echo broken\nexit 2");
    let checks = format!(
        "[[check]]\nname = \"fine\"\ncommand = [\"{}\"]\ninterval = \"300ms\"\n\
         [[check]]\nname = \"broken\"\ncommand = [\"{}\"]\ninterval = \"300ms\"\nmax_attempts = 1\n",
        ok.display(),
        bad.display()
    );
    let t = Duration::from_secs(15);
    let mut node = fleet.node_with("web-1", &[("role", "web")], &checks);
    fleet.wait_check("web-1", "fine", t, "ok", |c| c["state"] == "ok");
    fleet.wait_check("web-1", "broken", t, "critical", |c| {
        c["state"] == "critical" && c["stale"] == false
    });

    // ack --remove on a check, and the errors of acks that cannot be.
    let out = fleet.cli_as(&operator, &["ack", "web-1/broken", "--comment", "x"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fleet.check("web-1", "broken").unwrap()["acknowledged"],
        true
    );
    let out = fleet.cli_as(&operator, &["ack", "--remove", "web-1/broken"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fleet.check("web-1", "broken").unwrap()["acknowledged"],
        false
    );
    let out = fleet.cli_as(&operator, &["ack", "--remove", "web-1/broken"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not acknowledged"),
        "{}",
        stderr(&out)
    );
    let out = fleet.cli_as(&operator, &["ack", "web-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not down"), "{}", stderr(&out));

    // kill -9: node_down within 5 s.
    node.kill9();
    let killed = Instant::now();
    wait_for(Duration::from_secs(5), "node_down notified", || {
        node_notes(&notes_dir)
            .contains(&"node_down web-1 down 0".to_string())
            .then_some(())
    });
    assert!(killed.elapsed() < Duration::from_secs(5));
    // Listed first by query problems; its checks are stale.
    let problems = json(&fleet.cli(&["query", "problems", "-o", "json"]));
    assert_eq!(problems[0]["kind"], "node", "{problems:?}");
    assert_eq!(problems[0]["node"], "web-1");
    assert_eq!(problems[0]["state"], "down");
    assert_eq!(problems[0]["check"], Value::Null);
    assert_eq!(problems[1]["check"], "broken", "{problems:?}");
    assert_eq!(problems[1]["stale"], true);
    for c in fleet.checks() {
        assert_eq!(c["stale"], true, "{c}");
    }
    let table = fleet.cli(&["query", "problems"]);
    let text = String::from_utf8_lossy(&table.stdout);
    let first = text.lines().nth(1).unwrap_or_default();
    assert!(
        first.contains("web-1") && first.contains("(node)") && first.contains("down"),
        "{text}"
    );
    let only_nodes =
        json(&fleet.cli(&["query", "problems", "--filter", "kind=node", "-o", "json"]));
    assert_eq!(only_nodes.len(), 1, "{only_nodes:?}");

    // Re-notified while it lasts; acknowledged, nothing repeats.
    wait_for(Duration::from_secs(6), "node_down repeated", || {
        node_notes(&notes_dir)
            .contains(&"node_down web-1 down 1".to_string())
            .then_some(())
    });
    let out = fleet.cli_as(&operator, &["ack", "web-1", "--comment", "rebooting"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(Duration::from_secs(5), "the ack notified", || {
        node_notes(&notes_dir)
            .contains(&"acknowledgement web-1 down 0".to_string())
            .then_some(())
    });
    let acked = node_notes(&notes_dir).len();
    let problems = json(&fleet.cli(&["query", "problems", "-o", "json"]));
    assert_eq!(problems[0]["acknowledged"], true, "{problems:?}");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        node_notes(&notes_dir).len(),
        acked,
        "nothing repeats once acknowledged: {:?}",
        node_notes(&notes_dir)
    );

    // Back: node_up, not stale, no longer a problem.
    let mut node = fleet.node_with("web-1", &[("role", "web")], &checks);
    wait_for(Duration::from_secs(10), "node_up notified", || {
        node_notes(&notes_dir)
            .contains(&"node_up web-1 up 0".to_string())
            .then_some(())
    });
    fleet.wait_check("web-1", "fine", t, "fresh again", |c| c["stale"] == false);
    let problems = json(&fleet.cli(&["query", "problems", "-o", "json"]));
    assert!(
        problems.iter().all(|p| p["kind"] == "check"),
        "{problems:?}"
    );

    // Node downtime holds node_down; its end (node still down) sends it.
    let out = fleet.cli_as(&operator, &["downtime", "web-1", "--for", "1h"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = node_notes(&notes_dir).len();
    node.kill9();
    fleet.wait_state("web-1", "down", Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(node_notes(&notes_dir).len(), before, "held by downtime");
    let problems = json(&fleet.cli(&["query", "problems", "-o", "json"]));
    assert_eq!(problems[0]["in_downtime"], true, "{problems:?}");
    let list = json(&fleet.cli(&["downtime", "list", "-o", "json"]));
    let id = list[0]["id"].as_u64().unwrap().to_string();
    let out = fleet.cli_as(&operator, &["downtime", "cancel", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(
        Duration::from_secs(5),
        "node_down after the downtime",
        || {
            (node_notes(&notes_dir)
                .iter()
                .filter(|n| n.starts_with("node_down web-1 down 0"))
                .count()
                == 2)
                .then_some(())
        },
    );
    // The downtime's end notified only the check with a problem (each
    // notification is its own process: wait for it, then for stragglers).
    let ends = || -> Vec<String> {
        notes(&notes_dir)
            .into_iter()
            .filter(|n| n.starts_with("downtime_end"))
            .collect()
    };
    wait_for(Duration::from_secs(5), "downtime_end", || {
        (!ends().is_empty()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let ends = ends();
    assert_eq!(ends, ["downtime_end web-1 critical 0 broken"], "{ends:?}");
    // The rule for role=db never fired.
    assert_eq!(std::fs::read_dir(&other_notes).unwrap().count(), 0);
}

#[test]
fn a_node_that_never_comes_back_after_a_configd_restart_is_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let notes_dir = dir.join("notes");
    std::fs::create_dir(&notes_dir).unwrap();
    let notifier = dir.join("notify.sh");
    let d = notes_dir.display();
    write_script(
        &notifier,
        &format!(
            "n=$(date +%s%N)-$$\necho \"$MONIT_EVENT $MONIT_NODE: $MONIT_OUTPUT\" > {d}/$n.tmp\nmv {d}/$n.tmp {d}/$n"
        ),
    );
    let mut fleet = Fleet::start_with(&format!(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n\
         [[notify]]\nname = \"files\"\ncommand = [\"{}\"]\ntimeout = \"5s\"\n",
        notifier.display()
    ));
    let mut node = fleet.node("web-1", &[]);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    node.kill9();
    fleet.wait_state("web-1", "down", Duration::from_secs(5));
    // configd restarts while the node is gone: known, not heard from.
    let addr = fleet.addr.clone();
    fleet.configd().signal(nix::sys::signal::Signal::SIGTERM);
    fleet.configd().wait_exit(Duration::from_secs(10));
    fleet.start_configd(&addr);
    assert_eq!(fleet.state_of("web-1").as_deref(), Some("pending"));
    let restarted = Instant::now();
    // After node_dead_after + 30 s (the agents' longest reconnect wait)
    // it is down again: a problem, notified.
    fleet.wait_state("web-1", "down", Duration::from_secs(40));
    assert!(restarted.elapsed() >= Duration::from_secs(30));
    let problems = json(&fleet.cli(&["query", "problems", "-o", "json"]));
    assert_eq!(problems[0]["node"], "web-1", "{problems:?}");
    assert_eq!(problems[0]["state"], "down");
    wait_for(Duration::from_secs(5), "node_down notified", || {
        notes(&notes_dir)
            .contains(&"node_down web-1: not heard from since configd started".to_string())
            .then_some(())
    });
    // And back.
    let _node = fleet.node("web-1", &[]);
    wait_for(Duration::from_secs(15), "node_up notified", || {
        notes(&notes_dir)
            .iter()
            .any(|n| n.starts_with("node_up web-1"))
            .then_some(())
    });
}
