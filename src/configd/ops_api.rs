//! configd's answers to the inventory, job and run requests (issue 4);
//! `api.rs` authorises them and hands them here.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::inventory::{self, InventoryError};
use super::jobs;
use super::state::Shared;
use super::tokens::Identity;
use crate::filter::{matches_all, Filter};
use crate::net::link::Replier;
use crate::net::proto::{
    CommandNames, ErrorCode, InventoryPage, InventoryWritten, JobsPage, RequestBody, ResponseBody,
    Targets,
};
use crate::ops::spec::CommandSpec;

/// Items or jobs per answer page.
const PAGE: usize = 1000;
/// Jobs `query jobs` looks at (newest first).
const JOBS_LISTED: usize = 10_000;
/// Most inventory operations in one write.
const MAX_OPS: usize = 100_000;

pub async fn handle(
    shared: Arc<Shared>,
    who: &Identity,
    reply: Replier,
    cancel: CancellationToken,
    body: RequestBody,
) {
    match body {
        RequestBody::InventoryWrite(w) => {
            if w.ops.len() > MAX_OPS {
                let _ = reply
                    .error(
                        ErrorCode::BadRequest,
                        format!(
                            "{} operations; the limit is {MAX_OPS} per write",
                            w.ops.len()
                        ),
                    )
                    .await;
                return;
            }
            let known: Vec<String> = shared
                .registry()
                .slots()
                .iter()
                .map(|s| s.name.clone())
                .collect();
            match inventory::write_known(
                &shared.store(),
                &shared.live().inventory,
                known,
                &who.name,
                w.ops,
            )
            .await
            {
                Ok(changed) => {
                    let _ = reply
                        .send(ResponseBody::InventoryWritten(InventoryWritten { changed }))
                        .await;
                }
                Err(InventoryError::Rejected(m)) => {
                    let _ = reply
                        .error(ErrorCode::BadRequest, format!("{m}; nothing was changed"))
                        .await;
                }
                Err(e) => {
                    tracing::error!("inventory write failed: {e}");
                    let _ = reply.error(ErrorCode::Internal, e.to_string()).await;
                }
            }
        }
        RequestBody::QueryInventory(q) => {
            let filters = match Filter::parse_all(&q.filters) {
                Ok(f) => f,
                Err(e) => {
                    let _ = reply.error(ErrorCode::BadRequest, e).await;
                    return;
                }
            };
            let live = shared.live();
            let kinds = &live.inventory;
            let items = match inventory::all(&shared.store(), kinds).await {
                Ok(items) => items,
                Err(e) => {
                    let _ = reply.error(ErrorCode::Internal, e.to_string()).await;
                    return;
                }
            };
            let items: Vec<_> = items
                .into_iter()
                .map(|i| inventory::to_wire(kinds, i))
                .filter(|i| {
                    filters.is_empty()
                        || matches_all(
                            &filters,
                            &crate::ops::views::inventory_json(i),
                            Some("attrs"),
                        )
                })
                .collect();
            let mut pages = items.chunks(PAGE).peekable();
            if pages.peek().is_none() {
                let _ = reply
                    .send(ResponseBody::Inventory(InventoryPage {
                        items: vec![],
                        done: true,
                    }))
                    .await;
            }
            while let Some(page) = pages.next() {
                let body = ResponseBody::Inventory(InventoryPage {
                    items: page.to_vec(),
                    done: pages.peek().is_none(),
                });
                if reply.send(body).await.is_err() {
                    return;
                }
            }
        }
        RequestBody::QueryJobs(q) => {
            let filters = match Filter::parse_all(&q.filters) {
                Ok(f) => f,
                Err(e) => {
                    let _ = reply.error(ErrorCode::BadRequest, e).await;
                    return;
                }
            };
            let mut list = match jobs::recent(&shared, JOBS_LISTED).await {
                Ok(l) => l,
                Err(e) => {
                    let _ = reply.error(ErrorCode::Internal, e).await;
                    return;
                }
            };
            list.retain(|j| matches_all(&filters, &crate::ops::views::job_json(j), None));
            list.reverse();
            let mut pages = list.chunks(PAGE).peekable();
            if pages.peek().is_none() {
                let _ = reply
                    .send(ResponseBody::Jobs(JobsPage {
                        jobs: vec![],
                        done: true,
                    }))
                    .await;
            }
            while let Some(page) = pages.next() {
                let body = ResponseBody::Jobs(JobsPage {
                    jobs: page.to_vec(),
                    done: pages.peek().is_none(),
                });
                if reply.send(body).await.is_err() {
                    return;
                }
            }
        }
        RequestBody::ShowJob(s) => {
            if s.follow {
                if let Some(following) = shared.ops().follow(s.id) {
                    if following.dropped {
                        let note = crate::net::proto::JobOutput {
                            node: "monit".into(),
                            stream: crate::net::proto::OutputStream::Stderr,
                            data: "earlier output of this job was dropped (over 4 MiB); `job show` has each node's last 1 MiB once it ends\n".into(),
                        };
                        if reply.send(ResponseBody::JobOutput(note)).await.is_err() {
                            return;
                        }
                    }
                    for out in following.so_far {
                        if reply.send(ResponseBody::JobOutput(out)).await.is_err() {
                            return;
                        }
                    }
                    let mut rx = following.live;
                    loop {
                        let chunk = tokio::select! {
                            _ = cancel.cancelled() => return,
                            c = rx.recv() => c,
                        };
                        match chunk {
                            Ok(out) => {
                                if reply.send(ResponseBody::JobOutput(out)).await.is_err() {
                                    return;
                                }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                                tracing::debug!(job = s.id, "follower skipped {n} chunks");
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        }
                    }
                }
            }
            show_job(&shared, reply, s.id).await
        }
        RequestBody::ResolveTargets(t) => {
            let resolved = match &t.run {
                // The run's own checks: what it is refused for, it is
                // refused (and recorded) here, before any confirmation.
                Some(run) => match jobs::plan(&shared, who, run).await {
                    Ok(plan) => Ok(plan.targets),
                    Err(r) => return jobs::refuse(&shared, who, run, reply, r).await,
                },
                None => jobs::resolve_targets(&shared, &t.target).await,
            };
            match resolved {
                Ok(nodes) => {
                    let _ = reply.send(ResponseBody::Targets(Targets { nodes })).await;
                }
                Err(r) => {
                    let _ = reply.error(r.code, r.message).await;
                }
            }
        }
        RequestBody::Run(r) => jobs::run(shared, who, reply, cancel, r).await,
        RequestBody::RunbookPlan(r) => super::runbook::plan_request(shared, reply, r).await,
        RequestBody::RunbookRun(r) => {
            super::runbook::run_request(shared, who, reply, cancel, r).await
        }
        RequestBody::RunbookUndo(j) => {
            super::runbook::undo_request(shared, who, reply, cancel, j.id).await
        }
        RequestBody::CancelJob(c) => {
            if shared.ops().cancel(c.id) {
                tracing::info!(job = c.id, who = %who.name, "job cancelled");
                let _ = reply
                    .send(ResponseBody::Done(crate::net::proto::Done {
                        message: format!("job {} cancelled on every node", c.id),
                        id: Some(c.id),
                    }))
                    .await;
            } else {
                let _ = reply
                    .error(
                        ErrorCode::NotFound,
                        format!(
                            "job {} is not running; see `monit-cli job show {}`",
                            c.id, c.id
                        ),
                    )
                    .await;
            }
        }
        RequestBody::QueryCommands(q) => {
            let filters = match Filter::parse_all(&q.filters) {
                Ok(f) => f,
                Err(e) => {
                    let _ = reply.error(ErrorCode::BadRequest, e).await;
                    return;
                }
            };
            let mut commands = shared.ops().offers(q.node.as_deref());
            commands.retain(|c| matches_all(&filters, &crate::ops::views::command_json(c), None));
            // configd's runbooks: not a node's, so not listed for one.
            let runbooks = match q.node {
                Some(_) => Vec::new(),
                None => shared
                    .live()
                    .runbooks
                    .iter()
                    .map(|r| r.offer())
                    .filter(|r| matches_all(&filters, &crate::ops::views::runbook_json(r), None))
                    .collect(),
            };
            let _ = reply
                .send(ResponseBody::Commands(crate::net::proto::CommandsPage {
                    commands,
                    runbooks,
                }))
                .await;
        }
        RequestBody::ListCommands(_) => {
            let names = shared.ops().command_names();
            let _ = reply
                .send(ResponseBody::CommandNames(CommandNames { names }))
                .await;
        }
        // Routed elsewhere by `Api::handle`; never reaches here.
        _ => {
            let _ = reply
                .error(ErrorCode::Internal, "request routed to the wrong handler")
                .await;
        }
    }
}

async fn show_job(shared: &Shared, reply: Replier, id: u64) {
    match jobs::detail(shared, id).await {
        Ok(Some(d)) => {
            let _ = reply.send(ResponseBody::JobDetail(d)).await;
        }
        Ok(None) => {
            let _ = reply
                .error(
                    ErrorCode::NotFound,
                    format!("no job {id}; list them with `monit-cli query jobs`"),
                )
                .await;
        }
        Err(e) => {
            let _ = reply.error(ErrorCode::Internal, e).await;
        }
    }
}

/// Bounds on the command specs a node advertises.
pub fn check_commands(commands: &[CommandSpec]) -> Result<(), String> {
    if commands.len() > 256 {
        return Err(format!("{} commands; the limit is 256", commands.len()));
    }
    for c in commands {
        c.validate()?;
        if c.description.len() > 1024 || c.argv.len() > 256 {
            return Err(format!(
                "command `{}`: description or argv too long",
                c.name
            ));
        }
    }
    Ok(())
}
