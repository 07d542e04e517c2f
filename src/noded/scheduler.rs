//! The check scheduler: runs every active check at its interval (at its
//! retry interval while a problem is soft), at most `max_concurrent`
//! plugins at once, first runs spread across the interval so a start or a
//! reload makes no burst. Each result goes out with the soft/hard state the
//! node computed (the node must know it to schedule retries).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::plugin_run::{run_plugin, PluginRun};
use crate::checks::state::Status;
use crate::config::{CheckSpec, NodedConfig};
use crate::net::proto::CheckResult;
use crate::timefmt::now_ms;

struct Entry {
    spec: CheckSpec,
    status: Status,
}

struct Finished {
    index: usize,
    scheduled: Instant,
    latency: Duration,
    run: PluginRun,
}

/// Runs `checks` (passive ones are skipped) until `shutdown`, sending each
/// result to `sink`. A full sink drops the result (counted in the log).
pub async fn run_checks(
    checks: Vec<CheckSpec>,
    max_concurrent: usize,
    sink: mpsc::Sender<CheckResult>,
    shutdown: CancellationToken,
) {
    run_checks_from(checks, max_concurrent, HashMap::new(), sink, shutdown).await;
}

/// Runs the checks of the configuration in force, following reloads: when
/// the checks change, the scheduler starts over with the new set (first
/// runs spread again), each surviving check keeping its soft/hard state.
pub async fn supervise(
    mut config: watch::Receiver<Arc<NodedConfig>>,
    sink: mpsc::Sender<CheckResult>,
    shutdown: CancellationToken,
) {
    let mut statuses = HashMap::new();
    loop {
        let current = config.borrow_and_update().clone();
        let stop = shutdown.child_token();
        let task = run_checks_from(
            current.checks.clone(),
            current.max_concurrent_checks,
            std::mem::take(&mut statuses),
            sink.clone(),
            stop.clone(),
        );
        tokio::pin!(task);
        loop {
            tokio::select! {
                // Only shutdown ends a scheduler on its own.
                _ = &mut task => return,
                changed = config.changed() => {
                    if changed.is_err() {
                        task.await;
                        return;
                    }
                    let new = config.borrow().clone();
                    if new.checks != current.checks || new.max_concurrent_checks != current.max_concurrent_checks {
                        tracing::info!(checks = new.checks.len(), "checks changed: rescheduling");
                        stop.cancel();
                        statuses = task.await;
                        break;
                    }
                }
            }
        }
    }
}

/// Like `run_checks`, starting each check from `statuses` (by name);
/// returns every check's state when stopped.
pub async fn run_checks_from(
    checks: Vec<CheckSpec>,
    max_concurrent: usize,
    mut statuses: HashMap<String, Status>,
    sink: mpsc::Sender<CheckResult>,
    shutdown: CancellationToken,
) -> HashMap<String, Status> {
    let mut entries: Vec<Entry> = checks
        .into_iter()
        .filter(|c| !c.is_passive())
        .map(|spec| Entry {
            status: statuses.remove(&spec.name).unwrap_or_default(),
            spec,
        })
        .collect();
    if entries.is_empty() {
        // Nothing to run: wait to be stopped (by shutdown or a reload).
        shutdown.cancelled().await;
        return HashMap::new();
    }
    let permits = Arc::new(Semaphore::new(max_concurrent.max(1)));
    let (done_tx, mut done_rx) = mpsc::channel::<Finished>(entries.len() + 1);
    let start = Instant::now();
    let n = entries.len() as u32;
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            // Spread: check i of n first runs at i/n of its interval.
            let offset = e.spec.interval.mul_f64(f64::from(i as u32) / f64::from(n));
            Reverse((start + offset, i))
        })
        .collect();
    let mut dropped: u64 = 0;
    tracing::info!(
        checks = entries.len(),
        max_concurrent,
        "check scheduler started"
    );
    loop {
        let next = due.peek().map(|Reverse((at, _))| *at);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = sleep_until(next) => {
                let now = Instant::now();
                while let Some(Reverse((at, i))) = due.peek().copied() {
                    if at > now {
                        break;
                    }
                    due.pop();
                    let Some(e) = entries.get(i) else { continue };
                    let argv = e.spec.command.clone();
                    let timeout = e.spec.timeout;
                    let permits = permits.clone();
                    let done = done_tx.clone();
                    let stop = shutdown.clone();
                    tokio::spawn(tracing::Instrument::in_current_span(async move {
                        let permit = tokio::select! {
                            _ = stop.cancelled() => return,
                            p = permits.acquire_owned() => p,
                        };
                        let Ok(_permit) = permit else { return };
                        let latency = Instant::now().saturating_duration_since(at);
                        let run = tokio::select! {
                            _ = stop.cancelled() => return,
                            r = run_plugin(&argv, timeout) => r,
                        };
                        let _ = done.send(Finished { index: i, scheduled: at, latency, run }).await;
                    }));
                }
            }
            Some(f) = done_rx.recv() => {
                let Some(e) = entries.get_mut(f.index) else { continue };
                let now = now_ms();
                let (status, _) = e.status.step(f.run.state, e.spec.max_attempts, now);
                e.status = status;
                let result = CheckResult {
                    name: e.spec.name.clone(),
                    state: f.run.state,
                    output: f.run.out.output,
                    long_output: f.run.out.long_output,
                    perfdata: f.run.out.perfdata,
                    time_ms: now,
                    duration_ms: f.run.duration.as_millis() as u64,
                    latency_ms: f.latency.as_millis() as u64,
                    max_attempts: e.spec.max_attempts,
                    state_type: status.state_type,
                    attempt: status.attempt,
                };
                tracing::debug!(check = %result.name, state = %result.state, "check result");
                if sink.try_send(result).is_err() {
                    dropped += 1;
                    if dropped.is_power_of_two() {
                        tracing::warn!(dropped, "check results dropped: the queue to configd is full");
                    }
                }
                let every = if status.retrying() { e.spec.retry_interval } else { e.spec.interval };
                let now = Instant::now();
                let mut at = f.scheduled + every;
                if at < now {
                    at = now;
                }
                due.push(Reverse((at, f.index)));
            }
        }
    }
    entries
        .into_iter()
        .map(|e| (e.spec.name, e.status))
        .collect()
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CheckState, StateType};

    fn spec(name: &str, script: &str, interval_ms: u64, retry_ms: u64) -> CheckSpec {
        CheckSpec {
            name: name.into(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            interval: Duration::from_millis(interval_ms),
            retry_interval: Duration::from_millis(retry_ms),
            max_attempts: 3,
            timeout: Duration::from_secs(5),
            freshness: None,
        }
    }

    #[tokio::test]
    async fn retries_at_retry_interval_then_hard_and_spreads_first_runs() {
        let (tx, mut rx) = mpsc::channel(64);
        let stop = CancellationToken::new();
        let started = std::time::Instant::now();
        tokio::spawn(run_checks(
            vec![
                spec("failing", "echo down; exit 2", 60_000, 100),
                spec("second", "echo fine", 1_000, 1_000),
            ],
            4,
            tx,
            stop.clone(),
        ));
        let mut failing = Vec::new();
        let mut second_at = None;
        while failing.len() < 3 || second_at.is_none() {
            let r = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
                .unwrap();
            if r.name == "failing" {
                failing.push((r.state, r.state_type, r.attempt));
            } else if second_at.is_none() {
                second_at = Some(started.elapsed());
            }
        }
        stop.cancel();
        assert_eq!(
            failing,
            vec![
                (CheckState::Critical, StateType::Soft, 1),
                (CheckState::Critical, StateType::Soft, 2),
                (CheckState::Critical, StateType::Hard, 3),
            ]
        );
        // Retried at 100 ms, not at the 60 s interval; the second check's
        // first run waited for its share (1/2) of its 1 s interval.
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(
            second_at.unwrap() >= Duration::from_millis(450),
            "{second_at:?}"
        );
    }
}
