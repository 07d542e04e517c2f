//! What the benches share with each other and with the tests (issue 12):
//! the verdict line `scripts/bench --check` reads, percentiles, /proc
//! figures, a configd with many library-made tokens, and simulated node
//! links. Binaries and processes come from the harness (`super::bin`,
//! `super::command`, `super::Proc`).

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;

use monit::auth::{Token, TokensFile};
use monit::checks::{CheckState, PerfData, StateType};
use monit::net::dial::{dial, link_config, Dialed, Endpoint};
use monit::net::link::{drive, Handler, LinkHandle};
use monit::net::proto::{
    CheckDecl, CheckResult, ErrorCode, ErrorFrame, PeerKind, Registration, RequestBody,
    ResponseBody, Role, DEFAULT_MAX_FRAME,
};
use monit::net::tls::{Fingerprint, Trust};
use tokio_util::sync::CancellationToken;

use super::{command, first_line_addr, write_private, Proc};

/// A bench's arguments after `--`, without the `--bench` cargo adds.
pub struct Args(std::vec::IntoIter<String>);

/// A bad argument, said in one line.
#[derive(Debug)]
pub struct ArgError(pub String);

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

impl From<ArgError> for String {
    fn from(e: ArgError) -> String {
        e.0
    }
}

impl Args {
    pub fn new() -> Args {
        let args: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect();
        Args(args.into_iter())
    }

    /// The value after `flag`, parsed.
    pub fn value<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, ArgError> {
        let v = self
            .0
            .next()
            .ok_or_else(|| ArgError(format!("{flag} needs a value")))?;
        v.parse()
            .map_err(|_| ArgError(format!("{flag} {v}: not a valid value")))
    }

    /// `Err` for an argument the bench does not know.
    pub fn unknown(a: &str) -> ArgError {
        ArgError(format!("unknown argument {a}"))
    }
}

impl Iterator for Args {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        self.0.next()
    }
}

/// A bench's exit: its error on one line, status 1.
pub fn exit<E: std::fmt::Display>(bench: &str, outcome: Result<(), E>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{bench}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

// ---- Verdicts -------------------------------------------------------

/// What a figure must be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    Below(f64),
    AtLeast(f64),
}

impl Target {
    pub fn op(self) -> &'static str {
        match self {
            Target::Below(_) => "<",
            Target::AtLeast(_) => ">=",
        }
    }

    pub fn value(self) -> f64 {
        match self {
            Target::Below(v) | Target::AtLeast(v) => v,
        }
    }

    /// NaN (nothing measured) never meets a target.
    pub fn met(self, value: f64) -> bool {
        match self {
            Target::Below(t) => value < t,
            Target::AtLeast(t) => value >= t,
        }
    }
}

/// The one line a checked figure is printed as, and `scripts/bench`
/// parses: `PASS|FAIL NAME: VALUE UNIT (target OP TARGET)`. NAME and UNIT
/// hold no spaces.
pub fn verdict_line(name: &str, value: f64, unit: &str, target: Target) -> String {
    format!(
        "{} {name}: {} {unit} (target {} {})",
        if target.met(value) { "PASS" } else { "FAIL" },
        number(value),
        target.op(),
        number(target.value())
    )
}

/// Prints a checked figure's verdict line; whether it met its target.
pub fn figure(name: &str, value: f64, unit: &str, target: Target) -> bool {
    println!("{}", verdict_line(name, value, unit, target));
    target.met(value)
}

/// Enough digits to compare with a target, no more.
fn number(v: f64) -> String {
    if !v.is_finite() || v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A markdown table, as BENCHMARKS.md holds them.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    println!("| {} |", header.join(" | "));
    println!("|{}", "---|".repeat(header.len()));
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}

// ---- Statistics -----------------------------------------------------

/// Summary of a sample (nearest rank; the median of an even count is the
/// mean of the middle two).
#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(mut xs: Vec<f64>) -> Option<Percentiles> {
        if xs.is_empty() {
            return None;
        }
        xs.sort_by(f64::total_cmp);
        let len = xs.len();
        let median = if len.is_multiple_of(2) {
            (xs[len / 2 - 1] + xs[len / 2]) / 2.0
        } else {
            xs[len / 2]
        };
        Some(Percentiles {
            min: xs[0],
            median,
            p90: percentile(&xs, 0.90),
            p95: percentile(&xs, 0.95),
            p99: percentile(&xs, 0.99),
            max: xs[len - 1],
        })
    }
}

/// Nearest-rank percentile `q` (0-1) of sorted values; NaN if none.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let len = sorted.len();
    if len == 0 {
        return f64::NAN;
    }
    sorted[((q * len as f64).ceil() as usize).clamp(1, len) - 1]
}

/// The median, NaN if there is nothing.
pub fn median(xs: Vec<f64>) -> f64 {
    Percentiles::of(xs).map_or(f64::NAN, |p| p.median)
}

// ---- /proc figures ----------------------------------------------------

/// Clock ticks a second (`getconf CLK_TCK`).
pub fn clock_ticks() -> f64 {
    use nix::unistd::{sysconf, SysconfVar};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as f64,
        _ => 100.0,
    }
}

/// Fields of `/proc/PID/stat` after the command name (which is in
/// parentheses and may hold spaces): `[0]` is field 3, the state.
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// utime + stime (all threads) of `pid` (a number or `self`), in ticks.
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    let f = stat_fields(pid)?;
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// utime + stime of `pid` (a number or `self`), in seconds (0 if gone).
pub fn cpu_secs(pid: &str) -> f64 {
    cpu_ticks(pid).unwrap_or(0) as f64 / clock_ticks()
}

/// Whether a process is still running (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    stat_fields(&pid.to_string())
        .is_some_and(|f| !matches!(f.first().map(String::as_str), None | Some("Z" | "X")))
}

/// A numeric field of `/proc/PID/status` (`VmRSS:` is in KiB).
pub fn status_field(pid: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `VmRSS` of `pid` (a number or `self`) in KiB, 0 if gone.
pub fn rss_kib(pid: &str) -> u64 {
    status_field(pid, "VmRSS:").unwrap_or(0)
}

/// Open file descriptors of `pid`.
pub fn open_fds(pid: &str) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

/// CPU time (user + sys, seconds) from `getrusage(who)`.
pub fn rusage_secs(who: nix::sys::resource::UsageWho) -> f64 {
    let Ok(u) = nix::sys::resource::getrusage(who) else {
        return 0.0;
    };
    let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    s(u.user_time()) + s(u.system_time())
}

// ---- A configd for a bench --------------------------------------------

/// A real configd for a bench or the soak: node tokens made with the
/// library (10,000 in a moment; `token create` costs a process each), an
/// explicit configd.toml, the address from its first line. Killed on drop.
pub struct Configd {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
    /// Node names and their tokens, for the bench to dial with.
    pub nodes: Vec<(String, Token)>,
    /// The client token (role as asked) and its 0600 file.
    pub client: Token,
    pub client_file: PathBuf,
    pub proc: Proc,
    pub addr: String,
    pub trust: Trust,
}

impl Configd {
    /// `names` get node tokens, one client of `role`; configd.toml is
    /// `listen` and `data_dir` then `extra`, with every simulated node's
    /// handshakes allowed from 127.0.0.1 (a real fleet comes from many
    /// addresses).
    pub fn start(names: Vec<String>, role: Role, extra: &str) -> Configd {
        let dir = tempfile::Builder::new()
            .prefix("monit-bench-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(dir.path().join(".config/monit")).unwrap();
        let mut tokens = TokensFile::load(&data.join("tokens.toml")).unwrap();
        let nodes = names
            .into_iter()
            .map(|name| {
                let token = tokens.add(&name, Role::Node).unwrap();
                (name, token)
            })
            .collect();
        let client = tokens.add("bench-client", role).unwrap();
        tokens.save().unwrap();
        let client_file = dir.path().join("client.token");
        write_private(&client_file, &format!("{client}\n"));
        let config = dir.path().join("configd.toml");
        write_private(&config, &Self::config_text(&data, extra));
        let mut cmd = command("monit-configd", dir.path());
        cmd.arg("--config")
            .arg(&config)
            .arg("run")
            .stdout(Stdio::piped());
        let mut proc = Proc::spawn("monit-configd", cmd, dir.path());
        let addr = first_line_addr(&mut proc);
        // What `monit-cli` run by the bench trusts (HOME is the dir).
        let (trust, client_toml) = if extra.lines().any(|l| l.trim() == "tls = false") {
            (Trust::Plaintext, "tls = false\n".to_string())
        } else {
            let fp = Fingerprint::of_pem_file(&data.join("tls/cert.pem")).unwrap();
            (
                Trust::Pinned(fp),
                format!("server_fingerprint = \"{fp}\"\n"),
            )
        };
        write_private(&dir.path().join(".config/monit/client.toml"), &client_toml);
        Configd {
            dir,
            data,
            config,
            nodes,
            client,
            client_file,
            proc,
            addr,
            trust,
        }
    }

    /// configd.toml for `extra` (also for rewriting it before a SIGHUP).
    pub fn config_text(data: &Path, extra: &str) -> String {
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nmax_handshakes_per_address = 1024\n{extra}",
            data.display()
        )
    }

    pub fn pid(&self) -> u32 {
        self.proc.child.id()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where a simulated node or a library client with `token` dials.
    pub fn endpoint(&self, token: &Token) -> Endpoint {
        Endpoint {
            server: self.addr.clone(),
            token: token.clone(),
            trust: self.trust.clone(),
        }
    }

    /// `monit-cli --server ADDR --token-file CLIENT ARGS`, not started.
    pub fn cli(&self, args: &[&str]) -> std::process::Command {
        let mut c = command("monit-cli", self.path());
        c.arg("--server")
            .arg(&self.addr)
            .arg("--token-file")
            .arg(&self.client_file)
            .args(args);
        c
    }

    /// The end of configd's stderr, to explain a failure.
    pub fn log_tail(&self) -> String {
        let log = self.proc.log();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "\nconfigd log, last lines:\n  {}",
            lines[lines.len().saturating_sub(15)..].join("\n  ")
        )
    }
}

/// `n` node names `PREFIX-00001`...
pub fn names(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}-{i:05}")).collect()
}

// ---- Simulated nodes ---------------------------------------------------

/// A node's registration: `checks` checks `check-0`... of `max_attempts`.
pub fn registration(name: &str, checks: usize, max_attempts: u32) -> Registration {
    Registration {
        hostname: name.into(),
        version: monit::VERSION.into(),
        checks: (0..checks)
            .map(|c| CheckDecl {
                name: format!("check-{c}"),
                max_attempts,
                freshness_ms: None,
            })
            .collect(),
        ..Default::default()
    }
}

/// A simulated node: dials as `reg.hostname` (TLS, token handshake), runs
/// its link with `handler` answering configd's requests until `stop`, and
/// registers with `reg`.
pub async fn node_link<H: Handler>(
    endpoint: &Endpoint,
    reg: Registration,
    handler: Arc<H>,
    stop: &CancellationToken,
) -> Result<LinkHandle, String> {
    let Dialed { conn, welcome, .. } = dial(endpoint, PeerKind::Node, &reg.hostname)
        .await
        .map_err(|e| e.to_string())?;
    let (link, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
    tokio::spawn(drive(
        conn,
        link.clone(),
        queue,
        handler,
        link_config(&welcome),
        stop.clone(),
        ErrorFrame::new(ErrorCode::ShuttingDown, "bench done"),
    ));
    let name = reg.hostname.clone();
    let mut answers = link
        .request(RequestBody::Register(reg))
        .await
        .map_err(|e| e.to_string())?;
    match answers.next().await {
        Some(Ok(ResponseBody::Registered(_))) => Ok(link),
        other => Err(format!("registration of {name}: {other:?}")),
    }
}

/// Sends one request and waits for its first answer (`None` if the link
/// failed or ended).
pub async fn ask(link: &LinkHandle, body: RequestBody) -> Option<ResponseBody> {
    let mut answers = link.request(body).await.ok()?;
    answers.next().await?.ok()
}

/// One hard result of check `name` on its first attempt, as a node sends
/// it (ran 1 ms, started on time).
pub fn check_result(
    name: String,
    state: CheckState,
    output: String,
    time_ms: i64,
    max_attempts: u32,
    perfdata: Vec<PerfData>,
) -> CheckResult {
    CheckResult {
        name,
        state,
        output,
        long_output: String::new(),
        perfdata,
        time_ms,
        duration_ms: 1,
        latency_ms: 0,
        max_attempts,
        state_type: StateType::Hard,
        attempt: 1,
    }
}

/// A perfdata item with no thresholds and no bounds.
pub fn perf(label: &str, value: f64, uom: &str) -> PerfData {
    PerfData {
        label: label.into(),
        value,
        uom: uom.into(),
        warn: None,
        crit: None,
        min: None,
        max: None,
    }
}

/// The `time` item most plugins print: seconds, from 0.
pub fn perf_time(seconds: f64) -> PerfData {
    PerfData {
        min: Some(0.0),
        ..perf("time", seconds, "s")
    }
}
