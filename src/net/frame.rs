//! Framing: a 4-byte big-endian length, then that many bytes of MessagePack.
//!
//! The declared length is checked against the limit before a single byte is
//! reserved for the body, so a hostile length costs nothing.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::proto::{Message, DEFAULT_MAX_FRAME};

/// Length prefix size.
pub const HEADER_LEN: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes is over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("cannot encode message: {0}")]
    Encode(String),
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes one message as a whole frame (header included).
pub fn encode_frame(msg: &Message, max: usize) -> Result<Bytes, FrameError> {
    let mut buf = BytesMut::with_capacity(64);
    encode_into(msg, max, &mut buf)?;
    Ok(buf.freeze())
}

/// Appends one frame to `dst`.
pub fn encode_into(msg: &Message, max: usize, dst: &mut BytesMut) -> Result<(), FrameError> {
    let start = dst.len();
    dst.put_u32(0);
    let mut writer = dst.writer();
    rmp_serde::encode::write_named(&mut writer, msg)
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    let dst = writer.into_inner();
    let len = dst.len() - start - HEADER_LEN;
    if len > max {
        dst.truncate(start);
        return Err(FrameError::TooLarge { len, max });
    }
    let len32 = u32::try_from(len).map_err(|_| FrameError::TooLarge { len, max })?;
    dst[start..start + HEADER_LEN].copy_from_slice(&len32.to_be_bytes());
    Ok(())
}

/// Decodes one frame body.
pub fn decode_body(body: &[u8]) -> Result<Message, FrameError> {
    rmp_serde::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// tokio-util codec for `Message` frames.
#[derive(Debug, Clone, Copy)]
pub struct MessageCodec {
    max_frame: usize,
}

impl MessageCodec {
    pub fn new(max_frame: usize) -> Self {
        MessageCodec { max_frame }
    }

    pub fn max_frame(&self) -> usize {
        self.max_frame
    }
}

impl Default for MessageCodec {
    fn default() -> Self {
        MessageCodec::new(DEFAULT_MAX_FRAME)
    }
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&src[..HEADER_LEN]);
        let len = u32::from_be_bytes(header) as usize;
        if len > self.max_frame {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        let total = HEADER_LEN + len;
        if src.len() < total {
            // Bounded by max_frame, checked above.
            src.reserve(total - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        let body = src.split_to(len);
        decode_body(&body).map(Some)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        match self.decode(buf)? {
            Some(msg) => Ok(Some(msg)),
            None if buf.is_empty() => Ok(None),
            None => Err(FrameError::Truncated),
        }
    }
}

impl Encoder<&Message> for MessageCodec {
    type Error = FrameError;

    fn encode(&mut self, msg: &Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        encode_into(msg, self.max_frame, dst)
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = FrameError;

    fn encode(&mut self, msg: Message, dst: &mut BytesMut) -> Result<(), FrameError> {
        encode_into(&msg, self.max_frame, dst)
    }
}

/// Already-encoded frames (for fan-out: encode once, send to many).
impl Encoder<Bytes> for MessageCodec {
    type Error = FrameError;

    fn encode(&mut self, frame: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.extend_from_slice(&frame);
        Ok(())
    }
}
