//! What one fleet size measured, and how it is printed (the figures in
//! BENCHMARKS.md come from these lines).

use anyhow::Context;

use crate::common::bench::{figure, Percentiles, Target};
use crate::query::FILTERS;
use crate::{TARGET_CPU_PCT, TARGET_HANDSHAKES, TARGET_KIB_PER_NODE, TARGET_N, TARGET_QUERY_MS};

/// Everything measured for one fleet size.
pub struct Figures {
    pub n: usize,
    /// `tls = false` on both ends.
    pub plaintext: bool,
    pub idle_rss_kib: u64,
    pub rss_kib: u64,
    pub configd_cpu_pct: f64,
    pub configd_threads: u64,
    pub configd_nofile: String,
    pub bench_cpu_pct: f64,
    pub register_secs: f64,
    /// Accept-queue overflows during the ramp (TcpExt, whole machine).
    pub listen_overflows: Option<u64>,
    pub connect_us: Percentiles,
    pub register_us: Percentiles,
    pub pongs_per_sec: f64,
    pub rtt_us: Percentiles,
    pub query_ms: Percentiles,
    /// The same query with `FILTERS` (one node in 40).
    pub filtered_ms: Percentiles,
    pub cli_floor_ms: Percentiles,
    pub library_ms: Percentiles,
    pub library_connect_ms: Percentiles,
    pub library_answer_ms: Percentiles,
    pub render_ms: Percentiles,
    pub query_bytes: usize,
    /// CPU (user + sys) of one `monit-cli query` process.
    pub query_cpu_ms: Percentiles,
    pub rss_after_queries_kib: u64,
    /// The machine before and after the measurement window.
    pub load: (MachineLoad, MachineLoad),
}

impl Figures {
    fn handshakes_per_sec(&self) -> f64 {
        self.n as f64 / self.register_secs
    }

    fn kib_per_node(&self) -> f64 {
        self.rss_kib.saturating_sub(self.idle_rss_kib) as f64 / self.n as f64
    }

    /// The checked figures. CPU and memory per node are issue 2's targets,
    /// set for plaintext (TLS adds about 7.5 KiB of state per connection);
    /// handshakes/s is issue 13's, over TLS.
    fn verdicts(&self) {
        figure(
            "node_load.query_p50",
            self.query_ms.median,
            "ms",
            Target::Below(TARGET_QUERY_MS),
        );
        if self.plaintext {
            let cpu = self.configd_cpu_pct;
            figure(
                "node_load.plaintext.configd_cpu",
                cpu,
                "%",
                Target::Below(TARGET_CPU_PCT),
            );
            let kib = self.kib_per_node();
            figure(
                "node_load.plaintext.rss_per_node",
                kib,
                "KiB",
                Target::Below(TARGET_KIB_PER_NODE),
            );
        } else {
            figure(
                "node_load.handshakes",
                self.handshakes_per_sec(),
                "handshakes/s",
                Target::AtLeast(TARGET_HANDSHAKES),
            );
        }
    }

    pub fn print_detail(&self) {
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

pub fn print_table(results: &[Figures]) {
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
        f.verdicts();
    }
}

/// The soft "Max open files" of a process, from `/proc/PID/limits`.
pub fn open_file_limit(pid: u32) -> anyhow::Result<String> {
    let path = format!("/proc/{pid}/limits");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_string)
        .with_context(|| format!("{path}: no `Max open files`"))
}

/// How busy the whole (shared) machine is.
pub struct MachineLoad {
    /// 1-minute load average.
    load1: Option<f64>,
    /// CPU pressure, `some avg10` (%).
    cpu_pressure: Option<f64>,
}

impl MachineLoad {
    pub fn now() -> MachineLoad {
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

/// The machine's `TcpExt: ListenOverflows` counter (accept queue full).
pub fn listen_overflows() -> Option<u64> {
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

pub fn nofile() -> anyhow::Result<(u64, u64)> {
    use nix::sys::resource::{getrlimit, Resource};
    getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")
}
