//! Partitions between a node and configd (issue 17), with real processes
//! on 127.0.0.1 and a fault-injecting TCP proxy between them
//! (`common::faults`): the node dials the proxy, which forwards raw bytes
//! (TLS stays end to end; the node's trust-on-first-use records configd's
//! own certificate) and cuts, delays, blackholes (both ways, or only
//! configd's answers) or throttles on command.
//!
//! Each scenario asserts what the operator sees: the node `down` within
//! `node_dead_after` (1 s in `Fleet::start()`) plus a margin, back `up`
//! within 5 s of healing, and nothing lost or doubled across the fault:
//! - check results: the plugin numbers its runs (`tick N`, a counter in a
//!   file) and flips state each run, so configd records every result it
//!   takes as one `check_state` event. Not lost, not doubled: the numbers
//!   in `query events` are exactly 1..=M, in time order, with M at least
//!   the counter read before looking, and `query checks` shows tick M.
//! - log lines: a burst of numbered markers (`log marker I/N`) logged as
//!   the fault starts; `monit-cli logs` shows each of 1..=N exactly once,
//!   in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::faults::Proxy;
use common::{wait_for, Fleet, Proc};
use nix::sys::signal::Signal;
use serde_json::Value;

/// `node_dead_after` of `Fleet::start()`.
const DEAD: Duration = Duration::from_secs(1);
/// Room past `DEAD` for the poll of `monit-cli` on a busy machine.
const MARGIN: Duration = Duration::from_millis(1500);
/// How soon after healing the node must be back.
const BACK: Duration = Duration::from_secs(5);
/// Marker lines each SIGUSR1 makes the node log.
const MARKERS: u64 = 500;

/// The check plugin: counts its runs in the file `$1`, prints `tick N`
/// and is ok on even runs, warning on odd ones (so each result is a state
/// change, recorded as an event).
const TICK: &str = r#"#!/bin/sh
n=$(( $(cat "$1" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$1.tmp" && mv "$1.tmp" "$1"
echo "tick $n|n=$n"
exit $(( n % 2 ))
"#;

struct Node {
    name: String,
    proc: Proc,
    /// The plugin's run counter.
    counter: PathBuf,
}

/// Starts monit-noded `name` dialling `server` (the proxy), with the
/// `tick` check every 200 ms and `markers` lines per SIGUSR1.
fn node_via(fleet: &Fleet, name: &str, server: &str, markers: u64) -> Node {
    let dir = fleet.path();
    let script = dir.join("tick.sh");
    std::fs::write(&script, TICK).unwrap();
    let counter = dir.join(format!("{name}.ticks"));
    let token = fleet.node_token(name);
    let state = dir.join(format!("{name}.state"));
    let config = dir.join(format!("{name}.noded.toml"));
    std::fs::write(
        &config,
        format!(
            r#"name = "{name}"
server = "{server}"
token_file = "{token}"
pid_file = "{pid}"
spool_dir = "{spool}"

[[check]]
name = "tick"
command = ["/bin/sh", "{script}", "{counter}"]
interval = "200ms"
max_attempts = 1
"#,
            token = token.display(),
            pid = state.join("noded.pid").display(),
            spool = state.join("spool").display(),
            script = script.display(),
            counter = counter.display(),
        ),
    )
    .unwrap();
    let mut cmd = common::command("monit-noded", dir);
    cmd.env("MONIT_LOG_MARKERS", markers.to_string())
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(std::process::Stdio::null());
    Node {
        name: name.to_string(),
        proc: Proc::spawn(&format!("noded-{name}"), cmd, dir),
        counter,
    }
}

/// A fleet, a proxy in front of its configd, and node `name` through it,
/// up and with a few results in.
fn setup(name: &str, markers: u64) -> (Fleet, Proxy, Node) {
    let fleet = Fleet::start();
    let proxy = Proxy::start(&fleet.addr);
    let node = node_via(&fleet, name, &proxy.addr, markers);
    fleet.wait_state(name, "up", Duration::from_secs(20));
    wait_for(Duration::from_secs(10), "the first results", || {
        (ticks(&fleet, name).len() >= 2).then_some(())
    });
    (fleet, proxy, node)
}

/// `tick N` results of `node` as configd recorded them: (N, time), in
/// time order.
fn ticks(fleet: &Fleet, node: &str) -> Vec<(u64, String)> {
    let mut t: Vec<(u64, String)> = fleet
        .events(&[])
        .iter()
        .filter(|e| e["kind"] == "check_state" && e["node"] == node && e["check"] == "tick")
        .map(|e| {
            let m = e["message"].as_str().unwrap();
            let n = m
                .rsplit("tick ")
                .next()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no tick number in {e}"));
            (n, e["time"].as_str().unwrap().to_string())
        })
        .collect();
    // RFC 3339 with milliseconds, UTC: sorts as text.
    t.sort_by(|a, b| a.1.cmp(&b.1));
    t
}

/// Every result the plugin produced (its counter, read first) is
/// recorded exactly once, in order: numbers 1..=M, M >= counter.
fn assert_every_result_once(fleet: &Fleet, node: &Node) {
    let produced: u64 = std::fs::read_to_string(&node.counter)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let got = wait_for(Duration::from_secs(10), "the results to catch up", || {
        let t = ticks(fleet, &node.name);
        t.iter().any(|(n, _)| *n >= produced).then_some(t)
    });
    let numbers: Vec<u64> = got.iter().map(|(n, _)| *n).collect();
    let last = *numbers.last().unwrap();
    assert_eq!(
        numbers,
        (1..=last).collect::<Vec<_>>(),
        "check results lost, doubled or out of order ({produced} produced)"
    );
    // The check's current result is at least the last one recorded.
    let check = fleet.check(&node.name, "tick").unwrap();
    let shown: u64 = check["output"]
        .as_str()
        .unwrap()
        .trim_start_matches("tick ")
        .parse()
        .unwrap();
    assert!(shown >= last, "query checks shows tick {shown} < {last}");
}

/// `monit-cli logs --node NODE -o jsonl`: the marker numbers, in order.
fn markers(fleet: &Fleet, node: &str) -> Vec<u64> {
    let out = fleet.cli(&[
        "logs",
        "--node",
        node,
        "--grep",
        "log marker",
        "-n",
        "100000",
        "-o",
        "jsonl",
    ]);
    assert!(out.status.success(), "logs: {}", common::stderr(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let m = v["message"].as_str().unwrap().to_string();
            let rest = m.strip_prefix("log marker ").unwrap();
            rest.split('/').next().unwrap().parse().unwrap()
        })
        .collect()
}

/// Each of the `n` markers arrived exactly once, in order.
fn assert_markers_once(fleet: &Fleet, node: &str, n: u64, limit: Duration) {
    let got = wait_for(limit, "the marker lines", || {
        let m = markers(fleet, node);
        (m.len() as u64 >= n).then_some(m)
    });
    assert_eq!(
        got,
        (1..=n).collect::<Vec<_>>(),
        "log lines lost, doubled or out of order"
    );
}

/// The checks common to every scenario once healed: nothing lost or
/// doubled, and still nothing doubled after the results caught up.
fn assert_nothing_lost_or_doubled(fleet: &Fleet, node: &Node, n: u64) {
    assert_markers_once(fleet, &node.name, n, Duration::from_secs(10));
    assert_every_result_once(fleet, node);
    assert_eq!(markers(fleet, &node.name), (1..=n).collect::<Vec<_>>());
}

fn wait_log(node: &Node, needle: &str, limit: Duration) {
    wait_for(limit, &format!("noded to log {needle:?}"), || {
        node.proc.log().contains(needle).then_some(())
    });
}

/// A cut (both sides closed): the node is down at once, its redials are
/// turned away while the cut lasts, and it is back within 5 s of healing.
#[test]
fn a_cut_link_is_down_at_once_and_back_after_healing() {
    let (fleet, proxy, node) = setup("cut-1", MARKERS);
    node.proc.signal(Signal::SIGUSR1);
    let t = Instant::now();
    proxy.cut();
    fleet.wait_state("cut-1", "down", DEAD + MARGIN);
    let down = t.elapsed();
    wait_for(Duration::from_secs(5), "a redial turned away", || {
        (proxy.refused() >= 1).then_some(())
    });
    assert_eq!(fleet.state_of("cut-1").as_deref(), Some("down"));
    let healed = Instant::now();
    proxy.heal();
    fleet.wait_state("cut-1", "up", BACK);
    eprintln!(
        "cut: down after {down:?}, up {:?} after healing",
        healed.elapsed()
    );
    assert_nothing_lost_or_doubled(&fleet, &node, MARKERS);
}

/// A blackhole (half-open: nothing crosses, no FIN, no RST): both ends
/// notice the silence within `node_dead_after`; the node's redial hangs
/// in the hole and it stays down; after healing it is back within 5 s.
#[test]
fn a_blackholed_link_is_noticed_by_both_ends_and_heals() {
    let (fleet, proxy, node) = setup("hole-1", MARKERS);
    let accepted = proxy.accepted();
    node.proc.signal(Signal::SIGUSR1);
    let t = Instant::now();
    proxy.blackhole();
    fleet.wait_state("hole-1", "down", DEAD + MARGIN);
    let down = t.elapsed();
    // The node noticed by itself: nothing reached it to say so.
    wait_log(
        &node,
        "connection to configd lost: peer silent for 1.0s",
        (DEAD + MARGIN).saturating_sub(t.elapsed()),
    );
    let noticed = t.elapsed();
    wait_for(Duration::from_secs(5), "a redial into the hole", || {
        (proxy.accepted() > accepted).then_some(())
    });
    assert_eq!(fleet.state_of("hole-1").as_deref(), Some("down"));
    let healed = Instant::now();
    proxy.heal();
    fleet.wait_state("hole-1", "up", BACK);
    eprintln!(
        "blackhole: down after {down:?}, noded noticed after {noticed:?}, up {:?} after healing",
        healed.elapsed()
    );
    assert_nothing_lost_or_doubled(&fleet, &node, MARKERS);
}

/// An asymmetric partition: what the node sends reaches configd, which
/// stores it and acknowledges, but nothing comes back. The node hears no
/// answer to its heartbeats, gives up within `node_dead_after` (configd
/// then sees it close: down), and its redials hang. After healing it
/// sends again everything not acknowledged, which configd already holds:
/// each result and line must still be there once. Answers are slowed
/// first (the node stays up), so that the batch whose acknowledgement is
/// lost holds several results: were one taken twice, the state would flip
/// back and forth and show as doubled events.
#[test]
fn lost_acknowledgements_do_not_double_anything() {
    let (fleet, proxy, node) = setup("deaf-1", MARKERS);
    proxy.slow_replies(Duration::from_millis(500));
    let slowed = Instant::now();
    while slowed.elapsed() < Duration::from_millis(1500) {
        assert_eq!(fleet.state_of("deaf-1").as_deref(), Some("up"));
    }
    let accepted = proxy.accepted();
    node.proc.signal(Signal::SIGUSR1);
    let t = Instant::now();
    proxy.one_way();
    fleet.wait_state("deaf-1", "down", DEAD + MARGIN);
    let down = t.elapsed();
    wait_log(
        &node,
        "connection to configd lost: peer silent for 1.0s",
        (DEAD + MARGIN).saturating_sub(t.elapsed()),
    );
    // configd took lines meant to be sent again: they are in already.
    let before_heal = markers(&fleet, "deaf-1").len();
    wait_for(
        Duration::from_secs(5),
        "a redial into the partition",
        || (proxy.accepted() > accepted).then_some(()),
    );
    assert_eq!(fleet.state_of("deaf-1").as_deref(), Some("down"));
    let healed = Instant::now();
    proxy.heal();
    fleet.wait_state("deaf-1", "up", BACK);
    eprintln!(
        "one way: down after {down:?}, {before_heal} lines in before healing, up {:?} after healing",
        healed.elapsed()
    );
    assert!(before_heal > 0, "no line crossed before the acks were lost");
    assert_nothing_lost_or_doubled(&fleet, &node, MARKERS);
}

/// A 2 s delay each way (every round trip 4 s, over `node_dead_after`):
/// heartbeats come too late, the node is down within `node_dead_after`
/// and cannot come back until the delay goes; then it is back within 5 s.
/// Results and lines configd took before the delay but whose
/// acknowledgement came too late are sent again and must not double.
#[test]
fn a_delayed_link_is_down_while_late_and_back_after_healing() {
    let (fleet, proxy, node) = setup("slow-1", MARKERS);
    let accepted = proxy.accepted();
    node.proc.signal(Signal::SIGUSR1);
    let t = Instant::now();
    proxy.delay(Duration::from_secs(2));
    fleet.wait_state("slow-1", "down", DEAD + MARGIN);
    let down = t.elapsed();
    wait_for(Duration::from_secs(5), "a redial through the delay", || {
        (proxy.accepted() > accepted).then_some(())
    });
    // Long enough for that redial's handshake to get through: still down.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(fleet.state_of("slow-1").as_deref(), Some("down"));
    let healed = Instant::now();
    proxy.heal();
    fleet.wait_state("slow-1", "up", BACK);
    eprintln!(
        "delay: down after {down:?}, up {:?} after healing",
        healed.elapsed()
    );
    assert_nothing_lost_or_doubled(&fleet, &node, MARKERS);
}

/// A slow link (64 KiB/s each way) while a batch of log lines too big to
/// cross within `node_dead_after` is on its way: the node stays up (the
/// bytes of a frame still arriving are proof of life), the lines arrive
/// once each, and the proxy held to the limit.
#[test]
fn a_slow_link_keeps_the_node_up_and_delivers_a_big_batch() {
    const RATE: u64 = 64 * 1024;
    const BURST: u64 = 2000;
    let (fleet, proxy, node) = setup("thin-1", BURST);
    proxy.limit(RATE);
    let before = proxy.forwarded();
    let t = Instant::now();
    node.proc.signal(Signal::SIGUSR1);
    let mut polls = 0;
    let got = wait_for(
        Duration::from_secs(30),
        "the burst over the slow link",
        || {
            polls += 1;
            let state = fleet.state_of("thin-1");
            assert_eq!(
                state.as_deref(),
                Some("up"),
                "the node went down on a slow but working link after {:?}",
                t.elapsed()
            );
            let m = markers(&fleet, "thin-1");
            (m.len() as u64 >= BURST).then_some(m)
        },
    );
    let took = t.elapsed();
    let bytes = proxy.forwarded() - before;
    eprintln!("limit: {bytes} bytes in {took:?} ({polls} polls)");
    assert_eq!(got, (1..=BURST).collect::<Vec<_>>());
    // The limit held, and the burst needed more than node_dead_after.
    assert!(
        bytes as f64 <= RATE as f64 * 1.2 * took.as_secs_f64() + 16384.0,
        "{bytes} bytes in {took:?} is over {RATE} B/s"
    );
    assert!(took > DEAD, "the burst crossed in {took:?}: not a test");
    proxy.heal();
    assert_every_result_once(&fleet, &node);
    assert_eq!(markers(&fleet, "thin-1"), (1..=BURST).collect::<Vec<_>>());
}
