//! `monit-cli query commands`: every command the nodes offer, with its
//! typed arguments, role, inventory binding and the nodes offering it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{stderr, Fleet};
use serde_json::{json, Value};

const COMMANDS: &str = r#"
[[command]]
name = "open-zone"
description = "Open a new game zone"
argv = ["/bin/echo", "{zone}", "{date}", "{mode}", "{tag}"]
args = [
  { name = "zone", type = "int", min = 1, max = 99999 },
  { name = "date", type = "date", format = "%Y%m%d" },
  { name = "mode", type = "enum", values = ["fast", "slow"] },
  { name = "tag", type = "string", pattern = "[a-z]+", max_len = 16 },
]
timeout = "10m"
concurrency = 1
inventory = { kind = "zone", key = "zone", requires = { state = "new" }, on_success = { state = "live" } }
"#;

const EXTRA: &str = r#"
[[command]]
name = "where"
description = "prints the directory"
argv = ["/bin/pwd"]
"#;

fn json_of(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn query_commands_lists_typed_arguments_and_the_nodes_offering_them() {
    let fleet = Fleet::start_with(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n\
         [inventory.zone]\nkey = \"int\"\nattributes = { state = \"new|live|archived\" }\n",
    );
    let _a = fleet.node_with("web-1", &[], &format!("{COMMANDS}{EXTRA}"));
    let _b = fleet.node_with("web-2", &[], COMMANDS);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    fleet.wait_state("web-2", "up", Duration::from_secs(20));

    let all = json_of(&fleet.cli(&["query", "commands", "-o", "json"]));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{all:#?}");
    let open = &all[0];
    assert_eq!(open["name"], "open-zone");
    assert_eq!(open["description"], "Open a new game zone");
    assert_eq!(open["role"], "operator");
    assert_eq!(open["nodes"], json!(["web-1", "web-2"]));
    assert_eq!(
        open["usage"],
        "open-zone <zone:int 1..99999> <date:date %Y%m%d> <mode:fast|slow> <tag:string ~[a-z]+>"
    );
    let args = open["args"].as_array().unwrap();
    let types: Vec<&str> = args.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["int", "date", "enum", "string"]);
    assert_eq!(
        (args[0]["min"].clone(), args[0]["max"].clone()),
        (json!(1), json!(99999))
    );
    assert_eq!(args[1]["format"], "%Y%m%d");
    assert_eq!(args[2]["values"], json!(["fast", "slow"]));
    assert_eq!(
        (args[3]["pattern"].clone(), args[3]["max_len"].clone()),
        (json!("[a-z]+"), json!(16))
    );
    assert_eq!(
        open["inventory"],
        json!({"kind": "zone", "key": "zone", "requires": {"state": "new"}, "on_success": {"state": "live"}})
    );
    assert_eq!(all[1]["name"], "where");
    assert_eq!(all[1]["nodes"], json!(["web-1"]));
    assert_eq!(all[1]["args"], json!([]));
    assert_eq!(all[1]["inventory"], Value::Null);

    // --node narrows; a node configd never knew is an error.
    let two = json_of(&fleet.cli(&["query", "commands", "--node", "web-2", "-o", "json"]));
    assert_eq!(two.as_array().unwrap().len(), 1);
    let out = fleet.cli(&["query", "commands", "--node", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no node `nosuch`"),
        "{}",
        stderr(&out)
    );
    // The table shows the signature.
    let out = fleet.cli(&["query", "commands"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("<zone:int 1..99999>"), "{text}");
}
