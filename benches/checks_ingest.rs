//! configd check-result ingest: 1,000 simulated nodes (each its own TCP
//! connection, handshake, registration with 10 checks, heartbeats) push
//! `CheckResults` batches to a real `monit-configd` process; a batch counts
//! once configd answered `ResultsAck`, which it sends only after the
//! checks' state is committed to SQLite.
//!
//! ```text
//! cargo bench --bench checks_ingest -- --nodes 1000 --batch 200 --in-flight 2 --measure 10
//! ```
//!
//! Reports results/s absorbed, configd CPU (% of one core) and RSS. The
//! fleet runs in this process on the same 2 cores, so configd gets at most
//! what the load generator leaves it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bench::{
    ask, check_result, cpu_secs, exit, figure, names, node_link, perf_time, print_table,
    registration, rss_kib, Args, Configd, Target,
};
use monit::checks::CheckState;
use monit::net::link::NoRequests;
use monit::net::proto::{CheckResults, RequestBody, ResponseBody, Role};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

const CHECKS_PER_NODE: usize = 10;

struct Options {
    nodes: usize,
    batch: usize,
    in_flight: usize,
    measure: Duration,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        nodes: 1000,
        batch: 200,
        in_flight: 2,
        measure: Duration::from_secs(10),
    };
    let mut args = Args::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--nodes" => o.nodes = args.value("--nodes")?,
            "--batch" => o.batch = args.value("--batch")?,
            "--in-flight" => {
                o.in_flight = args
                    .value::<usize>("--in-flight")?
                    .clamp(1, CHECKS_PER_NODE)
            }
            "--measure" => o.measure = Duration::from_secs(args.value("--measure")?),
            other => return Err(Args::unknown(other).into()),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    exit("checks_ingest", run())
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    monit::daemon::raise_nofile_limit();
    let mut configd = Configd::start(
        names("ingest", o.nodes),
        Role::Viewer,
        "heartbeat_interval = \"1s\"\nnode_dead_after = \"30s\"\n",
    );
    let nodes = std::mem::take(&mut configd.nodes);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (rate, cpu, rss, errors) = rt.block_on(fleet(&o, &configd, nodes))?;
    println!(
        "checks_ingest: {} nodes x {} checks, {} results per batch, {} in flight per node",
        o.nodes, CHECKS_PER_NODE, o.batch, o.in_flight
    );
    println!("results absorbed (state committed): {rate:.0}/s");
    println!(
        "configd CPU {cpu:.0}% of one core, RSS {} MiB, errors {errors}",
        rss / 1024
    );
    println!();
    print_table(
        &["nodes", "batch", "results/s", "configd CPU", "configd RSS"],
        &[vec![
            o.nodes.to_string(),
            o.batch.to_string(),
            format!("{rate:.0}"),
            format!("{cpu:.0}%"),
            format!("{} MiB", rss / 1024),
        ]],
    );
    figure(
        "checks_ingest.results_per_s",
        rate,
        "results/s",
        Target::AtLeast(200_000.0),
    );
    Ok(())
}

/// Results for the checks of in-flight lane `lane` (of `lanes`): each
/// check is sent by one lane only, with strictly increasing times, as a
/// real node sends them (configd drops a result not newer than the last,
/// so reused times would be counted without being applied).
fn batch_for(lane: usize, lanes: usize, seq: u64, batch: usize, base_ms: i64) -> CheckResults {
    let mine: Vec<usize> = (lane..CHECKS_PER_NODE).step_by(lanes).collect();
    let results = (0..batch)
        .map(|i| {
            let c = mine[i % mine.len()];
            let state = if (seq + i as u64).is_multiple_of(97) {
                CheckState::Warning
            } else {
                CheckState::Ok
            };
            let time_ms = base_ms + (seq * batch as u64 + i as u64) as i64;
            let output = "OK: all good".into();
            check_result(
                format!("check-{c}"),
                state,
                output,
                time_ms,
                3,
                vec![perf_time(0.001)],
            )
        })
        .collect();
    CheckResults { results }
}

async fn fleet(
    o: &Options,
    configd: &Configd,
    nodes: Vec<(String, monit::auth::Token)>,
) -> Result<(f64, f64, u64, u64), String> {
    let pid = configd.pid().to_string();
    let stop = CancellationToken::new();
    let gate = Arc::new(Semaphore::new(128));
    let mut links = Vec::new();
    let mut pending = Vec::new();
    for (name, token) in nodes {
        let gate = gate.clone();
        let endpoint = configd.endpoint(&token);
        let stop = stop.clone();
        pending.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            let reg = registration(&name, CHECKS_PER_NODE, 3);
            node_link(&endpoint, reg, Arc::new(NoRequests), &stop).await
        }));
    }
    for p in pending {
        links.push(p.await.map_err(|e| e.to_string())??);
    }
    let accepted = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, link) in links.iter().enumerate() {
        for k in 0..o.in_flight {
            let link = link.clone();
            let accepted = accepted.clone();
            let errors = errors.clone();
            let stop = stop.clone();
            let batch = o.batch;
            let lanes = o.in_flight;
            let base_ms = monit::timefmt::now_ms();
            tasks.push(tokio::spawn(async move {
                let mut seq = (i * 16 + k) as u64;
                while !stop.is_cancelled() {
                    seq += 1;
                    let body = RequestBody::CheckResults(batch_for(k, lanes, seq, batch, base_ms));
                    match ask(&link, body).await {
                        Some(ResponseBody::ResultsAck(a)) => {
                            accepted.fetch_add(u64::from(a.accepted), Ordering::Relaxed);
                        }
                        _ if stop.is_cancelled() => break,
                        other => {
                            if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("first error: {other:?}");
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let a0 = accepted.load(Ordering::Relaxed);
    let c0 = cpu_secs(&pid);
    let t0 = Instant::now();
    tokio::time::sleep(o.measure).await;
    let a1 = accepted.load(Ordering::Relaxed);
    let c1 = cpu_secs(&pid);
    let wall = t0.elapsed().as_secs_f64();
    let rss = rss_kib(&pid);
    stop.cancel();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    Ok((
        (a1 - a0) as f64 / wall,
        100.0 * (c1 - c0) / wall,
        rss,
        errors.load(Ordering::Relaxed),
    ))
}
