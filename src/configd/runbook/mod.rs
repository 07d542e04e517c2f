//! Runbooks on configd: `RunbookPlan` answers the resolved plan;
//! `RunbookRun` checks the runner's role, plans again (refusing when the
//! plan differs from the one the operator confirmed), marks the items
//! busy, records the job and runs it (`run.rs`).

pub mod plan;
pub mod run;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::reply::{ApiError, ApiResult, Reply};
use super::state::Shared;
use super::tokens::Identity;
use crate::net::link::Replier;
use crate::net::proto::{ErrorCode, JobView, ResponseBody, RunbookRequest};
use crate::ops::runbook::RunbookSpec;
use crate::timefmt::now_ms;
use plan::Refusal;

/// The runbook called `name`, or a refusal listing those there are.
fn find(shared: &Shared, name: &str) -> Result<RunbookSpec, Refusal> {
    let live = shared.live();
    if let Some(r) = live.runbooks.iter().find(|r| r.name == name) {
        return Ok(r.clone());
    }
    let names: Vec<&str> = live.runbooks.iter().map(|r| r.name.as_str()).collect();
    let list = if names.is_empty() {
        "configd.toml declares no runbooks".to_string()
    } else {
        format!("runbooks: {}", names.join(", "))
    };
    Err((
        ErrorCode::NotFound,
        format!("no runbook `{}`; {list}", crate::ops::values::shown(name)),
    ))
}

/// Refuses a runbook run: an event first (who, what, why; the error
/// code as its `state`), so it is stored when the client hears of it,
/// then the error to the client.
async fn refuse(
    shared: &Shared,
    who: &Identity,
    req: &RunbookRequest,
    (code, why): Refusal,
) -> ApiError {
    tracing::info!(runbook = %req.name, who = %who.name, "runbook refused: {why}");
    let mut what = crate::ops::values::shown(&req.name);
    for a in &req.args {
        what.push(' ');
        what.push_str(&crate::ops::values::shown(a));
    }
    let message = format!("runbook {what}: {why}");
    super::audit::record(shared, RUNBOOK_REFUSED, who, None, code.as_str(), message).await;
    ApiError::new(code, why)
}

/// Event kind of a refused runbook run (or undo).
pub const RUNBOOK_REFUSED: &str = "runbook_refused";

/// Marks `items` busy for the run, or refuses it (an event, an answer)
/// when another job acts on one of them.
async fn mark_busy<'a>(
    shared: &'a Shared,
    who: &Identity,
    req: &RunbookRequest,
    items: &[(String, String)],
) -> Result<super::ops_state::BusyMarks<'a>, ApiError> {
    match shared.ops().mark_busy(items) {
        Ok(m) => Ok(m),
        Err((kind, key)) => {
            Err(refuse(shared, who, req, super::jobs::busy_message(&kind, &key)).await)
        }
    }
}

/// `RunbookPlan`: the plan, nothing run.
pub async fn plan_request(shared: &Shared, req: RunbookRequest) -> ApiResult {
    let spec = find(shared, &req.name).map_err(from_refusal)?;
    let planned = plan::plan(shared, &spec, &req.args)
        .await
        .map_err(from_refusal)?;
    Ok(Reply::One(ResponseBody::RunbookPlanned(planned.plan)))
}

fn from_refusal((code, why): Refusal) -> ApiError {
    ApiError::new(code, why)
}

/// `RunbookRun`: checks, records the job, runs it.
pub async fn run_request(
    shared: Arc<Shared>,
    who: &Identity,
    reply: &Replier,
    cancel: CancellationToken,
    req: RunbookRequest,
) -> ApiResult {
    let checked = async {
        let spec = find(&shared, &req.name)?;
        if !who.role.allows(spec.role) {
            return Err((
                ErrorCode::Forbidden,
                format!(
                    "runbook `{}` needs an {} token; token `{}` ({}) is {}",
                    spec.name, spec.role, who.token_id, who.name, who.role
                ),
            ));
        }
        let planned = plan::plan(&shared, &spec, &req.args).await?;
        if let Some(d) = &req.digest {
            if *d != planned.plan.digest {
                return Err((
                    ErrorCode::BadRequest,
                    "the plan changed since it was shown (the inventory or the nodes' commands changed): look at `runbook plan` again".to_string(),
                ));
            }
        }
        Ok(planned)
    }
    .await;
    let planned = match checked {
        Ok(p) => p,
        Err(refusal) => return Err(refuse(&shared, who, &req, refusal).await),
    };
    let marks = mark_busy(&shared, who, &req, &planned.items).await?;
    let mut job = JobView {
        id: 0,
        who: who.name.clone(),
        started_ms: now_ms(),
        finished_ms: None,
        command: planned.plan.name.clone(),
        args: planned.plan.args.clone(),
        targets: Vec::new(),
        requires: Default::default(),
        effects: Default::default(),
        item: None,
        message: String::new(),
        steps: planned.plan.steps,
    };
    job.id = shared
        .store()
        .insert_job(&job)
        .await
        .map_err(|e| ApiError::internal("configd could not record the job", e))?;
    let reply = run::execute(shared.clone(), who, reply, cancel, job).await;
    drop(marks);
    Ok(reply)
}

/// `RunbookUndo`: the completed steps of a finished runbook job that did
/// not end ok (configd stopped mid-run) are undone, newest first.
pub async fn undo_request(
    shared: Arc<Shared>,
    who: &Identity,
    reply: &Replier,
    cancel: CancellationToken,
    id: u64,
) -> ApiResult {
    let checked = async {
        let job = match shared.store().job_detail(id).await {
            Ok(Some(d)) => d.job,
            Ok(None) => return Err((ErrorCode::NotFound, format!("no job {id}"))),
            Err(e) => return Err((ErrorCode::Internal, e.to_string())),
        };
        let bad = |why: String| Err((ErrorCode::BadRequest, why));
        if job.steps.is_empty() {
            return bad(format!(
                "job {id} ran a command, not a runbook: there are no steps to undo"
            ));
        }
        if job.finished_ms.is_none() || shared.ops().follow(id).is_some() {
            return bad(format!(
                "job {id} is still running: cancel it (`monit-cli job cancel {id}`) and it undoes its completed steps itself"
            ));
        }
        if !job.steps.iter().any(|s| s.state == crate::net::proto::StepState::Ok) {
            return bad(format!("job {id} has no completed step left to undo"));
        }
        if crate::ops::views::job_state(&job) == "ok" {
            return bad(format!(
                "job {id} finished ok; a runbook that succeeded is not undone (run the opposite runbook)"
            ));
        }
        // The runbook's role; admin when configd.toml no longer has it.
        let role = find(&shared, &job.command)
            .map(|s| s.role)
            .unwrap_or(crate::net::proto::Role::Admin);
        if !who.role.allows(role) {
            return Err((
                ErrorCode::Forbidden,
                format!(
                    "undoing job {id} ({}) needs an {role} token; token `{}` ({}) is {}",
                    job.command, who.token_id, who.name, who.role
                ),
            ));
        }
        Ok(job)
    }
    .await;
    let req = RunbookRequest {
        name: format!("undo of job {id}"),
        args: vec![],
        digest: None,
    };
    let job = match checked {
        Ok(j) => j,
        Err(refusal) => return Err(refuse(&shared, who, &req, refusal).await),
    };
    let mut items = Vec::new();
    plan::add_changed(&mut items, &job.steps);
    let marks = mark_busy(&shared, who, &req, &items).await?;
    let reply = run::undo_job(shared.clone(), who, reply, cancel, job).await;
    drop(marks);
    Ok(reply)
}
