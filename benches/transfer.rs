//! File transfer throughput (issue 14): a file of pseudo-random bytes
//! (xorshift, written out in full: no sparse file) copied node -> configd
//! -> node on loopback, TLS on as in production, with configd running in
//! this process (`configd::transfer::copy`, as the runbook engine calls
//! it) and two real `monit-noded` processes, each with its own
//! transfer_dir.
//!
//! ```text
//! cargo bench --bench transfer            # 1 GiB, 1 run
//! cargo bench --bench transfer -- 256 3   # 256 MiB, 3 runs
//! ```
//!
//! Prints MB/s (10^6 bytes per second of wall time, from the call to
//! `copy` until the destination committed: fsync and rename included) and
//! configd's memory growth: the RSS of this process (/proc/self/status
//! `VmRSS`, sampled every 10 ms during the copy) over its RSS just before.
//! The nodes are other processes and are not counted. Also prints the
//! CPU time (user + system, /proc/PID/stat) configd and each node used
//! during the copy: on a shared machine it says what the copy costs
//! whatever else runs. Fails (exit 1) when
//! a run is under 300 MB/s or grows RSS by 64 MiB or more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bench::{cpu_secs, figure, rss_kib, Target};
use common::transfer::{random_file, request, sha256_file, World};
use monit::configd::transfer::{self, TransferProgress};
use tokio_util::sync::CancellationToken;

const MIN_MB_S: f64 = 300.0;
const MAX_GROWTH_MIB: f64 = 64.0;

/// configd's (this process's) RSS in bytes.
fn rss() -> u64 {
    rss_kib("self") * 1024
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mib: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if rt.block_on(run(mib, runs)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(mib: u64, runs: usize) -> bool {
    let w = World::start("", &["src", "dst"]).await;
    let src = w.node("src", true).await;
    let dst = w.node("dst", true).await;
    let pids = [
        "self".to_string(),
        src.pid().to_string(),
        dst.pid().to_string(),
    ];
    let len = mib << 20;
    let file = w.dir("src").join("data");
    let made = Instant::now();
    random_file(&file, len, 0x5eed);
    let want = sha256_file(&file);
    println!(
        "transfer: {mib} MiB of pseudo-random bytes written in {:.1}s; sha256 {want}",
        made.elapsed().as_secs_f64()
    );
    let mut ok = true;
    for i in 0..runs {
        let dst_name = format!("copy-{i}");
        let before = rss();
        let peak = Arc::new(AtomicU64::new(before));
        let stop = CancellationToken::new();
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.is_cancelled() {
                    peak.fetch_max(rss(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let (tx, mut rx) = tokio::sync::watch::channel(TransferProgress::default());
        // When the destination acknowledged the last chunk: what follows is
        // its commit (hash check, fsync of the whole file, rename).
        let streamed = tokio::spawn(async move {
            loop {
                let p = *rx.borrow_and_update();
                if p.total > 0 && p.bytes == p.total {
                    return Some(Instant::now());
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        });
        let cpu_before: Vec<f64> = pids.iter().map(|p| cpu_secs(p)).collect();
        let started = Instant::now();
        let result = transfer::copy(
            &w.shared,
            request(("src", "data"), ("dst", &dst_name)),
            tx,
            CancellationToken::new(),
        )
        .await;
        let secs = started.elapsed().as_secs_f64();
        let streamed = streamed
            .await
            .ok()
            .flatten()
            .map(|t| t.duration_since(started).as_secs_f64());
        let cpu: Vec<f64> = pids
            .iter()
            .zip(&cpu_before)
            .map(|(p, b)| cpu_secs(p) - b)
            .collect();
        stop.cancel();
        let _ = sampler.await;
        let t = match result {
            Ok(t) => t,
            Err(e) => {
                println!("run {}: error: {e}", i + 1);
                return false;
            }
        };
        let growth = peak.load(Ordering::Relaxed).saturating_sub(before);
        let mb_s = t.bytes as f64 / 1e6 / secs;
        let same = t.sha256 == want && sha256_file(&w.dir("dst").join(&dst_name)) == want;
        println!(
            "run {}: {} bytes in {secs:.2}s = {mb_s:.0} MB/s; configd RSS {:.1} MiB before, growth {:.1} MiB (peak); sha256 {}",
            i + 1,
            t.bytes,
            before as f64 / 1048576.0,
            growth as f64 / 1048576.0,
            if same { "matches" } else { "DIFFERS" },
        );
        let growth_mib = growth as f64 / 1048576.0;
        ok &= figure(
            "transfer.throughput",
            mb_s,
            "MB/s",
            Target::AtLeast(MIN_MB_S),
        );
        ok &= figure(
            "transfer.rss_growth",
            growth_mib,
            "MiB",
            Target::Below(MAX_GROWTH_MIB),
        );
        ok &= same;
        if let Some(s) = streamed {
            println!(
                "run {}: streamed (last chunk acknowledged) in {s:.2}s = {:.0} MB/s; commit (SHA-256 check, fsync, rename) {:.2}s",
                i + 1,
                t.bytes as f64 / 1e6 / s,
                secs - s
            );
        }
        let total: f64 = cpu.iter().sum();
        println!(
            "run {}: CPU during the copy: configd {:.2}s, source node {:.2}s, destination node {:.2}s; {:.2} CPU-s per GiB (one free core would carry {:.0} MB/s)",
            i + 1,
            cpu[0],
            cpu[1],
            cpu[2],
            total / (t.bytes as f64 / (1u64 << 30) as f64).max(1e-9),
            t.bytes as f64 / 1e6 / total.max(1e-9)
        );
        let _ = std::fs::remove_file(w.dir("dst").join(&dst_name));
    }
    ok
}
