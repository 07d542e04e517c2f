//! One complete log stream: a job's output (`job:ID`, stderr at warn) and
//! a check's state changes (`check:NAME`) are lines of their node; an
//! unknown `--source` is a usage error; `logs -f` follows configd through a
//! restart with one marker line and no line twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{stderr, wait_for, Fleet};
use nix::sys::signal::Signal;
use serde_json::Value;

const COMMANDS: &str = r#"
[[command]]
name = "speak"
description = "two lines out, one on stderr"
argv = ["/bin/sh", "-c", "echo alpha; echo beta >&2; printf gamma"]
timeout = "10s"
"#;

fn lines(out: &std::process::Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", stderr(out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn summary(v: &[Value]) -> Vec<(String, String, String, String)> {
    v.iter()
        .map(|l| {
            (
                l["node"].as_str().unwrap().to_string(),
                l["level"].as_str().unwrap().to_string(),
                l["source"].as_str().unwrap().to_string(),
                l["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn job_output_and_check_changes_are_on_the_stream_and_follow_survives_a_restart() {
    let mut fleet = Fleet::start();
    let op = fleet.token("ops", "operator");
    let bad = fleet.path().join("bad.sh");
    std::fs::write(&bad, "#!/bin/sh\necho disk full\nexit 2\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let extra = format!(
        "{COMMANDS}\n[[check]]\nname = \"disk\"\ncommand = [\"{}\"]\ninterval = \"300ms\"\nmax_attempts = 1\n",
        bad.display()
    );
    let token = fleet.node_token("web-1");
    let node = fleet.node_custom("web-1", &token, &[], &extra, &[("MONIT_LOG_MARKERS", "3")]);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));

    // An unknown source is a usage error.
    let out = fleet.cli(&["logs", "--source", "bogus"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown --source `bogus`"),
        "{}",
        stderr(&out)
    );

    // A job's output: its node's lines, source job:1, stderr at warn.
    let out = fleet.cli_as(&op, &["run", "speak", "--target", "node=web-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = wait_for(Duration::from_secs(10), "the job's lines", || {
        let l = lines(&fleet.cli(&["logs", "--source", "job:1", "-o", "jsonl"]));
        (l.len() >= 3).then_some(l)
    });
    let mut got = summary(&got);
    got.sort();
    let want = |level: &str, msg: &str| {
        (
            "web-1".to_string(),
            level.to_string(),
            "job:1".to_string(),
            msg.to_string(),
        )
    };
    assert_eq!(
        got,
        [
            want("info", "alpha"),
            want("info", "gamma"),
            want("warn", "beta")
        ]
    );
    // `job:` takes every job.
    assert_eq!(
        lines(&fleet.cli(&["logs", "--source", "job:", "-o", "jsonl"])).len(),
        3
    );

    // A check's state change: source check:disk, at error for critical.
    let changes = wait_for(Duration::from_secs(10), "the check's change", || {
        let l = lines(&fleet.cli(&["logs", "--source", "check:disk", "-o", "jsonl"]));
        (!l.is_empty()).then_some(l)
    });
    let (node_name, level, source, message) = summary(&changes).remove(0);
    assert_eq!(
        (node_name.as_str(), level.as_str(), source.as_str()),
        ("web-1", "error", "check:disk")
    );
    assert!(
        message.contains("critical") && message.contains("disk full"),
        "{message}"
    );

    // logs -f through a configd restart.
    let mut follow = fleet.cli_spawn(
        "logs-f",
        &[
            "logs", "-f", "-n", "0", "--node", "web-1", "--node", "configd", "-o", "jsonl",
        ],
    );
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    {
        let seen = seen.clone();
        let reader = BufReader::new(follow.child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { return };
                seen.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        });
    }
    let count = |text: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|l| l["message"].as_str().unwrap_or("").contains(text))
            .count()
    };
    // The subscription is live once a line made now shows.
    wait_for(Duration::from_secs(10), "the first markers", || {
        node.signal(Signal::SIGUSR1);
        std::thread::sleep(Duration::from_millis(300));
        (count("log marker 3/3") > 0).then_some(())
    });
    let before = count("log marker 3/3");
    let addr = fleet.addr.clone();
    fleet.configd().signal(Signal::SIGTERM);
    fleet.configd().wait_exit(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    fleet.start_configd(&addr);
    fleet.wait_state("web-1", "up", Duration::from_secs(20));
    wait_for(Duration::from_secs(20), "the marker line", || {
        (count("lines logged meanwhile follow") == 1).then_some(())
    });
    node.signal(Signal::SIGUSR1);
    wait_for(Duration::from_secs(10), "markers after the restart", || {
        (count("log marker 3/3") > before).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        follow.child.try_wait().unwrap().is_none(),
        "logs -f still runs"
    );
    let all = seen.lock().unwrap().clone();
    assert_eq!(
        count("lines logged meanwhile follow"),
        1,
        "one marker: {all:#?}"
    );
    let mut unique = HashSet::new();
    for l in &all {
        assert!(
            unique.insert(l.to_string()),
            "printed twice: {l}\nall: {all:#?}"
        );
    }
}
