//! Runs allow-listed commands for configd: the arguments checked again
//! against the node's own spec, the argv filled verbatim (no shell), the
//! process started in its own process group with a clean environment,
//! its output streamed up in chunks cut at line ends, and the whole group
//! killed on timeout, cancel or when the request goes away.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::groups::RunningGroups;
use crate::config::NodedConfig;
use crate::net::link::Replier;
use crate::net::proto::{
    CommandExit, CommandOutput, ErrorCode, OutputStream, ResponseBody, RunCommand, TargetState,
};
use crate::ops::local::LocalCommand;

/// Largest output chunk sent in one frame.
const CHUNK: usize = 256 * 1024;
/// PATH given to commands unless `env` passes noded's own.
const SAFE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How long output is still read after the process group was killed.
const DRAIN: Duration = Duration::from_secs(2);

pub struct CommandRunner {
    node: String,
    groups: RunningGroups,
    commands: HashMap<String, (LocalCommand, Arc<Semaphore>)>,
    order: Vec<String>,
}

/// Kills the process group when dropped (request task aborted, link gone).
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&mut self) {
        crate::daemon::kill_group(self.0);
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

impl CommandRunner {
    /// The commands of `config`; running groups are recorded under its
    /// spool directory (see `groups`).
    pub fn new(config: &NodedConfig) -> CommandRunner {
        let (node, commands) = (&config.name, &config.commands);
        CommandRunner {
            groups: RunningGroups::new(&config.spool_dir),
            node: node.to_string(),
            order: commands.iter().map(|c| c.spec.name.clone()).collect(),
            commands: commands
                .iter()
                .map(|c| {
                    let slots = Semaphore::new(c.spec.concurrency.max(1) as usize);
                    (c.spec.name.clone(), (c.clone(), Arc::new(slots)))
                })
                .collect(),
        }
    }

    pub async fn run(&self, req: RunCommand, reply: Replier, cancel: CancellationToken) {
        let Some((cmd, slots)) = self.commands.get(&req.command) else {
            let list = if self.order.is_empty() {
                "it offers no commands".to_string()
            } else {
                format!("it offers: {}", self.order.join(", "))
            };
            let _ = reply
                .error(
                    ErrorCode::NotFound,
                    format!(
                        "node `{}` has no command `{}`; {list}",
                        self.node, req.command
                    ),
                )
                .await;
            return;
        };
        if let Err(why) = cmd.spec.check_args(&req.args) {
            tracing::warn!(job = req.job, "refused command: {why}");
            let _ = reply.error(ErrorCode::BadRequest, why).await;
            return;
        }
        let Ok(_permit) = slots.clone().try_acquire_owned() else {
            let _ = reply
                .error(
                    ErrorCode::Busy,
                    format!(
                        "`{}` already runs {} time(s) on node `{}` (its concurrency)",
                        cmd.spec.name, cmd.spec.concurrency, self.node
                    ),
                )
                .await;
            return;
        };
        let timeout = Duration::from_millis(req.timeout_ms.unwrap_or(cmd.spec.timeout_ms).max(1));
        let exit = execute(cmd, &req, timeout, &reply, &cancel, &self.groups).await;
        tracing::info!(
            job = req.job,
            command = %req.command,
            state = exit.state.as_str(),
            exit_code = exit.exit_code,
            "command ended"
        );
        let _ = reply.send(ResponseBody::CommandExit(exit)).await;
    }
}

fn exit(state: TargetState, exit_code: Option<i32>, message: impl Into<String>) -> CommandExit {
    CommandExit {
        state,
        exit_code,
        message: message.into(),
    }
}

async fn execute(
    cmd: &LocalCommand,
    req: &RunCommand,
    timeout: Duration,
    reply: &Replier,
    cancel: &CancellationToken,
    groups: &RunningGroups,
) -> CommandExit {
    let argv = cmd.spec.render(&req.args);
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("MONIT_JOB", req.job.to_string())
        .env("MONIT_COMMAND", &cmd.spec.name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let parent = std::process::id() as i32;
    // SAFETY: between fork and exec the closure only makes two syscalls
    // (prctl, getppid) and allocates nothing.
    unsafe {
        command.pre_exec(move || super::groups::die_with_parent(parent));
    }
    for var in &cmd.env {
        if let Some(v) = std::env::var_os(var) {
            command.env(var, v);
        }
    }
    if let Some(dir) = &cmd.working_dir {
        command.current_dir(dir);
    }
    tracing::info!(job = req.job, command = %cmd.spec.name, argv = ?argv, "starting command");
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            return exit(
                TargetState::Failed,
                None,
                format!("cannot start {}: {e}", argv[0]),
            )
        }
    };
    let mut group = GroupGuard(child.id().map(|p| p as i32));
    let _recorded = group
        .0
        .map(|pgid| groups.record(pgid, req.job, &cmd.spec.name));
    let (tx, mut rx) = mpsc::channel::<(OutputStream, String)>(16);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(pump(out, OutputStream::Stdout, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(pump(err, OutputStream::Stderr, tx.clone()));
    }
    drop(tx);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut status = None;
    let mut outputs_open = true;
    let ended = loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                group.kill();
                break exit(TargetState::Cancelled, None, "cancelled; process group killed");
            }
            _ = &mut deadline => {
                group.kill();
                break exit(TargetState::Timeout, None, format!("timed out after {timeout:?}; process group killed"));
            }
            chunk = rx.recv(), if outputs_open => match chunk {
                Some((stream, data)) => {
                    if reply.send(ResponseBody::CommandOutput(CommandOutput { stream, data })).await.is_err() {
                        group.kill();
                        break exit(TargetState::Cancelled, None, "configd went away");
                    }
                }
                None => {
                    outputs_open = false;
                    if let Some(done) = status.take() {
                        break done;
                    }
                }
            },
            s = child.wait(), if status.is_none() => {
                let done = match s {
                    Ok(s) => match s.code() {
                        Some(0) => exit(TargetState::Ok, Some(0), ""),
                        Some(c) => exit(TargetState::Failed, Some(c), format!("exit code {c}")),
                        None => {
                            use std::os::unix::process::ExitStatusExt;
                            exit(TargetState::Failed, None, format!("killed by signal {}", s.signal().unwrap_or(0)))
                        }
                    },
                    Err(e) => exit(TargetState::Failed, None, format!("wait failed: {e}")),
                };
                // Leftover background processes of the command go too.
                group.kill();
                if !outputs_open {
                    break done;
                }
                status = Some(done);
            }
        }
    };
    group.kill();
    group.0 = None;
    let _ = tokio::time::timeout(DRAIN, child.wait()).await;
    // Forward what is still buffered, briefly.
    let drain = async {
        while let Some((stream, data)) = rx.recv().await {
            if reply
                .send(ResponseBody::CommandOutput(CommandOutput { stream, data }))
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN, drain).await;
    ended
}

/// Reads one pipe, sending chunks that end at a line end (or full chunks).
async fn pump(
    mut pipe: impl tokio::io::AsyncRead + Unpin,
    stream: OutputStream,
    tx: mpsc::Sender<(OutputStream, String)>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    loop {
        if buf.len() >= CHUNK {
            let data = String::from_utf8_lossy(&buf).into_owned();
            buf.clear();
            if tx.send((stream, data)).await.is_err() {
                return;
            }
        }
        if matches!(pipe.read_buf(&mut buf).await, Ok(0) | Err(_)) {
            break;
        }
        if let Some(last) = buf.iter().rposition(|&b| b == b'\n') {
            let rest = buf.split_off(last + 1);
            let data = String::from_utf8_lossy(&buf).into_owned();
            buf = rest;
            buf.reserve(CHUNK.saturating_sub(buf.len()));
            if tx.send((stream, data)).await.is_err() {
                return;
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx
            .send((stream, String::from_utf8_lossy(&buf).into_owned()))
            .await;
    }
}
