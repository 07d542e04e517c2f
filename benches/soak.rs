//! The soak (issue 17): 1,000 simulated nodes with checks and logs, plus
//! operators querying and a `logs -f` follower, against a real
//! `monit-configd` for a set time; configd's RSS, open fds and threads
//! every minute (every 10 s for runs under 5 minutes), then the growth
//! between the first sample after warm-up and the last.
//!
//! ```text
//! cargo bench --bench soak -- --minutes 10 [--nodes 1000] [--warmup SECS]
//! cargo bench --bench soak -- --seconds 60 --nodes 200
//! ```
//!
//! Each node sends 5 check results and 5 log lines every 10 s (one check
//! turns warning one round in six); every 5 s an operator runs
//! `monit-cli query nodes -o json` and `query checks -o json`. Tokio
//! tasks inside configd are not visible from outside, so only OS threads
//! are counted. The logic is in `tests/common/soak.rs`, shared with the
//! 60-second CI test `tests/soak_short.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::bench::{figure, Args, Target};
use common::soak;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<bool> {
    let mut nodes = 1000usize;
    let mut secs = 600u64;
    let mut warmup = None;
    let mut args = Args::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--nodes" => nodes = args.value("--nodes")?,
            "--minutes" => secs = args.value::<u64>("--minutes")? * 60,
            "--seconds" => secs = args.value("--seconds")?,
            "--warmup" => warmup = Some(Duration::from_secs(args.value("--warmup")?)),
            other => Err(Args::unknown(other))?,
        }
    }
    let mut o = soak::SoakOptions::new(nodes, Duration::from_secs(secs));
    if let Some(w) = warmup {
        o.warmup = w;
        o = o.with_rings_full_after_warmup();
    }
    println!(
        "soak: {nodes} simulated nodes, {secs} s, a sample every {} s, warm-up {} s, log_buffer_lines {} per node",
        o.sample_every.as_secs(),
        o.warmup.as_secs(),
        o.log_buffer_lines
    );
    let report = soak::run(&o, |s| {
        println!(
            "t={:>5.0}s  rss {:>7.1} MiB (anon {:.1}, file {:.1})  fds {:>5}  threads {:>3}",
            s.at.as_secs_f64(),
            s.rss_kib as f64 / 1024.0,
            s.anon_kib as f64 / 1024.0,
            s.file_kib as f64 / 1024.0,
            s.fds,
            s.threads
        );
    })?;
    println!("{}", report.summary());
    println!("fd counts after warm-up: {:?}", report.fds_after_warmup());
    let rss_ok = figure(
        "soak.rss_growth",
        report.rss_growth_pct(),
        "%",
        Target::Below(5.0),
    );
    let fds = report.fds_after_warmup().len() as f64;
    let fds_ok = figure(
        "soak.fd_counts_after_warmup",
        fds,
        "counts",
        Target::Below(2.0),
    );
    let failed = report.queries_failed as f64;
    let queries_ok = figure("soak.queries_failed", failed, "queries", Target::Below(1.0));
    Ok(rss_ok && fds_ok && queries_ok && report.follower_alive)
}
