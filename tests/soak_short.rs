//! The CI soak (issue 17, item 7): `benches/soak.rs`'s logic for 60 s with
//! 200 simulated nodes in the debug build. configd's fd count must not
//! move after the warm-up (20 s), and its RSS may grow by at most 10 %
//! between the sample at 20 s and the one at 60 s.
//!
//! Why 10 %: the release soak must stay under 5 % over 10 minutes; a debug
//! build over 40 s is noisier (larger, unoptimised frames and allocations,
//! the allocator still settling), and runs on a shared 2-core machine.
//! Measured here it stays within a few percent; a leak of one kilobyte
//! per check result (200 nodes x 5 results / 10 s: 4 MB over the window),
//! or of one connection or subscription per operator query, fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::soak;

#[test]
fn sixty_seconds_of_200_nodes_and_operators_keep_fds_constant_and_memory_flat() {
    let o = soak::SoakOptions::new(200, Duration::from_secs(60));
    let report = soak::run(&o, |s| {
        eprintln!(
            "t={:>3.0}s rss {:.1} MiB fds {} threads {}",
            s.at.as_secs_f64(),
            s.rss_kib as f64 / 1024.0,
            s.fds,
            s.threads
        )
    })
    .unwrap();
    eprintln!("{}", report.summary());
    assert!(report.samples.len() >= 6, "{:?}", report.samples);
    assert!(report.baseline.at >= o.warmup, "{report:?}");
    assert!(
        report.baseline.fds > 200,
        "one fd per node at least: {report:?}"
    );
    assert_eq!(
        report.fds_after_warmup().len(),
        1,
        "fds constant after warm-up: {:?}",
        report.samples
    );
    assert!(
        report.rss_growth_pct() < 10.0,
        "RSS grew {:.1} %: {:?}",
        report.rss_growth_pct(),
        report.samples
    );
    assert_eq!(report.node_errors, 0, "{}", report.summary());
    assert_eq!(report.queries_failed, 0, "{}", report.summary());
    assert!(report.queries_ok >= 20, "{}", report.summary());
    assert!(report.follower_alive, "{}", report.summary());
    // Every node sent 5 results and 5 lines at least 5 times.
    assert!(report.results_acked >= 200 * 5 * 5, "{}", report.summary());
    assert!(report.followed >= 200 * 5 * 5, "{}", report.summary());
}
