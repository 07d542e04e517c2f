//! What configd does with each request, after checking it against the
//! identity of the connection that sent it. Each request runs in its own
//! task (see `net::link`); answers go back through its `Replier`.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use super::check_api;
use super::registry::NodeSlot;
use super::server::Shared;
use super::store::EventRow;
use super::tokens::Identity;
use crate::filter::Filter;
use crate::net::link::{Handler, Incoming, LinkEnd, LinkHandle, Replier};
use crate::net::proto::{
    CheckCounts, ErrorCode, ErrorFrame, NodeState, NodeView, NodesPage, PeerKind, QueryNodes,
    Registered, Registration, RequestBody, ResponseBody, Role,
};
use crate::timefmt::now_ms;
use crate::views::node_matches;

/// Nodes per `Nodes` page, and about the most bytes of them, so no
/// answer nears the frame limit.
const PAGE: usize = 1000;
const PAGE_BYTES: usize = 1 << 20;

/// One connection's view of configd.
pub struct Api {
    shared: Arc<Shared>,
    identity: Identity,
    peer: SocketAddr,
    session: u64,
    link: LinkHandle,
    /// Set once this connection registered a node.
    node: OnceLock<Arc<NodeSlot>>,
}

impl Handler for Api {
    async fn handle(self: Arc<Self>, req: Incoming) {
        // Each request runs in its own task, inside its connection's
        // session span (see `net::link`): its lines name who asked.
        self.serve(req).await
    }

    fn heard(&self) {
        if let Some(slot) = self.node.get() {
            slot.touch(now_ms());
        }
    }
}

impl Api {
    async fn serve(self: Arc<Self>, req: Incoming) {
        if let Err(refusal) = authorize(&self.identity, &req.body) {
            tracing::warn!("refused request: {}", refusal.message);
            if let RequestBody::Run(run) = &req.body {
                super::audit::refused(
                    &self.shared,
                    &self.identity,
                    run,
                    None,
                    super::audit::Cause::Role,
                    &refusal.message,
                )
                .await;
            }
            let _ = req.reply.send(ResponseBody::Error(refusal)).await;
            return;
        }
        let reply = req.reply;
        match req.body {
            RequestBody::Register(reg) => self.register(reply, reg).await,
            RequestBody::QueryNodes(q) => self.query_nodes(reply, q).await,
            RequestBody::CheckResults(b) => {
                check_api::results(&self.shared, &self.identity.name, reply, b).await
            }
            RequestBody::QueryChecks(q) => check_api::query_checks(&self.shared, reply, q).await,
            RequestBody::QueryEvents(q) => check_api::query_events(&self.shared, reply, q).await,
            RequestBody::QueryProblems(q) => {
                check_api::query_problems(&self.shared, reply, q).await
            }
            RequestBody::Acknowledge(r) => {
                check_api::acknowledge(&self.shared, &self.identity, reply, r).await
            }
            RequestBody::Downtime(r) => {
                check_api::downtime(&self.shared, &self.identity, reply, r).await
            }
            RequestBody::ListDowntimes(_) => check_api::list_downtimes(&self.shared, reply).await,
            RequestBody::CancelDowntime(r) => {
                check_api::cancel_downtime(&self.shared, &self.identity, reply, r).await
            }
            RequestBody::Submit(r) => {
                check_api::submit(&self.shared, &self.identity, reply, r).await
            }
            RequestBody::LogBatch(b) => {
                super::logs_api::ingest(&self.shared.logs, &self.identity.name, reply, b).await
            }
            RequestBody::SubscribeLogs(s) => {
                super::logs_api::subscribe(&self.shared.logs, reply, req.cancel, s).await
            }
            RequestBody::RunCommand(_) => {
                let _ = reply
                    .error(
                        ErrorCode::BadRequest,
                        "configd does not run commands itself",
                    )
                    .await;
            }
            body => {
                super::ops_api::handle(self.shared.clone(), &self.identity, reply, req.cancel, body)
                    .await
            }
        }
    }

    pub fn new(shared: Arc<Shared>, identity: Identity, peer: SocketAddr, link: LinkHandle) -> Api {
        Api {
            session: shared.next_session(),
            shared,
            identity,
            peer,
            link,
            node: OnceLock::new(),
        }
    }

    /// This connection's session number.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// The connection ended: a node it spoke for is down, unless a newer
    /// connection took over.
    pub async fn ended(&self, end: &LinkEnd) {
        if let Some(slot) = self.node.get() {
            if let Some(previous) = self.shared.registry.disconnect(slot, self.session) {
                let why = end.to_string();
                // configd stopping is no node's problem: no node_down.
                if !matches!(end, LinkEnd::Shutdown) {
                    let fx = self
                        .shared
                        .checks
                        .node_down(&self.identity.name, &why, now_ms());
                    if let Err(e) = check_api::apply(&self.shared, fx, false).await {
                        tracing::error!("cannot store the node's state: {e}");
                    }
                }
                self.state_event(NodeState::Down, Some(previous), &why)
                    .await;
            }
        }
    }

    async fn register(&self, reply: Replier, reg: Registration) {
        if let Err(why) = check_registration(&reg) {
            tracing::warn!("refused registration: {why}");
            let _ = reply.error(ErrorCode::BadRequest, why).await;
            return;
        }
        let decls = self.shared.central.at_registration(
            &self.identity.name,
            &reg.checks,
            reg.takes_checks,
            &self.shared.live().central_checks,
            &reg.labels,
        );
        let labels = reg.labels.clone();
        if let Err(why) = super::ops_api::check_commands(&reg.commands) {
            tracing::warn!("refused registration: {why}");
            let _ = reply.error(ErrorCode::BadRequest, why).await;
            return;
        }
        self.shared
            .ops
            .set_commands(&self.identity.name, reg.commands.clone());
        let done = self.shared.registry.register(
            &self.identity.name,
            reg,
            self.peer,
            (self.session, self.link.clone()),
            now_ms(),
        );
        if let Some(old) = done.replaced {
            old.close(ErrorFrame::new(
                ErrorCode::Replaced,
                "a newer connection registered as this node",
            ))
            .await;
        }
        let first_seen_ms = done.row.first_seen_ms;
        let version = done.row.version.clone();
        let _ = self.node.set(done.slot);
        // Acknowledge only what is committed.
        if let Err(e) = self.shared.store.upsert_node(done.row).await {
            tracing::error!("cannot store registration: {e}");
            let _ = reply
                .error(
                    ErrorCode::Internal,
                    "configd could not store the registration",
                )
                .await;
            return;
        }
        let fx = self
            .shared
            .checks
            .declare(&self.identity.name, &decls, labels, now_ms());
        if let Err(e) = check_api::apply(&self.shared, fx, false).await {
            tracing::error!("cannot store the node's checks: {e}");
        }
        let fx = self.shared.checks.node_up(&self.identity.name, now_ms());
        if let Err(e) = check_api::apply(&self.shared, fx, false).await {
            tracing::error!("cannot store the node's state: {e}");
        }
        if done.changed {
            let msg = match done.previous {
                None => format!("new node registered (version {version})"),
                Some(_) => format!("node up (version {version})"),
            };
            self.state_event(NodeState::Up, done.previous, &msg).await;
        }
        let _ = reply
            .send(ResponseBody::Registered(Registered { first_seen_ms }))
            .await;
        // Then the node's central checks (the whole set, even empty: it
        // may still run some from before a restart of configd).
        tokio::spawn(super::central_checks::push(
            self.shared.clone(),
            self.identity.name.clone(),
            true,
        ));
    }

    async fn state_event(&self, state: NodeState, previous: Option<NodeState>, message: &str) {
        tracing::info!(
            state = state.as_str(),
            previous = previous.map(NodeState::as_str).unwrap_or("new"),
            "node {}: {message}",
            state.as_str()
        );
        let ev = EventRow {
            time_ms: now_ms(),
            kind: "node_state".into(),
            node: Some(self.identity.name.clone()),
            check: None,
            state: Some(state.as_str().into()),
            previous_state: previous.map(|p| p.as_str().to_string()),
            who: None,
            message: message.to_string(),
        };
        if let Err(e) = self.shared.store.event(ev).await {
            tracing::error!("cannot store event: {e}");
        }
    }

    async fn query_nodes(&self, reply: Replier, q: QueryNodes) {
        let filters = match Filter::parse_all(&q.filters) {
            Ok(f) => f,
            Err(why) => {
                let _ = reply.error(ErrorCode::BadRequest, why).await;
                return;
            }
        };
        let counts = self.shared.checks.counts_by_node();
        let checks_of = |name: &str| counts.get(name).copied().unwrap_or_default();
        let keep = |n: &NodeView| node_matches(&filters, n);
        send_nodes(&self.shared.registry.slots(), checks_of, keep, &reply).await
    }
}

/// The nodes `keep` takes, in `Nodes` pages of at most `PAGE` nodes or
/// about `PAGE_BYTES`, each built while the link sends the one before;
/// the last one (empty if no node is taken) says done.
async fn send_nodes(
    slots: &[Arc<NodeSlot>],
    checks_of: impl Fn(&str) -> CheckCounts,
    keep: impl Fn(&NodeView) -> bool,
    reply: &Replier,
) {
    let mut nodes = Vec::with_capacity(PAGE);
    let mut bytes = 0;
    for slot in slots {
        let Some(node) = slot.view_if(checks_of(&slot.name), &keep) else {
            continue;
        };
        // A full page goes once a node is known to follow it.
        if nodes.len() == PAGE || bytes >= PAGE_BYTES {
            bytes = 0;
            let page = std::mem::replace(&mut nodes, Vec::with_capacity(PAGE));
            let body = ResponseBody::Nodes(NodesPage {
                nodes: page,
                done: false,
            });
            if reply.send(body).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        bytes += node.weight();
        nodes.push(node);
    }
    let _ = reply
        .send(ResponseBody::Nodes(NodesPage { nodes, done: true }))
        .await;
}

/// Who may send what. The one place requests are checked against roles.
fn authorize(who: &Identity, body: &RequestBody) -> Result<(), ErrorFrame> {
    let forbidden = |what: &str, need: &str| {
        Err(ErrorFrame::new(
            ErrorCode::Forbidden,
            format!(
                "{what} needs {need}; token `{}` is {}",
                who.token_id, who.role
            ),
        ))
    };
    let is_node = who.kind == PeerKind::Node && who.role == Role::Node;
    match body {
        RequestBody::Register(_) if is_node => Ok(()),
        RequestBody::Register(_) => forbidden("registering a node", "a node token"),
        RequestBody::QueryNodes(_) if who.role.allows(Role::Viewer) => Ok(()),
        RequestBody::QueryNodes(_) => {
            forbidden("querying nodes", "a viewer, operator or admin token")
        }
        RequestBody::CheckResults(_) if is_node => Ok(()),
        RequestBody::CheckResults(_) => forbidden("sending check results", "a node token"),
        RequestBody::QueryChecks(_)
        | RequestBody::QueryEvents(_)
        | RequestBody::QueryProblems(_)
        | RequestBody::ListDowntimes(_)
        | RequestBody::QueryInventory(_)
        | RequestBody::QueryJobs(_)
        | RequestBody::ShowJob(_)
        | RequestBody::ResolveTargets(_)
        | RequestBody::ListCommands(_)
        | RequestBody::QueryCommands(_)
            if who.role.allows(Role::Viewer) =>
        {
            Ok(())
        }
        RequestBody::QueryChecks(_)
        | RequestBody::QueryEvents(_)
        | RequestBody::QueryProblems(_)
        | RequestBody::ListDowntimes(_) => forbidden(
            "reading checks and events",
            "a viewer, operator or admin token",
        ),
        RequestBody::Acknowledge(_)
        | RequestBody::Downtime(_)
        | RequestBody::CancelDowntime(_)
        | RequestBody::Submit(_)
            if who.role.allows(Role::Operator) =>
        {
            Ok(())
        }
        RequestBody::Acknowledge(_) => forbidden("acknowledging", "an operator or admin token"),
        RequestBody::Downtime(_) | RequestBody::CancelDowntime(_) => {
            forbidden("scheduling downtime", "an operator or admin token")
        }
        RequestBody::Submit(_) => forbidden("submitting results", "an operator or admin token"),
        RequestBody::LogBatch(_) if is_node => Ok(()),
        RequestBody::LogBatch(_) => forbidden("sending log lines", "a node token"),
        RequestBody::SubscribeLogs(_) if who.role.allows(Role::Viewer) => Ok(()),
        RequestBody::SubscribeLogs(_) => {
            forbidden("reading logs", "a viewer, operator or admin token")
        }
        RequestBody::QueryInventory(_)
        | RequestBody::QueryJobs(_)
        | RequestBody::ShowJob(_)
        | RequestBody::ResolveTargets(_)
        | RequestBody::ListCommands(_)
        | RequestBody::QueryCommands(_) => {
            forbidden("reading", "a viewer, operator or admin token")
        }
        RequestBody::RunbookPlan(_) if who.role.allows(Role::Viewer) => Ok(()),
        RequestBody::RunbookPlan(_) => {
            forbidden("planning runbooks", "a viewer, operator or admin token")
        }
        // The runbook's own role (operator or admin) is checked when it is found.
        RequestBody::RunbookRun(_) | RequestBody::RunbookUndo(_)
            if who.role.allows(Role::Operator) =>
        {
            Ok(())
        }
        RequestBody::RunbookRun(_) | RequestBody::RunbookUndo(_) => {
            forbidden("running runbooks", "an operator or admin token")
        }
        RequestBody::Run(_) if who.role.allows(Role::Operator) => Ok(()),
        RequestBody::Run(_) => forbidden("running commands", "an operator or admin token"),
        RequestBody::CancelJob(_) if who.role.allows(Role::Operator) => Ok(()),
        RequestBody::CancelJob(_) => forbidden("cancelling jobs", "an operator or admin token"),
        RequestBody::InventoryWrite(_) if who.role.allows(Role::Admin) => Ok(()),
        RequestBody::InventoryWrite(_) => forbidden("changing the inventory", "an admin token"),
        // Commands go from configd to nodes, never from a peer to configd.
        RequestBody::RunCommand(_) => forbidden(
            "sending RunCommand",
            "configd: nodes cannot dispatch to other nodes; use `monit-cli run` with an operator token",
        ),
        RequestBody::SetChecks(_) => forbidden(
            "sending SetChecks",
            "configd: it sends checks to nodes; declare them in configd.toml",
        ),
        // Files move between nodes only as configd drives them (runbooks).
        RequestBody::ReadFile(_)
        | RequestBody::WriteFile(_)
        | RequestBody::WriteChunk(_)
        | RequestBody::WriteCommit(_) => forbidden(
            "sending file transfer requests",
            "configd: it moves files between nodes for runbooks",
        ),
    }
}

/// Bounds on what a node may say about itself.
fn check_registration(reg: &Registration) -> Result<(), String> {
    let printable = |s: &str| !s.chars().any(char::is_control);
    if reg.hostname.len() > 255 || !printable(&reg.hostname) {
        return Err("hostname must be at most 255 printable characters".into());
    }
    if reg.version.len() > 64 || !printable(&reg.version) {
        return Err("version must be at most 64 printable characters".into());
    }
    if reg.labels.len() > 64 {
        return Err(format!("{} labels; the limit is 64", reg.labels.len()));
    }
    for (k, v) in &reg.labels {
        crate::names::check_name(k).map_err(|e| format!("label key: {e}"))?;
        if v.len() > 256 || !printable(v) {
            return Err(format!(
                "label `{k}`: values are at most 256 printable characters"
            ));
        }
    }
    if reg.addrs.len() > 64 || reg.addrs.iter().any(|a| a.len() > 64 || !printable(a)) {
        return Err("at most 64 addresses of at most 64 printable characters".into());
    }
    if reg.checks.len() > 20_000 {
        return Err(format!("{} checks; the limit is 20000", reg.checks.len()));
    }
    for c in &reg.checks {
        crate::names::check_name(&c.name).map_err(|e| format!("check name: {e}"))?;
    }
    Ok(())
}
