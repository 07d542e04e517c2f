//! Live logs end to end: real configd, real nodes, real `monit-cli logs`.
//! Nodes are made to log on demand with SIGUSR1 (`MONIT_LOG_MARKERS` lines
//! cycling error, warn, info: `log marker I/N (LEVEL)`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{wait_for, Fleet, Proc};
use nix::sys::signal::Signal;
use serde_json::Value;

fn node(fleet: &Fleet, name: &str, markers: u64, extra: &str) -> Proc {
    let token = fleet.node_token(name);
    let n = markers.to_string();
    fleet.node_custom(name, &token, &[], extra, &[("MONIT_LOG_MARKERS", &n)])
}

/// Lines of a running `monit-cli logs -f -o jsonl`, parsed, on a channel.
fn follow(proc: &mut Proc) -> mpsc::Receiver<Value> {
    follow_from(BufReader::new(proc.child.stdout.take().unwrap()))
}

/// `follow`, from a reader some lines were already taken from.
fn follow_from(reader: BufReader<std::process::ChildStdout>) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { return };
            let v: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    rx
}

/// `log marker I/N (LEVEL)` -> I
fn marker_no(v: &Value) -> Option<u64> {
    let m = v["message"].as_str()?;
    let rest = m.strip_prefix("log marker ")?;
    rest.split('/').next()?.parse().ok()
}

/// `logs -f` of node a's markers, and its registration line as the one
/// line of history: a reader that printed it is subscribed (history and the
/// live subscription are taken at once), so no marker can come before its
/// subscription, however slowly it started.
const FOLLOW_A: [&str; 10] = [
    "logs",
    "-f",
    "--node",
    "a",
    "--regex",
    "log marker|registered with configd",
    "-n",
    "1",
    "-o",
    "jsonl",
];

/// The reader of a `FOLLOW_A` after its first line (the registration).
fn first_line(p: &mut Proc) -> BufReader<std::process::ChildStdout> {
    let mut r = BufReader::new(p.child.stdout.take().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.contains("registered with configd"), "{line:?}");
    r
}

fn history(fleet: &Fleet, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["logs", "-o", "jsonl"];
    all.extend_from_slice(args);
    let out = fleet.cli(&all);
    assert!(out.status.success(), "logs: {}", common::stderr(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn follow_gets_exactly_one_nodes_warnings_in_order() {
    let fleet = Fleet::start();
    let a = node(&fleet, "a", 30, "");
    let b = node(&fleet, "b", 30, "");
    fleet.wait_state("a", "up", Duration::from_secs(20));
    fleet.wait_state("b", "up", Duration::from_secs(20));
    let mut sub = fleet.cli_spawn(
        "logs-a-warn",
        &[
            "logs", "-f", "--node", "a", "--level", "warn", "-n", "100000", "-o", "jsonl",
        ],
    );
    let rx = follow(&mut sub);
    a.signal(Signal::SIGUSR1);
    b.signal(Signal::SIGUSR1);
    // 30 markers cycle error, warn, info: 20 are warn or worse.
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.iter().filter(|v| marker_no(v).is_some()).count() < 20 {
        let left = deadline.saturating_duration_since(Instant::now());
        let v = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("only {} lines: {got:#?}", got.len()));
        got.push(v);
    }
    // Anything else arriving late would show here.
    std::thread::sleep(Duration::from_millis(500));
    got.extend(rx.try_iter());
    for v in &got {
        assert_eq!(v["node"], "a", "{v}");
        let level = v["level"].as_str().unwrap();
        assert!(level == "warn" || level == "error", "{v}");
        assert!(v["time"].as_str().unwrap().ends_with('Z'), "{v}");
        assert_eq!(v["source"], "daemon", "{v}");
    }
    let numbers: Vec<u64> = got.iter().filter_map(marker_no).collect();
    let expected: Vec<u64> = (1..=30).filter(|i| i % 3 != 0).collect();
    assert_eq!(numbers, expected);
    // b's lines reached configd too: only the filter kept them out.
    let b_lines = wait_for(Duration::from_secs(10), "b's markers", || {
        let h = history(&fleet, &["--node", "b", "--grep", "log marker"]);
        (h.len() == 30).then_some(h)
    });
    assert!(b_lines.iter().all(|v| v["node"] == "b"));
    // Text output: `TIME NODE LEVEL source: message`.
    let out = fleet.cli(&["logs", "--node", "b", "--grep", "marker 3/", "-n", "1"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(" b INFO  daemon: log marker 3/30 (info)"),
        "{text:?}"
    );
    assert!(!text.contains('\x1b'), "no colour into a pipe");
    // -o json: one array; --since bounds history.
    let out = fleet.cli(&[
        "logs",
        "--node",
        "b",
        "--grep",
        "log marker",
        "--since",
        "1h",
        "-o",
        "json",
    ]);
    let arr: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(arr.len(), 30);
    // Bad input: usage errors (exit 2); a node token may not read logs (exit 3).
    let out = fleet.cli(&["logs", "--level", "loud"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let out = fleet.cli(&["logs", "--regex", "("]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let out = common::command("monit-cli", fleet.path())
        .args(["--server", &fleet.addr, "--token-file"])
        .arg(fleet.node_token("a"))
        .args(["logs", "-n", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("node token"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn lines_logged_while_configd_is_away_survive_a_node_restart_and_arrive_once_in_order() {
    let mut fleet = Fleet::start();
    // 500 lines in memory, the rest spill to disk.
    let spool = "[log]\nspool_lines = 5000\n";
    let mut a = node(&fleet, "a", 1000, spool);
    fleet.wait_state("a", "up", Duration::from_secs(20));
    let addr = fleet.addr.clone();
    fleet.configd().signal(Signal::SIGTERM);
    fleet.configd().wait_exit(Duration::from_secs(10));
    // Let the node notice, then make it log.
    wait_for(Duration::from_secs(10), "noded to lose configd", || {
        a.log().contains("connection to configd lost").then_some(())
    });
    a.signal(Signal::SIGUSR1);
    wait_for(Duration::from_secs(10), "the markers", || {
        a.log().contains("log marker 1000/1000").then_some(())
    });
    // Restart the node too: unsent lines wait on disk meanwhile.
    a.signal(Signal::SIGTERM);
    a.wait_exit(Duration::from_secs(10));
    let spooled = std::fs::read_dir(fleet.path().join("a.state/spool/logs"))
        .unwrap()
        .count();
    assert!(spooled > 0, "nothing spooled on disk");
    let _a = node(&fleet, "a", 1000, spool);
    fleet.start_configd(&addr);
    let lines = wait_for(Duration::from_secs(40), "1000 replayed lines", || {
        let h = history(
            &fleet,
            &["--node", "a", "--grep", "log marker", "-n", "5000"],
        );
        (h.len() >= 1000).then_some(h)
    });
    let numbers: Vec<u64> = lines.iter().filter_map(marker_no).collect();
    assert_eq!(numbers, (1..=1000).collect::<Vec<_>>());
    // And nothing arrives twice later.
    std::thread::sleep(Duration::from_secs(1));
    let again = history(
        &fleet,
        &["--node", "a", "--grep", "log marker", "-n", "5000"],
    );
    assert_eq!(again.len(), 1000);
}

#[test]
fn a_stalled_reader_slows_nobody_and_is_told_what_it_missed() {
    const TOTAL: u64 = 200_000;
    // Heartbeats (the CLI's pings, configd's answers) more often than the
    // CLI's skip report (200 ms): once the lines stop, the report must
    // still come, not wait for a silence between heartbeats that never
    // comes (with 200 ms it came by chance, seconds late or never).
    let fleet = Fleet::start_with(
        "heartbeat_interval = \"100ms\"\nnode_dead_after = \"5s\"\nlog_buffer_lines = 1000000\n",
    );
    // The terminal sink at warn keeps the node's stderr small; all three
    // marker levels still go to configd.
    let a = node(&fleet, "a", TOTAL, "[log]\nlevel = \"warn\"\n");
    fleet.wait_state("a", "up", Duration::from_secs(20));
    let mut fast = fleet.cli_spawn("logs-fast", &FOLLOW_A);
    let mut slow = fleet.cli_spawn("logs-slow", &FOLLOW_A);
    let fast_rx = follow_from(first_line(&mut fast));
    let slow_reader = first_line(&mut slow);
    let started = Instant::now();
    a.signal(Signal::SIGUSR1);
    // The fast reader reads everything as it comes.
    let mut fast_count = 0u64;
    let mut fast_last = 0;
    let mut in_order = true;
    while fast_count < TOTAL {
        let v = fast_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("fast reader stuck at {fast_count}"));
        assert_ne!(v["source"], "logs", "the fast reader skipped: {v}");
        if let Some(n) = marker_no(&v) {
            in_order &= n == fast_last + 1;
            fast_last = n;
            fast_count += 1;
        }
    }
    assert!(in_order, "fast reader got lines out of order");
    // The slow one has not read a byte; make it 10 s at least.
    let stall = Duration::from_secs(10).saturating_sub(started.elapsed());
    std::thread::sleep(stall);
    let slow_rx = follow_from(slow_reader);
    let mut slow_lines = 0u64;
    let mut skipped = 0u64;
    let mut last = 0;
    while slow_lines + skipped < TOTAL {
        let v = slow_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                panic!(
                    "slow reader stuck ({e}) after {slow_lines} lines (last marker {last}) and {skipped} counted as skipped: {}",
                    slow.log()
                )
            });
        if v["source"] == "logs" {
            let m = v["message"].as_str().unwrap();
            let n: u64 = m
                .strip_prefix("skipped ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("marker {m:?}"));
            skipped += n;
        } else if let Some(n) = marker_no(&v) {
            assert!(n > last, "slow reader: {n} after {last}");
            last = n;
            slow_lines += 1;
        }
    }
    assert!(
        skipped > 0,
        "the slow reader was never told it missed lines"
    );
    assert_eq!(slow_lines + skipped, TOTAL, "every line read or counted");
    // Ingest was whole: configd holds every line.
    let held = history(
        &fleet,
        &["--node", "a", "--grep", "log marker", "-n", "1000000"],
    );
    assert_eq!(held.len() as u64, TOTAL);
}

#[test]
fn the_file_sink_rotates_and_keeps_n_files() {
    let fleet = Fleet::start();
    let a = node(
        &fleet,
        "a",
        600,
        "[log]\nformat = \"json\"\nfile = \"logs/a.log\"\nrotation = \"size\"\nmax_size = \"4KiB\"\nkeep = 2\n",
    );
    fleet.wait_state("a", "up", Duration::from_secs(20));
    a.signal(Signal::SIGUSR1);
    let dir = fleet.path().join("logs");
    let newest = dir.join("a.log");
    wait_for(
        Duration::from_secs(20),
        "the last marker in the file",
        || {
            std::fs::read_to_string(&newest)
                .ok()?
                .contains("log marker 600/600")
                .then_some(())
        },
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a.log", "a.log.1", "a.log.2"]);
    for n in &names {
        let text = std::fs::read_to_string(dir.join(n)).unwrap();
        assert!(text.len() <= 4096, "{n}: {} bytes", text.len());
        for line in text.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{n}: not JSON: {line:?}: {e}"));
            assert!(v["level"].is_string(), "{line}");
        }
    }
    // The terminal sink is JSON too (`run` with format = "json").
    let first = a.log().lines().next().unwrap().to_string();
    serde_json::from_str::<Value>(&first).unwrap_or_else(|e| panic!("{first:?}: {e}"));
}

/// The server-side path: a subscriber whose connection stops being read
/// (its answers pile up until configd cannot write) misses lines in
/// configd, which counts them and says so when it reads again.
#[test]
fn configd_skips_for_a_connection_that_stops_reading() {
    use monit::net::client::Client;
    use monit::net::proto::{RequestBody, ResponseBody, SubscribeLogs};
    const TOTAL: u64 = 600_000;
    let fleet = Fleet::start_with(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"5s\"\nlog_buffer_lines = 1000000\n",
    );
    let a = node(&fleet, "a", TOTAL, "[log]\nlevel = \"warn\"\n");
    fleet.wait_state("a", "up", Duration::from_secs(20));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let text = std::fs::read_to_string(&fleet.viewer).unwrap();
        let token = monit::auth::Token::parse(&text).unwrap();
        let client = Client::connect(&fleet.endpoint(&token), "stalled")
            .await
            .unwrap();
        let mut answers = client
            .request(RequestBody::SubscribeLogs(SubscribeLogs {
                nodes: vec!["a".into()],
                grep: Some("log marker".into()),
                follow: true,
                ..Default::default()
            }))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        a.signal(Signal::SIGUSR1);
        // Read nothing for 10 s while the node logs at full speed.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (mut got, mut skipped, mut last) = (0u64, 0u64, 0u64);
        while got + skipped < TOTAL {
            let answer = tokio::time::timeout(Duration::from_secs(60), answers.next())
                .await
                .unwrap_or_else(|_| panic!("stuck at {got} lines, {skipped} skipped"));
            match answer {
                Some(Ok(ResponseBody::LogLines(b))) => {
                    skipped += b.skipped;
                    for l in &b.lines {
                        let n = marker_no(&serde_json::json!({"message": l.message})).unwrap();
                        assert!(n > last, "{n} after {last}");
                        last = n;
                        got += 1;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(skipped > 0, "configd never skipped for the stalled reader");
        assert_eq!(got + skipped, TOTAL);
    });
    // Ingest was whole.
    let held = history(
        &fleet,
        &["--node", "a", "--grep", "log marker", "-n", "1000000"],
    );
    assert_eq!(held.len() as u64, TOTAL);
}

#[test]
fn an_idle_follower_keeps_heartbeating_and_gets_later_lines() {
    // configd drops a client it has not heard from for `node_dead_after`
    // (1 s here); a follower that receives nothing for much longer must
    // keep its connection by heartbeating, and still get what comes later.
    let fleet = Fleet::start();
    let a = node(&fleet, "a", 3, "");
    fleet.wait_state("a", "up", Duration::from_secs(20));
    let mut sub = fleet.cli_spawn(
        "logs-idle",
        &[
            "logs",
            "-f",
            "--grep",
            "log marker",
            "-n",
            "0",
            "-o",
            "jsonl",
        ],
    );
    let rx = follow(&mut sub);
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        sub.child.try_wait().unwrap().is_none(),
        "the idle follower exited"
    );
    a.signal(Signal::SIGUSR1);
    let v = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a line after the idle time");
    assert_eq!(marker_no(&v), Some(1), "{v}");
}

/// configd restarts while the reader of `logs -f` is stalled: the CLI
/// subscribes again and keeps reading (and heartbeating) the new
/// connection while its gap marker waits for the reader, so configd does
/// not drop it as silent, and the reader sees one marker, not two.
#[test]
fn a_stalled_reader_through_a_configd_restart_gets_one_marker() {
    let mut fleet = Fleet::start_with(
        "heartbeat_interval = \"100ms\"\nnode_dead_after = \"1s\"\nlog_buffer_lines = 1000000\n",
    );
    let a = node(&fleet, "a", 200_000, "[log]\nlevel = \"warn\"\n");
    fleet.wait_state("a", "up", Duration::from_secs(20));
    let mut slow = fleet.cli_spawn("logs-slow", &FOLLOW_A);
    let reader = first_line(&mut slow);
    // Fill the pipe and the CLI's queue, then leave them unread.
    a.signal(Signal::SIGUSR1);
    std::thread::sleep(Duration::from_secs(2));
    let addr = fleet.addr.clone();
    fleet.configd().signal(Signal::SIGTERM);
    fleet.configd().wait_exit(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    fleet.start_configd(&addr);
    fleet.wait_state("a", "up", Duration::from_secs(20));
    // Several times configd's dead_after for a silent connection.
    std::thread::sleep(Duration::from_secs(5));
    let rx = follow_from(reader);
    let mut markers = 0;
    let until = Instant::now() + Duration::from_secs(60);
    while let Ok(v) = rx.recv_timeout(Duration::from_secs(3)) {
        let m = v["message"].as_str().unwrap_or("");
        if m.contains("lines logged meanwhile follow") {
            markers += 1;
        }
        assert!(Instant::now() < until, "the output never went quiet");
    }
    assert_eq!(markers, 1, "one reconnection, one marker");
    assert!(
        slow.child.try_wait().unwrap().is_none(),
        "logs -f still runs"
    );
}
