//! `monit-cli logs`: history, then (with -f) live lines, filtered by
//! configd; printed as text (coloured on a terminal unless NO_COLOR) or
//! JSON.

use std::io::{IsTerminal, Write};

use super::args::{CommonArgs, LogsArgs};
use super::exit::CliError;
use super::output::Format;
use super::{finish_output, Target};
use crate::json_out;
use crate::logs::render::{self, TimeCache};
use crate::net::bulk;
use crate::net::client::{unexpected, ClientError};
use crate::net::direct::Direct;
use crate::net::log_ref::LogLineRef;
use crate::net::proto::{RequestBody, ResponseBody, SubscribeLogs};
use crate::timefmt::now_ms;
use tokio::sync::mpsc::error::TrySendError;

/// Batches waiting for the output thread before new ones are dropped.
const WRITER_QUEUE: usize = 64;
/// How soon dropped lines are reported when no new lines come.
const SKIP_REPORT: std::time::Duration = std::time::Duration::from_millis(200);

/// Turns lines into the bytes printed: text, or JSON.
struct Renderer {
    format: Format,
    coloured: bool,
    times: TimeCache,
    json_times: json_out::Times,
    /// Nothing printed yet (`-o json` opens its array, `-o csv` its header).
    first: bool,
}

impl Renderer {
    fn line(&mut self, out: &mut Vec<u8>, line: &LogLineRef) {
        match self.format {
            Format::Table | Format::Wide => {
                // Writing to a Vec cannot fail.
                let _ = render::write_text(out, &mut self.times, line, self.coloured);
            }
            Format::Csv => {
                let mut w = csv::Writer::from_writer(&mut *out);
                if self.first {
                    self.first = false;
                    let _ = w.write_record(["time", "node", "level", "source", "message"]);
                }
                let time = crate::timefmt::rfc3339_ms(line.time_ms);
                let level = line.level.as_str();
                let _ = w.write_record([&time, line.node, level, line.source, line.message]);
                let _ = w.flush();
            }
            Format::Jsonl => {
                json_out::log_line(out, &mut self.json_times, line);
                out.push(b'\n');
            }
            Format::Json => {
                out.extend_from_slice(if self.first { b"[\n" } else { b",\n" });
                self.first = false;
                json_out::log_line(out, &mut self.json_times, line);
            }
        }
    }

    /// A batch: the skip marker first if lines were missed.
    fn batch<'a>(
        &mut self,
        out: &mut Vec<u8>,
        skipped: u64,
        lines: impl IntoIterator<Item = LogLineRef<'a>>,
    ) {
        if skipped > 0 {
            self.line(out, &LogLineRef::from(&render::skipped_marker(skipped)));
        }
        for l in lines {
            self.line(out, &l);
        }
    }

    fn end(&self, out: &mut Vec<u8>) {
        match self.format {
            Format::Json => out.extend_from_slice(if self.first { b"[]\n" } else { b"\n]\n" }),
            Format::Csv if self.first => out.extend_from_slice(b"time,node,level,source,message\n"),
            _ => {}
        }
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
    let mut direct = Direct::connect(&target.endpoint, "monit-cli logs").await?;
    if !args.nodes.is_empty() {
        let mut known = Vec::new();
        direct
            .nodes(vec![], |n| known.push(n.name.to_string()))
            .await?;
        let own = [crate::logs::hub::CONFIGD_NODE, crate::tui::demo::LOG_NODE];
        super::check_known_nodes(&args.nodes, &known, &own)?;
    }
    let id = direct
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
    let coloured = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut renderer = Renderer {
        format,
        coloured,
        times: TimeCache::default(),
        json_times: json_out::Times::default(),
        first: true,
    };
    // This task reads each batch in place from its frame and renders it; a
    // writer thread prints. This task keeps reading the connection (and so
    // heartbeating) even when stdout is not read: batches that do not fit
    // the writer's queue are dropped, counted and reported as a skip line.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(WRITER_QUEUE);
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        while let Some(chunk) = rx.blocking_recv() {
            out.write_all(&chunk)?;
            out.flush()?;
        }
        Ok(())
    });
    let mut dropped: u64 = 0;
    let outcome: Result<(), CliError> = loop {
        let next = if dropped > 0 {
            // Report drops even when the stream goes quiet.
            match tokio::time::timeout(SKIP_REPORT, direct.next_body()).await {
                Ok(next) => next,
                Err(_) => {
                    let mut chunk = Vec::new();
                    renderer.batch(&mut chunk, dropped, []);
                    if tx.try_send(chunk).is_ok() {
                        dropped = 0;
                    }
                    continue;
                }
            }
        } else {
            direct.next_body().await
        };
        let body = match next {
            Ok(body) => body,
            Err(e) => break Err(e.into()),
        };
        let mut chunk = Vec::with_capacity(body.len() + body.len() / 2);
        let (lines, skipped, done) = match bulk::log_lines_page(&body, id) {
            Some(b) => {
                let skipped = b.skipped + dropped;
                renderer.batch(&mut chunk, skipped, b.lines.iter().copied());
                (b.lines.len() as u64, skipped, b.done)
            }
            None => match direct.settle(&body, id).await {
                Ok(None) => continue,
                Ok(Some(ResponseBody::LogLines(b))) => {
                    let skipped = b.skipped + dropped;
                    renderer.batch(&mut chunk, skipped, b.lines.iter().map(LogLineRef::from));
                    (b.lines.len() as u64, skipped, b.done)
                }
                Ok(Some(ResponseBody::Error(e))) => break Err(ClientError::Remote(e).into()),
                Ok(Some(other)) => break Err(unexpected(&other).into()),
                Err(e) => break Err(e.into()),
            },
        };
        if done {
            renderer.end(&mut chunk);
        }
        // History is never dropped: wait for the writer.
        let sent = if done || !follow {
            tx.send(chunk).await.map_err(|_| TrySendError::Closed(()))
        } else {
            tx.try_send(chunk).map_err(|e| match e {
                TrySendError::Full(_) => TrySendError::Full(()),
                TrySendError::Closed(_) => TrySendError::Closed(()),
            })
        };
        match sent {
            Ok(()) => dropped = 0,
            Err(TrySendError::Closed(())) => break Ok(()),
            Err(TrySendError::Full(())) => dropped = skipped + lines,
        }
        if done {
            break Ok(());
        }
    };
    drop(tx);
    let printed = writer
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the output thread failed")));
    match printed {
        // Also why the queue closed: a closed pipe ends quietly.
        Err(e) => finish_output(Err(e)),
        Ok(()) => outcome,
    }
}
