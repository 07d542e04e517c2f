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

use std::io::{BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monit::auth::{Token, TokensFile};
use monit::checks::{CheckState, PerfData, StateType};
use monit::net::dial::{dial, link_config, Dialed, Endpoint};
use monit::net::link::{drive, Handler, Incoming, LinkHandle};
use monit::net::proto::{
    CheckDecl, CheckResult, CheckResults, ChecksSet, ErrorCode, ErrorFrame, PeerKind, Registration,
    RequestBody, ResponseBody, Role, DEFAULT_MAX_FRAME,
};
use monit::net::tls::{Fingerprint, Trust};
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
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{what} N"))
        };
        match a.as_str() {
            "--bench" => {}
            "--nodes" => o.nodes = num("--nodes")?,
            "--scrapes" => o.scrapes = num("--scrapes")?.max(1),
            "--thresholds" => o.thresholds = true,
            "--heartbeat" => o.heartbeat = num("--heartbeat")?.max(1) as u64,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("metrics: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| e.to_string())?;
    f.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn config_text(data: &std::path::Path, version: &str, heartbeat: u64) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nheartbeat_interval = \"{heartbeat}s\"\nnode_dead_after = \"60s\"\nmax_handshakes_per_address = 1024\nmetrics_listen = \"127.0.0.1:0\"\nmetric_labels = [\"sim\"]\n\
         [[check]]\nname = \"pushed\"\ncommand = [\"{DUMMY}\", \"0\", \"{version}\"]\ninterval = \"1m\"\napply = {{ labels = {{ sim = \"yes\" }} }}\n",
        data.display()
    )
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    monit::daemon::raise_nofile_limit();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let mut tokens = TokensFile::load(&data.join("tokens.toml")).map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    for i in 0..o.nodes {
        let name = format!("sim-{i:05}");
        let token = tokens.add(&name, Role::Node).map_err(|e| e.to_string())?;
        nodes.push((name, token));
    }
    tokens.save().map_err(|e| e.to_string())?;
    let config = dir.path().join("configd.toml");
    write_private(&config, &config_text(&data, "v1", o.heartbeat))?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_monit-configd"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("HOME", dir.path())
        .env_remove("MONIT_LOG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start monit-configd: {e}"))?;
    let pid = child.id();
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or(format!("configd said {line:?}"))?
        .to_string();
    let metrics_addr = std::fs::read_to_string(data.join("metrics.addr"))
        .map_err(|e| e.to_string())?
        .trim()
        .to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let trust = Trust::Pinned(
        Fingerprint::of_pem_file(&data.join("tls/cert.pem")).map_err(|e| e.to_string())?,
    );
    let bench = Bench {
        o: &o,
        addr: &addr,
        metrics_addr: &metrics_addr,
        trust: &trust,
        pid,
        config: &config,
        data: &data,
    };
    let outcome = rt.block_on(bench.run(nodes));
    let _ = child.kill();
    let _ = child.wait();
    outcome
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
                let want = match self.want.lock() {
                    Ok(g) => g.clone(),
                    Err(p) => p.into_inner().clone(),
                };
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
    addr: &'a str,
    metrics_addr: &'a str,
    trust: &'a Trust,
    pid: u32,
    config: &'a std::path::Path,
    data: &'a std::path::Path,
}

fn results(thresholds: bool) -> CheckResults {
    let now = monit::timefmt::now_ms();
    let results = (0..CHECKS_PER_NODE)
        .map(|c| CheckResult {
            name: format!("check-{c}"),
            state: if c == 0 {
                CheckState::Critical
            } else {
                CheckState::Ok
            },
            output: "OK".into(),
            long_output: String::new(),
            perfdata: vec![
                PerfData {
                    label: "time".into(),
                    value: 0.0123,
                    uom: "s".into(),
                    warn: thresholds.then(|| "1".into()),
                    crit: thresholds.then(|| "2".into()),
                    min: Some(0.0),
                    max: None,
                },
                PerfData {
                    label: "size".into(),
                    value: 5120.0,
                    uom: "B".into(),
                    warn: None,
                    crit: None,
                    min: None,
                    max: None,
                },
                PerfData {
                    label: "used".into(),
                    value: 42.0,
                    uom: "%".into(),
                    warn: None,
                    crit: None,
                    min: None,
                    max: None,
                },
            ],
            time_ms: now,
            duration_ms: 1,
            latency_ms: 0,
            max_attempts: 1,
            state_type: StateType::Hard,
            attempt: 1,
        })
        .collect();
    CheckResults { results }
}

async fn connect(
    endpoint: &Endpoint,
    name: &str,
    sim: Arc<SimNode>,
    stop: &CancellationToken,
    thresholds: bool,
) -> Result<LinkHandle, String> {
    let Dialed { conn, welcome, .. } = dial(endpoint, PeerKind::Node, name)
        .await
        .map_err(|e| e.to_string())?;
    let (link, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
    tokio::spawn(drive(
        conn,
        link.clone(),
        queue,
        sim,
        link_config(&welcome),
        stop.clone(),
        ErrorFrame::new(ErrorCode::ShuttingDown, "bench done"),
    ));
    let reg = Registration {
        hostname: name.into(),
        version: monit::VERSION.into(),
        labels: [("sim".to_string(), "yes".to_string())].into(),
        addrs: vec![],
        commands: vec![],
        checks: (0..CHECKS_PER_NODE)
            .map(|c| CheckDecl {
                name: format!("check-{c}"),
                max_attempts: 1,
                freshness_ms: None,
            })
            .collect(),
        takes_checks: true,
    };
    let mut answers = link
        .request(RequestBody::Register(reg))
        .await
        .map_err(|e| e.to_string())?;
    match answers.next().await {
        Some(Ok(ResponseBody::Registered(_))) => {}
        other => return Err(format!("registration: {other:?}")),
    }
    let mut answers = link
        .request(RequestBody::CheckResults(results(thresholds)))
        .await
        .map_err(|e| e.to_string())?;
    match answers.next().await {
        Some(Ok(ResponseBody::ResultsAck(_))) => Ok(link),
        other => Err(format!("results: {other:?}")),
    }
}

/// One scrape: (seconds, bytes, series, configd RSS growth in KiB).
async fn scrape(addr: &str, trust: &Trust, pid: u32) -> Result<(f64, usize, usize, u64), String> {
    let before = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let peak = peak.clone();
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
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
            let endpoint = Endpoint {
                server: self.addr.to_string(),
                token,
                trust: self.trust.clone(),
            };
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
                scrape(self.metrics_addr, self.trust, self.pid).await?;
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
            rss_kib(self.pid) / 1024
        );

        // A changed rule, SIGHUP: every node answers the new set.
        for s in &sims {
            s.done.store(false, Ordering::SeqCst);
        }
        took.store(0, Ordering::SeqCst);
        if let Ok(mut w) = want.lock() {
            *w = "v2".into();
        }
        write_private(self.config, &config_text(self.data, "v2", self.o.heartbeat))?;
        let t2 = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::Signal::SIGHUP,
        )
        .map_err(|e| e.to_string())?;
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
        println!("| nodes | series | scrape (median) | RSS growth | rule push, all acked |");
        println!("|---|---|---|---|---|");
        println!(
            "| {} | {} | {:.3} s | {:.1} MiB | {push:.2} s |",
            links.len(),
            size.1,
            times[times.len() / 2],
            worst_growth as f64 / 1024.0
        );
        stop.cancel();
        Ok(())
    }
}
