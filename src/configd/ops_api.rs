//! configd's answers to the inventory, job and command requests;
//! `api::Api::route` calls these once `roles` allowed the request.

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::inventory;
use super::jobs;
use super::reply::{pages, ApiError, ApiResult, Reply};
use super::state::Shared;
use super::tokens::Identity;
use crate::filter::{matches_all, Filter};
use crate::net::link::Replier;
use crate::net::proto::{
    CancelJob, CommandNames, CommandsPage, Done, InventoryPage, InventoryWrite, InventoryWritten,
    JobOutput, JobsPage, OutputStream, QueryChecks, QueryNodes, ResolveTargets, ResponseBody,
    ShowJob, Targets,
};
use crate::ops::spec::CommandSpec;

/// Jobs `query jobs` looks at (newest first).
const JOBS_LISTED: usize = 10_000;
/// Most inventory operations in one write.
const MAX_OPS: usize = 100_000;

pub async fn inventory_write(shared: &Shared, who: &Identity, w: InventoryWrite) -> ApiResult {
    if w.ops.len() > MAX_OPS {
        return Err(ApiError::bad_request(format!(
            "{} operations; the limit is {MAX_OPS} per write",
            w.ops.len()
        )));
    }
    let known = shared.registry().names();
    let live = shared.live();
    let changed =
        inventory::write_known(shared.store(), &live.inventory, known, &who.name, w.ops).await?;
    Ok(Reply::One(ResponseBody::InventoryWritten(
        InventoryWritten { changed },
    )))
}

pub async fn query_inventory(shared: &Shared, q: QueryNodes) -> ApiResult {
    let filters = Filter::parse_all(&q.filters).map_err(ApiError::bad_request)?;
    let live = shared.live();
    let kinds = &live.inventory;
    let items: Vec<_> = inventory::all(shared.store(), kinds)
        .await?
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
    Ok(pages::<InventoryPage>(items))
}

pub async fn query_jobs(shared: &Shared, q: QueryNodes) -> ApiResult {
    let filters = Filter::parse_all(&q.filters).map_err(ApiError::bad_request)?;
    let mut list = shared.store().recent_jobs(JOBS_LISTED).await?;
    list.retain(|j| matches_all(&filters, &crate::ops::views::job_json(j), None));
    list.reverse();
    Ok(pages::<JobsPage>(list))
}

/// One job with its stored output; with `follow`, its live output first
/// (until it ends).
pub async fn show_job(
    shared: &Shared,
    out: &Replier,
    cancel: CancellationToken,
    s: ShowJob,
) -> ApiResult {
    if let Some(following) = s.follow.then(|| shared.ops().follow(s.id)).flatten() {
        if following.dropped {
            let note = JobOutput {
                node: "monit".into(),
                stream: OutputStream::Stderr,
                data: "earlier output of this job was dropped (over 4 MiB); `job show` has each node's last 1 MiB once it ends\n".into(),
            };
            out.send(ResponseBody::JobOutput(note)).await?;
        }
        for chunk in following.so_far {
            out.send(ResponseBody::JobOutput(chunk)).await?;
        }
        let mut rx = following.live;
        loop {
            let chunk = tokio::select! {
                _ = cancel.cancelled() => return Ok(Reply::Sent),
                c = rx.recv() => c,
            };
            match chunk {
                Ok(chunk) => out.send(ResponseBody::JobOutput(chunk)).await?,
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(job = s.id, "follower skipped {n} chunks");
                }
                Err(RecvError::Closed) => break,
            }
        }
    }
    match shared.store().job_detail(s.id).await? {
        Some(d) => Ok(Reply::One(ResponseBody::JobDetail(d))),
        None => Err(ApiError::not_found(format!(
            "no job {}; list them with `monit-cli query jobs`",
            s.id
        ))),
    }
}

pub async fn resolve_targets(shared: &Shared, who: &Identity, t: ResolveTargets) -> ApiResult {
    let nodes = match &t.run {
        // The run's own checks: what it is refused for, it is refused (and
        // recorded) here, before any confirmation.
        Some(run) => match jobs::plan(shared, who, run).await {
            Ok(plan) => plan.targets,
            Err(r) => return Err(jobs::refuse(shared, who, run, r).await),
        },
        None => jobs::resolve_targets(shared, &t.target).await?,
    };
    Ok(Reply::One(ResponseBody::Targets(Targets { nodes })))
}

pub fn cancel_job(shared: &Shared, who: &Identity, c: CancelJob) -> ApiResult {
    if !shared.ops().cancel(c.id) {
        return Err(ApiError::not_found(format!(
            "job {} is not running; see `monit-cli job show {}`",
            c.id, c.id
        )));
    }
    tracing::info!(job = c.id, who = %who.name, "job cancelled");
    Ok(Reply::One(ResponseBody::Done(Done {
        message: format!("job {} cancelled on every node", c.id),
        id: Some(c.id),
    })))
}

pub fn query_commands(shared: &Shared, q: QueryChecks) -> ApiResult {
    let filters = Filter::parse_all(&q.filters).map_err(ApiError::bad_request)?;
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
    Ok(Reply::One(ResponseBody::Commands(CommandsPage {
        commands,
        runbooks,
    })))
}

pub fn list_commands(shared: &Shared) -> Reply {
    let names = shared.ops().command_names();
    Reply::One(ResponseBody::CommandNames(CommandNames { names }))
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
