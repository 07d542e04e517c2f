//! `monit-cli logs`: history, then (with -f) live lines, filtered by
//! configd; printed as text (coloured on a terminal unless NO_COLOR) or
//! JSON.

use std::io::{IsTerminal, Write};

use super::args::{CommonArgs, LogsArgs};
use super::exit::{CliError, Exit};
use super::output::Format;
use super::{finish_output, Target};
use crate::json_out;
use crate::logs::render::{self, TimeCache};
use crate::net::client::{unexpected, ClientError};
use crate::net::proto::{LogLine, RequestBody, ResponseBody, SubscribeLogs};
use crate::timefmt::now_ms;

/// Batches waiting for the output thread before new ones are dropped.
const WRITER_QUEUE: usize = 64;
/// How soon dropped lines are reported when no new lines come.
const SKIP_REPORT: std::time::Duration = std::time::Duration::from_millis(200);

struct Printer<W: Write> {
    out: W,
    format: Format,
    coloured: bool,
    times: TimeCache,
    json_times: json_out::Times,
    /// JSON of the current batch, written out at once.
    buf: Vec<u8>,
    /// `-o json` without -f: one array.
    first: bool,
}

impl<W: Write> Printer<W> {
    fn line(&mut self, line: &LogLine) -> std::io::Result<()> {
        match self.format {
            Format::Table | Format::Csv => {
                render::write_text(&mut self.out, &mut self.times, line, self.coloured)
            }
            Format::Jsonl => {
                json_out::log_line(&mut self.buf, &mut self.json_times, line);
                self.buf.push(b'\n');
                Ok(())
            }
            Format::Json => {
                self.buf
                    .extend_from_slice(if self.first { b"[\n" } else { b",\n" });
                self.first = false;
                json_out::log_line(&mut self.buf, &mut self.json_times, line);
                Ok(())
            }
        }
    }

    /// Writes out what the batch's lines produced.
    fn batch_done(&mut self) -> std::io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }

    fn end(&mut self) -> std::io::Result<()> {
        self.batch_done()?;
        if self.format == Format::Json {
            self.out
                .write_all(if self.first { b"[]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()
    }
}

pub async fn run(common: &CommonArgs, args: LogsArgs) -> Result<(), CliError> {
    if let Some(r) = &args.regex {
        regex::Regex::new(r).map_err(|e| CliError::usage(format!("bad --regex: {e}")))?;
    }
    let since_ms = args
        .since
        .map(|d| now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
    let follow = args.follow;
    let target = Target::resolve(common)?;
    let client = target.connect("monit-cli logs").await?;
    let mut answers = client
        .request(RequestBody::SubscribeLogs(SubscribeLogs {
            nodes: args.nodes,
            min_level: args.level,
            sources: args.sources,
            grep: args.grep,
            regex: args.regex,
            backlog: args.lines,
            since_ms,
            follow: args.follow,
        }))
        .await?;
    // With -f, `-o json` streams one object per line (an array never ends).
    let format = match common.output {
        Format::Json if args.follow => Format::Jsonl,
        f => f,
    };
    let stdout = std::io::stdout();
    let coloured = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // A writer thread prints; this task keeps reading the connection (and
    // so heartbeating) even when stdout is not read. Batches that do not
    // fit its queue are dropped, counted and reported as a skip line.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<LogLine>>(WRITER_QUEUE);
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut p = Printer {
            out: std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock()),
            format,
            coloured,
            times: TimeCache::default(),
            json_times: json_out::Times::default(),
            buf: Vec::new(),
            first: true,
        };
        while let Some(batch) = rx.blocking_recv() {
            for line in &batch {
                p.line(line)?;
            }
            p.batch_done()?;
        }
        p.end()
    });
    let mut dropped: u64 = 0;
    let mut outcome: Result<(), CliError> = Err(CliError::new(
        Exit::Failed,
        ClientError::Lost("configd ended the log stream".into()),
    ));
    loop {
        let answer = if dropped > 0 {
            // Report drops even when the stream goes quiet.
            match tokio::time::timeout(SKIP_REPORT, answers.next()).await {
                Ok(a) => a,
                Err(_) => {
                    if tx.try_send(vec![render::skipped_marker(dropped)]).is_ok() {
                        dropped = 0;
                    }
                    continue;
                }
            }
        } else {
            answers.next().await
        };
        let Some(answer) = answer else { break };
        let batch = match answer {
            Ok(ResponseBody::LogLines(b)) => b,
            Ok(ResponseBody::Error(e)) => {
                outcome = Err(ClientError::Remote(e).into());
                break;
            }
            Ok(other) => {
                outcome = Err(unexpected(&other).into());
                break;
            }
            Err(e) => {
                outcome = Err(ClientError::from(e).into());
                break;
            }
        };
        let skipped = batch.skipped + dropped;
        let mut lines = Vec::with_capacity(batch.lines.len() + 1);
        if skipped > 0 {
            lines.push(render::skipped_marker(skipped));
        }
        let n = batch.lines.len() as u64;
        lines.extend(batch.lines);
        let done = batch.done;
        // History is never dropped: wait for the writer.
        let sent = if done || !follow {
            tx.send(lines).await.map_err(|_| ())
        } else {
            tx.try_send(lines).map_err(|_| ())
        };
        match sent {
            Ok(()) => dropped = 0,
            Err(()) if writer.is_finished() => break,
            Err(()) => dropped = skipped + n,
        }
        if done {
            outcome = Ok(());
            break;
        }
    }
    drop(tx);
    drop(answers);
    let printed = writer
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the output thread failed")));
    match printed {
        Ok(()) => outcome,
        Err(e) => finish_output(Err(e)),
    }
}
