//! Ops commands and the inventory, end to end: real configd, real noded,
//! real scripts from config/ops.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::ops_pack::{ops_dir, pack, zone_root};
use common::{stderr, wait_for, Fleet};
use serde_json::Value;

const INVENTORY: &str = "[inventory.zone]
key = \"int\"
attributes = { domain = \"string\", group = \"int\", state = \"new|live|archived\", db = \"ip\", dbc = \"ip\" }
defaults = { group = \"{key}\" }
";

fn fleet(extra: &str) -> Fleet {
    Fleet::start_with(&format!(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"{extra}\"\n{INVENTORY}"
    ))
}

fn test_commands() -> String {
    format!(
        r#"
[[command]]
name = "print-args"
description = "prints its argv in hex"
argv = ["{}/print-args.sh", "{{s}}", "{{n}}"]
args = [
  {{ name = "s", type = "string", pattern = "(?s).*", max_len = 110000 }},
  {{ name = "n", type = "int", min = 0, max = 10 }},
]
timeout = "10s"
concurrency = 8

[[command]]
name = "where"
description = "working directory and environment"
argv = ["/bin/sh", "-c", "pwd; echo HOME=$HOME; echo JOB=$MONIT_JOB"]
working_dir = "/tmp"
env = ["MONIT_NOT_SET_ANYWHERE"]

[[command]]
name = "slow-echo"
description = "prints, waits, prints"
argv = ["/bin/sh", "-c", "echo start; sleep 1.5; echo end"]
timeout = "10s"

[[command]]
name = "pause"
description = "sleeps"
argv = ["/bin/sleep", "{{secs}}"]
args = [{{ name = "secs", type = "string", pattern = "[0-9]+(\\.[0-9]+)?" }}]
timeout = "60s"
concurrency = 4
"#,
        ops_dir().display()
    )
}

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "failed: {}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Nodes advertise their commands at registration: wait until it is up.
fn wait_up(fleet: &Fleet, node: &str) {
    fleet.wait_state(node, "up", Duration::from_secs(20));
}

#[test]
fn zones_inventory_and_open_zone() {
    let fleet = fleet("1s");
    let admin = fleet.token("root", "admin");
    let op = fleet.token("ops", "operator");
    let roots: Vec<PathBuf> = ["web-1", "web-2"]
        .iter()
        .map(|n| zone_root(fleet.path(), n))
        .collect();
    let _n1 = fleet.node_with("web-1", &[("role", "web")], &pack(&roots[0]));
    let _n2 = fleet.node_with("web-2", &[("role", "web")], &pack(&roots[1]));
    wait_up(&fleet, "web-1");
    wait_up(&fleet, "web-2");

    // Inventory CRUD.
    let out = fleet.cli_as(
        &admin,
        &[
            "inventory",
            "add",
            "zone",
            "9999",
            "node=web-1",
            "domain=s9999.example.com",
            "state=new",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = fleet.cli_as(
        &admin,
        &[
            "inventory",
            "add",
            "zone",
            "9998",
            "node=web-1",
            "state=open",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("field `state`"), "{}", stderr(&out));
    let out = fleet.cli_as(&op, &["inventory", "add", "zone", "9997", "node=web-1"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "operator cannot write: {}",
        stderr(&out)
    );
    let out = fleet.cli_as(
        &admin,
        &[
            "inventory",
            "update",
            "zone",
            "9999",
            "state=live",
            "db=10.1.1.1",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let items = json(&fleet.cli(&["query", "inventory", "--filter", "key=9999", "-o", "json"]));
    assert_eq!(items[0]["attrs"]["state"], "live");
    assert_eq!(
        items[0]["attrs"]["group"], 9999,
        "group defaults to the key"
    );
    assert_eq!(items[0]["key"], 9999);
    let out = fleet.cli_as(&admin, &["inventory", "delete", "zone", "9999"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&fleet.cli(&["query", "inventory", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Import 640 zones, alternating nodes; a bad file changes nothing.
    let mut csv = String::from("kind,key,node,domain,state,db\n");
    for z in 1..=640 {
        csv.push_str(&format!(
            "zone,{z},web-{},s{z}.example.com,new,10.0.{}.{}\n",
            z % 2 + 1,
            z / 250,
            z % 250
        ));
    }
    let bad = format!("{csv}zone,641,web-1,s641.example.com,opened,10.0.0.1\n");
    std::fs::write(fleet.path().join("bad.csv"), &bad).unwrap();
    let out = fleet.cli_as(
        &admin,
        &[
            "inventory",
            "import",
            fleet.path().join("bad.csv").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("line 642") && stderr(&out).contains("field `state`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        json(&fleet.cli(&["query", "inventory", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        0
    );
    std::fs::write(fleet.path().join("zones.csv"), &csv).unwrap();
    let out = fleet.cli_as(
        &admin,
        &[
            "inventory",
            "import",
            fleet.path().join("zones.csv").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let all = json(&fleet.cli(&["query", "inventory", "-o", "json"]));
    assert_eq!(all.as_array().unwrap().len(), 640);
    let z218 = json(&fleet.cli(&["query", "inventory", "-f", "key=218", "-o", "json"]));
    assert_eq!(z218[0]["node"], "web-1");
    assert_eq!(
        json(&fleet.cli(&[
            "query",
            "inventory",
            "-f",
            "state=new",
            "-f",
            "node=web-2",
            "-o",
            "json"
        ]))
        .as_array()
        .unwrap()
        .len(),
        320
    );
    // Export round-trips through import (JSON).
    let exported = fleet.cli(&["inventory", "export", "-o", "json"]);
    assert!(exported.status.success());
    std::fs::write(fleet.path().join("zones.json"), &exported.stdout).unwrap();
    let out = fleet.cli_as(
        &admin,
        &[
            "inventory",
            "import",
            fleet.path().join("zones.json").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let csv_out = fleet.cli(&["inventory", "export", "-o", "csv"]);
    assert!(String::from_utf8_lossy(&csv_out.stdout)
        .starts_with("kind,key,node,db,domain,group,state\n"));

    // A viewer cannot run.
    let out = fleet.cli(&[
        "run",
        "open-zone",
        "218",
        "20261201",
        "--target",
        "zone=218",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // Bad arguments: one line naming the argument and the rule.
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "open-zone",
            "218",
            "20260230",
            "--target",
            "zone=218",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("argument `date`") && stderr(&out).contains("real date"),
        "{}",
        stderr(&out)
    );
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "open-zone",
            "218",
            ";reboot;",
            "--target",
            "zone=218",
        ],
    );
    assert!(stderr(&out).contains("argument `date`"), "{}", stderr(&out));
    // Unknown command: the node's commands are listed.
    let out = fleet.cli_as(&op, &["run", "merge-zones", "1", "--target", "node=web-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("open-zone, change-zone-time, archive-zone, restore-zone"),
        "{}",
        stderr(&out)
    );

    // open-zone runs on the node hosting zone 218 and marks it live.
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "open-zone",
            "218",
            "20261201",
            "--target",
            "zone=218",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("web-1: opened zone 218, opening time 20261201"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(roots[0].join("s218/open_time")).unwrap(),
        "20261201\n"
    );
    assert!(!roots[1].join("s218").exists());
    let z = json(&fleet.cli(&["query", "inventory", "-f", "key=218", "-o", "json"]));
    assert_eq!(z[0]["attrs"]["state"], "live");
    let jobs = json(&fleet.cli(&["query", "jobs", "-o", "json"]));
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    assert_eq!(jobs[0]["who"], "ops");
    assert_eq!(jobs[0]["targets"][0]["node"], "web-1");
    assert_eq!(jobs[0]["targets"][0]["state"], "ok");
    assert_eq!(jobs[0]["targets"][0]["exit_code"], 0);
    assert_eq!(jobs[0]["effects"]["state"], "live");
    // A filter through the targets list: the jobs that touched a node.
    let on = |node: &str| {
        let f = format!("targets.node={node}");
        json(&fleet.cli(&["query", "jobs", "-f", &f, "-o", "json"]))
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((on("web-1"), on("web-2")), (1, 0));

    // A second open-zone is refused by the precondition: nothing runs.
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "open-zone",
            "218",
            "20261202",
            "--target",
            "zone=218",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("precondition failed") && stderr(&out).contains("state=live"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        json(&fleet.cli(&["query", "jobs", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        std::fs::read_to_string(roots[0].join("s218/open_time")).unwrap(),
        "20261201\n"
    );

    // The rest of the pack: change time, archive, restore.
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "change-zone-time",
            "218",
            "20270101",
            "--target",
            "zone=218",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // archive-zone is for admins (role = "admin" in the pack).
    let out = fleet.cli_as(
        &admin,
        &["run", "archive-zone", "218", "--target", "zone=218"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(roots[0].join("archive/s218.tar.gz").exists() && !roots[0].join("s218").exists());
    let out = fleet.cli_as(&op, &["run", "restore-zone", "218", "--target", "zone=218"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(roots[0].join("s218/open_time")).unwrap(),
        "20270101\n"
    );
    let z = json(&fleet.cli(&["query", "inventory", "-f", "key=218", "-o", "json"]));
    assert_eq!(z[0]["attrs"]["state"], "live");

    // job show: the stored output.
    let id = jobs[0]["id"].as_u64().unwrap().to_string();
    let out = fleet.cli(&["job", "show", &id]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("opened zone 218"),
        "{}",
        stderr(&out)
    );
    // A zone's command never fans out: refused before any confirmation.
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "change-zone-time",
            "1",
            "20270101",
            "--target",
            "label.role=web",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("zone 1 lives on web-2; run it there"),
        "{}",
        stderr(&out)
    );
    // A failing command on its zone's node: exit 1.
    let out = fleet.cli_as(&op, &["run", "change-zone-time", "1", "20270101"]);
    assert_eq!(out.status.code(), Some(1), "no zone dir: the script fails");
    assert!(
        stderr(&out).contains("web-2 [stderr]: no zone directory"),
        "{}",
        stderr(&out)
    );
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn injection_battery() {
    let fleet = fleet("1s");
    let op = fleet.token("ops", "operator");
    let _n = fleet.node_with("web-1", &[], &test_commands());
    wait_up(&fleet, "web-1");
    let long = "x".repeat(100 * 1024);
    let payloads = [
        "a;reboot",
        "a | cat /etc/passwd",
        "true && rm -rf /",
        "$(id)",
        "`id`",
        "line1\nline2",
        "../../etc/passwd",
        "{n}",
        "-rf",
        "zone 218 ünïcødé 🚀",
        "'\"\\",
        long.as_str(),
    ];
    for p in payloads {
        let out = fleet.cli_as(
            &op,
            &["run", "print-args", "--target", "node=web-1", "--", p, "3"],
        );
        assert!(out.status.success(), "{p:?}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "web-1: argc=2", "{p:?}: exactly one element each");
        assert_eq!(
            lines[1],
            format!("web-1: {}", hex(p)),
            "{p:?} arrives verbatim"
        );
        assert_eq!(lines[2], format!("web-1: {}", hex("3")));
    }
    // Rejected by type, with the argument named.
    for (n, want) in [
        ("3;id", "argument `n`"),
        ("$(id)", "argument `n`"),
        ("11", "out of range"),
    ] {
        let out = fleet.cli_as(
            &op,
            &["run", "print-args", "a", n, "--target", "node=web-1"],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(want), "{n}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim().lines().count(),
            1,
            "one line: {}",
            stderr(&out)
        );
    }
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "print-args",
            &"y".repeat(120_000),
            "1",
            "--target",
            "node=web-1",
        ],
    );
    assert!(stderr(&out).contains("argument `s`"), "{}", stderr(&out));
    // A clean environment (noded's HOME is not passed) in the working dir.
    let out = fleet.cli_as(&op, &["run", "where", "--target", "node=web-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("web-1: /tmp\n")
            && text.contains("web-1: HOME=\n")
            && text.contains("web-1: JOB="),
        "{text}"
    );
    let out = fleet.cli_as(&op, &["run", "pause", "1;id", "--target", "node=web-1"]);
    assert!(stderr(&out).contains("argument `secs`"), "{}", stderr(&out));
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(needle)
            {
                n += 1;
            }
        }
    }
    n
}

fn kill_processes_with(needle: &str) {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(needle)
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn job_states(fleet: &Fleet) -> Vec<String> {
    json(&fleet.cli(&["query", "jobs", "-o", "json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["targets"][0]["state"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn cancel_lost_and_timeout() {
    let fleet = fleet("30s");
    let op = fleet.token("ops", "operator");
    let mut node = fleet.node_with("web-1", &[], &test_commands());
    wait_up(&fleet, "web-1");

    // SIGINT to monit-cli run: cancelled, nothing left on the node.
    let mut run = common::Proc::spawn(
        "cli-run",
        fleet.cli_cmd(&op, &["run", "pause", "47.123", "--target", "node=web-1"]),
        fleet.path(),
    );
    wait_for(Duration::from_secs(10), "sleep to start", || {
        (processes_with("sleep 47.123") > 0).then_some(())
    });
    run.signal(nix::sys::signal::Signal::SIGINT);
    let status = run.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(130), "{}", run.log());
    assert!(
        run.log().contains("cancelling job 1 on every node"),
        "{}",
        run.log()
    );
    assert!(
        run.log().contains("job 1 cancelled on every node"),
        "{}",
        run.log()
    );
    wait_for(Duration::from_secs(10), "job cancelled", || {
        (job_states(&fleet) == ["cancelled"]).then_some(())
    });
    wait_for(Duration::from_secs(5), "sleep gone", || {
        (processes_with("sleep 47.123") == 0).then_some(())
    });

    // A node that never answers: timeout.
    node.signal(nix::sys::signal::Signal::SIGSTOP);
    let out = fleet.cli_as(
        &op,
        &[
            "run",
            "pause",
            "0",
            "--timeout",
            "1s",
            "--target",
            "node=web-1",
        ],
    );
    node.signal(nix::sys::signal::Signal::SIGCONT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(job_states(&fleet), ["cancelled", "timeout"]);

    // A node killed mid-job: lost.
    let mut run = common::Proc::spawn(
        "cli-run2",
        fleet.cli_cmd(&op, &["run", "pause", "48.321", "--target", "node=web-1"]),
        fleet.path(),
    );
    wait_for(Duration::from_secs(10), "sleep to start", || {
        (processes_with("sleep 48.321") > 0).then_some(())
    });
    node.kill9();
    let status = run.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    assert_eq!(job_states(&fleet), ["cancelled", "timeout", "lost"]);
    // The killed node's orphan: ours to clean up.
    kill_processes_with("sleep 48.321");
}

/// A node's connection cannot run commands: neither `Run` nor a
/// `RunCommand` aimed at another node is accepted from it.
#[test]
fn a_node_cannot_dispatch() {
    use monit::net::proto::*;
    let fleet = fleet("1s");
    let token_path = fleet.token("web-9", "node");
    let _other = fleet.node_with("web-1", &[], &test_commands());
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    let token = monit::auth::Token::parse(&std::fs::read_to_string(&token_path).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let endpoint = monit::net::dial::Endpoint {
            server: fleet.addr.clone(),
            token,
            trust: monit::net::tls::Trust::Pinned(fleet.fingerprint()),
        };
        let mut conn = monit::net::dial::dial(&endpoint, PeerKind::Node, "web-9")
            .await
            .unwrap()
            .conn;
        let bodies = [
            RequestBody::Run(RunRequest {
                command: "print-args".into(),
                args: vec!["a".into(), "1".into()],
                target: "node=web-1".into(),
                timeout_ms: None,
                force_target: false,
                reason: String::new(),
            }),
            RequestBody::RunCommand(RunCommand {
                job: 1,
                command: "print-args".into(),
                args: vec!["a".into(), "1".into()],
                timeout_ms: None,
            }),
        ];
        for (i, body) in bodies.into_iter().enumerate() {
            let id = i as u64 + 1;
            conn.send(&Message::Request(Request { id, body }))
                .await
                .unwrap();
            loop {
                let msg = tokio::time::timeout(Duration::from_secs(5), conn.read())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
                match msg {
                    Message::Response(Response {
                        id: got,
                        body: ResponseBody::Error(e),
                    }) if got == id => {
                        assert_eq!(e.code, ErrorCode::Forbidden, "{e}");
                        break;
                    }
                    Message::Ping(p) => conn.send(&Message::Pong(p)).await.unwrap(),
                    Message::Pong(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    });
    assert_eq!(
        json(&fleet.cli(&["query", "jobs", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The refused Run is recorded under the node token's name.
    let refused = fleet.events(&["kind=run_refused"]);
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0]["who"], "web-9");
    assert_eq!(refused[0]["state"], "role");
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("run print-args a 1 --target node=web-1 refused: running commands needs"),
        "{}",
        refused[0]
    );
}

/// `job show -f` prints a running job's output live, then its record.
#[test]
fn job_show_follows() {
    let fleet = fleet("1s");
    let op = fleet.token("ops", "operator");
    let _n = fleet.node_with("web-1", &[], &test_commands());
    wait_up(&fleet, "web-1");
    let mut run = common::Proc::spawn(
        "cli-run",
        fleet.cli_cmd(&op, &["run", "slow-echo", "--target", "node=web-1"]),
        fleet.path(),
    );
    let id = wait_for(Duration::from_secs(10), "the job to run", || {
        let jobs = json(&fleet.cli(&["query", "jobs", "-f", "state=running", "-o", "json"]));
        jobs.as_array()
            .and_then(|a| a.first())
            .map(|j| j["id"].as_u64().unwrap().to_string())
    });
    let out = fleet.cli(&["job", "show", &id, "-f"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("web-1: end"), "{text}");
    assert!(text.contains(&format!("job {id} ok")), "{text}");
    assert!(run.wait_exit(Duration::from_secs(10)).success());
}
