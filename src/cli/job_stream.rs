//! A job's answers as `monit-cli run` and `runbook run|undo` print them
//! until `JobDone`: progress on stderr, output on stdout prefixed by node,
//! the job's record at the end; Ctrl-C cancels the job on configd.

use std::io::Write;
use std::time::Duration;

use super::args::CommonArgs;
use super::exit::{CliError, Exit};
use super::finish_output;
use super::output::{write_answer, write_json, Format};
use crate::net::client::{unexpected, Client, ClientError};
use crate::net::link::Responses;
use crate::net::proto::{
    CancelJob, JobView, OutputStream, RequestBody, ResponseBody, StepState, TargetState,
};
use crate::ops::views::{doing, job_json, job_state};

/// Whose stream it is.
pub enum Stream {
    /// `run`; with `detach`, it ends once the job started.
    Run { detach: bool },
    /// `runbook run|undo`: steps of `total` (0: not known).
    Runbook { total: usize, undoing: bool },
}

pub async fn follow(
    common: &CommonArgs,
    client: &Client,
    mut answers: Responses,
    stream: Stream,
) -> Result<(), CliError> {
    let runbook = matches!(stream, Stream::Runbook { .. });
    // A run's CSV is its output, line by line; a runbook's is its record.
    let json = matches!(common.output, Format::Json | Format::Jsonl)
        || (runbook && common.output == Format::Csv);
    let records = !runbook && matches!(common.output, Format::Jsonl | Format::Csv);
    let what = if runbook { "runbook" } else { "job" };
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    let mut job_id = None;
    let mut cancelled = false;
    let mut records_started = false;
    let mut buf = Vec::with_capacity(1 << 16);
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        let next = tokio::select! {
            _ = &mut interrupt, if !cancelled => {
                cancelled = true;
                // The job belongs to configd: stop it there, and say so.
                let Some(id) = job_id else {
                    drop(answers);
                    // Give the Cancel frame a moment to leave before the link closes.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return Err(CliError::new(Exit::Interrupted, anyhow::anyhow!("interrupted before the {what} started")));
                };
                let cancel = tokio::time::timeout(Duration::from_secs(5), cancel_job(client, id));
                if runbook {
                    // configd undoes the completed steps: follow that to the end.
                    let _ = writeln!(stderr, "interrupted: cancelling job {id}; completed steps will be undone...");
                    if let Ok(Err(e)) = cancel.await {
                        let _ = writeln!(stderr, "cancel: {:#} (try `monit-cli job cancel {id}`)", e.error);
                    }
                    continue;
                }
                let _ = writeln!(stderr, "interrupted: cancelling job {id} on every node...");
                let why = match cancel.await {
                    Ok(Ok(message)) => message,
                    Ok(Err(e)) => format!("job {id} may still run: {:#} (try `monit-cli job cancel {id}`)", e.error),
                    Err(_) => format!("job {id} may still run: configd did not answer (try `monit-cli job cancel {id}`)"),
                };
                return Err(CliError::new(Exit::Interrupted, anyhow::anyhow!("interrupted: {why}")));
            }
            n = answers.next() => n,
        };
        let body = match next {
            Some(Ok(b)) => b,
            Some(Err(e)) => return Err(ClientError::from(e).into()),
            None => {
                let why = format!("configd ended the {what} stream early");
                return Err(ClientError::Lost(why).into());
            }
        };
        match body {
            ResponseBody::JobStarted(s) if matches!(stream, Stream::Run { detach: true }) => {
                // Leaving the stream detaches; the job runs on in configd.
                let fields = serde_json::json!({ "id": s.id, "targets": s.targets });
                let written = write_answer(&mut stdout, common.output, &s.id.to_string(), &fields);
                if !json {
                    let _ = writeln!(
                        stderr,
                        "job {} started on {}; follow it with `monit-cli job show -f {}`",
                        s.id,
                        s.targets.join(", "),
                        s.id
                    );
                }
                return finish_output(written);
            }
            ResponseBody::JobStarted(s) => {
                job_id = Some(s.id);
                let on = if runbook { ":" } else { " on" };
                if !json {
                    let _ = writeln!(stderr, "job {} started{on} {}", s.id, s.targets.join(", "));
                }
            }
            ResponseBody::StepStarted(s) if !json => {
                let _ = writeln!(stderr, "== {} {}", of(&stream, s.index), doing(&s));
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
                let (index, state) = (of(&stream, s.index), s.state.as_str());
                let _ = writeln!(stderr, "== {index} {}: {state}{took}{extra}", s.name);
            }
            ResponseBody::StepStarted(_)
            | ResponseBody::StepProgress(_)
            | ResponseBody::StepDone(_) => {}
            ResponseBody::JobOutput(o) => {
                buf.clear();
                if records {
                    // Each line as a record, stderr's too, as it arrives.
                    let first = !records_started;
                    records_started = true;
                    output_records(&mut buf, common.output, first, job_id, &o);
                    write_live(&mut stdout, &buf)?;
                    continue;
                }
                if json {
                    continue;
                }
                prefix_lines(&mut buf, &o.node, marker(o.stream), &o.data);
                match o.stream {
                    OutputStream::Stdout => write_live(&mut stdout, &buf)?,
                    OutputStream::Stderr => {
                        let _ = stderr.write_all(&buf);
                    }
                }
            }
            ResponseBody::TargetDone(t) => {
                if !json && t.state != TargetState::Ok {
                    let _ = writeln!(stderr, "{}: {} {}", t.node, t.state.as_str(), t.message);
                }
            }
            ResponseBody::JobDone(job) => {
                if json {
                    finish_output(write_json(&mut stdout, common.output, &[job_json(&job)]))?;
                }
                return match stream {
                    Stream::Run { .. } => run_done(&job, json),
                    Stream::Runbook { undoing, .. } => runbook_done(&job, json, undoing),
                };
            }
            ResponseBody::Error(e) => return Err(ClientError::Remote(e).into()),
            other => return Err(unexpected(&other).into()),
        }
    }
}

/// Step `i` of the stream's, as `i/total` when the total is known.
fn of(stream: &Stream, i: u32) -> String {
    match stream {
        Stream::Runbook { total, .. } if *total > 0 => format!("{i}/{total}"),
        _ => i.to_string(),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A run's end: how many targets went well (and the item's new
/// attributes); it failed unless all did.
fn run_done(job: &JobView, json: bool) -> Result<(), CliError> {
    let good = job.targets.iter().filter(|t| t.state == TargetState::Ok);
    let good = good.count();
    if !json {
        let mut tail = String::new();
        if !job.effects.is_empty() {
            let e: Vec<String> = job
                .effects
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let item = job.item.as_deref().unwrap_or_default();
            tail = format!("; {item} set {}", e.join(" "));
        }
        if !job.message.is_empty() {
            tail = format!("{tail}; {}", job.message);
        }
        let (id, state, all) = (job.id, job_state(job), job.targets.len());
        let _ = writeln!(
            std::io::stderr(),
            "job {id} {state}: {good}/{all} target(s) ok{tail}"
        );
    }
    if good == job.targets.len() {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "job {} {}",
        job.id,
        job_state(job)
    )))
}

/// A runbook's end: an undo went well when every step it tried was undone.
fn runbook_done(job: &JobView, json: bool, undoing: bool) -> Result<(), CliError> {
    let state = if !undoing {
        job_state(job)
    } else if job.steps.iter().any(|s| s.state == StepState::UndoFailed) {
        "undo failed"
    } else {
        "undone"
    };
    let said = format!("runbook {} {state} (job {})", job.command, job.id);
    if !json {
        let _ = match job.message.as_str() {
            "" => writeln!(std::io::stderr(), "{said}"),
            message => writeln!(std::io::stderr(), "{said}: {message}"),
        };
    }
    match state {
        "ok" | "undone" => Ok(()),
        _ => Err(CliError::new(Exit::Failed, anyhow::anyhow!("{said}"))),
    }
}

/// Asks configd to stop job `id` on every node; its answer.
pub(crate) async fn cancel_job(client: &Client, id: u64) -> Result<String, CliError> {
    match client.one(RequestBody::CancelJob(CancelJob { id })).await? {
        ResponseBody::Done(d) => Ok(d.message),
        other => Err(unexpected(&other).into()),
    }
}

/// What follows the node name on a line of live output.
pub(crate) fn marker(stream: OutputStream) -> &'static str {
    match stream {
        OutputStream::Stdout => ": ",
        OutputStream::Stderr => " [stderr]: ",
    }
}

/// Writes live output now; a closed pipe (`| head`) is not an error.
pub(crate) fn write_live(out: &mut impl Write, buf: &[u8]) -> Result<(), CliError> {
    match out.write_all(buf).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => finish_output(Err(e)),
        _ => Ok(()),
    }
}

/// Prefixes each line of `data` with the node, into `buf`.
pub(crate) fn prefix_lines(buf: &mut Vec<u8>, node: &str, marker: &str, data: &str) {
    for line in data.split_inclusive('\n') {
        buf.extend_from_slice(node.as_bytes());
        buf.extend_from_slice(marker.as_bytes());
        buf.extend_from_slice(line.as_bytes());
        if !line.ends_with('\n') {
            buf.push(b'\n');
        }
    }
}

/// One output record per line of `o` into `buf`: a JSON line
/// `{job, node, stream, line}`, or a CSV row (after the header when
/// `first`).
pub(crate) fn output_records(
    buf: &mut Vec<u8>,
    format: Format,
    first: bool,
    job: Option<u64>,
    o: &crate::net::proto::JobOutput,
) {
    let stream = match o.stream {
        OutputStream::Stdout => "stdout",
        OutputStream::Stderr => "stderr",
    };
    let lines = o
        .data
        .split_inclusive('\n')
        .map(|l| l.trim_end_matches(['\n', '\r']));
    // Writing to a Vec cannot fail.
    if format == Format::Csv {
        let mut w = csv::Writer::from_writer(&mut *buf);
        if first {
            let _ = w.write_record(["job", "node", "stream", "line"]);
        }
        let job = job.map(|j| j.to_string()).unwrap_or_default();
        for line in lines {
            let _ = w.write_record([job.as_str(), o.node.as_str(), stream, line]);
        }
        let _ = w.flush();
        return;
    }
    for line in lines {
        let record =
            serde_json::json!({"job": job, "node": o.node, "stream": stream, "line": line});
        let _ = serde_json::to_writer(&mut *buf, &record);
        buf.push(b'\n');
    }
}
