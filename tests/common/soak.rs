//! The soak (issue 17, item 7), shared by `benches/soak.rs` (1,000 nodes,
//! minutes, release) and `tests/soak_short.rs` (fewer nodes, 60 s, debug):
//! a real `monit-configd`; simulated nodes in this process (each its own
//! TLS connection, token, registration with checks and heartbeats) sending
//! check results and log lines; operators running real `monit-cli query
//! nodes` / `query checks` periodically and one real `monit-cli logs -f`
//! following everything. configd's RSS, open fds (entries of
//! /proc/PID/fd) and threads (/proc/PID/status `Threads`) are sampled at
//! a fixed interval; the report compares the first sample after warm-up
//! with the last. Tokio tasks inside configd are not visible from outside
//! the process, so they are not counted.
//!
//! Samples are taken by the thread that also runs the operator queries,
//! between queries, so a short-lived CLI connection is never counted as
//! an open fd.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use monit::auth::Token;
use monit::checks::CheckState;
use monit::net::link::{LinkHandle, NoRequests};
use monit::net::proto::{CheckResults, Level, LogBatch, LogLine, RequestBody, ResponseBody, Role};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::bench::{self, ask, check_result, node_link, perf_time, registration, Configd};
use super::Proc;

pub const CHECKS_PER_NODE: usize = 5;
pub const LINES_PER_ROUND: usize = 5;

pub struct SoakOptions {
    pub nodes: usize,
    pub duration: Duration,
    /// How often configd is sampled.
    pub sample_every: Duration,
    /// Samples before this are warm-up (caches, buffers filling).
    pub warmup: Duration,
    /// How often each node sends its check results and log lines.
    pub node_every: Duration,
    /// How often the operators run `query nodes` and `query checks`.
    pub query_every: Duration,
    /// configd's `log_buffer_lines` (a ring per node): small enough that
    /// every node's ring is full before the warm-up ends, so what the soak
    /// measures is growth, not a bounded buffer filling (with the default
    /// 10,000 lines per node and 5 lines per node every 10 s the rings
    /// would fill for 5.5 hours).
    pub log_buffer_lines: usize,
}

impl SoakOptions {
    /// Samples every minute, or every 10 s for runs under 5 minutes;
    /// warm-up of two minutes (20 s for short runs). In release, configd's
    /// RSS climbs for the first minutes before it levels off (about 61 MiB
    /// for 1,000 nodes, reached at 180 s in one run and 360 s in another;
    /// cause not yet identified), see BENCHMARKS.md.
    pub fn new(nodes: usize, duration: Duration) -> Self {
        let short = duration < Duration::from_secs(300);
        SoakOptions {
            nodes,
            duration,
            sample_every: if short {
                Duration::from_secs(10)
            } else {
                Duration::from_secs(60)
            },
            warmup: if short {
                Duration::from_secs(20)
            } else {
                Duration::from_secs(120)
            },
            node_every: Duration::from_secs(10),
            query_every: Duration::from_secs(5),
            log_buffer_lines: 0,
        }
        .with_rings_full_after_warmup()
    }

    /// Sets `log_buffer_lines` so that each node's ring is full two rounds
    /// before the warm-up (or the first minute) ends (at least one batch).
    pub fn with_rings_full_after_warmup(mut self) -> Self {
        let warm = self.warmup.min(Duration::from_secs(60));
        let rounds = (warm.as_secs() / self.node_every.as_secs().max(1)) as usize;
        self.log_buffer_lines = rounds.saturating_sub(2).max(1) * LINES_PER_ROUND;
        self
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Duration,
    pub rss_kib: u64,
    /// Of which anonymous memory (heap) and file-backed pages.
    pub anon_kib: u64,
    pub file_kib: u64,
    pub fds: u64,
    pub threads: u64,
}

#[derive(Debug)]
pub struct SoakReport {
    pub samples: Vec<Sample>,
    /// The first sample at or after the warm-up.
    pub baseline: Sample,
    pub last: Sample,
    pub results_acked: u64,
    pub lines_acked: u64,
    pub node_errors: u64,
    pub queries_ok: u64,
    pub queries_failed: u64,
    /// Lines the `logs -f` follower printed.
    pub followed: u64,
    pub follower_alive: bool,
}

impl SoakReport {
    pub fn rss_growth_pct(&self) -> f64 {
        100.0 * (self.last.rss_kib as f64 - self.baseline.rss_kib as f64)
            / self.baseline.rss_kib.max(1) as f64
    }

    pub fn fd_growth(&self) -> i64 {
        self.last.fds as i64 - self.baseline.fds as i64
    }

    /// Distinct fd counts seen from the baseline on.
    pub fn fds_after_warmup(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .samples
            .iter()
            .filter(|s| s.at >= self.baseline.at)
            .map(|s| s.fds)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn summary(&self) -> String {
        format!(
            "after warm-up ({:.0} s -> {:.0} s): RSS {:.1} -> {:.1} MiB ({:+.2} %), fds {} -> {} ({:+}), threads {} -> {}; \
             {} check results and {} log lines acked, {} node errors; operator queries {} ok / {} failed; logs -f printed {} lines{}",
            self.baseline.at.as_secs_f64(),
            self.last.at.as_secs_f64(),
            self.baseline.rss_kib as f64 / 1024.0,
            self.last.rss_kib as f64 / 1024.0,
            self.rss_growth_pct(),
            self.baseline.fds,
            self.last.fds,
            self.fd_growth(),
            self.baseline.threads,
            self.last.threads,
            self.results_acked,
            self.lines_acked,
            self.node_errors,
            self.queries_ok,
            self.queries_failed,
            self.followed,
            if self.follower_alive {
                ""
            } else {
                " (the follower EXITED)"
            },
        )
    }
}

pub fn sample(pid: u32, at: Duration) -> Sample {
    let pid = pid.to_string();
    let field = |key| bench::status_field(&pid, key).unwrap_or(0);
    Sample {
        at,
        rss_kib: field("VmRSS:"),
        anon_kib: field("RssAnon:"),
        file_kib: field("RssFile:"),
        fds: bench::open_fds(&pid),
        threads: field("Threads:"),
    }
}

/// Runs the soak; `progress` gets each sample as it is taken.
pub fn run(o: &SoakOptions, mut progress: impl FnMut(&Sample)) -> anyhow::Result<SoakReport> {
    let mut configd = Configd::start(
        bench::names("soak", o.nodes),
        Role::Viewer,
        &format!(
            "log_buffer_lines = {}\n[log]\nlevel = \"warn\"\n",
            o.log_buffer_lines
        ),
    );
    let nodes = std::mem::take(&mut configd.nodes);
    let pid = configd.pid();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stop = CancellationToken::new();
    let results = Arc::new(AtomicU64::new(0));
    let lines = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let links = rt.block_on(connect_all(&configd, nodes, &stop))?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    let n = links.len();
    for (i, (name, link)) in links.into_iter().enumerate() {
        let stop = stop.clone();
        let (results, lines, errors) = (results.clone(), lines.clone(), errors.clone());
        // Spread the nodes over the period, as real ones are.
        let offset = o.node_every.mul_f64(i as f64 / n.max(1) as f64);
        let every = o.node_every;
        tasks.push(rt.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(offset) => {}
            }
            let mut tick = tokio::time::interval(every);
            let mut round = 0u64;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                round += 1;
                match send_checks(&link, round).await {
                    Some(k) => {
                        results.fetch_add(k, Ordering::Relaxed);
                    }
                    None if stop.is_cancelled() => return,
                    None => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if send_lines(&link, &name, round).await {
                    lines.fetch_add(LINES_PER_ROUND as u64, Ordering::Relaxed);
                } else if !stop.is_cancelled() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            // `link` dropped here closes the connection.
        }));
    }

    // The follower: `monit-cli logs -f`, its lines counted.
    let mut cmd = configd.cli(&["logs", "-f", "-o", "jsonl"]);
    cmd.stdout(Stdio::piped());
    let mut follower = Proc::spawn("follower", cmd, configd.path());
    let followed = Arc::new(AtomicU64::new(0));
    {
        let out = follower.child.stdout.take().context("follower stdout")?;
        let followed = followed.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            let mut line = Vec::new();
            while matches!(r.read_until(b'\n', &mut line), Ok(k) if k > 0) {
                followed.fetch_add(1, Ordering::Relaxed);
                line.clear();
            }
        });
    }

    // Operators and samples, in this thread, one after the other.
    let query = |args: &[&str]| -> bool {
        match configd.cli(args).stderr(Stdio::piped()).output() {
            Ok(out) if out.status.success() => {
                serde_json::from_slice::<serde_json::Value>(&out.stdout)
                    .map(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                    .unwrap_or(false)
            }
            Ok(out) => {
                eprintln!(
                    "soak: monit-cli {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                false
            }
            Err(e) => {
                eprintln!("soak: cannot run monit-cli: {e}");
                false
            }
        }
    };
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut samples = Vec::new();
    let mut next_sample = o.sample_every;
    let mut next_query = o.query_every / 2;
    loop {
        let now = started.elapsed();
        if now >= next_sample {
            let s = sample(pid, now);
            progress(&s);
            samples.push(s);
            next_sample += o.sample_every;
            if now >= o.duration {
                break;
            }
        } else if now >= next_query {
            for args in [
                &["query", "nodes", "-o", "json"][..],
                &["query", "checks", "-o", "json"][..],
            ] {
                if query(args) {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            next_query += o.query_every;
            // Let configd close the CLI's connection before any sample.
            std::thread::sleep(Duration::from_millis(300));
        } else {
            let wake = next_sample.min(next_query);
            std::thread::sleep((wake - now).min(Duration::from_millis(200)));
        }
        if !bench::alive(pid) {
            bail!("configd exited during the soak{}", configd.log_tail());
        }
    }
    let follower_alive = matches!(follower.child.try_wait(), Ok(None));
    stop.cancel();
    rt.block_on(async {
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    drop(follower);
    drop(configd);
    let baseline = *samples
        .iter()
        .find(|s| s.at >= o.warmup)
        .or(samples.first())
        .context("no samples")?;
    let last = *samples.last().context("no samples")?;
    Ok(SoakReport {
        samples,
        baseline,
        last,
        results_acked: results.load(Ordering::Relaxed),
        lines_acked: lines.load(Ordering::Relaxed),
        node_errors: errors.load(Ordering::Relaxed),
        queries_ok: ok,
        queries_failed: failed,
        followed: followed.load(Ordering::Relaxed),
        follower_alive,
    })
}

async fn connect_all(
    configd: &Configd,
    nodes: Vec<(String, Token)>,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<(String, LinkHandle)>> {
    let gate = Arc::new(Semaphore::new(64));
    let mut pending = Vec::new();
    for (name, token) in nodes {
        let gate = gate.clone();
        let endpoint = configd.endpoint(&token);
        let stop = stop.clone();
        pending.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            // A node told `busy` retries, as monit-noded does.
            let mut last = String::new();
            for attempt in 0..20u64 {
                let reg = registration(&name, CHECKS_PER_NODE, 1);
                match node_link(&endpoint, reg, Arc::new(NoRequests), &stop).await {
                    Ok(link) => return Ok((name, link)),
                    Err(e) => last = e,
                }
                tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
            }
            Err(anyhow::anyhow!("{name} could not connect: {last}"))
        }));
    }
    let mut links = Vec::new();
    for p in pending {
        links.push(p.await??);
    }
    Ok(links)
}

/// One result per check; `check-0` turns warning for one round in six
/// (state changes: events, problems), the rest stay ok.
async fn send_checks(link: &LinkHandle, round: u64) -> Option<u64> {
    let now = monit::timefmt::now_ms();
    let results = (0..CHECKS_PER_NODE)
        .map(|c| {
            let state = if c == 0 && round.is_multiple_of(6) {
                CheckState::Warning
            } else {
                CheckState::Ok
            };
            let output = format!("OK: round {round}");
            check_result(
                format!("check-{c}"),
                state,
                output,
                now,
                1,
                vec![perf_time(0.001)],
            )
        })
        .collect();
    match ask(link, RequestBody::CheckResults(CheckResults { results })).await {
        Some(ResponseBody::ResultsAck(a)) => Some(u64::from(a.accepted)),
        _ => None,
    }
}

async fn send_lines(link: &LinkHandle, name: &str, round: u64) -> bool {
    let lines = (0..LINES_PER_ROUND)
        .map(|i| LogLine {
            time_ms: monit::timefmt::now_ms(),
            node: String::new(),
            level: Level::Info,
            source: "daemon".into(),
            message: format!("{name} soak line {i} of round {round}"),
        })
        .collect();
    let batch = RequestBody::LogBatch(LogBatch {
        stream: 1,
        first_line: (round - 1) * LINES_PER_ROUND as u64,
        lines,
    });
    matches!(ask(link, batch).await, Some(ResponseBody::LogAck(_)))
}
