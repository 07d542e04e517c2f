//! Commands bound to an inventory item run on the item's node and only
//! there; per-command roles; every refused run is an event naming who,
//! what and why; inventory writes refuse nodes configd never knew. Real
//! configd, three real nodes with the example pack on sandbox roots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::ops_pack::{pack, zone_root};
use common::{stderr, Fleet, Proc};
use serde_json::Value;

const CONFIGD: &str = "heartbeat_interval = \"200ms\"\nnode_dead_after = \"2s\"\n\
[inventory.zone]\nkey = \"int\"\nattributes = { state = \"new|live|archived\" }\n";

/// Extra commands: a bound one that holds its zone a while, an unbound one.
const EXTRA: &str = r#"
[[command]]
name = "hold-zone"
description = "keeps its zone busy"
argv = ["/bin/sleep", "3"]
args = [{ name = "zone", type = "int", min = 1, max = 99999 }]
timeout = "20s"
inventory = { kind = "zone", key = "zone" }

[[command]]
name = "where"
description = "prints the directory"
argv = ["/bin/pwd"]
"#;

const NODES: [&str; 3] = ["web-1", "web-2", "web-3"];

struct Setup {
    fleet: Fleet,
    admin: PathBuf,
    op: PathBuf,
    roots: Vec<PathBuf>,
    _nodes: Vec<Proc>,
}

fn setup() -> Setup {
    let fleet = Fleet::start_with(CONFIGD);
    let admin = fleet.token("root", "admin");
    let op = fleet.token("ops", "operator");
    let roots: Vec<PathBuf> = NODES.iter().map(|n| zone_root(fleet.path(), n)).collect();
    let nodes = NODES
        .iter()
        .zip(&roots)
        .map(|(n, r)| fleet.node_with(n, &[("role", "web")], &format!("{}{EXTRA}", pack(r))))
        .collect();
    for n in NODES {
        fleet.wait_state(n, "up", Duration::from_secs(20));
    }
    // 301 on web-3, 401 and 103 on web-1, 701 on web-3, 501 on web-2.
    let csv = "kind,key,node,state\nzone,301,web-3,new\nzone,401,web-1,new\n\
               zone,103,web-1,new\nzone,701,web-3,new\nzone,501,web-2,new\n";
    std::fs::write(fleet.path().join("zones.csv"), csv).unwrap();
    let file = fleet.path().join("zones.csv");
    let out = fleet.cli_as(&admin, &["inventory", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    Setup {
        fleet,
        admin,
        op,
        roots,
        _nodes: nodes,
    }
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn inventory(fleet: &Fleet) -> Value {
    json(&fleet.cli(&["query", "inventory", "-o", "json"]))
}

fn jobs(fleet: &Fleet) -> usize {
    json(&fleet.cli(&["query", "jobs", "-o", "json"]))
        .as_array()
        .unwrap()
        .len()
}

/// Every file under the zone roots, with its contents.
fn disk(roots: &[PathBuf]) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                out.push((p.clone(), vec![]));
                walk(&p, out);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    for r in roots {
        walk(r, &mut out);
    }
    out
}

/// The one refusal event of `kind` whose message contains `what`.
fn event_with(fleet: &Fleet, kind: &str, what: &str) -> Value {
    let found: Vec<Value> = fleet
        .events(&[&format!("kind={kind}")])
        .into_iter()
        .filter(|e| e["message"].as_str().unwrap().contains(what))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} event with `{what}`: {found:#?}");
    found.into_iter().next().unwrap()
}

/// Refused with exit `code`, one line containing `want`.
fn refused(out: &Output, code: i32, want: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(want), "wanted `{want}` in: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn bound_commands_run_on_their_items_node_only() {
    let s = setup();
    let (fleet, op, admin) = (&s.fleet, &s.op, &s.admin);
    let inv_before = inventory(fleet);
    let disk_before = disk(&s.roots);

    // The issue's three cases: another node, every node, another item's node.
    let out = fleet.cli_as(
        op,
        &[
            "run",
            "open-zone",
            "301",
            "20151011",
            "--target",
            "node=web-1",
        ],
    );
    refused(
        &out,
        1,
        "zone 301 lives on web-3; run it there (leave out --target) or, as admin, add --force-target --reason TEXT",
    );
    // Refused before any confirmation: no --yes needed to hear it.
    let out = fleet.cli_as(
        op,
        &["run", "open-zone", "401", "20151011", "--target", "all"],
    );
    refused(&out, 1, "zone 401 lives on web-1");
    let out = fleet.cli_as(
        op,
        &[
            "run",
            "open-zone",
            "401",
            "20151011",
            "--target",
            "label.role=web",
            "--yes",
        ],
    );
    refused(&out, 1, "zone 401 lives on web-1");
    let out = fleet.cli_as(
        op,
        &[
            "run",
            "open-zone",
            "701",
            "20151011",
            "--target",
            "zone=103",
        ],
    );
    refused(&out, 1, "zone 701 lives on web-3");
    assert_eq!(jobs(fleet), 0, "nothing ran");
    assert_eq!(inventory(fleet), inv_before, "inventory unchanged");
    assert_eq!(disk(&s.roots), disk_before, "disk unchanged");

    // Each refusal is an event: who by name, what, why.
    let ev = event_with(
        fleet,
        "run_refused",
        "open-zone 301 20151011 --target node=web-1",
    );
    assert_eq!(ev["who"], "ops");
    assert_eq!(ev["state"], "binding");
    assert_eq!(ev["node"], "web-3");
    assert!(
        ev["message"]
            .as_str()
            .unwrap()
            .contains("zone 301 lives on web-3"),
        "{ev}"
    );
    let binding = fleet.events(&["kind=run_refused", "state=binding"]);
    assert_eq!(binding.len(), 4, "{binding:#?}");

    // Without --target: on the item's node, and only there.
    let out = fleet.cli_as(op, &["run", "open-zone", "301", "20151011"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("web-3: opened zone 301"), "{text}");
    assert!(s.roots[2].join("s301/open_time").exists());
    assert!(!s.roots[0].join("s301").exists() && !s.roots[1].join("s301").exists());
    let z = json(&fleet.cli(&["query", "inventory", "-f", "key=301", "-o", "json"]));
    assert_eq!(z[0]["attrs"]["state"], "live");
    // Naming the item's own node is fine too.
    let out = fleet.cli_as(
        op,
        &[
            "run",
            "change-zone-time",
            "301",
            "20161011",
            "--target",
            "node=web-3",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // An operator cannot force a target.
    let out = fleet.cli_as(
        op,
        &[
            "run",
            "open-zone",
            "701",
            "20151011",
            "--target",
            "node=web-1",
            "--force-target",
            "--reason",
            "web-3 is gone",
        ],
    );
    refused(
        &out,
        3,
        "--force-target needs an admin token; `ops` is operator",
    );
    let ev = event_with(
        fleet,
        "run_refused",
        "open-zone 701 20151011 --target node=web-1 --force-target",
    );
    assert_eq!(
        (ev["who"].as_str(), ev["state"].as_str()),
        (Some("ops"), Some("role"))
    );
    assert!(!s.roots[0].join("s701").exists());
    // Nor may an admin fan out a bound command.
    let out = fleet.cli_as(
        admin,
        &[
            "run",
            "open-zone",
            "701",
            "20151011",
            "--target",
            "all",
            "--yes",
            "--force-target",
            "--reason",
            "everywhere",
        ],
    );
    refused(&out, 1, "never on 3 at once");
    // An admin may force one node, with a reason: it runs there, recorded.
    let out = fleet.cli_as(
        admin,
        &[
            "run",
            "open-zone",
            "701",
            "20151011",
            "--target",
            "node=web-1",
            "--force-target",
            "--reason",
            "web-3 disk died, ticket 4242",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(s.roots[0].join("s701/open_time").exists());
    assert!(!s.roots[2].join("s701").exists());
    let ev = event_with(fleet, "run_forced", "open-zone 701");
    assert_eq!(ev["who"], "root");
    assert_eq!(ev["node"], "web-1");
    let msg = ev["message"].as_str().unwrap();
    assert!(
        msg.contains("zone 701 lives on web-3") && msg.contains("web-3 disk died, ticket 4242"),
        "{msg}"
    );
    // --force-target without --reason is a usage error before connecting.
    let out = fleet.cli_as(
        admin,
        &[
            "run",
            "open-zone",
            "401",
            "20151011",
            "--target",
            "node=web-2",
            "--force-target",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // A command bound to nothing still needs a target, and says so.
    let out = fleet.cli_as(op, &["run", "where"]);
    refused(&out, 1, "give --target");
    assert_eq!(
        event_with(fleet, "run_refused", "run where refused")["state"],
        "target"
    );
    let out = fleet.cli_as(op, &["run", "where", "--target", "node=web-2"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn roles_and_refusals_are_events() {
    let s = setup();
    let (fleet, op, admin) = (&s.fleet, &s.op, &s.admin);

    // archive-zone is role = "admin" in the pack.
    let out = fleet.cli_as(op, &["run", "open-zone", "501", "20151011"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = fleet.cli_as(op, &["run", "archive-zone", "501"]);
    refused(&out, 3, "`archive-zone` needs an admin token");
    assert!(s.roots[1].join("s501").exists(), "not archived");
    let ev = event_with(fleet, "run_refused", "archive-zone 501");
    assert_eq!(
        (ev["who"].as_str(), ev["state"].as_str()),
        (Some("ops"), Some("role"))
    );
    assert!(
        ev["message"]
            .as_str()
            .unwrap()
            .contains("needs an admin token"),
        "{ev}"
    );
    let out = fleet.cli_as(admin, &["run", "archive-zone", "501"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(s.roots[1].join("archive/s501.tar.gz").exists());

    // A viewer's run is refused and recorded under the viewer's name.
    let out = fleet.cli(&["run", "open-zone", "301", "20151011"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let ev = event_with(fleet, "run_refused", "run open-zone 301 20151011 refused");
    assert_eq!(
        (ev["who"].as_str(), ev["state"].as_str()),
        (Some("viewer"), Some("role"))
    );

    // Type error, precondition, unknown command, busy: each an event with
    // the line the client got.
    let out = fleet.cli_as(op, &["run", "open-zone", "301", "2015-10-11"]);
    refused(&out, 1, "argument `date`");
    let ev = event_with(fleet, "run_refused", "open-zone 301 2015-10-11");
    assert_eq!(ev["state"], "type");
    assert!(
        ev["message"]
            .as_str()
            .unwrap()
            .contains("argument `date` of `open-zone`"),
        "the client's line: {ev}"
    );
    let out = fleet.cli_as(op, &["run", "open-zone", "501", "20151011"]);
    refused(&out, 1, "precondition failed");
    assert_eq!(
        event_with(fleet, "run_refused", "open-zone 501")["state"],
        "precondition"
    );
    let out = fleet.cli_as(op, &["run", "open-zoen", "301", "20151011"]);
    refused(&out, 1, "no node offers a command `open-zoen`");
    assert_eq!(
        event_with(fleet, "run_refused", "open-zoen")["state"],
        "unknown"
    );
    let out = fleet.cli_as(op, &["run", "-d", "hold-zone", "301"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = fleet.cli_as(op, &["run", "hold-zone", "301"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("another job is acting on zone 301"),
        "{}",
        stderr(&out)
    );
    let ev = event_with(fleet, "run_refused", "another job");
    assert_eq!(
        (ev["who"].as_str(), ev["state"].as_str()),
        (Some("ops"), Some("busy"))
    );
    assert_eq!(ev["node"], "web-3");
    // The table view of the events shows them too.
    let out = fleet.cli(&["query", "events", "-f", "kind=run_refused"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("run_refused"));
}

#[test]
fn inventory_refuses_nodes_configd_never_knew() {
    let s = setup();
    let (fleet, admin) = (&s.fleet, &s.admin);
    let before = inventory(fleet);
    let out = fleet.cli_as(
        admin,
        &["inventory", "add", "zone", "999", "node=web-9", "state=new"],
    );
    refused(&out, 1, "node `web-9` is not known to configd");
    assert!(
        stderr(&out).contains("did you mean web-1, web-2, web-3?"),
        "{}",
        stderr(&out)
    );
    let out = fleet.cli_as(admin, &["inventory", "update", "zone", "301", "node=wbe-3"]);
    refused(&out, 1, "did you mean web-3");
    let bad = "kind,key,node,state\nzone,900,web-1,new\nzone,901,db-1,new\n";
    let file = fleet.path().join("bad.csv");
    std::fs::write(&file, bad).unwrap();
    let out = fleet.cli_as(admin, &["inventory", "import", file.to_str().unwrap()]);
    refused(&out, 1, "line 3: node `db-1` is not known");
    assert!(
        stderr(&out).contains("nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(inventory(fleet), before, "nothing changed");
    // A known node is fine, up or not.
    let out = fleet.cli_as(admin, &["inventory", "update", "zone", "301", "node=web-2"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn query_commands_shows_roles_and_filters_by_node() {
    let s = setup();
    let fleet = &s.fleet;
    let all = json(&fleet.cli(&["query", "commands", "--node", "web-2", "-o", "json"]));
    let all = all.as_array().unwrap();
    for c in all {
        assert_eq!(c["nodes"], serde_json::json!(["web-2"]), "{c}");
    }
    // The pack's commands plus this test's, each once.
    let pack = pack(Path::new("/x"));
    let offered = pack.matches("[[command]]").count() + EXTRA.matches("[[command]]").count();
    assert_eq!(all.len(), offered, "{all:#?}");
    let everywhere = json(&fleet.cli(&["query", "commands", "-f", "name=open-zone", "-o", "json"]));
    // One offer per node: each node's argv names its own sandbox root.
    let nodes: Vec<&Value> = everywhere
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["nodes"][0])
        .collect();
    assert_eq!(nodes, ["web-1", "web-2", "web-3"], "{everywhere:#}");
    // With a filter on top: the admin-only ones.
    let admin_only = json(&fleet.cli(&[
        "query",
        "commands",
        "--node",
        "web-2",
        "-f",
        "role=admin",
        "-o",
        "json",
    ]));
    assert_eq!(admin_only.as_array().unwrap().len(), 1, "{admin_only:#}");
    assert_eq!(admin_only[0]["name"], "archive-zone");
    assert_eq!(admin_only[0]["role"], "admin");
    assert_eq!(admin_only[0]["nodes"], serde_json::json!(["web-2"]));
    assert_eq!(admin_only[0]["inventory"]["kind"], "zone");
    let out = fleet.cli(&["query", "commands", "-f", "nosuch=1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = fleet.cli(&["query", "commands", "--node", "web-1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("archive-zone")
            && l.contains("admin")
            && l.contains("zone's node")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("where") && l.contains("operator") && l.contains("--target")),
        "{text}"
    );
}
