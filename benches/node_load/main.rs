//! Node load: N simulated nodes against a real `monit-configd`, each over its
//! own TCP connection with its own handshake, registration and heartbeats.
//!
//! ```text
//! cargo build --release --bins
//! cargo bench --bench node_load -- 1000 10000
//! ```
//!
//! Options after `--`: fleet sizes (default `1000 10000`), `--settle SECS`
//! (3), `--measure SECS` (10), `--queries K` (20).
//!
//! For each size it starts a fresh configd (temp data dir, `127.0.0.1:0`,
//! 1 s heartbeats), connects the fleet, and reports configd CPU (% of one
//! core, from `/proc/PID/stat`) and RSS (`/proc/PID/status`, also per node
//! over the idle baseline), registrations per second, the bench's own CPU,
//! heartbeat round trips, and the wall time of `monit-cli query nodes -o
//! json` (median of K), run by a small launcher process (see `Launcher`).
//! Results are recorded in BENCHMARKS.md.
//!
//! Source: this file runs the sizes; `fleet.rs` is the simulated nodes,
//! `query.rs` the operator's query and its launcher, `report.rs` the
//! figures and how they are printed. configd, binaries and /proc figures
//! come from the shared harness (`tests/common/`).
//!
//! Open files: the bench raises its soft RLIMIT_NOFILE to the hard limit
//! (`monit::daemon::raise_nofile_limit`), and configd does the same for
//! itself at start; each side holds one socket per node.

#[path = "../../tests/common/mod.rs"]
mod common;
mod fleet;
mod query;
mod report;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use common::bench::{
    clock_ticks, cpu_ticks, exit, names, rss_kib, status_field, Configd, Percentiles,
};
use common::{bin, command};
use fleet::{Fleet, SimNode};
use monit::model::node::NodeJson;
use monit::net::proto::Role;
use monit::sync::lock;
use query::{library_query, query_command, verify_query, Launcher, FILTERS, LAUNCHER_ARG};
use rand::RngExt;
use report::{listen_overflows, nofile, open_file_limit, print_table, Figures, MachineLoad};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Connections in connect/handshake/register at once (default), so the
/// connect burst stays inside configd's listen backlog: tokio's
/// `TcpListener::bind` listens with a backlog of 128, and a full accept
/// queue drops the handshake's last ACK, which costs the client a 1 s SYN
/// retransmit.
const HANDSHAKE_CONCURRENCY: usize = 100;
/// Worker threads of the simulated fleet (the machine has 2 cores).
const FLEET_THREADS: usize = 2;

const TARGET_CPU_PCT: f64 = 25.0;
const TARGET_KIB_PER_NODE: f64 = 16.0;
const TARGET_QUERY_MS: f64 = 20.0;
const TARGET_HANDSHAKES: f64 = 2000.0;
/// The size the targets are stated for.
const TARGET_N: usize = 10_000;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(LAUNCHER_ARG) {
        return exit("node_load launcher", query::launcher_serve());
    }
    exit("node_load", run())
}

struct Options {
    sizes: Vec<usize>,
    settle: Duration,
    measure: Duration,
    queries: usize,
    /// Keep each fleet up this long after measuring, to look at it.
    hold: Duration,
    /// Simulated nodes connecting at once.
    concurrency: usize,
    /// `tls = false` on configd and every peer (to compare with TLS).
    plaintext: bool,
}

fn parse_args() -> anyhow::Result<Options> {
    let mut opts = Options {
        sizes: Vec::new(),
        settle: Duration::from_secs(3),
        measure: Duration::from_secs(10),
        queries: 20,
        hold: Duration::ZERO,
        concurrency: HANDSHAKE_CONCURRENCY,
        plaintext: false,
    };
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: node_load [N...] [--settle SECS] [--measure SECS] [--queries K] [--concurrency C] [--hold SECS] [--plaintext]";
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| -> anyhow::Result<u64> {
            let v = args
                .next()
                .with_context(|| format!("{flag} needs a value; {usage}"))?;
            v.parse::<u64>()
                .with_context(|| format!("{flag} {v}: not a whole number; {usage}"))
        };
        match arg.as_str() {
            // cargo passes `--bench` to harness = false benches.
            "--bench" => {}
            "--plaintext" => opts.plaintext = true,
            "--settle" => opts.settle = Duration::from_secs(value("--settle")?),
            "--measure" => opts.measure = Duration::from_secs(value("--measure")?.max(1)),
            "--queries" => opts.queries = usize::try_from(value("--queries")?.max(1))?,
            "--hold" => opts.hold = Duration::from_secs(value("--hold")?),
            "--concurrency" => opts.concurrency = usize::try_from(value("--concurrency")?.max(1))?,
            n => match n.parse::<usize>() {
                Ok(n) if n > 0 => opts.sizes.push(n),
                _ => bail!("unexpected argument `{n}`; {usage}"),
            },
        }
    }
    if opts.sizes.is_empty() {
        opts.sizes = vec![1_000, 10_000];
    }
    Ok(opts)
}

fn run() -> anyhow::Result<()> {
    let opts = parse_args()?;
    // Before the fleet opens its sockets (see `Launcher`).
    let mut launcher = Launcher::start()?;
    let clk_tck = clock_ticks();
    let (soft_before, hard) = nofile()?;
    let nofile_limit = monit::daemon::raise_nofile_limit();
    println!(
        "open-file limit: soft {soft_before} -> {nofile_limit} (hard {hard}), raised with setrlimit(RLIMIT_NOFILE) by monit::daemon::raise_nofile_limit()"
    );
    let largest = opts.sizes.iter().copied().max().unwrap_or(0);
    if (nofile_limit as usize) < largest + 200 {
        bail!(
            "the open-file limit is {nofile_limit}, too low for {largest} nodes (one socket each, plus some); raise the hard limit (`ulimit -Hn`, /etc/security/limits.conf or systemd LimitNOFILE) to at least {}",
            largest + 200
        );
    }
    println!(
        "configd: {}\nmonit-cli: {}\ncores: {}, clock ticks: {clk_tck}/s, settle {}s, measure {}s, {} queries, {} connecting at once",
        bin("monit-configd").display(),
        bin("monit-cli").display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        opts.settle.as_secs(),
        opts.measure.as_secs(),
        opts.queries,
        opts.concurrency
    );
    let mut results = Vec::new();
    for &n in &opts.sizes {
        println!("\n=== N = {n} ===");
        let figures = run_fleet(n, &opts, clk_tck, &mut launcher)
            .with_context(|| format!("run with {n} nodes"))?;
        figures.print_detail();
        results.push(figures);
    }
    print_table(&results);
    Ok(())
}

/// One fleet size, against its own configd.
fn run_fleet(
    n: usize,
    opts: &Options,
    clk_tck: f64,
    launcher: &mut Launcher,
) -> anyhow::Result<Figures> {
    // 1 s heartbeats; explicit, so no user or system configd.toml is read.
    let extra = format!(
        "heartbeat_interval = \"1s\"\nnode_dead_after = \"3s\"\n{}",
        if opts.plaintext { "tls = false\n" } else { "" }
    );
    let mut configd = Configd::start(names("bench", n), Role::Viewer, &extra);
    let pid = configd.pid();
    let addr: SocketAddr = configd.addr.parse().context("configd's address")?;
    let trust = configd.trust.clone();
    println!(
        "configd pid {pid} listening on {addr} ({})",
        if opts.plaintext {
            "plaintext".to_string()
        } else {
            format!("TLS, {trust:?}")
        }
    );
    std::thread::sleep(Duration::from_secs(1));
    let pid_text = pid.to_string();
    let idle_rss_kib = rss_kib(&pid_text);
    println!("idle configd RSS {:.1} MiB", idle_rss_kib as f64 / 1024.0);

    let fleet_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(FLEET_THREADS)
        .thread_name("fleet")
        .enable_all()
        .build()
        .context("cannot start the fleet runtime")?;
    let fleet = Arc::new(Fleet::default());
    let stop = CancellationToken::new();
    let gate = Arc::new(Semaphore::new(opts.concurrency));
    let overflows0 = listen_overflows();
    let mut rng = rand::rng();
    let started = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for (i, (name, token)) in std::mem::take(&mut configd.nodes).into_iter().enumerate() {
        let node = SimNode {
            index: i,
            addr,
            trust: trust.clone(),
            name,
            token,
            phase: rng.random_range(0.0..1.0),
        };
        handles.push(fleet_rt.spawn(node.run(gate.clone(), fleet.clone(), stop.clone())));
    }

    // All registered, or a clear failure.
    let deadline = started + Duration::from_secs(30) + Duration::from_millis(10) * n as u32;
    loop {
        fleet.check(&configd)?;
        if fleet.registered.load(Ordering::Relaxed) == n {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} nodes registered within {:.0}s{}",
                fleet.registered.load(Ordering::Relaxed),
                (deadline - started).as_secs_f64(),
                configd.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let register_secs = started.elapsed().as_secs_f64();
    let listen_overflows = listen_overflows()
        .zip(overflows0)
        .map(|(b, a)| b.saturating_sub(a));
    let to_f64 = |v: &Mutex<Vec<u32>>| -> Vec<f64> { lock(v).drain(..).map(f64::from).collect() };
    let connect_us = Percentiles::of(to_f64(&fleet.connect_us)).context("no connect timed")?;
    let register_us =
        Percentiles::of(to_f64(&fleet.register_us)).context("no registration timed")?;
    println!(
        "{n} nodes registered in {register_secs:.2}s; settling {}s",
        opts.settle.as_secs()
    );
    std::thread::sleep(opts.settle);
    fleet.check(&configd)?;

    // Steady state: heartbeats only.
    fleet.measuring.store(true, Ordering::Relaxed);
    let pongs0 = fleet.pongs.load(Ordering::Relaxed);
    let load_before = MachineLoad::now();
    let configd0 = ticks(&pid_text)?;
    let bench0 = ticks("self")?;
    let t0 = Instant::now();
    let mut rss_max = 0;
    let window_end = t0 + opts.measure;
    while Instant::now() < window_end {
        std::thread::sleep(
            Duration::from_secs(1).min(window_end.saturating_duration_since(Instant::now())),
        );
        rss_max = rss_max.max(rss_kib(&pid_text));
        fleet.check(&configd)?;
    }
    let configd1 = ticks(&pid_text)?;
    let bench1 = ticks("self")?;
    let wall = t0.elapsed().as_secs_f64();
    let load_after = MachineLoad::now();
    let pongs1 = fleet.pongs.load(Ordering::Relaxed);
    fleet.measuring.store(false, Ordering::Relaxed);
    let pct = |ticks: u64| ticks as f64 / clk_tck / wall * 100.0;
    let configd_cpu_pct = pct(configd1.saturating_sub(configd0));
    let bench_cpu_pct = pct(bench1.saturating_sub(bench0));
    let pongs_per_sec = pongs1.saturating_sub(pongs0) as f64 / wall;
    let rtts: Vec<f64> = lock(&fleet.rtts_us).drain(..).map(f64::from).collect();
    let rtt_us = Percentiles::of(rtts).context("no heartbeat answered while measuring")?;
    let configd_threads = status_field(&pid_text, "Threads:").context("configd's threads")?;
    let configd_nofile = open_file_limit(pid)?;

    // The operator's query, with the fleet connected and heartbeating.
    let tools = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tools runtime")?;
    let query_bytes = tools.block_on(verify_query(&configd, n))?;
    let mut floor = Vec::with_capacity(opts.queries);
    let mut query = Vec::with_capacity(opts.queries);
    let mut query_cpu = Vec::with_capacity(opts.queries);
    let mut filtered = Vec::with_capacity(opts.queries);
    for _ in 0..opts.queries {
        let mut version = command("monit-cli", configd.path());
        version.arg("--version");
        floor.push(launcher.time(version)?.ms);
        let run = launcher.time(query_command(&configd))?;
        query.push(run.ms);
        query_cpu.push(run.cpu_ms);
        let mut cmd = query_command(&configd);
        for f in FILTERS {
            cmd.args(["--filter", f]);
        }
        filtered.push(launcher.time(cmd)?.ms);
        fleet.check(&configd)?;
    }
    let query_ms = Percentiles::of(query).context("no query timed")?;
    let cli_floor_ms = Percentiles::of(floor).context("no --version timed")?;
    let filtered_ms = Percentiles::of(filtered).context("no filtered query timed")?;
    let query_cpu_ms = Percentiles::of(query_cpu).context("no query CPU measured")?;
    let rss_after_queries_kib = rss_kib(&pid_text);

    // Where the query's time goes: the library call alone (connect,
    // handshake, configd's answer, decoding), then building and printing
    // the JSON in memory.
    let mut library = Vec::with_capacity(opts.queries);
    let mut connecting = Vec::with_capacity(opts.queries);
    let mut answering = Vec::with_capacity(opts.queries);
    let mut render = Vec::with_capacity(opts.queries);
    for _ in 0..opts.queries {
        let ((connect_ms, answer_ms), views) = tools.block_on(library_query(&configd))?;
        library.push(connect_ms + answer_ms);
        connecting.push(connect_ms);
        answering.push(answer_ms);
        let t = Instant::now();
        let rows: Vec<NodeJson> = views.iter().map(NodeJson::from).collect();
        let mut buf = Vec::with_capacity(8 << 20);
        serde_json::to_writer_pretty(&mut buf, &rows).context("cannot render the JSON")?;
        render.push(t.elapsed().as_secs_f64() * 1000.0);
        fleet.check(&configd)?;
    }
    let library_ms = Percentiles::of(library).context("no library query timed")?;
    let library_connect_ms = Percentiles::of(connecting).context("no connect timed")?;
    let library_answer_ms = Percentiles::of(answering).context("no answer timed")?;
    let render_ms = Percentiles::of(render).context("no rendering timed")?;

    if !opts.hold.is_zero() {
        println!(
            "holding {}s: configd pid {pid}, bench pid {}; try\n  {} query nodes -o json --server {} --token-file {}",
            opts.hold.as_secs(),
            std::process::id(),
            bin("monit-cli").display(),
            configd.addr,
            configd.client_file.display()
        );
        let until = Instant::now() + opts.hold;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(500));
            fleet.check(&configd)?;
        }
    }

    // Teardown: the fleet hangs up, then configd stops.
    stop.cancel();
    let joined = fleet_rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(15), futures::future::join_all(handles)).await
    });
    if joined.is_err() {
        eprintln!("warning: some simulated nodes did not stop within 15s");
    }
    fleet_rt.shutdown_timeout(Duration::from_secs(5));
    stop_configd(&mut configd);

    Ok(Figures {
        n,
        plaintext: opts.plaintext,
        idle_rss_kib,
        rss_kib: rss_max,
        configd_cpu_pct,
        configd_threads,
        configd_nofile,
        bench_cpu_pct,
        register_secs,
        listen_overflows,
        connect_us,
        register_us,
        pongs_per_sec,
        rtt_us,
        query_ms,
        cli_floor_ms,
        filtered_ms,
        library_ms,
        library_connect_ms,
        library_answer_ms,
        render_ms,
        query_bytes,
        query_cpu_ms,
        rss_after_queries_kib,
        load: (load_before, load_after),
    })
}

/// utime + stime of a process, in clock ticks.
fn ticks(pid: &str) -> anyhow::Result<u64> {
    cpu_ticks(pid).with_context(|| format!("cannot read /proc/{pid}/stat"))
}

/// SIGTERM, then SIGKILL if it has not stopped within 20 s.
fn stop_configd(configd: &mut Configd) {
    configd.proc.signal(nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = configd.proc.child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("warning: configd did not stop within 20s of SIGTERM; killing it");
    configd.proc.kill9();
}
