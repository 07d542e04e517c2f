//! The benches' verdict line (issue 12): `figure` prints one line per
//! checked figure, and `scripts/bench --verdict` (what `--check` runs on
//! each bench's output) reads it, decides PASS or FAIL again from the
//! numbers, and exits 1 when any figure missed its target.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::bench::{median, percentile, verdict_line, Percentiles, Target};

/// `scripts/bench --verdict` on `input`: its stdout and exit code.
fn verdict(input: &str) -> (String, i32) {
    let mut child = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench"))
        .arg("--verdict")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn a_missed_target_is_a_fail_line_and_fails_the_check() {
    let slow = verdict_line("node_load.query_p50", 25.04, "ms", Target::Below(20.0));
    assert_eq!(slow, "FAIL node_load.query_p50: 25.0 ms (target < 20.0)");
    let fast = verdict_line("logs.printed", 1_234_567.8, "lines/s", Target::AtLeast(1e6));
    assert_eq!(
        fast,
        "PASS logs.printed: 1234568 lines/s (target >= 1000000)"
    );
    let edge = verdict_line("x.rate", 2000.0, "handshakes/s", Target::AtLeast(2000.0));
    assert!(edge.starts_with("PASS "), "{edge}");
    let nothing = verdict_line("x.p99", f64::NAN, "ms", Target::Below(50.0));
    assert!(nothing.starts_with("FAIL "), "{nothing}");

    // Bench output around the lines is ignored; the verdicts come back as
    // they were printed.
    let output = format!("noise\n{fast}\nthroughput: 10 lines\n{slow}\n{nothing}\n");
    let (printed, code) = verdict(&output);
    assert_eq!(printed, format!("{fast}\n{slow}\n{nothing}\n"));
    assert_eq!(code, 1, "a FAIL fails the check");

    let (printed, code) = verdict(&format!("{fast}\n{edge}\n"));
    assert_eq!(printed, format!("{fast}\n{edge}\n"));
    assert_eq!(code, 0, "all PASS passes");

    // The script decides from the numbers, not from the word.
    let (printed, code) = verdict("PASS x.lat: 25.0 ms (target < 20.0)\n");
    assert_eq!(printed, "FAIL x.lat: 25.0 ms (target < 20.0)\n");
    assert_eq!(code, 1);

    // No figure at all is its own failure (exit 2).
    assert_eq!(verdict("a bench that printed nothing checked\n").1, 2);
}

#[test]
fn percentiles_are_nearest_rank() {
    let p = Percentiles::of((1..=100).map(f64::from).rev().collect()).unwrap();
    assert_eq!(
        (p.min, p.median, p.p90, p.p99, p.max),
        (1.0, 50.5, 90.0, 99.0, 100.0)
    );
    assert_eq!(percentile(&[3.0], 0.99), 3.0);
    assert!(percentile(&[], 0.5).is_nan());
    assert_eq!(median(vec![5.0, 1.0, 3.0]), 3.0);
    assert!(median(Vec::new()).is_nan());
}
