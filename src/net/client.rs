//! The client side of a connection to configd, for `monit-cli` and
//! `monit-tui`: one task owns the socket, answers heartbeats, and routes
//! each response to the request that asked for it.

use std::collections::HashMap;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::connection::Connection;
use super::handshake::{client_handshake, HandshakeError};
use super::proto::{
    ErrorCode, ErrorFrame, Message, NodeView, PeerKind, Ping, QueryNodes, Request, RequestBody,
    ResponseBody, Welcome, DEFAULT_MAX_FRAME,
};
use crate::auth::Token;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to configd at {server}: {reason}; is monit-configd running there? (set --server or $MONIT_SERVER)")]
    Connect { server: String, reason: String },
    #[error("configd at {server} refused this client: {refusal}; check --token-file, $MONIT_TOKEN_FILE or $MONIT_TOKEN")]
    Refused { server: String, refusal: ErrorFrame },
    #[error("handshake with configd at {server} failed: {source}")]
    Handshake {
        server: String,
        source: HandshakeError,
    },
    #[error("connection to configd lost: {0}")]
    Lost(String),
    #[error("{0}")]
    Remote(ErrorFrame),
}

impl ClientError {
    /// Could not reach configd, or was not allowed in (exit code 3).
    pub fn is_access(&self) -> bool {
        match self {
            ClientError::Connect { .. }
            | ClientError::Refused { .. }
            | ClientError::Handshake { .. } => true,
            ClientError::Remote(e) => matches!(e.code, ErrorCode::Forbidden | ErrorCode::Auth),
            ClientError::Lost(_) => false,
        }
    }
}

struct Outgoing {
    body: RequestBody,
    reply: mpsc::Sender<Result<ResponseBody, ClientError>>,
}

/// A live, authenticated connection to configd.
pub struct Client {
    tx: mpsc::Sender<Outgoing>,
    welcome: Welcome,
    _stop: oneshot::Sender<()>,
}

/// The answers to one request, in order.
pub struct Responses {
    rx: mpsc::Receiver<Result<ResponseBody, ClientError>>,
}

impl Responses {
    /// The next answer; `None` after the final one.
    pub async fn next(&mut self) -> Option<Result<ResponseBody, ClientError>> {
        self.rx.recv().await
    }
}

impl Client {
    /// Dials `server`, authenticates with `token` and starts the owner task.
    pub async fn connect(server: &str, token: &Token, name: &str) -> Result<Client, ClientError> {
        let connect_err = |reason: String| ClientError::Connect {
            server: server.to_string(),
            reason,
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(server))
            .await
            .map_err(|_| connect_err(format!("no answer in {}s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| connect_err(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let mut conn = Connection::new(stream, DEFAULT_MAX_FRAME);
        let welcome = client_handshake(&mut conn, PeerKind::Client, name, token)
            .await
            .map_err(|source| match source {
                HandshakeError::Refused(refusal) => ClientError::Refused {
                    server: server.to_string(),
                    refusal,
                },
                source => ClientError::Handshake {
                    server: server.to_string(),
                    source,
                },
            })?;
        let (tx, rx) = mpsc::channel(64);
        let (stop_tx, stop_rx) = oneshot::channel();
        tokio::spawn(drive(conn, rx, stop_rx, welcome.clone()));
        Ok(Client {
            tx,
            welcome,
            _stop: stop_tx,
        })
    }

    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Sends a request; its answers arrive on the returned stream.
    pub async fn request(&self, body: RequestBody) -> Result<Responses, ClientError> {
        let (reply, rx) = mpsc::channel(16);
        self.tx
            .send(Outgoing { body, reply })
            .await
            .map_err(|_| ClientError::Lost("the connection task ended".into()))?;
        Ok(Responses { rx })
    }

    /// All nodes matching `filters`.
    pub async fn query_nodes(&self, filters: Vec<String>) -> Result<Vec<NodeView>, ClientError> {
        let mut answers = self
            .request(RequestBody::QueryNodes(QueryNodes { filters }))
            .await?;
        let mut nodes = Vec::new();
        while let Some(answer) = answers.next().await {
            match answer? {
                ResponseBody::Nodes(page) => {
                    nodes.extend(page.nodes);
                    if page.done {
                        return Ok(nodes);
                    }
                }
                ResponseBody::Error(e) => return Err(ClientError::Remote(e)),
                other => {
                    return Err(ClientError::Lost(format!("unexpected answer {other:?}")));
                }
            }
        }
        Err(ClientError::Lost("configd ended the answer early".into()))
    }
}

type Pending = HashMap<u64, mpsc::Sender<Result<ResponseBody, ClientError>>>;

async fn drive(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Outgoing>,
    mut stop: oneshot::Receiver<()>,
    welcome: Welcome,
) {
    let interval = Duration::from_millis(welcome.heartbeat_interval_ms.max(100));
    let dead_after = Duration::from_millis(welcome.dead_after_ms.max(300));
    let mut pending: Pending = HashMap::new();
    let mut next_id: u64 = 1;
    let mut seq: u64 = 0;
    let mut heartbeat = tokio::time::interval_at(Instant::now() + interval, interval);
    let mut last_heard = Instant::now();
    let reason = loop {
        tokio::select! {
            _ = &mut stop => break "client closed".to_string(),
            out = rx.recv() => {
                let Some(out) = out else { break "client closed".to_string() };
                let id = next_id;
                next_id += 1;
                let msg = Message::Request(Request { id, body: out.body });
                if let Err(e) = conn.send(&msg).await {
                    let _ = out.reply.send(Err(ClientError::Lost(e.to_string()))).await;
                    break e.to_string();
                }
                pending.insert(id, out.reply);
            }
            _ = heartbeat.tick() => {
                seq += 1;
                if let Err(e) = conn.send(&Message::Ping(Ping { seq })).await {
                    break e.to_string();
                }
            }
            _ = tokio::time::sleep_until(last_heard + dead_after) => {
                break format!("configd silent for {}s", dead_after.as_secs_f32());
            }
            msg = conn.read() => {
                last_heard = Instant::now();
                match msg {
                    Ok(Some(Message::Response(resp))) => {
                        let done = resp.body.is_final();
                        if let Some(reply) = pending.get(&resp.id) {
                            // A caller that stopped listening just loses its answers.
                            if reply.send(Ok(resp.body)).await.is_err() || done {
                                pending.remove(&resp.id);
                            }
                        }
                    }
                    Ok(Some(Message::Ping(p))) => {
                        if let Err(e) = conn.send(&Message::Pong(p)).await {
                            break e.to_string();
                        }
                    }
                    Ok(Some(Message::Pong(_))) => {}
                    Ok(Some(Message::Error(e))) => {
                        for (_, reply) in pending.drain() {
                            let _ = reply.send(Err(ClientError::Remote(e.clone()))).await;
                        }
                        break e.to_string();
                    }
                    Ok(Some(other)) => {
                        break format!("unexpected {} from configd", super::handshake::message_name(&other));
                    }
                    Ok(None) => break "configd closed the connection".to_string(),
                    Err(e) => break e.to_string(),
                }
            }
        }
    };
    for (_, reply) in pending.drain() {
        let _ = reply.send(Err(ClientError::Lost(reason.clone()))).await;
    }
}
