//! noded's remote sink: takes lines off the pipe into a bounded spool,
//! sends them to configd in batches (`LogBatch`, one in flight) and drops
//! them only once configd acknowledges them. While configd is away the
//! spool fills; when it is full the oldest lines go and a line saying how
//! many takes their place. On reconnect the spool is replayed in order.
//! Nothing here ever makes a logging call wait.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pipe::Pipe;
use crate::net::link::LinkHandle;
use crate::net::proto::{Level, LogBatch, LogLine, RequestBody, ResponseBody};
use crate::noded::Uplink;
use crate::timefmt::now_ms;

/// How long configd may take to acknowledge a batch before the link is
/// considered unusable for logs and the batch is sent again later.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct ShipperConfig {
    /// Lines held while configd is away (or slow).
    pub spool_lines: usize,
    /// Most lines per batch.
    pub batch_lines: usize,
    /// Most message bytes per batch (frames stay well under the limit).
    pub batch_bytes: usize,
}

impl Default for ShipperConfig {
    fn default() -> Self {
        ShipperConfig {
            spool_lines: 200_000,
            batch_lines: 2000,
            batch_bytes: 1 << 20,
        }
    }
}

struct Spool {
    lines: VecDeque<LogLine>,
    /// Number (in this run) of the line at the front.
    front: u64,
    cap: usize,
    dropped: u64,
}

impl Spool {
    fn push(&mut self, line: LogLine) {
        self.lines.push_back(line);
        while self.lines.len() > self.cap {
            self.lines.pop_front();
            self.front += 1;
            self.dropped += 1;
        }
    }

    /// Puts a batch that was not acknowledged back in front.
    fn put_back(&mut self, batch: Vec<LogLine>) {
        self.front -= batch.len() as u64;
        for line in batch.into_iter().rev() {
            self.lines.push_front(line);
        }
        while self.lines.len() > self.cap {
            self.lines.pop_front();
            self.front += 1;
            self.dropped += 1;
        }
    }

    /// Marks where the oldest lines were dropped.
    fn note_drops(&mut self) {
        if self.dropped > 0 && self.front > 0 {
            let n = std::mem::take(&mut self.dropped);
            self.front -= 1;
            self.lines.push_front(marker(format!(
                "{n} log lines dropped: the spool was full while configd was away"
            )));
        }
    }
}

fn marker(message: String) -> LogLine {
    LogLine {
        time_ms: now_ms(),
        node: String::new(),
        level: Level::Warn,
        source: "daemon".into(),
        message,
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
    let mut spool = Spool {
        lines: VecDeque::new(),
        front: 0,
        cap: config.spool_lines.max(1),
        dropped: 0,
    };
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
        if spool.lines.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                line = rx.recv() => match line {
                    Some(l) => spool.push(l),
                    None => return,
                },
            }
            continue;
        }
        let Some(link) = uplink.current() else {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = uplink.connected() => {}
                line = rx.recv() => match line {
                    Some(l) => spool.push(l),
                    None => return,
                },
            }
            continue;
        };
        let mut n = 0;
        let mut bytes = 0;
        for l in &spool.lines {
            if n >= config.batch_lines || (n > 0 && bytes + l.message.len() > config.batch_bytes) {
                break;
            }
            n += 1;
            bytes += l.message.len() + l.source.len() + 48;
        }
        let first_line = spool.front;
        let batch: Vec<LogLine> = spool.lines.drain(..n).collect();
        spool.front += n as u64;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_drops_oldest_and_says_so() {
        let mut s = Spool {
            lines: VecDeque::new(),
            front: 0,
            cap: 3,
            dropped: 0,
        };
        for i in 0..5 {
            s.push(marker(format!("{i}")));
        }
        s.note_drops();
        let msgs: Vec<_> = s.lines.iter().map(|l| l.message.clone()).collect();
        assert_eq!(
            msgs[0],
            "2 log lines dropped: the spool was full while configd was away"
        );
        assert_eq!(&msgs[1..], ["2", "3", "4"]);
        assert_eq!(s.front, 1);
    }
}
