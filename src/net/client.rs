//! The client side of a connection to configd, for `monit-cli` and
//! `monit-tui`: dial (`net::dial`), then a link whose task answers
//! heartbeats and routes each answer to the request that asked for it.

use std::sync::Arc;

use bytes::BytesMut;

use tokio_util::sync::CancellationToken;

use super::bulk;
use super::dial::{dial, link_config, DialError, Dialed, Endpoint};
use super::frame::decode_body;
use super::handshake::HandshakeError;
use super::link::{drive, LinkError, LinkHandle, NoRequests, Responses};
use super::node_ref::NodeRef;
use super::proto::{
    CheckView, CommandsPage, ErrorCode, ErrorFrame, EventView, InventoryItem, JobDetail, JobView,
    ListCommands, Message, NodeView, PeerKind, ProblemView, QueryChecks, QueryEvents, QueryNodes,
    RequestBody, ResponseBody, ShowJob, Welcome, DEFAULT_MAX_FRAME,
};
use super::tls::TrustError;

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
    #[error(transparent)]
    Trust(TrustError),
    #[error("connection to configd lost: {0}")]
    Lost(String),
    #[error("{0}")]
    Remote(ErrorFrame),
}

impl From<LinkError> for ClientError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Closed(why) | LinkError::Encode(why) => ClientError::Lost(why),
            // A refusal (a revoked token) is final; anything else (configd
            // stopping, or timing us out) is a lost connection to make again.
            LinkError::Peer(e) if matches!(e.code, ErrorCode::Auth | ErrorCode::Forbidden) => {
                ClientError::Remote(e)
            }
            LinkError::Peer(e) => ClientError::Lost(format!("peer: {e}")),
        }
    }
}

impl From<DialError> for ClientError {
    fn from(e: DialError) -> Self {
        match e {
            DialError::Connect { server, reason } => ClientError::Connect { server, reason },
            DialError::Trust(t) => ClientError::Trust(t),
            DialError::Refused { server, refusal } => ClientError::Refused { server, refusal },
            DialError::Handshake { server, source } => ClientError::Handshake { server, source },
        }
    }
}

impl ClientError {
    /// Could not reach configd, or was not allowed in (exit code 3).
    pub fn is_access(&self) -> bool {
        match self {
            ClientError::Connect { .. }
            | ClientError::Refused { .. }
            | ClientError::Handshake { .. }
            | ClientError::Trust(_) => true,
            ClientError::Remote(e) => matches!(e.code, ErrorCode::Forbidden | ErrorCode::Auth),
            ClientError::Lost(_) => false,
        }
    }
}

/// A live, authenticated connection to configd. Dropping it closes it.
pub struct Client {
    link: LinkHandle,
    welcome: Welcome,
    stop: CancellationToken,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Client {
    /// Dials `endpoint`, authenticates and starts the link task.
    pub async fn connect(endpoint: &Endpoint, name: &str) -> Result<Client, ClientError> {
        let Dialed { conn, welcome, .. } = dial(endpoint, PeerKind::Client, name).await?;
        let (link, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
        let stop = CancellationToken::new();
        let config = link_config(&welcome);
        tokio::spawn(drive(
            conn,
            link.clone(),
            queue,
            Arc::new(NoRequests),
            config,
            stop.clone(),
            ErrorFrame::new(ErrorCode::ShuttingDown, "client closing"),
        ));
        Ok(Client {
            link,
            welcome,
            stop,
        })
    }

    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    pub fn link(&self) -> &LinkHandle {
        &self.link
    }

    /// Sends a request; its answers arrive on the returned stream.
    pub async fn request(&self, body: RequestBody) -> Result<Responses, ClientError> {
        Ok(self.link.request(body).await?)
    }

    /// Sends a request; its answers arrive as frame bodies to read in
    /// place (`bulk`), or to decode with `decode_answer`.
    pub async fn request_raw(&self, body: RequestBody) -> Result<Responses<BytesMut>, ClientError> {
        Ok(self.link.request_raw(body).await?)
    }

    /// All nodes matching `filters`.
    pub async fn query_nodes(&self, filters: Vec<String>) -> Result<Vec<NodeView>, ClientError> {
        let mut nodes = Vec::new();
        self.each_node(filters, |n| nodes.push(n.to_view())).await?;
        Ok(nodes)
    }

    /// Every node matching `filters`, each handed to `each` as it is read
    /// in place from its page, in configd's order: output made straight
    /// from the frames (`monit-cli query nodes`) copies no node.
    pub async fn each_node(
        &self,
        filters: Vec<String>,
        mut each: impl FnMut(&NodeRef),
    ) -> Result<(), ClientError> {
        let mut answers = self
            .request_raw(RequestBody::QueryNodes(QueryNodes { filters }))
            .await?;
        let id = answers.id();
        loop {
            let body = answers.next().await.ok_or_else(ended_early)??;
            let done = match bulk::nodes_page(&body, id) {
                Some(page) => {
                    page.nodes.iter().for_each(&mut each);
                    page.done
                }
                None => match decode_answer(&body)? {
                    ResponseBody::Nodes(page) => {
                        page.nodes.iter().for_each(|n| each(&NodeRef::from(n)));
                        page.done
                    }
                    other => return Err(not_the_answer(other)),
                },
            };
            if done {
                answers.finished();
                return Ok(());
            }
        }
    }

    /// Checks on `node` (all when None) matching `filters`.
    pub async fn query_checks(
        &self,
        node: Option<String>,
        filters: Vec<String>,
    ) -> Result<Vec<CheckView>, ClientError> {
        self.paged(
            RequestBody::QueryChecks(QueryChecks { node, filters }),
            |b| match b {
                ResponseBody::Checks(p) => Ok((p.checks, p.done)),
                other => Err(Box::new(other)),
            },
        )
        .await
    }

    /// Nodes down, then non-OK checks, on `node` (all when None), matching
    /// `filters`.
    pub async fn query_problems(
        &self,
        node: Option<String>,
        filters: Vec<String>,
    ) -> Result<Vec<ProblemView>, ClientError> {
        self.paged(
            RequestBody::QueryProblems(QueryChecks { node, filters }),
            |b| match b {
                ResponseBody::Problems(p) => Ok((p.problems, p.done)),
                other => Err(Box::new(other)),
            },
        )
        .await
    }

    /// The newest `limit` fleet events matching `filters`.
    pub async fn query_events(
        &self,
        filters: Vec<String>,
        limit: u32,
    ) -> Result<Vec<EventView>, ClientError> {
        self.paged(
            RequestBody::QueryEvents(QueryEvents { filters, limit }),
            |b| match b {
                ResponseBody::Events(p) => Ok((p.events, p.done)),
                other => Err(Box::new(other)),
            },
        )
        .await
    }

    /// Inventory items matching `filters`.
    pub async fn query_inventory(
        &self,
        filters: Vec<String>,
    ) -> Result<Vec<InventoryItem>, ClientError> {
        self.paged(
            RequestBody::QueryInventory(QueryNodes { filters }),
            |b| match b {
                ResponseBody::Inventory(p) => Ok((p.items, p.done)),
                other => Err(Box::new(other)),
            },
        )
        .await
    }

    /// Jobs matching `filters`.
    pub async fn query_jobs(&self, filters: Vec<String>) -> Result<Vec<JobView>, ClientError> {
        self.paged(
            RequestBody::QueryJobs(QueryNodes { filters }),
            |b| match b {
                ResponseBody::Jobs(p) => Ok((p.jobs, p.done)),
                other => Err(Box::new(other)),
            },
        )
        .await
    }

    /// Sends a request answered by one message (an Error becomes Remote).
    pub async fn one(&self, body: RequestBody) -> Result<ResponseBody, ClientError> {
        let mut answers = self.request(body).await?;
        match answers.next().await {
            Some(Ok(ResponseBody::Error(e))) => Err(ClientError::Remote(e)),
            Some(Ok(b)) => Ok(b),
            Some(Err(e)) => Err(e.into()),
            None => Err(ClientError::Lost("no answer".into())),
        }
    }

    /// The command names the nodes advertise.
    pub async fn list_commands(&self) -> Result<Vec<String>, ClientError> {
        match self.one(RequestBody::ListCommands(ListCommands {})).await? {
            ResponseBody::CommandNames(c) => Ok(c.names),
            other => Err(unexpected(&other)),
        }
    }

    /// Every command the nodes offer, and configd's runbooks.
    pub async fn query_commands(&self) -> Result<CommandsPage, ClientError> {
        let asked = RequestBody::QueryCommands(QueryChecks::default());
        match self.one(asked).await? {
            ResponseBody::Commands(c) => Ok(c),
            other => Err(unexpected(&other)),
        }
    }

    /// Job `id` with its output.
    pub async fn show_job(&self, id: u64) -> Result<JobDetail, ClientError> {
        match self
            .one(RequestBody::ShowJob(ShowJob { id, follow: false }))
            .await?
        {
            ResponseBody::JobDetail(d) => Ok(d),
            other => Err(unexpected(&other)),
        }
    }

    /// Collects a paged answer: `page` takes a page apart into (items,
    /// done) or hands back a body of the wrong kind.
    async fn paged<T>(
        &self,
        body: RequestBody,
        page: impl Fn(ResponseBody) -> Result<(Vec<T>, bool), Box<ResponseBody>>,
    ) -> Result<Vec<T>, ClientError> {
        let mut answers = self.request(body).await?;
        let mut items = Vec::new();
        while let Some(answer) = answers.next().await {
            match page(answer?) {
                Ok((more, done)) => {
                    items.extend(more);
                    if done {
                        return Ok(items);
                    }
                }
                Err(other) => return Err(not_the_answer(*other)),
            }
        }
        Err(ended_early())
    }
}

/// A stream of answers that stopped before its final one.
pub fn ended_early() -> ClientError {
    ClientError::Lost("configd ended the answer early".into())
}

/// An answer that is not the one asked for: configd's error, or a bug.
pub fn not_the_answer(body: ResponseBody) -> ClientError {
    match body {
        ResponseBody::Error(e) => ClientError::Remote(e),
        other => unexpected(&other),
    }
}

/// An answer of `request_raw` not read in place, decoded.
pub fn decode_answer(body: &[u8]) -> Result<ResponseBody, ClientError> {
    match decode_body(body) {
        Ok(Message::Response(r)) => Ok(r.body),
        Ok(_) => Err(ClientError::Lost(
            "configd sent a message that is not an answer".into(),
        )),
        Err(e) => Err(ClientError::Lost(format!("bad frame from configd: {e}"))),
    }
}

/// An answer of the wrong kind: a bug on one side, reported as such.
pub fn unexpected(body: &ResponseBody) -> ClientError {
    ClientError::Lost(format!("unexpected answer from configd: {body:?}"))
}
