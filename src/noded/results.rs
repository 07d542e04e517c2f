//! Sends check results up to configd in batches (`CheckResults`, answered
//! with `ResultsAck`). While configd is away, results wait in a bounded
//! queue (oldest dropped first) and go out on reconnect, in order. What is
//! still unacknowledged when noded stops is written to the spool directory
//! and sent first at the next start; configd ignores a result it already
//! holds, so one re-sent after a lost ack does no harm.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
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
/// Unacknowledged results at shutdown, under the spool directory.
pub const SPOOL_FILE: &str = "results.spool";

/// Forwards results from `rx` until `shutdown`; with `spool_dir`, results
/// left from the last run go first and those left now are kept for the next.
pub async fn forward(
    mut rx: mpsc::Receiver<CheckResult>,
    uplink: Uplink,
    shutdown: CancellationToken,
    spool_dir: Option<PathBuf>,
) {
    let mut queue = spool_dir.as_deref().map(load).unwrap_or_default();
    send_until_shutdown(&mut rx, &mut queue, uplink, shutdown).await;
    while let Ok(r) = rx.try_recv() {
        if queue.len() >= QUEUE {
            queue.pop_front();
        }
        queue.push_back(r);
    }
    if let Some(dir) = spool_dir {
        save(&dir, &queue);
    }
}

/// Results a previous run left in `dir` (the file is then removed).
fn load(dir: &Path) -> VecDeque<CheckResult> {
    let path = dir.join(SPOOL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return VecDeque::new(),
        Err(e) => {
            tracing::warn!("cannot read {}: {e}; its results are lost", path.display());
            return VecDeque::new();
        }
    };
    let _ = std::fs::remove_file(&path);
    match rmp_serde::from_slice::<VecDeque<CheckResult>>(&bytes) {
        Ok(mut q) => {
            while q.len() > QUEUE {
                q.pop_front();
            }
            tracing::info!(
                results = q.len(),
                "check results from the last run will be sent first"
            );
            q
        }
        Err(e) => {
            tracing::warn!("unreadable {}: {e}; its results are lost", path.display());
            VecDeque::new()
        }
    }
}

/// Writes `queue` to `dir` (write then rename: never half a file).
fn save(dir: &Path, queue: &VecDeque<CheckResult>) {
    if queue.is_empty() {
        return;
    }
    let path = dir.join(SPOOL_FILE);
    let tmp = dir.join(format!("{SPOOL_FILE}.tmp"));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| rmp_serde::to_vec_named(queue).map_err(std::io::Error::other))
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, &path));
    match written {
        Ok(()) => tracing::info!(
            results = queue.len(),
            "unsent check results kept in {}",
            path.display()
        ),
        Err(e) => tracing::warn!(
            results = queue.len(),
            "cannot keep unsent check results in {}: {e}",
            path.display()
        ),
    }
}

async fn send_until_shutdown(
    rx: &mut mpsc::Receiver<CheckResult>,
    queue: &mut VecDeque<CheckResult>,
    uplink: Uplink,
    shutdown: CancellationToken,
) {
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
            push(queue, r);
        }
        // Nothing to send, or no link: wait for a result (or the link, if owed).
        let Some(link) = uplink.current().filter(|_| !queue.is_empty()) else {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = uplink.connected(), if !queue.is_empty() => {}
                r = rx.recv() => match r {
                    Some(r) => { push(queue, r); }
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
                        if push(queue, r) && lost_in_flight < n {
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
