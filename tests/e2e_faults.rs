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
