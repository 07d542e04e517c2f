//! `monit-cli logs`: history, then (with -f) live lines, filtered by
//! configd; printed as text (coloured on a terminal unless NO_COLOR) or
//! JSON.

use std::io::{IsTerminal, Write};

use bytes::BytesMut;

use super::args::{CommonArgs, LogsArgs};
use super::exit::CliError;
use super::finish_output;
use super::output::Format;
use crate::json_out;
use crate::logs::render::{self, TimeCache};
use crate::net::bulk;
use crate::net::client::{decode_answer, ended_early, not_the_answer, Client, ClientError};
use crate::net::dial::Endpoint;
use crate::net::link::Responses;
use crate::net::log_ref::LogLineRef;
use crate::net::proto::{RequestBody, ResponseBody, SubscribeLogs};
use crate::timefmt::now_ms;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

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

    /// A batch: the skip marker first if lines were missed. With `seen`
    /// (after a reconnection) lines printed already are left out.
    fn batch<'a>(
        &mut self,
        out: &mut Vec<u8>,
        skipped: u64,
        lines: impl IntoIterator<Item = LogLineRef<'a>>,
        mut seen: Option<&mut Seen>,
    ) {
        if skipped > 0 {
            self.line(out, &LogLineRef::from(&render::skipped_marker(skipped)));
        }
        for l in lines {
            if let Some(seen) = seen.as_deref_mut() {
                if !seen.first_time(&l) {
                    continue;
                }
            }
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

/// Lines dropped (the writer's queue was full) since the last batch that
/// reached it, and when they are reported if no batch carries the count
/// first. The time is set by the first drop and moved only by a report
/// that did not fit: frames without lines (heartbeat answers, which come
/// every `heartbeat_interval`, maybe more often than `SKIP_REPORT`) must
/// not put the report off.
#[derive(Default)]
struct Dropped {
    /// Counted in the next batch or report (includes earlier drops).
    lines: u64,
    due: Option<Instant>,
    /// The reconnection marker, rendered, while it waits for room: it goes
    /// first in the next chunk that fits, so the connection is read (and
    /// heartbeated) meanwhile.
    marker: Vec<u8>,
}

impl Dropped {
    /// Holds `marker` for the next chunk (a report, if no batch comes).
    fn hold(&mut self, marker: Vec<u8>, now: Instant) {
        self.marker = marker;
        self.due.get_or_insert(now);
    }

    /// `lines` in all are now dropped (the count carried forward).
    fn add(&mut self, lines: u64, now: Instant) {
        self.lines = lines;
        self.due.get_or_insert(now + SKIP_REPORT);
    }

    /// The report did not fit the writer's queue either.
    fn retry_later(&mut self, now: Instant) {
        self.due = Some(now + SKIP_REPORT);
    }

    /// `next`'s output, or `Report` once the report is due, even while
    /// frames keep coming (`next` must be cancel-safe).
    async fn next_or_report<T>(&self, next: impl std::future::Future<Output = T>) -> Step<T> {
        match self.due {
            None => Step::Next(next.await),
            Some(due) if Instant::now() >= due => Step::Report,
            Some(due) => match tokio::time::timeout_at(due, next).await {
                Ok(got) => Step::Next(got),
                Err(_) => Step::Report,
            },
        }
    }
}

/// What `run` does next: handle a frame, or report dropped lines.
enum Step<T> {
    Next(T),
    Report,
}

/// What an answer brought: a page (lines, skipped, done), or the end of
/// the connection.
enum Got {
    Page(u64, u64, bool),
    Lost,
}

/// Lines printed lately, so a subscription made again after a lost
/// connection (which asks for the lines since a little before the newest
/// one printed) prints none twice.
#[derive(Default)]
struct Seen {
    newest_ms: i64,
    /// After a reconnection: lines up to this time may have been printed
    /// (the renewed subscription's history overlaps); later ones are new.
    replayed_until: Option<i64>,
    recent: std::collections::HashSet<u64>,
    order: std::collections::VecDeque<u64>,
}

/// Lines remembered by `Seen`, at most.
const SEEN_KEPT: usize = 100_000;
/// How far before the newest line printed a renewed subscription starts
/// (lines of several nodes arrive slightly out of time order).
const RESUME_SLACK_MS: i64 = 5_000;

impl Seen {
    /// Whether `l` is new (and remembers it). Only lines of the overlap
    /// after a reconnection are compared: two equal lines in one
    /// millisecond (a command printing the same line twice) both print.
    fn first_time(&mut self, l: &LogLineRef) -> bool {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (l.time_ms, l.node, l.level as u8, l.source, l.message).hash(&mut h);
        let key = h.finish();
        let replayed = self.replayed_until.is_some_and(|t| l.time_ms <= t);
        if replayed && self.recent.contains(&key) {
            return false;
        }
        if !self.recent.insert(key) {
            // Remembered already; keep one entry.
            self.newest_ms = self.newest_ms.max(l.time_ms);
            return true;
        }
        self.order.push_back(key);
        if self.order.len() > SEEN_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.recent.remove(&old);
            }
        }
        self.newest_ms = self.newest_ms.max(l.time_ms);
        true
    }
}

/// The one line printed when `logs -f` is connected again.
fn reconnected_marker(lost_ms: i64) -> crate::net::proto::LogLine {
    crate::net::proto::LogLine {
        time_ms: now_ms(),
        node: crate::logs::hub::CONFIGD_NODE.into(),
        level: crate::net::proto::Level::Warn,
        source: "logs".into(),
        message: format!(
            "connection to configd lost for {:.1}s; reconnected, lines logged meanwhile follow",
            (now_ms() - lost_ms) as f64 / 1000.0
        ),
    }
}

/// Sources a line can have: `daemon`, `logs`, `job:ID` (`job:` for all
/// jobs), `check:NAME`, or a prefix ending in `*`.
fn check_source(s: &str) -> Result<(), String> {
    let ok = match s.split_once(':') {
        None => matches!(s, "daemon" | "logs") || s.ends_with('*'),
        Some(("job", id)) => id.is_empty() || id.parse::<u64>().is_ok() || id.ends_with('*'),
        Some(("check", name)) => !name.is_empty(),
        Some(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "unknown --source `{s}`: use daemon, job:ID (job: for every job), check:NAME or logs"
        ))
    }
}

/// configd went away: subscribes again and holds the line that marks the
/// gap for the output (not waiting for it: a stalled reader must not stop
/// the new connection being read); None once nobody reads the output.
async fn follow_back(
    endpoint: &Endpoint,
    subscription: &mut SubscribeLogs,
    seen: &mut Seen,
    renderer: &mut Renderer,
    out: &tokio::sync::mpsc::Sender<Vec<u8>>,
    dropped: &mut Dropped,
) -> Option<(Client, Responses<BytesMut>)> {
    let lost_ms = now_ms();
    let back = resubscribe(endpoint, subscription, seen, lost_ms, out).await?;
    seen.replayed_until = Some(seen.newest_ms);
    let mut marker = Vec::new();
    renderer.line(&mut marker, &LogLineRef::from(&reconnected_marker(lost_ms)));
    dropped.hold(marker, Instant::now());
    Some(back)
}

/// Connects again (capped backoff) and subscribes from a little before the
/// newest line printed; None once nobody reads the output any more.
async fn resubscribe(
    endpoint: &Endpoint,
    subscription: &mut SubscribeLogs,
    seen: &Seen,
    lost_ms: i64,
    out: &tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Option<(Client, Responses<BytesMut>)> {
    let mut backoff = crate::net::backoff::Backoff::new(
        std::time::Duration::from_millis(250),
        std::time::Duration::from_secs(10),
    );
    loop {
        if out.is_closed() {
            return None;
        }
        tokio::time::sleep(backoff.next_delay()).await;
        let Ok(client) = Client::connect(endpoint, "monit-cli logs").await else {
            continue;
        };
        let newest = if seen.newest_ms > 0 {
            seen.newest_ms
        } else {
            lost_ms
        };
        subscription.since_ms = Some(newest - RESUME_SLACK_MS);
        subscription.backlog = SEEN_KEPT as u64;
        let asked = RequestBody::SubscribeLogs(subscription.clone());
        if let Ok(answers) = client.request_raw(asked).await {
            return Some((client, answers));
        }
    }
}

pub async fn run(common: &CommonArgs, args: LogsArgs) -> Result<(), CliError> {
    if let Some(r) = &args.regex {
        regex::Regex::new(r).map_err(|e| CliError::usage(format!("bad --regex: {e}")))?;
    }
    for s in &args.sources {
        check_source(s).map_err(CliError::usage)?;
    }
    let since_ms = args
        .since
        .map(|d| now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
    let follow = args.follow;
    let endpoint = super::endpoint(common)?;
    let mut subscription = SubscribeLogs {
        nodes: args.nodes,
        min_level: args.level,
        sources: args.sources,
        grep: args.grep,
        regex: args.regex,
        backlog: args.lines,
        since_ms,
        follow: args.follow,
    };
    // Held while its answers are read: dropping it ends the connection.
    let mut _client = Client::connect(&endpoint, "monit-cli logs").await?;
    if !subscription.nodes.is_empty() {
        let mut known = Vec::new();
        _client
            .each_node(vec![], |n| known.push(n.name.to_string()))
            .await?;
        let own = [crate::logs::hub::CONFIGD_NODE, crate::tui::demo::LOG_NODE];
        super::check_known_nodes(&subscription.nodes, &known, &own)?;
    }
    let mut answers = _client
        .request_raw(RequestBody::SubscribeLogs(subscription.clone()))
        .await?;
    let mut seen = Seen::default();
    let mut resumed = false;
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
    let mut dropped = Dropped::default();
    let outcome: Result<(), CliError> = loop {
        let next = match dropped.next_or_report(answers.next()).await {
            Step::Next(next) => next,
            // Drops are reported even when no more lines come.
            Step::Report => {
                let mut chunk = dropped.marker.clone();
                renderer.batch(&mut chunk, dropped.lines, [], None);
                match tx.try_send(chunk) {
                    Ok(()) => dropped = Dropped::default(),
                    Err(TrySendError::Full(_)) => dropped.retry_later(Instant::now()),
                    Err(TrySendError::Closed(_)) => break Ok(()),
                }
                continue;
            }
        };
        // The marker held, if any, goes first.
        let mut chunk = dropped.marker.clone();
        let got = match next {
            None if follow => Got::Lost,
            None => break Err(ended_early().into()),
            // configd stopped, restarted or went silent (not a refusal).
            Some(Err(e)) => match ClientError::from(e) {
                e if follow && !e.is_access() => {
                    tracing::debug!("logs connection lost: {e}");
                    Got::Lost
                }
                e => break Err(e.into()),
            },
            Some(Ok(body)) => {
                // Every line is remembered while following, so none prints
                // twice after a reconnection.
                let seen_now = (follow || resumed).then_some(&mut seen);
                chunk.reserve(body.len() + body.len() / 2);
                match bulk::log_lines_page(&body, answers.id()) {
                    Some(b) => {
                        let skipped = b.skipped + dropped.lines;
                        renderer.batch(&mut chunk, skipped, b.lines.iter().copied(), seen_now);
                        Got::Page(b.lines.len() as u64, skipped, b.done)
                    }
                    None => match decode_answer(&body) {
                        Ok(ResponseBody::LogLines(b)) => {
                            let skipped = b.skipped + dropped.lines;
                            let lines = b.lines.iter().map(LogLineRef::from);
                            renderer.batch(&mut chunk, skipped, lines, seen_now);
                            Got::Page(b.lines.len() as u64, skipped, b.done)
                        }
                        Ok(other) => break Err(not_the_answer(other).into()),
                        Err(e) => break Err(e.into()),
                    },
                }
            }
        };
        let (lines, skipped, done) = match got {
            Got::Page(lines, skipped, done) => (lines, skipped, done),
            // configd went away (a restart): follow it back.
            Got::Lost => {
                let back = follow_back(
                    &endpoint,
                    &mut subscription,
                    &mut seen,
                    &mut renderer,
                    &tx,
                    &mut dropped,
                );
                let Some((c, a)) = back.await else {
                    break Ok(());
                };
                (_client, answers, resumed) = (c, a, true);
                continue;
            }
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
            Ok(()) => dropped = Dropped::default(),
            Err(TrySendError::Closed(())) => break Ok(()),
            Err(TrySendError::Full(())) => dropped.add(skipped + lines, Instant::now()),
        }
        if done {
            answers.finished();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::proto::Level;

    fn line(time_ms: i64, message: &str) -> LogLineRef<'_> {
        LogLineRef {
            time_ms,
            node: "web-1",
            level: Level::Info,
            source: "job:1",
            message,
        }
    }

    /// Frames without lines (heartbeat answers) coming more often than
    /// SKIP_REPORT, as with configd's `heartbeat_interval = "100ms"`, do
    /// not put the report off: it falls due SKIP_REPORT after the first
    /// drop (a timeout made afresh for each frame never fired).
    #[tokio::test]
    async fn frequent_frames_without_lines_do_not_put_off_the_skip_report() {
        let (tx, mut frames) = tokio::sync::mpsc::channel::<()>(1);
        let beat = tokio::spawn(async move {
            while tx.send(()).await.is_ok() {
                tokio::time::sleep(SKIP_REPORT / 4).await;
            }
        });
        let started = Instant::now();
        let mut dropped = Dropped::default();
        let mut heard = 0;
        let mut reports = Vec::new();
        while reports.len() < 2 {
            assert!(started.elapsed() < SKIP_REPORT * 20, "never reported");
            match dropped.next_or_report(frames.recv()).await {
                Step::Next(_) => {
                    heard += 1;
                    // More lines dropped meanwhile.
                    dropped.add(heard, Instant::now());
                }
                Step::Report => {
                    reports.push(started.elapsed());
                    // As if the writer's queue were still full.
                    dropped.retry_later(Instant::now());
                }
            }
        }
        beat.abort();
        assert_eq!(dropped.lines, heard);
        assert!(heard >= 4, "{heard} frames");
        assert!(reports[0] >= SKIP_REPORT, "{reports:?}");
        assert!(reports[0] < SKIP_REPORT * 5, "{reports:?}");
        assert!(reports[1] - reports[0] >= SKIP_REPORT, "{reports:?}");
    }

    #[test]
    fn only_the_overlap_after_a_reconnection_is_left_out() {
        let mut seen = Seen::default();
        // A command printing the same line twice in one millisecond.
        assert!(seen.first_time(&line(10, "x")));
        assert!(seen.first_time(&line(10, "x")));
        assert!(seen.first_time(&line(20, "y")));
        // Reconnected: history from before 20 comes again.
        seen.replayed_until = Some(seen.newest_ms);
        assert!(!seen.first_time(&line(10, "x")));
        assert!(!seen.first_time(&line(20, "y")));
        assert!(seen.first_time(&line(15, "logged while away")));
        assert!(seen.first_time(&line(30, "y")));
        assert!(
            seen.first_time(&line(30, "y")),
            "live lines are never left out"
        );
    }
}
