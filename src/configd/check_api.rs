//! Requests about checks: node result batches, `query checks|events`,
//! ack, downtime, submit. `api::Api::route` calls these once `roles`
//! allowed the request.

use std::sync::Arc;

use super::checks::Effects;
use super::reply::{pages, ApiError, ApiResult, Reply};
use super::state::Shared;
use super::store::{event_row, EventRow, StoreError};
use super::tokens::Identity;
use crate::checks::tracker::Ack;
use crate::filter::{row_matches, Filter};
use crate::net::proto::{
    AckRequest, CancelDowntime, CheckResults, ChecksPage, Done, DowntimeRequest, DowntimeView,
    DowntimesPage, EventView, EventsPage, ProblemsPage, QueryChecks, QueryEvents, ResponseBody,
    ResultsAck, SubmitResult,
};
use crate::timefmt::now_ms;

/// Events looked at when the request names no limit, and at most.
const EVENTS_DEFAULT: u32 = 1000;
const EVENTS_MAX: u32 = 100_000;

/// Writes what a change produced and queues its notifications; check
/// state changes also go on their node's log stream (source `check:NAME`).
pub async fn apply(shared: &Shared, fx: Effects, wait: bool) -> Result<(), StoreError> {
    for n in fx.notifications {
        shared.checks().notifier().send(n);
    }
    log_changes(shared, &fx.writes.events);
    if fx.writes.is_empty() {
        return Ok(());
    }
    shared.store().checks(fx.writes, wait).await
}

/// State changes and flapping of checks, as lines of their node's log.
fn log_changes(shared: &Shared, events: &[EventRow]) {
    use crate::net::proto::{Level, LogLine};
    let mut by_node: std::collections::BTreeMap<&str, Vec<LogLine>> = Default::default();
    for e in events {
        let (Some(node), Some(check)) = (&e.node, &e.check) else {
            continue;
        };
        if !matches!(
            e.kind.as_str(),
            "check_state" | "flapping_start" | "flapping_stop"
        ) {
            continue;
        }
        let level = match e.state.as_deref() {
            Some("critical") => Level::Error,
            Some("warning" | "unknown") => Level::Warn,
            _ => Level::Info,
        };
        by_node.entry(node).or_default().push(LogLine {
            time_ms: e.time_ms,
            node: node.clone(),
            level,
            source: format!("check:{check}"),
            message: e.message.clone(),
        });
    }
    for (node, lines) in by_node {
        shared.logs().ingest(node, 0, 0, lines);
    }
}

pub async fn results(shared: &Shared, node: &str, batch: CheckResults) -> ApiResult {
    let n = batch.results.len();
    if n > 100_000 {
        return Err(ApiError::bad_request("at most 100000 results per batch"));
    }
    super::counters::count_results(n);
    let fx = shared.checks().ingest(node, batch.results);
    apply(shared, fx, true)
        .await
        .map_err(|e| ApiError::internal("configd could not store the results", e))?;
    Ok(Reply::One(ResponseBody::ResultsAck(ResultsAck {
        accepted: n as u32,
    })))
}

pub fn query_checks(shared: &Shared, q: QueryChecks) -> ApiResult {
    let filters = Filter::parse_all(&q.filters).map_err(ApiError::bad_request)?;
    let mut checks = shared.checks().views(q.node.as_deref());
    shared.central().annotate(&mut checks, q.node.as_deref());
    if !filters.is_empty() {
        checks.retain(|c| row_matches(&filters, &crate::model::check::CheckJson::from(c)));
    }
    Ok(pages::<ChecksPage>(checks))
}

pub async fn query_events(shared: &Shared, q: QueryEvents) -> ApiResult {
    let filters = Filter::parse_all(&q.filters).map_err(ApiError::bad_request)?;
    let limit = if q.limit == 0 {
        EVENTS_DEFAULT
    } else {
        q.limit.min(EVENTS_MAX)
    };
    // A stored event row is the wire's event view.
    let mut events: Vec<EventView> = shared.store().recent_events(limit as usize).await?;
    if !filters.is_empty() {
        events.retain(|e| row_matches(&filters, &crate::model::event::EventJson::from(e)));
    }
    Ok(pages::<EventsPage>(events))
}

/// Applies a change's effects and says `done`; a change refused (no such
/// node, check or downtime) is `not_found`.
async fn finish(shared: &Shared, fx: Result<Effects, String>, done: Done) -> ApiResult {
    let fx = fx.map_err(ApiError::not_found)?;
    apply(shared, fx, true)
        .await
        .map_err(|e| ApiError::internal("configd could not store the change", e))?;
    Ok(Reply::One(ResponseBody::Done(done)))
}

fn done(message: String) -> Done {
    Done { message, id: None }
}

pub async fn acknowledge(shared: &Shared, who: &Identity, r: AckRequest) -> ApiResult {
    let what = if r.check.is_empty() {
        format!("node {}", r.node)
    } else {
        format!("{}/{}", r.node, r.check)
    };
    if r.remove {
        let fx = shared
            .checks()
            .unacknowledge(&r.node, &r.check, &who.name, now_ms());
        return finish(
            shared,
            fx,
            done(format!("acknowledgement of {what} removed")),
        )
        .await;
    }
    let ack = Ack {
        who: who.name.clone(),
        comment: r.comment,
        sticky: r.sticky,
        time_ms: now_ms(),
    };
    let fx = if r.check.is_empty() {
        shared.checks().acknowledge_node(&r.node, ack)
    } else {
        shared.checks().acknowledge(&r.node, &r.check, ack)
    };
    finish(shared, fx, done(format!("acknowledged {what}"))).await
}

/// Nodes down, then non-OK checks, in pages.
pub fn query_problems(shared: &Shared, q: QueryChecks) -> ApiResult {
    let filters = Filter::parse_all(&q.filters).map_err(ApiError::bad_request)?;
    let mut problems = shared.checks().problems(q.node.as_deref());
    if !filters.is_empty() {
        problems.retain(|p| row_matches(&filters, &crate::model::check::ProblemJson::from(p)));
    }
    Ok(pages::<ProblemsPage>(problems))
}

pub async fn submit(shared: &Shared, who: &Identity, r: SubmitResult) -> ApiResult {
    if r.output.len() > crate::checks::plugin::OUTPUT_CAP {
        return Err(ApiError::bad_request("output is over 64 KiB"));
    }
    let fx = shared
        .checks()
        .submit(&r.node, &r.check, r.state, &r.output, &who.name, now_ms());
    let msg = format!("{}/{} is {}", r.node, r.check, r.state);
    finish(shared, fx, done(msg)).await
}

pub async fn downtime(shared: &Shared, who: &Identity, r: DowntimeRequest) -> ApiResult {
    if r.end_ms <= r.start_ms || r.end_ms <= now_ms() {
        return Err(ApiError::bad_request(
            "the downtime ends before it starts or in the past",
        ));
    }
    if r.comment.len() > 1024 {
        return Err(ApiError::bad_request("comment is over 1024 bytes"));
    }
    if shared.registry().get(&r.node).is_none() {
        return Err(ApiError::not_found(format!(
            "no node `{}`; see `monit-cli query nodes`",
            r.node
        )));
    }
    let (id, fx) = shared.checks().add_downtime(
        DowntimeView {
            id: 0,
            node: r.node.clone(),
            check: r.check.clone(),
            start_ms: r.start_ms,
            end_ms: r.end_ms,
            who: who.name.clone(),
            comment: r.comment,
        },
        now_ms(),
    );
    let what = match &r.check {
        Some(c) => format!("{}/{c}", r.node),
        None => r.node.clone(),
    };
    let message = format!(
        "downtime {id} for {what} until {}",
        crate::timefmt::rfc3339(r.end_ms)
    );
    let id = Some(id);
    finish(shared, Ok(fx), Done { message, id }).await
}

pub fn list_downtimes(shared: &Shared) -> Reply {
    let downtimes = shared.checks().downtimes();
    Reply::One(ResponseBody::Downtimes(DowntimesPage { downtimes }))
}

pub async fn cancel_downtime(shared: &Shared, who: &Identity, r: CancelDowntime) -> ApiResult {
    let fx = shared.checks().cancel_downtime(r.id, &who.name, now_ms());
    finish(shared, fx, done(format!("downtime {} cancelled", r.id))).await
}

/// How long a node agent may take to reconnect after configd started:
/// its reconnect backoff is capped at 30 s.
const RECONNECT_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Nodes known from the store that did not come back within
/// `node_dead_after` + `RECONNECT_GRACE` of configd starting are down (a
/// problem, notified), as if their connection had ended.
async fn expire_pending(shared: &Shared) {
    let why = "not heard from since configd started";
    for name in shared.registry().expire_pending() {
        tracing::info!(node = %name, "node down: {why}");
        let now = now_ms();
        let ev = EventRow {
            state: Some("down".into()),
            previous_state: Some("pending".into()),
            ..event_row(now, "node_state", Some(&name), None, why.into())
        };
        if let Err(e) = shared.store().event(ev).await {
            tracing::error!("cannot store event: {e}");
        }
        let fx = shared.checks().node_down(&name, why, now);
        let _ = apply(shared, fx, false).await;
    }
}

/// Every second: downtime windows, stale passive checks, re-notification,
/// and (once) nodes that never came back after configd started.
pub async fn sweeper(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let pending_until =
        tokio::time::Instant::now() + shared.config().node_dead_after + RECONNECT_GRACE;
    let mut pending_expired = false;
    loop {
        tokio::select! {
            _ = shared.shutdown().cancelled() => return,
            _ = tick.tick() => {}
        }
        if !pending_expired && tokio::time::Instant::now() >= pending_until {
            pending_expired = true;
            expire_pending(&shared).await;
        }
        let now = now_ms();
        let fx = shared.checks().sweep_downtimes(now);
        let _ = apply(&shared, fx, false).await;
        let fx = shared.checks().sweep_freshness(now);
        let _ = apply(&shared, fx, false).await;
        if shared.checks().notifier().wants_renotify() {
            let problems = shared.checks().unheld_problems(now);
            shared.checks().notifier().renotify(problems);
        }
    }
}
