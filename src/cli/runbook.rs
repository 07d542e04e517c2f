//! `monit-cli runbook plan|run|undo`: multi-step operations declared in
//! configd.toml, shown before they run, streamed step by step, undone in
//! reverse order when a step fails.

use std::io::Write;

use super::args::{CommonArgs, RunbookCmd};
use super::connect;
use super::exit::CliError;
use super::finish_output;
use super::job_stream::{follow, Stream};
use super::ops::one;
use super::output::{write_json, Format};
use crate::net::client::unexpected;
use crate::net::proto::{RequestBody, ResponseBody, RunbookPlan, RunbookRequest, ShowJob};
use crate::ops::views::{step_json, steps_text};

pub async fn runbook(common: &CommonArgs, cmd: RunbookCmd) -> Result<(), CliError> {
    match cmd {
        RunbookCmd::Plan { name, args } => {
            let client = connect(common).await?;
            let plan = fetch_plan(&client, name, args).await?;
            let mut out = std::io::stdout().lock();
            let written = match common.output {
                Format::Json | Format::Jsonl | Format::Csv => {
                    write_json(&mut out, common.output, &[plan_json(&plan)])
                }
                Format::Table | Format::Wide => out.write_all(plan_text(&plan).as_bytes()),
            };
            finish_output(written)
        }
        RunbookCmd::Run { name, args, yes } => {
            let client = connect(common).await?;
            let plan = fetch_plan(&client, name.clone(), args.clone()).await;
            // With --yes a plan that cannot be made is still tried as a run:
            // configd refuses it and records who tried what (an event).
            let (digest, total) = match plan {
                Ok(plan) => {
                    if !yes {
                        let mut err = std::io::stderr();
                        let _ = err.write_all(plan_text(&plan).as_bytes());
                        confirm(&format!("run runbook `{}`?", plan.name)).await?;
                    }
                    (Some(plan.digest), plan.steps.len())
                }
                Err(e) if !yes => return Err(e),
                Err(_) => (None, 0),
            };
            let answers = client
                .request(RequestBody::RunbookRun(RunbookRequest {
                    name,
                    args,
                    digest,
                }))
                .await?;
            let stream = Stream::Runbook {
                total,
                undoing: false,
            };
            follow(common, &client, answers, stream).await
        }
        RunbookCmd::Undo { id, yes } => {
            let client = connect(common).await?;
            if !yes {
                let detail = match one(&client, RequestBody::ShowJob(ShowJob { id, follow: false }))
                    .await?
                {
                    ResponseBody::JobDetail(d) => d,
                    other => return Err(unexpected(&other).into()),
                };
                let mut err = std::io::stderr();
                let _ = err.write_all(steps_text(&detail.job.steps).as_bytes());
                confirm(&format!(
                    "undo the completed steps of job {id} ({}), newest first?",
                    detail.job.command
                ))
                .await?;
            }
            let answers = client
                .request(RequestBody::RunbookUndo(ShowJob { id, follow: false }))
                .await?;
            let stream = Stream::Runbook {
                total: 0,
                undoing: true,
            };
            follow(common, &client, answers, stream).await
        }
    }
}

async fn fetch_plan(
    client: &crate::net::client::Client,
    name: String,
    args: Vec<String>,
) -> Result<RunbookPlan, CliError> {
    match one(
        client,
        RequestBody::RunbookPlan(RunbookRequest {
            name,
            args,
            digest: None,
        }),
    )
    .await?
    {
        ResponseBody::RunbookPlanned(p) => Ok(p),
        other => Err(unexpected(&other).into()),
    }
}

/// Asks on the terminal; without one, says to pass --yes.
async fn confirm(question: &str) -> Result<(), CliError> {
    super::ops::confirm(
        question,
        &format!("{question} needs a confirmation: pass --yes to go ahead without one"),
    )
    .await
}

pub fn plan_json(plan: &RunbookPlan) -> serde_json::Value {
    serde_json::json!({
        "name": plan.name,
        "args": plan.args,
        "digest": plan.digest,
        "steps": plan.steps.iter().map(step_json).collect::<Vec<_>>(),
    })
}

fn plan_text(plan: &RunbookPlan) -> String {
    let mut text = format!(
        "runbook {} {}: {} step(s), {} to run (plan {})\n",
        plan.name,
        plan.args.join(" "),
        plan.steps.len(),
        plan.runs(),
        plan.digest
    );
    text.push_str(&steps_text(&plan.steps));
    text
}
