//! configd's own counters since start, for the metrics exposition:
//! bumped where the work happens, read by `metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

static RESULTS_INGESTED: AtomicU64 = AtomicU64::new(0);
static NOTIFICATIONS_SENT: AtomicU64 = AtomicU64::new(0);
static LOG_LINES: AtomicU64 = AtomicU64::new(0);

/// Counts check results a node sent (configd-wide, since start).
pub fn count_results(n: usize) {
    RESULTS_INGESTED.fetch_add(n as u64, Ordering::Relaxed);
}

/// Counts a notifier run.
pub fn count_notification() {
    NOTIFICATIONS_SENT.fetch_add(1, Ordering::Relaxed);
}

/// Counts log lines taken into the log hub.
pub fn count_log_lines(n: usize) {
    LOG_LINES.fetch_add(n as u64, Ordering::Relaxed);
}

pub fn results() -> u64 {
    RESULTS_INGESTED.load(Ordering::Relaxed)
}

pub fn notifications() -> u64 {
    NOTIFICATIONS_SENT.load(Ordering::Relaxed)
}

pub fn log_lines() -> u64 {
    LOG_LINES.load(Ordering::Relaxed)
}
