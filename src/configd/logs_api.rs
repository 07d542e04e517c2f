//! configd's log requests: a node's `LogBatch` goes into the hub and is
//! acknowledged; a client's `SubscribeLogs` gets history, then live lines,
//! filtered server-side, each subscriber in its own task so a slow one
//! slows nobody else.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::reply::{ApiError, ApiResult, Reply};
use crate::logs::hub::Delivery;
use crate::logs::{LogFilter, LogHub, Pipe};
use crate::net::link::Replier;
use crate::net::proto::{Level, LogAck, LogBatch, LogLine, LogLines, ResponseBody, SubscribeLogs};
use crate::timefmt::now_ms;

/// Most lines in one `LogLines` answer.
const FRAME_LINES: usize = 4096;
/// About the most bytes of lines in one answer (the frame limit is 4 MiB).
const FRAME_BYTES: usize = 1 << 20;
/// Frames queued on a subscriber's connection before it is paced.
const LINK_BACKLOG: usize = 8;
/// Most history lines one subscription may ask for.
const MAX_BACKLOG: u64 = 1_000_000;

pub fn ingest(hub: &LogHub, node: &str, batch: LogBatch) -> ApiResult {
    if batch.lines.len() > 100_000 {
        return Err(ApiError::bad_request("at most 100000 lines per batch"));
    }
    let count = batch.lines.len() as u64;
    let stored = hub.ingest(node, batch.stream, batch.first_line, batch.lines);
    super::counters::count_log_lines(stored);
    Ok(Reply::One(ResponseBody::LogAck(LogAck { count })))
}

fn weight(l: &LogLine) -> usize {
    l.message.len() + l.source.len() + l.node.len() + 48
}

fn lines_page(lines: Vec<LogLine>, skipped: u64, done: bool) -> ResponseBody {
    ResponseBody::LogLines(LogLines {
        lines,
        skipped,
        done,
    })
}

async fn send(reply: &Replier, lines: Vec<LogLine>, skipped: u64, done: bool) -> bool {
    reply.send(lines_page(lines, skipped, done)).await.is_ok()
}

/// History, then (with `follow`) live lines until the client cancels.
pub async fn subscribe(
    hub: &LogHub,
    reply: &Replier,
    cancel: CancellationToken,
    s: SubscribeLogs,
) -> ApiResult {
    let filter = Arc::new(LogFilter::compile(&s).map_err(ApiError::bad_request)?);
    let backlog = usize::try_from(s.backlog.min(MAX_BACKLOG)).unwrap_or(0);
    let (chunks, sub) = hub.subscribe(filter.clone(), s.follow);
    let f = filter.clone();
    let history = if backlog == 0 {
        Vec::new()
    } else {
        tokio::task::spawn_blocking(move || crate::logs::hub::history(&chunks, &f, backlog))
            .await
            .map_err(|e| ApiError::internal("could not read the log history", e))?
    };
    // History, in frames of bounded size.
    let mut batch = Vec::new();
    let mut bytes = 0;
    for line in history {
        bytes += weight(&line);
        batch.push(line);
        if batch.len() >= FRAME_LINES || bytes >= FRAME_BYTES {
            reply
                .send(lines_page(std::mem::take(&mut batch), 0, false))
                .await?;
            bytes = 0;
        }
    }
    let Some(sub) = sub else {
        return Ok(Reply::One(lines_page(batch, 0, true)));
    };
    if !batch.is_empty() {
        reply.send(lines_page(batch, 0, false)).await?;
    }
    // Live lines end only when the client cancels or leaves.
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = forward(hub, sub.id, sub.rx, &filter, reply) => {}
    }
    Ok(Reply::Sent)
}

/// Live lines until the subscriber goes away. Lines are encoded straight
/// from the shared batches (no copy per subscriber).
async fn forward(
    hub: &LogHub,
    id: u64,
    mut rx: mpsc::Receiver<Delivery>,
    filter: &LogFilter,
    reply: &Replier,
) {
    let all = filter.passes_all();
    loop {
        let first = match rx.try_recv() {
            Ok(d) => d,
            Err(_) => {
                // Drained: report lines missed since, even if none follow.
                let missed = hub.take_pending(id);
                if missed > 0 && !send(reply, Vec::new(), missed, false).await {
                    return;
                }
                match rx.recv().await {
                    Some(d) => d,
                    None => return,
                }
            }
        };
        let mut held: Vec<Delivery> = Vec::new();
        let mut lines = 0;
        let mut bytes = 0;
        let mut next = Some(first);
        while let Some(d) = next.take() {
            if d.skipped > 0 && !held.is_empty() {
                // Lines were missed after those collected: send these first.
                if !send_held(reply, &held, filter, all).await {
                    return;
                }
                held.clear();
                lines = 0;
                bytes = 0;
            }
            lines += d.chunk.len();
            bytes += d.chunk.iter().map(weight).sum::<usize>();
            held.push(d);
            if lines < FRAME_LINES && bytes < FRAME_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if !send_held(reply, &held, filter, all).await {
            return;
        }
    }
}

async fn send_held(reply: &Replier, held: &[Delivery], filter: &LogFilter, all: bool) -> bool {
    let skipped = held.first().map_or(0, |d| d.skipped);
    let lines: Vec<&LogLine> = held
        .iter()
        .flat_map(|d| d.chunk.iter())
        .filter(|l| all || filter.matches(l))
        .collect();
    if lines.is_empty() && skipped == 0 {
        return true;
    }
    // Pace to what the reader takes: while the connection has a backlog
    // of frames, wait; meanwhile the hub counts what this one misses.
    while reply.link().queued() > LINK_BACKLOG {
        if reply.link().is_closed() {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    match encode_lines(reply.id(), &lines, skipped, reply.link().max_frame()) {
        Some(frame) => reply.link().send_frame(frame).await.is_ok(),
        None => send(reply, lines.into_iter().cloned().collect(), skipped, false).await,
    }
}

/// `Message::Response{id, LogLines{lines, skipped, done: false}}` as a
/// whole frame, encoded from borrowed lines (same bytes as the owned
/// message; `tests` checks). `None` if it does not fit a frame.
pub fn encode_lines(id: u64, lines: &[&LogLine], skipped: u64, max: usize) -> Option<bytes::Bytes> {
    let mut frame = Vec::with_capacity(64 + lines.iter().map(|l| weight(l) + 40).sum::<usize>());
    frame.extend_from_slice(&[0; crate::net::frame::HEADER_LEN]);
    crate::net::bulk::Writer(&mut frame).log_lines(id, lines, skipped, false);
    crate::net::frame::seal(frame, max).ok()
}

/// Feeds configd's own log lines (from this process's pipe) into the hub
/// as node `configd`, until `shutdown`.
pub async fn pump_own_log(
    hub: Arc<LogHub>,
    pipe: Arc<Pipe>,
    mut rx: mpsc::Receiver<LogLine>,
    shutdown: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => return,
            l = rx.recv() => l,
        };
        let Some(first) = first else { return };
        let mut lines = vec![first];
        while lines.len() < FRAME_LINES {
            match rx.try_recv() {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        let lost = pipe.take_dropped();
        if lost > 0 {
            lines.push(LogLine {
                time_ms: now_ms(),
                node: String::new(),
                level: Level::Warn,
                source: "daemon".into(),
                message: format!("{lost} log lines dropped: the log queue was full"),
            });
        }
        // Lines logged in a `node` span (the demo's agents) are that
        // node's; the rest are this process's own.
        if lines.iter().all(|l| l.node.is_empty()) {
            let stored = hub.ingest(crate::logs::hub::own_log_node(), 0, 0, lines);
            super::counters::count_log_lines(stored);
            continue;
        }
        let mut by_node: std::collections::BTreeMap<String, Vec<LogLine>> = Default::default();
        for l in lines {
            let node = if l.node.is_empty() {
                crate::logs::hub::own_log_node().to_string()
            } else {
                l.node.clone()
            };
            by_node.entry(node).or_default().push(l);
        }
        for (node, lines) in by_node {
            let stored = hub.ingest(&node, 0, 0, lines);
            super::counters::count_log_lines(stored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::frame::encode_frame;
    use crate::net::proto::{Message, Response};

    #[test]
    fn borrowed_encoding_matches_the_owned_message() {
        let line = LogLine {
            time_ms: 5,
            node: "a".into(),
            level: Level::Warn,
            source: "job:1".into(),
            message: "m".into(),
        };
        let owned = Message::Response(Response {
            id: 9,
            body: ResponseBody::LogLines(LogLines {
                lines: vec![line.clone(), line.clone()],
                skipped: 2,
                done: false,
            }),
        });
        let want = encode_frame(&owned, 1 << 20).unwrap();
        let got = encode_lines(9, &[&line, &line], 2, 1 << 20).unwrap();
        assert_eq!(got, want);
    }
}
