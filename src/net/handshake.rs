//! The handshake (DESIGN section 3), inside TLS:
//! `Hello` -> `Challenge` -> `Auth` -> `Welcome` | `Error` + close.
//!
//! Nothing else is accepted before `Welcome`, and the whole exchange must
//! finish within `HANDSHAKE_TIMEOUT`. Both proofs (`auth::proof`) cover
//! the TLS session's exporter value (`binding`), so a handshake relayed to
//! another connection fails; the peer checks configd's proof in `Welcome`
//! before it obeys anything.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::connection::Connection;
use super::frame::FrameError;
use super::proto::{
    Auth, Challenge, ErrorCode, ErrorFrame, Hello, Message, PeerKind, Welcome, PROTOCOL_VERSION,
};
use crate::auth::{client_proof, random_nonce, verify_server_proof, Token, Transcript};

pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("handshake timed out after {}s", HANDSHAKE_TIMEOUT.as_secs())]
    Timeout,
    #[error("connection closed during the handshake")]
    Closed,
    #[error("server refused: {0}")]
    Refused(ErrorFrame),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("configd did not prove that it holds this token (its Welcome carries a wrong server proof): it is not the configd this token belongs to; refusing it")]
    ServerProof,
}

impl HandshakeError {
    /// The code to send the peer before closing, when there is one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            HandshakeError::Frame(FrameError::TooLarge { .. }) => Some(ErrorCode::TooLarge),
            HandshakeError::Frame(FrameError::Malformed(_)) => Some(ErrorCode::Malformed),
            HandshakeError::Frame(_)
            | HandshakeError::Closed
            | HandshakeError::Refused(_)
            | HandshakeError::ServerProof => None,
            HandshakeError::Timeout => Some(ErrorCode::Timeout),
            HandshakeError::Protocol(_) => Some(ErrorCode::Protocol),
        }
    }
}

async fn next<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
) -> Result<Message, HandshakeError> {
    match conn.read().await? {
        Some(Message::Error(e)) => Err(HandshakeError::Refused(e)),
        Some(m) => Ok(m),
        None => Err(HandshakeError::Closed),
    }
}

/// The dialling side: proves it holds `token`, checks that configd holds
/// it too, and returns the `Welcome`. `binding` is the TLS exporter value
/// (`Stream::channel_binding`), empty on a plaintext link.
pub async fn client_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    kind: PeerKind,
    name: &str,
    token: &Token,
    binding: &[u8],
) -> Result<Welcome, HandshakeError> {
    let run = async {
        let client_nonce = random_nonce();
        conn.send(&Message::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            role: kind,
            name: name.to_string(),
            version: crate::VERSION.to_string(),
            nonce: client_nonce.clone(),
        }))
        .await?;
        let challenge = match next(conn).await? {
            Message::Challenge(c) => c,
            other => return Err(unexpected("Challenge", &other)),
        };
        let transcript = Transcript {
            client_nonce: &client_nonce,
            server_nonce: &challenge.nonce,
            server_id: &challenge.server_id,
            kind,
            name,
            token_id: &token.id,
            binding,
        };
        conn.send(&Message::Auth(Auth {
            token_id: token.id.clone(),
            proof: client_proof(&token.key(), &transcript),
        }))
        .await?;
        match next(conn).await? {
            Message::Welcome(w) => {
                if verify_server_proof(&token.key(), &transcript, &w.server_proof) {
                    Ok(w)
                } else {
                    Err(HandshakeError::ServerProof)
                }
            }
            other => Err(unexpected("Welcome", &other)),
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, run)
        .await
        .map_err(|_| HandshakeError::Timeout)?
}

fn unexpected(wanted: &str, got: &Message) -> HandshakeError {
    HandshakeError::Protocol(format!("expected {wanted}, got {}", message_name(got)))
}

/// A message's variant name, for errors and logs.
pub fn message_name(m: &Message) -> &'static str {
    match m {
        Message::Hello(_) => "Hello",
        Message::Challenge(_) => "Challenge",
        Message::Auth(_) => "Auth",
        Message::Welcome(_) => "Welcome",
        Message::Error(_) => "Error",
        Message::Ping(_) => "Ping",
        Message::Pong(_) => "Pong",
        Message::Request(_) => "Request",
        Message::Response(_) => "Response",
        Message::Cancel(_) => "Cancel",
    }
}

/// What the accepting side decides about a peer once it has its `Auth`.
pub trait Authenticator {
    type Identity;
    /// Checks the proof (over `binding`, the TLS exporter value) and the
    /// role; `Err` is sent to the peer as it is. The `Welcome` carries the
    /// server's proof.
    fn authenticate(
        &self,
        hello: &Hello,
        challenge: &Challenge,
        auth: &Auth,
        binding: &[u8],
    ) -> Result<(Self::Identity, Welcome), ErrorFrame>;
}

/// The accepting side. On `Err`, the caller sends `code()` (if any) and
/// closes; a refusal has already been sent.
pub async fn server_handshake<S, A>(
    conn: &mut Connection<S>,
    server_id: &str,
    auth: &A,
    binding: &[u8],
) -> Result<(Hello, A::Identity), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    A: Authenticator,
{
    let hello = match next(conn).await? {
        Message::Hello(h) => h,
        other => return Err(unexpected("Hello", &other)),
    };
    if hello.protocol != PROTOCOL_VERSION {
        return Err(HandshakeError::Protocol(format!(
            "protocol version {} is not supported; this configd speaks version {PROTOCOL_VERSION}",
            hello.protocol
        )));
    }
    let challenge = Challenge {
        nonce: random_nonce(),
        server_id: server_id.to_string(),
    };
    conn.send(&Message::Challenge(challenge.clone())).await?;
    let token = match next(conn).await? {
        Message::Auth(a) => a,
        other => return Err(unexpected("Auth", &other)),
    };
    match auth.authenticate(&hello, &challenge, &token, binding) {
        Ok((identity, welcome)) => {
            conn.send(&Message::Welcome(welcome)).await?;
            Ok((hello, identity))
        }
        Err(refusal) => {
            let _ = conn.send(&Message::Error(refusal.clone())).await;
            Err(HandshakeError::Refused(refusal))
        }
    }
}
