//! One connection, from handshake to close: per-address limits, TLS, the
//! token handshake (frames of at most `PRE_AUTH_MAX_FRAME` until then),
//! then a link whose requests go to `Api`. Bad input ends this connection
//! only, with an Error frame and one log line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::api::Api;
use super::preauth::{Refusal, Slot};
use super::state::Shared;
use super::tokens::ConfigdAuth;
use crate::net::handshake::{server_handshake, HandshakeError, HANDSHAKE_TIMEOUT};
use crate::net::link::{drive, LinkConfig, LinkEnd, LinkHandle};
use crate::net::proto::{ErrorCode, ErrorFrame, PeerKind};
use crate::net::tls::ALPN_CLIENT;
use crate::net::{Connection, Stream};

// Nobody unauthenticated gets to make configd buffer more than this.
use crate::net::dial::PRE_AUTH_MAX_FRAME;

/// An accepted socket whose TLS ClientHello has been read (or a plaintext
/// one): what the peer claims to be is known before any crypto is done.
enum Started {
    Tls(
        Box<tokio_rustls::StartHandshake<TcpStream>>,
        Arc<crate::net::tls::ServerTls>,
    ),
    Plain(TcpStream),
}

impl Started {
    async fn read(stream: TcpStream, shared: &Shared) -> std::io::Result<Started> {
        match shared.tls() {
            Some(tls) => {
                let acceptor = tokio_rustls::LazyConfigAcceptor::new(
                    rustls::server::Acceptor::default(),
                    stream,
                );
                Ok(Started::Tls(Box::new(acceptor.await?), tls))
            }
            None => Ok(Started::Plain(stream)),
        }
    }

    /// The peer may be an operator: its ClientHello says so (a claim the
    /// token handshake checks), or plaintext, where nothing says.
    fn may_be_client(&self) -> bool {
        match self {
            Started::Plain(_) => true,
            Started::Tls(start, _) => start
                .client_hello()
                .alpn()
                .is_some_and(|mut protos| protos.any(|p| p == ALPN_CLIENT)),
        }
    }

    async fn finish(self) -> std::io::Result<Stream> {
        match self {
            Started::Tls(start, tls) => Ok(Stream::Server(Box::new(
                (*start).into_stream(tls.config.clone()).await?,
            ))),
            Started::Plain(s) => Ok(Stream::Plain(s)),
        }
    }
}

/// Answers a connection configd will not serve with `code` and closes
/// it; past `BUSY_ANSWERS` at once it is closed without a word.
pub async fn refuse(stream: TcpStream, shared: Arc<Shared>, code: ErrorCode, message: &str) {
    let Ok(_permit) = shared.busy_answers().clone().try_acquire_owned() else {
        return;
    };
    let answer = async {
        if let Ok(started) = Started::read(stream, &shared).await {
            refuse_started(started, code, message).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), answer).await;
}

async fn refuse_started(started: Started, code: ErrorCode, message: &str) {
    if let Ok(stream) = started.finish().await {
        let mut conn = Connection::new(stream, PRE_AUTH_MAX_FRAME);
        conn.send_error(code, message).await;
    }
}

/// The outcome of a TLS step within the handshake deadline; on failure it
/// is logged and counted against the address, unless `before_hello` and
/// the peer closed without a word (a TCP health probe: it cost nothing).
fn tls_step<T>(
    outcome: Result<std::io::Result<T>, tokio::time::error::Elapsed>,
    slot: &Slot,
    peer: SocketAddr,
    before_hello: bool,
) -> Option<T> {
    match outcome {
        Ok(Ok(done)) => Some(done),
        Ok(Err(e)) if before_hello && e.kind() == std::io::ErrorKind::UnexpectedEof => {
            tracing::debug!(%peer, "closed before its TLS hello (a TCP probe?)");
            None
        }
        Ok(Err(e)) => {
            slot.failed();
            tracing::warn!(%peer, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            slot.failed();
            tracing::warn!(%peer, "TLS handshake timed out after {}s", HANDSHAKE_TIMEOUT.as_secs());
            None
        }
    }
}

pub async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    // One address's share of the slots first: past it, not even TLS.
    let slot = match shared.preauth().admit(peer.ip()) {
        Ok(slot) => slot,
        Err(Refusal::TooMany | Refusal::Throttled) => return,
    };
    // TLS and the token handshake share one deadline. The ClientHello
    // first: it says whether the peer claims to be an operator.
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let hello = tokio::select! {
        _ = shared.shutdown().cancelled() => return,
        r = tokio::time::timeout_at(deadline, Started::read(stream, &shared)) => r,
    };
    let Some(started) = tls_step(hello, &slot, peer, true) else {
        return;
    };
    // A general slot, else (for a peer that may be an operator) one kept
    // for operators; a node that claimed one is turned away at its Hello.
    let (hs_permit, reserved_slot) = match shared.handshakes().clone().try_acquire_owned() {
        Ok(p) => (Some(p), false),
        Err(_) if started.may_be_client() => (
            shared.client_handshakes().clone().try_acquire_owned().ok(),
            true,
        ),
        Err(_) => (None, false),
    };
    let Some(hs_permit) = hs_permit else {
        if let Some(n) = shared.preauth().busy.hit() {
            tracing::warn!(%peer, refused = n, "refusing connections: too many handshakes in progress (max_handshakes)");
        }
        if let Ok(_answering) = shared.busy_answers().clone().try_acquire_owned() {
            let busy = refuse_started(
                started,
                ErrorCode::Busy,
                "too many connections are authenticating; try again",
            );
            let _ = tokio::time::timeout(Duration::from_secs(2), busy).await;
        }
        return;
    };
    let auth = ConfigdAuth {
        tokens: shared.tokens(),
        reserved_slot,
        server_id: shared.server_id(),
        heartbeat_interval_ms: shared.config().heartbeat_interval.as_millis() as u64,
        dead_after_ms: shared.config().node_dead_after.as_millis() as u64,
    };
    let tls = tokio::select! {
        _ = shared.shutdown().cancelled() => return,
        r = tokio::time::timeout_at(deadline, started.finish()) => r,
    };
    let Some(stream) = tls_step(tls, &slot, peer, false) else {
        return;
    };
    let binding = stream.channel_binding();
    let mut conn = Connection::new(stream, PRE_AUTH_MAX_FRAME);
    let outcome = tokio::select! {
        _ = shared.shutdown().cancelled() => return,
        r = tokio::time::timeout_at(deadline, server_handshake(&mut conn, shared.server_id(), &auth, &binding)) => r,
    };
    drop(hs_permit);
    let identity = match outcome {
        Err(_) => {
            slot.failed();
            tracing::warn!(%peer, "handshake timed out after {}s", HANDSHAKE_TIMEOUT.as_secs());
            conn.send_error(
                ErrorCode::Timeout,
                format!("handshake timed out after {}s", HANDSHAKE_TIMEOUT.as_secs()),
            )
            .await;
            return;
        }
        Ok(Err(e)) => {
            // Turned away for want of room is not a failed attempt.
            if !matches!(&e, HandshakeError::Refused(r) if r.code == ErrorCode::Busy) {
                slot.failed();
            }
            if matches!(e, HandshakeError::Closed) {
                tracing::debug!(%peer, "handshake ended: {e}");
            } else {
                tracing::warn!(%peer, "handshake failed: {e}");
            }
            if let Some(code) = e.code() {
                conn.send_error(code, e.to_string()).await;
            }
            return;
        }
        Ok(Ok((_hello, identity))) => identity,
    };
    drop(slot);
    conn.set_max_frame(shared.max_frame());
    let session = shared.next_session();
    let span = tracing::info_span!("session", session, %peer, name = %identity.name, role = %identity.role);
    async move {
        tracing::debug!("authenticated");
        let kind = identity.kind;
        let (link, queue) = LinkHandle::new(shared.max_frame());
        let api = Arc::new(Api::new(
            shared.clone(),
            identity.clone(),
            (peer, session),
            link.clone(),
        ));
        let _open = shared
            .open_sessions()
            .open(&identity.token_id, api.session(), link.clone());
        let config = LinkConfig {
            max_open_requests: shared.config().max_open_requests,
            shared_budget: Some(shared.open_sessions().budget(&identity.token_id)),
            ..LinkConfig::new(None, shared.config().node_dead_after, shared.max_frame())
        };
        // A token revoked while this handshake ran: close at once.
        if shared
            .tokens()
            .lookup(&identity.token_id)
            .is_none_or(|e| !e.is_live())
        {
            link.close(ErrorFrame::new(
                ErrorCode::Auth,
                format!("token `{}` was revoked", identity.token_id),
            ))
            .await;
        }
        let end = drive(
            conn,
            link,
            queue,
            api.clone(),
            config,
            shared.shutdown().clone(),
            ErrorFrame::new(ErrorCode::ShuttingDown, "configd is shutting down"),
        )
        .await;
        api.ended(&end).await;
        match (&end, kind) {
            (LinkEnd::Closed, PeerKind::Client) => tracing::debug!("disconnected"),
            (LinkEnd::Closed | LinkEnd::Shutdown, _) => tracing::info!("disconnected: {end}"),
            _ => tracing::warn!("disconnected: {end}"),
        }
    }
    .instrument(span)
    .await;
}
