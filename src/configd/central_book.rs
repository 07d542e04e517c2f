//! What configd knows of central checks (`[[check]]` with `apply` in
//! configd.toml): which nodes they go to, what each node was sent and
//! answered: the checks it runs (declared in the check book beside its
//! local ones) and the ones it refused, with the reason (shown by `query
//! checks`). `central_checks` sends them.

use crate::sync::lock;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::checks::{CheckState, StateType};
use crate::config::CentralCheckRule;
use crate::net::proto::{CentralCheck, CheckDecl, CheckView, ChecksSet};

/// Why a node that does not take central checks gets none.
const TOO_OLD: &str = "the node's monit-noded does not take checks from configd (an older version)";

#[derive(Default)]
struct NodeCentral {
    /// The node said it takes `SetChecks`.
    takes_checks: bool,
    /// Its own checks, as it registered them.
    local: Vec<CheckDecl>,
    /// The set it last answered for.
    sent: Option<Vec<CentralCheck>>,
    accepted: BTreeSet<String>,
    /// Refused check -> reason.
    refused: BTreeMap<String, String>,
    /// One push at a time per node.
    gate: Arc<tokio::sync::Mutex<()>>,
}

/// Every node's central checks, as configd sent them and the nodes took them.
#[derive(Default)]
pub struct CentralBook {
    nodes: Mutex<HashMap<String, NodeCentral>>,
}

/// The checks of `rules` that apply to `node`, as sent.
pub fn matching(
    rules: &[CentralCheckRule],
    node: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<CentralCheck> {
    rules
        .iter()
        .filter(|r| r.apply.matches(node, labels))
        .map(wire)
        .collect()
}

fn wire(rule: &CentralCheckRule) -> CentralCheck {
    let s = &rule.spec;
    CentralCheck {
        name: s.name.clone(),
        command: s.command.clone(),
        interval_ms: s.interval.as_millis() as u64,
        retry_interval_ms: s.retry_interval.as_millis() as u64,
        max_attempts: s.max_attempts,
        timeout_ms: s.timeout.as_millis() as u64,
        freshness_ms: s.freshness.map(|d| d.as_millis() as u64),
    }
}

fn decl(c: &CentralCheck) -> CheckDecl {
    CheckDecl {
        name: c.name.clone(),
        max_attempts: c.max_attempts,
        freshness_ms: c.freshness_ms,
    }
}

impl CentralBook {
    /// A node registered: remembers its own checks, and returns what the
    /// check book should list for it: its own checks and the central ones
    /// it is expected to take (kept, with their state, across reconnects
    /// and restarts; the node's answer settles it).
    pub fn at_registration(
        &self,
        node: &str,
        local: &[CheckDecl],
        takes_checks: bool,
        rules: &[CentralCheckRule],
        labels: &BTreeMap<String, String>,
    ) -> Vec<CheckDecl> {
        let mut nodes = lock(&self.nodes);
        let entry = nodes.entry(node.to_string()).or_default();
        entry.takes_checks = takes_checks;
        entry.local = local.to_vec();
        let mut decls = local.to_vec();
        if takes_checks {
            let own: BTreeSet<&str> = local.iter().map(|d| d.name.as_str()).collect();
            decls.extend(
                matching(rules, node, labels)
                    .iter()
                    .filter(|c| !own.contains(c.name.as_str()))
                    .filter(|c| !entry.refused.contains_key(&c.name))
                    .map(decl),
            );
        }
        decls
    }

    /// Names `origin` on each view and adds the refused definitions (of
    /// `node`, or of all nodes), sorted by node then name.
    pub fn annotate(&self, views: &mut Vec<CheckView>, node: Option<&str>) {
        let nodes = lock(&self.nodes);
        for v in views.iter_mut() {
            let central = nodes
                .get(&v.node)
                .is_some_and(|n| n.accepted.contains(&v.name));
            v.origin = if central { "central" } else { "local" }.to_string();
        }
        let before = views.len();
        for (name, n) in nodes.iter() {
            if node.is_some_and(|want| want != name) {
                continue;
            }
            for (check, reason) in &n.refused {
                views.push(refused_view(name, check, reason));
            }
        }
        if views.len() > before {
            views.sort_by(|a, b| (&a.node, &a.name, &a.origin).cmp(&(&b.node, &b.name, &b.origin)));
        }
    }

    pub fn gate(&self, node: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.nodes)
            .entry(node.to_string())
            .or_default()
            .gate
            .clone()
    }

    /// Whether `node` should be sent `set` now: not if its noded does not
    /// take central checks (they are recorded as refused), nor if it last
    /// answered for the same set (unless `force`).
    pub fn should_send(&self, node: &str, set: &[CentralCheck], force: bool) -> bool {
        let mut nodes = lock(&self.nodes);
        let entry = nodes.entry(node.to_string()).or_default();
        if !entry.takes_checks {
            let refused: BTreeMap<String, String> = set
                .iter()
                .map(|c| (c.name.clone(), TOO_OLD.to_string()))
                .collect();
            if !refused.is_empty() && entry.refused != refused {
                tracing::warn!(%node, checks = refused.len(), "central checks not sent: {TOO_OLD}");
            }
            entry.refused = refused;
            return false;
        }
        force || entry.sent.as_deref() != Some(set)
    }

    /// Records `node`'s answer to `set`; the checks the check book should
    /// list for it now (its own, then the central ones it took).
    pub fn answered(&self, node: &str, set: &[CentralCheck], answer: &ChecksSet) -> Vec<CheckDecl> {
        let mut nodes = lock(&self.nodes);
        let entry = nodes.entry(node.to_string()).or_default();
        for r in &answer.refused {
            if entry.refused.get(&r.name) != Some(&r.reason) {
                tracing::warn!(%node, check = %r.name, "central check refused by the node: {}", r.reason);
            }
        }
        entry.refused = answer
            .refused
            .iter()
            .map(|r| (r.name.clone(), r.reason.clone()))
            .collect();
        entry.accepted = answer.accepted.iter().cloned().collect();
        entry.sent = Some(set.to_vec());
        let mut decls = entry.local.clone();
        let own: BTreeSet<String> = decls.iter().map(|d| d.name.clone()).collect();
        decls.extend(
            set.iter()
                .filter(|c| entry.accepted.contains(&c.name) && !own.contains(&c.name))
                .map(decl),
        );
        decls
    }
}

fn refused_view(node: &str, check: &str, reason: &str) -> CheckView {
    CheckView {
        node: node.to_string(),
        name: check.to_string(),
        state: CheckState::Pending,
        state_type: StateType::Hard,
        attempt: 0,
        max_attempts: 0,
        output: format!("refused by the node: {reason}"),
        long_output: String::new(),
        perfdata: vec![],
        last_check_ms: 0,
        last_change_ms: 0,
        acknowledged: false,
        in_downtime: false,
        flapping: false,
        stale: false,
        origin: "central".into(),
        refused: Some(reason.to_string()),
    }
}
