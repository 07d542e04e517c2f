//! The network task: owns the connection to configd, reconnects with
//! backoff, polls what the views show and carries out Effects. This is
//! the one place where network data becomes Actions.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::action::{Action, Effect};
use super::rows::{CheckJson, EventRow};
use crate::checks::CheckState;
use crate::logs::render;
use crate::model::node::NodeJson;
use crate::net::backoff::Backoff;
use crate::net::client::{unexpected, Client, ClientError};
use crate::net::dial::Endpoint;
use crate::net::link::LinkHandle;
use crate::net::proto::{
    AckRequest, DowntimeRequest, ErrorCode, OutputStream, RequestBody, ResponseBody, RunRequest,
    SubscribeLogs, TargetState,
};
use crate::ops::views::job_state;

/// How often the views' data is fetched.
pub const POLL: Duration = Duration::from_secs(1);

pub struct NetTask {
    pub endpoint: Endpoint,
    pub poll: Duration,
}

impl NetTask {
    /// Runs until `stop`, sending Actions on `tx` and taking Effects from
    /// `effects`.
    pub async fn run(
        self,
        tx: mpsc::Sender<Action>,
        mut effects: mpsc::Receiver<Effect>,
        stop: CancellationToken,
    ) {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(10));
        let _ = tx.send(Action::Connecting).await;
        loop {
            let client = tokio::select! {
                _ = stop.cancelled() => return,
                c = Client::connect(&self.endpoint, "monit-tui") => c,
            };
            let reason = match client {
                Ok(client) => {
                    tracing::info!(server = %self.endpoint.server, "connected");
                    backoff.reset();
                    if tx.send(Action::Connected).await.is_err() {
                        return;
                    }
                    match self.serve(&client, &tx, &mut effects, &stop).await {
                        Ok(()) => return,
                        Err(reason) => reason,
                    }
                }
                Err(e) => e.to_string(),
            };
            let retry_in = backoff.next_delay();
            tracing::warn!(server = %self.endpoint.server, %reason, ?retry_in, "connection lost");
            if tx
                .send(Action::Disconnected {
                    reason: reason.clone(),
                    retry_in,
                })
                .await
                .is_err()
            {
                return;
            }
            let wake = tokio::time::sleep(retry_in);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = &mut wake => break,
                    e = effects.recv() => match e {
                        None => return,
                        Some(Effect::ResolveRun { command, args, target }) => {
                            let nodes = Err("not connected to configd: try again once the banner is gone".to_string());
                            let _ = tx.send(Action::RunTargets { command, args, target, nodes }).await;
                        }
                        Some(_) => {
                            let _ = tx.send(Action::Notice("not connected to configd: try again once the banner is gone".into())).await;
                        }
                    },
                }
            }
        }
    }

    /// One connection's life: Ok when stopped, Err(reason) when it broke.
    async fn serve(
        &self,
        client: &Client,
        tx: &mpsc::Sender<Action>,
        effects: &mut mpsc::Receiver<Effect>,
        stop: &CancellationToken,
    ) -> Result<(), String> {
        // Ends the log stream and running jobs' readers with this connection.
        let conn = stop.child_token();
        let _end = conn.clone().drop_guard();
        tokio::spawn(follow_logs(client.link().clone(), tx.clone(), conn.clone()));
        let mut poll = tokio::time::interval(self.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut polled = Polled::default();
        let mut tick: u64 = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = poll.tick() => {
                    for action in polled.fetch(client, tick).await? {
                        if tx.send(action).await.is_err() {
                            return Ok(());
                        }
                    }
                    tick += 1;
                }
                e = effects.recv() => {
                    let Some(effect) = e else { return Ok(()) };
                    if let Some(action) = carry_out(client, effect, tx, &conn).await {
                        if tx.send(action).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

/// Inventory is fetched every this many polls (it changes slowly).
const INVENTORY_EVERY: u64 = 5;
/// Fleet events the Events view shows.
const EVENTS_SHOWN: u32 = 500;
/// Log lines of history asked for when the stream starts.
const LOG_BACKLOG: u64 = 1000;

/// Every command the nodes offer, with its argument specs.
/// What each poll fetches. A query configd forbids (the token's role) is
/// reported once and not asked again on this connection; another error is
/// reported when it first appears (or changes) and asked again next poll.
#[derive(Default)]
struct Polled {
    refused: std::collections::BTreeSet<&'static str>,
    failing: std::collections::BTreeMap<&'static str, String>,
}

impl Polled {
    /// Everything the views poll, as Actions. Err when the connection broke.
    async fn fetch(&mut self, client: &Client, tick: u64) -> Result<Vec<Action>, String> {
        let mut out = Vec::new();
        let nodes = client
            .query_nodes(Vec::new())
            .await
            .map_err(|e| e.to_string())?;
        out.push(Action::Nodes(nodes.iter().map(NodeJson::from).collect()));
        // Only the problems cross the wire: a big fleet's OK checks are
        // most of its checks.
        let checks = client
            .query_checks(None, vec!["state!=ok".to_string()])
            .await;
        if let Some(checks) = self.answer("checks", checks, &mut out)? {
            // Nodes that are down come first (with their ack and downtime).
            let hosts = client
                .query_problems(None, vec!["kind=node".to_string()])
                .await;
            let mut rows: Vec<CheckJson> = self
                .answer("problems", hosts, &mut out)?
                .unwrap_or_default()
                .iter()
                .map(CheckJson::from)
                .collect();
            rows.extend(
                checks
                    .iter()
                    .filter(|c| c.state != CheckState::Ok)
                    .map(CheckJson::from),
            );
            out.push(Action::Problems(rows));
        }
        let events = client.query_events(Vec::new(), EVENTS_SHOWN).await;
        if let Some(events) = self.answer("events", events, &mut out)? {
            out.push(Action::Events(events.iter().map(EventRow::from).collect()));
        }
        let jobs = client.query_jobs(Vec::new()).await;
        if let Some(jobs) = self.answer("jobs", jobs, &mut out)? {
            out.push(Action::Jobs(jobs));
        }
        if tick.is_multiple_of(INVENTORY_EVERY) {
            // Every check (OK ones too) for the Checks view and node details.
            let all = client.query_checks(None, Vec::new()).await;
            if let Some(all) = self.answer("checks", all, &mut out)? {
                out.push(Action::Checks(all.iter().map(CheckJson::from).collect()));
            }
            let items = client.query_inventory(Vec::new()).await;
            if let Some(items) = self.answer("inventory", items, &mut out)? {
                out.push(Action::Inventory(items));
            }
            let offers = client.query_commands().await.map(|c| c.commands);
            if let Some(offers) = self.answer("commands", offers, &mut out)? {
                out.push(Action::Commands(offers));
            }
        }
        Ok(out)
    }

    /// Some(rows); None when refused (a Notice the first time); Err when
    /// the connection broke.
    fn answer<T>(
        &mut self,
        what: &'static str,
        answer: Result<T, ClientError>,
        out: &mut Vec<Action>,
    ) -> Result<Option<T>, String> {
        if self.refused.contains(what) {
            return Ok(None);
        }
        match answer {
            Ok(rows) => {
                self.failing.remove(what);
                Ok(Some(rows))
            }
            Err(ClientError::Remote(e)) => {
                if e.code == ErrorCode::Forbidden {
                    self.refused.insert(what);
                }
                if self.failing.get(what) != Some(&e.message) {
                    out.push(Action::Notice(format!(
                        "configd refused the {what} query: {}",
                        e.message
                    )));
                    self.failing.insert(what, e.message);
                }
                Ok(None)
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The live log tail: history, then every new line, in batches, until the
/// connection ends (the next connection subscribes again).
async fn follow_logs(link: LinkHandle, tx: mpsc::Sender<Action>, stop: CancellationToken) {
    let request = RequestBody::SubscribeLogs(SubscribeLogs {
        nodes: Vec::new(),
        min_level: None,
        sources: Vec::new(),
        grep: None,
        regex: None,
        backlog: LOG_BACKLOG,
        since_ms: None,
        follow: true,
    });
    let mut answers = match link.request(request).await {
        Ok(a) => a,
        Err(e) => {
            let _ = tx
                .send(Action::Notice(format!("log stream failed: {e}")))
                .await;
            return;
        }
    };
    loop {
        let answer = tokio::select! {
            _ = stop.cancelled() => return,
            a = answers.next() => a,
        };
        let notice = match answer {
            Some(Ok(ResponseBody::LogLines(batch))) => {
                let mut lines = Vec::with_capacity(batch.lines.len() + 1);
                if batch.skipped > 0 {
                    lines.push(render::skipped_marker(batch.skipped));
                }
                lines.extend(batch.lines);
                if tx.send(Action::LogLines(lines)).await.is_err() {
                    return;
                }
                if !batch.done {
                    continue;
                }
                "configd ended the log stream".to_string()
            }
            Some(Ok(ResponseBody::Error(e))) => {
                format!("configd refused the log stream: {}", e.message)
            }
            Some(Ok(other)) => unexpected(&other).to_string(),
            // The connection broke: the next one subscribes again.
            Some(Err(_)) | None => return,
        };
        let _ = tx.send(Action::Notice(notice)).await;
        return;
    }
}

/// Carries out what the user asked for. Quick answers come back as the
/// returned Action; a job's output streams from its own task.
async fn carry_out(
    client: &Client,
    effect: Effect,
    tx: &mpsc::Sender<Action>,
    conn: &CancellationToken,
) -> Option<Action> {
    let start = |body, what| {
        let link = client.link().clone();
        tokio::spawn(stream_job(link, body, what, tx.clone(), conn.clone()));
    };
    match effect {
        Effect::Quit => None,
        Effect::Run {
            command,
            args,
            targets,
        } => {
            // configd takes one selector per job: one job per selector.
            for target in targets {
                let request = run_request(&command, &args, target);
                let what = format!("run {} on {}", request.command, request.target);
                start(RequestBody::Run(request), what);
            }
            None
        }
        Effect::ResolveRun {
            command,
            args,
            target,
        } => {
            // With the run itself: configd refuses it here (target
            // binding, role, arguments) before the confirmation.
            let body = RequestBody::ResolveTargets(crate::net::proto::ResolveTargets {
                target: target.clone(),
                run: Some(run_request(&command, &args, target.clone())),
            });
            let nodes = match client.one(body).await {
                Ok(ResponseBody::Targets(t)) => Ok(t.nodes),
                Ok(other) => Err(unexpected(&other).to_string()),
                Err(e) => Err(format!("cannot ask configd: {e}")),
            };
            Some(Action::RunTargets {
                command,
                args,
                target,
                nodes,
            })
        }
        Effect::PlanRunbook { line, name, args } => {
            let body = RequestBody::RunbookPlan(crate::net::proto::RunbookRequest {
                name,
                args,
                digest: None,
            });
            let plan = match client.one(body).await {
                Ok(ResponseBody::RunbookPlanned(p)) => Ok(p),
                Ok(other) => Err(unexpected(&other).to_string()),
                Err(e) => Err(format!("cannot ask configd: {e}")),
            };
            Some(Action::RunbookPlanned { line, plan })
        }
        Effect::RunRunbook { name, args, digest } => {
            let request = crate::net::proto::RunbookRequest {
                name,
                args,
                digest: Some(digest),
            };
            let what = format!("runbook {}", request.name);
            start(RequestBody::RunbookRun(request), what);
            None
        }
        Effect::Ack { node, check } => {
            let body = RequestBody::Acknowledge(AckRequest {
                node: node.clone(),
                check: check.clone(),
                comment: String::new(),
                sticky: false,
                remove: false,
            });
            Some(Action::Notice(match client.one(body).await {
                Ok(ResponseBody::Done(d)) => d.message,
                Ok(other) => unexpected(&other).to_string(),
                Err(e) if check.is_empty() => format!("ack of node {node} failed: {e}"),
                Err(e) => format!("ack {check} on {node} failed: {e}"),
            }))
        }
        Effect::Downtime {
            node,
            check,
            duration,
        } => {
            let start_ms = crate::timefmt::now_ms();
            let body = RequestBody::Downtime(DowntimeRequest {
                node: node.clone(),
                // A node row (no check): downtime for the whole node.
                check: (!check.is_empty()).then(|| check.clone()),
                start_ms,
                end_ms: start_ms + duration.as_millis() as i64,
                comment: "from monit-tui".into(),
            });
            Some(Action::Notice(match client.one(body).await {
                Ok(ResponseBody::Done(d)) => d.message,
                Ok(other) => unexpected(&other).to_string(),
                Err(e) => format!("downtime for {check} on {node} failed: {e}"),
            }))
        }
        Effect::JobOutput { id } => match client.show_job(id).await {
            Ok(detail) => Some(Action::JobOutput {
                id,
                lines: detail
                    .outputs
                    .iter()
                    .flat_map(|o| prefixed(&o.node, &o.output))
                    .collect(),
            }),
            Err(e) => Some(Action::Notice(format!("job {id}: {e}"))),
        },
    }
}

/// A plain run of `command` on `target`, as the command line asks it.
fn run_request(command: &str, args: &[String], target: String) -> RunRequest {
    RunRequest {
        command: command.to_string(),
        args: args.to_vec(),
        target,
        timeout_ms: None,
        force_target: false,
        reason: String::new(),
    }
}

/// `node: line` for each line of `data`.
fn prefixed(node: &str, data: &str) -> Vec<String> {
    data.lines().map(|l| format!("{node}: {l}")).collect()
}

/// Runs one job (a command's or a runbook's), streaming its output, step
/// headings and transfer progress into the job's details, and its start
/// and end into notices. `what` names it in them.
async fn stream_job(
    link: LinkHandle,
    body: RequestBody,
    what: String,
    tx: mpsc::Sender<Action>,
    stop: CancellationToken,
) {
    let mut answers = match link.request(body).await {
        Ok(a) => a,
        Err(e) => {
            let _ = tx.send(Action::Notice(format!("{what} failed: {e}"))).await;
            return;
        }
    };
    let mut id = 0;
    // The notice it ends with.
    let last = loop {
        let answer = tokio::select! {
            _ = stop.cancelled() => return,
            a = answers.next() => a,
        };
        let lines = |lines: Vec<String>| Action::JobOutput { id, lines };
        let action = match answer {
            Some(Ok(ResponseBody::JobStarted(s))) => {
                id = s.id;
                Action::Notice(format!(
                    "job {id} started: {what} ({} node(s)); 4 shows it",
                    s.targets.len()
                ))
            }
            Some(Ok(ResponseBody::StepStarted(s))) => lines(vec![format!(
                "== {}. {}",
                s.index,
                crate::ops::views::doing(&s)
            )]),
            Some(Ok(ResponseBody::StepProgress(p))) => lines(vec![format!(
                "   {}: {} of {} bytes",
                p.index, p.bytes, p.total
            )]),
            Some(Ok(ResponseBody::StepDone(s))) => {
                let why = if s.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.message)
                };
                lines(vec![format!(
                    "== {}. {}: {}{why}",
                    s.index,
                    s.name,
                    s.state.as_str()
                )])
            }
            Some(Ok(ResponseBody::JobOutput(o))) => {
                let marker = match o.stream {
                    OutputStream::Stdout => "",
                    OutputStream::Stderr => "[stderr] ",
                };
                lines(
                    o.data
                        .lines()
                        .map(|l| format!("{}: {marker}{l}", o.node))
                        .collect(),
                )
            }
            Some(Ok(ResponseBody::TargetDone(_))) => continue,
            Some(Ok(ResponseBody::JobDone(job))) => {
                // A runbook says why in its message; a command by its first
                // target that did not end ok.
                let why = match job.targets.iter().find(|t| t.state != TargetState::Ok) {
                    Some(t) => format!(": {} {} {}", t.node, t.state.as_str(), t.message),
                    None if !job.message.is_empty() => format!(": {}", job.message),
                    None => String::new(),
                };
                break format!("job {} {}{why}", job.id, job_state(&job));
            }
            Some(Ok(ResponseBody::Error(e))) => break format!("{what}: {}", e.message),
            Some(Ok(other)) => Action::Notice(unexpected(&other).to_string()),
            Some(Err(e)) => break format!("{what}: {e}"),
            None => return,
        };
        if tx.send(action).await.is_err() {
            return;
        }
    };
    let _ = tx.send(Action::Notice(last)).await;
}
