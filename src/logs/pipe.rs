//! The process-wide log pipe: a bounded queue between whatever produces
//! lines (the tracing layer, job output, check changes) and whatever carries
//! them away (noded's shipper, configd's hub). Submitting never blocks: when
//! the queue is full the line is dropped and counted, and the consumer
//! reports the count as a line of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::mpsc;

use crate::net::proto::{Level, LogLine};
use crate::timefmt::now_ms;

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

/// Submits lines tagged with a source (`job:ID`, `check:NAME`) to the log
/// stream. Cheap to clone; never blocks (a full queue drops the line and
/// the drop is reported downstream).
///
/// ```no_run
/// use monit::logs::LogSender;
/// use monit::net::proto::Level;
/// let job = LogSender::global().with_source("job:42");
/// job.line(Level::Info, "stdout: zone 218 opened");
/// ```
#[derive(Clone)]
pub struct LogSender {
    pipe: Arc<Pipe>,
    source: Arc<str>,
}

impl LogSender {
    /// A sender on this process's pipe, with source `daemon`.
    pub fn global() -> LogSender {
        LogSender::new(Pipe::global())
    }

    pub fn new(pipe: Arc<Pipe>) -> LogSender {
        LogSender {
            pipe,
            source: Arc::from("daemon"),
        }
    }

    /// The same pipe, tagging lines with `source`.
    pub fn with_source(&self, source: &str) -> LogSender {
        LogSender {
            pipe: self.pipe.clone(),
            source: Arc::from(source),
        }
    }

    /// Submits one line; `false` when it was dropped.
    pub fn line(&self, level: Level, message: impl Into<String>) -> bool {
        self.pipe.submit(LogLine {
            time_ms: now_ms(),
            node: String::new(),
            level,
            source: self.source.to_string(),
            message: message.into(),
        })
    }
}

/// Submits a line with any source to this process's pipe (e.g. a check
/// state change: `submit(Level::Warn, "check:load", "ok -> warning")`).
pub fn submit(level: Level, source: &str, message: impl Into<String>) -> bool {
    LogSender::global().with_source(source).line(level, message)
}
