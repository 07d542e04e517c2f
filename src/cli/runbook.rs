//! `monit-cli runbook plan|run|undo`: multi-step operations declared in
//! configd.toml, shown before they run, streamed step by step, undone in
//! reverse order when a step fails.

use std::io::Write;
use std::time::Duration;

use super::args::{CommonArgs, RunbookCmd};
use super::connect;
use super::exit::{CliError, Exit};
use super::finish_output;
use super::ops::{cancel_job, one, prefix_lines, remote};
use super::output::{write_json, Format};
use crate::net::client::{unexpected, ClientError};
use crate::net::proto::{
    OutputStream, RequestBody, ResponseBody, RunbookPlan, RunbookRequest, ShowJob, StepState,
};
use crate::ops::views::{doing, job_json, job_state, step_json, steps_text};

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
            follow(common, &client, answers, total, false).await
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
            follow(common, &client, answers, 0, true).await
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

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Prints a runbook job's stream (step headings and progress on stderr,
/// output on stdout prefixed by node) until `JobDone`; Ctrl-C cancels it
/// on configd, which then undoes the completed steps.
async fn follow(
    common: &CommonArgs,
    client: &crate::net::client::Client,
    mut answers: crate::net::link::Responses,
    total: usize,
    undoing: bool,
) -> Result<(), CliError> {
    let json = matches!(common.output, Format::Json | Format::Jsonl | Format::Csv);
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    let mut job_id = None;
    let mut cancelled = false;
    let of = |i: u32| {
        if total > 0 {
            format!("{i}/{total}")
        } else {
            i.to_string()
        }
    };
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        let next = tokio::select! {
            _ = &mut interrupt, if !cancelled => {
                cancelled = true;
                let Some(id) = job_id else {
                    drop(answers);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return Err(CliError::new(Exit::Interrupted, anyhow::anyhow!("interrupted before the runbook started")));
                };
                let _ = writeln!(stderr, "interrupted: cancelling job {id}; completed steps will be undone...");
                if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(5), cancel_job(client, id)).await {
                    let _ = writeln!(stderr, "cancel: {:#} (try `monit-cli job cancel {id}`)", e.error);
                }
                continue;
            }
            n = answers.next() => n,
        };
        let body = match next {
            Some(Ok(b)) => b,
            Some(Err(e)) => return Err(ClientError::from(e).into()),
            None => {
                return Err(
                    ClientError::Lost("configd ended the runbook stream early".into()).into(),
                )
            }
        };
        match body {
            ResponseBody::JobStarted(s) => {
                job_id = Some(s.id);
                if !json {
                    let _ = writeln!(stderr, "job {} started: {}", s.id, s.targets.join(", "));
                }
            }
            ResponseBody::StepStarted(s) if !json => {
                let _ = writeln!(stderr, "== {} {}", of(s.index), doing(&s));
            }
            ResponseBody::StepProgress(p) if !json => {
                let pct = (p.bytes * 100).checked_div(p.total).unwrap_or(100);
                let _ = writeln!(stderr, "   {} / {} ({pct}%)", mib(p.bytes), mib(p.total));
            }
            ResponseBody::StepDone(s) if !json => {
                let took = match (s.started_ms, s.finished_ms) {
                    (Some(a), Some(b)) => format!(" ({:.1}s)", (b - a) as f64 / 1000.0),
                    _ => String::new(),
                };
                let extra = if s.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", s.message)
                };
                let _ = writeln!(
                    stderr,
                    "== {} {}: {}{took}{extra}",
                    of(s.index),
                    s.name,
                    s.state.as_str()
                );
            }
            ResponseBody::StepStarted(_)
            | ResponseBody::StepProgress(_)
            | ResponseBody::StepDone(_) => {}
            ResponseBody::JobOutput(o) => {
                if json {
                    continue;
                }
                let mut buf = Vec::new();
                let (marker, to_err) = match o.stream {
                    OutputStream::Stdout => (": ", false),
                    OutputStream::Stderr => (" [stderr]: ", true),
                };
                prefix_lines(&mut buf, &o.node, marker, &o.data);
                if to_err {
                    let _ = stderr.write_all(&buf);
                } else if let Err(e) = stdout.write_all(&buf).and_then(|_| stdout.flush()) {
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        return finish_output(Err(e));
                    }
                }
            }
            ResponseBody::JobDone(job) => {
                // An undo succeeded when every step it tried was undone.
                let state = if undoing {
                    if job.steps.iter().any(|s| s.state == StepState::UndoFailed) {
                        "undo failed"
                    } else {
                        "undone"
                    }
                } else {
                    job_state(&job)
                };
                if json {
                    finish_output(write_json(&mut stdout, common.output, &[job_json(&job)]))?;
                } else {
                    let _ = writeln!(
                        stderr,
                        "runbook {} {state} (job {}){}",
                        job.command,
                        job.id,
                        if job.message.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", job.message)
                        }
                    );
                }
                return if state == "ok" || state == "undone" {
                    Ok(())
                } else {
                    Err(CliError::new(
                        Exit::Failed,
                        anyhow::anyhow!("runbook {} {state} (job {})", job.command, job.id),
                    ))
                };
            }
            ResponseBody::Error(e) => return Err(remote(e)),
            other => return Err(unexpected(&other).into()),
        }
    }
}
