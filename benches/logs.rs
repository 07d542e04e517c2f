//! Live logs: simulated nodes push log lines through a real `monit-configd`
//! to one real `monit-cli logs -f -o jsonl`.
//!
//! ```text
//! cargo build --release --bins
//! cargo bench --bench logs -- [--nodes 10] [--lines 500000] [--rate 100000] [--latency-secs 10]
//! ```
//!
//! Each simulated node is a real node connection (handshake with its own
//! token, registration) that sends `LogBatch` requests of 2,000 lines, one
//! in flight at a time, as `monit-noded`'s shipper does. The subscriber's
//! stdout is a pipe the bench drains and counts newlines in (the cost of
//! `> /dev/null` plus one pipe read).
//!
//! 1. Throughput: every node sends `--lines` lines as fast as acks allow;
//!    lines/s = all lines / time until the subscriber printed the last.
//! 2. Latency: the nodes send `--rate` lines/s in total (every 10 ms, a
//!    batch per node), each line carrying its creation time (wall clock,
//!    ns); the bench parses the subscriber's output and reports p50/p99 of
//!    (time printed - time created).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use common::bench::{ask, exit, figure, names, node_link, Args, Configd, Percentiles, Target};
use common::Proc;
use monit::net::link::{LinkHandle, NoRequests};
use monit::net::proto::{Level, LogBatch, LogLine, Registration, RequestBody, ResponseBody, Role};
use tokio_util::sync::CancellationToken;

const BATCH: usize = 2000;

struct Opts {
    nodes: usize,
    lines: u64,
    rate: u64,
    latency_secs: u64,
}

fn opts() -> anyhow::Result<Opts> {
    let mut o = Opts {
        nodes: 10,
        lines: 500_000,
        rate: 100_000,
        latency_secs: 10,
    };
    let mut args = Args::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--nodes" => o.nodes = args.value("--nodes")?,
            "--lines" => o.lines = args.value("--lines")?,
            "--rate" => o.rate = args.value("--rate")?,
            "--latency-secs" => o.latency_secs = args.value("--latency-secs")?,
            other => Err(Args::unknown(other))?,
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    exit("logs", run())
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn run() -> anyhow::Result<()> {
    let o = opts()?;
    let mut configd = Configd::start(
        names("sim", o.nodes),
        Role::Viewer,
        "log_buffer_lines = 10000\n[log]\nlevel = \"warn\"\n",
    );
    let configd_pid = configd.pid();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stop = CancellationToken::new();
    let mut links = Vec::new();
    for (name, token) in std::mem::take(&mut configd.nodes) {
        let reg = Registration {
            hostname: name,
            version: "bench".into(),
            ..Default::default()
        };
        let endpoint = configd.endpoint(&token);
        let link = node_link(&endpoint, reg, Arc::new(NoRequests), &stop);
        links.push(rt.block_on(link).map_err(anyhow::Error::msg)?);
    }

    println!(
        "logs bench: {} simulated nodes -> monit-configd (pid {configd_pid}) -> monit-cli logs -f -o jsonl",
        o.nodes
    );
    // 1. Throughput.
    {
        let (mut cli, counter, skipped) = subscriber(&configd)?;
        std::thread::sleep(Duration::from_millis(500));
        let total = o.lines * o.nodes as u64;
        let start = Instant::now();
        let sent = rt.block_on(async {
            let mut tasks = Vec::new();
            for link in &links {
                let link = link.clone();
                let per = o.lines;
                tasks.push(tokio::spawn(async move { flood(&link, per).await }));
            }
            let mut ok = 0;
            for t in tasks {
                ok += t.await.unwrap_or(0);
            }
            ok
        });
        let ingest = start.elapsed();
        // Until every line is printed or reported skipped (or no progress for 5 s).
        let mut last = (0, Instant::now());
        let mut end = Instant::now();
        loop {
            let seen = counter.load(Ordering::Relaxed) + skipped.load(Ordering::Relaxed);
            if seen >= total {
                end = Instant::now();
                break;
            }
            if seen != last.0 {
                last = (seen, Instant::now());
                end = last.1;
            } else if last.1.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let elapsed = end - start;
        let got = counter.load(Ordering::Relaxed);
        let missed = skipped.load(Ordering::Relaxed);
        cli.kill9();
        let printed = got as f64 / elapsed.as_secs_f64();
        println!(
            "throughput: {total} lines from {} nodes; configd acked all {sent} in {:.2} s = {:.0} lines/s ingest; \
             the subscriber printed {got} and was told it skipped {missed} in {:.2} s = {:.0} lines/s printed; target >= 1000000",
            o.nodes,
            ingest.as_secs_f64(),
            sent as f64 / ingest.as_secs_f64(),
            elapsed.as_secs_f64(),
            printed,
        );
        figure(
            "logs.printed",
            printed,
            "lines/s",
            Target::AtLeast(1_000_000.0),
        );
    }
    // 2. Latency at a fixed rate.
    {
        let (mut cli, samples) = latency_subscriber(&configd)?;
        std::thread::sleep(Duration::from_millis(500));
        let per_tick = (o.rate / 100 / o.nodes as u64).max(1);
        let ticks = o.latency_secs * 100;
        rt.block_on(async {
            let mut tasks = Vec::new();
            for link in &links {
                let link = link.clone();
                tasks.push(tokio::spawn(
                    async move { paced(&link, per_tick, ticks).await },
                ));
            }
            for t in tasks {
                let _ = t.await;
            }
        });
        std::thread::sleep(Duration::from_secs(1));
        cli.kill9();
        let lat = samples.lock().map(|s| s.clone()).unwrap_or_default();
        let count = lat.len();
        let ms = Percentiles::of(lat.into_iter().map(|ns| ns as f64 / 1e6).collect());
        let (p50, p99, max) =
            ms.map_or((f64::NAN, f64::NAN, f64::NAN), |p| (p.median, p.p99, p.max));
        println!(
            "latency at {} lines/s for {} s: {count} samples, p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; target p99 < 50 ms",
            per_tick * 100 * o.nodes as u64,
            o.latency_secs,
        );
        figure("logs.latency_p99", p99, "ms", Target::Below(50.0));
    }
    drop(links);
    drop(configd);
    Ok(())
}

fn line(message: String) -> LogLine {
    LogLine {
        time_ms: (now_ns() / 1_000_000) as i64,
        node: String::new(),
        level: Level::Info,
        source: "daemon".into(),
        message,
    }
}

async fn send(link: &LinkHandle, lines: Vec<LogLine>) -> bool {
    let batch = RequestBody::LogBatch(LogBatch {
        stream: 0,
        first_line: 0,
        lines,
    });
    matches!(ask(link, batch).await, Some(ResponseBody::LogAck(_)))
}

/// Sends `n` lines as fast as acks come back; returns lines acked. A
/// load generator should cost little: the batch of `BATCH` lines is
/// encoded once and sent again and again (configd still decodes, stamps,
/// stores and fans out every line; a short last batch is encoded alone).
async fn flood(link: &LinkHandle, n: u64) -> u64 {
    let batch = |k: u64| -> Option<bytes::Bytes> {
        let lines = (0..k)
            .map(|i| line(format!("bench line {i} of the throughput run, some text")))
            .collect();
        let body = RequestBody::LogBatch(LogBatch {
            stream: 0,
            first_line: 0,
            lines,
        });
        monit::net::bulk::encode_request_body(&body)
            .ok()
            .map(bytes::Bytes::from)
    };
    let Some(full) = batch(BATCH as u64) else {
        return 0;
    };
    let mut sent = 0;
    while sent < n {
        let k = (n - sent).min(BATCH as u64);
        let body = if k == BATCH as u64 {
            full.clone()
        } else {
            match batch(k) {
                Some(b) => b,
                None => break,
            }
        };
        let acked = match link.request_encoded(body).await {
            Ok(mut r) => matches!(r.next().await, Some(Ok(ResponseBody::LogAck(_)))),
            Err(_) => false,
        };
        if !acked {
            break;
        }
        sent += k;
    }
    sent
}

/// `per_tick` lines every 10 ms for `ticks` ticks, each stamped `lat NS`.
async fn paced(link: &LinkHandle, per_tick: u64, ticks: u64) {
    let mut every = tokio::time::interval(Duration::from_millis(10));
    for _ in 0..ticks {
        every.tick().await;
        let lines = (0..per_tick)
            .map(|_| line(format!("lat {}", now_ns())))
            .collect();
        let _ = send(link, lines).await;
    }
}

fn spawn_cli(configd: &Configd) -> Proc {
    let mut cmd = configd.cli(&["logs", "-f", "-n", "0", "-o", "jsonl"]);
    cmd.stdout(Stdio::piped());
    Proc::spawn("subscriber", cmd, configd.path())
}

/// The subscriber, its output drained: lines printed, and lines it was
/// told it skipped (`skipped N lines` lines, source `logs`).
fn subscriber(configd: &Configd) -> anyhow::Result<(Proc, Arc<AtomicU64>, Arc<AtomicU64>)> {
    let mut cli = spawn_cli(configd);
    let out = cli.child.stdout.take().context("stdout")?;
    let count = Arc::new(AtomicU64::new(0));
    let skipped = Arc::new(AtomicU64::new(0));
    let (c, k) = (count.clone(), skipped.clone());
    std::thread::spawn(move || {
        let mut r = BufReader::with_capacity(1 << 20, out);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.windows(15).any(|w| w == b"\"source\":\"logs\"") {
                let text = String::from_utf8_lossy(&line);
                if let Some(i) = text.find("skipped ") {
                    let n: String = text[i + 8..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    k.fetch_add(n.parse().unwrap_or(0), Ordering::Relaxed);
                }
            } else {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    Ok((cli, count, skipped))
}

type Samples = Arc<std::sync::Mutex<Vec<u64>>>;

/// The subscriber, each `lat NS` line turned into a latency sample.
fn latency_subscriber(configd: &Configd) -> anyhow::Result<(Proc, Samples)> {
    let mut cli = spawn_cli(configd);
    let out = cli.child.stdout.take().context("stdout")?;
    let samples: Samples = Arc::default();
    let s = samples.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { return };
            let now = now_ns();
            if let Some(i) = l.find("\"lat ") {
                let digits: String = l[i + 5..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(t) = digits.parse::<u64>() {
                    if let Ok(mut v) = s.lock() {
                        v.push(now.saturating_sub(t));
                    }
                }
            }
        }
    });
    Ok((cli, samples))
}
