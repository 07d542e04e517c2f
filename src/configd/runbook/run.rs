//! Running a planned runbook as a job: steps in order, each recorded in
//! the job as it starts and ends (so a configd killed between steps
//! leaves a job that says where it was), output streamed to the client,
//! to followers and to the node's log as `job:ID`. On a failed step the
//! completed steps are undone in reverse order: their inventory changes
//! reverted, their undo steps run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::super::inventory;
use super::super::jobs::{self, Event, JobLog, Tail};
use super::super::reply::Reply;
use super::super::state::Shared;
use super::super::tokens::Identity;
use crate::net::link::Replier;
use crate::net::proto::{
    JobOutput, JobStarted, JobView, RequestBody, ResponseBody, RunCommand, StepKind, StepProgress,
    StepState, StepView, TargetState,
};
use crate::timefmt::now_ms;

/// Where a running runbook's output and records go.
struct Runner<'a> {
    shared: Arc<Shared>,
    reply: &'a Replier,
    client_gone: bool,
    cancel: CancellationToken,
    stop: CancellationToken,
    job: JobView,
    tails: BTreeMap<String, Tail>,
    /// Bytes the last transfer moved.
    bytes: Option<u64>,
}

impl<'a> Runner<'a> {
    /// A line for the job's followers (`job show -f`, the web console's
    /// job page): where the run is, between the commands' output.
    fn announce(&self, node: Option<&str>, text: String) {
        let node = node.unwrap_or("runbook").to_string();
        let stream = crate::net::proto::OutputStream::Stdout;
        let data = format!("{text}\n");
        let out = JobOutput { node, stream, data };
        self.shared.ops().publish(self.job.id, out);
    }

    async fn send(&mut self, body: ResponseBody) {
        if !self.client_gone {
            self.client_gone = self.reply.send(body).await.is_err();
        }
    }

    /// The job as it stands now, stored (what a restarted configd finds).
    async fn record(&self) {
        if let Err(e) = self.shared.store().finish_job(&self.job, Vec::new()).await {
            tracing::error!(job = self.job.id, "cannot record runbook progress: {e}");
        }
    }

    /// Keeps and publishes a chunk of output; the chunk, for the client.
    fn output(
        &mut self,
        node: &str,
        stream: crate::net::proto::OutputStream,
        data: String,
    ) -> JobOutput {
        self.tails
            .entry(node.to_string())
            .or_default()
            .push(stream, &data);
        let node = node.to_string();
        let out = JobOutput { node, stream, data };
        self.shared.ops().publish(self.job.id, out.clone());
        out
    }

    /// Runs one command step (or undo step) on its node; the result as
    /// (state, exit code, message).
    async fn command(&mut self, view: &StepView) -> (StepState, Option<i32>, String) {
        let (Some(node), Some(command)) = (view.node.clone(), view.command.clone()) else {
            return (StepState::Failed, None, "the step names no command".into());
        };
        let timeout = self
            .shared
            .ops()
            .commands(&node)
            .iter()
            .find(|c| c.name == command)
            .map(|c| Duration::from_millis(c.timeout_ms.max(1)));
        let Some(timeout) = timeout else {
            return (
                StepState::Failed,
                None,
                format!("node `{node}` no longer offers `{command}`"),
            );
        };
        let link = self.shared.registry().get(&node).and_then(|s| s.link());
        let body = RequestBody::RunCommand(RunCommand {
            job: self.job.id,
            command,
            args: view.args.clone(),
            timeout_ms: Some(timeout.as_millis() as u64),
        });
        let (tx, mut rx) = mpsc::channel::<Event>(64);
        let limit = timeout + jobs::GRACE;
        let task = jobs::target(0, link, body, limit, self.stop.clone(), tx);
        let task = tokio::spawn(tracing::Instrument::in_current_span(task));
        let mut log = JobLog::new(&node, self.job.id);
        let mut result = (
            StepState::Failed,
            None,
            "no result from the node".to_string(),
        );
        loop {
            let ev = tokio::select! {
                _ = self.cancel.cancelled(), if !self.client_gone => {
                    self.client_gone = true;
                    tracing::info!(job = self.job.id, "client detached; the runbook runs on");
                    continue;
                }
                ev = rx.recv() => ev,
            };
            match ev {
                None => break,
                Some(Event::Output(_, stream, data)) => {
                    log.push(self.shared.logs(), stream, &data);
                    let out = self.output(&node, stream, data);
                    self.send(ResponseBody::JobOutput(out)).await;
                }
                Some(Event::Done(_, t)) => {
                    log.flush(self.shared.logs());
                    let state = match t.state {
                        TargetState::Ok => StepState::Ok,
                        TargetState::Lost => StepState::Lost,
                        _ => StepState::Failed,
                    };
                    let message = match (t.state, t.message.is_empty()) {
                        (TargetState::Ok, _) => String::new(),
                        (s, true) => s.as_str().to_string(),
                        (s, false) => format!("{}: {}", s.as_str(), t.message),
                    };
                    result = (state, t.exit_code, message);
                }
            }
        }
        let _ = task.await;
        result
    }

    /// Runs one step's action; the inventory changes are applied by the caller.
    async fn action(&mut self, view: &StepView) -> (StepState, Option<i32>, String) {
        match view.kind {
            StepKind::Effects => (StepState::Ok, None, String::new()),
            StepKind::Run => self.command(view).await,
            StepKind::Transfer => self.transfer(view).await,
        }
    }

    /// Copies the step's file, sending progress to the client about
    /// every quarter second; the byte count goes into the step.
    async fn transfer(&mut self, view: &StepView) -> (StepState, Option<i32>, String) {
        use super::super::transfer::{copy, TransferProgress, TransferRequest};
        let (Some(from), Some(to), Some(file)) =
            (view.node.clone(), view.to_node.clone(), view.file.clone())
        else {
            return (StepState::Failed, None, "the step names no transfer".into());
        };
        let req = TransferRequest {
            src_node: from,
            src_path: file.clone(),
            dst_node: to,
            dst_path: file,
            overwrite: false,
        };
        let (tx, mut rx) = tokio::sync::watch::channel(TransferProgress::default());
        let shared = self.shared.clone();
        let stop = self.stop.clone();
        let copying = copy(&shared, req, tx, stop);
        tokio::pin!(copying);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut last = 0;
        let result = loop {
            tokio::select! {
                r = &mut copying => break r,
                _ = tick.tick() => {
                    let p = *rx.borrow_and_update();
                    if p.bytes != last && p.total > 0 {
                        if p.bytes * 4 / p.total != last * 4 / p.total.max(1) {
                            self.announce(
                                Some(&view.to_node.clone().unwrap_or_default()),
                                format!("   {} of {} bytes copied", p.bytes, p.total),
                            );
                        }
                        last = p.bytes;
                        self.send(ResponseBody::StepProgress(StepProgress {
                            index: view.index,
                            bytes: p.bytes,
                            total: p.total,
                        }))
                        .await;
                    }
                }
            }
        };
        match result {
            Ok(done) => {
                self.bytes = Some(done.bytes);
                self.send(ResponseBody::StepProgress(StepProgress {
                    index: view.index,
                    bytes: done.bytes,
                    total: done.bytes,
                }))
                .await;
                (
                    StepState::Ok,
                    None,
                    format!("{} bytes, sha256 {}", done.bytes, done.sha256),
                )
            }
            Err(e) => (StepState::Failed, None, e.to_string()),
        }
    }
}

impl<'a> Runner<'a> {
    /// Registers the job as running (followers, `job cancel`) and tells
    /// the client which nodes it involves.
    async fn start(
        shared: Arc<Shared>,
        reply: &'a Replier,
        cancel: CancellationToken,
        job: JobView,
    ) -> Runner<'a> {
        let stop = shared.shutdown().child_token();
        shared.ops().start_live(job.id, stop.clone());
        let mut nodes: Vec<String> = job
            .steps
            .iter()
            .flat_map(|s| [s.node.clone(), s.to_node.clone()])
            .flatten()
            .collect();
        nodes.sort();
        nodes.dedup();
        let id = job.id;
        let mut r = Runner {
            shared,
            reply,
            client_gone: false,
            cancel,
            stop,
            job,
            tails: BTreeMap::new(),
            bytes: None,
        };
        r.send(ResponseBody::JobStarted(JobStarted { id, targets: nodes }))
            .await;
        r
    }

    /// Stores the finished job with its output; the client's answer.
    async fn finish(mut self) -> Reply {
        let id = self.job.id;
        self.job.finished_ms = Some(now_ms());
        let outputs = self.tails.iter().map(|(n, t)| t.output(n)).collect();
        if let Err(e) = self.shared.store().finish_job(&self.job, outputs).await {
            tracing::error!(job = id, "cannot record the runbook's end: {e}");
        }
        self.shared.ops().end_live(id);
        tracing::info!(
            job = id,
            state = crate::ops::views::job_state(&self.job),
            "runbook finished"
        );
        match self.client_gone {
            true => Reply::Sent,
            false => Reply::One(ResponseBody::JobDone(self.job)),
        }
    }
}

/// Undoes what a finished runbook job completed and left in place.
pub async fn undo_job(
    shared: Arc<Shared>,
    who: &Identity,
    reply: &Replier,
    cancel: CancellationToken,
    job: JobView,
) -> Reply {
    let mut r = Runner::start(shared, reply, cancel, job).await;
    tracing::info!(job = r.job.id, who = %who.name, "runbook undo started");
    let all = r.job.steps.len();
    let undone = undo_completed(&mut r, who, all).await;
    let left = r
        .job
        .steps
        .iter()
        .filter(|s| s.state == StepState::UndoFailed)
        .count();
    let (which, tail) = match left {
        0 => ("completed steps", String::new()),
        n => ("some steps", format!("; {n} step(s) could not be undone")),
    };
    let undone = match undone.is_empty() {
        true => "nothing".to_string(),
        false => undone.join(", "),
    };
    r.job.message = format!("{which} undone by {}: {undone}{tail}", who.name);
    r.finish().await
}

/// Runs the planned steps of `job` (already stored, with its ID) to the end.
pub async fn execute(
    shared: Arc<Shared>,
    who: &Identity,
    reply: &Replier,
    cancel: CancellationToken,
    mut job: JobView,
) -> Reply {
    job.message.clear();
    let id = job.id;
    let mut r = Runner::start(shared.clone(), reply, cancel, job).await;
    let stop = r.stop.clone();
    tracing::info!(job = id, runbook = %r.job.command, who = %who.name, steps = r.job.steps.len(), "runbook started");
    let mut failed: Option<usize> = None;
    for i in 0..r.job.steps.len() {
        if r.job.steps[i].state == StepState::Skipped {
            let view = r.job.steps[i].clone();
            r.send(ResponseBody::StepDone(view)).await;
            continue;
        }
        if stop.is_cancelled() {
            r.job.steps[i].message = "cancelled before it started".into();
            failed = Some(i);
            break;
        }
        r.job.steps[i].state = StepState::Running;
        r.job.steps[i].started_ms = Some(now_ms());
        r.record().await;
        let view = r.job.steps[i].clone();
        r.announce(
            view.node.as_deref(),
            format!("== {}. {}", view.index, crate::ops::views::doing(&view)),
        );
        r.send(ResponseBody::StepStarted(view.clone())).await;
        let started = Instant::now();
        let (mut state, exit_code, mut message) = r.action(&view).await;
        if state == StepState::Ok && !view.changes.is_empty() {
            if let Err(e) =
                inventory::apply_changes(shared.store(), &who.name, view.changes.clone(), false)
                    .await
            {
                state = StepState::Failed;
                message = format!("inventory not changed: {e}");
            }
        }
        let bytes = r.bytes.take();
        let step = &mut r.job.steps[i];
        step.bytes = bytes;
        step.state = state;
        step.exit_code = exit_code;
        step.message = message;
        step.finished_ms = Some(now_ms());
        tracing::info!(job = id, step = %step.name, state = state.as_str(), ms = started.elapsed().as_millis() as u64, "runbook step ended");
        let view = step.clone();
        r.record().await;
        r.announce(
            view.node.as_deref(),
            format!("== {}. {}: {}", view.index, view.name, view.state.as_str()),
        );
        r.send(ResponseBody::StepDone(view)).await;
        if state != StepState::Ok {
            failed = Some(i);
            break;
        }
    }
    if let Some(at) = failed {
        let undone = undo_completed(&mut r, who, at).await;
        let step = &r.job.steps[at];
        let why = if step.message.is_empty() {
            step.state.as_str().to_string()
        } else {
            step.message.clone()
        };
        let undone = match undone.is_empty() {
            true => "nothing to undo".to_string(),
            false => format!("undone: {}", undone.join(", ")),
        };
        let (index, name) = (step.index, &step.name);
        r.job.message = format!("failed at step {index} ({name}): {why}; {undone}");
    }
    r.finish().await
}

/// Undoes the completed steps before `failed`, newest first: inventory
/// changes reverted, then the step's undo run. Returns what was undone,
/// as `INDEX NAME` items.
async fn undo_completed(r: &mut Runner<'_>, who: &Identity, failed: usize) -> Vec<String> {
    let mut undone = Vec::new();
    for j in (0..failed).rev() {
        if r.job.steps[j].state != StepState::Ok {
            continue;
        }
        let view = r.job.steps[j].clone();
        let mut problems: Vec<String> = Vec::new();
        if !view.changes.is_empty() {
            if let Err(e) =
                inventory::apply_changes(r.shared.store(), &who.name, view.changes.clone(), true)
                    .await
            {
                problems.push(format!("inventory not reverted: {e}"));
            }
        }
        if let Some(undo) = &view.undo {
            let mut u = (**undo).clone();
            u.state = StepState::Running;
            u.started_ms = Some(now_ms());
            r.send(ResponseBody::StepStarted(u.clone())).await;
            // An undo runs even when the run was cancelled: use a fresh stop.
            let saved = std::mem::replace(&mut r.stop, r.shared.shutdown().child_token());
            let (state, exit_code, message) = r.action(&u).await;
            r.stop = saved;
            u.state = state;
            u.exit_code = exit_code;
            u.finished_ms = Some(now_ms());
            u.message = message.clone();
            if state != StepState::Ok {
                problems.push(format!("undo `{}` {}", u.name, message));
            }
            r.job.steps[j].undo = Some(Box::new(u));
        }
        let outcome = match problems.is_empty() {
            true => "undone",
            false => "undo failed",
        };
        let line = format!("== {}. {}: {outcome}", view.index, view.name);
        r.announce(view.node.as_deref(), line);
        let step = &mut r.job.steps[j];
        if problems.is_empty() {
            step.state = StepState::Undone;
            undone.push(format!("{} {}", step.index, step.name));
        } else {
            step.state = StepState::UndoFailed;
            step.message = problems.join("; ");
        }
        let view = step.clone();
        r.record().await;
        r.send(ResponseBody::StepDone(view)).await;
    }
    undone
}
