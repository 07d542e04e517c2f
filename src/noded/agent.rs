//! The agent's connection loop: connect, handshake, register, heartbeat;
//! on any failure wait (capped backoff with jitter) and start over. It
//! never exits because configd went away, only on shutdown.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::host::{host_addrs, hostname};
use crate::auth::{read_private, SecretFileError, Token};
use crate::config::NodedConfig;
use crate::net::backoff::Backoff;
use crate::net::handshake::{client_handshake, message_name, HandshakeError};
use crate::net::proto::{
    Message, PeerKind, Ping, Registration, Request, RequestBody, ResponseBody, DEFAULT_MAX_FRAME,
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
    load_token(&config)?;
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    tracing::info!(name = %config.name, server = %config.server, "noded starting");
    loop {
        // Re-read each time: an operator may have replaced the token.
        let attempt = match load_token(&config) {
            Ok(token) => session(&config, &token, &shutdown).await,
            Err(e) => Err(e.to_string()),
        };
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

/// One connection's life. `Err` means it never got registered.
async fn session(
    config: &NodedConfig,
    token: &Token,
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
    let welcome = client_handshake(&mut conn, PeerKind::Node, &config.name, token)
        .await
        .map_err(|e| match e {
            HandshakeError::Refused(r) => format!("configd refused node `{}`: {r}", config.name),
            e => e.to_string(),
        })?;
    conn.send(&Message::Request(Request {
        id: 1,
        body: RequestBody::Register(registration(config)),
    }))
    .await
    .map_err(|e| e.to_string())?;
    let interval = Duration::from_millis(welcome.heartbeat_interval_ms.max(100));
    let dead_after = Duration::from_millis(welcome.dead_after_ms.max(300));
    let mut heartbeat = tokio::time::interval_at(Instant::now() + interval, interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let mut registered = false;
    let mut seq = 0u64;
    let lost = |reason: String, registered: bool| Ok(Ended::Lost { reason, registered });
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(Ended::Shutdown),
            _ = heartbeat.tick() => {
                seq += 1;
                if let Err(e) = conn.send(&Message::Ping(Ping { seq })).await {
                    return lost(e.to_string(), registered);
                }
            }
            _ = tokio::time::sleep_until(last_heard + dead_after) => {
                return lost(format!("configd silent for {:.1}s", dead_after.as_secs_f32()), registered);
            }
            msg = conn.read() => {
                last_heard = Instant::now();
                match msg {
                    Ok(Some(Message::Pong(_))) => {}
                    Ok(Some(Message::Ping(p))) => {
                        if let Err(e) = conn.send(&Message::Pong(p)).await {
                            return lost(e.to_string(), registered);
                        }
                    }
                    Ok(Some(Message::Response(resp))) => match resp.body {
                        ResponseBody::Registered(r) if resp.id == 1 => {
                            registered = true;
                            tracing::info!(
                                server = %config.server,
                                server_id = %welcome.server_id,
                                first_seen = %crate::timefmt::rfc3339(r.first_seen_ms),
                                "registered with configd"
                            );
                        }
                        ResponseBody::Error(e) => {
                            return lost(format!("configd refused the registration: {e}"), registered);
                        }
                        other => tracing::debug!("ignoring response {other:?}"),
                    },
                    Ok(Some(Message::Error(e))) => return lost(format!("configd: {e}"), registered),
                    Ok(Some(other)) => {
                        return lost(format!("unexpected {} from configd", message_name(&other)), registered);
                    }
                    Ok(None) => return lost("configd closed the connection".into(), registered),
                    Err(e) => return lost(e.to_string(), registered),
                }
            }
        }
    }
}
