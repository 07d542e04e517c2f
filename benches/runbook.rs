//! Runbooks (issue 14): `merge-zones` of 10 zones spread over 3 nodes,
//! end to end with the real binaries (release) and the example pack.
//!
//! ```text
//! cargo bench --bench runbook            # 3 runs of each
//! cargo bench --bench runbook -- 5
//! ```
//!
//! 1. Real scripts: zone 201 and 9 others (3 on each of web-1, web-2,
//!    web-3) merged into it: 6 zones are packed, copied, unpacked on
//!    web-2; all 9 merged and archived. Wall time of `monit-cli runbook
//!    run` and each step's duration (configd's record).
//! 2. No-op commands: the same runbook and layout with every command
//!    `/bin/true`, so a step's duration is what monit itself costs (the
//!    dispatch, the node's spawn of `/bin/true`, the job record written
//!    twice, inventory changes applied). Transfers are left out: with no
//!    tarball made there is nothing to copy, so the zones all live on the
//!    target's node and those steps are skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::bench::{figure, median, Percentiles, Target};
use common::zones::{Layout, World};
use serde_json::Value;

const SPREAD: Layout = &[
    ("web-1", &[101, 102, 103]),
    ("web-2", &[201, 202, 203, 204]),
    ("web-3", &[301, 302, 303]),
];
const LOCAL: Layout = &[("web-2", &[201, 202, 203, 204, 205, 206, 207, 208, 209, 210])];

/// One merge in a fresh fleet: wall seconds and the durations (ms) of
/// the steps that ran, by kind of step name.
fn merge(layout: Layout, zones: &[&str], noop: bool) -> (f64, Vec<(String, f64)>) {
    let w = World::start(layout, "", noop);
    let mut args = vec!["runbook", "run", "merge-zones", "201"];
    args.extend_from_slice(zones);
    args.extend_from_slice(&["--yes", "-o", "json"]);
    let started = Instant::now();
    let out = w.cli_op(&args);
    let wall = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "merge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job: Value = serde_json::from_slice(&out.stdout).unwrap();
    let job = match job {
        Value::Array(mut a) => a.remove(0),
        v => v,
    };
    let steps = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "ok")
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["duration_ms"].as_f64().unwrap(),
            )
        })
        .collect();
    (wall, steps)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let spread = [
        "101", "102", "103", "202", "203", "204", "301", "302", "303",
    ];
    let local = [
        "202", "203", "204", "205", "206", "207", "208", "209", "210",
    ];
    println!("runbook: merge-zones 201 + 9 zones, {runs} run(s) of each");
    let mut walls = Vec::new();
    let mut step_sum = Vec::new();
    let mut by_name: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for i in 1..=runs {
        let (wall, steps) = merge(SPREAD, &spread, false);
        let sum: f64 = steps.iter().map(|(_, d)| d).sum();
        println!(
            "real scripts, run {i}: {} steps ran in {wall:.2}s wall, {:.2}s inside steps",
            steps.len(),
            sum / 1000.0
        );
        walls.push(wall);
        step_sum.push(sum / 1000.0);
        for (n, d) in steps {
            by_name.entry(n).or_default().push(d);
        }
    }
    for (n, ds) in &by_name {
        println!(
            "  step {n:<12} median {:>6.1} ms over {} runs of it",
            median(ds.clone()),
            ds.len()
        );
    }
    let mut noop_steps = Vec::new();
    let mut noop_walls = Vec::new();
    for i in 1..=runs {
        let (wall, steps) = merge(LOCAL, &local, true);
        println!(
            "no-op commands, run {i}: {} steps ran in {wall:.2}s wall",
            steps.len()
        );
        noop_walls.push((wall, steps.len()));
        noop_steps.extend(steps.into_iter().map(|(_, d)| d));
    }
    let steps = Percentiles::of(noop_steps).expect("no no-op step ran");
    let (per_step, p95) = (steps.median, steps.p95);
    println!(
        "real scripts: wall median {:.2}s, of which inside steps {:.2}s (median)",
        median(walls),
        median(step_sum)
    );
    println!(
        "monit's own cost per step (no-op commands): median {per_step:.1} ms, p95 {p95:.1} ms"
    );
    figure("runbook.step_overhead", per_step, "ms", Target::Below(20.0));
    let (w, n) = noop_walls[noop_walls.len() / 2];
    println!(
        "no-op run: {n} steps in {:.0} ms wall ({:.1} ms per step, client start and plan included)",
        w * 1000.0,
        w * 1000.0 / n.max(1) as f64
    );
}
