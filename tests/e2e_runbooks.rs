//! Runbooks end to end: real configd, three real noded, the example
//! pack's scripts and runbooks (config/ops), zone data on disk compared
//! byte for byte before and after.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{stderr, Fleet, Proc};
use serde_json::Value;
use sha2::{Digest, Sha256};

const NODES: [&str; 3] = ["web-1", "web-2", "web-3"];

fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ops")
}

fn inventory_kinds() -> String {
    "[inventory.zone]
key = \"int\"
attributes = { domain = \"string\", group = \"int\", state = \"new|live|archived\", db = \"ip\", dbc = \"ip\", merged_into = \"int\" }
defaults = { group = \"{key}\" }
"
    .to_string()
}

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

struct World {
    fleet: Fleet,
    admin: PathBuf,
    op: PathBuf,
    nodes: BTreeMap<&'static str, Proc>,
}

impl World {
    fn root(&self, node: &str) -> PathBuf {
        self.fleet.path().join(format!("{node}-game"))
    }

    fn xfer(&self, node: &str) -> PathBuf {
        self.fleet.path().join(format!("{node}-xfer"))
    }

    fn start_node(&mut self, node: &'static str) {
        let pack = std::fs::read_to_string(ops_dir().join("commands.toml"))
            .unwrap()
            .replace("/etc/monit/ops", ops_dir().to_str().unwrap())
            .replace("/srv/game", self.root(node).to_str().unwrap())
            .replace("/var/lib/monit/transfer", self.xfer(node).to_str().unwrap());
        let extra = format!(
            "{pack}\n[[command]]\nname = \"pause\"\nargv = [\"/bin/sleep\", \"{{secs}}\"]\nargs = [{{ name = \"secs\", type = \"string\", pattern = \"[0-9]+\" }}]\ntimeout = \"60s\"\n"
        );
        let token = self.fleet.node_token(node);
        let top = format!("transfer_dir = \"{}\"\n", self.xfer(node).display());
        let proc = self.fleet.node_top(node, &token, &top, &[], &extra, &[]);
        self.nodes.insert(node, proc);
    }

    /// Three nodes; zones 101-107 on web-1, 201-207 on web-2, 301-306 on
    /// web-3 (20), each live with a directory of data.
    fn start() -> World {
        let runbooks = std::fs::read_to_string(ops_dir().join("runbooks.toml")).unwrap();
        let fleet = Fleet::start_with(&format!(
            "heartbeat_interval = \"200ms\"\nnode_dead_after = \"2s\"\n{}\n{runbooks}\n{SLOW}",
            inventory_kinds()
        ));
        let admin = fleet.token("root", "admin");
        let op = fleet.token("alice", "operator");
        let mut w = World {
            fleet,
            admin,
            op,
            nodes: BTreeMap::new(),
        };
        let mut csv = String::from("kind,key,node,state\n");
        for (n, node) in NODES.iter().enumerate() {
            std::fs::create_dir_all(w.xfer(node)).unwrap();
            let count = if n == 2 { 6 } else { 7 };
            for i in 1..=count {
                let zone = (n + 1) * 100 + i;
                let dir = w.root(node).join(format!("s{zone}"));
                std::fs::create_dir_all(dir.join("conf")).unwrap();
                std::fs::write(dir.join("conf/game.ini"), format!("zone={zone}\n")).unwrap();
                let data: Vec<u8> = (0..50_000u32)
                    .map(|x| (x.wrapping_mul(2_654_435_761).wrapping_add(zone as u32) >> 13) as u8)
                    .collect();
                std::fs::write(dir.join("players.db"), data).unwrap();
                csv.push_str(&format!("zone,{zone},{node},live\n"));
            }
            w.start_node(node);
        }
        for node in NODES {
            w.fleet.wait_state(node, "up", Duration::from_secs(20));
        }
        let file = w.fleet.path().join("zones.csv");
        std::fs::write(&file, csv).unwrap();
        let out = w
            .fleet
            .cli_as(&w.admin, &["inventory", "import", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        w
    }

    fn cli_op(&self, args: &[&str]) -> std::process::Output {
        self.fleet.cli_as(&self.op, args)
    }

    fn inventory(&self) -> Vec<Value> {
        let out = self.fleet.cli(&["query", "inventory", "-o", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn zone(&self, key: u64) -> Value {
        self.inventory()
            .into_iter()
            .find(|i| i["key"].to_string().trim_matches('"') == key.to_string())
            .unwrap()
    }

    /// Every file under every node's zone root and transfer dir, with its
    /// SHA-256.
    fn disk(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for node in NODES {
            for base in [self.root(node), self.xfer(node)] {
                walk(&base, &base, node, &mut out);
            }
        }
        out
    }

    fn job(&self, id: u64) -> Value {
        let out = self
            .fleet
            .cli(&["job", "show", &id.to_string(), "-o", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        match v {
            Value::Array(mut a) => a.remove(0),
            v => v,
        }
    }

    fn last_job(&self) -> Value {
        let out = self.fleet.cli(&["query", "jobs", "-o", "json"]);
        let jobs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        let id = jobs
            .iter()
            .map(|j| j["id"].as_u64().unwrap())
            .max()
            .unwrap();
        self.job(id)
    }
}

fn walk(base: &Path, dir: &Path, node: &str, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let path = e.path();
        let rel = format!(
            "{node}:{}:{}",
            base.file_name().unwrap().to_string_lossy(),
            path.strip_prefix(base).unwrap().display()
        );
        if e.file_type().unwrap().is_dir() {
            out.insert(rel, "dir".into());
            walk(base, &path, node, out);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            out.insert(rel, hex::encode(Sha256::digest(&bytes)));
        }
    }
}

/// The files of `dir` relative to it, with their SHA-256.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(dir, dir, "", &mut out);
    out.into_iter()
        .map(|(k, v)| (k.splitn(3, ':').nth(2).unwrap().to_string(), v))
        .collect()
}

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
    let w = World::start();
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
    let w = World::start();
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
        assert_eq!(z["attrs"]["merged_into"], "201", "{z}");
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
    let w = World::start();
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
    let w = World::start();
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
    let mut w = World::start();
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
