//! Jobs: the list, one job with its targets and output, and the live
//! output of a running job as Server-Sent Events (`job show -f`).

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::sse::Event;
use axum::response::Response;
use serde::Deserialize;

use super::logs::sse;
use super::{
    client_error, filters, html, listed, pairs, query_string, split_filters, when, Chrome, Paging,
};
use crate::model::job::JobJson;
use crate::net::proto::{NodeOutput, RequestBody, ResponseBody, ShowJob, StepView, TargetResult};
use crate::ops::views::job_state;
use crate::timefmt::now_ms;
use crate::web::session::Authed;

#[derive(Deserialize, Default)]
pub struct JobsQuery {
    #[serde(default)]
    filter: String,
    page: Option<usize>,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage<'a> {
    chrome: Option<Chrome>,
    filter: String,
    error: String,
    rows: Vec<JobJson<'a>>,
    paging: Paging,
}

pub async fn list(Authed(s, _): Authed, Query(q): Query<JobsQuery>) -> Result<Response, Response> {
    let asked = s.client.query_jobs(split_filters(&q.filter)).await;
    let (mut jobs, error) = listed(&s, "jobs", asked)?;
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    let paging = Paging::new(jobs.len(), q.page, query_string(&[("filter", &q.filter)]));
    Ok(html(&JobsPage {
        chrome: Some(s.chrome("jobs")),
        rows: jobs[paging.range()].iter().map(JobJson::from).collect(),
        filter: q.filter,
        error,
        paging,
    }))
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage<'a> {
    chrome: Option<Chrome>,
    id: u64,
    state: &'static str,
    running: bool,
    facts: Vec<(&'static str, String)>,
    targets: &'a [TargetResult],
    outputs: &'a [NodeOutput],
    src: String,
    /// A runbook's steps (empty for a command's job).
    steps: &'a [StepView],
}

pub async fn show(Authed(s, _): Authed, Path(id): Path<u64>) -> Result<Response, Response> {
    let detail = s
        .client
        .show_job(id)
        .await
        .map_err(|e| client_error(&s, "jobs", e))?;
    let j = &detail.job;
    let now = now_ms();
    let running = j.finished_ms.is_none();
    let mut facts = vec![
        ("Command", format!("{} {}", j.command, j.args.join(" "))),
        ("Started by", j.who.clone()),
        ("Started", when(j.started_ms, now)),
        (
            "Finished",
            j.finished_ms
                .map(|f| when(f, now))
                .unwrap_or_else(|| "running".into()),
        ),
    ];
    if let Some(item) = &j.item {
        facts.push(("Inventory item", item.clone()));
        facts.push(("Required", pairs(&j.requires)));
        facts.push(("Set on success", pairs(&j.effects)));
    }
    if !j.message.is_empty() {
        facts.push(("Message", j.message.clone()));
    }
    Ok(html(&JobPage {
        chrome: Some(s.chrome("jobs")),
        id,
        state: job_state(j),
        running,
        facts,
        targets: &j.targets,
        // A running job's output arrives over the stream, from the start.
        outputs: if running { &[] } else { &detail.outputs },
        src: format!("/jobs/{id}/stream"),
        steps: &j.steps,
    }))
}

pub async fn stream(Authed(s, _): Authed, Path(id): Path<u64>) -> Response {
    sse(
        &s,
        "jobs",
        RequestBody::ShowJob(ShowJob { id, follow: true }),
        |body, skipped| match body {
            ResponseBody::JobOutput(o) => {
                let json = serde_json::json!({
                    "node": o.node, "stream": o.stream, "data": o.data, "skipped": skipped,
                });
                Some((Event::default().event("output").data(json.to_string()), 1))
            }
            ResponseBody::JobDetail(d) => {
                Some((Event::default().event("done").data(job_state(&d.job)), 0))
            }
            _ => None,
        },
        None,
    )
    .await
}
