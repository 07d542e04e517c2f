//! Jobs outlive the client that started them: a `run` killed with SIGKILL
//! leaves its job running to the end; `job show -f` reattaches (output so
//! far, then live); `run --detach` returns at once; `job cancel` stops one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{stderr, wait_for, Fleet, Proc};
use serde_json::Value;

const COMMANDS: &str = r#"
[[command]]
name = "steps"
description = "prints four lines over three seconds, one on stderr"
argv = ["/bin/sh", "-c", "echo one; sleep 1; echo two; sleep 1; echo three >&2; sleep 1; echo four"]
timeout = "20s"

[[command]]
name = "pause"
description = "sleeps"
argv = ["/bin/sleep", "{secs}"]
args = [{ name = "secs", type = "string", pattern = "[0-9]+(\\.[0-9]+)?" }]
timeout = "60s"
"#;

fn jobs(fleet: &Fleet) -> Vec<Value> {
    let out = fleet.cli(&["query", "jobs", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn state_of(fleet: &Fleet, id: &str) -> Option<String> {
    jobs(fleet)
        .into_iter()
        .find(|j| j["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id))
        .map(|j| j["targets"][0]["state"].as_str().unwrap().to_string())
}

fn count(text: &str, line: &str) -> usize {
    text.lines().filter(|l| *l == line).count()
}

#[test]
fn a_job_outlives_its_client_and_can_be_reattached_detached_and_cancelled() {
    let fleet = Fleet::start_with("heartbeat_interval = \"200ms\"\nnode_dead_after = \"5s\"\n");
    let op = fleet.token("ops", "operator");
    let _node = fleet.node_with("web-1", &[], COMMANDS);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));

    // The client is killed with SIGKILL while the job runs.
    let mut run = Proc::spawn(
        "cli-run",
        {
            let mut c = fleet.cli_cmd(&op, &["run", "steps", "--target", "node=web-1"]);
            c.stdout(std::process::Stdio::null());
            c
        },
        fleet.path(),
    );
    wait_for(Duration::from_secs(10), "the job to print", || {
        run.log().contains("job 1 started").then_some(())
    });
    std::thread::sleep(Duration::from_millis(1300));
    run.kill9();
    // A new client reattaches: the output so far, then live, each once.
    let out = fleet.cli(&["job", "show", "-f", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "web-1: one",
        "web-1: two",
        "web-1 [stderr]: three",
        "web-1: four",
    ] {
        assert_eq!(count(&text, line), 1, "{line} once in:\n{text}");
    }
    assert!(text.contains("job 1 ok"), "{text}");
    assert_eq!(state_of(&fleet, "1").as_deref(), Some("ok"));

    // --detach prints the id and returns while the job runs on.
    let started = Instant::now();
    let out = fleet.cli_as(&op, &["run", "--detach", "steps", "--target", "node=web-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "returned at once"
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(id, "2", "only the id on stdout");
    assert_eq!(state_of(&fleet, "2").as_deref(), Some("running"));
    wait_for(Duration::from_secs(10), "the detached job to end", || {
        (state_of(&fleet, "2").as_deref() == Some("ok")).then_some(())
    });
    let out = fleet.cli(&["job", "show", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("four"), "the stored output: {text}");

    // job cancel: operator only; stops it on the node.
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "-d",
            "pause",
            "59.125",
            "--target",
            "node=web-1",
            "-o",
            "json",
        ],
    );
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(started["id"], 3);
    assert_eq!(started["targets"][0], "web-1");
    let out = fleet.cli(&["job", "cancel", "3"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a viewer cannot: {}",
        stderr(&out)
    );
    let out = fleet.cli_as(&op, &["job", "cancel", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(Duration::from_secs(10), "the job cancelled", || {
        (state_of(&fleet, "3").as_deref() == Some("cancelled")).then_some(())
    });
    let out = fleet.cli_as(&op, &["job", "cancel", "3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not running"), "{}", stderr(&out));
}
