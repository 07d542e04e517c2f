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
    /// A well-formed request this build does not know (a newer peer's).
    #[error("unknown request `{name}` (id {id})")]
    UnknownRequest { id: u64, name: String },
    /// A well-formed answer this build does not know (a newer peer's).
    #[error("unknown answer `{name}` to request {id}")]
    UnknownResponse { id: u64, name: String },
    #[error("cannot encode message: {0}")]
    Encode(String),
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes one message as a whole frame (header included).
pub fn encode_frame(msg: &Message, max: usize) -> Result<Bytes, FrameError> {
    let mut frame = vec![0u8; HEADER_LEN];
    if super::bulk::encode(msg, &mut frame) {
        return seal(frame, max);
    }
    let mut buf = BytesMut::with_capacity(size_hint(msg));
    encode_into(msg, max, &mut buf)?;
    Ok(buf.freeze())
}

/// Room for a message's frame: file chunks get theirs at once, so their
/// bytes are not copied again and again while the buffer grows.
fn size_hint(msg: &Message) -> usize {
    use super::proto::{Request, RequestBody, Response, ResponseBody};
    match msg {
        Message::Response(Response {
            body: ResponseBody::FileChunk(c),
            ..
        }) => c.data.len() + 64,
        Message::Request(Request {
            body: RequestBody::WriteChunk(c),
            ..
        }) => c.data.len() + 64,
        _ => 64,
    }
}

/// A frame written after `HEADER_LEN` placeholder bytes, checked against
/// `max` and given its length.
pub fn seal(mut frame: Vec<u8>, max: usize) -> Result<Bytes, FrameError> {
    let len = frame.len() - HEADER_LEN;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let len32 = u32::try_from(len).map_err(|_| FrameError::TooLarge { len, max })?;
    frame[..HEADER_LEN].copy_from_slice(&len32.to_be_bytes());
    Ok(Bytes::from(frame))
}

/// Appends one frame to `dst`.
pub fn encode_into(msg: &Message, max: usize, dst: &mut BytesMut) -> Result<(), FrameError> {
    if matches!(msg, Message::Response(_) | Message::Request(_)) {
        let mut body = Vec::new();
        if super::bulk::encode(msg, &mut body) {
            let len = body.len();
            if len > max {
                return Err(FrameError::TooLarge { len, max });
            }
            let len32 = u32::try_from(len).map_err(|_| FrameError::TooLarge { len, max })?;
            dst.put_u32(len32);
            dst.extend_from_slice(&body);
            return Ok(());
        }
    }
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

/// Decodes one frame body. A request or answer of a kind this build does
/// not know is `UnknownRequest`/`UnknownResponse` (with its id, so it can be
/// refused alone); anything else that does not decode is `Malformed`.
pub fn decode_body(body: &[u8]) -> Result<Message, FrameError> {
    if let Some(msg) = super::bulk::decode(body) {
        return Ok(msg);
    }
    rmp_serde::from_slice(body).map_err(|e| {
        let why = e.to_string();
        // Only when the body's own kind is what failed (serde's wording);
        // a known kind with bad content stays malformed.
        let unknown = |name: &str| why.contains(&format!("unknown variant `{name}`"));
        match rmp_serde::from_slice::<Envelope>(body) {
            Ok(Envelope::Request(u)) if unknown(&u.body.0) => FrameError::UnknownRequest {
                id: u.id,
                name: u.body.0,
            },
            Ok(Envelope::Response(u)) if unknown(&u.body.0) => FrameError::UnknownResponse {
                id: u.id,
                name: u.body.0,
            },
            _ => FrameError::Malformed(why),
        }
    })
}

/// What is left of a request or answer whose body did not decode.
#[derive(serde::Deserialize)]
enum Envelope {
    Request(Unknown),
    Response(Unknown),
}

#[derive(serde::Deserialize)]
struct Unknown {
    id: u64,
    body: VariantName,
}

/// The name of an externally tagged enum value, its content skipped.
struct VariantName(String);

impl<'de> serde::Deserialize<'de> for VariantName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = VariantName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an enum value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<VariantName, E> {
                Ok(VariantName(v.chars().take(64).collect()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<VariantName, A::Error> {
                let name: String = map
                    .next_key()?
                    .ok_or_else(|| serde::de::Error::custom("empty enum value"))?;
                map.next_value::<serde::de::IgnoredAny>()?;
                if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(serde::de::Error::custom("enum value with two tags"));
                }
                Ok(VariantName(name.chars().take(64).collect()))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// At the end of input, bytes left over are half a frame.
fn at_eof<T>(item: Option<T>, buf: &BytesMut) -> Result<Option<T>, FrameError> {
    match item {
        Some(item) => Ok(Some(item)),
        None if buf.is_empty() => Ok(None),
        None => Err(FrameError::Truncated),
    }
}

/// Cuts the next whole frame body out of `src` (`None`: not all here yet).
fn next_body(src: &mut BytesMut, max_frame: usize) -> Result<Option<BytesMut>, FrameError> {
    if src.len() < HEADER_LEN {
        return Ok(None);
    }
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&src[..HEADER_LEN]);
    let len = u32::from_be_bytes(header) as usize;
    if len > max_frame {
        return Err(FrameError::TooLarge {
            len,
            max: max_frame,
        });
    }
    let total = HEADER_LEN + len;
    if src.len() < total {
        // Bounded by max_frame, checked above.
        src.reserve(total - src.len());
        return Ok(None);
    }
    src.advance(HEADER_LEN);
    Ok(Some(src.split_to(len)))
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
        match next_body(src, self.max_frame)? {
            Some(body) => decode_body(&body).map(Some),
            None => Ok(None),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        let item = self.decode(buf)?;
        at_eof(item, buf)
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

/// Frame bodies as bytes, decoded by the reader (`Connection::read`) or
/// handed whole to a requester that reads them in place
/// (`LinkHandle::request_raw`); writes messages and encoded frames like
/// `MessageCodec`. A body that does not decode is the reader's error, not
/// the codec's, so one newer request does not end the connection.
#[derive(Debug, Clone, Copy)]
pub struct BodyCodec(pub MessageCodec);

impl Decoder for BodyCodec {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        next_body(src, self.0.max_frame)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let item = self.decode(buf)?;
        at_eof(item, buf)
    }
}

impl<T> Encoder<T> for BodyCodec
where
    MessageCodec: Encoder<T, Error = FrameError>,
{
    type Error = FrameError;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.0.encode(item, dst)
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

/// The frame of request `id` whose body `encode_request_body` made: the
/// same bytes as encoding the whole message.
pub fn request_frame(id: u64, body: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; HEADER_LEN];
    let mut w = super::bulk::Writer(&mut frame);
    w.request(id);
    w.raw(body);
    frame
}
