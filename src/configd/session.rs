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
use super::preauth::Refusal;
use super::server::Shared;
use super::tokens::ConfigdAuth;
use crate::net::handshake::{server_handshake, HANDSHAKE_TIMEOUT};
use crate::net::link::{drive, LinkConfig, LinkEnd, LinkHandle};
use crate::net::proto::{ErrorCode, ErrorFrame, PeerKind};
use crate::net::{Connection, Stream};

/// The largest frame accepted before `Welcome`: a handshake message is
/// well under 1 KiB, and nobody unauthenticated gets to make configd
/// buffer more.
pub const PRE_AUTH_MAX_FRAME: usize = 4096;

/// TLS on an accepted socket (or not, when configd is plaintext).
async fn accept_tls(stream: TcpStream, shared: &Shared) -> std::io::Result<Stream> {
    match shared.tls() {
        Some(tls) => Ok(Stream::Server(Box::new(tls.acceptor.accept(stream).await?))),
        None => Ok(Stream::Plain(stream)),
    }
}

/// Answers a connection configd will not serve with `code` and closes
/// it; past `BUSY_ANSWERS` at once it is closed without a word.
pub async fn refuse(stream: TcpStream, shared: Arc<Shared>, code: ErrorCode, message: &str) {
    let Ok(_permit) = shared.busy_answers.clone().try_acquire_owned() else {
        return;
    };
    let answer = async {
        if let Ok(stream) = accept_tls(stream, &shared).await {
            let mut conn = Connection::new(stream, PRE_AUTH_MAX_FRAME);
            conn.send_error(code, message).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), answer).await;
}

pub async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    // One address's share of the slots first: past it, not even TLS.
    let slot = match shared.preauth.admit(peer.ip()) {
        Ok(slot) => slot,
        Err(Refusal::TooMany | Refusal::Throttled) => return,
    };
    let Ok(hs_permit) = shared.handshakes.clone().try_acquire_owned() else {
        tracing::warn!(%peer, "refused: too many handshakes in progress");
        refuse(
            stream,
            shared,
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
    // TLS and the token handshake share one deadline.
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let tls = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        r = tokio::time::timeout_at(deadline, accept_tls(stream, &shared)) => r,
    };
    let stream = match tls {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            slot.failed();
            tracing::warn!(%peer, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            slot.failed();
            tracing::warn!(%peer, "TLS handshake timed out after {}s", HANDSHAKE_TIMEOUT.as_secs());
            return;
        }
    };
    let binding = stream.channel_binding();
    let mut conn = Connection::new(stream, PRE_AUTH_MAX_FRAME);
    let outcome = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        r = tokio::time::timeout_at(deadline, server_handshake(&mut conn, &shared.server_id, &auth, &binding)) => r,
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
            slot.failed();
            tracing::warn!(%peer, "handshake failed: {e}");
            if let Some(code) = e.code() {
                conn.send_error(code, e.to_string()).await;
            }
            return;
        }
        Ok(Ok((_hello, identity))) => identity,
    };
    drop(slot);
    conn.set_max_frame(shared.max_frame);
    let span = tracing::info_span!("session", %peer, name = %identity.name, role = %identity.role);
    async move {
        tracing::debug!("authenticated");
        let kind = identity.kind;
        let (link, queue) = LinkHandle::new(shared.max_frame);
        let api = Arc::new(Api::new(
            shared.clone(),
            identity.clone(),
            peer,
            link.clone(),
        ));
        let _open = shared
            .open_sessions
            .open(&identity.token_id, api.session(), link.clone());
        let config = LinkConfig {
            ping_interval: None,
            dead_after: shared.config.node_dead_after,
            max_frame: shared.max_frame,
        };
        // A token revoked while this handshake ran: close at once.
        if shared
            .tokens
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
            shared.shutdown.clone(),
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
