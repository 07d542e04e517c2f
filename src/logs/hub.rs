//! configd's log hub: a ring of recent lines per node (configd's own log
//! is the node `configd`) and the fan-out to subscribers.
//!
//! Ingest takes one lock, appends the batch (shared, never copied) to the
//! node's ring and offers it to each subscriber's bounded queue with
//! `try_send`. A subscriber whose queue is full misses the batch; the
//! matching lines it missed are counted and handed to it with the next
//! batch it does get, so it can print a "skipped N lines" marker. Ingest
//! never waits for a subscriber.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::filter::LogFilter;
use crate::net::proto::LogLine;
use crate::sync::lock;

/// Batches queued per subscriber before it starts missing lines.
pub const SUBSCRIBER_QUEUE: usize = 32;

/// The node name configd's own lines carry.
pub const CONFIGD_NODE: &str = "configd";

static OWN_LOG_NODE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Names configd's own log lines `node` instead of `configd` (the TUI demo,
/// where one process holds configd and the nodes). Set once, before start.
pub fn set_own_log_node(node: &'static str) {
    let _ = OWN_LOG_NODE.set(node);
}

/// The node name configd's own log lines carry.
pub fn own_log_node() -> &'static str {
    OWN_LOG_NODE.get().copied().unwrap_or(CONFIGD_NODE)
}

/// A batch of lines from one node, shared by ring and subscribers.
pub type Chunk = Arc<Vec<LogLine>>;

/// What a subscriber receives: lines missed just before, then a batch.
pub struct Delivery {
    pub skipped: u64,
    pub chunk: Chunk,
}

#[derive(Default)]
struct Ring {
    /// (global sequence, chunk), oldest first.
    chunks: VecDeque<(u64, Chunk)>,
    lines: usize,
    /// Replay protection: the sender's stream and the next line number.
    stream: u64,
    next_line: u64,
}

struct Subscriber {
    id: u64,
    filter: Arc<LogFilter>,
    tx: mpsc::Sender<Delivery>,
    pending_skip: u64,
}

#[derive(Default)]
struct Inner {
    rings: HashMap<String, Ring>,
    seq: u64,
    subs: Vec<Subscriber>,
    next_sub: u64,
}

pub struct LogHub {
    inner: Mutex<Inner>,
    ring_lines: usize,
}

/// A live subscription: its deliveries, in order.
pub struct Subscription {
    pub id: u64,
    pub rx: mpsc::Receiver<Delivery>,
}

impl LogHub {
    /// A hub keeping about `ring_lines` lines per node.
    pub fn new(ring_lines: usize) -> LogHub {
        LogHub {
            inner: Mutex::new(Inner::default()),
            ring_lines: ring_lines.max(1),
        }
    }

    /// Adds `lines` from `node`, all tagged with `node`. `stream` and
    /// `first_line` number them so a batch re-sent after a lost ack is not
    /// stored twice (`stream` 0: no numbering). Returns lines stored.
    pub fn ingest(
        &self,
        node: &str,
        stream: u64,
        first_line: u64,
        mut lines: Vec<LogLine>,
    ) -> usize {
        let mut guard = lock(&self.inner);
        let inner = &mut *guard;
        let ring = inner.rings.entry(node.to_string()).or_default();
        if stream != 0 {
            if ring.stream == stream && first_line < ring.next_line {
                let seen = usize::try_from(ring.next_line - first_line).unwrap_or(usize::MAX);
                lines.drain(..seen.min(lines.len()));
            }
            ring.stream = stream;
            ring.next_line = ring.next_line.max(first_line + lines.len() as u64);
        }
        if lines.is_empty() {
            return 0;
        }
        for l in &mut lines {
            if l.node != node {
                l.node.clear();
                l.node.push_str(node);
            }
        }
        let n = lines.len();
        let chunk: Chunk = Arc::new(lines);
        ring.lines += n;
        // Keep at least ring_lines lines.
        while let Some((_, front)) = ring.chunks.front() {
            if ring.lines - front.len() >= self.ring_lines {
                ring.lines -= front.len();
                ring.chunks.pop_front();
            } else {
                break;
            }
        }
        inner.seq += 1;
        ring.chunks.push_back((inner.seq, chunk.clone()));
        inner.subs.retain_mut(|sub| {
            if !sub.filter.wants_node(node) {
                return true;
            }
            let delivery = Delivery {
                skipped: sub.pending_skip,
                chunk: chunk.clone(),
            };
            match sub.tx.try_send(delivery) {
                Ok(()) => {
                    sub.pending_skip = 0;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let missed = if sub.filter.passes_all() {
                        n
                    } else {
                        chunk.iter().filter(|l| sub.filter.matches(l)).count()
                    };
                    sub.pending_skip += missed as u64;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        n
    }

    /// The batches that may hold history for `filter` (oldest first) and,
    /// with `follow`, a subscription to every later batch: no line is in
    /// both and none falls between. The lock is held only to copy the
    /// batch handles; `history` does the filtering outside it.
    pub fn subscribe(
        &self,
        filter: Arc<LogFilter>,
        follow: bool,
    ) -> (Vec<Chunk>, Option<Subscription>) {
        let mut inner = lock(&self.inner);
        let mut chunks: Vec<(u64, Chunk)> = inner
            .rings
            .iter()
            .filter(|(node, _)| filter.wants_node(node))
            .flat_map(|(_, r)| r.chunks.iter().map(|(s, c)| (*s, c.clone())))
            .collect();
        let sub = follow.then(|| {
            let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
            inner.next_sub += 1;
            let id = inner.next_sub;
            inner.subs.push(Subscriber {
                id,
                filter,
                tx,
                pending_skip: 0,
            });
            Subscription { id, rx }
        });
        drop(inner);
        chunks.sort_unstable_by_key(|(s, _)| *s);
        (chunks.into_iter().map(|(_, c)| c).collect(), sub)
    }

    /// Lines subscriber `id` missed after everything it has received;
    /// call once its queue is empty (so none of those is still queued).
    pub fn take_pending(&self, id: u64) -> u64 {
        let mut inner = lock(&self.inner);
        inner
            .subs
            .iter_mut()
            .find(|s| s.id == id)
            .map_or(0, |s| std::mem::take(&mut s.pending_skip))
    }

    /// Subscribers currently registered.
    pub fn subscribers(&self) -> usize {
        lock(&self.inner).subs.len()
    }
}

/// The last `backlog` lines of `chunks` (oldest first) that match
/// `filter` and its time window, oldest first.
pub fn history(chunks: &[Chunk], filter: &LogFilter, backlog: usize) -> Vec<LogLine> {
    let mut out = Vec::new();
    'collect: for chunk in chunks.iter().rev() {
        for line in chunk.iter().rev() {
            if out.len() >= backlog {
                break 'collect;
            }
            if filter.matches(line) && filter.in_window(line) {
                out.push(line.clone());
            }
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::proto::{Level, SubscribeLogs};

    fn lines(n: usize, from: usize) -> Vec<LogLine> {
        (from..from + n)
            .map(|i| LogLine {
                time_ms: i as i64,
                node: String::new(),
                level: Level::Info,
                source: "daemon".into(),
                message: format!("line {i}"),
            })
            .collect()
    }

    fn all() -> Arc<LogFilter> {
        Arc::new(LogFilter::compile(&SubscribeLogs::default()).unwrap())
    }

    #[test]
    fn ring_keeps_recent_lines_and_dedups_resends() {
        let hub = LogHub::new(10);
        for i in 0..5 {
            hub.ingest("a", 7, (i * 4) as u64, lines(4, i * 4));
        }
        // A re-sent batch (same stream, old numbers) is dropped.
        assert_eq!(hub.ingest("a", 7, 16, lines(4, 16)), 0);
        let h = history(&hub.subscribe(all(), false).0, &all(), 100);
        assert!(h.len() >= 10 && h.len() <= 14, "{}", h.len());
        assert_eq!(h.last().unwrap().message, "line 19");
        assert!(h.windows(2).all(|w| w[0].time_ms + 1 == w[1].time_ms));
        let h = history(&hub.subscribe(all(), false).0, &all(), 3);
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].message, "line 17");
    }

    #[tokio::test]
    async fn a_full_subscriber_misses_batches_and_is_told() {
        let hub = LogHub::new(1000);
        let (_, sub) = hub.subscribe(all(), true);
        let mut sub = sub.unwrap();
        for i in 0..SUBSCRIBER_QUEUE + 3 {
            hub.ingest("a", 0, 0, lines(2, i * 2));
        }
        for _ in 0..SUBSCRIBER_QUEUE {
            assert_eq!(sub.rx.recv().await.unwrap().skipped, 0);
        }
        hub.ingest("a", 0, 0, lines(1, 10_000));
        let d = sub.rx.recv().await.unwrap();
        assert_eq!(d.skipped, 6);
        assert_eq!(d.chunk[0].message, "line 10000");
        // When ingest stops, a drained subscriber asks for what it missed.
        for i in 0..SUBSCRIBER_QUEUE + 2 {
            hub.ingest("a", 0, 0, lines(2, 20_000 + i * 2));
        }
        for _ in 0..SUBSCRIBER_QUEUE {
            sub.rx.recv().await.unwrap();
        }
        assert_eq!(hub.take_pending(sub.id), 4);
        assert_eq!(hub.take_pending(sub.id), 0);
    }
}
