//! The Prometheus scrape and central checks at fleet scale: 10,000
//! simulated nodes (each its own TLS connection, handshake, registration
//! with 10 checks) send one result per check with 3 perfdata items to a
//! real `monit-configd` process; then
//!
//! - `GET /metrics` is timed (TLS, configd's certificate pinned) while
//!   configd's RSS is sampled every 2 ms (growth = peak during the scrape
//!   minus RSS before it);
//! - a central `[[check]]` applied to every node is changed in
//!   configd.toml and configd gets SIGHUP: the time until every node has
//!   answered the new set (`SetChecks` -> `ChecksSet`) is measured.
//!
//! ```text
//! cargo bench --bench metrics -- --nodes 10000 --scrapes 5 [--thresholds] [--heartbeat 5]
//! ```
//!
//! Each check reports `time` (s), `size` (B) and `used` (%); with
//! `--thresholds`, `time` also has warning and critical thresholds.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bench::{
    ask, check_result, exit, figure, names, node_link, perf, perf_time, print_table, registration,
    rss_kib, Args, Configd, Target,
};
use monit::auth::Token;
use monit::checks::{CheckState, PerfData};
use monit::net::dial::Endpoint;
use monit::net::link::{Handler, Incoming, LinkHandle};
use monit::net::proto::{CheckResults, ChecksSet, ErrorCode, RequestBody, ResponseBody, Role};
use monit::net::tls::Trust;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

const CHECKS_PER_NODE: usize = 10;
const DUMMY: &str = "/usr/lib/nagios/plugins/check_dummy";

struct Options {
    nodes: usize,
    scrapes: usize,
    /// Warning and critical thresholds on one item per check (two more
    /// series per check).
    thresholds: bool,
    /// configd's heartbeat interval, seconds (the nodes ping at it).
    heartbeat: u64,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        nodes: 10_000,
        scrapes: 3,
        thresholds: false,
        heartbeat: 5,
    };
    let mut args = Args::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--nodes" => o.nodes = args.value("--nodes")?,
            "--scrapes" => o.scrapes = args.value::<usize>("--scrapes")?.max(1),
            "--thresholds" => o.thresholds = true,
            "--heartbeat" => o.heartbeat = args.value::<u64>("--heartbeat")?.max(1),
            other => return Err(Args::unknown(other).into()),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    exit("metrics", run())
}

/// configd.toml after `listen` and `data_dir`; the central check's
/// command carries `version`.
fn config_extra(version: &str, heartbeat: u64) -> String {
    format!(
        "heartbeat_interval = \"{heartbeat}s\"\nnode_dead_after = \"60s\"\nmetrics_listen = \"127.0.0.1:0\"\nmetric_labels = [\"sim\"]\n\
         [[check]]\nname = \"pushed\"\ncommand = [\"{DUMMY}\", \"0\", \"{version}\"]\ninterval = \"1m\"\napply = {{ labels = {{ sim = \"yes\" }} }}\n"
    )
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    monit::daemon::raise_nofile_limit();
    let mut configd = Configd::start(
        names("sim", o.nodes),
        Role::Viewer,
        &config_extra("v1", o.heartbeat),
    );
    let nodes = std::mem::take(&mut configd.nodes);
    let metrics_addr = std::fs::read_to_string(configd.data.join("metrics.addr"))
        .map_err(|e| e.to_string())?
        .trim()
        .to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let bench = Bench {
        o: &o,
        configd: &configd,
        metrics_addr: &metrics_addr,
        pid: configd.pid().to_string(),
    };
    rt.block_on(bench.run(nodes))
}

/// A simulated node's side of the link: answers `SetChecks` by taking
/// every check, and counts the nodes that took the version asked for.
struct SimNode {
    want: Arc<std::sync::Mutex<String>>,
    took: Arc<AtomicU64>,
    done: AtomicBool,
}

impl Handler for SimNode {
    async fn handle(self: Arc<Self>, req: Incoming) {
        match req.body {
            RequestBody::SetChecks(set) => {
                let want = monit::sync::lock(&self.want).clone();
                let answer = ChecksSet {
                    accepted: set.checks.iter().map(|c| c.name.clone()).collect(),
                    refused: vec![],
                };
                let _ = req.reply.send(ResponseBody::ChecksSet(answer)).await;
                let has = set.checks.iter().any(|c| c.command.contains(&want));
                if has && !self.done.swap(true, Ordering::SeqCst) {
                    self.took.fetch_add(1, Ordering::SeqCst);
                }
            }
            _ => {
                let _ = req.reply.error(ErrorCode::NotFound, "not served").await;
            }
        }
    }
}

struct Bench<'a> {
    o: &'a Options,
    configd: &'a Configd,
    metrics_addr: &'a str,
    pid: String,
}

fn results(thresholds: bool) -> CheckResults {
    let now = monit::timefmt::now_ms();
    let results = (0..CHECKS_PER_NODE)
        .map(|c| {
            let state = if c == 0 {
                CheckState::Critical
            } else {
                CheckState::Ok
            };
            let time = PerfData {
                warn: thresholds.then(|| "1".into()),
                crit: thresholds.then(|| "2".into()),
                ..perf_time(0.0123)
            };
            let perfdata = vec![time, perf("size", 5120.0, "B"), perf("used", 42.0, "%")];
            check_result(format!("check-{c}"), state, "OK".into(), now, 1, perfdata)
        })
        .collect();
    CheckResults { results }
}

/// Registers with `takes_checks` and the label the central check applies
/// to, then reports once.
async fn connect(
    endpoint: &Endpoint,
    name: &str,
    sim: Arc<SimNode>,
    stop: &CancellationToken,
    thresholds: bool,
) -> Result<LinkHandle, String> {
    let mut reg = registration(name, CHECKS_PER_NODE, 1);
    reg.labels = [("sim".to_string(), "yes".to_string())].into();
    reg.takes_checks = true;
    let link = node_link(endpoint, reg, sim, stop).await?;
    match ask(&link, RequestBody::CheckResults(results(thresholds))).await {
        Some(ResponseBody::ResultsAck(_)) => Ok(link),
        other => Err(format!("results: {other:?}")),
    }
}

/// One scrape: (seconds, bytes, series, configd RSS growth in KiB).
async fn scrape(addr: &str, trust: &Trust, pid: &str) -> Result<(f64, usize, usize, u64), String> {
    let before = rss_kib(pid);
    let pid = pid.to_string();
    let peak = Arc::new(AtomicU64::new(before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let peak = peak.clone();
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(&pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let started = Instant::now();
    let (mut stream, _) = monit::net::dial::open(addr, trust, monit::net::proto::PeerKind::Client)
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut body = Vec::with_capacity(64 << 20);
    stream
        .read_to_end(&mut body)
        .await
        .map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let text = String::from_utf8_lossy(&body);
    if !text.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "scrape answered {:?}",
            text.lines().next().unwrap_or("")
        ));
    }
    let series = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(' '))
        .count();
    Ok((
        secs,
        body.len(),
        series,
        peak.load(Ordering::Relaxed).saturating_sub(before),
    ))
}

impl Bench<'_> {
    async fn run(&self, nodes: Vec<(String, Token)>) -> Result<(), String> {
        let stop = CancellationToken::new();
        let gate = Arc::new(Semaphore::new(128));
        let want = Arc::new(std::sync::Mutex::new("v1".to_string()));
        let took = Arc::new(AtomicU64::new(0));
        let mut sims = Vec::new();
        let mut pending = Vec::new();
        let t0 = Instant::now();
        for (name, token) in nodes {
            let gate = gate.clone();
            let endpoint = self.configd.endpoint(&token);
            let stop = stop.clone();
            let sim = Arc::new(SimNode {
                want: want.clone(),
                took: took.clone(),
                done: AtomicBool::new(false),
            });
            sims.push(sim.clone());
            let thresholds = self.o.thresholds;
            pending.push(tokio::spawn(async move {
                let _p = gate.acquire().await;
                connect(&endpoint, &name, sim, &stop, thresholds).await
            }));
        }
        let mut links = Vec::new();
        for p in pending {
            links.push(p.await.map_err(|e| e.to_string())??);
        }
        println!(
            "metrics: {} nodes connected, registered and reported {} checks each in {:.1} s",
            links.len(),
            CHECKS_PER_NODE,
            t0.elapsed().as_secs_f64()
        );
        // Every node took its first set (v1) after registering.
        let t1 = Instant::now();
        while (took.load(Ordering::SeqCst) as usize) < links.len() {
            if t1.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "only {} of {} nodes took their first central set",
                    took.load(Ordering::SeqCst),
                    links.len()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let mut times = Vec::new();
        let mut growths = Vec::new();
        let mut size = (0, 0);
        for _ in 0..self.o.scrapes {
            let (secs, bytes, series, growth) =
                scrape(self.metrics_addr, &self.configd.trust, &self.pid).await?;
            times.push(secs);
            growths.push(growth);
            size = (bytes, series);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        times.sort_by(f64::total_cmp);
        let worst_growth = growths.iter().copied().max().unwrap_or(0);
        println!(
            "scrape: {} series, {:.1} MiB; time best {:.3} s, median {:.3} s, worst {:.3} s; configd RSS growth at most {:.1} MiB (RSS now {} MiB)",
            size.1,
            size.0 as f64 / 1048576.0,
            times[0],
            times[times.len() / 2],
            times[times.len() - 1],
            worst_growth as f64 / 1024.0,
            rss_kib(&self.pid) / 1024
        );

        // A changed rule, SIGHUP: every node answers the new set.
        for s in &sims {
            s.done.store(false, Ordering::SeqCst);
        }
        took.store(0, Ordering::SeqCst);
        if let Ok(mut w) = want.lock() {
            *w = "v2".into();
        }
        let extra = config_extra("v2", self.o.heartbeat);
        common::write_private(
            &self.configd.config,
            &Configd::config_text(&self.configd.data, &extra),
        );
        let t2 = Instant::now();
        self.configd.proc.signal(nix::sys::signal::Signal::SIGHUP);
        while (took.load(Ordering::SeqCst) as usize) < links.len() {
            if t2.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "only {} of {} nodes took the changed rule within 60 s",
                    took.load(Ordering::SeqCst),
                    links.len()
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let push = t2.elapsed().as_secs_f64();
        println!(
            "changed rule pushed: all {} nodes answered in {push:.2} s after SIGHUP",
            links.len()
        );
        println!();
        let scrape_s = times[times.len() / 2];
        let growth_mib = worst_growth as f64 / 1024.0;
        print_table(
            &[
                "nodes",
                "series",
                "scrape (median)",
                "RSS growth",
                "rule push, all acked",
            ],
            &[vec![
                links.len().to_string(),
                size.1.to_string(),
                format!("{scrape_s:.3} s"),
                format!("{growth_mib:.1} MiB"),
                format!("{push:.2} s"),
            ]],
        );
        figure("metrics.scrape", scrape_s, "s", Target::Below(1.0));
        figure(
            "metrics.scrape_rss_growth",
            growth_mib,
            "MiB",
            Target::Below(64.0),
        );
        figure("metrics.rule_push", push, "s", Target::Below(10.0));
        stop.cancel();
        Ok(())
    }
}
