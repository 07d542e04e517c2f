//! Checks declared once in configd.toml (`[[check]]` with `apply`): which
//! nodes they go to, sending each node its whole set (`SetChecks`) when it
//! registers and after a reload, and what each node answered: the checks
//! it runs (declared in the check book beside its local ones) and the ones
//! it refused, with the reason (shown by `query checks`).

use crate::sync::lock;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::state::Shared;
use crate::checks::{CheckState, StateType};
use crate::config::CentralCheckRule;
use crate::net::proto::{CentralCheck, CheckDecl, CheckView, RequestBody, ResponseBody, SetChecks};

/// How long a node has to answer a `SetChecks`.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Nodes sent their set at once after a reload.
const PUSHES_IN_FLIGHT: usize = 512;

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

    fn gate(&self, node: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.nodes)
            .entry(node.to_string())
            .or_default()
            .gate
            .clone()
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

/// Sends `node` its central checks if they differ from what it last
/// answered for (always with `force`), and records its answer.
pub async fn push(shared: Arc<Shared>, node: String, force: bool) {
    let gate = shared.central().gate(&node);
    let _one = gate.lock().await;
    let Some(slot) = shared.registry().get(&node) else {
        return;
    };
    let Some(link) = slot.link() else { return };
    let labels = slot.labels();
    let rules = shared.live().central_checks.clone();
    let set = matching(&rules, &node, &labels);
    {
        let mut nodes = lock(&shared.central().nodes);
        let entry = nodes.entry(node.clone()).or_default();
        if !entry.takes_checks {
            let refused: BTreeMap<String, String> = set
                .iter()
                .map(|c| (c.name.clone(), TOO_OLD.to_string()))
                .collect();
            if !refused.is_empty() && entry.refused != refused {
                tracing::warn!(%node, checks = refused.len(), "central checks not sent: {TOO_OLD}");
            }
            entry.refused = refused;
            return;
        }
        if !force && entry.sent.as_ref() == Some(&set) {
            return;
        }
    }
    let asked = async {
        let mut answers = link
            .request(RequestBody::SetChecks(SetChecks {
                checks: set.clone(),
            }))
            .await
            .map_err(|e| e.to_string())?;
        match answers.next().await {
            Some(Ok(ResponseBody::ChecksSet(a))) => Ok(a),
            Some(Ok(ResponseBody::Error(e))) => Err(format!("the node answered: {e}")),
            Some(Ok(other)) => Err(format!("unexpected answer {other:?}")),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("no answer".into()),
        }
    };
    let answer = match tokio::time::timeout(ANSWER_TIMEOUT, asked).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            tracing::warn!(%node, "cannot send the node its central checks: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!(%node, "the node did not answer its central checks within 10s");
            return;
        }
    };
    let decls = {
        let mut nodes = lock(&shared.central().nodes);
        let entry = nodes.entry(node.clone()).or_default();
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
        entry.sent = Some(set.clone());
        let mut decls = entry.local.clone();
        let own: BTreeSet<String> = decls.iter().map(|d| d.name.clone()).collect();
        decls.extend(
            set.iter()
                .filter(|c| entry.accepted.contains(&c.name) && !own.contains(&c.name))
                .map(decl),
        );
        decls
    };
    tracing::debug!(%node, accepted = answer.accepted.len(), refused = answer.refused.len(), "central checks set");
    let fx = shared
        .checks()
        .declare(&node, &decls, labels, crate::timefmt::now_ms());
    if let Err(e) = super::check_api::apply(&shared, fx, false).await {
        tracing::error!("cannot store the node's checks: {e}");
    }
}

/// After a reload: every connected node whose set changed gets it.
pub async fn push_all(shared: Arc<Shared>) {
    let started = Instant::now();
    let slots = shared.registry().slots();
    let permits = Arc::new(tokio::sync::Semaphore::new(PUSHES_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for slot in slots {
        if slot.link().is_none() {
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let shared = shared.clone();
        let node = slot.name.clone();
        tasks.spawn(async move {
            push(shared, node, false).await;
            drop(permit);
        });
    }
    let nodes = tasks.len();
    while tasks.join_next().await.is_some() {}
    tracing::info!(
        nodes,
        "central checks sent where they changed ({} ms)",
        started.elapsed().as_millis()
    );
}
