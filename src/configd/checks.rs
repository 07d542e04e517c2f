//! The check book: configd's record of every check of every node (state,
//! last output, flapping, acknowledgement, downtime), fed by the nodes'
//! result batches and by operators (ack, downtime, submit). A short mutex
//! guards it (never held across an await); every change goes to the store
//! in one batched write, and notifications to the notifier's queue.

use crate::sync::lock;
use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::notify::{Notification, NotifierHandle};
use super::store::{event_row, CheckRow, CheckWrites, DowntimeRow, EventRow};
use crate::checks::state::Change;
use crate::checks::tracker::{Ack, NotifyKind, Outcome, Tracker};
use crate::checks::{CheckState, PerfData, StateType};
use crate::net::proto::{
    CheckCounts, CheckDecl, CheckResult, CheckView, DowntimeView, NodeState, ProblemView,
};

/// One check, as stored (JSON in `check_state.data`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Entry {
    pub tracker: Tracker,
    pub output: String,
    pub long_output: String,
    pub perfdata: Vec<PerfData>,
    /// Passive checks: stale after this long without a result.
    pub freshness_ms: Option<u64>,
    /// When the check was declared or last had a result (freshness).
    pub fresh_since_ms: i64,
    /// Time of the newest result the node itself sent. One not newer (a
    /// batch re-sent after its ack was lost, or replayed from the node's
    /// spool) is dropped, so it cannot count as one more attempt.
    #[serde(default)]
    pub node_result_ms: i64,
}

/// A node as a problem of its own: down, acknowledged, in downtime.
#[derive(Debug, Clone, Default)]
struct Host {
    down: bool,
    /// When it went down.
    since_ms: i64,
    /// Why (how its connection ended).
    why: String,
    ack: Option<Ack>,
    in_downtime: bool,
    /// `node_down` went out for this outage (so `node_up` follows).
    notified: bool,
}

impl Host {
    fn held(&self) -> bool {
        self.ack.is_some() || self.in_downtime
    }
}

#[derive(Default)]
struct Book {
    /// (node, check) -> entry.
    checks: BTreeMap<(String, String), Entry>,
    /// Nodes that went down or came up since configd started.
    hosts: BTreeMap<String, Host>,
    labels: BTreeMap<String, BTreeMap<String, String>>,
    downtimes: BTreeMap<u64, DowntimeRow>,
    next_downtime: u64,
}

pub struct CheckBook {
    book: Mutex<Book>,
    notifier: NotifierHandle,
}

/// What one change produced, to be written and sent after the lock.
#[derive(Default)]
pub struct Effects {
    pub writes: CheckWrites,
    pub notifications: Vec<Notification>,
}

impl Effects {
    /// Adds `more` after these effects.
    fn merge(&mut self, more: Effects) {
        let (w, m) = (&mut self.writes, more.writes);
        w.rows.extend(m.rows);
        w.deleted.extend(m.deleted);
        w.events.extend(m.events);
        w.downtimes.extend(m.downtimes);
        w.downtimes_deleted.extend(m.downtimes_deleted);
        self.notifications.extend(more.notifications);
    }
}

impl CheckBook {
    pub fn new(
        rows: Vec<CheckRow>,
        downtimes: Vec<DowntimeRow>,
        notifier: NotifierHandle,
    ) -> CheckBook {
        let mut book = Book::default();
        for r in rows {
            match serde_json::from_str::<Entry>(&r.data) {
                Ok(e) => {
                    book.checks.insert((r.node, r.name), e);
                }
                Err(e) => {
                    tracing::warn!(node = %r.node, check = %r.name, "stored check state unreadable, starting it afresh: {e}")
                }
            }
        }
        book.next_downtime = downtimes.iter().map(|d| d.id).max().unwrap_or(0) + 1;
        book.downtimes = downtimes.into_iter().map(|d| (d.id, d)).collect();
        CheckBook {
            book: Mutex::new(book),
            notifier,
        }
    }

    pub fn notifier(&self) -> &NotifierHandle {
        &self.notifier
    }

    /// A node registered with its check list: new checks become pending,
    /// checks it no longer has are forgotten.
    pub fn declare(
        &self,
        node: &str,
        decls: &[CheckDecl],
        labels: BTreeMap<String, String>,
        now_ms: i64,
    ) -> Effects {
        let mut fx = Effects::default();
        let mut book = lock(&self.book);
        book.labels.insert(node.to_string(), labels);
        let existing: Vec<String> = book
            .checks
            .range((node.to_string(), String::new())..)
            .take_while(|((n, _), _)| n == node)
            .map(|((_, c), _)| c.clone())
            .collect();
        for name in existing {
            if !decls.iter().any(|d| d.name == name) {
                book.checks.remove(&(node.to_string(), name.clone()));
                fx.writes.deleted.push((node.to_string(), name));
            }
        }
        for d in decls {
            let key = (node.to_string(), d.name.clone());
            let entry = book.checks.entry(key).or_insert_with(|| Entry {
                tracker: Tracker::new(d.max_attempts),
                output: String::new(),
                fresh_since_ms: now_ms,
                ..Entry::default()
            });
            entry.tracker.max_attempts = d.max_attempts.max(1);
            entry.freshness_ms = d.freshness_ms;
            if entry.fresh_since_ms == 0 {
                entry.fresh_since_ms = now_ms;
            }
            fx.writes.rows.push(row(node, &d.name, entry));
        }
        drop(book);
        fx
    }

    /// Absorbs a node's results; each at most once (see `node_result_ms`).
    pub fn ingest(&self, node: &str, results: Vec<CheckResult>) -> Effects {
        self.absorb(node, results, true)
    }

    /// Absorbs results for `node`'s checks: from the node itself
    /// (`from_node`), or made by configd (passive submits, staleness).
    fn absorb(&self, node: &str, results: Vec<CheckResult>, from_node: bool) -> Effects {
        let mut fx = Effects::default();
        let mut book = lock(&self.book);
        let labels = book.labels.get(node).cloned().unwrap_or_default();
        let mut touched: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // Downtime edges are the sweep's (so each has its notification).
        for r in results {
            let key = (node.to_string(), r.name.clone());
            // Only declared checks (a result for a check removed from the
            // node's config since is dropped).
            let Some(entry) = book.checks.get_mut(&key) else {
                continue;
            };
            if from_node {
                if r.time_ms <= entry.node_result_ms {
                    continue;
                }
                entry.node_result_ms = r.time_ms;
            }
            entry.tracker.max_attempts = r.max_attempts.max(1);
            entry.output = cap(r.output);
            entry.long_output = cap(r.long_output);
            entry.perfdata = r.perfdata;
            entry.perfdata.truncate(crate::checks::plugin::PERFDATA_CAP);
            entry.fresh_since_ms = r.time_ms;
            let outcome = entry.tracker.result(r.state, r.time_ms);
            effects_of(node, &r.name, entry, &outcome, &labels, r.time_ms, &mut fx);
            if seen.insert(r.name.clone()) {
                touched.push(r.name);
            }
        }
        for name in touched {
            if let Some(e) = book.checks.get(&(node.to_string(), name.clone())) {
                fx.writes.rows.push(row(node, &name, e));
            }
        }
        fx
    }

    /// A passive result from an operator.
    pub fn submit(
        &self,
        node: &str,
        check: &str,
        state: CheckState,
        output: &str,
        who: &str,
        now_ms: i64,
    ) -> Result<Effects, String> {
        let exists = lock(&self.book)
            .checks
            .contains_key(&(node.to_string(), check.to_string()));
        if !exists {
            return Err(format!(
                "no check `{check}` on node `{node}`: declare it in the node's noded.toml (a [[check]] without `command` is passive)"
            ));
        }
        let (text, long) = match output.split_once('\n') {
            Some((a, b)) => (a, b),
            None => (output, ""),
        };
        let parsed = crate::checks::plugin::parse(text.as_bytes(), false);
        let max_attempts = self.max_attempts(node, check);
        let result = CheckResult {
            long_output: long.to_string(),
            perfdata: parsed.perfdata,
            ..made_result(check, state, parsed.output, now_ms, max_attempts)
        };
        let mut fx = self.absorb(node, vec![result], false);
        let message = output.chars().take(200).collect();
        fx.writes.events.push(EventRow {
            state: Some(state.as_str().into()),
            who: Some(who.into()),
            ..event_row(now_ms, "passive_result", Some(node), Some(check), message)
        });
        Ok(fx)
    }

    fn max_attempts(&self, node: &str, check: &str) -> u32 {
        lock(&self.book)
            .checks
            .get(&(node.to_string(), check.to_string()))
            .map(|e| e.tracker.max_attempts)
            .unwrap_or(1)
    }

    /// Acknowledges a problem.
    pub fn acknowledge(&self, node: &str, check: &str, ack: Ack) -> Result<Effects, String> {
        let mut fx = Effects::default();
        let mut book = lock(&self.book);
        let labels = book.labels.get(node).cloned().unwrap_or_default();
        let Some(entry) = book.checks.get_mut(&(node.to_string(), check.to_string())) else {
            return Err(format!(
                "no check `{check}` on node `{node}`; see `monit-cli query checks`"
            ));
        };
        let who = ack.who.clone();
        let comment = ack.comment.clone();
        let time = ack.time_ms;
        let sticky = ack.sticky;
        let kind = entry.tracker.acknowledge(ack)?;
        let message = format!(
            "{}acknowledged: {comment}",
            if sticky { "sticky " } else { "" }
        );
        fx.writes.events.push(EventRow {
            state: Some(entry.tracker.status.state.as_str().into()),
            who: Some(who.clone()),
            ..event_row(time, "acknowledgement", Some(node), Some(check), message)
        });
        if let Some(kind) = kind {
            let mut n = notification(kind, node, check, entry, &labels, time);
            n.who = Some(who);
            n.comment = Some(comment);
            fx.notifications.push(n);
        }
        fx.writes.rows.push(row(node, check, entry));
        Ok(fx)
    }

    /// Schedules downtime; returns its id.
    pub fn add_downtime(&self, mut d: DowntimeRow, now_ms: i64) -> (u64, Effects) {
        let mut book = lock(&self.book);
        d.id = book.next_downtime;
        book.next_downtime += 1;
        let id = d.id;
        let mut fx = Effects::default();
        let message = format!(
            "downtime {id} from {} to {}: {}",
            crate::timefmt::rfc3339(d.start_ms),
            crate::timefmt::rfc3339(d.end_ms),
            d.comment
        );
        let (node, check) = (Some(d.node.as_str()), d.check.as_deref());
        fx.writes.events.push(EventRow {
            who: Some(d.who.clone()),
            ..event_row(now_ms, "downtime_scheduled", node, check, message)
        });
        fx.writes.downtimes.push(d.clone());
        book.downtimes.insert(id, d);
        drop(book);
        fx.merge(self.sweep_downtimes(now_ms));
        (id, fx)
    }

    pub fn cancel_downtime(&self, id: u64, who: &str, now_ms: i64) -> Result<Effects, String> {
        let removed = lock(&self.book).downtimes.remove(&id);
        let Some(d) = removed else {
            return Err(format!("no downtime {id}; see `monit-cli downtime list`"));
        };
        let mut fx = self.sweep_downtimes(now_ms);
        fx.writes.downtimes_deleted.push(id);
        let message = format!("downtime {id} cancelled");
        let (node, check) = (Some(d.node.as_str()), d.check.as_deref());
        fx.writes.events.push(EventRow {
            who: Some(who.into()),
            ..event_row(now_ms, "downtime_cancelled", node, check, message)
        });
        Ok(fx)
    }

    pub fn downtimes(&self) -> Vec<DowntimeView> {
        lock(&self.book).downtimes.values().cloned().collect()
    }

    /// Enters and leaves downtime as windows open and close; forgets ended
    /// windows.
    pub fn sweep_downtimes(&self, now_ms: i64) -> Effects {
        let mut fx = Effects::default();
        let mut book = lock(&self.book);
        let ended: Vec<u64> = book
            .downtimes
            .values()
            .filter(|d| d.end_ms <= now_ms)
            .map(|d| d.id)
            .collect();
        for id in ended {
            book.downtimes.remove(&id);
            fx.writes.downtimes_deleted.push(id);
        }
        let keys: Vec<(String, String)> = book.checks.keys().cloned().collect();
        for (node, check) in keys {
            let down = book.downtime_covers(&node, &check, now_ms);
            let labels = book.labels.get(&node).cloned().unwrap_or_default();
            let Some(entry) = book.checks.get_mut(&(node.clone(), check.clone())) else {
                continue;
            };
            if let Some(kind) = entry.tracker.set_downtime(down) {
                let message = format!("downtime {}", if down { "started" } else { "ended" });
                fx.writes.events.push(EventRow {
                    state: Some(entry.tracker.status.state.as_str().into()),
                    ..event_row(now_ms, kind.as_str(), Some(&node), Some(&check), message)
                });
                // The end of downtime is news only for a check in trouble.
                if down || entry.tracker.status.state.is_problem() {
                    fx.notifications
                        .push(notification(kind, &node, &check, entry, &labels, now_ms));
                }
                fx.writes.rows.push(row(&node, &check, entry));
            }
        }
        let names: Vec<String> = book.hosts.keys().cloned().collect();
        for node in names {
            let down = book.downtime_covers_node(&node, now_ms);
            let labels = book.labels.get(&node).cloned().unwrap_or_default();
            let Some(host) = book.hosts.get_mut(&node) else {
                continue;
            };
            host.in_downtime = down;
            // A node still down when its downtime ends (or its ack is
            // removed) is notified then.
            if host.down && !host.notified && !host.held() {
                host.notified = true;
                fx.notifications.push(host_notification(
                    NotifyKind::NodeDown,
                    &node,
                    host,
                    &labels,
                    now_ms,
                ));
            }
        }
        fx
    }

    /// Passive checks not updated within their freshness go unknown "stale".
    pub fn sweep_freshness(&self, now_ms: i64) -> Effects {
        let stale: Vec<(String, String, u32)> = lock(&self.book)
            .checks
            .iter()
            .filter_map(|((n, c), e)| {
                let f = e.freshness_ms? as i64;
                (now_ms - e.fresh_since_ms >= f)
                    .then(|| (n.clone(), c.clone(), e.tracker.max_attempts))
            })
            .collect();
        let mut fx = Effects::default();
        for (node, check, max_attempts) in stale {
            let stale = made_result(
                &check,
                CheckState::Unknown,
                "stale".into(),
                now_ms,
                max_attempts,
            );
            fx.merge(self.absorb(&node, vec![stale], false));
        }
        fx
    }

    /// Hard problems whose notifications are not held (re-notification).
    pub fn unheld_problems(&self, now_ms: i64) -> Vec<Notification> {
        let book = lock(&self.book);
        let labels_of = |n: &str| book.labels.get(n).cloned().unwrap_or_default();
        let hosts = book
            .hosts
            .iter()
            .filter(|(_, h)| h.down && !h.held())
            .map(|(n, h)| host_notification(NotifyKind::NodeDown, n, h, &labels_of(n), now_ms));
        book.checks
            .iter()
            .filter(|(_, e)| e.tracker.is_hard_problem() && !e.tracker.held())
            .map(|((n, c), e)| notification(NotifyKind::Problem, n, c, e, &labels_of(n), now_ms))
            .chain(hosts)
            .collect()
    }

    /// Every check of `node` (all when None), sorted by node then name.
    pub fn views(&self, node: Option<&str>) -> Vec<CheckView> {
        let book = lock(&self.book);
        book.checks
            .iter()
            .filter(|((n, _), _)| node.is_none_or(|want| want == n))
            .map(|((n, c), e)| {
                let mut v = view(n, c, e);
                v.stale = book.is_down(n);
                v
            })
            .collect()
    }

    /// Nodes down (by name), then non-OK checks (most severe first, then
    /// newest change first): what `query problems` and the TUI list.
    pub fn problems(&self, node: Option<&str>) -> Vec<ProblemView> {
        let book = lock(&self.book);
        let wanted = |n: &str| node.is_none_or(|want| want == n);
        let mut out: Vec<ProblemView> = book
            .hosts
            .iter()
            .filter(|(n, h)| h.down && wanted(n))
            .map(|(n, h)| ProblemView {
                node: n.clone(),
                check: None,
                state: "down".into(),
                state_type: "hard".into(),
                since_ms: h.since_ms,
                output: h.why.clone(),
                acknowledged: h.ack.is_some(),
                in_downtime: h.in_downtime,
                flapping: false,
                stale: false,
            })
            .collect();
        let mut checks: Vec<(&(String, String), &Entry)> = book
            .checks
            .iter()
            .filter(|((n, _), e)| wanted(n) && e.tracker.status.state.is_problem())
            .collect();
        let rank = |e: &Entry| {
            let s = crate::model::check::severity(e.tracker.status.state.as_str());
            (s, u8::from(e.tracker.status.state_type != StateType::Hard))
        };
        checks.sort_by(|(ka, a), (kb, b)| {
            rank(a)
                .cmp(&rank(b))
                .then_with(|| {
                    b.tracker
                        .status
                        .last_change_ms
                        .cmp(&a.tracker.status.last_change_ms)
                })
                .then_with(|| ka.cmp(kb))
        });
        out.extend(checks.into_iter().map(|((n, c), e)| {
            let mut output = e.output.clone();
            truncate(&mut output, PROBLEM_OUTPUT);
            ProblemView {
                node: n.clone(),
                check: Some(c.clone()),
                state: e.tracker.status.state.as_str().into(),
                state_type: e.tracker.status.state_type.as_str().into(),
                since_ms: e.tracker.status.last_change_ms,
                output,
                acknowledged: e.tracker.ack.is_some(),
                in_downtime: e.tracker.in_downtime,
                flapping: e.tracker.flapping,
                stale: book.is_down(n),
            }
        }));
        out
    }

    /// `node`'s connection ended: it is down (a problem of its own), and
    /// `node_down` goes out unless acknowledged or in downtime.
    pub fn node_down(&self, node: &str, why: &str, now_ms: i64) -> Effects {
        let mut fx = Effects::default();
        let mut book = lock(&self.book);
        let in_downtime = book.downtime_covers_node(node, now_ms);
        let labels = book.labels.get(node).cloned().unwrap_or_default();
        let host = book.hosts.entry(node.to_string()).or_default();
        if host.down {
            return fx;
        }
        *host = Host {
            down: true,
            since_ms: now_ms,
            why: why.to_string(),
            ack: None,
            in_downtime,
            notified: false,
        };
        if !host.held() {
            host.notified = true;
            fx.notifications.push(host_notification(
                NotifyKind::NodeDown,
                node,
                host,
                &labels,
                now_ms,
            ));
        }
        fx
    }

    /// `node` registered: it is up; `node_up` goes out if `node_down` did.
    /// Its acknowledgement ends with the outage.
    pub fn node_up(&self, node: &str, now_ms: i64) -> Effects {
        let mut fx = Effects::default();
        let mut book = lock(&self.book);
        let labels = book.labels.get(node).cloned().unwrap_or_default();
        let Some(host) = book.hosts.get_mut(node) else {
            return fx;
        };
        let was = std::mem::take(host);
        host.in_downtime = was.in_downtime;
        if was.down && was.notified && !was.in_downtime {
            fx.notifications.push(host_notification(
                NotifyKind::NodeUp,
                node,
                host,
                &labels,
                now_ms,
            ));
        }
        fx
    }

    /// Acknowledges a node that is down.
    pub fn acknowledge_node(&self, node: &str, ack: Ack) -> Result<Effects, String> {
        let mut fx = Effects::default();
        let mut book = lock(&self.book);
        let labels = book.labels.get(node).cloned().unwrap_or_default();
        let Some(host) = book.hosts.get_mut(node).filter(|h| h.down) else {
            return Err(format!(
                "node `{node}` is not down; acknowledge one of its checks as NODE/CHECK (see `monit-cli query problems`)"
            ));
        };
        let message = format!("node acknowledged: {}", ack.comment);
        fx.writes.events.push(EventRow {
            state: Some("down".into()),
            who: Some(ack.who.clone()),
            ..event_row(ack.time_ms, "acknowledgement", Some(node), None, message)
        });
        let mut n = host_notification(
            NotifyKind::Acknowledgement,
            node,
            host,
            &labels,
            ack.time_ms,
        );
        n.who = Some(ack.who.clone());
        n.comment = Some(ack.comment.clone());
        fx.notifications.push(n);
        host.ack = Some(ack);
        Ok(fx)
    }

    /// Removes the acknowledgement of a check (or, with `check` empty, of
    /// a node); its notifications are no longer held by it.
    pub fn unacknowledge(
        &self,
        node: &str,
        check: &str,
        who: &str,
        now_ms: i64,
    ) -> Result<Effects, String> {
        let mut fx = Effects::default();
        let mut book = lock(&self.book);
        let had = if check.is_empty() {
            book.hosts
                .get_mut(node)
                .and_then(|h| h.ack.take())
                .is_some()
        } else {
            let Some(entry) = book.checks.get_mut(&(node.to_string(), check.to_string())) else {
                return Err(format!(
                    "no check `{check}` on node `{node}`; see `monit-cli query checks`"
                ));
            };
            let had = entry.tracker.ack.take().is_some();
            if had {
                fx.writes.rows.push(row(node, check, entry));
            }
            had
        };
        let what = if check.is_empty() {
            format!("node `{node}`")
        } else {
            format!("`{node}/{check}`")
        };
        if !had {
            return Err(format!(
                "{what} is not acknowledged; see `monit-cli query problems`"
            ));
        }
        let check = (!check.is_empty()).then_some(check);
        let message = "acknowledgement removed".to_string();
        fx.writes.events.push(EventRow {
            who: Some(who.into()),
            ..event_row(
                now_ms,
                "acknowledgement_cleared",
                Some(node),
                check,
                message,
            )
        });
        Ok(fx)
    }

    /// Calls `f` on up to `limit` checks in (node, check) order, starting
    /// after `after` (from the first when `None`), under one short lock;
    /// the last key visited, to resume from (`None`: nothing was left).
    pub fn visit_after(
        &self,
        after: Option<&(String, String)>,
        limit: usize,
        mut f: impl FnMut(&str, &str, &Entry),
    ) -> Option<(String, String)> {
        use std::ops::Bound;
        let book = lock(&self.book);
        let start = match after {
            Some(key) => Bound::Excluded(key.clone()),
            None => Bound::Unbounded,
        };
        let mut last = None;
        for ((node, check), entry) in book.checks.range((start, Bound::Unbounded)).take(limit) {
            f(node, check, entry);
            last = Some((node, check));
        }
        last.map(|(n, c)| (n.clone(), c.clone()))
    }

    /// Check counts of every node that has checks, in one pass.
    pub fn counts_by_node(&self) -> std::collections::HashMap<String, CheckCounts> {
        let book = lock(&self.book);
        let mut runs: Vec<(&String, CheckCounts)> = Vec::new();
        // Keys are ordered by node: each node's checks are one run.
        for ((node, _), e) in &book.checks {
            if runs.last().is_none_or(|(n, _)| *n != node) {
                runs.push((node, CheckCounts::default()));
            }
            let Some((_, c)) = runs.last_mut() else {
                continue;
            };
            match e.tracker.status.state {
                CheckState::Ok => c.ok += 1,
                CheckState::Warning => c.warning += 1,
                CheckState::Critical => c.critical += 1,
                CheckState::Unknown => c.unknown += 1,
                CheckState::Pending => c.pending += 1,
            }
        }
        runs.into_iter().map(|(n, c)| (n.clone(), c)).collect()
    }
}

impl Book {
    fn is_down(&self, node: &str) -> bool {
        self.hosts.get(node).is_some_and(|h| h.down)
    }

    /// A downtime of the whole node (no check named) is open now.
    fn downtime_covers_node(&self, node: &str, now_ms: i64) -> bool {
        self.downtimes.values().any(|d| {
            d.node == node && d.check.is_none() && d.start_ms <= now_ms && now_ms < d.end_ms
        })
    }

    fn downtime_covers(&self, node: &str, check: &str, now_ms: i64) -> bool {
        self.downtimes.values().any(|d| {
            d.node == node
                && d.check.as_deref().is_none_or(|c| c == check)
                && d.start_ms <= now_ms
                && now_ms < d.end_ms
        })
    }
}

/// A node's text, bounded as the node bounds a plugin's.
fn cap(mut s: String) -> String {
    truncate(&mut s, crate::checks::plugin::OUTPUT_CAP);
    s
}

/// Output carried by a problem, at most (the check has all of it).
const PROBLEM_OUTPUT: usize = 1024;

/// Cuts `s` to at most `max` bytes, at a character boundary.
pub(crate) fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut i = max;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
}

fn row(node: &str, name: &str, e: &Entry) -> CheckRow {
    CheckRow {
        node: node.to_string(),
        name: name.to_string(),
        state: e.tracker.status.state.as_str().to_string(),
        last_check_ms: e.tracker.status.last_check_ms,
        data: serde_json::to_string(e).unwrap_or_default(),
    }
}

fn view(node: &str, name: &str, e: &Entry) -> CheckView {
    let s = e.tracker.status;
    CheckView {
        node: node.to_string(),
        name: name.to_string(),
        state: s.state,
        state_type: s.state_type,
        attempt: s.attempt,
        max_attempts: e.tracker.max_attempts,
        output: e.output.clone(),
        long_output: e.long_output.clone(),
        perfdata: e.perfdata.clone(),
        last_check_ms: s.last_check_ms,
        last_change_ms: s.last_change_ms,
        acknowledged: e.tracker.ack.is_some(),
        in_downtime: e.tracker.in_downtime,
        flapping: e.tracker.flapping,
        stale: false,
        origin: String::new(),
        refused: None,
    }
}

/// A notification about a node itself (`check` empty).
fn host_notification(
    kind: NotifyKind,
    node: &str,
    h: &Host,
    labels: &BTreeMap<String, String>,
    now_ms: i64,
) -> Notification {
    let (node_state, state, output) = match h.down {
        true => (NodeState::Down, CheckState::Critical, h.why.clone()),
        false => (NodeState::Up, CheckState::Ok, "node up".into()),
    };
    Notification {
        kind,
        node: node.to_string(),
        check: String::new(),
        node_state: Some(node_state),
        state,
        previous_state: None,
        state_type: StateType::Hard,
        attempt: 1,
        max_attempts: 1,
        output,
        long_output: String::new(),
        labels: labels.clone(),
        who: None,
        comment: None,
        time_ms: now_ms,
    }
}

/// A result configd makes itself (passive, or stale): hard at once.
fn made_result(
    name: &str,
    state: CheckState,
    output: String,
    time_ms: i64,
    max_attempts: u32,
) -> CheckResult {
    CheckResult {
        name: name.to_string(),
        state,
        output,
        long_output: String::new(),
        perfdata: vec![],
        time_ms,
        duration_ms: 0,
        latency_ms: 0,
        max_attempts,
        state_type: StateType::Hard,
        attempt: 1,
    }
}

fn notification(
    kind: NotifyKind,
    node: &str,
    check: &str,
    e: &Entry,
    labels: &BTreeMap<String, String>,
    now_ms: i64,
) -> Notification {
    Notification {
        kind,
        node: node.to_string(),
        check: check.to_string(),
        node_state: None,
        state: e.tracker.status.state,
        previous_state: None,
        state_type: e.tracker.status.state_type,
        attempt: e.tracker.status.attempt,
        max_attempts: e.tracker.max_attempts,
        output: e.output.clone(),
        long_output: e.long_output.clone(),
        labels: labels.clone(),
        who: None,
        comment: None,
        time_ms: now_ms,
    }
}

fn effects_of(
    node: &str,
    check: &str,
    entry: &Entry,
    o: &Outcome,
    labels: &BTreeMap<String, String>,
    now_ms: i64,
    fx: &mut Effects,
) {
    let s = entry.tracker.status;
    let ev = |kind: &str, message: String| EventRow {
        state: Some(s.state.as_str().into()),
        previous_state: Some(o.previous.state.as_str().into()),
        ..event_row(now_ms, kind, Some(node), Some(check), message)
    };
    if o.change.is_state_change() {
        let what = match o.change {
            Change::Initial => "first result",
            Change::Soft => "soft problem",
            Change::HardProblem => "hard problem",
            Change::SoftRecovery => "soft recovery",
            Change::HardRecovery => "hard recovery",
            Change::None => "",
        };
        fx.writes.events.push(ev(
            "check_state",
            format!(
                "{what}: {} {} (attempt {}/{}): {}",
                s.state_type.as_str(),
                s.state,
                s.attempt,
                entry.tracker.max_attempts,
                entry.output
            ),
        ));
    }
    if let Some(started) = o.flapping {
        let (kind, what) = match started {
            true => ("flapping_start", "started"),
            false => ("flapping_stop", "stopped"),
        };
        let change = entry.tracker.percent_change;
        let message = format!("flapping {what} ({change:.1}% state change)");
        fx.writes.events.push(ev(kind, message));
    }
    if o.ack_cleared {
        fx.writes.events.push(ev(
            "acknowledgement_cleared",
            "acknowledgement cleared".into(),
        ));
    }
    if let Some(kind) = o.notify {
        let mut n = notification(kind, node, check, entry, labels, now_ms);
        n.previous_state = Some(o.previous.state);
        fx.notifications.push(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(state: CheckState, time_ms: i64) -> CheckResult {
        CheckResult {
            name: "disk".into(),
            state,
            output: format!("{} at {time_ms}", state.as_str()),
            long_output: String::new(),
            perfdata: vec![],
            time_ms,
            duration_ms: 1,
            latency_ms: 0,
            max_attempts: 3,
            state_type: crate::checks::StateType::Soft,
            attempt: 1,
        }
    }

    fn attempt(book: &CheckBook) -> (u32, String) {
        let v = book.views(Some("n1"));
        (v[0].attempt, v[0].output.clone())
    }

    #[test]
    fn a_result_the_node_sends_twice_counts_once() {
        let book = CheckBook::new(vec![], vec![], NotifierHandle::none());
        let decl = CheckDecl {
            name: "disk".into(),
            max_attempts: 3,
            freshness_ms: None,
        };
        book.declare("n1", &[decl], BTreeMap::new(), 1);
        let batch = vec![
            result(CheckState::Critical, 1_000),
            result(CheckState::Critical, 2_000),
        ];
        book.ingest("n1", batch.clone());
        assert_eq!(attempt(&book), (2, "critical at 2000".into()));
        // The same batch again (its ack was lost): nothing changes.
        let fx = book.ingest("n1", batch);
        assert!(fx.writes.events.is_empty() && fx.notifications.is_empty());
        assert_eq!(attempt(&book), (2, "critical at 2000".into()));
        // A newer one counts.
        book.ingest("n1", vec![result(CheckState::Critical, 3_000)]);
        assert_eq!(attempt(&book), (3, "critical at 3000".into()));
        // An operator's passive result is not held to the node's clock.
        book.submit("n1", "disk", CheckState::Ok, "fixed", "op", 500)
            .unwrap();
        assert_eq!(book.views(Some("n1"))[0].state, CheckState::Ok);
    }
}
