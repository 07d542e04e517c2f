//! Runbooks end to end: real configd, three real noded, the example
//! pack's scripts and runbooks (config/ops), zone data on disk compared
//! byte for byte before and after.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::faults::Proxy;
use common::zones::{self, tree, World, NODES};
use common::{stderr, wait_for};
use serde_json::Value;

/// A test runbook that sets an attribute, then waits: for kill -9 between
/// steps.
const SLOW: &str = r#"
[[runbook]]
name = "slow-mark"
description = "marks a zone's db, then waits"
args = [{ name = "zone", type = "key", kind = "zone" }, { name = "secs", type = "string", pattern = "[0-9]+" }]

[[runbook.step]]
name = "mark"
effects = [{ item = "zone={zone}", set = { db = "10.0.0.9" } }]

[[runbook.step]]
name = "wait"
on = "{zone.node}"
run = "pause"
args = ["{secs}"]

[[runbook]]
name = "admin-mark"
role = "admin"
args = [{ name = "zone", type = "key", kind = "zone" }]

[[runbook.step]]
name = "mark"
effects = [{ item = "zone={zone}", set = { db = "10.0.0.8" } }]
"#;

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        stderr(out),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn states(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["name"].as_str().unwrap(),
                s["state"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn move_zone_moves_a_live_zone_and_plan_changes_nothing() {
    let w = World::start(zones::TWENTY, SLOW, false);
    let before_disk = w.disk();
    let before_inv = w.inventory();
    let data = tree(&w.root("web-1").join("s103"));

    // The plan: what runs where, nothing run.
    let plan = json(&w.cli_op(&["runbook", "plan", "move-zone", "103", "web-2", "-o", "json"]));
    let plan = match plan {
        Value::Array(mut a) => a.remove(0),
        v => v,
    };
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6, "{plan}");
    assert_eq!(steps[0]["node"], "web-1");
    assert_eq!(steps[0]["command"], "pack-zone");
    assert_eq!(steps[1]["kind"], "transfer");
    assert_eq!(steps[1]["to_node"], "web-2");
    assert_eq!(steps[1]["file"], "zone-103.tar.gz");
    assert_eq!(steps[3]["changes"][0]["attr"], "node");
    assert_eq!(steps[3]["changes"][0]["from"], "web-1");
    assert_eq!(steps[3]["changes"][0]["to"], "web-2");
    assert_eq!(
        steps[4]["node"], "web-1",
        "templates read the inventory as planned"
    );
    let text = w.cli_op(&["runbook", "plan", "move-zone", "103", "web-2"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(
        text.contains("copy: zone-103.tar.gz from web-1 to web-2"),
        "{text}"
    );
    assert!(text.contains("zone 103 node: web-1 -> web-2"), "{text}");
    assert_eq!(w.disk(), before_disk, "plan changed the disk");
    assert_eq!(w.inventory(), before_inv, "plan changed the inventory");

    // Without a terminal and without --yes: refused, nothing run.
    let out = w.cli_op(&["runbook", "run", "move-zone", "103", "web-2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));

    let out = w.cli_op(&["runbook", "run", "move-zone", "103", "web-2", "--yes"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("== 2/6 copy: zone-103.tar.gz from web-1 to web-2"),
        "{err}"
    );
    assert!(err.contains("runbook move-zone ok"), "{err}");

    // Byte for byte on web-2, gone from web-1, nothing left in transfer dirs.
    assert_eq!(tree(&w.root("web-2").join("s103")), data);
    assert!(!w.root("web-1").join("s103").exists());
    for node in NODES {
        assert!(
            tree(&w.xfer(node)).is_empty(),
            "{node}: {:?}",
            tree(&w.xfer(node))
        );
    }
    let z = w.zone(103);
    assert_eq!(z["node"], "web-2");
    assert_eq!(z["attrs"]["state"], "live");

    let job = w.last_job();
    assert_eq!(job["kind"], "runbook");
    assert_eq!(job["state"], "ok", "{job}");
    assert_eq!(job["who"], "alice");
    assert!(states(&job).iter().all(|s| s.ends_with(" ok")), "{job}");
    assert!(job["steps"][1]["bytes"].as_u64().unwrap() > 50_000);
    // The inventory change is an event naming who.
    let events = w.fleet.events(&["kind=inventory"]);
    assert!(
        events
            .iter()
            .any(|e| e["who"] == "alice" && e["message"].as_str().unwrap().contains("zone=103")),
        "{events:?}"
    );

    // Moving it where it is: every step skipped, nothing changes.
    let before_disk = w.disk();
    let out = w.cli_op(&["runbook", "run", "move-zone", "103", "web-2", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("skipped"), "{}", stderr(&out));
    assert_eq!(w.disk(), before_disk);
}

#[test]
fn merge_zones_merges_across_nodes() {
    let w = World::start(zones::TWENTY, SLOW, false);
    let d101 = tree(&w.root("web-1").join("s101"));
    let d202 = tree(&w.root("web-2").join("s202"));
    let out = w.cli_op(&[
        "runbook",
        "run",
        "merge-zones",
        "201",
        "101",
        "202",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let target = w.root("web-2").join("s201");
    assert_eq!(tree(&target.join("merged/s101")), d101);
    assert_eq!(tree(&target.join("merged/s202")), d202);
    assert!(
        target.join("players.db").exists(),
        "the target keeps its own data"
    );
    for (key, node) in [(101, "web-1"), (202, "web-2")] {
        let z = w.zone(key);
        assert_eq!(z["attrs"]["state"], "archived", "{z}");
        assert_eq!(z["attrs"]["merged_into"], 201, "{z}");
        assert_eq!(z["node"], node);
        assert!(w.root(node).join(format!("archive/s{key}.tar.gz")).exists());
        assert!(!w.root(node).join(format!("s{key}")).exists());
    }
    assert!(
        !w.root("web-2").join("s101").exists(),
        "the copy was removed"
    );
    assert_eq!(w.zone(201)["attrs"]["state"], "live");
    let job = w.last_job();
    assert_eq!(job["state"], "ok", "{job}");
    for s in states(&job) {
        assert!(s.ends_with(" ok") || s.ends_with(" skipped"), "{s}");
    }
    // `job show` as text lists every step.
    let out = w.fleet.cli(&["job", "show", &job["id"].to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("merge 101 on web-2: merge-zone 201 101 [ok]"),
        "{text}"
    );

    // Preconditions: every zone live (101 is archived now); an item twice.
    let out = w.cli_op(&["runbook", "run", "merge-zones", "201", "101", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("state=live is required"),
        "{}",
        stderr(&out)
    );
    let out = w.cli_op(&["runbook", "plan", "merge-zones", "201", "203", "203"]);
    assert!(stderr(&out).contains("named twice"), "{}", stderr(&out));
}

#[test]
fn a_failed_merge_is_undone() {
    let w = World::start(zones::TWENTY, SLOW, false);
    // Zone 202's directory is replaced by an unreadable file: its merge
    // step (after 101's pack, copy, unpack and merge) fails.
    let s202 = w.root("web-2").join("s202");
    std::fs::remove_dir_all(&s202).unwrap();
    std::fs::write(&s202, "not a directory").unwrap();
    std::fs::set_permissions(&s202, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let before_disk = w.disk();
    let before_inv = w.inventory();
    let out = w.cli_op(&[
        "runbook",
        "run",
        "merge-zones",
        "201",
        "101",
        "202",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("runbook merge-zones failed"), "{err}");
    assert_eq!(w.disk(), before_disk, "disk as before");
    assert_eq!(w.inventory(), before_inv, "inventory as before");
    let job = w.last_job();
    assert_eq!(job["state"], "failed");
    let msg = job["message"].as_str().unwrap();
    assert!(msg.contains("failed at step 8 (merge)"), "{msg}");
    assert!(
        msg.contains("undone: 7 merge, 5 unpack, 3 copy, 1 pack"),
        "{msg}"
    );
    let st = states(&job);
    assert_eq!(st[0], "pack undone");
    assert_eq!(st[2], "copy undone");
    assert_eq!(st[4], "unpack undone");
    assert_eq!(st[6], "merge undone");
    assert_eq!(st[7], "merge failed");
    assert_eq!(job["steps"][6]["undo"]["state"], "ok");
    assert_eq!(job["steps"][6]["undo"]["command"], "unmerge-zone");
}

#[test]
fn roles_and_refusals_are_events() {
    let w = World::start(zones::TWENTY, SLOW, false);
    // query commands lists configd's runbooks beside the nodes' commands.
    let list = json(&w.fleet.cli(&["query", "commands", "-o", "json"]));
    let merge = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "merge-zones")
        .expect("merge-zones listed");
    assert_eq!(merge["kind"], "runbook");
    assert_eq!(merge["role"], "operator");
    assert_eq!(merge["args"][1]["type"], "keys");
    assert_eq!(merge["args"][1]["requires"]["state"], "live");
    let admin_only = json(&w.fleet.cli(&[
        "query",
        "commands",
        "-o",
        "json",
        "-f",
        "kind=runbook",
        "-f",
        "role=admin",
    ]));
    let names: Vec<&str> = admin_only
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin-mark"]);
    let one_node = json(
        &w.fleet
            .cli(&["query", "commands", "--node", "web-1", "-o", "json"]),
    );
    assert!(one_node
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["kind"] == "command"));

    // An operator runs an admin runbook: refused, and an event names her.
    let out = w.cli_op(&["runbook", "run", "admin-mark", "101", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs an admin token"),
        "{}",
        stderr(&out)
    );
    let out = w
        .fleet
        .cli_as(&w.admin, &["runbook", "run", "admin-mark", "101", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A viewer cannot run any.
    let out = w
        .fleet
        .cli(&["runbook", "run", "slow-mark", "101", "1", "--yes"]);
    assert_eq!(out.status.code(), Some(3));
    // Type errors and unknown runbooks are refused and recorded.
    let out = w.cli_op(&["runbook", "run", "slow-mark", "101", "soon", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("argument `secs`"), "{}", stderr(&out));
    let out = w.cli_op(&["runbook", "run", "move-zone", "103", "web-9", "--yes"]);
    assert!(stderr(&out).contains("no node `web-9`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean"), "{}", stderr(&out));
    let out = w.cli_op(&["runbook", "plan", "mvzone", "103", "web-2"]);
    assert!(
        stderr(&out).contains("runbooks: move-zone, merge-zones"),
        "{}",
        stderr(&out)
    );
    let events = w.fleet.events(&["kind=runbook_refused"]);
    let whys: Vec<String> = events
        .iter()
        .map(|e| format!("{} {}", e["who"], e["message"]))
        .collect();
    assert!(
        whys.iter()
            .any(|m| m.contains("alice") && m.contains("admin-mark") && m.contains("admin token")),
        "{whys:?}"
    );
    assert!(
        whys.iter()
            .any(|m| m.contains("alice") && m.contains("argument `secs`")),
        "{whys:?}"
    );
    assert!(whys.iter().any(|m| m.contains("web-9")), "{whys:?}");
}

#[test]
fn kill_9_between_steps_leaves_a_failed_job_with_its_undo() {
    let mut w = World::start(zones::TWENTY, SLOW, false);
    let before = w.zone(104);
    let mut run = w.fleet.cli_spawn_as(
        &w.op.clone(),
        "runbook",
        &["runbook", "run", "slow-mark", "104", "30", "--yes"],
    );
    common::wait_for(Duration::from_secs(20), "the wait step", || {
        (w.zone(104)["attrs"]["db"] == "10.0.0.9").then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    w.fleet.configd().kill9();
    run.wait_exit(Duration::from_secs(10));
    w.fleet.start_configd(&w.fleet.addr.clone());
    let job = w.last_job();
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(states(&job), ["mark ok", "wait lost"]);
    let msg = job["message"].as_str().unwrap();
    assert!(msg.contains("at step 2 (wait)"), "{msg}");
    assert!(msg.contains("monit-cli runbook undo"), "{msg}");
    // The undo it names reverts the completed step.
    let id = job["id"].to_string();
    for node in NODES {
        w.fleet.wait_state(node, "up", Duration::from_secs(20));
    }
    let out = w.cli_op(&["runbook", "undo", &id, "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.zone(104), before);
    let job = w.job(job["id"].as_u64().unwrap());
    assert_eq!(states(&job), ["mark undone", "wait lost"]);
    // Twice: nothing left to undo.
    let out = w.cli_op(&["runbook", "undo", &id, "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no completed step left"),
        "{}",
        stderr(&out)
    );
    let _ = &mut w.nodes;
}

#[test]
fn a_transfer_cut_by_killing_the_destination_leaves_nothing() {
    let mut w = World::start(zones::TWENTY, SLOW, false);
    // Zone 105 gets 8 MB of data; web-2 dials through a proxy that passes
    // 1 MB/s, so the copy takes seconds and can be cut in the middle.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let big: Vec<u8> = (0..8_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(w.root("web-1").join("s105/big.db"), big).unwrap();
    drop(w.nodes.remove("web-2"));
    let proxy = Proxy::start(&w.fleet.addr);
    proxy.limit(1_000_000);
    w.start_node_via("web-2", &proxy.addr.clone());
    w.fleet.wait_state("web-2", "up", Duration::from_secs(20));
    let before_inv = w.inventory();
    let web1_before = tree(&w.root("web-1"));
    let mut run = w.fleet.cli_spawn_as(
        &w.op.clone(),
        "runbook",
        &["runbook", "run", "move-zone", "105", "web-2", "--yes"],
    );
    let xfer2 = w.xfer("web-2");
    wait_for(Duration::from_secs(30), "a partial file at web-2", || {
        std::fs::read_dir(&xfer2)
            .ok()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".monit-part"))
            .then_some(())
    });
    w.nodes.get_mut("web-2").unwrap().kill9();
    let status = run.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "the runbook fails: {}", run.log());
    let job = w.last_job();
    assert_eq!(job["state"], "failed", "{job}");
    let st = states(&job);
    assert_eq!(st[0], "pack undone", "{job}");
    assert_eq!(st[1], "copy failed", "{job}");
    assert!(
        job["steps"][1]["message"]
            .as_str()
            .unwrap()
            .contains("web-2"),
        "{job}"
    );
    // web-2 back (directly): its leftover is removed at start; nothing of
    // zone 105 is there, web-1 is as it was, the inventory unchanged.
    drop(w.nodes.remove("web-2"));
    w.start_node("web-2");
    w.fleet.wait_state("web-2", "up", Duration::from_secs(20));
    wait_for(
        Duration::from_secs(10),
        "web-2's transfer dir empty",
        || tree(&xfer2).is_empty().then_some(()),
    );
    assert!(!w.root("web-2").join("s105").exists());
    assert_eq!(tree(&w.root("web-1")), web1_before);
    assert!(tree(&w.xfer("web-1")).is_empty(), "the pack was undone");
    assert_eq!(w.inventory(), before_inv);
}
