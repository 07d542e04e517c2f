//! Where a request goes: `Api::serve` checks it against the `roles`
//! table, `route` hands it to its handler (one arm per request), and the
//! handler's `ApiResult` goes back through `reply::deliver`, which logs
//! an error once. Each request runs in its own task (see `net::link`), in
//! a `request` span inside its connection's `session` span.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::registry::NodeSlot;
use super::reply::{deliver, ApiError, ApiResult, Reply};
use super::state::Shared;
use super::store::{event_row, EventRow};
use super::tokens::Identity;
use super::{check_api, jobs, logs_api, ops_api, roles, runbook};
use crate::filter::Filter;
use crate::model::node::node_matches;
use crate::net::bulk;
use crate::net::frame::{seal, HEADER_LEN};
use crate::net::link::{Handler, Incoming, LinkEnd, LinkHandle, Replier};
use crate::net::node_ref::NodeRef;
use crate::net::proto::{
    CheckCounts, ErrorCode, ErrorFrame, NodeState, QueryNodes, Registered, Registration,
    RequestBody, ResponseBody,
};
use crate::timefmt::now_ms;

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
        let rule = roles::required_role(&req.body);
        let span = tracing::info_span!("request", req = rule.name, id = req.reply.id());
        async move {
            let outcome = match roles::authorize(&self.identity, &rule) {
                Ok(()) => self.route(req.body, &req.reply, req.cancel).await,
                Err(refusal) => {
                    if let RequestBody::Run(run) = &req.body {
                        let cause = super::audit::Cause::Role;
                        super::audit::refused(
                            &self.shared,
                            &self.identity,
                            run,
                            None,
                            cause,
                            &refusal.message,
                        )
                        .await;
                    }
                    Err(refusal)
                }
            };
            deliver(&req.reply, outcome).await
        }
        .instrument(span)
        .await
    }

    /// Every request to its handler: one arm each, no catch-all.
    async fn route(
        &self,
        body: RequestBody,
        out: &Replier,
        cancel: CancellationToken,
    ) -> ApiResult {
        let (shared, who) = (&self.shared, &self.identity);
        match body {
            RequestBody::Register(reg) => self.register(out, reg).await,
            RequestBody::QueryNodes(q) => self.query_nodes(out, q).await,
            RequestBody::CheckResults(b) => check_api::results(shared, &who.name, b).await,
            RequestBody::QueryChecks(q) => check_api::query_checks(shared, q),
            RequestBody::QueryEvents(q) => check_api::query_events(shared, q).await,
            RequestBody::QueryProblems(q) => check_api::query_problems(shared, q),
            RequestBody::Acknowledge(r) => check_api::acknowledge(shared, who, r).await,
            RequestBody::Downtime(r) => check_api::downtime(shared, who, r).await,
            RequestBody::ListDowntimes(_) => Ok(check_api::list_downtimes(shared)),
            RequestBody::CancelDowntime(r) => check_api::cancel_downtime(shared, who, r).await,
            RequestBody::Submit(r) => check_api::submit(shared, who, r).await,
            RequestBody::LogBatch(b) => logs_api::ingest(shared.logs(), &who.name, b),
            RequestBody::SubscribeLogs(s) => {
                logs_api::subscribe(shared.logs(), out, cancel, s).await
            }
            RequestBody::InventoryWrite(w) => ops_api::inventory_write(shared, who, w).await,
            RequestBody::QueryInventory(q) => ops_api::query_inventory(shared, q).await,
            RequestBody::QueryJobs(q) => ops_api::query_jobs(shared, q).await,
            RequestBody::ShowJob(s) => ops_api::show_job(shared, out, cancel, s).await,
            RequestBody::ResolveTargets(t) => ops_api::resolve_targets(shared, who, t).await,
            RequestBody::Run(r) => jobs::run(shared.clone(), who, out, cancel, r).await,
            RequestBody::CancelJob(c) => ops_api::cancel_job(shared, who, c),
            RequestBody::QueryCommands(q) => ops_api::query_commands(shared, q),
            RequestBody::ListCommands(_) => Ok(ops_api::list_commands(shared)),
            RequestBody::RunbookPlan(r) => runbook::plan_request(shared, r).await,
            RequestBody::RunbookRun(r) => {
                runbook::run_request(shared.clone(), who, out, cancel, r).await
            }
            RequestBody::RunbookUndo(j) => {
                runbook::undo_request(shared.clone(), who, out, cancel, j.id).await
            }
            // `roles` lets no peer send these.
            RequestBody::RunCommand(_)
            | RequestBody::SetChecks(_)
            | RequestBody::ReadFile(_)
            | RequestBody::WriteFile(_)
            | RequestBody::WriteChunk(_)
            | RequestBody::WriteCommit(_) => Err(ApiError::bad_request(
                "configd sends this request, it does not take it",
            )),
        }
    }

    /// `session`: this connection's number (`Shared::next_session`).
    pub fn new(
        shared: Arc<Shared>,
        identity: Identity,
        (peer, session): (SocketAddr, u64),
        link: LinkHandle,
    ) -> Api {
        Api {
            session,
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
            if let Some(previous) = self.shared.registry().disconnect(slot, self.session) {
                let why = end.to_string();
                // configd stopping is no node's problem: no node_down.
                if !matches!(end, LinkEnd::Shutdown) {
                    let fx = self
                        .shared
                        .checks()
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

    async fn register(&self, out: &Replier, reg: Registration) -> ApiResult {
        check_registration(&reg)
            .map_err(|why| ApiError::bad_request(format!("registration refused: {why}")))?;
        let decls = self.shared.central().at_registration(
            &self.identity.name,
            &reg.checks,
            reg.takes_checks,
            &self.shared.live().central_checks,
            &reg.labels,
        );
        let labels = reg.labels.clone();
        super::ops_api::check_commands(&reg.commands)
            .map_err(|why| ApiError::bad_request(format!("registration refused: {why}")))?;
        self.shared
            .ops()
            .set_commands(&self.identity.name, reg.commands.clone());
        let done = self.shared.registry().register(
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
        self.shared
            .store()
            .upsert_node(done.row)
            .await
            .map_err(|e| ApiError::internal("configd could not store the registration", e))?;
        let fx = self
            .shared
            .checks()
            .declare(&self.identity.name, &decls, labels, now_ms());
        if let Err(e) = check_api::apply(&self.shared, fx, false).await {
            tracing::error!("cannot store the node's checks: {e}");
        }
        let fx = self.shared.checks().node_up(&self.identity.name, now_ms());
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
        out.send(ResponseBody::Registered(Registered { first_seen_ms }))
            .await?;
        // Then (after the answer, on the same link) the node's central
        // checks: the whole set, even empty, as it may still run some from
        // before a restart of configd.
        let push =
            super::central_checks::push(self.shared.clone(), self.identity.name.clone(), true);
        tokio::spawn(push.in_current_span());
        Ok(Reply::Sent)
    }

    async fn state_event(&self, state: NodeState, previous: Option<NodeState>, message: &str) {
        tracing::info!(
            state = state.as_str(),
            previous = previous.map(NodeState::as_str).unwrap_or("new"),
            "node {}: {message}",
            state.as_str()
        );
        let (node, message) = (Some(self.identity.name.as_str()), message.to_string());
        let ev = EventRow {
            state: Some(state.as_str().into()),
            previous_state: previous.map(|p| p.as_str().to_string()),
            ..event_row(now_ms(), "node_state", node, None, message)
        };
        if let Err(e) = self.shared.store().event(ev).await {
            tracing::error!("cannot store event: {e}");
        }
    }

    async fn query_nodes(&self, out: &Replier, q: QueryNodes) -> ApiResult {
        let filters = Filter::parse_all(&q.filters).map_err(ApiError::bad_request)?;
        let counts = self.shared.checks().counts_by_node();
        let checks_of = |name: &str| counts.get(name).copied().unwrap_or_default();
        let keep = |n: &NodeRef| node_matches(&filters, n);
        send_nodes(&self.shared.registry().slots(), checks_of, keep, out).await
    }
}

/// The nodes `keep` takes, in `Nodes` pages encoded straight from the
/// registry (no copy of a node is made: a 10,000-node answer starts in well
/// under a millisecond). A page ends at `PAGE` nodes or `PAGE_BYTES`; the
/// last one (empty if no node is taken) says done.
async fn send_nodes(
    slots: &[Arc<NodeSlot>],
    checks_of: impl Fn(&str) -> CheckCounts,
    keep: impl Fn(&NodeRef) -> bool,
    reply: &Replier,
) -> ApiResult {
    let mut nodes = Vec::new();
    let mut count = 0;
    for slot in slots {
        let before = nodes.len();
        if !slot.write_node_if(&mut nodes, &checks_of(&slot.name), &keep) {
            continue;
        }
        // A full page goes once a node is known to follow it.
        if count == PAGE || before >= PAGE_BYTES {
            let page = nodes_page(reply, count, &nodes[..before], false)?;
            reply.link().send_frame(page).await?;
            nodes.drain(..before);
            count = 0;
            // Let the link's writer send this page while the next is built.
            tokio::task::yield_now().await;
        }
        count += 1;
    }
    Ok(Reply::Frame(nodes_page(reply, count, &nodes, true)?))
}

fn nodes_page(reply: &Replier, count: usize, nodes: &[u8], done: bool) -> Result<Bytes, ApiError> {
    let mut frame = Vec::with_capacity(HEADER_LEN + 64 + nodes.len());
    frame.resize(HEADER_LEN, 0);
    let mut w = bulk::Writer(&mut frame);
    w.nodes_page_start(reply.id(), count);
    w.raw(nodes);
    w.nodes_page_end(done);
    seal(frame, reply.link().max_frame())
        .map_err(|e| ApiError::internal("configd could not encode the nodes", e))
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
