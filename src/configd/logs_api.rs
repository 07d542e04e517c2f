//! configd's log requests: a node's `LogBatch` goes into the hub and is
//! acknowledged; a client's `SubscribeLogs` gets history, then live lines,
//! filtered server-side, each subscriber in its own task so a slow one
//! slows nobody else.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::logs::hub::Delivery;
use crate::logs::{LogFilter, LogHub, Pipe};
use crate::net::link::Replier;
use crate::net::proto::{
    ErrorCode, Level, LogAck, LogBatch, LogLine, LogLines, ResponseBody, SubscribeLogs,
};
use crate::timefmt::now_ms;

/// Most lines in one `LogLines` answer.
const FRAME_LINES: usize = 4096;
/// About the most bytes of lines in one answer (the frame limit is 4 MiB).
const FRAME_BYTES: usize = 1 << 20;
/// Most history lines one subscription may ask for.
const MAX_BACKLOG: u64 = 1_000_000;

pub async fn ingest(hub: &LogHub, node: &str, reply: Replier, batch: LogBatch) {
    if batch.lines.len() > 100_000 {
        let _ = reply
            .error(ErrorCode::BadRequest, "at most 100000 lines per batch")
            .await;
        return;
    }
    let count = batch.lines.len() as u64;
    hub.ingest(node, batch.stream, batch.first_line, batch.lines);
    let _ = reply.send(ResponseBody::LogAck(LogAck { count })).await;
}

fn weight(l: &LogLine) -> usize {
    l.message.len() + l.source.len() + l.node.len() + 48
}

async fn send(reply: &Replier, lines: Vec<LogLine>, skipped: u64, done: bool) -> bool {
    reply
        .send(ResponseBody::LogLines(LogLines {
            lines,
            skipped,
            done,
        }))
        .await
        .is_ok()
}

pub async fn subscribe(hub: &LogHub, reply: Replier, cancel: CancellationToken, s: SubscribeLogs) {
    let filter = match LogFilter::compile(&s) {
        Ok(f) => Arc::new(f),
        Err(why) => {
            let _ = reply.error(ErrorCode::BadRequest, why).await;
            return;
        }
    };
    let backlog = usize::try_from(s.backlog.min(MAX_BACKLOG)).unwrap_or(0);
    let (chunks, sub) = hub.subscribe(filter.clone(), s.follow);
    let f = filter.clone();
    let history = if backlog == 0 {
        Vec::new()
    } else {
        match tokio::task::spawn_blocking(move || crate::logs::hub::history(&chunks, &f, backlog))
            .await
        {
            Ok(h) => h,
            Err(_) => {
                let _ = reply
                    .error(ErrorCode::Internal, "could not read the log history")
                    .await;
                return;
            }
        }
    };
    // History, in frames of bounded size.
    let mut batch = Vec::new();
    let mut bytes = 0;
    for line in history {
        bytes += weight(&line);
        batch.push(line);
        if batch.len() >= FRAME_LINES || bytes >= FRAME_BYTES {
            if !send(&reply, std::mem::take(&mut batch), 0, false).await {
                return;
            }
            bytes = 0;
        }
    }
    let Some(sub) = sub else {
        let _ = send(&reply, batch, 0, true).await;
        return;
    };
    if !batch.is_empty() && !send(&reply, batch, 0, false).await {
        return;
    }
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = forward(sub.rx, &filter, &reply) => {}
    }
}

/// Live lines until the subscriber goes away.
async fn forward(mut rx: mpsc::Receiver<Delivery>, filter: &LogFilter, reply: &Replier) {
    let mut out: Vec<LogLine> = Vec::new();
    let mut skipped = 0;
    let mut bytes = 0;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(d) = next.take() {
            if d.skipped > 0 && !out.is_empty() {
                // Lines were missed after those collected: send these first.
                if !send(reply, std::mem::take(&mut out), skipped, false).await {
                    return;
                }
                skipped = 0;
                bytes = 0;
            }
            skipped += d.skipped;
            let all = filter.passes_all();
            for l in d.chunk.iter() {
                if all || filter.matches(l) {
                    bytes += weight(l);
                    out.push(l.clone());
                }
            }
            if out.len() < FRAME_LINES && bytes < FRAME_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if (!out.is_empty() || skipped > 0)
            && !send(reply, std::mem::take(&mut out), skipped, false).await
        {
            return;
        }
        skipped = 0;
        bytes = 0;
    }
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
        hub.ingest(crate::logs::hub::own_log_node(), 0, 0, lines);
    }
}
