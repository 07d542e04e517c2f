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
//! Open files: the bench raises its soft RLIMIT_NOFILE to the hard limit
//! (`monit::daemon::raise_nofile_limit`), and configd does the same for
//! itself at start; each side holds one socket per node.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use monit::auth::{Token, TokensFile};
use monit::net::client::Client;
use monit::net::handshake::{client_handshake, message_name};
use monit::net::proto::{
    Message, NodeView, PeerKind, Ping, Registration, Request, RequestBody, ResponseBody, Role,
    DEFAULT_MAX_FRAME,
};
use monit::net::tls::{Fingerprint, Trust};
use monit::net::Connection;
use monit::views::NodeJson;
use rand::RngExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Connections in connect/handshake/register at once (default), so the
/// connect burst stays inside configd's listen backlog: tokio's
/// `TcpListener::bind` listens with a backlog of 128, and a full accept
/// queue drops the handshake's last ACK, which costs the client a 1 s SYN
/// retransmit.
const HANDSHAKE_CONCURRENCY: usize = 100;
/// Longest wait for a `Registered` or a `Pong`.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one `monit-cli` run.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// Worker threads of the simulated fleet (the machine has 2 cores).
const FLEET_THREADS: usize = 2;

const TARGET_CPU_PCT: f64 = 25.0;
const TARGET_KIB_PER_NODE: f64 = 16.0;
const TARGET_QUERY_MS: f64 = 20.0;
/// The size the targets are stated for.
const TARGET_N: usize = 10_000;

/// Environment that would make a child read something other than what the
/// bench gives it.
const SCRUB_ENV: &[&str] = &[
    "MONIT_CONFIG",
    "MONIT_SERVER",
    "MONIT_TOKEN",
    "MONIT_TOKEN_FILE",
    "MONIT_LOG",
    "RUST_LOG",
];

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(LAUNCHER_ARG) {
        return match launcher_serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("node_load launcher: error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("node_load: error: {e:#}");
            ExitCode::FAILURE
        }
    }
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
    let bins = Bins::locate()?;
    let clk_tck = clock_ticks()?;
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
        bins.configd.display(),
        bins.cli.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        opts.settle.as_secs(),
        opts.measure.as_secs(),
        opts.queries,
        opts.concurrency
    );
    let mut results = Vec::new();
    for &n in &opts.sizes {
        println!("\n=== N = {n} ===");
        let figures = run_fleet(n, &opts, &bins, clk_tck, &mut launcher)
            .with_context(|| format!("run with {n} nodes"))?;
        figures.print_detail();
        results.push(figures);
    }
    print_table(&results);
    Ok(())
}

/// The release binaries the bench drives.
struct Bins {
    configd: PathBuf,
    cli: PathBuf,
}

impl Bins {
    /// Cargo builds a package's binaries for its benches and names them in
    /// `CARGO_BIN_EXE_*`; otherwise look beside the bench executable
    /// (`target/release/deps/node_load-HASH` -> `target/release/`).
    fn locate() -> anyhow::Result<Bins> {
        let beside = || -> anyhow::Result<PathBuf> {
            let exe = std::env::current_exe().context("cannot find the bench executable")?;
            exe.parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .with_context(|| format!("{} has no grandparent directory", exe.display()))
        };
        let find = |built: Option<&str>, name: &str| -> anyhow::Result<PathBuf> {
            let path = match built {
                Some(p) => PathBuf::from(p),
                None => beside()?.join(name),
            };
            if !path.is_file() {
                bail!(
                    "{} not found: build the binaries first with `cargo build --release --bins` (same CARGO_TARGET_DIR)",
                    path.display()
                );
            }
            Ok(path)
        };
        Ok(Bins {
            configd: find(option_env!("CARGO_BIN_EXE_monit-configd"), "monit-configd")?,
            cli: find(option_env!("CARGO_BIN_EXE_monit-cli"), "monit-cli")?,
        })
    }
}

/// Everything measured for one fleet size.
struct Figures {
    n: usize,
    idle_rss_kib: u64,
    rss_kib: u64,
    configd_cpu_pct: f64,
    configd_threads: u64,
    configd_nofile: String,
    bench_cpu_pct: f64,
    register_secs: f64,
    /// Accept-queue overflows during the ramp (TcpExt, whole machine).
    listen_overflows: Option<u64>,
    connect_us: Percentiles,
    register_us: Percentiles,
    pongs_per_sec: f64,
    rtt_us: Percentiles,
    query_ms: Percentiles,
    /// The same query with `FILTERS` (one node in 40).
    filtered_ms: Percentiles,
    cli_floor_ms: Percentiles,
    library_ms: Percentiles,
    library_connect_ms: Percentiles,
    library_answer_ms: Percentiles,
    render_ms: Percentiles,
    query_bytes: usize,
    /// CPU (user + sys) of one `monit-cli query` process.
    query_cpu_ms: Percentiles,
    rss_after_queries_kib: u64,
    /// The machine before and after the measurement window.
    load: (MachineLoad, MachineLoad),
}

impl Figures {
    fn handshakes_per_sec(&self) -> f64 {
        self.n as f64 / self.register_secs
    }

    fn kib_per_node(&self) -> f64 {
        self.rss_kib.saturating_sub(self.idle_rss_kib) as f64 / self.n as f64
    }

    fn print_detail(&self) {
        println!(
            "configd: {:.1}% of one core, RSS {:.1} MiB (idle {:.1} MiB, {:.2} KiB per node), {} threads, open-file limit {}",
            self.configd_cpu_pct,
            self.rss_kib as f64 / 1024.0,
            self.idle_rss_kib as f64 / 1024.0,
            self.kib_per_node(),
            self.configd_threads,
            self.configd_nofile
        );
        println!(
            "fleet: {} registered in {:.2}s ({:.0} handshakes/s), {:.0} pongs/s, ping RTT p50 {:.2} ms p99 {:.2} ms max {:.2} ms; bench CPU {:.1}% of one core",
            self.n,
            self.register_secs,
            self.handshakes_per_sec(),
            self.pongs_per_sec,
            self.rtt_us.median / 1000.0,
            self.rtt_us.p99 / 1000.0,
            self.rtt_us.max / 1000.0,
            self.bench_cpu_pct
        );
        println!(
            "  per node: TCP connect p50 {:.2} ms p99 {:.2} ms max {:.1} ms; connect to Registered p50 {:.2} ms p99 {:.2} ms max {:.1} ms; listen overflows during the ramp: {}",
            self.connect_us.median / 1000.0,
            self.connect_us.p99 / 1000.0,
            self.connect_us.max / 1000.0,
            self.register_us.median / 1000.0,
            self.register_us.p99 / 1000.0,
            self.register_us.max / 1000.0,
            self.listen_overflows
                .map_or_else(|| "unknown".to_string(), |n| n.to_string())
        );
        println!(
            "query nodes -o json ({} bytes): median {:.1} ms, p90 {:.1} ms, min {:.1} ms (`monit-cli --version` alone: median {:.1} ms)",
            self.query_bytes,
            self.query_ms.median,
            self.query_ms.p90,
            self.query_ms.min,
            self.cli_floor_ms.median
        );
        println!(
            "  with --filter {}: median {:.1} ms, p90 {:.1} ms, min {:.1} ms",
            FILTERS.join(" --filter "),
            self.filtered_ms.median,
            self.filtered_ms.p90,
            self.filtered_ms.min
        );
        println!(
            "  monit-cli CPU (user+sys) per query: median {:.1} ms; configd RSS after the queries {:.1} MiB",
            self.query_cpu_ms.median,
            self.rss_after_queries_kib as f64 / 1024.0
        );
        let show = |l: Option<f64>| l.map_or_else(|| "?".to_string(), |l| format!("{l:.2}"));
        println!(
            "  machine around the CPU window: load average (1 min) {} -> {}, CPU pressure (some avg10) {}% -> {}%",
            show(self.load.0.load1),
            show(self.load.1.load1),
            show(self.load.0.cpu_pressure),
            show(self.load.1.cpu_pressure)
        );
        println!(
            "  in the bench process: library query median {:.1} ms, min {:.1} ms (connect + handshake median {:.1} ms; request to last page decoded median {:.1} ms); NodeJson + pretty JSON into memory median {:.1} ms",
            self.library_ms.median,
            self.library_ms.min,
            self.library_connect_ms.median,
            self.library_answer_ms.median,
            self.render_ms.median
        );
    }
}

fn print_table(results: &[Figures]) {
    println!("\n=== summary (targets are for {TARGET_N} nodes) ===");
    println!(
        "{:>7} | {:>12} | {:>8} | {:>13} | {:>12} | {:>22} | {:>9}",
        "nodes",
        "configd CPU",
        "RSS MiB",
        "RSS/node KiB",
        "handshakes/s",
        "query med/p90/min ms",
        "bench CPU"
    );
    for f in results {
        println!(
            "{:>7} | {:>11.1}% | {:>8.1} | {:>13.2} | {:>12.0} | {:>22} | {:>8.1}%",
            f.n,
            f.configd_cpu_pct,
            f.rss_kib as f64 / 1024.0,
            f.kib_per_node(),
            f.handshakes_per_sec(),
            format!(
                "{:.1} / {:.1} / {:.1}",
                f.query_ms.median, f.query_ms.p90, f.query_ms.min
            ),
            f.bench_cpu_pct
        );
    }
    println!(
        "{:>7} | {:>11}  | {:>8} | {:>13} | {:>12} | {:>22} |",
        "target",
        format!("< {TARGET_CPU_PCT:.0}%"),
        "",
        format!("< {TARGET_KIB_PER_NODE:.0}"),
        "",
        format!("median < {TARGET_QUERY_MS:.0}")
    );
    for f in results.iter().filter(|f| f.n == TARGET_N) {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        println!(
            "targets at {TARGET_N}: CPU {}, RSS per node {}, query {}",
            verdict(f.configd_cpu_pct < TARGET_CPU_PCT),
            verdict(f.kib_per_node() < TARGET_KIB_PER_NODE),
            verdict(f.query_ms.median < TARGET_QUERY_MS)
        );
    }
}

/// One fleet size, against its own configd.
fn run_fleet(
    n: usize,
    opts: &Options,
    bins: &Bins,
    clk_tck: f64,
    launcher: &mut Launcher,
) -> anyhow::Result<Figures> {
    let dir = tempfile::Builder::new()
        .prefix("monit-node-load-")
        .tempdir()
        .context("cannot create a temp dir")?;
    let mut setup = Setup::write(dir.path(), n, opts.plaintext)?;
    let mut configd = ConfigdProcess::start(&bins.configd, &setup)?;
    let pid = configd.pid;
    let trust = setup.trust(opts.plaintext)?;
    println!(
        "configd pid {pid} listening on {} ({})",
        configd.addr,
        if opts.plaintext {
            "plaintext".to_string()
        } else {
            format!("TLS, {trust:?}")
        }
    );
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss_kib = rss_kib(pid)?;
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
    for (i, (name, token)) in std::mem::take(&mut setup.nodes).into_iter().enumerate() {
        let node = SimNode {
            index: i,
            addr: configd.addr,
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
    let configd0 = cpu_ticks(&pid.to_string())?;
    let bench0 = cpu_ticks("self")?;
    let t0 = Instant::now();
    let mut rss_max = 0;
    let window_end = t0 + opts.measure;
    while Instant::now() < window_end {
        std::thread::sleep(
            Duration::from_secs(1).min(window_end.saturating_duration_since(Instant::now())),
        );
        rss_max = rss_max.max(rss_kib(pid)?);
        fleet.check(&configd)?;
    }
    let configd1 = cpu_ticks(&pid.to_string())?;
    let bench1 = cpu_ticks("self")?;
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
    let configd_threads = status_field(pid, "Threads:")?;
    let configd_nofile = open_file_limit(pid)?;

    // The operator's query, with the fleet connected and heartbeating.
    let tools = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tools runtime")?;
    let query_bytes = tools.block_on(verify_query(bins, &setup, configd.addr, n))?;
    let mut floor = Vec::with_capacity(opts.queries);
    let mut query = Vec::with_capacity(opts.queries);
    let mut query_cpu = Vec::with_capacity(opts.queries);
    let mut filtered = Vec::with_capacity(opts.queries);
    for _ in 0..opts.queries {
        let mut version = Command::new(&bins.cli);
        version.arg("--version");
        floor.push(launcher.time(version, &setup)?.ms);
        let run = launcher.time(query_command(bins, &setup, configd.addr), &setup)?;
        query.push(run.ms);
        query_cpu.push(run.cpu_ms);
        let mut cmd = query_command(bins, &setup, configd.addr);
        for f in FILTERS {
            cmd.args(["--filter", f]);
        }
        filtered.push(launcher.time(cmd, &setup)?.ms);
        fleet.check(&configd)?;
    }
    let query_ms = Percentiles::of(query).context("no query timed")?;
    let cli_floor_ms = Percentiles::of(floor).context("no --version timed")?;
    let filtered_ms = Percentiles::of(filtered).context("no filtered query timed")?;
    let query_cpu_ms = Percentiles::of(query_cpu).context("no query CPU measured")?;
    let rss_after_queries_kib = rss_kib(pid)?;

    // Where the query's time goes: the library call alone (connect,
    // handshake, configd's answer, decoding), then building and printing
    // the JSON in memory.
    let mut library = Vec::with_capacity(opts.queries);
    let mut connecting = Vec::with_capacity(opts.queries);
    let mut answering = Vec::with_capacity(opts.queries);
    let mut render = Vec::with_capacity(opts.queries);
    for _ in 0..opts.queries {
        let ((connect_ms, answer_ms), views) =
            tools.block_on(library_query(configd.addr, &setup.viewer, &trust))?;
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
            bins.cli.display(),
            configd.addr,
            setup.viewer_token.display()
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
    configd.stop();

    Ok(Figures {
        n,
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

/// The files a run needs, in its temp dir.
struct Setup {
    dir: PathBuf,
    data_dir: PathBuf,
    config: PathBuf,
    viewer_token: PathBuf,
    viewer: Token,
    nodes: Vec<(String, Token)>,
}

impl Setup {
    fn write(dir: &Path, n: usize, plaintext: bool) -> anyhow::Result<Setup> {
        let data_dir = dir.join("data");
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        std::fs::create_dir_all(dir.join("xdg"))
            .with_context(|| format!("cannot create {}/xdg", dir.display()))?;
        let mut tokens = TokensFile::load(&data_dir.join("tokens.toml"))?;
        let mut nodes = Vec::with_capacity(n);
        for i in 1..=n {
            let name = format!("bench-{i:05}");
            let token = tokens.add(&name, Role::Node)?;
            nodes.push((name, token));
        }
        let viewer = tokens.add("bench-viewer", Role::Viewer)?;
        tokens.save()?;
        let viewer_token = dir.join("viewer.token");
        write_private(&viewer_token, &format!("{viewer}\n"))?;
        // Explicit, so no user or system configd.toml is read.
        let config = dir.join("configd.toml");
        // Every simulated node dials from 127.0.0.1: give that one address
        // the whole handshake budget (a real fleet comes from many).
        write_private(
            &config,
            &format!(
                "heartbeat_interval = \"1s\"\nnode_dead_after = \"3s\"\nmax_handshakes_per_address = 1024\n{}",
                if plaintext { "tls = false\n" } else { "" }
            ),
        )?;
        Ok(Setup {
            dir: dir.to_path_buf(),
            data_dir,
            config,
            viewer_token,
            viewer,
            nodes,
        })
    }

    /// How the bench's peers know configd, once it made its certificate;
    /// `monit-cli` is told the same in its client.toml.
    fn trust(&self, plaintext: bool) -> anyhow::Result<Trust> {
        let (trust, client_toml) = if plaintext {
            (Trust::Plaintext, "tls = false\n".to_string())
        } else {
            let fp = Fingerprint::of_pem_file(&self.data_dir.join("tls/cert.pem"))?;
            (
                Trust::Pinned(fp),
                format!("server_fingerprint = \"{fp}\"\n"),
            )
        };
        let dir = self.dir.join("xdg").join("monit");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        write_private(&dir.join("client.toml"), &client_toml)?;
        Ok(trust)
    }

    /// A child process that reads only what the bench gives it.
    fn hermetic(&self, cmd: &mut Command) {
        for var in SCRUB_ENV {
            cmd.env_remove(var);
        }
        cmd.env("XDG_CONFIG_HOME", self.dir.join("xdg"))
            .stdin(Stdio::null());
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A running configd, killed if dropped before `stop`.
struct ConfigdProcess {
    child: Child,
    pid: u32,
    addr: SocketAddr,
    log: PathBuf,
}

impl ConfigdProcess {
    fn start(bin: &Path, setup: &Setup) -> anyhow::Result<ConfigdProcess> {
        let log = setup.dir.join("configd.log");
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.arg("--config")
            .arg(&setup.config)
            .arg("--data-dir")
            .arg(&setup.data_dir)
            .args(["--listen", "127.0.0.1:0", "run"]);
        setup.hermetic(&mut cmd);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take();
        let mut process = ConfigdProcess {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let stdout = stdout.context("configd's stdout was not captured")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send(first);
            // Keep draining so configd never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => bail!("cannot read configd's stdout: {e}{}", process.log_tail()),
            Err(_) => bail!(
                "configd printed no `listening on ADDR` line within 15s{}",
                process.log_tail()
            ),
        };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse::<SocketAddr>().ok());
        match addr {
            Some(addr) => process.addr = addr,
            None => bail!(
                "configd's first line is {:?}, not `listening on ADDR`{}",
                line.trim(),
                process.log_tail()
            ),
        }
        Ok(process)
    }

    /// The end of configd's log, to explain a failure.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n  ");
        if tail.is_empty() {
            String::from(" (configd logged nothing)")
        } else {
            format!(
                "\nconfigd log ({}), last lines:\n  {tail}",
                self.log.display()
            )
        }
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 20 s.
    fn stop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        if let Ok(pid) = i32::try_from(self.pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("warning: configd did not stop within 20s of SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ConfigdProcess {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the simulated fleet has done so far.
#[derive(Default)]
struct Fleet {
    registered: AtomicUsize,
    failed: AtomicUsize,
    first_error: Mutex<Option<String>>,
    pongs: AtomicU64,
    measuring: AtomicBool,
    rtts_us: Mutex<Vec<u32>>,
    /// Per node: TCP connect, and connect to Registered.
    connect_us: Mutex<Vec<u32>>,
    register_us: Mutex<Vec<u32>>,
}

impl Fleet {
    fn fail(&self, name: &str, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        lock(&self.first_error).get_or_insert_with(|| format!("node {name}: {why}"));
    }

    /// `Err` once any node has failed or configd has exited.
    fn check(&self, configd: &ConfigdProcess) -> anyhow::Result<()> {
        let failed = self.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let first = lock(&self.first_error).clone().unwrap_or_default();
            bail!(
                "{failed} simulated node(s) failed; first: {first}{}",
                configd.log_tail()
            );
        }
        if !alive(configd.pid) {
            bail!("configd exited{}", configd.log_tail());
        }
        Ok(())
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// One simulated node agent.
struct SimNode {
    index: usize,
    addr: SocketAddr,
    trust: Trust,
    name: String,
    token: Token,
    /// Where in the heartbeat interval this node pings, as a fraction.
    phase: f64,
}

impl SimNode {
    async fn run(self, gate: Arc<Semaphore>, fleet: Arc<Fleet>, stop: CancellationToken) {
        let outcome = tokio::select! {
            _ = stop.cancelled() => Ok(()),
            r = self.life(&gate, &fleet) => r,
        };
        if let Err(why) = outcome {
            if !stop.is_cancelled() {
                fleet.fail(&self.name, why);
            }
        }
    }

    /// Connect, handshake, register, then heartbeat until dropped.
    async fn life(&self, gate: &Semaphore, fleet: &Fleet) -> Result<(), String> {
        let (mut conn, period) = {
            let _permit = gate
                .acquire()
                .await
                .map_err(|_| "handshake gate closed".to_string())?;
            let began = Instant::now();
            // TCP and TLS: what a node does before its first frame.
            let (stream, _) =
                monit::net::dial::open(&self.addr.to_string(), &self.trust, PeerKind::Node)
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
            lock(&fleet.connect_us).push(micros(began.elapsed()));
            let binding = stream.channel_binding();
            let mut conn = Connection::new(stream, DEFAULT_MAX_FRAME);
            let welcome =
                client_handshake(&mut conn, PeerKind::Node, &self.name, &self.token, &binding)
                    .await
                    .map_err(|e| format!("handshake: {e}"))?;
            conn.send(&Message::Request(Request {
                id: 1,
                body: RequestBody::Register(self.registration()),
            }))
            .await
            .map_err(|e| format!("send Register: {e}"))?;
            let reply = tokio::time::timeout(REPLY_TIMEOUT, next_message(&mut conn))
                .await
                .map_err(|_| format!("no Registered within {}s", REPLY_TIMEOUT.as_secs()))??;
            match reply {
                Message::Response(r) if r.id == 1 => match r.body {
                    ResponseBody::Registered(_) => {}
                    ResponseBody::Error(e) => return Err(format!("registration refused: {e}")),
                    other => return Err(format!("unexpected answer to Register: {other:?}")),
                },
                other => return Err(format!("expected Registered, got {}", message_name(&other))),
            }
            lock(&fleet.register_us).push(micros(began.elapsed()));
            fleet.registered.fetch_add(1, Ordering::Relaxed);
            let period = Duration::from_millis(welcome.heartbeat_interval_ms.max(100));
            (conn, period)
        };

        let first = tokio::time::Instant::now() + period.mul_f64(self.phase);
        let mut tick = tokio::time::interval_at(first, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seq = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                m = next_message(&mut conn) => {
                    let m = m?;
                    return Err(format!("unexpected {} from configd between heartbeats", message_name(&m)));
                }
            }
            seq += 1;
            let sent = Instant::now();
            conn.send(&Message::Ping(Ping { seq }))
                .await
                .map_err(|e| format!("send Ping: {e}"))?;
            let reply = tokio::time::timeout(REPLY_TIMEOUT, next_message(&mut conn))
                .await
                .map_err(|_| format!("no Pong within {}s", REPLY_TIMEOUT.as_secs()))??;
            match reply {
                Message::Pong(p) if p.seq == seq => {}
                other => return Err(format!("expected Pong {seq}, got {}", message_name(&other))),
            }
            fleet.pongs.fetch_add(1, Ordering::Relaxed);
            if fleet.measuring.load(Ordering::Relaxed) {
                lock(&fleet.rtts_us).push(micros(sent.elapsed()));
            }
        }
    }

    fn registration(&self) -> Registration {
        let labels = BTreeMap::from([
            ("bench".to_string(), "node_load".to_string()),
            ("rack".to_string(), format!("r{:02}", self.index % 40)),
            ("role".to_string(), "web".to_string()),
        ]);
        Registration {
            hostname: format!("{}.bench.example", self.name),
            version: monit::VERSION.to_string(),
            labels,
            addrs: vec!["127.0.0.1".to_string(), "::1".to_string()],
            checks: vec![],
            commands: vec![],
            takes_checks: false,
        }
    }
}

/// The next message that is not a Ping from configd (those are answered).
async fn next_message(conn: &mut Connection) -> Result<Message, String> {
    loop {
        match conn.read().await {
            Ok(Some(Message::Ping(p))) => conn
                .send(&Message::Pong(p))
                .await
                .map_err(|e| format!("send Pong: {e}"))?,
            Ok(Some(Message::Error(e))) => return Err(format!("configd sent an error: {e}")),
            Ok(Some(m)) => return Ok(m),
            Ok(None) => return Err("configd closed the connection".to_string()),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

fn query_command(bins: &Bins, setup: &Setup, addr: SocketAddr) -> Command {
    let mut cmd = Command::new(&bins.cli);
    cmd.args(["query", "nodes", "-o", "json", "--server"])
        .arg(addr.to_string())
        .arg("--token-file")
        .arg(&setup.viewer_token);
    cmd
}

/// Runs the query once, checks it lists every node `up`; returns its size.
async fn verify_query(
    bins: &Bins,
    setup: &Setup,
    addr: SocketAddr,
    n: usize,
) -> anyhow::Result<usize> {
    let mut cmd = query_command(bins, setup, addr);
    setup.hermetic(&mut cmd);
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(CLI_TIMEOUT, cmd.output())
        .await
        .with_context(|| format!("monit-cli query nodes took over {}s", CLI_TIMEOUT.as_secs()))?
        .context("cannot run monit-cli")?;
    if !out.status.success() {
        bail!(
            "monit-cli query nodes failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let nodes: Vec<NodeJson> = serde_json::from_slice(&out.stdout)
        .context("monit-cli query nodes -o json did not print a JSON array of nodes")?;
    if nodes.len() != n {
        bail!("query nodes listed {} nodes, expected {n}", nodes.len());
    }
    if let Some(bad) = nodes.iter().find(|node| node.state != "up") {
        bail!("node {} is {}, expected every node up", bad.name, bad.state);
    }
    let names: HashSet<&str> = nodes.iter().map(|node| node.name.as_str()).collect();
    let missing = (1..=n)
        .map(|i| format!("bench-{i:05}"))
        .find(|name| !names.contains(name.as_str()));
    if let Some(name) = missing {
        bail!("query nodes does not list {name}");
    }
    println!(
        "query nodes -o json lists all {n} nodes up ({} bytes of JSON)",
        out.stdout.len()
    );
    Ok(out.stdout.len())
}

/// One `query nodes` through the library, as monit-cli does it: the
/// milliseconds to connect and authenticate, then to get and decode the
/// answer.
async fn library_query(
    addr: SocketAddr,
    token: &Token,
    trust: &Trust,
) -> anyhow::Result<((f64, f64), Vec<NodeView>)> {
    let started = Instant::now();
    let (connected, nodes) = tokio::time::timeout(CLI_TIMEOUT, async {
        let endpoint = monit::net::dial::Endpoint {
            server: addr.to_string(),
            token: token.clone(),
            trust: trust.clone(),
        };
        let client = Client::connect(&endpoint, "node_load").await?;
        let connected = started.elapsed();
        let nodes = client.query_nodes(Vec::new()).await?;
        Ok::<_, monit::net::client::ClientError>((connected, nodes))
    })
    .await
    .with_context(|| format!("library query took over {}s", CLI_TIMEOUT.as_secs()))?
    .context("library query failed")?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(((ms(connected), ms(started.elapsed() - connected)), nodes))
}

/// Wall time of one run, stdout to /dev/null, in milliseconds.
/// A filtered query, timed beside the full one: every node is up and has
/// role web, one in 40 is in rack r05.
const FILTERS: &[&str] = &["state=up", "labels.role=web", "labels.rack=r05"];

/// The argument that makes the bench binary a `Launcher`.
const LAUNCHER_ARG: &str = "--launcher";

/// Times `monit-cli` runs from a small process of its own, started before
/// the fleet: a process spawned by the bench itself gets a copy of its
/// file table, 10,000 sockets, and that alone costs each run 1.5-3 ms
/// (measured: `monit-cli --version` 1.4 ms from a process with a few open
/// files, 3.0 ms from one with 10,000), which an operator's shell does not
/// pay. One JSON request a line on its stdin, one JSON answer a line back.
struct Launcher {
    child: Child,
    to: std::process::ChildStdin,
    from: BufReader<std::process::ChildStdout>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LaunchRequest {
    argv: Vec<String>,
    env_remove: Vec<String>,
    env: Vec<(String, String)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LaunchAnswer {
    /// Wall time from spawn to exit.
    ms: f64,
    /// The run's user + system CPU.
    cpu_ms: f64,
    /// Empty when it exited 0.
    error: String,
}

impl Launcher {
    fn start() -> anyhow::Result<Launcher> {
        let exe = std::env::current_exe().context("cannot find the bench executable")?;
        let mut child = Command::new(exe)
            .arg(LAUNCHER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the launcher")?;
        let to = child.stdin.take().context("launcher stdin")?;
        let from = BufReader::new(child.stdout.take().context("launcher stdout")?);
        Ok(Launcher { child, to, from })
    }

    /// Runs `cmd` (made hermetic, as `Setup::hermetic` does) and times it.
    fn time(&mut self, cmd: Command, setup: &Setup) -> anyhow::Result<LaunchAnswer> {
        let request = LaunchRequest {
            argv: std::iter::once(cmd.get_program())
                .chain(cmd.get_args())
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            env_remove: SCRUB_ENV.iter().map(|v| v.to_string()).collect(),
            env: vec![(
                "XDG_CONFIG_HOME".into(),
                setup.dir.join("xdg").to_string_lossy().into_owned(),
            )],
        };
        let mut line = serde_json::to_string(&request)?;
        line.push('\n');
        self.to
            .write_all(line.as_bytes())
            .context("cannot write to the launcher")?;
        let mut answer = String::new();
        self.from
            .read_line(&mut answer)
            .context("cannot read from the launcher")?;
        let answer: LaunchAnswer =
            serde_json::from_str(&answer).context("the launcher stopped or answered garbage")?;
        if !answer.error.is_empty() {
            bail!("monit-cli failed: {}", answer.error);
        }
        Ok(answer)
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The launcher's side: runs each requested command, answers with its times.
fn launcher_serve() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let req: LaunchRequest = serde_json::from_str(&line?)?;
        let (program, args) = req.argv.split_first().context("empty argv")?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(req.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for var in &req.env_remove {
            cmd.env_remove(var);
        }
        let cpu0 = children_cpu_ms()?;
        let started = Instant::now();
        // Its stderr reaches EOF when it exits (monit-cli starts nothing
        // that outlives it); its own timeouts bound the wait.
        let output = cmd
            .spawn()
            .and_then(|c| c.wait_with_output())
            .context("cannot run monit-cli")?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let cpu_ms = children_cpu_ms()? - cpu0;
        let error = if output.status.success() {
            String::new()
        } else {
            format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )
        };
        let mut answer = serde_json::to_string(&LaunchAnswer { ms, cpu_ms, error })?;
        answer.push('\n');
        out.write_all(answer.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

/// Summary of a sample.
struct Percentiles {
    min: f64,
    median: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    fn of(mut xs: Vec<f64>) -> Option<Percentiles> {
        if xs.is_empty() {
            return None;
        }
        xs.sort_by(f64::total_cmp);
        let len = xs.len();
        // Nearest rank.
        let rank = |q: f64| xs[((q * len as f64).ceil() as usize).clamp(1, len) - 1];
        let median = if len.is_multiple_of(2) {
            (xs[len / 2 - 1] + xs[len / 2]) / 2.0
        } else {
            xs[len / 2]
        };
        Some(Percentiles {
            min: xs[0],
            median,
            p90: rank(0.90),
            p99: rank(0.99),
            max: xs[len - 1],
        })
    }
}

/// utime + stime of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14, stime 15.
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .with_context(|| format!("{path}: no `)`"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .with_context(|| format!("{path}: field {n} is missing or not a number"))
    };
    Ok(field(14)? + field(15)?)
}

/// Whether a child is still running (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = text
        .rfind(')')
        .and_then(|i| text[i + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X"))
}

/// A numeric field of `/proc/PID/status` (`VmRSS:` is in KiB).
fn status_field(pid: u32, key: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .with_context(|| format!("{path}: no numeric `{key}`"))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_field(pid, "VmRSS:")
}

/// The soft "Max open files" of a process, from `/proc/PID/limits`.
fn open_file_limit(pid: u32) -> anyhow::Result<String> {
    let path = format!("/proc/{pid}/limits");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_string)
        .with_context(|| format!("{path}: no `Max open files`"))
}

/// How busy the whole (shared) machine is.
struct MachineLoad {
    /// 1-minute load average.
    load1: Option<f64>,
    /// CPU pressure, `some avg10` (%).
    cpu_pressure: Option<f64>,
}

impl MachineLoad {
    fn now() -> MachineLoad {
        MachineLoad {
            load1: load_average(),
            cpu_pressure: cpu_pressure(),
        }
    }
}

/// `some avg10` of `/proc/pressure/cpu`: the share of the last 10 s in
/// which some runnable task waited for a CPU (0-100).
fn cpu_pressure() -> Option<f64> {
    std::fs::read_to_string("/proc/pressure/cpu")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("some "))?
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("avg10="))?
        .parse()
        .ok()
}

/// The 1-minute load average, to judge how noisy a run was.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + sys, ms) of all waited-for children so far.
fn children_cpu_ms() -> anyhow::Result<f64> {
    use nix::sys::resource::{getrusage, UsageWho};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage(RUSAGE_CHILDREN)")?;
    let ms = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1000.0 + t.tv_usec() as f64 / 1000.0;
    Ok(ms(usage.user_time()) + ms(usage.system_time()))
}

/// The machine's `TcpExt: ListenOverflows` counter (accept queue full).
fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let at = names
            .split_whitespace()
            .position(|n| n == "ListenOverflows")?;
        return values.split_whitespace().nth(at)?.parse().ok();
    }
    None
}

fn clock_ticks() -> anyhow::Result<f64> {
    use nix::unistd::{sysconf, SysconfVar};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => Ok(t as f64),
        other => bail!("sysconf(_SC_CLK_TCK) gave {other:?}"),
    }
}

fn nofile() -> anyhow::Result<(u64, u64)> {
    use nix::sys::resource::{getrlimit, Resource};
    getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")
}
