//! The one way to reach configd, for `monit-cli`, `monit-tui` and
//! `monit-noded` alike: TCP, TLS checked against the trust settings, the
//! token handshake bound to that TLS session, then link settings from the
//! `Welcome`.

use std::time::Duration;

use tokio::net::TcpStream;

use super::connection::Connection;
use super::handshake::{client_handshake, HandshakeError};
use super::link::LinkConfig;
use super::proto::{ErrorFrame, PeerKind, Welcome, DEFAULT_MAX_FRAME};
use super::stream::Stream;
use super::tls::{secure, Trust, TrustError};
use crate::auth::Token;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest frame either side accepts before `Welcome`: handshake
/// messages are well under 1 KiB.
pub const PRE_AUTH_MAX_FRAME: usize = 4096;

/// Where configd is, how to know it, and the token to prove ourselves with.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub server: String,
    pub token: Token,
    pub trust: Trust,
}

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("cannot connect to configd at {server}: {reason}")]
    Connect { server: String, reason: String },
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("configd at {server} refused: {refusal}")]
    Refused { server: String, refusal: ErrorFrame },
    #[error("handshake with configd at {server} failed: {source}")]
    Handshake {
        server: String,
        source: HandshakeError,
    },
}

/// A connection past the handshake.
pub struct Dialed {
    pub conn: Connection<Stream>,
    pub welcome: Welcome,
    /// A first-use notice to show the operator (the fingerprint recorded).
    pub notice: Option<String>,
}

/// TCP and TLS only: a stream to configd whose certificate passed `trust`
/// (for tests and tools that speak the protocol by hand), dialled as `kind`.
pub async fn open(
    server: &str,
    trust: &Trust,
    kind: PeerKind,
) -> Result<(Stream, Option<String>), DialError> {
    let alpn = match kind {
        PeerKind::Node => super::tls::ALPN_NODE,
        PeerKind::Client => super::tls::ALPN_CLIENT,
    };
    let connect_err = |reason: String| DialError::Connect {
        server: server.to_string(),
        reason,
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(server))
        .await
        .map_err(|_| connect_err(format!("no answer in {}s", CONNECT_TIMEOUT.as_secs())))?
        .map_err(|e| connect_err(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let secured = tokio::time::timeout(CONNECT_TIMEOUT, secure(tcp, server, trust, alpn))
        .await
        .map_err(|_| connect_err(format!("no TLS answer in {}s", CONNECT_TIMEOUT.as_secs())))??;
    Ok((secured.stream, secured.notice))
}

static NOTICES_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Also print first-use notices on stderr (monit-cli: it has no log; the
/// TUI must not, its screen is the terminal, and logs them).
pub fn print_notices_on_stderr() {
    NOTICES_TO_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Dials, secures and authenticates as `kind` named `name`.
pub async fn dial(endpoint: &Endpoint, kind: PeerKind, name: &str) -> Result<Dialed, DialError> {
    let server = &endpoint.server;
    let (stream, notice) = open(server, &endpoint.trust, kind).await?;
    if let Some(n) = &notice {
        tracing::warn!("{n}");
        if NOTICES_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!("monit: {n}");
        }
    }
    let binding = stream.channel_binding();
    // Small frames until configd has proven itself (as configd does for us).
    let mut conn = Connection::new(stream, PRE_AUTH_MAX_FRAME);
    let welcome = client_handshake(&mut conn, kind, name, &endpoint.token, &binding)
        .await
        .map_err(|source| match source {
            HandshakeError::Refused(refusal) => DialError::Refused {
                server: server.clone(),
                refusal,
            },
            source => DialError::Handshake {
                server: server.clone(),
                source,
            },
        })?;
    conn.set_max_frame(DEFAULT_MAX_FRAME);
    Ok(Dialed {
        conn,
        welcome,
        notice,
    })
}

/// The link settings configd's `Welcome` asks for.
pub fn link_config(welcome: &Welcome) -> LinkConfig {
    LinkConfig::new(
        Some(Duration::from_millis(
            welcome.heartbeat_interval_ms.max(100),
        )),
        Duration::from_millis(welcome.dead_after_ms.max(300)),
        DEFAULT_MAX_FRAME,
    )
}
