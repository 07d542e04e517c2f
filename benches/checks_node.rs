//! Checks on one node: the check scheduler (`monit::noded::scheduler`, the
//! code `monit-noded` runs) with N checks of `check_dummy 0 OK` at a 1 s
//! interval, beside the machine's raw fork+exec+wait rate for the same
//! plugin, measured by this same program in the same run.
//!
//! ```text
//! cargo bench --bench checks_node -- 100 1000 5000
//! ```
//!
//! Options after `--`: check counts (default `100 1000 5000`), `--measure
//! SECS` (10), `--concurrency C` (the node's `max_concurrent_checks`, 64).
//!
//! Raw rate: C threads each running `check_dummy 0 OK` with
//! `std::process::Command` (fork+exec+wait, stdout piped) as fast as they
//! can for 3 s. Scheduler: after one interval of warm-up, results counted
//! over the measure window; lateness is each run's start minus its
//! scheduled time; CPU is this process (scheduler) and its reaped children
//! (the plugins) from getrusage; RSS from /proc/self/status.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bench::{exit, figure, print_table, rss_kib, rusage_secs, Args, Percentiles, Target};
use monit::config::CheckSpec;
use nix::sys::resource::UsageWho;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const PLUGIN: &str = "/usr/lib/nagios/plugins/check_dummy";

struct Options {
    sizes: Vec<usize>,
    measure: Duration,
    concurrency: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        sizes: vec![],
        measure: Duration::from_secs(10),
        concurrency: 64,
    };
    let mut args = Args::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--measure" => o.measure = Duration::from_secs(args.value("--measure")?),
            "--concurrency" => o.concurrency = args.value("--concurrency")?,
            n => o.sizes.push(n.parse().map_err(|_| Args::unknown(n))?),
        }
    }
    if o.sizes.is_empty() {
        o.sizes = vec![100, 1000, 5000];
    }
    Ok(o)
}

fn main() -> ExitCode {
    exit("checks_node", run())
}

fn raw_rate(threads: usize, secs: f64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let stop = stop.clone();
            let count = count.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let ok = std::process::Command::new(PLUGIN)
                        .args(["0", "OK"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::null())
                        .output()
                        .map(|o| o.status.success())
                        .unwrap_or(false);
                    if ok {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

struct Figures {
    n: usize,
    rate: f64,
    lat_p50: f64,
    lat_p99: f64,
    cpu_self: f64,
    cpu_children: f64,
    rss: u64,
    non_ok: u64,
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    if !std::path::Path::new(PLUGIN).exists() {
        return Err(format!(
            "{PLUGIN} missing: apt-get install -y monitoring-plugins-basic"
        ));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "checks_node: {cores} cores, plugin {PLUGIN} 0 OK, concurrency cap {}",
        o.concurrency
    );
    let raw1 = raw_rate(1, 3.0);
    let raw_c = raw_rate(o.concurrency.min(64), 3.0);
    println!(
        "raw fork+exec+wait: {raw1:.0}/s one at a time, {raw_c:.0}/s with {} at once",
        o.concurrency.min(64)
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut all = Vec::new();
    for &n in &o.sizes {
        let f = rt.block_on(measure(n, &o));
        println!(
            "N={:5}: {:7.0} checks/s ({:5.1}% of raw {:.0}/s; offered {}/s), lateness p50 {:.0} ms p99 {:.0} ms, CPU scheduler {:5.1}% + plugins {:5.1}% of one core, RSS {} MiB, non-ok {}",
            f.n,
            f.rate,
            100.0 * f.rate / raw_c,
            raw_c,
            f.n,
            f.lat_p50,
            f.lat_p99,
            f.cpu_self,
            f.cpu_children,
            f.rss / 1024,
            f.non_ok
        );
        all.push(f);
    }
    println!();
    let raw_share = format!("% of raw ({raw_c:.0}/s)");
    let header = [
        "checks",
        "offered/s",
        "achieved/s",
        raw_share.as_str(),
        "lateness p50",
        "lateness p99",
        "scheduler CPU",
        "plugins CPU",
        "RSS",
    ];
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|f| {
            vec![
                f.n.to_string(),
                f.n.to_string(),
                format!("{:.0}", f.rate),
                format!("{:.1}%", 100.0 * f.rate / raw_c),
                format!("{:.0} ms", f.lat_p50),
                format!("{:.0} ms", f.lat_p99),
                format!("{:.1}%", f.cpu_self),
                format!("{:.1}%", f.cpu_children),
                format!("{} MiB", f.rss / 1024),
            ]
        })
        .collect();
    print_table(&header, &rows);
    for f in &all {
        let n = f.n;
        let share = 100.0 * f.rate / raw_c;
        figure(
            &format!("checks_node.{n}.of_raw_rate"),
            share,
            "%",
            Target::AtLeast(95.0),
        );
        figure(
            &format!("checks_node.{n}.lateness_p99"),
            f.lat_p99,
            "ms",
            Target::Below(50.0),
        );
    }
    Ok(())
}

async fn measure(n: usize, o: &Options) -> Figures {
    let checks: Vec<CheckSpec> = (0..n)
        .map(|i| CheckSpec {
            name: format!("dummy-{i}"),
            command: vec![PLUGIN.into(), "0".into(), "OK".into()],
            interval: Duration::from_secs(1),
            retry_interval: Duration::from_secs(1),
            max_attempts: 3,
            timeout: Duration::from_secs(10),
            freshness: None,
        })
        .collect();
    let (tx, mut rx) = mpsc::channel(65536);
    let stop = CancellationToken::new();
    let sched = tokio::spawn(monit::noded::scheduler::run_checks(
        checks,
        o.concurrency,
        tx,
        stop.clone(),
    ));
    // Warm-up: one interval and a bit.
    let warm_until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(_)) = tokio::time::timeout_at(warm_until, rx.recv()).await {}
    let self0 = rusage_secs(UsageWho::RUSAGE_SELF);
    let kids0 = rusage_secs(UsageWho::RUSAGE_CHILDREN);
    let start = Instant::now();
    let until = tokio::time::Instant::now() + o.measure;
    let mut lat = Vec::new();
    let mut non_ok = 0;
    while let Ok(Some(r)) = tokio::time::timeout_at(until, rx.recv()).await {
        lat.push(r.latency_ms);
        if r.state != monit::checks::CheckState::Ok {
            non_ok += 1;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let self1 = rusage_secs(UsageWho::RUSAGE_SELF);
    let kids1 = rusage_secs(UsageWho::RUSAGE_CHILDREN);
    let rss = rss_kib("self");
    stop.cancel();
    let _ = sched.await;
    // Let the last plugins finish before the next size.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rate = lat.len() as f64 / wall;
    let lat = Percentiles::of(lat.into_iter().map(|ms| ms as f64).collect());
    Figures {
        n,
        rate,
        lat_p50: lat.map_or(f64::NAN, |p| p.median),
        lat_p99: lat.map_or(f64::NAN, |p| p.p99),
        cpu_self: 100.0 * (self1 - self0) / wall,
        cpu_children: 100.0 * (kids1 - kids0) / wall,
        rss,
        non_ok,
    }
}
