//! A link: an authenticated connection as both ends use it after the
//! handshake. Either side may send requests (`LinkHandle::request`) and
//! answer the other's (`Handler`), with heartbeats and a silence timeout.
//!
//! One task (`drive`) owns the socket. Everything else talks to it through
//! a bounded queue of commands, so a slow handler never stalls the socket,
//! and each incoming request runs in its own task with a cancellation token
//! that fires on `Cancel` or when the link ends.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::bulk;
use super::connection::Connection;
use super::frame::{decode_body, encode_frame, FrameError};
use super::handshake::message_name;
use super::proto::{
    Cancel, ErrorCode, ErrorFrame, Message, Ping, Request, RequestBody, Response, ResponseBody,
};

/// Most commands queued to the socket task before senders wait.
const QUEUE: usize = 256;
/// Answers buffered per outstanding request.
const ANSWERS: usize = 64;
/// Frame bodies buffered for a raw request: few, so that the read buffer's
/// memory is reused rather than many frames' held (page faults).
const RAW_ANSWERS: usize = 2;
/// Frames written before a flush.
const BATCH: usize = 64;
/// A write batch slower than this counts as hearing from the peer.
const WRITE_STALL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("connection closed: {0}")]
    Closed(String),
    #[error("cannot encode: {0}")]
    Encode(String),
    /// The peer ended the link with this error (e.g. a revoked token).
    #[error("{0}")]
    Peer(ErrorFrame),
}

/// Requests of the peer's open at once on one link, by default.
pub const MAX_OPEN_REQUESTS: usize = 256;

/// Timing and limits of a link.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Send a Ping this often (`None`: only answer the peer's).
    pub ping_interval: Option<Duration>,
    /// Drop the link after this long without a frame from the peer.
    pub dead_after: Duration,
    pub max_frame: usize,
    /// The peer's requests open at once (streams and follows stay open);
    /// past it a new one is refused `busy`, the link goes on.
    pub max_open_requests: usize,
    /// A budget shared with other links (e.g. every session of one token):
    /// each open request holds one permit.
    pub shared_budget: Option<Arc<tokio::sync::Semaphore>>,
}

impl LinkConfig {
    pub fn new(ping_interval: Option<Duration>, dead_after: Duration, max_frame: usize) -> Self {
        LinkConfig {
            ping_interval,
            dead_after,
            max_frame,
            max_open_requests: MAX_OPEN_REQUESTS,
            shared_budget: None,
        }
    }
}

/// A request's body: a value, or bytes `bulk::encode_request_body` made.
enum Outgoing {
    // Boxed: the queue's first block holds 32 of these per connection.
    Body(Box<RequestBody>),
    Encoded(Bytes),
}

/// Who waits for the answers to one of our requests, and in what form.
enum Asker {
    Decoded(mpsc::Sender<Result<ResponseBody, LinkError>>),
    /// Frame bodies as they came, for a requester that reads them in place.
    Raw(mpsc::Sender<Result<BytesMut, LinkError>>),
}

impl Asker {
    /// Tells the asker its request failed (if it still listens).
    fn fail(&self, e: LinkError) {
        match self {
            Asker::Decoded(tx) => drop(tx.try_send(Err(e))),
            Asker::Raw(tx) => drop(tx.try_send(Err(e))),
        }
    }
}

/// An answer as a requester receives it.
pub trait Answer: Send + 'static {
    /// No more answers follow this one. Raw bodies are not looked into:
    /// their reader knows when it is done.
    fn is_final(&self) -> bool;
}

impl Answer for ResponseBody {
    fn is_final(&self) -> bool {
        ResponseBody::is_final(self)
    }
}

impl Answer for BytesMut {
    fn is_final(&self) -> bool {
        false
    }
}

enum Cmd {
    Request {
        body: Outgoing,
        reply: Asker,
        id_tx: tokio::sync::oneshot::Sender<u64>,
    },
    Frame(Bytes),
    /// We no longer want the answers to our request `id`; `cancel`: the
    /// peer may still be answering.
    Forget {
        id: u64,
        cancel: bool,
    },
    /// Our handler for the peer's request `id` finished.
    Done(u64),
    /// End the link after telling the peer why.
    Close(ErrorFrame),
}

/// Talks to a link's socket task. Cheap to clone.
#[derive(Clone)]
pub struct LinkHandle {
    tx: mpsc::Sender<Cmd>,
    max_frame: usize,
}

/// The commands a `LinkHandle` sends, for `drive`.
pub struct LinkQueue(mpsc::Receiver<Cmd>);

impl LinkHandle {
    pub fn new(max_frame: usize) -> (LinkHandle, LinkQueue) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (LinkHandle { tx, max_frame }, LinkQueue(rx))
    }

    /// Sends a request; its answers arrive on the returned stream. Dropping
    /// the stream before the final answer cancels the request at the peer.
    pub async fn request(&self, body: RequestBody) -> Result<Responses, LinkError> {
        self.start(Outgoing::Body(Box::new(body)), ANSWERS, Asker::Decoded)
            .await
    }

    /// Like `request`, with each answer's frame body as it came, to read in
    /// place (`bulk::nodes_page`, `bulk::log_lines_page`): no copy into
    /// owned values for answers turned straight into output. Dropping the
    /// stream cancels the request at the peer, or is a no-op once it ended.
    pub async fn request_raw(&self, body: RequestBody) -> Result<Responses<BytesMut>, LinkError> {
        self.start(Outgoing::Body(Box::new(body)), RAW_ANSWERS, Asker::Raw)
            .await
    }

    /// Like `request`, with at most `window` answers buffered: past that
    /// the link stops reading until the asker takes one (a stream of big
    /// answers, e.g. file chunks, held in few frames' memory).
    pub async fn request_window(
        &self,
        body: RequestBody,
        window: usize,
    ) -> Result<Responses, LinkError> {
        self.start(
            Outgoing::Body(Box::new(body)),
            window.max(1),
            Asker::Decoded,
        )
        .await
    }

    /// Like `request`, with a body encoded once by
    /// `bulk::encode_request_body` (the same bytes go to many peers, or
    /// many times).
    pub async fn request_encoded(&self, body: Bytes) -> Result<Responses, LinkError> {
        self.start(Outgoing::Encoded(body), ANSWERS, Asker::Decoded)
            .await
    }

    async fn start<T: Answer>(
        &self,
        body: Outgoing,
        window: usize,
        asker: fn(mpsc::Sender<Result<T, LinkError>>) -> Asker,
    ) -> Result<Responses<T>, LinkError> {
        let (tx, rx) = mpsc::channel(window);
        let reply = asker(tx);
        let (id_tx, id_rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Cmd::Request { body, reply, id_tx })
            .await
            .map_err(|_| closed())?;
        let id = id_rx.await.map_err(|_| closed())?;
        Ok(Responses {
            id,
            rx,
            link: self.clone(),
            done: false,
        })
    }

    /// Sends one message as it is.
    pub async fn send(&self, msg: &Message) -> Result<(), LinkError> {
        let frame =
            encode_frame(msg, self.max_frame).map_err(|e| LinkError::Encode(e.to_string()))?;
        self.send_frame(frame).await
    }

    /// Sends an already-encoded frame (encode once, send to many).
    pub async fn send_frame(&self, frame: Bytes) -> Result<(), LinkError> {
        self.tx.send(Cmd::Frame(frame)).await.map_err(|_| closed())
    }

    /// Ends the link, telling the peer why.
    pub async fn close(&self, why: ErrorFrame) {
        let _ = self.tx.send(Cmd::Close(why)).await;
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Commands queued to the socket task right now (for producers that
    /// pace themselves to what the peer reads).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn max_frame(&self) -> usize {
        self.max_frame
    }
}

fn closed() -> LinkError {
    LinkError::Closed("the link has ended".into())
}

/// The answers to one request we sent, in order.
pub struct Responses<T: Answer = ResponseBody> {
    id: u64,
    rx: mpsc::Receiver<Result<T, LinkError>>,
    link: LinkHandle,
    done: bool,
}

impl<T: Answer> Responses<T> {
    /// The next answer; `None` after the final one.
    pub async fn next(&mut self) -> Option<Result<T, LinkError>> {
        if self.done {
            return None;
        }
        let answer = self.rx.recv().await;
        match &answer {
            Some(Ok(body)) if !body.is_final() => {}
            _ => self.done = true,
        }
        answer
    }

    /// The request's ID on this link.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The reader of raw answers saw the final one: the link forgets the
    /// request, which the peer has finished (no `Cancel`).
    pub fn finished(&mut self) {
        self.forget(false);
    }

    fn forget(&mut self, cancel: bool) {
        if !self.done {
            self.done = true;
            let _ = self.link.tx.try_send(Cmd::Forget {
                id: self.id,
                cancel,
            });
        }
    }
}

impl<T: Answer> Drop for Responses<T> {
    fn drop(&mut self) {
        self.forget(true);
    }
}

/// Answers one request from the peer.
pub struct Replier {
    id: u64,
    link: LinkHandle,
}

impl Replier {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sends one answer (waits while the socket's queue is full).
    pub async fn send(&self, body: ResponseBody) -> Result<(), LinkError> {
        self.link
            .send(&Message::Response(Response { id: self.id, body }))
            .await
    }

    /// Sends an error answer.
    pub async fn error(
        &self,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Result<(), LinkError> {
        self.send(ResponseBody::Error(ErrorFrame::new(code, message)))
            .await
    }

    /// The link this request came in on.
    pub fn link(&self) -> &LinkHandle {
        &self.link
    }
}

/// A request from the peer, as a handler receives it.
pub struct Incoming {
    pub body: RequestBody,
    pub reply: Replier,
    /// Fires when the peer cancels or the link ends.
    pub cancel: CancellationToken,
}

/// What one end does with the other's requests.
pub trait Handler: Send + Sync + 'static {
    /// Runs in its own task per request.
    fn handle(self: Arc<Self>, req: Incoming) -> impl Future<Output = ()> + Send;

    /// Called for every frame received (liveness bookkeeping).
    fn heard(&self) {}
}

/// Why a link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEnd {
    /// The peer closed cleanly.
    Closed,
    /// Our shutdown token fired.
    Shutdown,
    /// Nothing from the peer within `dead_after`.
    Silent(Duration),
    /// The peer sent an Error frame.
    PeerError(ErrorFrame),
    /// We closed it (`LinkHandle::close`), telling the peer this.
    ClosedByUs(ErrorFrame),
    /// Bad bytes or a message out of place; the peer was told.
    Protocol(String),
    /// The socket failed.
    Io(String),
}

impl std::fmt::Display for LinkEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkEnd::Closed => f.write_str("closed by peer"),
            LinkEnd::Shutdown => f.write_str("shutting down"),
            LinkEnd::Silent(d) => write!(f, "peer silent for {:.1}s", d.as_secs_f32()),
            LinkEnd::PeerError(e) => write!(f, "peer: {e}"),
            LinkEnd::ClosedByUs(e) => write!(f, "closed: {e}"),
            LinkEnd::Protocol(m) => write!(f, "protocol error: {m}"),
            LinkEnd::Io(m) => f.write_str(m),
        }
    }
}

/// Runs a link until it ends. `shutdown_error` is what the peer is told
/// when `shutdown` fires.
pub async fn drive<S, H>(
    mut conn: Connection<S>,
    handle: LinkHandle,
    LinkQueue(mut queue): LinkQueue,
    handler: Arc<H>,
    config: LinkConfig,
    shutdown: CancellationToken,
    shutdown_error: ErrorFrame,
) -> LinkEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let mut pending: HashMap<u64, Asker> = HashMap::new();
    // Each open request of the peer: its cancel token, and its permit of
    // the shared budget (returned when the entry goes).
    let mut incoming: HashMap<u64, (CancellationToken, Option<tokio::sync::OwnedSemaphorePermit>)> =
        HashMap::new();
    let mut next_id: u64 = 1;
    let mut seq: u64 = 0;
    let ping_every = config.ping_interval.unwrap_or(Duration::from_secs(3600));
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    // How much of a frame had arrived when we last looked: more since is
    // the peer alive, sending a frame too big to cross within `dead_after`
    // on a slow link (which, counted as silence, would be cut and sent
    // again forever). Its heartbeats wait behind that frame, so we cannot
    // answer them: we ping it instead, so that it hears from us too.
    let mut partial = 0usize;
    let progress_every = (config.dead_after / 4).max(Duration::from_millis(10));
    let mut progress = tokio::time::interval_at(Instant::now() + progress_every, progress_every);
    progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refusals: u64 = 0;

    let end = 'run: loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.send(&Message::Error(shutdown_error.clone()))).await;
                break LinkEnd::Shutdown;
            }
            _ = ping.tick(), if config.ping_interval.is_some() => {
                seq += 1;
                if let Err(e) = conn.send(&Message::Ping(Ping { seq })).await {
                    break LinkEnd::Io(e.to_string());
                }
            }
            _ = progress.tick() => {
                let arrived = conn.partial_input();
                if arrived > partial {
                    partial = arrived;
                    last_heard = Instant::now();
                    handler.heard();
                    seq += 1;
                    if let Err(e) = conn.send(&Message::Ping(Ping { seq })).await {
                        break LinkEnd::Io(e.to_string());
                    }
                }
            }
            _ = tokio::time::sleep_until(last_heard + config.dead_after) => {
                let arrived = conn.partial_input();
                if arrived > partial {
                    partial = arrived;
                    last_heard = Instant::now();
                    handler.heard();
                    continue;
                }
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    conn.send(&Message::Error(ErrorFrame::new(ErrorCode::Timeout, format!("no heartbeat for {:.1}s", config.dead_after.as_secs_f32())))),
                ).await;
                break LinkEnd::Silent(config.dead_after);
            }
            cmd = queue.recv() => {
                // Never None: `handle` keeps a sender alive.
                let Some(cmd) = cmd else { break LinkEnd::Shutdown };
                let started = Instant::now();
                let mut cmd = Some(cmd);
                let mut written = 0;
                while let Some(c) = cmd.take() {
                    match c {
                        Cmd::Request { body, reply, id_tx } => {
                            let id = next_id;
                            next_id += 1;
                            if id_tx.send(id).is_ok() {
                                pending.insert(id, reply);
                                let fed = match body {
                                    Outgoing::Body(body) => conn.feed(&Message::Request(Request { id, body: *body })).await,
                                    Outgoing::Encoded(body) => {
                                        match crate::net::frame::seal(crate::net::frame::request_frame(id, &body), config.max_frame) {
                                            Ok(frame) => conn.feed_frame(frame).await,
                                            Err(e) => {
                                                // Too big: the asker hears why, the link goes on.
                                                if let Some(asker) = pending.remove(&id) {
                                                    asker.fail(LinkError::Encode(e.to_string()));
                                                }
                                                Ok(())
                                            }
                                        }
                                    }
                                };
                                if let Err(e) = fed {
                                    break 'run feed_failed(e);
                                }
                                written += 1;
                            }
                        }
                        Cmd::Frame(frame) => {
                            if let Err(e) = conn.feed_frame(frame).await {
                                break 'run feed_failed(e);
                            }
                            written += 1;
                        }
                        Cmd::Forget { id, cancel } => {
                            if pending.remove(&id).is_some() && cancel {
                                if let Err(e) = conn.feed(&Message::Cancel(Cancel { id })).await {
                                    break 'run feed_failed(e);
                                }
                                written += 1;
                            }
                        }
                        Cmd::Done(id) => {
                            incoming.remove(&id);
                        }
                        Cmd::Close(why) => {
                            let _ = conn.feed(&Message::Error(why.clone())).await;
                            let _ = tokio::time::timeout(Duration::from_secs(1), conn.flush()).await;
                            break 'run LinkEnd::ClosedByUs(why);
                        }
                    }
                    if written < BATCH {
                        cmd = queue.try_recv().ok();
                    }
                }
                if written > 0 {
                    if let Err(e) = conn.flush().await {
                        break LinkEnd::Io(e.to_string());
                    }
                    // A write that waited for the peer and then went
                    // through: the peer is alive (reading slowly), and we
                    // could not read its heartbeats meanwhile.
                    if started.elapsed() > WRITE_STALL {
                        last_heard = Instant::now();
                    }
                }
            }
            body = conn.read_body() => {
                last_heard = Instant::now();
                partial = conn.partial_input();
                handler.heard();
                let msg = match body {
                    Ok(Some(body)) => {
                        let raw = bulk::response_id(&body).and_then(|id| match pending.get(&id) {
                            Some(Asker::Raw(tx)) => Some((id, tx.clone())),
                            _ => None,
                        });
                        if let Some((id, tx)) = raw {
                            let waited = Instant::now();
                            if tx.send(Ok(body)).await.is_err() {
                                pending.remove(&id);
                            }
                            // Our own slow reader held us; the peer was not silent.
                            if waited.elapsed() > WRITE_STALL {
                                last_heard = Instant::now();
                            }
                            continue;
                        }
                        decode_body(&body)
                    }
                    Ok(None) => break LinkEnd::Closed,
                    Err(e) => Err(e),
                };
                let msg = match msg {
                    Ok(m) => m,
                    // A peer that exits without TLS close_notify has still
                    // closed between frames: a normal end, not an error.
                    Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break LinkEnd::Closed,
                    Err(FrameError::Io(e)) => break LinkEnd::Io(e.to_string()),
                    Err(FrameError::Truncated) => break LinkEnd::Io("connection closed in the middle of a frame".into()),
                    Err(FrameError::UnknownRequest { id, name }) => {
                        // A newer peer's request: refuse it alone, keep the link.
                        tracing::warn!("refused unknown request `{name}` from a newer peer");
                        let why = ErrorFrame::new(
                            ErrorCode::BadRequest,
                            format!("request `{name}` is not known to this monit {}: upgrade it to match the sender", crate::VERSION),
                        );
                        if let Err(e) = conn.send(&Message::Response(Response { id, body: ResponseBody::Error(why) })).await {
                            break LinkEnd::Io(e.to_string());
                        }
                        continue;
                    }
                    Err(FrameError::UnknownResponse { id, name }) => {
                        if let Some(Asker::Decoded(tx)) = pending.remove(&id) {
                            let _ = tx.try_send(Ok(ResponseBody::Error(ErrorFrame::new(
                                ErrorCode::Protocol,
                                format!("the peer answered with `{name}`, which this monit {} does not know: upgrade it", crate::VERSION),
                            ))));
                        }
                        continue;
                    }
                    Err(e) => {
                        let code = match e {
                            FrameError::TooLarge { .. } => ErrorCode::TooLarge,
                            _ => ErrorCode::Malformed,
                        };
                        conn.send_error(code, e.to_string()).await;
                        break LinkEnd::Protocol(e.to_string());
                    }
                };
                match msg {
                    Message::Ping(p) => {
                        if let Err(e) = conn.send(&Message::Pong(p)).await {
                            break LinkEnd::Io(e.to_string());
                        }
                    }
                    Message::Pong(_) => {}
                    Message::Request(Request { id, body }) => {
                        if incoming.contains_key(&id) {
                            let why = format!("request id {id} is already in use");
                            conn.send_error(ErrorCode::Protocol, why.clone()).await;
                            break LinkEnd::Protocol(why);
                        }
                        let permit = match open_slot(&config, incoming.len()) {
                            Ok(p) => p,
                            Err(why) => {
                                // Once per link: a flood must not flood the log too.
                                refusals += 1;
                                if refusals == 1 {
                                    tracing::warn!("refused a request (and any more past the limit on this link): {}", why.message);
                                }
                                if let Err(e) = conn.send(&Message::Response(Response { id, body: ResponseBody::Error(why) })).await {
                                    break LinkEnd::Io(e.to_string());
                                }
                                continue;
                            }
                        };
                        let cancel = CancellationToken::new();
                        incoming.insert(id, (cancel.clone(), permit));
                        let req = Incoming {
                            body,
                            reply: Replier { id, link: handle.clone() },
                            cancel,
                        };
                        let done = handle.tx.clone();
                        let h = handler.clone();
                        // The handler's lines carry the link's span (its peer).
                        tokio::spawn(tracing::Instrument::in_current_span(async move {
                            h.handle(req).await;
                            let _ = done.send(Cmd::Done(id)).await;
                        }));
                    }
                    Message::Response(Response { id, body }) => {
                        let last = body.is_final();
                        if let Some(Asker::Decoded(tx)) = pending.get(&id) {
                            let waited = Instant::now();
                            // The asker may have gone; then its answers are dropped.
                            if tx.send(Ok(body)).await.is_err() || last {
                                pending.remove(&id);
                            }
                            // Our own slow reader held us; the peer was not silent.
                            if waited.elapsed() > WRITE_STALL {
                                last_heard = Instant::now();
                            }
                        }
                    }
                    Message::Cancel(Cancel { id }) => {
                        if let Some((token, _permit)) = incoming.remove(&id) {
                            token.cancel();
                        }
                    }
                    Message::Error(e) => break LinkEnd::PeerError(e),
                    other => {
                        let why = format!("unexpected {} after the handshake", message_name(&other));
                        conn.send_error(ErrorCode::Protocol, why.clone()).await;
                        break LinkEnd::Protocol(why);
                    }
                }
            }
        }
    };
    for (token, _) in incoming.values() {
        token.cancel();
    }
    let reason = match &end {
        LinkEnd::PeerError(e) => LinkError::Peer(e.clone()),
        end => LinkError::Closed(end.to_string()),
    };
    for (_, asker) in pending.drain() {
        asker.fail(reason.clone());
    }
    end
}

/// Room for one more of the peer's requests: within this link's limit and
/// the shared budget (whose permit the caller keeps while it is open).
fn open_slot(
    config: &LinkConfig,
    open: usize,
) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, ErrorFrame> {
    if open >= config.max_open_requests {
        return Err(ErrorFrame::new(
            ErrorCode::Busy,
            format!(
                "too many open requests on this connection (at most {}): end some (streams, follows) first",
                config.max_open_requests
            ),
        ));
    }
    match &config.shared_budget {
        None => Ok(None),
        Some(budget) => budget.clone().try_acquire_owned().map(Some).map_err(|_| {
            ErrorFrame::new(
                ErrorCode::Busy,
                "too many open requests for this token across its connections: end some (streams, follows) first",
            )
        }),
    }
}

fn feed_failed(e: FrameError) -> LinkEnd {
    LinkEnd::Io(e.to_string())
}

/// A handler for an end that serves no requests (operator clients).
pub struct NoRequests;

impl Handler for NoRequests {
    async fn handle(self: Arc<Self>, req: Incoming) {
        let _ = req
            .reply
            .error(ErrorCode::Forbidden, "this peer serves no requests")
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::proto::{NodesPage, QueryNodes, DEFAULT_MAX_FRAME};

    /// Answers QueryNodes with three pages; holds Register until cancelled.
    struct Echo {
        cancelled: mpsc::Sender<u64>,
    }

    impl Handler for Echo {
        async fn handle(self: Arc<Self>, req: Incoming) {
            match req.body {
                RequestBody::QueryNodes(_) => {
                    for i in 0..3 {
                        let page = NodesPage {
                            nodes: vec![],
                            done: i == 2,
                        };
                        let _ = req.reply.send(ResponseBody::Nodes(page)).await;
                    }
                }
                RequestBody::Register(_) => {
                    req.cancel.cancelled().await;
                    let _ = self.cancelled.send(req.reply.id()).await;
                }
                _ => {}
            }
        }
    }

    fn config() -> LinkConfig {
        LinkConfig::new(
            Some(Duration::from_millis(50)),
            Duration::from_millis(500),
            DEFAULT_MAX_FRAME,
        )
    }

    fn pair() -> (
        LinkHandle,
        LinkHandle,
        mpsc::Receiver<u64>,
        CancellationToken,
    ) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let stop = CancellationToken::new();
        let (tx, rx) = mpsc::channel(4);
        let mut ends = Vec::new();
        for stream in [a, b] {
            let (handle, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
            let handler = Arc::new(Echo {
                cancelled: tx.clone(),
            });
            tokio::spawn(drive(
                Connection::new(stream, DEFAULT_MAX_FRAME),
                handle.clone(),
                queue,
                handler,
                config(),
                stop.clone(),
                ErrorFrame::new(ErrorCode::ShuttingDown, "bye"),
            ));
            ends.push(handle);
        }
        let b = ends.pop().unwrap();
        let a = ends.pop().unwrap();
        (a, b, rx, stop)
    }

    #[tokio::test]
    async fn requests_both_ways_streams_and_cancel() {
        let (a, b, mut cancelled, stop) = pair();
        for (from, name) in [(&a, "a"), (&b, "b")] {
            let mut answers = from
                .request(RequestBody::QueryNodes(QueryNodes::default()))
                .await
                .unwrap();
            let mut pages = 0;
            while let Some(answer) = answers.next().await {
                assert!(matches!(answer.unwrap(), ResponseBody::Nodes(_)), "{name}");
                pages += 1;
            }
            assert_eq!(pages, 3, "{name}");
            // The same answers as frame bodies, for their reader to decode.
            let mut raw = from
                .request_raw(RequestBody::QueryNodes(QueryNodes::default()))
                .await
                .unwrap();
            for i in 0..3 {
                let body = raw.next().await.unwrap().unwrap();
                let page = crate::net::client::decode_answer(&body).unwrap();
                assert!(matches!(page, ResponseBody::Nodes(p) if p.done == (i == 2)));
            }
            raw.finished();
            assert!(raw.next().await.is_none());
        }
        // Dropping an unfinished request cancels it at the peer.
        let held = a
            .request(RequestBody::Register(Default::default()))
            .await
            .unwrap();
        let id = held.id();
        drop(held);
        let got = tokio::time::timeout(Duration::from_secs(2), cancelled.recv())
            .await
            .unwrap();
        assert_eq!(got, Some(id));
        // Heartbeats keep an idle link alive past dead_after.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(!a.is_closed() && !b.is_closed());
        // A pending request fails when the link ends.
        let mut pending = a
            .request(RequestBody::Register(Default::default()))
            .await
            .unwrap();
        stop.cancel();
        let end = tokio::time::timeout(Duration::from_secs(2), pending.next())
            .await
            .unwrap();
        assert!(matches!(end, Some(Err(LinkError::Closed(_)))), "{end:?}");
    }

    #[tokio::test]
    async fn a_silent_peer_ends_the_link() {
        let (a, _b_raw) = tokio::io::duplex(1024);
        let (handle, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
        let (tx, _rx) = mpsc::channel(1);
        let end = drive(
            Connection::new(a, DEFAULT_MAX_FRAME),
            handle,
            queue,
            Arc::new(Echo { cancelled: tx }),
            LinkConfig::new(None, Duration::from_millis(200), DEFAULT_MAX_FRAME),
            CancellationToken::new(),
            ErrorFrame::new(ErrorCode::ShuttingDown, "bye"),
        )
        .await;
        assert_eq!(end, LinkEnd::Silent(Duration::from_millis(200)));
    }

    /// A frame whose bytes trickle in for longer than `dead_after` (a big
    /// batch on a slow link) is proof of life, not silence; silence after
    /// it still ends the link.
    #[tokio::test]
    async fn a_frame_still_arriving_is_not_silence() {
        use crate::net::proto::{Level, LogBatch, LogLine};
        use tokio::io::AsyncWriteExt;
        let (a, peer) = tokio::io::duplex(1 << 16);
        let (handle, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
        let (tx, _rx) = mpsc::channel(1);
        let dead = Duration::from_millis(200);
        let driver = tokio::spawn(drive(
            Connection::new(a, DEFAULT_MAX_FRAME),
            handle,
            queue,
            Arc::new(Echo { cancelled: tx }),
            LinkConfig::new(None, dead, DEFAULT_MAX_FRAME),
            CancellationToken::new(),
            ErrorFrame::new(ErrorCode::ShuttingDown, "bye"),
        ));
        let line = LogLine {
            time_ms: 1,
            node: String::new(),
            level: Level::Info,
            source: "daemon".into(),
            message: "x".repeat(100),
        };
        let frame = encode_frame(
            &Message::Request(Request {
                id: 1,
                body: RequestBody::LogBatch(LogBatch {
                    stream: 1,
                    first_line: 0,
                    lines: vec![line; 40],
                }),
            }),
            DEFAULT_MAX_FRAME,
        )
        .unwrap();
        let (peer_rx, mut peer) = tokio::io::split(peer);
        let pings = tokio::spawn(async move {
            use futures::StreamExt;
            let mut frames = tokio_util::codec::FramedRead::new(
                peer_rx,
                crate::net::frame::MessageCodec::new(DEFAULT_MAX_FRAME),
            );
            let mut pings = 0;
            while let Some(Ok(m)) = frames.next().await {
                if matches!(m, Message::Ping(_)) {
                    pings += 1;
                }
            }
            pings
        });
        // 64 bytes every 20 ms: over a second, five times dead_after.
        let started = Instant::now();
        for piece in frame.chunks(64) {
            peer.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(
                !driver.is_finished(),
                "link ended {:?} into a frame still arriving",
                started.elapsed()
            );
        }
        assert!(started.elapsed() > dead * 4);
        let end = tokio::time::timeout(Duration::from_secs(5), driver)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(end, LinkEnd::Silent(dead));
        // The peer heard from us meanwhile, though its own heartbeats
        // (behind its frame) could not be answered.
        let pings = tokio::time::timeout(Duration::from_secs(5), pings)
            .await
            .unwrap()
            .unwrap();
        assert!(pings >= 3, "{pings} pings while the frame arrived");
    }
}
