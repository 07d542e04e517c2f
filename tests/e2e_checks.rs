//! Health checks end to end: real configd, real noded, real Nagios plugins
//! (Debian's monitoring-plugins-basic), real notifier scripts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{stderr, wait_for, Fleet};
use serde_json::Value;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

fn plugin(name: &str) -> String {
    let p = format!("{PLUGINS}/{name}");
    assert!(
        Path::new(&p).exists(),
        "{p} is missing: apt-get install -y monitoring-plugins-basic (scripts/test does)"
    );
    p
}

fn check_toml(name: &str, argv: &[&str], extra: &str) -> String {
    let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[[check]]\nname = \"{name}\"\ncommand = [{}]\n{extra}\n",
        argv.join(", ")
    )
}

fn labels_of(perf: &Value) -> Vec<String> {
    perf.as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap().to_string())
        .collect()
}

/// The plugin run by hand, for comparison: (exit code, stdout).
fn run_by_hand(argv: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn debian_plugins_give_their_states_and_perfdata() {
    let fleet = Fleet::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let (dummy, load, disk, procs, users, tcp) = (
        plugin("check_dummy"),
        plugin("check_load"),
        plugin("check_disk"),
        plugin("check_procs"),
        plugin("check_users"),
        plugin("check_tcp"),
    );
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        ("dummy_ok", vec![&dummy, "0", "all good"], "ok"),
        ("dummy_warn", vec![&dummy, "1", "meh"], "warning"),
        ("dummy_crit", vec![&dummy, "2", "bad"], "critical"),
        ("dummy_unknown", vec![&dummy, "3", "what"], "unknown"),
        (
            "load",
            vec![&load, "-w", "1000,1000,1000", "-c", "2000,2000,2000"],
            "ok",
        ),
        (
            "load_warn",
            vec![&load, "-w", "0,0,0", "-c", "1000,1000,1000"],
            "warning",
        ),
        ("disk", vec![&disk, "-w", "1%", "-c", "1%", "-p", "/"], "ok"),
        ("procs", vec![&procs, "-w", "100000", "-c", "200000"], "ok"),
        ("users", vec![&users, "-w", "1000", "-c", "2000"], "ok"),
        ("tcp", vec![&tcp, "-H", "127.0.0.1", "-p", &port], "ok"),
        (
            "tcp_closed",
            vec![&tcp, "-H", "127.0.0.1", "-p", &closed],
            "critical",
        ),
    ];
    let mut extra = String::new();
    for (name, argv, _) in &cases {
        // max_attempts 1: the first problem is hard at once.
        extra.push_str(&check_toml(
            name,
            argv,
            "interval = \"1s\"\nmax_attempts = 1\ntimeout = \"10s\"",
        ));
    }
    let _node = fleet.node_with("plug-1", &[("role", "test")], &extra);
    let all = wait_for(Duration::from_secs(20), "every check has a result", || {
        let checks = fleet.checks();
        (checks.len() == cases.len() && checks.iter().all(|c| c["state"] != "pending"))
            .then_some(checks)
    });
    for (name, argv, want) in &cases {
        let c = all.iter().find(|c| c["name"] == *name).unwrap();
        assert_eq!(c["state"], *want, "{name}: {c}");
        assert_eq!(c["state_type"], "hard", "{name}");
        assert_eq!(c["node"], "plug-1");
        assert!(c["last_check"].is_string(), "{name}: {c}");
        // Same perfdata labels and first line as the plugin prints by hand.
        let (code, stdout) = run_by_hand(argv);
        let parsed = monit::checks::plugin::parse(stdout.as_bytes(), false);
        assert_eq!(
            monit::checks::CheckState::from_exit(code).as_str(),
            *want,
            "{name} by hand"
        );
        let by_hand: Vec<String> = parsed.perfdata.iter().map(|p| p.label.clone()).collect();
        assert_eq!(labels_of(&c["perfdata"]), by_hand, "{name}: {c}");
        if name.starts_with("dummy") || *name == "users" || *name == "tcp_closed" {
            assert_eq!(c["output"].as_str().unwrap(), parsed.output, "{name}");
        }
    }
    let by_name = |n: &str| all.iter().find(|c| c["name"] == n).unwrap().clone();
    assert_eq!(by_name("dummy_ok")["output"], "OK: all good");
    assert_eq!(
        labels_of(&by_name("load")["perfdata"]),
        ["load1", "load5", "load15"]
    );
    let load1 = &by_name("load")["perfdata"][0];
    assert_eq!(load1["warn"], "1000.000");
    assert_eq!(load1["crit"], "2000.000");
    assert_eq!(load1["min"], 0.0);
    assert!(load1["max"].is_null());
    assert!(by_name("disk")["output"]
        .as_str()
        .unwrap()
        .starts_with("DISK OK"));
    assert_eq!(by_name("disk")["perfdata"][0]["label"], "/");
    assert_eq!(by_name("disk")["perfdata"][0]["uom"], "B");
    assert_eq!(by_name("procs")["perfdata"][0]["label"], "procs");
    assert_eq!(by_name("users")["perfdata"][0]["label"], "users");
    let tcp_time = &by_name("tcp")["perfdata"][0];
    assert_eq!(tcp_time["label"], "time");
    assert_eq!(tcp_time["uom"], "s");
    assert!(by_name("tcp_closed")["output"]
        .as_str()
        .unwrap()
        .contains("Connection refused"));
    // Node check counts.
    let node = fleet
        .nodes()
        .into_iter()
        .find(|n| n["name"] == "plug-1")
        .unwrap();
    assert_eq!(node["checks"]["ok"], 6, "{node}");
    assert_eq!(node["checks"]["warning"], 2, "{node}");
    assert_eq!(node["checks"]["critical"], 2, "{node}");
    assert_eq!(node["checks"]["unknown"], 1, "{node}");
    // Filters and --node.
    let out = fleet.cli(&[
        "query",
        "checks",
        "--node",
        "plug-1",
        "--filter",
        "state=critical",
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let crit: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<&str> = crit.iter().map(|c| c["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["dummy_crit", "tcp_closed"]);
    // A node configd never knew is an error, not an empty list.
    let out = fleet.cli(&["query", "checks", "--node", "plug1", "-o", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did you mean plug-1?"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    let out = fleet.cli(&["query", "checks"]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("dummy_warn") && table.contains("warning hard"),
        "{table}"
    );
    let out = fleet.cli(&["query", "checks", "--filter", "bad filter"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    drop(listener);
}

fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A plugin whose exit code is read from `DIR/NAME.code` at each run.
fn flip_plugin(dir: &Path, name: &str, code: i32) -> PathBuf {
    let script = dir.join(format!("{name}.sh"));
    let code_file = dir.join(format!("{name}.code"));
    std::fs::write(&code_file, code.to_string()).unwrap();
    write_script(
        &script,
        &format!(
            "c=$(cat {})\necho \"{name} exit $c | code=$c;1;2;0;3\"\nexit $c",
            code_file.display()
        ),
    );
    script
}

fn set_code(dir: &Path, name: &str, code: i32) {
    let tmp = dir.join(format!("{name}.code.tmp"));
    std::fs::write(&tmp, code.to_string()).unwrap();
    std::fs::rename(tmp, dir.join(format!("{name}.code"))).unwrap();
}

/// Notifications written so far: (check, event, state, renotify), in order.
fn notes(dir: &Path) -> Vec<(String, String, String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        // Half-written notes are `*.tmp` until the notifier renames them.
        .filter(|p| p.extension().is_none())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let parts: Vec<String> = text.split_whitespace().map(str::to_string).collect();
            (
                parts[0].clone(),
                parts[1].clone(),
                parts[2].clone(),
                parts[3].clone(),
            )
        })
        .collect()
}

fn notes_for(dir: &Path, check: &str) -> Vec<String> {
    notes(dir)
        .into_iter()
        .filter(|n| n.0 == check)
        .map(|n| {
            if n.3 == "1" {
                format!("{}(repeat)", n.1)
            } else {
                n.1
            }
        })
        .collect()
}

#[test]
fn soft_hard_recovery_notifications_acks_downtime_passive() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let notes_dir = dir.join("notes");
    std::fs::create_dir(&notes_dir).unwrap();
    let notifier = dir.join("notify.sh");
    write_script(
        &notifier,
        &format!(
            "n=$(date +%s%N)-$$\necho \"$MONIT_CHECK $MONIT_EVENT $MONIT_STATE $MONIT_RENOTIFY $MONIT_NODE $MONIT_STATE_TYPE $MONIT_ATTEMPT\" > {}/$n.tmp\nmv {}/$n.tmp {}/$n",
            notes_dir.display(),
            notes_dir.display(),
            notes_dir.display()
        ),
    );
    let hang = dir.join("hang.sh");
    write_script(&hang, "sleep 60");
    let fleet = Fleet::start_with(&format!(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n\
         [[notify]]\nname = \"files\"\ncommand = [\"{}\"]\nrenotify_interval = \"4s\"\ntimeout = \"5s\"\n\
         [[notify]]\nname = \"hangs\"\ncommand = [\"{}\"]\ntimeout = \"1s\"\nlabels = {{ role = \"flip\" }}\n",
        notifier.display(),
        hang.display()
    ));
    let operator = fleet.token("alice", "operator");
    let fast =
        "interval = \"300ms\"\nretry_interval = \"300ms\"\nmax_attempts = 3\ntimeout = \"5s\"";
    let mut extra = String::new();
    for (name, code) in [("flip", 0), ("acked", 0), ("dt", 0)] {
        let script = flip_plugin(dir, name, code);
        extra.push_str(&check_toml(name, &[script.to_str().unwrap()], fast));
    }
    extra.push_str("[[check]]\nname = \"passive\"\nfreshness = \"2s\"\nmax_attempts = 1\n");
    let _node = fleet.node_with("flip-1", &[("role", "flip")], &extra);
    let t = Duration::from_secs(15);
    // Declared checks show as pending before any result.
    let passive = wait_for(t, "the passive check listed", || {
        fleet.check("flip-1", "passive")
    });
    assert_eq!(passive["state"], "pending");

    // --- soft -> hard -> recovery, with re-notification while it lasts.
    fleet.wait_check("flip-1", "flip", t, "ok", |c| c["state"] == "ok");
    set_code(dir, "flip", 2);
    let hard = fleet.wait_check("flip-1", "flip", t, "hard critical", |c| {
        c["state"] == "critical" && c["state_type"] == "hard"
    });
    assert_eq!(hard["attempt"], 3);
    assert_eq!(hard["perfdata"][0]["label"], "code");
    let changes: Vec<String> = fleet
        .events(&["check=flip", "kind=check_state"])
        .iter()
        .map(|e| {
            e["message"]
                .as_str()
                .unwrap()
                .split(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        changes,
        ["first result", "soft problem", "hard problem"],
        "soft at attempt 1 (attempt 2 is no state change), hard at 3"
    );
    let ev = fleet.events(&["check=flip", "kind=check_state", "state=critical"]);
    assert!(
        ev[1]["message"].as_str().unwrap().contains("attempt 3/3"),
        "{ev:?}"
    );
    // Re-notified after renotify_interval (4 s).
    wait_for(
        Duration::from_secs(10),
        "a repeat problem notification",
        || {
            notes_for(&notes_dir, "flip")
                .contains(&"problem(repeat)".to_string())
                .then_some(())
        },
    );
    set_code(dir, "flip", 0);
    fleet.wait_check("flip-1", "flip", t, "recovered", |c| c["state"] == "ok");
    wait_for(t, "the recovery notification", || {
        notes_for(&notes_dir, "flip")
            .last()
            .is_some_and(|n| n == "recovery")
            .then_some(())
    });
    let flip = notes_for(&notes_dir, "flip");
    assert_eq!(flip[0], "problem", "{flip:?}");
    assert!(
        flip[1..flip.len() - 1]
            .iter()
            .all(|n| n == "problem(repeat)"),
        "{flip:?}"
    );
    let first = notes(&notes_dir)
        .into_iter()
        .find(|n| n.0 == "flip")
        .unwrap();
    assert_eq!(first.2, "critical");

    // --- acknowledged: no notification while acked, not even a repeat.
    set_code(dir, "acked", 2);
    fleet.wait_check("flip-1", "acked", t, "hard critical", |c| {
        c["state"] == "critical" && c["state_type"] == "hard"
    });
    let viewer_ack = fleet.cli(&["ack", "flip-1/acked"]);
    assert_eq!(
        viewer_ack.status.code(),
        Some(3),
        "a viewer cannot ack: {}",
        stderr(&viewer_ack)
    );
    let out = fleet.cli_as(&operator, &["ack", "flip-1/acked", "--comment", "on it"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = fleet.check("flip-1", "acked").unwrap();
    assert_eq!(c["acknowledged"], true);
    let out = fleet.cli_as(&operator, &["ack", "flip-1/nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    std::thread::sleep(Duration::from_secs(6));
    set_code(dir, "acked", 0);
    fleet.wait_check("flip-1", "acked", t, "recovered", |c| {
        c["state"] == "ok" && c["acknowledged"] == false
    });
    wait_for(t, "the acked check's recovery notification", || {
        notes_for(&notes_dir, "acked")
            .last()
            .is_some_and(|n| n == "recovery")
            .then_some(())
    });
    assert_eq!(
        notes_for(&notes_dir, "acked"),
        ["problem", "acknowledgement", "recovery"]
    );

    // --- downtime: nothing while down; the ongoing problem notifies after.
    fleet.wait_check("flip-1", "dt", t, "ok", |c| c["state"] == "ok");
    let out = fleet.cli_as(
        &operator,
        &["downtime", "flip-1/dt", "--for", "1h", "--comment", "maint"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = fleet.cli(&["downtime", "list", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["check"], "dt");
    let id = list[0]["id"].as_u64().unwrap().to_string();
    set_code(dir, "dt", 2);
    fleet.wait_check("flip-1", "dt", t, "hard critical in downtime", |c| {
        c["state"] == "critical" && c["state_type"] == "hard" && c["in_downtime"] == true
    });
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(notes_for(&notes_dir, "dt"), ["downtime_start"]);
    let out = fleet.cli_as(&operator, &["downtime", "cancel", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(t, "the problem notification after downtime", || {
        (notes_for(&notes_dir, "dt").len() >= 3).then_some(())
    });
    assert_eq!(
        notes_for(&notes_dir, "dt"),
        ["downtime_start", "downtime_end", "problem(repeat)"]
    );
    let out = fleet.cli_as(&operator, &["downtime", "flip-1", "--for", "banana"]);
    assert_eq!(out.status.code(), Some(2));

    // --- passive: pending, submitted, then stale.
    let out = fleet.cli(&["submit", "flip-1/passive", "ok", "fine"]);
    assert_eq!(out.status.code(), Some(3), "viewers cannot submit");
    let submitted = Instant::now();
    let out = fleet.cli_as(
        &operator,
        &[
            "submit",
            "flip-1/passive",
            "warning",
            "half full | used=51%;50;90",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let c = fleet.check("flip-1", "passive").unwrap();
    assert_eq!(c["state"], "warning");
    assert_eq!(c["output"], "half full");
    assert_eq!(c["perfdata"][0]["uom"], "%");
    let c = fleet.wait_check("flip-1", "passive", t, "stale", |c| c["state"] == "unknown");
    assert_eq!(c["output"], "stale");
    assert!(submitted.elapsed() >= Duration::from_millis(1900));
    let out = fleet.cli_as(&operator, &["submit", "flip-1/nope", "ok", "x"]);
    assert_eq!(out.status.code(), Some(1));

    // Every notification is an event with its exit status; the hanging
    // notifier was killed at its timeout.
    let notifications = fleet.events(&["kind=notification"]);
    assert!(notifications.iter().any(|e| e["message"]
        .as_str()
        .unwrap()
        .starts_with("notifier files: problem: exit 0")));
    wait_for(t, "the hanging notifier killed", || {
        fleet
            .events(&["kind=notification", "message~hangs.*timed out"])
            .first()
            .cloned()
    });
}

fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        if text.contains(marker) && !zombie {
            found.push(text);
        }
    }
    found
}

#[test]
fn timeouts_kill_the_whole_process_group() {
    let fleet = Fleet::start();
    let a = check_toml(
        "sleeper",
        &["sleep", "31.7"],
        "interval = \"1h\"\nmax_attempts = 1\ntimeout = \"1s\"",
    );
    let b = check_toml(
        "grandchild",
        &["sh", "-c", "sleep 32.3 & echo started"],
        "interval = \"1h\"\nmax_attempts = 1\ntimeout = \"1s\"",
    );
    let started = Instant::now();
    let _n1 = fleet.node_with("to-1", &[], &a);
    let _n2 = fleet.node_with("to-2", &[], &b);
    for (node, name) in [("to-1", "sleeper"), ("to-2", "grandchild")] {
        let c = fleet.wait_check(node, name, Duration::from_secs(15), "unknown", |c| {
            c["state"] == "unknown"
        });
        assert_eq!(c["output"], "timed out after 1s", "{c}");
    }
    assert!(started.elapsed() < Duration::from_secs(12));
    // SIGKILLed processes may take a moment to be torn down on a busy box.
    for marker in ["sleep 31.7", "sleep 32.3"] {
        wait_for(
            Duration::from_secs(3),
            &format!("no `{marker}` left"),
            || processes_with(marker).is_empty().then_some(()),
        );
    }
}

#[test]
fn check_state_survives_a_configd_restart_and_results_resume() {
    let mut fleet = Fleet::start();
    let dummy = plugin("check_dummy");
    let extra = check_toml(
        "crit",
        &[&dummy, "2", "down"],
        "interval = \"500ms\"\nmax_attempts = 1",
    );
    let _node = fleet.node_with("persist-1", &[], &extra);
    let t = Duration::from_secs(15);
    let before = fleet.wait_check("persist-1", "crit", t, "hard critical", |c| {
        c["state"] == "critical" && c["state_type"] == "hard"
    });
    let addr = fleet.addr.clone();
    fleet.configd().kill9();
    fleet.start_configd(&addr);
    // From the store, or, if the kill came between configd applying the
    // result (what the query saw) and storing it, from the node, which
    // was not acknowledged and sends it again: the same change either way.
    let after = fleet.wait_check("persist-1", "crit", t, "critical after the restart", |c| {
        c["state"] == "critical"
    });
    assert_eq!(after["last_change"], before["last_change"]);
    // The node reconnects by itself and its results flow again.
    let last = after["last_check"].as_str().unwrap().to_string();
    fleet.wait_check("persist-1", "crit", t, "a newer result", |c| {
        c["last_check"].as_str().is_some_and(|l| l > last.as_str())
    });
    // One hard problem event only: the restart did not re-trigger it.
    let hard = fleet.events(&["check=crit", "kind=check_state"]);
    assert_eq!(hard.len(), 1, "{hard:?}");
}

#[test]
fn results_made_while_configd_is_away_survive_a_noded_restart() {
    let mut fleet = Fleet::start();
    let dir = fleet.path().to_path_buf();
    let script = dir.join("life.sh");
    let state = dir.join("life.state");
    let set = |text: &str| {
        let tmp = dir.join("life.state.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &state).unwrap();
    };
    set("0 first-life");
    write_script(
        &script,
        &format!(
            "read c msg < {}\necho \"life $msg\"\nexit $c",
            state.display()
        ),
    );
    let extra = check_toml(
        "life",
        &[script.to_str().unwrap()],
        "interval = \"300ms\"\nmax_attempts = 1",
    );
    let mut node = fleet.node_with("spooler", &[], &extra);
    let t = Duration::from_secs(15);
    fleet.wait_check("spooler", "life", t, "first life ok", |c| {
        c["output"] == "life first-life"
    });
    let addr = fleet.addr.clone();
    fleet.configd().kill9();
    // configd is away: the check goes critical and its results queue up.
    set("2 while-away");
    std::thread::sleep(Duration::from_millis(1500));
    node.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(node.wait_exit(t).success(), "{}", node.log());
    let spool = dir.join("spooler.state/spool").join("results.spool");
    assert!(
        spool.exists(),
        "unsent results kept at stop: {}",
        node.log()
    );
    set("0 second-life");
    fleet.start_configd(&addr);
    let _node = fleet.node_with("spooler", &[], &extra);
    fleet.wait_check("spooler", "life", t, "second life ok", |c| {
        c["output"] == "life second-life"
    });
    // The results from while configd was away arrived, in order, first.
    let events = fleet.events(&["check=life", "kind=check_state"]);
    let states: Vec<&str> = events
        .iter()
        .map(|e| e["state"].as_str().unwrap_or(""))
        .collect();
    assert!(
        events.iter().any(|e| e["state"] == "critical"
            && e["message"].as_str().unwrap_or("").contains("while-away")),
        "{events:?}"
    );
    assert_eq!(states.last(), Some(&"ok"), "{events:?}");
    assert!(!spool.exists(), "the spool file is removed once read");
    // Listed in time order: the replayed results among the node's
    // reconnection, not after it.
    let all = fleet.events(&[]);
    let times: Vec<&str> = all.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{all:?}");
}
