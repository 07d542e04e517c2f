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

use std::io::{BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monit::auth::{Token, TokensFile};
use monit::checks::{CheckState, PerfData, StateType};
use monit::net::dial::{dial, link_config, Dialed, Endpoint};
use monit::net::link::{drive, LinkHandle, NoRequests};
use monit::net::proto::{
    CheckDecl, CheckResult, CheckResults, ErrorCode, ErrorFrame, PeerKind, Registration,
    RequestBody, ResponseBody, Role, DEFAULT_MAX_FRAME,
};
use monit::net::tls::{Fingerprint, Trust};
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
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{what} N"))
        };
        match a.as_str() {
            "--bench" => {}
            "--nodes" => o.nodes = num("--nodes")? as usize,
            "--batch" => o.batch = num("--batch")? as usize,
            "--in-flight" => {
                o.in_flight = (num("--in-flight")?.max(1) as usize).min(CHECKS_PER_NODE)
            }
            "--measure" => o.measure = Duration::from_secs(num("--measure")?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("checks_ingest: {e}");
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

fn proc_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
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

fn run() -> Result<(), String> {
    let o = parse_args()?;
    monit::daemon::raise_nofile_limit();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let mut tokens = TokensFile::load(&data.join("tokens.toml")).map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    for i in 0..o.nodes {
        let name = format!("ingest-{i:05}");
        let token = tokens.add(&name, Role::Node).map_err(|e| e.to_string())?;
        nodes.push((name, token));
    }
    tokens.save().map_err(|e| e.to_string())?;
    let config = dir.path().join("configd.toml");
    write_private(
        &config,
        &format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nheartbeat_interval = \"1s\"\nnode_dead_after = \"30s\"\nmax_handshakes_per_address = 1024\n",
            data.display()
        ),
    )?;
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let trust = Trust::Pinned(
        Fingerprint::of_pem_file(&data.join("tls/cert.pem")).map_err(|e| e.to_string())?,
    );
    let outcome = rt.block_on(fleet(&o, &addr, &trust, nodes, pid));
    let _ = child.kill();
    let _ = child.wait();
    let (rate, cpu, rss, errors) = outcome?;
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
    println!("| nodes | batch | results/s | configd CPU | configd RSS |");
    println!("|---|---|---|---|---|");
    println!(
        "| {} | {} | {:.0} | {:.0}% | {} MiB |",
        o.nodes,
        o.batch,
        rate,
        cpu,
        rss / 1024
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
            CheckResult {
                name: format!("check-{c}"),
                state: if (seq + i as u64).is_multiple_of(97) {
                    CheckState::Warning
                } else {
                    CheckState::Ok
                },
                output: "OK: all good".into(),
                long_output: String::new(),
                perfdata: vec![PerfData {
                    label: "time".into(),
                    value: 0.001,
                    uom: "s".into(),
                    warn: None,
                    crit: None,
                    min: Some(0.0),
                    max: None,
                }],
                time_ms: base_ms + (seq * batch as u64 + i as u64) as i64,
                duration_ms: 1,
                latency_ms: 0,
                max_attempts: 3,
                state_type: StateType::Hard,
                attempt: 1,
            }
        })
        .collect();
    CheckResults { results }
}

async fn connect(
    endpoint: &Endpoint,
    name: &str,
    stop: &CancellationToken,
) -> Result<LinkHandle, String> {
    let Dialed { conn, welcome, .. } = dial(endpoint, PeerKind::Node, name)
        .await
        .map_err(|e| e.to_string())?;
    let (link, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
    tokio::spawn(drive(
        conn,
        link.clone(),
        queue,
        Arc::new(NoRequests),
        link_config(&welcome),
        stop.clone(),
        ErrorFrame::new(ErrorCode::ShuttingDown, "bench done"),
    ));
    let reg = Registration {
        hostname: name.into(),
        version: monit::VERSION.into(),
        labels: Default::default(),
        addrs: vec![],
        commands: vec![],
        checks: (0..CHECKS_PER_NODE)
            .map(|c| CheckDecl {
                name: format!("check-{c}"),
                max_attempts: 3,
                freshness_ms: None,
            })
            .collect(),
        takes_checks: false,
    };
    let mut answers = link
        .request(RequestBody::Register(reg))
        .await
        .map_err(|e| e.to_string())?;
    match answers.next().await {
        Some(Ok(ResponseBody::Registered(_))) => Ok(link),
        other => Err(format!("registration: {other:?}")),
    }
}

async fn fleet(
    o: &Options,
    addr: &str,
    trust: &Trust,
    nodes: Vec<(String, Token)>,
    pid: u32,
) -> Result<(f64, f64, u64, u64), String> {
    let stop = CancellationToken::new();
    let gate = Arc::new(Semaphore::new(128));
    let mut links = Vec::new();
    let mut pending = Vec::new();
    for (name, token) in nodes {
        let gate = gate.clone();
        let endpoint = Endpoint {
            server: addr.to_string(),
            token,
            trust: trust.clone(),
        };
        let stop = stop.clone();
        pending.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            connect(&endpoint, &name, &stop).await
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
                    let answer = match link.request(body).await {
                        Ok(mut a) => a.next().await,
                        Err(_) => None,
                    };
                    match answer {
                        Some(Ok(ResponseBody::ResultsAck(a))) => {
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
    let c0 = proc_cpu_secs(pid);
    let t0 = Instant::now();
    tokio::time::sleep(o.measure).await;
    let a1 = accepted.load(Ordering::Relaxed);
    let c1 = proc_cpu_secs(pid);
    let wall = t0.elapsed().as_secs_f64();
    let rss = rss_kib(pid);
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
