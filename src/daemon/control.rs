//! `start`, `stop`, `restart` and `status` for both daemons (DESIGN
//! section 6): `start` runs the same binary with `run` in a new session,
//! logging to a file, and returns only once the daemon printed its ready
//! line (or exits non-zero with the daemon's own error).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Seek};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};

use super::pidfile::{PidFile, Probe};

/// With `Ready::Registered`, what `start` looks for at the head of the
/// daemon's stdout lines.
pub const REGISTERED: &str = "registered";
pub const REFUSED: &str = "refused";
pub const RETRYING: &str = "retrying";

/// `println!` that a closed pipe (`status | head -1`) cannot make panic.
macro_rules! say {
    ($($arg:tt)*) => {
        let _ = crate::cli::output::print_line(format_args!($($arg)*));
    };
}

/// How to control one daemon.
pub struct Control {
    /// `monit-configd` or `monit-noded`.
    pub name: &'static str,
    pub pid_file: PathBuf,
    /// Where a started daemon's stderr goes.
    pub log_file: PathBuf,
    /// Arguments for the detached `run` (global options, then `run`).
    pub run_args: Vec<OsString>,
    /// A line of facts for `status` (e.g. the listen address).
    pub detail: String,
    /// When a started daemon counts as started.
    pub ready: Ready,
}

/// The arguments of a detached `run`: each option that is set (paths made
/// absolute, as the daemon starts elsewhere), then `run`.
pub fn run_args<const N: usize>(options: [(&str, Option<OsString>); N]) -> Vec<OsString> {
    let set = options
        .into_iter()
        .filter_map(|(k, v)| Some([k.into(), v?]));
    set.flatten().chain(["run".into()]).collect()
}

/// `p` made absolute against the working directory.
pub fn absolute(p: &std::path::Path) -> OsString {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .into_os_string()
}

/// When `start` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// At the daemon's first line on stdout (configd: `listening on ADDR`).
    FirstLine,
    /// At a `registered` line (noded). A `refused` line (configd refused
    /// the node) stops the daemon and fails the start; with neither within
    /// `REGISTER_WAIT` the daemon stays, retrying, and `start` says so.
    Registered,
}

/// How long `start` waits for the daemon's ready line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `start` waits for a node to register.
const REGISTER_WAIT: Duration = Duration::from_secs(8);

impl Control {
    pub fn start(&self) -> anyhow::Result<()> {
        if let Probe::Running { pid, .. } = PidFile::probe(&self.pid_file) {
            bail!("{} is already running (pid {pid})", self.name);
        }
        if let Some(dir) = self.log_file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .with_context(|| format!("cannot open log file {}", self.log_file.display()))?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let exe = std::env::current_exe().context("cannot find this program's path")?;
        let mut cmd = Command::new(exe);
        cmd.args(&self.run_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        // SAFETY: setsid is async-signal-safe; it detaches the daemon from
        // this terminal's session so a closing terminal cannot signal it.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.name))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("no stdout pipe")?;
        // Its stdout lines, then `None` at its end.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(Some(line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(None);
        });
        let wait = match self.ready {
            Ready::FirstLine => START_TIMEOUT,
            Ready::Registered => REGISTER_WAIT,
        };
        let deadline = Instant::now() + wait;
        let mut retrying = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(Some(line)) => line,
                Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait().ok();
                    let why = self.log_since(log_start);
                    bail!(
                        "{} failed to start{}: {}",
                        self.name,
                        status.map(|s| format!(" ({s})")).unwrap_or_default(),
                        if why.is_empty() {
                            format!("see {}", self.log_file.display())
                        } else {
                            why
                        }
                    )
                }
                Err(RecvTimeoutError::Timeout) if self.ready == Ready::Registered => {
                    say!(
                        "{} started (pid {pid}) but is not registered with configd yet{}; it keeps trying (`{} status` tells)",
                        self.name,
                        retrying.map(|r| format!(": {r}")).unwrap_or_default(),
                        self.name
                    );
                    return Ok(());
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    bail!(
                        "{} did not become ready within {}s; see {}",
                        self.name,
                        wait.as_secs(),
                        self.log_file.display()
                    )
                }
            };
            let line = line.trim();
            if self.ready == Ready::FirstLine || line.starts_with(REGISTERED) {
                say!("{} started (pid {pid}, {line})", self.name);
                return Ok(());
            }
            if let Some(why) = line.strip_prefix(REFUSED) {
                // It would only retry slowly: stop it, and say why.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
                let gone = Instant::now() + Duration::from_secs(5);
                while Instant::now() < gone && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if matches!(child.try_wait(), Ok(None)) {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                bail!(
                    "{} not started: {}",
                    self.name,
                    why.trim_start_matches(':').trim()
                )
            }
            if let Some(why) = line.strip_prefix(RETRYING) {
                retrying = Some(why.trim_start_matches(':').trim().to_string());
            }
        }
    }

    /// The last error-looking line the daemon wrote to its log since `from`.
    fn log_since(&self, from: u64) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log_file) {
            let _ = f.seek(std::io::SeekFrom::Start(from));
            let _ = f.take(64 * 1024).read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines
            .iter()
            .rev()
            .find(|l| l.contains("error"))
            .or(lines.last())
            .map(|l| l.trim().to_string())
            .unwrap_or_default()
    }

    /// SIGTERM, then wait up to `timeout` for the daemon to go.
    pub fn stop(&self, timeout: Duration) -> anyhow::Result<()> {
        let pid = match PidFile::probe(&self.pid_file) {
            Probe::Running { pid, .. } => pid,
            Probe::Stale { .. } => {
                let _ = std::fs::remove_file(&self.pid_file);
                say!("{} is not running (removed a stale pidfile)", self.name);
                return Ok(());
            }
            Probe::Absent => {
                say!("{} is not running", self.name);
                return Ok(());
            }
        };
        if pid <= 1 {
            bail!("pidfile {} holds no usable pid", self.pid_file.display());
        }
        let target = nix::unistd::Pid::from_raw(pid);
        nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM)
            .with_context(|| format!("cannot signal pid {pid}"))?;
        let started = Instant::now();
        while started.elapsed() < timeout {
            if !matches!(PidFile::probe(&self.pid_file), Probe::Running { .. }) {
                say!("{} stopped (pid {pid})", self.name);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "{} (pid {pid}) did not stop within {}s; `kill -9 {pid}` forces it",
            self.name,
            timeout.as_secs()
        )
    }

    /// LSB status: 0 running, 3 not running.
    pub fn status(&self) -> u8 {
        match PidFile::probe(&self.pid_file) {
            Probe::Running { pid, since } => {
                let up = SystemTime::now()
                    .duration_since(since)
                    .map(|d| Duration::from_secs(d.as_secs()))
                    .unwrap_or_default();
                say!(
                    "{} is running (pid {pid}, up {}{})",
                    self.name,
                    humantime::format_duration(up),
                    if self.detail.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", self.detail)
                    }
                );
                0
            }
            Probe::Stale { pid } => {
                say!(
                    "{} is not running (stale pidfile {}{})",
                    self.name,
                    self.pid_file.display(),
                    pid.map(|p| format!(" names pid {p}")).unwrap_or_default()
                );
                3
            }
            Probe::Absent => {
                say!("{} is not running", self.name);
                3
            }
        }
    }
}
