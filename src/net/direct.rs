//! A connection whose answers are taken straight from the frame bytes, with
//! no link task in between: for bulk answers the caller turns into output
//! as they arrive (`monit-cli query nodes`, `monit-cli logs`), each frame
//! read in place. It heartbeats while the caller waits for frames.
//!
//! Kept (issue 12) because the benchmarks need it: replacing it with
//! rmp-serde and the client link made `monit-cli query nodes -o json` at
//! 10,000 nodes (benches/node_load) 61-129 ms against 31-41 ms, and the
//! log fan-out to one `monit-cli logs -f -o jsonl` (benches/logs) print
//! 0.42-0.92 M lines/s against 0.67-1.62 M, in one sitting (BENCHMARKS.md,
//! "Issue 12"); the targets are within 1.5x or under 20 ms, and >= 1 M
//! lines/s. Every other answer goes through `net::client`.

use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use tokio_util::codec::Framed;

use super::bulk;
use super::client::{unexpected, ClientError};
use super::dial::{dial, link_config, Dialed, Endpoint};
use super::frame::{decode_body, BodyCodec};
use super::node_ref::NodeRef;
use super::proto::{
    Message, PeerKind, Ping, QueryNodes, Request, RequestBody, Response, ResponseBody,
};
use super::stream::Stream;

pub struct Direct {
    frames: Framed<Stream, BodyCodec>,
    ping: Interval,
    seq: u64,
    /// configd counts as gone after this long without a frame (it answers
    /// every ping).
    dead_after: Duration,
    last_heard: Instant,
    next_id: u64,
}

impl Direct {
    /// Dials `endpoint` and authenticates.
    pub async fn connect(endpoint: &Endpoint, name: &str) -> Result<Direct, ClientError> {
        let Dialed { conn, welcome, .. } = dial(endpoint, PeerKind::Client, name).await?;
        // As the link does (`Client`).
        let config = link_config(&welcome);
        let every = config.ping_interval.unwrap_or(config.dead_after / 3);
        let mut ping = tokio::time::interval_at(Instant::now() + every, every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Ok(Direct {
            frames: conn.into_bodies(),
            ping,
            seq: 0,
            dead_after: config.dead_after,
            last_heard: Instant::now(),
            next_id: 1,
        })
    }

    /// Every node matching `filters`, each handed to `each` as it is read
    /// from its page (in configd's order).
    pub async fn nodes(
        &mut self,
        filters: Vec<String>,
        mut each: impl FnMut(&NodeRef),
    ) -> Result<(), ClientError> {
        let id = self
            .request(RequestBody::QueryNodes(QueryNodes { filters }))
            .await?;
        loop {
            let body = self.next_body().await?;
            let done = match bulk::nodes_page(&body, id) {
                Some(page) => {
                    page.nodes.iter().for_each(&mut each);
                    page.done
                }
                None => match self.settle(&body, id).await? {
                    None => continue,
                    Some(ResponseBody::Nodes(page)) => {
                        page.nodes.iter().for_each(|n| each(&NodeRef::from(n)));
                        page.done
                    }
                    Some(ResponseBody::Error(e)) => return Err(ClientError::Remote(e)),
                    Some(other) => return Err(unexpected(&other)),
                },
            };
            if done {
                return Ok(());
            }
        }
    }

    /// Sends a request; its id, to read its answers by.
    pub async fn request(&mut self, body: RequestBody) -> Result<u64, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&Message::Request(Request { id, body })).await?;
        Ok(id)
    }

    async fn send(&mut self, msg: &Message) -> Result<(), ClientError> {
        self.frames
            .send(msg)
            .await
            .map_err(|e| ClientError::Lost(e.to_string()))
    }

    /// The next frame's body, heartbeating meanwhile. Cancel-safe.
    pub async fn next_body(&mut self) -> Result<BytesMut, ClientError> {
        loop {
            tokio::select! {
                // In this order: a heartbeat due is sent even while frames
                // stream in, and a frame already here beats a deadline
                // that just passed.
                biased;
                _ = self.ping.tick() => {
                    self.seq += 1;
                    let ping = Message::Ping(Ping { seq: self.seq });
                    self.send(&ping).await?;
                }
                frame = self.frames.next() => {
                    self.last_heard = Instant::now();
                    return match frame {
                        None => Err(ClientError::Lost("configd closed the connection".into())),
                        Some(Err(e)) => Err(ClientError::Lost(e.to_string())),
                        Some(Ok(body)) => Ok(body),
                    };
                }
                _ = tokio::time::sleep_until(self.last_heard + self.dead_after) => {
                    return Err(ClientError::Lost(format!(
                        "configd sent nothing for {:.1}s",
                        self.dead_after.as_secs_f32()
                    )));
                }
            }
        }
    }

    /// A frame not read in place, decoded: the answer to `id` if it is one;
    /// `None` for a heartbeat (answered here) or anything else.
    pub async fn settle(
        &mut self,
        body: &[u8],
        id: u64,
    ) -> Result<Option<ResponseBody>, ClientError> {
        match decode_body(body) {
            Ok(Message::Response(Response { id: got, body })) if got == id => Ok(Some(body)),
            Ok(Message::Ping(p)) => {
                self.send(&Message::Pong(p)).await?;
                Ok(None)
            }
            Ok(Message::Error(e)) => Err(ClientError::Remote(e)),
            Ok(_) => Ok(None),
            Err(e) => Err(ClientError::Lost(format!("bad frame from configd: {e}"))),
        }
    }
}
