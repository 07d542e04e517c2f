//! Running commands on nodes: target selection, argument and precondition
//! checks, dispatch to every target, merged live output back to the
//! client, and the job record (per-target state, bounded output, effects
//! applied to the inventory when every target succeeded).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::audit::{self, Cause};
use super::inventory::{self, InventoryError};
use super::reply::{ApiError, ApiResult, Reply};
use super::state::Shared;
use super::store::{Store, StoreError};
use super::tokens::Identity;
use crate::net::link::Replier;
use crate::net::proto::Role;
use crate::net::proto::{
    CommandOutput, ErrorCode, JobOutput, JobStarted, JobView, NodeOutput, OutputStream,
    RequestBody, ResponseBody, RunCommand, RunRequest, TargetResult, TargetState,
};
use crate::ops::kinds::{Item, Kinds};
use crate::ops::spec::{ArgType, CommandRole, CommandSpec, InventoryLink};
use crate::timefmt::now_ms;

/// Output kept per target in the job record (the tail).
pub const OUTPUT_KEPT: usize = 1024 * 1024;
/// Extra time configd waits past a command's timeout for the node to
/// report it, before recording `timeout` itself.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// A refusal: code, cause (for the audit event) and one-line message.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: ErrorCode,
    pub cause: Cause,
    pub message: String,
    /// The node it concerns (the item's), for the event.
    pub node: Option<String>,
}

impl Refusal {
    fn new(code: ErrorCode, cause: Cause, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            cause,
            message: message.into(),
            node: None,
        }
    }

    fn on(mut self, node: &str) -> Refusal {
        self.node = Some(node.to_string());
        self
    }
}

fn bad(cause: Cause, msg: impl Into<String>) -> Refusal {
    Refusal::new(ErrorCode::BadRequest, cause, msg)
}

const USAGE: &str = "use node=NAME, label.K=V, KIND=KEY (e.g. zone=218) or all";

/// The nodes a selector names, sorted: `all`, `node=NAME`, `label.K=V`
/// (or `labels.K=V`), or `KIND=KEY` of an inventory item.
pub async fn resolve_targets(shared: &Shared, target: &str) -> Result<Vec<String>, Refusal> {
    let target = target.trim();
    let not_found = |msg: String| Refusal::new(ErrorCode::NotFound, Cause::Target, msg);
    if target == "all" {
        let nodes = shared.registry().names();
        if nodes.is_empty() {
            return Err(not_found("no nodes are known yet".into()));
        }
        return Ok(nodes);
    }
    let Some((k, v)) = target.split_once('=') else {
        return Err(bad(
            Cause::Target,
            format!("bad target `{target}`: {USAGE}"),
        ));
    };
    if k == "node" {
        return match shared.registry().get(v) {
            Some(_) => Ok(vec![v.to_string()]),
            None => Err(not_found(format!("no node `{v}` is known"))),
        };
    }
    if let Some(label) = k.strip_prefix("label.").or(k.strip_prefix("labels.")) {
        let nodes: Vec<String> = shared
            .registry()
            .slots()
            .iter()
            .filter(|s| s.labels().get(label).map(String::as_str) == Some(v))
            .map(|s| s.name.clone())
            .collect();
        if nodes.is_empty() {
            return Err(not_found(format!("no node has label {label}={v}")));
        }
        return Ok(nodes);
    }
    if shared.live().inventory.contains_key(k) {
        let item = inventory::find(shared.store(), &shared.live().inventory, k, v)
            .await
            .map_err(|e| refusal(Cause::Target, e))?;
        return match item {
            Some(item) => Ok(vec![item.node]),
            None => Err(not_found(format!(
                "no {k} {v} in the inventory, so no node to run on"
            ))),
        };
    }
    Err(bad(
        Cause::Target,
        format!(
            "bad target `{target}`: `{k}` is neither node, label.K nor an inventory kind; {USAGE}"
        ),
    ))
}

fn refusal(cause: Cause, e: InventoryError) -> Refusal {
    match e {
        InventoryError::Rejected(m) => bad(cause, m),
        other => Refusal::new(ErrorCode::Internal, Cause::Internal, other.to_string()),
    }
}

/// Everything checked before a job starts.
pub struct Plan {
    pub targets: Vec<String>,
    timeout: Duration,
    item: Option<Item>,
    requires: BTreeMap<String, String>,
    on_success: BTreeMap<String, String>,
    /// Set when an admin forced the target: the item's own node.
    forced_from: Option<String>,
}

/// Longest `--reason` kept.
const MAX_REASON: usize = 1024;

/// Without `--target`: the node hosting the command's inventory item.
async fn home_of(shared: &Shared, req: &RunRequest) -> Result<String, Refusal> {
    let name = crate::ops::values::shown(&req.command);
    let bound = shared.ops().bound_specs(&req.command);
    if bound.is_empty() {
        if shared.ops().command_names().contains(&req.command) {
            return Err(bad(
                Cause::Target,
                format!("`{name}` acts on no inventory item, so it has no node of its own: give --target (node=NAME, label.K=V, KIND=KEY or all)"),
            ));
        }
        return Err(Refusal::new(
            ErrorCode::NotFound,
            Cause::Unknown,
            format!("no node offers a command `{name}`; see `monit-cli query commands`"),
        ));
    }
    // The first definition the arguments fit names the item.
    let mut first_error = None;
    let Some((spec, link)) = bound
        .iter()
        .find(|(spec, _)| match spec.check_args(&req.args) {
            Ok(()) => true,
            Err(e) => {
                first_error.get_or_insert(e);
                false
            }
        })
    else {
        return Err(bad(Cause::Type, first_error.unwrap_or_default()));
    };
    let key = spec.arg(&req.args, &link.key).unwrap_or_default();
    let acts = format!(
        "`{name}` acts on an existing {}, on the node that hosts it",
        link.kind
    );
    let item = item_of(shared, &shared.live().inventory, link, key, acts).await?;
    if shared.registry().get(&item.node).is_none() {
        return Err(Refusal::new(
            ErrorCode::NotFound,
            Cause::Binding,
            format!(
                "{} {} lives on {}, a node configd does not know; fix it with `monit-cli inventory update {} {} node=NODE`",
                item.kind, item.key, item.node, item.kind, item.key
            ),
        )
        .on(&item.node));
    }
    Ok(item.node)
}

/// The item a bound command acts on, or a refusal ending with `acts`.
async fn item_of(
    shared: &Shared,
    kinds: &Kinds,
    link: &InventoryLink,
    key: &str,
    acts: String,
) -> Result<Item, Refusal> {
    let item = inventory::find(shared.store(), kinds, &link.kind, key)
        .await
        .map_err(|e| refusal(Cause::Type, e))?;
    let missing = format!("no {} {key} in the inventory; {acts}", link.kind);
    item.ok_or_else(|| bad(Cause::Precondition, missing))
}

/// Every check a run goes through before anything starts: the target
/// (or, without one, the item's node), the command on each target, the
/// roles, the arguments, the item's node and state.
pub async fn plan(shared: &Shared, who: &Identity, req: &RunRequest) -> Result<Plan, Refusal> {
    if !who.role.allows(Role::Operator) {
        return Err(Refusal::new(
            ErrorCode::Forbidden,
            Cause::Role,
            format!(
                "running commands needs an operator or admin token; `{}` is {}",
                who.name, who.role
            ),
        ));
    }
    let explicit = !req.target.trim().is_empty();
    let targets = if explicit {
        resolve_targets(shared, &req.target).await?
    } else {
        vec![home_of(shared, req).await?]
    };
    let mut specs: Vec<CommandSpec> = Vec::new();
    for node in &targets {
        let offered = shared.ops().commands(node);
        let Some(spec) = offered.iter().find(|c| c.name == req.command) else {
            let names: Vec<&str> = offered.iter().map(|c| c.name.as_str()).collect();
            let list = if names.is_empty() {
                "it offers no commands".to_string()
            } else {
                format!("it offers: {}", names.join(", "))
            };
            return Err(Refusal::new(
                ErrorCode::NotFound,
                Cause::Unknown,
                format!(
                    "node `{node}` has no command `{}`; {list}",
                    crate::ops::values::shown(&req.command)
                ),
            ));
        };
        if !specs.contains(spec) {
            specs.push(spec.clone());
        }
    }
    let Some(spec) = specs.first().cloned() else {
        return Err(Refusal::new(
            ErrorCode::NotFound,
            Cause::Target,
            "no target",
        ));
    };
    // The strictest definition among the targets decides.
    if specs.iter().any(|s| s.role == CommandRole::Admin) && !who.role.allows(Role::Admin) {
        return Err(Refusal::new(
            ErrorCode::Forbidden,
            Cause::Role,
            format!(
                "`{}` needs an admin token (role = \"admin\" in noded.toml); `{}` is {}",
                spec.name, who.name, who.role
            ),
        ));
    }
    for s in &specs {
        s.check_args(&req.args).map_err(|m| bad(Cause::Type, m))?;
    }
    let live = shared.live();
    let kinds = &live.inventory;
    // `key` arguments must name existing items.
    for (a, value) in spec.args.iter().zip(&req.args) {
        if let ArgType::Key { kind } = &a.kind {
            let found = inventory::find(shared.store(), kinds, kind, value)
                .await
                .map_err(|e| refusal(Cause::Type, e))?;
            if found.is_none() {
                return Err(bad(
                    Cause::Type,
                    format!("argument `{}`: no {kind} {value} in the inventory", a.name),
                ));
            }
        }
    }
    let mut plan = Plan {
        targets,
        timeout: Duration::from_millis(req.timeout_ms.unwrap_or(spec.timeout_ms).max(1)),
        item: None,
        requires: BTreeMap::new(),
        on_success: BTreeMap::new(),
        forced_from: None,
    };
    let Some(link) = &spec.inventory else {
        if req.force_target {
            return Err(bad(
                Cause::Binding,
                format!(
                    "`{}` acts on no inventory item: leave out --force-target",
                    spec.name
                ),
            ));
        }
        return Ok(plan);
    };
    let key = spec.arg(&req.args, &link.key).unwrap_or_default();
    let acts = format!("`{}` acts on an existing {}", spec.name, link.kind);
    let item = item_of(shared, kinds, link, key, acts).await?;
    bind(who, req, &spec, &item, &plan.targets)?;
    if plan.targets[..] != [item.node.clone()] {
        plan.forced_from = Some(item.node.clone());
    }
    if let Some(why) = inventory::unmet(&item, &link.requires) {
        return Err(bad(
            Cause::Precondition,
            format!(
                "precondition failed: {why} by `{}`; nothing was run",
                spec.name
            ),
        )
        .on(&item.node));
    }
    plan.requires = link.requires.clone();
    plan.on_success = link.on_success.clone();
    plan.item = Some(item);
    Ok(plan)
}

/// An inventory-bound command runs on its item's node and only there;
/// an admin may force one other node, with a reason.
fn bind(
    who: &Identity,
    req: &RunRequest,
    spec: &CommandSpec,
    item: &Item,
    targets: &[String],
) -> Result<(), Refusal> {
    let home = &item.node;
    let at = format!("{} {}", item.kind, item.key);
    if !req.force_target {
        if targets != [home.clone()] {
            return Err(bad(
                Cause::Binding,
                format!(
                    "{at} lives on {home}; run it there (leave out --target) or, as admin, add --force-target --reason TEXT"
                ),
            )
            .on(home));
        }
        return Ok(());
    }
    let refuse = |msg: String| Err(bad(Cause::Binding, msg).on(home));
    if !who.role.allows(Role::Admin) {
        return Err(Refusal::new(
            ErrorCode::Forbidden,
            Cause::Role,
            format!(
                "--force-target needs an admin token; `{}` is {}; run `{}` on {home} by leaving out --target",
                who.name, who.role, spec.name
            ),
        )
        .on(home));
    }
    if req.target.trim().is_empty() {
        return refuse("--force-target needs --target node=NAME".into());
    }
    if req.reason.trim().is_empty() {
        return refuse("--force-target needs --reason TEXT (it is recorded with the run)".into());
    }
    if req.reason.len() > MAX_REASON {
        return refuse(format!(
            "--reason is {} bytes; the limit is {MAX_REASON}",
            req.reason.len()
        ));
    }
    if targets.len() != 1 {
        return refuse(format!(
            "`{}` acts on {at}: it runs on one node, never on {} at once; force one with --target node=NAME",
            spec.name,
            targets.len()
        ));
    }
    Ok(())
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError::new(r.code, r.message)
    }
}

/// Records why nothing runs as an event; the error for the client.
pub async fn refuse(shared: &Shared, who: &Identity, req: &RunRequest, r: Refusal) -> ApiError {
    audit::refused(shared, who, req, r.node.as_deref(), r.cause, &r.message).await;
    r.into()
}

pub(crate) enum Event {
    Output(usize, OutputStream, String),
    Done(usize, TargetResult),
}

/// The last `OUTPUT_KEPT` bytes of one target's output.
#[derive(Default)]
pub(crate) struct Tail {
    text: String,
    pub(crate) truncated: bool,
}

impl Tail {
    pub(crate) fn push(&mut self, stream: OutputStream, data: &str) {
        match stream {
            OutputStream::Stdout => self.text.push_str(data),
            OutputStream::Stderr => {
                for line in data.split_inclusive('\n') {
                    self.text.push_str("[stderr] ");
                    self.text.push_str(line);
                }
            }
        }
        if self.text.len() > OUTPUT_KEPT {
            let mut cut = self.text.len() - OUTPUT_KEPT;
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.drain(..cut);
            self.truncated = true;
        }
    }

    /// The record of `node`'s output.
    pub(crate) fn output(&self, node: &str) -> NodeOutput {
        NodeOutput {
            node: node.to_string(),
            output: self.stored(),
            truncated: self.truncated,
        }
    }

    pub(crate) fn stored(&self) -> String {
        if self.truncated {
            format!(
                "[monit: earlier output dropped; the last {} KiB are kept]\n{}",
                OUTPUT_KEPT / 1024,
                self.text
            )
        } else {
            self.text.clone()
        }
    }
}

/// Longest line of a job's output put on the log stream (cut beyond).
const LOG_LINE_MAX: usize = 8 * 1024;
/// The level of each stream's lines: stdout, stderr.
const LEVELS: [crate::net::proto::Level; 2] = [
    crate::net::proto::Level::Info,
    crate::net::proto::Level::Warn,
];

/// One target's output as lines of its node's log (source `job:ID`;
/// stderr at warn), whole lines only: a partial one waits for its end.
pub(crate) struct JobLog {
    node: String,
    source: String,
    partial: [String; 2],
}

impl JobLog {
    pub(crate) fn new(node: &str, job: u64) -> JobLog {
        JobLog {
            node: node.to_string(),
            source: format!("job:{job}"),
            partial: Default::default(),
        }
    }

    fn line(&self, level: crate::net::proto::Level, text: &str) -> crate::net::proto::LogLine {
        let mut message = text.strip_suffix('\r').unwrap_or(text).to_string();
        super::checks::truncate(&mut message, LOG_LINE_MAX);
        crate::net::proto::LogLine {
            time_ms: now_ms(),
            node: self.node.clone(),
            level,
            source: self.source.clone(),
            message,
        }
    }

    pub(crate) fn push(&mut self, hub: &crate::logs::LogHub, stream: OutputStream, data: &str) {
        let slot = usize::from(stream == OutputStream::Stderr);
        let mut lines = Vec::new();
        let mut rest = data;
        while let Some((head, tail)) = rest.split_once('\n') {
            let mut text = std::mem::take(&mut self.partial[slot]);
            text.push_str(head);
            lines.push(self.line(LEVELS[slot], &text));
            rest = tail;
        }
        if self.partial[slot].len() < LOG_LINE_MAX {
            self.partial[slot].push_str(rest);
        }
        self.send(hub, lines);
    }

    /// The target ended: a last line without its newline goes too.
    pub(crate) fn flush(&mut self, hub: &crate::logs::LogHub) {
        let mut lines = Vec::new();
        for (slot, level) in LEVELS.into_iter().enumerate() {
            let text = std::mem::take(&mut self.partial[slot]);
            if !text.is_empty() {
                lines.push(self.line(level, &text));
            }
        }
        self.send(hub, lines);
    }

    fn send(&self, hub: &crate::logs::LogHub, lines: Vec<crate::net::proto::LogLine>) {
        if !lines.is_empty() {
            hub.ingest(&self.node, 0, 0, lines);
        }
    }
}

/// Runs a job for `who`, streaming to `reply` while the client listens
/// (`cancel`: it went away or detached); the job itself runs to its end
/// unless stopped by `OpsState::cancel`.
pub async fn run(
    shared: Arc<Shared>,
    who: &Identity,
    reply: &Replier,
    cancel: CancellationToken,
    req: RunRequest,
) -> ApiResult {
    let plan = match plan(&shared, who, &req).await {
        Ok(p) => p,
        Err(r) => return Err(refuse(&shared, who, &req, r).await),
    };
    let busy_keys: Vec<_> = plan
        .item
        .iter()
        .map(|i| (i.kind.clone(), i.key.clone()))
        .collect();
    let marks = shared.ops().mark_busy(&busy_keys);
    let _busy = match marks {
        Ok(marks) => marks,
        Err((kind, key)) => {
            let (code, message) = busy_message(&kind, &key);
            let r = Refusal::new(code, Cause::Busy, message);
            let r = match &plan.item {
                Some(i) => r.on(&i.node),
                None => r,
            };
            return Err(refuse(&shared, who, &req, r).await);
        }
    };
    if let (Some(home), Some(item)) = (&plan.forced_from, &plan.item) {
        let at = format!("{} {}", item.kind, item.key);
        audit::forced(&shared, who, &req, &plan.targets[0], &at, home).await;
    }
    let mut job = JobView {
        id: 0,
        who: who.name.clone(),
        started_ms: now_ms(),
        finished_ms: None,
        command: req.command.clone(),
        args: req.args.clone(),
        targets: plan
            .targets
            .iter()
            .map(|n| TargetResult {
                node: n.clone(),
                state: TargetState::Running,
                exit_code: None,
                duration_ms: None,
                message: String::new(),
            })
            .collect(),
        requires: plan.requires.clone(),
        effects: BTreeMap::new(),
        item: plan.item.as_ref().map(|i| format!("{}={}", i.kind, i.key)),
        message: String::new(),
        steps: Vec::new(),
    };
    job.id = shared
        .store()
        .insert_job(&job)
        .await
        .map_err(|e| ApiError::internal("configd could not record the job", e))?;
    tracing::info!(job = job.id, command = %job.command, targets = plan.targets.len(), who = %job.who, "job started");
    let mut client_gone = reply
        .send(ResponseBody::JobStarted(JobStarted {
            id: job.id,
            targets: plan.targets.clone(),
        }))
        .await
        .is_err();
    // configd stopping stops its jobs (the nodes kill the commands).
    let stop = shared.shutdown().child_token();
    shared.ops().start_live(job.id, stop.clone());
    let (tx, mut rx) = mpsc::channel::<Event>(super::ops_state::MERGE);
    for (i, node) in plan.targets.iter().enumerate() {
        let link = shared.registry().get(node).and_then(|s| s.link());
        let body = RequestBody::RunCommand(RunCommand {
            job: job.id,
            command: req.command.clone(),
            args: req.args.clone(),
            timeout_ms: Some(plan.timeout.as_millis() as u64),
        });
        let limit = plan.timeout + GRACE;
        let task = target(i, link, body, limit, stop.clone(), tx.clone());
        tokio::spawn(tracing::Instrument::in_current_span(task));
    }
    drop(tx);
    let mut tails: Vec<Tail> = plan.targets.iter().map(|_| Tail::default()).collect();
    let mut logged: Vec<JobLog> = plan
        .targets
        .iter()
        .map(|n| JobLog::new(n, job.id))
        .collect();
    loop {
        let ev = tokio::select! {
            // The client went away or detached: the job goes on.
            _ = cancel.cancelled(), if !client_gone => {
                client_gone = true;
                tracing::info!(job = job.id, "client detached; the job runs on");
                continue;
            }
            ev = rx.recv() => ev,
        };
        let Some(ev) = ev else {
            break;
        };
        match ev {
            Event::Output(i, stream, data) => {
                tails[i].push(stream, &data);
                logged[i].push(shared.logs(), stream, &data);
                let node = plan.targets[i].clone();
                let out = JobOutput { node, stream, data };
                shared.ops().publish(job.id, out.clone());
                if !client_gone {
                    client_gone = reply.send(ResponseBody::JobOutput(out)).await.is_err();
                }
            }
            Event::Done(i, mut result) => {
                logged[i].flush(shared.logs());
                result.node = plan.targets[i].clone();
                job.targets[i] = result.clone();
                if !client_gone {
                    client_gone = reply.send(ResponseBody::TargetDone(result)).await.is_err();
                }
            }
        }
    }
    let all_ok = job.targets.iter().all(|t| t.state == TargetState::Ok);
    if all_ok && !plan.on_success.is_empty() {
        if let Some(item) = &plan.item {
            match inventory::apply_effects(
                shared.store(),
                &shared.live().inventory,
                &job.who,
                item,
                plan.requires.clone(),
                plan.on_success.clone(),
            )
            .await
            {
                Ok(()) => job.effects = plan.on_success.clone(),
                Err(e) => job.message = format!("effects not applied: {e}"),
            }
        }
    } else if !all_ok && !plan.on_success.is_empty() {
        job.message = "not every target succeeded: effects not applied".into();
    }
    job.finished_ms = Some(now_ms());
    let outputs = plan
        .targets
        .iter()
        .zip(&tails)
        .map(|(n, t)| t.output(n))
        .collect();
    if let Err(e) = shared.store().finish_job(&job, outputs).await {
        tracing::error!(job = job.id, "cannot record job end: {e}");
    }
    // Followers see the stream end and read the stored record.
    shared.ops().end_live(job.id);
    tracing::info!(
        job = job.id,
        state = crate::ops::views::job_state(&job),
        "job finished"
    );
    Ok(match client_gone {
        true => Reply::Sent,
        false => Reply::One(ResponseBody::JobDone(job)),
    })
}

/// Runs the command on one node and reports its output and end.
pub(crate) async fn target(
    i: usize,
    link: Option<crate::net::link::LinkHandle>,
    body: RequestBody,
    limit: Duration,
    stop: CancellationToken,
    tx: mpsc::Sender<Event>,
) {
    let started = Instant::now();
    let done = |state, exit_code, message: String| {
        Event::Done(
            i,
            TargetResult {
                node: String::new(),
                state,
                exit_code,
                duration_ms: Some(started.elapsed().as_millis() as u64),
                message,
            },
        )
    };
    let result = match link {
        None => done(TargetState::Lost, None, "node not connected".into()),
        Some(link) => run_on(i, &link, body, limit, &stop, &tx, started, done).await,
    };
    let _ = tx.send(result).await;
}

#[allow(clippy::too_many_arguments)]
async fn run_on(
    i: usize,
    link: &crate::net::link::LinkHandle,
    body: RequestBody,
    limit: Duration,
    stop: &CancellationToken,
    tx: &mpsc::Sender<Event>,
    started: Instant,
    done: impl Fn(TargetState, Option<i32>, String) -> Event,
) -> Event {
    let mut answers = match link.request(body).await {
        Ok(a) => a,
        Err(e) => return done(TargetState::Lost, None, e.to_string()),
    };
    let deadline = tokio::time::Instant::from_std(started + limit);
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => {
                // Dropping `answers` sends Cancel: the node kills the process group.
                return done(TargetState::Cancelled, None, "cancelled".into());
            }
            _ = tokio::time::sleep_until(deadline) => {
                return done(TargetState::Timeout, None, format!("no result from the node within {:.0?}", limit));
            }
            n = answers.next() => n,
        };
        let (state, exit_code, message) = match next {
            Some(Ok(ResponseBody::CommandOutput(CommandOutput { stream, data }))) => {
                if tx.send(Event::Output(i, stream, data)).await.is_ok() {
                    continue;
                }
                (TargetState::Cancelled, None, "job ended".into())
            }
            Some(Ok(ResponseBody::CommandExit(exit))) => (exit.state, exit.exit_code, exit.message),
            Some(Ok(ResponseBody::Error(e))) => (
                TargetState::Failed,
                None,
                format!("node refused: {}", e.message),
            ),
            Some(Ok(other)) => (
                TargetState::Failed,
                None,
                format!("unexpected answer from the node: {other:?}"),
            ),
            Some(Err(e)) => (TargetState::Lost, None, e.to_string()),
            None => (
                TargetState::Lost,
                None,
                "the node disconnected before the command ended".into(),
            ),
        };
        return done(state, exit_code, message);
    }
}

/// Why a target that was running when configd died is `lost`.
pub const RESTARTED: &str = "configd restarted while it ran";

/// Resolves jobs a previous configd left running (it was killed, or the
/// machine went down, before it recorded their end): every target still
/// `running` becomes `lost` with the reason [`RESTARTED`] and the job is
/// finished at `now_ms`. Nothing else could ever finish them: a job's
/// state lives in the configd that ran it. Returns the IDs resolved.
pub async fn resolve_interrupted(store: &Store, now_ms: i64) -> Result<Vec<u64>, StoreError> {
    let mut resolved = Vec::new();
    for found in store.unfinished_jobs().await? {
        let mut job = match found {
            Ok(job) => job,
            Err(id) => {
                tracing::warn!(job = id, "a stored job cannot be read; left as it is");
                continue;
            }
        };
        mark_lost(&mut job, now_ms);
        store.finish_job(&job, Vec::new()).await?;
        tracing::warn!(job = job.id, command = %job.command, "job marked lost: {RESTARTED}");
        resolved.push(job.id);
    }
    Ok(resolved)
}

fn mark_lost(job: &mut JobView, now_ms: i64) {
    let id = job.id;
    for t in &mut job.targets {
        if t.state == TargetState::Running {
            t.state = TargetState::Lost;
            t.message = RESTARTED.into();
        }
    }
    let mut at = None;
    for s in &mut job.steps {
        if s.state == crate::net::proto::StepState::Running {
            s.state = crate::net::proto::StepState::Lost;
            s.message = RESTARTED.into();
            at = Some(format!("step {} ({})", s.index, s.name));
        }
    }
    job.finished_ms = Some(now_ms.max(job.started_ms));
    if let Some(at) = at {
        job.message = format!(
            "{RESTARTED}, at {at}; the steps before it completed and were not undone: `monit-cli runbook undo {id}` reverts them"
        );
    } else if !job.steps.is_empty() && job.message.is_empty() {
        job.message = format!(
            "{RESTARTED} between steps; the completed steps were not undone: `monit-cli runbook undo {id}` reverts them"
        );
    } else if job.message.is_empty() {
        job.message = format!("{RESTARTED}; its result on the nodes is unknown");
    }
}

/// The client-facing refusal for a busy item.
pub fn busy_message(kind: &str, key: &str) -> (ErrorCode, String) {
    (
        ErrorCode::Busy,
        format!("another job is acting on {kind} {key}; try again when it ends"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_left_running_by_a_previous_configd_are_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("monit.db")).unwrap().store;
        let target = |node: &str, state| TargetResult {
            node: node.into(),
            state,
            exit_code: None,
            duration_ms: None,
            message: String::new(),
        };
        let job = |finished_ms, targets| JobView {
            id: 0,
            who: "ops".into(),
            started_ms: 1_000,
            finished_ms,
            command: "pause".into(),
            args: vec![],
            targets,
            requires: BTreeMap::new(),
            effects: BTreeMap::new(),
            item: None,
            message: String::new(),
            steps: Vec::new(),
        };
        let running = job(
            None,
            vec![
                target("a", TargetState::Running),
                target("b", TargetState::Running),
            ],
        );
        let done = job(Some(2_000), vec![target("a", TargetState::Ok)]);
        store.insert_job(&running).await.unwrap();
        store.insert_job(&done).await.unwrap();
        let first = resolve_interrupted(&store, 5_000).await.unwrap();
        assert_eq!(first, vec![1], "only the unfinished job");
        let again = resolve_interrupted(&store, 6_000).await.unwrap();
        assert!(again.is_empty(), "resolving twice changes nothing");
        let lost = store.job_detail(1).await.unwrap().unwrap().job;
        assert_eq!(lost.finished_ms, Some(5_000));
        assert_eq!(crate::ops::views::job_state(&lost), "lost");
        for t in &lost.targets {
            assert_eq!(t.state, TargetState::Lost);
            assert_eq!(t.message, RESTARTED);
        }
        let kept = store.job_detail(2).await.unwrap().unwrap().job;
        assert_eq!(kept.finished_ms, Some(2_000));
        assert_eq!(kept.targets[0].state, TargetState::Ok);
    }

    #[test]
    fn output_tail_is_bounded_and_marked() {
        let mut t = Tail::default();
        t.push(OutputStream::Stdout, "first\n");
        t.push(OutputStream::Stderr, "oops\nagain\n");
        assert_eq!(t.stored(), "first\n[stderr] oops\n[stderr] again\n");
        let line = format!("{}\n", "é".repeat(100));
        for _ in 0..10_000 {
            t.push(OutputStream::Stdout, &line);
        }
        assert!(t.truncated);
        assert!(t.text.len() <= OUTPUT_KEPT);
        let stored = t.stored();
        assert!(stored.starts_with("[monit: earlier output dropped"));
        assert!(stored.ends_with(&line));
    }
}
