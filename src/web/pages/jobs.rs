//! Jobs: the list, one job with its targets and output, and the live
//! output of a running job as Server-Sent Events (`job show -f`).

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::sse::Event;
use axum::response::Response;
use serde::Deserialize;

use super::logs::sse;
use super::{client_error, html, query_string, split_filters, when, Chrome, Paging};
use crate::net::client::ClientError;
use crate::net::proto::{JobView, OutputStream, RequestBody, ResponseBody, ShowJob};
use crate::ops::views::job_state;
use crate::timefmt::now_ms;
use crate::web::session::Authed;

#[derive(Deserialize, Default)]
pub struct JobsQuery {
    #[serde(default)]
    filter: String,
    page: Option<usize>,
}

pub struct JobRow {
    pub id: u64,
    pub state: &'static str,
    pub who: String,
    pub started: String,
    pub command: String,
    pub targets: String,
}

impl JobRow {
    fn from(j: &JobView, now: i64) -> JobRow {
        JobRow {
            id: j.id,
            state: job_state(j),
            who: j.who.clone(),
            started: when(j.started_ms, now),
            command: format!("{} {}", j.command, j.args.join(" ")),
            targets: j
                .targets
                .iter()
                .map(|t| format!("{}: {}", t.node, t.state.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    chrome: Option<Chrome>,
    filter: String,
    error: String,
    rows: Vec<JobRow>,
    paging: Paging,
}

pub async fn list(Authed(s, _): Authed, Query(q): Query<JobsQuery>) -> Response {
    let (mut jobs, error) = match s.client.query_jobs(split_filters(&q.filter)).await {
        Ok(j) => (j, String::new()),
        Err(ClientError::Remote(e)) => (Vec::new(), e.message),
        Err(e) => return client_error(&s, "jobs", e),
    };
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    let paging = Paging::new(jobs.len(), q.page, query_string(&[("filter", &q.filter)]));
    let now = now_ms();
    html(&JobsPage {
        chrome: Some(s.chrome("jobs")),
        rows: jobs[paging.range()]
            .iter()
            .map(|j| JobRow::from(j, now))
            .collect(),
        filter: q.filter,
        error,
        paging,
    })
}

pub struct TargetRow {
    pub node: String,
    pub state: &'static str,
    pub exit: String,
    pub duration: String,
    pub message: String,
}

pub struct OutputBlock {
    pub node: String,
    pub output: String,
    pub truncated: bool,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    chrome: Option<Chrome>,
    id: u64,
    state: &'static str,
    running: bool,
    facts: Vec<(&'static str, String)>,
    targets: Vec<TargetRow>,
    outputs: Vec<OutputBlock>,
    src: String,
    /// A runbook's steps (empty for a command's job).
    steps: Vec<super::runbooks::StepRow>,
}

pub async fn show(Authed(s, _): Authed, Path(id): Path<u64>) -> Response {
    let detail = match s.client.show_job(id).await {
        Ok(d) => d,
        Err(e) => return client_error(&s, "jobs", e),
    };
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
        let pairs = |m: &std::collections::BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        facts.push(("Inventory item", item.clone()));
        facts.push(("Required", pairs(&j.requires)));
        facts.push(("Set on success", pairs(&j.effects)));
    }
    if !j.message.is_empty() {
        facts.push(("Message", j.message.clone()));
    }
    html(&JobPage {
        chrome: Some(s.chrome("jobs")),
        id,
        state: job_state(j),
        running,
        facts,
        targets: j
            .targets
            .iter()
            .map(|t| TargetRow {
                node: t.node.clone(),
                state: t.state.as_str(),
                exit: t.exit_code.map(|c| c.to_string()).unwrap_or("-".into()),
                duration: t
                    .duration_ms
                    .map(|d| format!("{:.1}s", d as f64 / 1000.0))
                    .unwrap_or_default(),
                message: t.message.clone(),
            })
            .collect(),
        // A running job's output arrives over the stream, from the start.
        outputs: if running {
            Vec::new()
        } else {
            detail
                .outputs
                .iter()
                .map(|o| OutputBlock {
                    node: o.node.clone(),
                    output: o.output.clone(),
                    truncated: o.truncated,
                })
                .collect()
        },
        src: format!("/jobs/{id}/stream"),
        steps: super::runbooks::step_rows(&j.steps),
    })
}

pub async fn stream(Authed(s, _): Authed, Path(id): Path<u64>) -> Response {
    let answers = match s
        .client
        .request(RequestBody::ShowJob(ShowJob { id, follow: true }))
        .await
    {
        Ok(a) => a,
        Err(e) => return client_error(&s, "jobs", e),
    };
    sse(
        answers,
        |body, skipped| match body {
            ResponseBody::JobOutput(o) => {
                let stream = match o.stream {
                    OutputStream::Stdout => "stdout",
                    OutputStream::Stderr => "stderr",
                };
                let json = serde_json::json!({
                    "node": o.node, "stream": stream, "data": o.data, "skipped": skipped,
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
}
