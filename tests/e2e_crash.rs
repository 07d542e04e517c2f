//! Crash consistency (issue 17, item 6): kill -9 of configd in the middle
//! of an inventory import leaves all of it or none of it; a job that was
//! running when configd died is shown `lost` after the restart, never
//! `running` forever.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{stderr, wait_for, Fleet, Proc};
use serde_json::Value;

const ITEMS: u64 = 10_000;

const INVENTORY: &str = "[inventory.zone]
key = \"int\"
attributes = { state = \"new|live|archived\" }
";

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A CSV import of `ITEMS` zones with keys `round * ITEMS ..`.
fn import_file(dir: &Path, round: u64) -> std::path::PathBuf {
    let path = dir.join(format!("import-{round}.csv"));
    let mut text = String::from("kind,key,node,state\n");
    for i in 0..ITEMS {
        text.push_str(&format!("zone,{},web-{},new\n", round * ITEMS + i, i % 2));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// How many of round `round`'s items the inventory holds.
fn count(fleet: &Fleet, round: u64) -> u64 {
    let items = json(&fleet.cli(&["query", "inventory", "-o", "json"]));
    let range = round * ITEMS..(round + 1) * ITEMS;
    items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            let key = i["key"]
                .as_u64()
                .or_else(|| i["key"].as_str().and_then(|k| k.parse().ok()));
            key.is_some_and(|k| range.contains(&k))
        })
        .count() as u64
}

fn restart(fleet: &mut Fleet) {
    fleet.configd().kill9();
    fleet.start_configd("127.0.0.1:0");
}

#[test]
fn kill_9_during_an_inventory_import_leaves_all_or_nothing() {
    let mut fleet = Fleet::start_with(&format!(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"5s\"\n{INVENTORY}"
    ));
    let admin = fleet.token("root", "admin");
    // Items live on nodes configd knows (registered once is enough).
    let _nodes: Vec<Proc> = (0..2)
        .map(|i| fleet.node(&format!("web-{i}"), &[]))
        .collect();
    for i in 0..2 {
        fleet.wait_state(&format!("web-{i}"), "up", Duration::from_secs(20));
    }

    // Round 0: kill -9 right after the CLI reported success: all of it
    // must be there. It also times an import, to aim the kills below.
    let file = import_file(fleet.path(), 0);
    let started = Instant::now();
    let out = fleet.cli_as(&admin, &["inventory", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let took = started.elapsed();
    assert!(
        stderr(&out).contains(&format!("{ITEMS} item(s) changed")),
        "{}",
        stderr(&out)
    );
    restart(&mut fleet);
    assert_eq!(count(&fleet, 0), ITEMS, "acknowledged: all of it survives");

    // Rounds 1..: kill -9 at moments spread over the import (and a little
    // jitter from the clock so runs differ): before it reaches configd,
    // while configd parses and applies it, around the commit.
    let jitter = Instant::now().elapsed().subsec_nanos() as u64 % 20;
    let mut seen = Vec::new();
    for round in 1..=6u64 {
        let file = import_file(fleet.path(), round);
        let delay = took.mul_f64(round as f64 / 6.0) + Duration::from_millis(jitter);
        let mut cmd = fleet.cli_cmd(&admin, &["inventory", "import", file.to_str().unwrap()]);
        cmd.stdout(std::process::Stdio::null());
        let mut cli = Proc::spawn(&format!("cli-import-{round}"), cmd, fleet.path());
        std::thread::sleep(delay);
        fleet.configd().kill9();
        let status = cli.wait_exit(Duration::from_secs(30));
        fleet.start_configd("127.0.0.1:0");
        let n = count(&fleet, round);
        eprintln!(
            "round {round}: killed after {delay:?} (an import takes {took:?}); the CLI {}; {n} of {ITEMS} items after the restart",
            if status.success() { "reported success" } else { "failed" }
        );
        assert!(
            n == 0 || n == ITEMS,
            "round {round}: {n} of {ITEMS} items after kill -9 at {delay:?}"
        );
        if status.success() {
            assert_eq!(n, ITEMS, "round {round}: the CLI reported success");
        }
        seen.push(n);
    }
    eprintln!("items per round after the restarts: {seen:?}");
}

const COMMANDS: &str = r#"
[[command]]
name = "pause"
description = "sleeps"
argv = ["/bin/sleep", "{secs}"]
args = [{ name = "secs", type = "string", pattern = "[0-9]+" }]
timeout = "60s"
"#;

fn job(fleet: &Fleet, id: u64) -> Option<Value> {
    json(&fleet.cli(&["query", "jobs", "-o", "json"]))
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .cloned()
}

#[test]
fn a_job_running_when_configd_is_killed_is_lost_after_the_restart() {
    let mut fleet = Fleet::start_with("heartbeat_interval = \"200ms\"\nnode_dead_after = \"5s\"\n");
    let op = fleet.token("ops", "operator");
    let _node = fleet.node_with("web-1", &[], COMMANDS);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));

    // A finished job before it: it must stay as it was.
    let out = fleet.cli_as(&op, &["run", "pause", "0", "--target", "node=web-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "-d",
            "pause",
            "50",
            "--target",
            "node=web-1",
            "-o",
            "json",
        ],
    );
    let started = json(&out);
    assert_eq!(started["id"], 2);
    wait_for(Duration::from_secs(10), "job 2 running", || {
        job(&fleet, 2).filter(|j| j["targets"][0]["state"] == "running")
    });

    restart(&mut fleet);

    let lost = job(&fleet, 2).expect("job 2 is still listed");
    assert_eq!(lost["state"], "lost", "{lost}");
    assert!(lost["finished"].is_string(), "{lost}");
    assert_eq!(lost["targets"][0]["state"], "lost", "{lost}");
    assert_eq!(
        lost["targets"][0]["message"], "configd restarted while it ran",
        "{lost}"
    );
    let ok = job(&fleet, 1).unwrap();
    assert_eq!(ok["state"], "ok", "the finished job is untouched: {ok}");
    assert!(
        fleet
            .configd()
            .log()
            .contains("jobs left running by a previous configd marked lost"),
        "configd says so at start"
    );
    // And it stays that way: nothing is left to finish it later.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(job(&fleet, 2).unwrap()["state"], "lost");
}
