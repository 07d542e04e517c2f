//! The process-wide log pipe: a bounded queue between whatever produces
//! lines (the tracing layer, job output, check changes) and whatever carries
//! them away (noded's shipper, configd's hub). Submitting never blocks: when
//! the queue is full the line is dropped and counted, and the consumer
//! reports the count as a line of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::mpsc;

use crate::net::proto::LogLine;

/// Lines queued before new ones are dropped.
pub const PIPE_LINES: usize = 65_536;

/// The producing end and its drop counter.
pub struct Pipe {
    tx: mpsc::Sender<LogLine>,
    rx: Mutex<Option<mpsc::Receiver<LogLine>>>,
    dropped: AtomicU64,
}

static GLOBAL: OnceLock<Arc<Pipe>> = OnceLock::new();

impl Pipe {
    pub fn new(capacity: usize) -> Arc<Pipe> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Arc::new(Pipe {
            tx,
            rx: Mutex::new(Some(rx)),
            dropped: AtomicU64::new(0),
        })
    }

    /// This process's pipe (created on first use).
    pub fn global() -> Arc<Pipe> {
        GLOBAL.get_or_init(|| Pipe::new(PIPE_LINES)).clone()
    }

    /// The consuming end; `None` once taken.
    pub fn take_receiver(&self) -> Option<mpsc::Receiver<LogLine>> {
        self.rx.lock().ok().and_then(|mut r| r.take())
    }

    /// Queues a line without waiting; `false` (and counted) when full.
    pub fn submit(&self, line: LogLine) -> bool {
        if self.tx.try_send(line).is_ok() {
            return true;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Lines dropped since the last call.
    pub fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }
}
