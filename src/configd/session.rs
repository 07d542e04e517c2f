//! One connection, from handshake to close. Every message is checked
//! against the identity the handshake established; bad input ends this
//! connection only, with an Error frame and one log line.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::registry::NodeSlot;
use super::server::Shared;
use super::store::EventRow;
use super::tokens::{ConfigdAuth, Identity};
use crate::filter::{matches_all, Filter};
use crate::net::frame::FrameError;
use crate::net::handshake::{message_name, server_handshake, HANDSHAKE_TIMEOUT};
use crate::net::proto::{
    ErrorCode, ErrorFrame, Message, NodeState, NodesPage, PeerKind, QueryNodes, Registered,
    Registration, Request, RequestBody, Response, ResponseBody, Role,
};
use crate::net::Connection;
use crate::timefmt::now_ms;

/// Nodes per `Nodes` page, so no answer nears the frame limit.
const PAGE: usize = 1000;

pub async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let mut conn = Connection::new(stream, shared.max_frame);
    let Ok(hs_permit) = shared.handshakes.clone().try_acquire_owned() else {
        tracing::warn!(%peer, "refused: too many handshakes in progress");
        conn.send_error(
            ErrorCode::Busy,
            "too many connections are authenticating; try again",
        )
        .await;
        return;
    };
    let auth = ConfigdAuth {
        tokens: &shared.tokens,
        server_id: &shared.server_id,
        heartbeat_interval_ms: shared.config.heartbeat_interval.as_millis() as u64,
        dead_after_ms: shared.config.node_dead_after.as_millis() as u64,
    };
    let outcome = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, server_handshake(&mut conn, &shared.server_id, &auth)) => r,
    };
    drop(hs_permit);
    let identity = match outcome {
        Err(_) => {
            tracing::warn!(%peer, "handshake timed out after {}s", HANDSHAKE_TIMEOUT.as_secs());
            conn.send_error(
                ErrorCode::Timeout,
                format!("handshake timed out after {}s", HANDSHAKE_TIMEOUT.as_secs()),
            )
            .await;
            return;
        }
        Ok(Err(e)) => {
            tracing::warn!(%peer, "handshake failed: {e}");
            if let Some(code) = e.code() {
                conn.send_error(code, e.to_string()).await;
            }
            return;
        }
        Ok(Ok((_hello, identity))) => identity,
    };
    let span = tracing::info_span!("session", %peer, name = %identity.name, role = %identity.role);
    Session {
        conn,
        peer,
        shared,
        id: 0,
        identity,
        replaced: CancellationToken::new(),
        node: None,
    }
    .run()
    .instrument(span)
    .await;
}

struct Session {
    conn: Connection,
    peer: SocketAddr,
    shared: Arc<Shared>,
    id: u64,
    identity: Identity,
    /// Fired when a newer connection registers as the same node.
    replaced: CancellationToken,
    node: Option<Arc<NodeSlot>>,
}

/// Why a session ended, for the one log line.
enum End {
    Closed,
    Reason(String),
}

impl Session {
    async fn run(mut self) {
        self.id = self.shared.next_session();
        tracing::debug!("authenticated");
        let dead_after = self.shared.config.node_dead_after;
        let mut last_heard = Instant::now();
        let end = loop {
            tokio::select! {
                _ = self.shared.shutdown.cancelled() => {
                    self.conn.send_error(ErrorCode::ShuttingDown, "configd is shutting down").await;
                    break End::Reason("configd shutting down".into());
                }
                _ = self.replaced.cancelled() => {
                    self.conn.send_error(ErrorCode::Replaced, "a newer connection registered as this node").await;
                    break End::Reason("replaced by a newer connection".into());
                }
                _ = tokio::time::sleep_until(last_heard + dead_after) => {
                    let why = format!("silent for {}s", dead_after.as_secs_f32());
                    self.conn.send_error(ErrorCode::Timeout, format!("no heartbeat: {why}")).await;
                    break End::Reason(why);
                }
                msg = self.conn.read() => {
                    last_heard = Instant::now();
                    match msg {
                        Ok(None) => break End::Closed,
                        Err(e) => {
                            let code = match &e {
                                FrameError::TooLarge { .. } => Some(ErrorCode::TooLarge),
                                FrameError::Malformed(_) => Some(ErrorCode::Malformed),
                                _ => None,
                            };
                            if let Some(code) = code {
                                self.conn.send_error(code, e.to_string()).await;
                            }
                            break End::Reason(e.to_string());
                        }
                        Ok(Some(m)) => {
                            if let Err(why) = self.on_message(m).await {
                                break End::Reason(why);
                            }
                        }
                    }
                }
            }
        };
        if let Some(slot) = self.node.take() {
            if let Some(previous) = self.shared.registry.disconnect(&slot, self.id) {
                self.state_event(NodeState::Down, Some(previous), &end_text(&end))
                    .await;
            }
        }
        match (end, self.identity.kind) {
            (End::Closed, PeerKind::Client) => tracing::debug!("disconnected"),
            (End::Closed, PeerKind::Node) => tracing::info!("disconnected"),
            (End::Reason(r), _) => tracing::warn!("disconnected: {r}"),
        }
    }

    /// Handles one message; `Err` ends the session with that reason.
    async fn on_message(&mut self, m: Message) -> Result<(), String> {
        if let Some(slot) = &self.node {
            slot.touch(now_ms());
        }
        match m {
            Message::Ping(p) => self
                .conn
                .send(&Message::Pong(p))
                .await
                .map_err(|e| e.to_string()),
            Message::Pong(_) => Ok(()),
            Message::Request(req) => self.on_request(req).await,
            Message::Error(e) => Err(format!("peer sent error: {e}")),
            other => {
                let why = format!("unexpected {} after the handshake", message_name(&other));
                self.conn.send_error(ErrorCode::Protocol, why.clone()).await;
                Err(why)
            }
        }
    }

    async fn respond(&mut self, id: u64, body: ResponseBody) -> Result<(), String> {
        self.conn
            .send(&Message::Response(Response { id, body }))
            .await
            .map_err(|e| e.to_string())
    }

    async fn on_request(&mut self, req: Request) -> Result<(), String> {
        if let Err(refusal) = authorize(&self.identity, &req.body) {
            tracing::warn!("refused request: {}", refusal.message);
            return self.respond(req.id, ResponseBody::Error(refusal)).await;
        }
        match req.body {
            RequestBody::Register(reg) => self.register(req.id, reg).await,
            RequestBody::QueryNodes(q) => self.query_nodes(req.id, q).await,
        }
    }

    async fn register(&mut self, id: u64, reg: Registration) -> Result<(), String> {
        if let Err(why) = check_registration(&reg) {
            tracing::warn!("refused registration: {why}");
            return self
                .respond(
                    id,
                    ResponseBody::Error(ErrorFrame::new(ErrorCode::BadRequest, why)),
                )
                .await;
        }
        let now = now_ms();
        let done = self.shared.registry.register(
            &self.identity.name,
            reg,
            self.peer,
            (self.id, self.replaced.clone()),
            now,
        );
        if let Some(old) = done.replaced {
            old.cancel();
        }
        let first_seen_ms = done.row.first_seen_ms;
        let version = done.row.version.clone();
        self.node = Some(done.slot);
        // Acknowledge only what is committed.
        if let Err(e) = self.shared.store.upsert_node(done.row).await {
            tracing::error!("cannot store registration: {e}");
            return self
                .respond(
                    id,
                    ResponseBody::Error(ErrorFrame::new(
                        ErrorCode::Internal,
                        "configd could not store the registration",
                    )),
                )
                .await;
        }
        if done.changed {
            let msg = match done.previous {
                None => format!("new node registered (version {version})"),
                Some(_) => format!("node up (version {version})"),
            };
            self.state_event(NodeState::Up, done.previous, &msg).await;
        }
        self.respond(id, ResponseBody::Registered(Registered { first_seen_ms }))
            .await
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

    async fn query_nodes(&mut self, id: u64, q: QueryNodes) -> Result<(), String> {
        let filters = match Filter::parse_all(&q.filters) {
            Ok(f) => f,
            Err(why) => {
                return self
                    .respond(
                        id,
                        ResponseBody::Error(ErrorFrame::new(ErrorCode::BadRequest, why)),
                    )
                    .await
            }
        };
        let mut nodes = self.shared.registry.views();
        if !filters.is_empty() {
            nodes.retain(|n| {
                serde_json::to_value(crate::views::NodeJson::from(n))
                    .map(|v| matches_all(&filters, &v, None))
                    .unwrap_or(false)
            });
        }
        let mut pages = nodes.chunks(PAGE).peekable();
        if pages.peek().is_none() {
            return self
                .respond(
                    id,
                    ResponseBody::Nodes(NodesPage {
                        nodes: vec![],
                        done: true,
                    }),
                )
                .await;
        }
        while let Some(page) = pages.next() {
            let body = ResponseBody::Nodes(NodesPage {
                nodes: page.to_vec(),
                done: pages.peek().is_none(),
            });
            self.conn
                .feed(&Message::Response(Response { id, body }))
                .await
                .map_err(|e| e.to_string())?;
        }
        self.conn.flush().await.map_err(|e| e.to_string())
    }
}

fn end_text(end: &End) -> String {
    match end {
        End::Closed => "connection closed".into(),
        End::Reason(r) => r.clone(),
    }
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
    match body {
        RequestBody::Register(_) if who.kind == PeerKind::Node && who.role == Role::Node => Ok(()),
        RequestBody::Register(_) => forbidden("registering a node", "a node token"),
        RequestBody::QueryNodes(_) if who.role.allows(Role::Viewer) => Ok(()),
        RequestBody::QueryNodes(_) => {
            forbidden("querying nodes", "a viewer, operator or admin token")
        }
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
    Ok(())
}
