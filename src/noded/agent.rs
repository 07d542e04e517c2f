//! The agent's connection loop: connect, handshake, register, then a link
//! (heartbeats, requests both ways) until it ends; then wait (capped
//! backoff with jitter) and start over. It never exits because configd
//! went away, only on shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::api::NodeApi;
use super::host::{host_addrs, hostname};
use super::uplink::Uplink;
use crate::auth::{read_private, SecretFileError, Token};
use crate::config::NodedConfig;
use crate::net::backoff::Backoff;
use crate::net::handshake::{client_handshake, HandshakeError};
use crate::net::link::{drive, LinkConfig, LinkEnd, LinkHandle};
use crate::net::proto::{
    ErrorCode, ErrorFrame, PeerKind, Registration, RequestBody, ResponseBody, DEFAULT_MAX_FRAME,
};
use crate::net::Connection;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum NodedError {
    #[error(transparent)]
    TokenFile(#[from] SecretFileError),
    #[error("token file {path}: {reason}")]
    Token { path: String, reason: String },
}

/// Reads and checks the node token.
fn load_token(config: &NodedConfig) -> Result<Token, NodedError> {
    let text = read_private(&config.token_file)?;
    Token::parse(&text).map_err(|e| NodedError::Token {
        path: config.token_file.display().to_string(),
        reason: e.to_string(),
    })
}

/// Runs the agent until `shutdown`. Fails only at start, on a token file
/// that cannot be used.
pub async fn run(config: NodedConfig, shutdown: CancellationToken) -> Result<(), NodedError> {
    run_with(config, Uplink::new(), shutdown).await
}

/// Like `run`, publishing the live link on `uplink`.
pub async fn run_with(
    config: NodedConfig,
    uplink: Uplink,
    shutdown: CancellationToken,
) -> Result<(), NodedError> {
    load_token(&config)?;
    let api = Arc::new(NodeApi {
        config: config.clone(),
    });
    let pipe = crate::logs::Pipe::global();
    let shipper = pipe.take_receiver().map(|rx| {
        tokio::spawn(crate::logs::shipper::run(
            rx,
            pipe,
            uplink.clone(),
            crate::logs::shipper::ShipperConfig {
                spool_lines: config.log.spool_lines,
                memory_lines: (config.log.spool_lines / 10).clamp(100, 20_000),
                spool_dir: Some(config.spool_dir.clone()),
                ..Default::default()
            },
            shutdown.clone(),
        ))
    });
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    tracing::info!(name = %config.name, server = %config.server, "noded starting");
    loop {
        // Re-read each time: an operator may have replaced the token.
        let attempt = match load_token(&config) {
            Ok(token) => session(&config, &token, &api, &uplink, &shutdown).await,
            Err(e) => Err(e.to_string()),
        };
        uplink.set(None);
        match attempt {
            Ok(Ended::Shutdown) => break,
            Ok(Ended::Lost { reason, registered }) => {
                if registered {
                    backoff.reset();
                }
                tracing::warn!(server = %config.server, "connection to configd lost: {reason}");
            }
            Err(reason) => {
                tracing::warn!(server = %config.server, "cannot reach configd: {reason}")
            }
        }
        let delay = backoff.next_delay();
        tracing::info!("reconnecting in {:.1}s", delay.as_secs_f32());
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    tracing::info!("noded stopped");
    if let Some(shipper) = shipper {
        // It writes unsent log lines to the spool directory.
        let _ = tokio::time::timeout(Duration::from_secs(5), shipper).await;
    }
    Ok(())
}

enum Ended {
    Shutdown,
    Lost { reason: String, registered: bool },
}

fn registration(config: &NodedConfig) -> Registration {
    Registration {
        hostname: hostname(),
        version: crate::VERSION.to_string(),
        labels: config.labels.clone(),
        addrs: host_addrs(),
    }
}

async fn register(link: &LinkHandle, config: &NodedConfig) -> Result<i64, String> {
    let mut answers = link
        .request(RequestBody::Register(registration(config)))
        .await
        .map_err(|e| e.to_string())?;
    match answers.next().await {
        Some(Ok(ResponseBody::Registered(r))) => Ok(r.first_seen_ms),
        Some(Ok(ResponseBody::Error(e))) => Err(format!("configd refused the registration: {e}")),
        Some(Ok(other)) => Err(format!("unexpected answer to the registration: {other:?}")),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("no answer to the registration".into()),
    }
}

/// One connection's life. `Err` means it never got as far as a link.
async fn session(
    config: &NodedConfig,
    token: &Token,
    api: &Arc<NodeApi>,
    uplink: &Uplink,
    shutdown: &CancellationToken,
) -> Result<Ended, String> {
    let stream = tokio::select! {
        _ = shutdown.cancelled() => return Ok(Ended::Shutdown),
        r = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&config.server)) => r,
    };
    let stream = stream
        .map_err(|_| {
            format!(
                "no answer from {} in {}s",
                config.server,
                CONNECT_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("{}: {e}", config.server))?;
    let _ = stream.set_nodelay(true);
    let mut conn = Connection::new(stream, DEFAULT_MAX_FRAME);
    let welcome = tokio::select! {
        _ = shutdown.cancelled() => return Ok(Ended::Shutdown),
        r = client_handshake(&mut conn, PeerKind::Node, &config.name, token) => r,
    }
    .map_err(|e| match e {
        HandshakeError::Refused(r) => format!("configd refused node `{}`: {r}", config.name),
        e => e.to_string(),
    })?;
    let (link, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
    let link_config = LinkConfig {
        ping_interval: Some(Duration::from_millis(
            welcome.heartbeat_interval_ms.max(100),
        )),
        dead_after: Duration::from_millis(welcome.dead_after_ms.max(300)),
        max_frame: DEFAULT_MAX_FRAME,
    };
    let driver = drive(
        conn,
        link.clone(),
        queue,
        api.clone(),
        link_config,
        shutdown.clone(),
        ErrorFrame::new(ErrorCode::ShuttingDown, "node shutting down"),
    );
    tokio::pin!(driver);
    let registered = tokio::select! {
        end = &mut driver => return Ok(ended(end, false)),
        r = register(&link, config) => r,
    };
    match registered {
        Ok(first_seen_ms) => {
            tracing::info!(
                server = %config.server,
                server_id = %welcome.server_id,
                first_seen = %crate::timefmt::rfc3339(first_seen_ms),
                "registered with configd"
            );
            uplink.set(Some(link.clone()));
        }
        Err(reason) => {
            link.close(ErrorFrame::new(ErrorCode::Protocol, "registration failed"))
                .await;
            return Ok(Ended::Lost {
                reason,
                registered: false,
            });
        }
    }
    let end = driver.await;
    Ok(ended(end, true))
}

fn ended(end: LinkEnd, registered: bool) -> Ended {
    match end {
        LinkEnd::Shutdown => Ended::Shutdown,
        other => Ended::Lost {
            reason: other.to_string(),
            registered,
        },
    }
}
