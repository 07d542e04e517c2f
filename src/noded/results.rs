//! Sends check results up to configd in batches (`CheckResults`, answered
//! with `ResultsAck`). While configd is away, results wait in a bounded
//! queue (oldest dropped first) and go out on reconnect, in order.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::uplink::Uplink;
use crate::net::link::LinkHandle;
use crate::net::proto::{CheckResult, CheckResults, RequestBody, ResponseBody};

/// Results per request.
pub const BATCH: usize = 2000;
/// Results kept while configd is away.
pub const QUEUE: usize = 100_000;
const ACK_TIMEOUT: Duration = Duration::from_secs(15);

/// Forwards results from `rx` until `shutdown`.
pub async fn forward(
    mut rx: mpsc::Receiver<CheckResult>,
    uplink: Uplink,
    shutdown: CancellationToken,
) {
    let mut queue: VecDeque<CheckResult> = VecDeque::new();
    let mut dropped: u64 = 0;
    let mut push = |queue: &mut VecDeque<CheckResult>, r: CheckResult| -> bool {
        let full = queue.len() >= QUEUE;
        if full {
            queue.pop_front();
            dropped += 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "configd unreachable: oldest check results dropped");
            }
        }
        queue.push_back(r);
        full
    };
    loop {
        while let Ok(r) = rx.try_recv() {
            push(&mut queue, r);
        }
        if queue.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = rx.recv() => match r {
                    Some(r) => { push(&mut queue, r); }
                    None => return,
                },
            }
            continue;
        }
        let Some(link) = uplink.current() else {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = uplink.connected() => {}
                r = rx.recv() => match r {
                    Some(r) => { push(&mut queue, r); }
                    None => return,
                },
            }
            continue;
        };
        let n = queue.len().min(BATCH);
        let batch: Vec<CheckResult> = queue.iter().take(n).cloned().collect();
        let send = send_batch(&link, batch);
        tokio::pin!(send);
        let mut lost_in_flight = 0;
        let sent = loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = &mut send => break r,
                r = rx.recv() => match r {
                    Some(r) => {
                        if push(&mut queue, r) && lost_in_flight < n {
                            lost_in_flight += 1;
                        }
                    }
                    None => return,
                },
            }
        };
        match sent {
            Ok(()) => {
                let done = (n - lost_in_flight).min(queue.len());
                queue.drain(..done);
            }
            Err(why) => {
                tracing::debug!("sending check results failed: {why}; will retry");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
}

async fn send_batch(link: &LinkHandle, results: Vec<CheckResult>) -> Result<(), String> {
    let mut answers = link
        .request(RequestBody::CheckResults(CheckResults { results }))
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(ACK_TIMEOUT, answers.next()).await {
        Ok(Some(Ok(ResponseBody::ResultsAck(_)))) => Ok(()),
        Ok(Some(Ok(ResponseBody::Error(e)))) => Err(e.to_string()),
        Ok(Some(Ok(other))) => Err(format!("unexpected answer {other:?}")),
        Ok(Some(Err(e))) => Err(e.to_string()),
        Ok(None) => Err("no answer".into()),
        Err(_) => Err("no answer in time".into()),
    }
}
