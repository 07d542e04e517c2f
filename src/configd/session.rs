//! One connection, from handshake to close: authenticate, then run a link
//! whose requests go to `Api`. Bad input ends this connection only, with
//! an Error frame and one log line.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::api::Api;
use super::server::Shared;
use super::tokens::ConfigdAuth;
use crate::net::handshake::{server_handshake, HANDSHAKE_TIMEOUT};
use crate::net::link::{drive, LinkConfig, LinkEnd, LinkHandle};
use crate::net::proto::{ErrorCode, ErrorFrame, PeerKind};
use crate::net::Connection;

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
    async move {
        tracing::debug!("authenticated");
        let kind = identity.kind;
        let (link, queue) = LinkHandle::new(shared.max_frame);
        let api = Arc::new(Api::new(shared.clone(), identity, peer, link.clone()));
        let config = LinkConfig {
            ping_interval: None,
            dead_after: shared.config.node_dead_after,
            max_frame: shared.max_frame,
        };
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
