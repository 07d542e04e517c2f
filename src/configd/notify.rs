//! Notifications: each `[[notify]]` is an argv command run with the event
//! in `MONIT_*` environment variables, on hard changes and recoveries,
//! flapping start/stop, acknowledgements and downtime start/end, filtered
//! by state and node labels, repeated every `renotify_interval` while a
//! problem lasts and nothing holds it. Notifications go through a bounded
//! queue to one task that runs commands in their own tasks: a notifier that
//! hangs is killed at its timeout and never delays check processing. Each
//! notification and its exit status is an event.

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::store::{event_row, EventRow, Store};
use crate::checks::tracker::NotifyKind;
use crate::checks::{CheckState, StateType};
use crate::config::NotifySpec;
use crate::net::proto::NodeState;

/// Notifier commands running at once, at most.
const RUNNING: usize = 16;

/// One event to notify about.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub kind: NotifyKind,
    pub node: String,
    /// Empty for a node's own events (`node_down`, `node_up`, its ack).
    pub check: String,
    /// Set for a node's own events: `MONIT_STATE` is `down` or `up`.
    pub node_state: Option<NodeState>,
    pub state: CheckState,
    pub previous_state: Option<CheckState>,
    pub state_type: StateType,
    pub attempt: u32,
    pub max_attempts: u32,
    pub output: String,
    pub long_output: String,
    pub labels: BTreeMap<String, String>,
    pub who: Option<String>,
    pub comment: Option<String>,
    pub time_ms: i64,
}

enum Msg {
    Send(Notification),
    /// New `[[notify]]` rules from a reload.
    Reload(Vec<NotifySpec>),
    /// Current unheld hard problems, for re-notification.
    Renotify(Vec<Notification>),
}

/// Where notifications are queued. Never blocks: a full queue drops (logged).
#[derive(Clone)]
pub struct NotifierHandle {
    tx: Option<mpsc::Sender<Msg>>,
    /// Whether any rule is configured (nothing is queued otherwise).
    active: Arc<AtomicBool>,
}

impl NotifierHandle {
    /// A handle that drops everything (no notifier task).
    pub fn none() -> NotifierHandle {
        NotifierHandle {
            tx: None,
            active: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Replaces the rules (SIGHUP).
    pub fn reload(&self, specs: Vec<NotifySpec>) {
        self.active.store(!specs.is_empty(), Ordering::Relaxed);
        if let Some(tx) = &self.tx {
            if tx.try_send(Msg::Reload(specs)).is_err() {
                tracing::warn!(
                    "notification queue full: the new [[notify]] rules were not applied"
                );
            }
        }
    }

    pub fn send(&self, n: Notification) {
        if !self.queue(Msg::Send(n)) {
            tracing::warn!("notification queue full: a notification was dropped");
        }
    }

    pub fn renotify(&self, problems: Vec<Notification>) {
        self.queue(Msg::Renotify(problems));
    }

    /// Queues `msg` when a rule exists; false when the queue is full.
    fn queue(&self, msg: Msg) -> bool {
        match &self.tx {
            Some(tx) if self.active.load(Ordering::Relaxed) => tx.try_send(msg).is_ok(),
            _ => true,
        }
    }

    pub fn wants_renotify(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }
}

/// Starts the notifier task; it idles until `[[notify]]` rules exist
/// (now or after a reload).
pub fn start(specs: Vec<NotifySpec>, store: Store, shutdown: CancellationToken) -> NotifierHandle {
    let active = Arc::new(AtomicBool::new(!specs.is_empty()));
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(run(specs, rx, store, shutdown));
    NotifierHandle {
        tx: Some(tx),
        active,
    }
}

fn matches(spec: &NotifySpec, n: &Notification) -> bool {
    let any = spec.states.is_empty() && !spec.node_down && !spec.node_up;
    let state_ok = any
        || match n.node_state {
            Some(NodeState::Down) => spec.node_down || spec.states.contains(&CheckState::Critical),
            Some(_) => spec.node_up || spec.states.contains(&CheckState::Ok),
            None => spec.states.contains(&n.state),
        };
    let labels_ok = spec.labels.iter().all(|(k, v)| n.labels.get(k) == Some(v));
    state_ok && labels_ok
}

async fn run(
    specs: Vec<NotifySpec>,
    mut rx: mpsc::Receiver<Msg>,
    store: Store,
    shutdown: CancellationToken,
) {
    let mut specs: Vec<Arc<NotifySpec>> = specs.into_iter().map(Arc::new).collect();
    let permits = Arc::new(Semaphore::new(RUNNING));
    // (notifier, node, check) -> when a problem was last sent.
    let mut last_problem: HashMap<(usize, String, String), i64> = HashMap::new();
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => return,
            m = rx.recv() => match m { Some(m) => m, None => return },
        };
        match msg {
            Msg::Reload(new) => {
                tracing::info!(rules = new.len(), "notification rules reloaded");
                specs = new.into_iter().map(Arc::new).collect();
                // Indices name rules; re-notification timing starts over.
                last_problem.clear();
            }
            Msg::Send(n) => {
                for (i, spec) in specs.iter().enumerate() {
                    if !matches(spec, &n) {
                        continue;
                    }
                    let key = (i, n.node.clone(), n.check.clone());
                    match n.kind {
                        NotifyKind::Problem | NotifyKind::NodeDown => {
                            last_problem.insert(key, n.time_ms);
                        }
                        NotifyKind::Recovery | NotifyKind::NodeUp => {
                            last_problem.remove(&key);
                        }
                        _ => {}
                    }
                    spawn_one(spec.clone(), n.clone(), false, &permits, &store);
                }
            }
            Msg::Renotify(problems) => {
                let now = crate::timefmt::now_ms();
                for (i, spec) in specs.iter().enumerate() {
                    let Some(every) = spec.renotify_interval else {
                        continue;
                    };
                    for n in &problems {
                        if !matches(spec, n) {
                            continue;
                        }
                        let key = (i, n.node.clone(), n.check.clone());
                        let due = match last_problem.get(&key) {
                            Some(at) => now - at >= every.as_millis() as i64,
                            None => true,
                        };
                        if due {
                            last_problem.insert(key, now);
                            spawn_one(spec.clone(), n.clone(), true, &permits, &store);
                        }
                    }
                }
                // Forget problems that are over or held.
                last_problem.retain(|(_, node, check), _| {
                    problems
                        .iter()
                        .any(|p| &p.node == node && &p.check == check)
                });
            }
        }
    }
}

fn spawn_one(
    spec: Arc<NotifySpec>,
    n: Notification,
    renotify: bool,
    permits: &Arc<Semaphore>,
    store: &Store,
) {
    let permits = permits.clone();
    let store = store.clone();
    tokio::spawn(async move {
        let Ok(_permit) = permits.acquire_owned().await else {
            return;
        };
        let outcome = run_command(&spec, &n, renotify).await;
        super::counters::count_notification();
        let message = format!(
            "notifier {}: {}{}: {outcome}",
            spec.name,
            n.kind.as_str(),
            if renotify { " (repeat)" } else { "" }
        );
        let (node, check) = (Some(n.node.as_str()), Some(n.check.as_str()));
        let ev = EventRow {
            state: Some(n.state.as_str().into()),
            previous_state: n.previous_state.map(|s| s.as_str().to_string()),
            ..event_row(
                crate::timefmt::now_ms(),
                "notification",
                node,
                check,
                message,
            )
        };
        tracing::info!(notifier = %spec.name, node = %n.node, check = %n.check, event = n.kind.as_str(), "notification: {outcome}");
        let _ = store.event(ev).await;
    });
}

async fn run_command(spec: &NotifySpec, n: &Notification, renotify: bool) -> String {
    let Some((program, args)) = spec.command.split_first() else {
        return "no command".into();
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .env("MONIT_EVENT", n.kind.as_str())
        .env("MONIT_NOTIFIER", &spec.name)
        .env("MONIT_NODE", &n.node)
        .env("MONIT_CHECK", &n.check)
        .env(
            "MONIT_STATE",
            n.node_state.map_or(n.state.as_str(), NodeState::as_str),
        )
        .env(
            "MONIT_PREVIOUS_STATE",
            n.previous_state.map(|s| s.as_str()).unwrap_or(""),
        )
        .env("MONIT_STATE_TYPE", n.state_type.as_str())
        .env("MONIT_ATTEMPT", n.attempt.to_string())
        .env("MONIT_MAX_ATTEMPTS", n.max_attempts.to_string())
        .env("MONIT_OUTPUT", &n.output)
        .env("MONIT_LONG_OUTPUT", &n.long_output)
        .env("MONIT_TIME", crate::timefmt::rfc3339(n.time_ms))
        .env("MONIT_RENOTIFY", if renotify { "1" } else { "0" })
        .env("MONIT_WHO", n.who.as_deref().unwrap_or(""))
        .env("MONIT_COMMENT", n.comment.as_deref().unwrap_or(""));
    for (k, v) in &n.labels {
        let key = k
            .to_ascii_uppercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        cmd.env(format!("MONIT_LABEL_{key}"), v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return format!("cannot run {program}: {e}"),
    };
    let pgid = child.id().map(|p| p as i32);
    match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(Ok(status)) => match status.code() {
            Some(c) => format!("exit {c}"),
            None => "killed by a signal".into(),
        },
        Ok(Err(e)) => format!("cannot wait for it: {e}"),
        Err(_) => {
            crate::daemon::kill_group(pgid);
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            format!("timed out after {}s and was killed", spec.timeout.as_secs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_state_and_labels() {
        let spec = NotifySpec {
            name: "n".into(),
            command: vec!["true".into()],
            states: vec![CheckState::Critical, CheckState::Ok],
            node_down: false,
            node_up: false,
            labels: BTreeMap::from([("role".to_string(), "web".to_string())]),
            renotify_interval: None,
            timeout: Duration::from_secs(1),
        };
        let mut n = Notification {
            kind: NotifyKind::Problem,
            node: "a".into(),
            check: "c".into(),
            node_state: None,
            state: CheckState::Critical,
            previous_state: None,
            state_type: StateType::Hard,
            attempt: 1,
            max_attempts: 1,
            output: String::new(),
            long_output: String::new(),
            labels: BTreeMap::from([
                ("role".to_string(), "web".to_string()),
                ("dc".to_string(), "x".to_string()),
            ]),
            who: None,
            comment: None,
            time_ms: 0,
        };
        assert!(matches(&spec, &n));
        n.state = CheckState::Warning;
        assert!(!matches(&spec, &n));
        n.state = CheckState::Ok;
        assert!(matches(&spec, &n));
        n.labels.insert("role".into(), "db".into());
        assert!(!matches(&spec, &n));
        // Node events: `critical` takes node_down, `ok` node_up; `down`
        // and `up` name them alone.
        n.labels.insert("role".into(), "web".into());
        n.node_state = Some(NodeState::Down);
        assert!(matches(&spec, &n));
        let only_warning = NotifySpec {
            states: vec![CheckState::Warning],
            ..spec.clone()
        };
        assert!(!matches(&only_warning, &n));
        let only_down = NotifySpec {
            states: vec![],
            node_down: true,
            ..spec.clone()
        };
        assert!(matches(&only_down, &n));
        n.node_state = Some(NodeState::Up);
        assert!(!matches(&only_down, &n));
        n.node_state = None;
        n.state = CheckState::Critical;
        assert!(!matches(&only_down, &n), "a down-only rule takes no check");
    }
}
