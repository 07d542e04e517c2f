//! A framed connection: reads and writes whole `Message`s.
//!
//! Reading is cancel-safe (partial frames stay in the codec's buffer), so a
//! read can sit in `select!` beside timers and outbound queues.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

use super::frame::{decode_body, BodyCodec, FrameError, MessageCodec};
use super::proto::{ErrorCode, ErrorFrame, Message};
use super::stream::Stream;

/// Read buffer to start with: small, since most frames are heartbeats and
/// 10,000 idle connections must stay cheap. It grows up to the frame limit.
const INITIAL_BUFFER: usize = 512;

pub struct Connection<S = Stream> {
    framed: Framed<S, BodyCodec>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    pub fn new(stream: S, max_frame: usize) -> Self {
        Connection {
            framed: Framed::with_capacity(
                stream,
                BodyCodec(MessageCodec::new(max_frame)),
                INITIAL_BUFFER,
            ),
        }
    }

    /// The next message; `Ok(None)` on a clean close between frames.
    /// `UnknownRequest`/`UnknownResponse` leave the connection usable.
    pub async fn read(&mut self) -> Result<Option<Message>, FrameError> {
        match self.read_body().await? {
            Some(body) => decode_body(&body).map(Some),
            None => Ok(None),
        }
    }

    /// The next frame's body, not decoded; `Ok(None)` on a clean close.
    pub async fn read_body(&mut self) -> Result<Option<BytesMut>, FrameError> {
        self.framed.next().await.transpose()
    }

    /// Writes and flushes one message.
    pub async fn send(&mut self, msg: &Message) -> Result<(), FrameError> {
        self.framed.send(msg).await
    }

    /// Queues one message without flushing (see `flush`).
    pub async fn feed(&mut self, msg: &Message) -> Result<(), FrameError> {
        self.framed.feed(msg).await
    }

    /// Queues an already-encoded frame without flushing.
    pub async fn feed_frame(&mut self, frame: Bytes) -> Result<(), FrameError> {
        self.framed.feed(frame).await
    }

    pub async fn flush(&mut self) -> Result<(), FrameError> {
        SinkExt::<Bytes>::flush(&mut self.framed).await
    }

    /// Best effort: tells the peer why it is being dropped, then closes so
    /// that the reason arrives: our side is shut (TLS close_notify, TCP FIN)
    /// and what the peer still sends is read and dropped for up to a
    /// second. Closing with unread input makes the kernel reset the
    /// connection, and a reset can destroy the error frame in flight.
    pub async fn send_error(&mut self, code: ErrorCode, message: impl Into<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let msg = Message::Error(ErrorFrame::new(code, message));
        let close = async {
            if self.send(&msg).await.is_err() {
                return;
            }
            let stream = self.framed.get_mut();
            let _ = stream.shutdown().await;
            let mut scratch = [0u8; 4096];
            while let Ok(n) = stream.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
    }

    /// Bytes read but not yet a whole frame: the start of a frame still
    /// arriving. It grows as more of it comes in.
    pub fn partial_input(&self) -> usize {
        self.framed.read_buffer().len()
    }

    /// Changes the largest frame accepted from now on (small before
    /// `Welcome`, the full limit after).
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.framed.codec_mut().0 = MessageCodec::new(max_frame);
    }

    pub fn get_ref(&self) -> &S {
        self.framed.get_ref()
    }

    /// The stream back; anything already buffered is dropped.
    pub fn into_inner(self) -> S {
        self.framed.into_inner()
    }
}
