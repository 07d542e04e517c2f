//! File transfer between two nodes through configd (nodes have no inbound
//! port): configd reads the file from the source node as a stream of
//! chunks and writes it to the destination node chunk by chunk, each
//! acknowledged, with at most [`WINDOW`] chunks in flight on either side,
//! so a transfer holds a few MiB of configd's memory whatever its size.
//! The destination checks the source's SHA-256 before it moves the file
//! into place; any failure, cancel or lost link leaves nothing there.
//!
//! The runbook engine calls [`copy`]. A file larger than
//! `max_transfer_size` (configd.toml) is refused before any byte moves.
//! Source and destination must be two different nodes: a copy within a
//! node is a node command's job.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::net::link::{LinkHandle, Responses};
use crate::net::proto::{
    ErrorFrame, FileChunk, FileEnd, ReadFile, RequestBody, ResponseBody, WriteChunk, WriteCommit,
    WriteDone, WriteFile,
};

/// Chunks in flight per transfer: read ahead from the source, and sent to
/// the destination without an acknowledgement yet.
pub const WINDOW: usize = 8;
/// A transfer with no answer from either node for this long fails.
const STALLED: Duration = Duration::from_secs(60);
/// The destination's commit (hash check, fsync, rename) may take this long.
const COMMIT: Duration = Duration::from_secs(600);

/// What to copy where. Paths are relative to each node's `transfer_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    pub src_node: String,
    pub src_path: String,
    pub dst_node: String,
    pub dst_path: String,
    /// Replace an existing file at the destination (else refused).
    pub overwrite: bool,
}

/// How far a transfer is: bytes the destination acknowledged, of `total`
/// (0 until the source said the size).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferProgress {
    pub bytes: u64,
    pub total: u64,
}

/// A transfer that completed: the destination holds these bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    pub bytes: u64,
    /// SHA-256 of the file, lowercase hex (checked by the destination).
    pub sha256: String,
}

/// Why a transfer failed. Nothing is left at the destination in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error(
        "source and destination are the same node `{node}`: copy within a node with a node command"
    )]
    SameNode { node: String },
    #[error("node `{node}` is not connected")]
    NotConnected { node: String },
    #[error("node `{node}` refused to send `{path}`: {message}")]
    Source {
        node: String,
        path: String,
        message: String,
    },
    #[error("node `{node}` refused to write `{path}`: {message}")]
    Destination {
        node: String,
        path: String,
        message: String,
    },
    #[error("`{path}` on node `{node}` is {size} bytes, over max_transfer_size ({max} bytes)")]
    TooLarge {
        node: String,
        path: String,
        size: u64,
        max: u64,
    },
    #[error("lost node `{node}` during the transfer: {reason}")]
    Lost { node: String, reason: String },
    #[error("node `{node}` sent nothing for {}s during the transfer", STALLED.as_secs())]
    Stalled { node: String },
    #[error("node `{node}` answered the transfer with an unexpected {what}")]
    Unexpected { node: String, what: String },
    #[error("transfer cancelled")]
    Cancelled,
}

/// Copies `req.src_path` of node `req.src_node` to `req.dst_path` of node
/// `req.dst_node`, publishing progress on `progress` (its receivers may
/// come and go), until done, failed or `cancel`.
pub async fn copy(
    shared: &Shared,
    req: TransferRequest,
    progress: watch::Sender<TransferProgress>,
    cancel: CancellationToken,
) -> Result<Transferred, TransferError> {
    if req.src_node == req.dst_node {
        return Err(TransferError::SameNode { node: req.src_node });
    }
    let max = shared.live().max_transfer_size;
    let src = link(shared, &req.src_node)?;
    let dst = link(shared, &req.dst_node)?;
    let started = std::time::Instant::now();
    let mut transfer = Transfer {
        req: &req,
        cancel: &cancel,
    };
    let result = transfer.run(&src, &dst, max, &progress).await;
    match &result {
        Ok(t) => tracing::info!(
            src = %req.src_node, src_path = %req.src_path, dst = %req.dst_node, dst_path = %req.dst_path,
            bytes = t.bytes, sha256 = %t.sha256, secs = started.elapsed().as_secs_f64(),
            "file transferred"
        ),
        Err(e) => tracing::warn!(
            src = %req.src_node, src_path = %req.src_path, dst = %req.dst_node, dst_path = %req.dst_path,
            "file transfer failed: {e}"
        ),
    }
    result
}

fn link(shared: &Shared, node: &str) -> Result<LinkHandle, TransferError> {
    shared
        .registry()
        .get(node)
        .and_then(|slot| slot.link())
        .ok_or_else(|| TransferError::NotConnected {
            node: node.to_string(),
        })
}

/// One transfer's context, for its error values.
struct Transfer<'a> {
    req: &'a TransferRequest,
    cancel: &'a CancellationToken,
}

/// Which side an answer came from.
#[derive(Clone, Copy)]
enum Side {
    Src,
    Dst,
}

impl Transfer<'_> {
    async fn run(
        &mut self,
        src: &LinkHandle,
        dst: &LinkHandle,
        max: u64,
        progress: &watch::Sender<TransferProgress>,
    ) -> Result<Transferred, TransferError> {
        let read = RequestBody::ReadFile(ReadFile {
            path: self.req.src_path.clone(),
            max_size: max,
        });
        let mut reading = src
            .request_window(read, WINDOW)
            .await
            .map_err(|e| self.lost(Side::Src, e.to_string()))?;
        let size = match self.next(Side::Src, &mut reading, STALLED).await? {
            ResponseBody::FileSize(s) => s.size,
            other => return Err(self.unexpected(Side::Src, &other)),
        };
        if size > max {
            return Err(TransferError::TooLarge {
                node: self.req.src_node.clone(),
                path: self.req.src_path.clone(),
                size,
                max,
            });
        }
        progress.send_replace(TransferProgress {
            bytes: 0,
            total: size,
        });
        let open = RequestBody::WriteFile(WriteFile {
            path: self.req.dst_path.clone(),
            size,
            overwrite: self.req.overwrite,
        });
        // Held open to the end: dropping it (an error, a cancel) tells the
        // destination to remove its temporary file.
        let mut writing = dst
            .request(open)
            .await
            .map_err(|e| self.lost(Side::Dst, e.to_string()))?;
        let handle = match self.next(Side::Dst, &mut writing, STALLED).await? {
            ResponseBody::WriteOpen(o) => o.handle,
            other => return Err(self.unexpected(Side::Dst, &other)),
        };
        let mut in_flight: VecDeque<Responses> = VecDeque::with_capacity(WINDOW);
        let mut offset: u64 = 0;
        let end: FileEnd = loop {
            if in_flight.len() >= WINDOW {
                self.acked(&mut in_flight, progress, size).await?;
                continue;
            }
            let data = match self.next(Side::Src, &mut reading, STALLED).await? {
                ResponseBody::FileChunk(FileChunk { data }) => data,
                ResponseBody::FileEnd(end) => break end,
                other => return Err(self.unexpected(Side::Src, &other)),
            };
            let len = data.len() as u64;
            let chunk = RequestBody::WriteChunk(WriteChunk {
                handle,
                offset,
                data,
            });
            offset += len;
            let answers = tokio::select! {
                _ = self.cancel.cancelled() => return Err(TransferError::Cancelled),
                a = dst.request(chunk) => a.map_err(|e| self.lost(Side::Dst, e.to_string()))?,
            };
            in_flight.push_back(answers);
        };
        while !in_flight.is_empty() {
            self.acked(&mut in_flight, progress, size).await?;
        }
        if end.bytes != size || offset != size {
            return Err(self.refused(
                Side::Src,
                format!("it announced {size} bytes and sent {offset}"),
            ));
        }
        let commit = RequestBody::WriteCommit(WriteCommit {
            handle,
            sha256: end.sha256.clone(),
        });
        let mut committing = dst
            .request(commit)
            .await
            .map_err(|e| self.lost(Side::Dst, e.to_string()))?;
        match self.next(Side::Dst, &mut committing, COMMIT).await? {
            ResponseBody::WriteDone(WriteDone { bytes, sha256 }) => {
                progress.send_replace(TransferProgress { bytes, total: size });
                Ok(Transferred { bytes, sha256 })
            }
            other => Err(self.unexpected(Side::Dst, &other)),
        }
    }

    /// Waits for the oldest chunk's acknowledgement.
    async fn acked(
        &self,
        in_flight: &mut VecDeque<Responses>,
        progress: &watch::Sender<TransferProgress>,
        total: u64,
    ) -> Result<(), TransferError> {
        let Some(mut oldest) = in_flight.pop_front() else {
            return Ok(());
        };
        match self.next(Side::Dst, &mut oldest, STALLED).await? {
            ResponseBody::ChunkAck(a) => {
                progress.send_replace(TransferProgress {
                    bytes: a.written,
                    total,
                });
                Ok(())
            }
            other => Err(self.unexpected(Side::Dst, &other)),
        }
    }

    /// The next answer from one side: an `Error` answer, a lost link,
    /// silence or a cancel are errors.
    async fn next(
        &self,
        side: Side,
        answers: &mut Responses,
        limit: Duration,
    ) -> Result<ResponseBody, TransferError> {
        let next = tokio::select! {
            _ = self.cancel.cancelled() => return Err(TransferError::Cancelled),
            _ = tokio::time::sleep(limit) => return Err(TransferError::Stalled { node: self.node(side).to_string() }),
            n = answers.next() => n,
        };
        match next {
            Some(Ok(ResponseBody::Error(ErrorFrame { message, .. }))) => {
                Err(self.refused(side, message))
            }
            Some(Ok(body)) => Ok(body),
            Some(Err(e)) => Err(self.lost(side, e.to_string())),
            None => Err(self.lost(side, "the answers ended early".into())),
        }
    }

    fn node(&self, side: Side) -> &str {
        match side {
            Side::Src => &self.req.src_node,
            Side::Dst => &self.req.dst_node,
        }
    }

    fn refused(&self, side: Side, message: String) -> TransferError {
        match side {
            Side::Src => TransferError::Source {
                node: self.req.src_node.clone(),
                path: self.req.src_path.clone(),
                message,
            },
            Side::Dst => TransferError::Destination {
                node: self.req.dst_node.clone(),
                path: self.req.dst_path.clone(),
                message,
            },
        }
    }

    fn lost(&self, side: Side, reason: String) -> TransferError {
        TransferError::Lost {
            node: self.node(side).to_string(),
            reason,
        }
    }

    fn unexpected(&self, side: Side, body: &ResponseBody) -> TransferError {
        let what = format!("{body:?}");
        TransferError::Unexpected {
            node: self.node(side).to_string(),
            what: what
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or("answer")
                .to_string(),
        }
    }
}
