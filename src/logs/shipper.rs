//! noded's remote sink: takes lines off the pipe into a bounded spool,
//! sends them to configd in batches (`LogBatch`, one in flight) and drops
//! them only once configd acknowledges them. While configd is away the
//! spool fills; when it is full the oldest lines go and a line saying how
//! many takes their place. On reconnect the spool is replayed in order.
//! Nothing here ever makes a logging call wait.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pipe::Pipe;
use super::spool::{marker, Spool};
use crate::net::link::LinkHandle;
use crate::net::proto::{LogBatch, LogLine, RequestBody, ResponseBody};
use crate::noded::Uplink;

/// How long configd may take to acknowledge a batch before the link is
/// considered unusable for logs and the batch is sent again later.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct ShipperConfig {
    /// Lines held while configd is away (or slow).
    pub spool_lines: usize,
    /// Of those, lines kept in memory; the rest go to `spool_dir`.
    pub memory_lines: usize,
    /// Where overflow and unsent lines at shutdown are kept.
    pub spool_dir: Option<std::path::PathBuf>,
    /// Most lines per batch.
    pub batch_lines: usize,
    /// Most message bytes per batch (frames stay well under the limit).
    pub batch_bytes: usize,
}

impl Default for ShipperConfig {
    fn default() -> Self {
        ShipperConfig {
            spool_lines: 200_000,
            memory_lines: 20_000,
            spool_dir: None,
            batch_lines: 2000,
            batch_bytes: 1 << 20,
        }
    }
}

/// Runs until `shutdown` (or the pipe closes).
pub async fn run(
    mut rx: mpsc::Receiver<LogLine>,
    pipe: Arc<Pipe>,
    uplink: Uplink,
    config: ShipperConfig,
    shutdown: CancellationToken,
) {
    let stream = rand::random::<u64>() | 1;
    let mut spool = Spool::open(
        config.spool_dir.as_deref(),
        config.memory_lines,
        config.spool_lines,
    );
    if !spool.is_empty() {
        tracing::info!(
            lines = spool.len(),
            "replaying log lines spooled by an earlier run"
        );
    }
    ship(
        &mut rx, &pipe, &uplink, &config, stream, &mut spool, &shutdown,
    )
    .await;
    // Whatever configd has not acknowledged waits on disk for the next run.
    while let Ok(line) = rx.try_recv() {
        spool.push(line);
    }
    spool.persist();
}

async fn ship(
    rx: &mut mpsc::Receiver<LogLine>,
    pipe: &Pipe,
    uplink: &Uplink,
    config: &ShipperConfig,
    stream: u64,
    spool: &mut Spool,
    shutdown: &CancellationToken,
) {
    loop {
        while let Ok(line) = rx.try_recv() {
            spool.push(line);
        }
        let lost = pipe.take_dropped();
        if lost > 0 {
            spool.push(marker(format!(
                "{lost} log lines dropped: the log queue was full"
            )));
        }
        spool.note_drops();
        // Nothing to send, or no link: wait for a line (or the link, if owed).
        let Some(link) = uplink.current().filter(|_| !spool.is_empty()) else {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = uplink.connected(), if !spool.is_empty() => {}
                line = rx.recv() => match line {
                    Some(l) => spool.push(l),
                    None => return,
                },
            }
            continue;
        };
        let (first_line, batch) = spool.take(config.batch_lines, config.batch_bytes);
        let body = RequestBody::LogBatch(LogBatch {
            stream,
            first_line,
            lines: batch.clone(),
        });
        let send = send_batch(&link, body);
        tokio::pin!(send);
        let acked = loop {
            tokio::select! {
                r = &mut send => break r,
                line = rx.recv() => match line {
                    Some(l) => spool.push(l),
                    None => break false,
                },
                _ = shutdown.cancelled() => break false,
            }
        };
        if !acked {
            spool.put_back(batch);
            if shutdown.is_cancelled() {
                return;
            }
            // Wait for a new link rather than hammering a broken one.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wait_closed(&link) => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

async fn wait_closed(link: &LinkHandle) {
    while !link.is_closed() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send_batch(link: &LinkHandle, body: RequestBody) -> bool {
    let ask = async {
        let mut answers = link.request(body).await.ok()?;
        match answers.next().await {
            Some(Ok(ResponseBody::LogAck(_))) => Some(()),
            _ => None,
        }
    };
    matches!(tokio::time::timeout(ACK_TIMEOUT, ask).await, Ok(Some(())))
}
