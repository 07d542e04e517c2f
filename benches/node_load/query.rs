//! The operator's query: `monit-cli query nodes -o json` checked once,
//! then timed from a small launcher process; and the same query through
//! the library, in this process.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use monit::model::node::NodeJson;
use monit::net::client::Client;
use monit::net::proto::NodeView;

use crate::common::bench::{rusage_secs, Configd};

/// Longest wait for one `monit-cli` run.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// The operator's query, as the viewer.
pub fn query_command(configd: &Configd) -> Command {
    configd.cli(&["query", "nodes", "-o", "json"])
}

/// Runs the query once, checks it lists every node `up`; returns its size.
pub async fn verify_query(configd: &Configd, n: usize) -> anyhow::Result<usize> {
    let mut cmd = tokio::process::Command::from(query_command(configd));
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
pub async fn library_query(configd: &Configd) -> anyhow::Result<((f64, f64), Vec<NodeView>)> {
    let started = Instant::now();
    let (connected, nodes) = tokio::time::timeout(CLI_TIMEOUT, async {
        let endpoint = configd.endpoint(&configd.client);
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

/// A filtered query, timed beside the full one: every node is up and has
/// role web, one in 40 is in rack r05.
pub const FILTERS: &[&str] = &["state=up", "labels.role=web", "labels.rack=r05"];

/// The argument that makes the bench binary a `Launcher`.
pub const LAUNCHER_ARG: &str = "--launcher";

/// Times `monit-cli` runs from a small process of its own, started before
/// the fleet: a process spawned by the bench itself gets a copy of its
/// file table, 10,000 sockets, and that alone costs each run 1.5-3 ms
/// (measured: `monit-cli --version` 1.4 ms from a process with a few open
/// files, 3.0 ms from one with 10,000), which an operator's shell does not
/// pay. One JSON request a line on its stdin, one JSON answer a line back.
pub struct Launcher {
    child: Child,
    to: std::process::ChildStdin,
    from: BufReader<std::process::ChildStdout>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LaunchRequest {
    argv: Vec<String>,
    env_remove: Vec<String>,
    env: Vec<(String, String)>,
    dir: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct LaunchAnswer {
    /// Wall time from spawn to exit.
    pub ms: f64,
    /// The run's user + system CPU.
    pub cpu_ms: f64,
    /// Empty when it exited 0.
    error: String,
}

impl Launcher {
    pub fn start() -> anyhow::Result<Launcher> {
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

    /// Runs `cmd` (its arguments and environment) and times it.
    pub fn time(&mut self, cmd: Command) -> anyhow::Result<LaunchAnswer> {
        let text = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
        let (mut env, mut env_remove) = (Vec::new(), Vec::new());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => env.push((text(k), text(v))),
                None => env_remove.push(text(k)),
            }
        }
        let request = LaunchRequest {
            argv: std::iter::once(cmd.get_program())
                .chain(cmd.get_args())
                .map(text)
                .collect(),
            env_remove,
            env,
            dir: cmd.get_current_dir().map(|d| text(d.as_os_str())),
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
pub fn launcher_serve() -> anyhow::Result<()> {
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
        if let Some(dir) = &req.dir {
            cmd.current_dir(dir);
        }
        let cpu0 = children_cpu_ms();
        let started = Instant::now();
        // Its stderr reaches EOF when it exits (monit-cli starts nothing
        // that outlives it); its own timeouts bound the wait.
        let output = cmd
            .spawn()
            .and_then(|c| c.wait_with_output())
            .context("cannot run monit-cli")?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let cpu_ms = children_cpu_ms() - cpu0;
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

/// CPU time (user + sys, ms) of all waited-for children so far.
fn children_cpu_ms() -> f64 {
    rusage_secs(nix::sys::resource::UsageWho::RUSAGE_CHILDREN) * 1000.0
}
