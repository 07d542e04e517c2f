//! Output made for scripts, with the real binaries: tables never cut in a
//! pipe, `-o csv` that Python's csv module reads, an unknown `-o` as a
//! usage error, structured answers of write commands, `run -o jsonl`, and
//! a `--node` configd never knew.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{stderr, wait_for, Fleet};
use serde_json::Value;

/// A name longer than any column a table cuts on a terminal.
const LONG: &str = "web-node-with-a-name-longer-than-any-column-01";

const CONFIG: &str = "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n\
[inventory.zone]\nkey = \"int\"\nattributes = { state = \"new|live\" }\n";

fn node_extra() -> &'static str {
    "[[check]]\nname = \"passive\"\nfreshness = \"1h\"\nmax_attempts = 1\n\
     [[command]]\nname = \"lines\"\ndescription = \"two lines out, one err\"\n\
     argv = [\"/bin/sh\", \"-c\", \"echo 'one, \\\"two\\\"'; echo three; echo oops >&2\"]\n"
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "failed: {}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `text` parsed by Python's csv module, as a list of dicts.
fn python_csv(text: &[u8]) -> Vec<serde_json::Map<String, Value>> {
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys\nprint(json.dumps(list(csv.DictReader(sys.stdin))))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed");
    py.stdin.take().unwrap().write_all(text).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(out.status.success(), "python's csv module refused: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `monit-cli ARGS | cat` through a real shell pipe, with a narrow
/// `$COLUMNS` that must not matter there.
fn through_cat(fleet: &Fleet, args: &[&str]) -> String {
    let mut cli = vec![common::bin("monit-cli").display().to_string()];
    cli.extend(["--server".into(), fleet.addr.clone(), "--token-file".into()]);
    cli.push(fleet.viewer.display().to_string());
    cli.extend(args.iter().map(|a| a.to_string()));
    let out = common::command("monit-cli", fleet.path())
        .env("COLUMNS", "40")
        .output_of_shell(&format!("{} | cat", cli.join(" ")));
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

trait ShellExt {
    fn output_of_shell(&mut self, line: &str) -> Output;
}

impl ShellExt for Command {
    /// Runs `line` in `sh -c` with this command's environment.
    fn output_of_shell(&mut self, line: &str) -> Output {
        let mut sh = Command::new("/bin/sh");
        sh.args(["-c", line]);
        for (k, v) in self.get_envs() {
            match v {
                Some(v) => sh.env(k, v),
                None => sh.env_remove(k),
            };
        }
        sh.stdin(Stdio::null()).output().unwrap()
    }
}

#[test]
fn tables_in_a_pipe_csv_and_bad_formats() {
    let fleet = Fleet::start_with(CONFIG);
    let labels = [("role", "web"), ("owner", "team-with-a-long-name-too")];
    let _node = fleet.node_with(LONG, &labels, node_extra());
    fleet.wait_state(LONG, "up", Duration::from_secs(15));

    // Tables in a pipe: nothing cut, whatever $COLUMNS says.
    let table = through_cat(&fleet, &["query", "nodes"]);
    assert!(!table.contains('…'), "{table}");
    let row = table.lines().find(|l| l.starts_with(LONG)).unwrap();
    assert!(
        row.contains("owner=team-with-a-long-name-too,role=web"),
        "{row}"
    );
    let events = fleet.events(&[]);
    assert!(!events.is_empty());
    let table = through_cat(&fleet, &["query", "events"]);
    assert!(!table.contains('…'), "{table}");
    for e in &events {
        let message = e["message"].as_str().unwrap();
        assert!(
            table.lines().any(|l| l.ends_with(message)),
            "`{message}` whole in:\n{table}"
        );
    }
    let wide = fleet.cli(&["query", "nodes", "-o", "wide"]);
    assert!(wide.status.success(), "{}", stderr(&wide));
    assert!(String::from_utf8_lossy(&wide.stdout).contains(LONG));

    // On a terminal: `table` fits its width, `-o wide` does not cut.
    let table = on_a_terminal(&fleet, 60, &["query", "nodes"]);
    assert!(table.lines().all(|l| l.chars().count() <= 60), "{table}");
    assert!(table.contains('…') && !table.contains(LONG), "{table}");
    let wide = on_a_terminal(&fleet, 60, &["query", "nodes", "-o", "wide"]);
    assert!(wide.contains(LONG) && !wide.contains('…'), "{wide}");

    // -o csv parses with Python's csv module and says what -o json says.
    let nodes = json(&fleet.cli(&["query", "nodes", "-o", "json"]));
    let out = fleet.cli(&["query", "nodes", "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = python_csv(&out.stdout);
    assert_eq!(rows.len(), nodes.as_array().unwrap().len());
    assert_eq!(rows[0]["name"], LONG);
    assert_eq!(rows[0]["labels.role"], "web");
    assert_eq!(rows[0]["state"], "up");
    assert_eq!(
        rows[0]["checks.pending"],
        nodes[0]["checks"]["pending"].to_string()
    );
    for args in [
        &["query", "events"][..],
        &["query", "checks"],
        &["query", "jobs"],
        &["query", "inventory"],
        &["downtime", "list"],
        &["logs", "-n", "5"],
    ] {
        let mut csv = args.to_vec();
        csv.extend(["-o", "csv"]);
        let out = fleet.cli(&csv);
        assert!(out.status.success(), "{csv:?}: {}", stderr(&out));
        let rows = python_csv(&out.stdout);
        let mut js = args.to_vec();
        js.extend(["-o", "json"]);
        let as_json = json(&fleet.cli(&js));
        if args[0] != "logs" {
            assert_eq!(rows.len(), as_json.as_array().unwrap().len(), "{csv:?}");
        }
        let first_line = String::from_utf8_lossy(&out.stdout);
        assert!(!first_line.trim().is_empty(), "{csv:?} prints a header");
    }
    let checks = python_csv(&fleet.cli(&["query", "checks", "-o", "csv"]).stdout);
    assert_eq!(checks[0]["node"], LONG);
    assert_eq!(checks[0]["name"], "passive");

    // Any other -o is a usage error, before anything is asked.
    for args in [
        &["query", "nodes", "-o", "xml"][..],
        &["query", "events", "-o", "yaml"],
        &["logs", "-o", "csv2"],
    ] {
        let out = fleet.cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert!(stderr(&out).contains("possible values"), "{}", stderr(&out));
    }
    let out = common::command("monit-configd", fleet.path())
        .arg("--data-dir")
        .arg(&fleet.data_dir)
        .args(["token", "list", "-o", "toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // A --node configd never knew names the ones it may have meant.
    let out = fleet.cli(&["query", "checks", "--node", "web-node-with-a-name"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("did you mean") && err.contains(LONG), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = fleet.cli(&["logs", "--node", "nobody-at-all"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("query nodes"), "{}", stderr(&out));
    let out = fleet.cli(&["logs", "--node", LONG, "--node", "configd", "-n", "1"]);
    assert!(out.status.success(), "known nodes: {}", stderr(&out));
}

#[test]
fn writes_answer_with_structured_fields_and_run_streams_records() {
    let fleet = Fleet::start_with(CONFIG);
    let _node = fleet.node_with("web-1", &[], node_extra());
    fleet.wait_state("web-1", "up", Duration::from_secs(15));
    let op = fleet.token("ops", "operator");
    let admin = fleet.token("root", "admin");
    wait_for(Duration::from_secs(10), "the passive check", || {
        fleet.check("web-1", "passive")
    });

    let v = json(&fleet.cli_as(
        &op,
        &[
            "submit",
            "web-1/passive",
            "critical",
            "disk gone",
            "-o",
            "json",
        ],
    ));
    assert_eq!(v["node"], "web-1");
    assert_eq!(v["check"], "passive");
    assert_eq!(v["state"], "critical");
    assert!(v.get("message").is_none(), "{v}");
    let v = json(&fleet.cli_as(
        &op,
        &["ack", "web-1/passive", "--comment", "on it", "-o", "json"],
    ));
    assert_eq!(v["acknowledged"], true);
    assert_eq!(v["comment"], "on it");
    let v = json(&fleet.cli_as(&op, &["downtime", "web-1", "--for", "1h", "-o", "json"]));
    let id = v["id"].as_u64().expect("a downtime id");
    assert_eq!(v["node"], "web-1");
    let start = monit::timefmt::parse_rfc3339(v["start"].as_str().unwrap()).unwrap();
    let end = monit::timefmt::parse_rfc3339(v["end"].as_str().unwrap()).unwrap();
    assert!((end - start - 3_600_000).abs() < 2_000, "{v}");
    let listed = json(&fleet.cli(&["downtime", "list", "-o", "json"]));
    assert_eq!(listed[0]["id"].as_u64(), Some(id));
    let out = fleet.cli_as(&op, &["downtime", "cancel", &id.to_string(), "-o", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = python_csv(&out.stdout);
    assert_eq!(rows[0]["id"], id.to_string());
    assert_eq!(rows[0]["cancelled"], "true");

    // Inventory writes: what was asked and how many items changed.
    let v = json(&fleet.cli_as(
        &admin,
        &[
            "inventory",
            "add",
            "zone",
            "7",
            "node=web-1",
            "state=new",
            "-o",
            "json",
        ],
    ));
    assert_eq!(v["action"], "add");
    assert_eq!(v["changed"], 1);
    assert_eq!(v["attrs"]["state"], "new");
    let v = json(&fleet.cli_as(
        &admin,
        &[
            "inventory",
            "update",
            "zone",
            "7",
            "state=live",
            "-o",
            "jsonl",
        ],
    ));
    assert_eq!(v["changed"], 1);
    let file = fleet.path().join("zones.csv");
    std::fs::write(
        &file,
        "kind,key,node,state\nzone,8,web-1,new\nzone,9,web-1,new\n",
    )
    .unwrap();
    let v = json(&fleet.cli_as(
        &admin,
        &["inventory", "import", file.to_str().unwrap(), "-o", "json"],
    ));
    assert_eq!(
        (v["items"].as_u64(), v["changed"].as_u64()),
        (Some(2), Some(2))
    );
    let v = json(&fleet.cli_as(&admin, &["inventory", "delete", "zone", "9", "-o", "json"]));
    assert_eq!(
        (v["action"].as_str(), v["changed"].as_u64()),
        (Some("delete"), Some(1))
    );
    let out = fleet.cli_as(&admin, &["inventory", "export", "-o", "csv"]);
    let rows = python_csv(&out.stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["state"], "live");

    // token create -o json: the token and its facts.
    let out = common::command("monit-configd", fleet.path())
        .arg("--data-dir")
        .arg(&fleet.data_dir)
        .args(["token", "create", "bob", "--role", "viewer", "-o", "json"])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(
        (v["name"].as_str(), v["role"].as_str()),
        (Some("bob"), Some("viewer"))
    );
    let token = v["token"].as_str().unwrap();
    assert!(token.starts_with(&format!("{}.", v["id"].as_str().unwrap())));
    assert!(monit::timefmt::parse_rfc3339(v["created"].as_str().unwrap()).is_some());
    assert_eq!(
        v["server_fingerprint"].as_str(),
        Some(fleet.fingerprint().to_string().as_str())
    );

    // run -o jsonl: each output line an object as it comes, then the job.
    let out = fleet.cli_as(
        &op,
        &["run", "lines", "--target", "node=web-1", "-o", "jsonl"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let records: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r.get("line").is_some())
        .map(|r| (r["stream"].as_str().unwrap(), r["line"].as_str().unwrap()))
        .collect();
    assert!(lines.contains(&("stdout", "one, \"two\"")), "{records:?}");
    assert!(lines.contains(&("stdout", "three")), "{records:?}");
    assert!(lines.contains(&("stderr", "oops")), "{records:?}");
    let job = records.last().unwrap();
    assert_eq!(job["targets"][0]["state"], "ok", "{job}");
    assert!(records
        .iter()
        .filter(|r| r.get("line").is_some())
        .all(|r| r["job"] == job["id"]));
    let out = fleet.cli_as(
        &op,
        &["run", "lines", "--target", "node=web-1", "-o", "csv"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = python_csv(&out.stdout);
    assert!(rows
        .iter()
        .any(|r| r["line"] == "one, \"two\"" && r["node"] == "web-1"));
}

/// `monit-cli ARGS` on a terminal `cols` wide (a pty from script(1)).
fn on_a_terminal(fleet: &Fleet, cols: u16, args: &[&str]) -> String {
    let mut cli = vec![common::bin("monit-cli").display().to_string()];
    cli.extend(["--server".into(), fleet.addr.clone(), "--token-file".into()]);
    cli.push(fleet.viewer.display().to_string());
    cli.extend(args.iter().map(|a| a.to_string()));
    let line = format!("stty cols {cols}; {}", cli.join(" "));
    let out = common::command("monit-cli", fleet.path())
        .env_remove("COLUMNS")
        .output_of_shell(&format!("script -qec '{line}' /dev/null"));
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().replace('\r', "")
}
