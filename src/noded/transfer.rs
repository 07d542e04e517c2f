//! File transfers, the node's half: it sends a file of its
//! `transfer_dir` (`ReadFile`) and writes one there (`WriteFile`,
//! `WriteChunk`, `WriteCommit`) for configd, which carries the bytes
//! between nodes (nodes have no inbound port).
//!
//! A write goes to a temporary file (`.monit-part-*` in the top of
//! `transfer_dir`) owned by the task of its `WriteFile` request: chunks
//! and the commit are sent to that task, so one task touches the file.
//! The temporary file is removed when that request ends without a commit
//! (cancel, link lost, error, idle too long) and, after a crash, when
//! noded starts again. The commit checks the SHA-256, fsyncs, and moves
//! the file into place without replacing an existing one unless asked.

use crate::sync::lock;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::transfer_path::{locate, PathError, PART_PREFIX};
use crate::net::link::Replier;
use crate::net::proto::{
    ChunkAck, ErrorCode, ErrorFrame, FileChunk, FileEnd, FileSize, ReadFile, ResponseBody,
    WriteChunk, WriteCommit, WriteDone, WriteFile, WriteOpen,
};

/// Bytes per `FileChunk` a node sends.
pub const CHUNK: usize = 256 * 1024;
/// A sending node waits while more frames than this queue on its link,
/// so a fast disk does not fill noded's memory with chunks.
const PACE: usize = 8;
/// Chunks that arrived ahead of their turn and wait to be written.
const MAX_AHEAD: usize = 32;
/// An open write with nothing arriving for this long is given up.
const IDLE: Duration = Duration::from_secs(60);

/// What a node's transfers share: the directory, and the writes open now.
pub struct Transfers {
    /// The canonical `transfer_dir`, or why there is none.
    root: Result<PathBuf, String>,
    writes: Mutex<HashMap<u64, mpsc::Sender<Op>>>,
}

/// What a `WriteChunk` or `WriteCommit` asks the task owning a write.
enum Op {
    Chunk {
        offset: u64,
        data: Vec<u8>,
        ack: oneshot::Sender<Result<u64, ErrorFrame>>,
    },
    Commit {
        sha256: String,
        done: oneshot::Sender<Result<WriteDone, ErrorFrame>>,
    },
}

fn path_error(e: PathError) -> ErrorFrame {
    ErrorFrame::new(ErrorCode::BadRequest, e.to_string())
}

impl Transfers {
    /// Transfers confined to `dir` (none when `None`). Removes the
    /// temporary files a previous noded left there, logging each.
    pub fn new(dir: Option<&Path>) -> Transfers {
        let root = match dir {
            None => Err("no transfer_dir is set in its noded.toml: transfers are off".to_string()),
            Some(d) => match std::fs::canonicalize(d) {
                Ok(c) if c.is_dir() => Ok(c),
                Ok(_) => Err(format!("transfer_dir {} is not a directory", d.display())),
                Err(e) => Err(format!("transfer_dir {}: {e}", d.display())),
            },
        };
        match &root {
            Ok(r) => remove_leftovers(r),
            Err(why) if dir.is_some() => tracing::error!("file transfers refused: {why}"),
            Err(_) => {}
        }
        Transfers {
            root,
            writes: Mutex::new(HashMap::new()),
        }
    }

    fn root(&self) -> Result<&Path, ErrorFrame> {
        self.root
            .as_deref()
            .map_err(|why| ErrorFrame::new(ErrorCode::Forbidden, why.clone()))
    }

    /// Sends one file: `FileSize`, `FileChunk`s, then `FileEnd`.
    pub async fn read(&self, req: ReadFile, reply: Replier, cancel: CancellationToken) {
        let (file, size) = match self.open_read(&req) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(path = %req.path.escape_debug(), "refused to send a file: {}", e.message);
                let _ = reply.send(ResponseBody::Error(e)).await;
                return;
            }
        };
        tracing::info!(path = %req.path.escape_debug(), size, "sending a file");
        if reply
            .send(ResponseBody::FileSize(FileSize { size }))
            .await
            .is_err()
        {
            return;
        }
        let shown = req.path.escape_debug();
        let mut state = Some((file, Sha256::new()));
        let mut sent: u64 = 0;
        // Err: why the sending failed, for configd; Ok: sent, or stopped.
        let sending = async {
            loop {
                let Some((mut file, mut hasher)) = state.take() else {
                    return Ok(());
                };
                let job = tokio::task::spawn_blocking(move || {
                    // Up to CHUNK bytes: fewer only where the file ends.
                    let mut buf = Vec::with_capacity(CHUNK);
                    let got = (&mut file).take(CHUNK as u64).read_to_end(&mut buf);
                    if got.is_ok() {
                        hasher.update(&buf);
                    }
                    (file, hasher, buf, got)
                });
                let (file, hasher, buf, got) = tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    r = job => r.map_err(|e| format!("reading `{}` failed: {e}", req.path))?,
                };
                let n = got.map_err(|e| format!("cannot read `{shown}`: {e}"))? as u64;
                if n == 0 {
                    if sent != size {
                        return Err(format!(
                            "`{shown}` shrank while it was sent ({sent} of {size} bytes)"
                        ));
                    }
                    let sha256 = hex::encode(hasher.finalize());
                    tracing::info!(path = %req.path.escape_debug(), bytes = sent, %sha256, "file sent");
                    let end = FileEnd {
                        bytes: sent,
                        sha256,
                    };
                    let _ = reply.send(ResponseBody::FileEnd(end)).await;
                    return Ok(());
                }
                sent += n;
                if sent > size {
                    return Err(format!(
                        "`{shown}` grew while it was sent (past {size} bytes)"
                    ));
                }
                if reply
                    .send(ResponseBody::FileChunk(FileChunk { data: buf }))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
                while reply.link().queued() > PACE {
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(()),
                        _ = tokio::time::sleep(Duration::from_millis(1)) => {}
                    }
                }
                state = Some((file, hasher));
            }
        };
        if let Err(why) = sending.await {
            let _ = reply.error(ErrorCode::Internal, why).await;
        }
    }

    fn open_read(&self, req: &ReadFile) -> Result<(File, u64), ErrorFrame> {
        let root = self.root()?;
        let path = locate(root, &req.path).map_err(path_error)?;
        let shown = req.path.escape_debug();
        // O_NONBLOCK: opening a FIFO must not hang (it is refused below).
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| open_error(&shown.to_string(), e))?;
        let meta = file.metadata().map_err(|e| {
            ErrorFrame::new(ErrorCode::Internal, format!("cannot stat `{shown}`: {e}"))
        })?;
        if !meta.is_file() {
            return Err(ErrorFrame::new(
                ErrorCode::BadRequest,
                format!("`{shown}` is not a regular file"),
            ));
        }
        if meta.len() > req.max_size {
            return Err(ErrorFrame::new(
                ErrorCode::TooLarge,
                format!(
                    "`{shown}` is {} bytes, over the {}-byte limit (max_transfer_size)",
                    meta.len(),
                    req.max_size
                ),
            ));
        }
        Ok((file, meta.len()))
    }

    /// Opens a write: `WriteOpen`, then `WriteDone` once committed, or an
    /// `Error`. The temporary file goes unless the commit took it.
    pub async fn write(&self, req: WriteFile, reply: Replier, cancel: CancellationToken) {
        let mut sink = match self.open_write(&req) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(path = %req.path.escape_debug(), "refused to write a file: {}", e.message);
                let _ = reply.send(ResponseBody::Error(e)).await;
                return;
            }
        };
        let handle: u64 = rand::random();
        let (tx, mut rx) = mpsc::channel(MAX_AHEAD);
        lock(&self.writes).insert(handle, tx);
        let _open = Registered {
            writes: &self.writes,
            handle,
        };
        tracing::info!(path = %req.path.escape_debug(), size = req.size, temp = %sink.temp.display(), "receiving a file");
        if reply
            .send(ResponseBody::WriteOpen(WriteOpen { handle }))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let op = tokio::select! {
                _ = cancel.cancelled() => {
                    tracing::warn!(path = %req.path.escape_debug(), "transfer abandoned (cancelled or configd gone)");
                    return;
                }
                _ = tokio::time::sleep(IDLE) => {
                    let _ = reply.error(ErrorCode::Timeout, format!("nothing arrived for {}s: transfer given up", IDLE.as_secs())).await;
                    return;
                }
                op = rx.recv() => op,
            };
            match op {
                None => return,
                Some(Op::Chunk { offset, data, ack }) => {
                    if let Err(e) = sink.chunk(offset, data, ack).await {
                        tracing::warn!(path = %req.path.escape_debug(), "transfer failed: {}", e.message);
                        let _ = reply.send(ResponseBody::Error(e)).await;
                        return;
                    }
                }
                Some(Op::Commit { sha256, done }) => {
                    let result = sink.commit(self, &req, &sha256).await;
                    let answer = match &result {
                        Ok(d) => {
                            tracing::info!(path = %req.path.escape_debug(), bytes = d.bytes, sha256 = %d.sha256, "file received");
                            ResponseBody::WriteDone(d.clone())
                        }
                        Err(e) => {
                            tracing::warn!(path = %req.path.escape_debug(), "transfer failed at commit: {}", e.message);
                            ResponseBody::Error(e.clone())
                        }
                    };
                    let _ = done.send(result);
                    let _ = reply.send(answer).await;
                    return;
                }
            }
        }
    }

    fn open_write(&self, req: &WriteFile) -> Result<Sink, ErrorFrame> {
        let root = self.root()?;
        let dest = locate(root, &req.path).map_err(path_error)?;
        let shown = req.path.escape_debug();
        if !req.overwrite && std::fs::symlink_metadata(&dest).is_ok() {
            return Err(ErrorFrame::new(
                ErrorCode::BadRequest,
                format!("`{shown}` already exists (refusing to overwrite it)"),
            ));
        }
        if let Ok(fs) = nix::sys::statvfs::statvfs(root) {
            let free = fs.blocks_available().saturating_mul(fs.fragment_size());
            if req.size > free {
                return Err(ErrorFrame::new(
                    ErrorCode::Busy,
                    format!(
                        "not enough room for `{shown}`: {} bytes needed, {free} free",
                        req.size
                    ),
                ));
            }
        }
        let temp = root.join(format!("{PART_PREFIX}{:016x}", rand::random::<u64>()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&temp)
            .map_err(|e| {
                ErrorFrame::new(
                    ErrorCode::Internal,
                    format!("cannot create a temporary file in transfer_dir: {e}"),
                )
            })?;
        Ok(Sink {
            state: Some((file, Sha256::new())),
            temp,
            size: req.size,
            written: 0,
            ahead: BTreeMap::new(),
            committed: false,
        })
    }

    /// Hands a chunk to its write's task; `ChunkAck` once written.
    pub async fn chunk(&self, req: WriteChunk, reply: Replier, cancel: CancellationToken) {
        let (offset, data) = (req.offset, req.data);
        let answer = self
            .ask(req.handle, &cancel, |ack| Op::Chunk { offset, data, ack })
            .await;
        if let Some(a) = answer {
            let body = a.map_or_else(ResponseBody::Error, |written| {
                ResponseBody::ChunkAck(ChunkAck { written })
            });
            let _ = reply.send(body).await;
        }
    }

    /// Asks a write's task to commit; `WriteDone` or the reason it failed.
    pub async fn commit(&self, req: WriteCommit, reply: Replier, cancel: CancellationToken) {
        let sha256 = req.sha256;
        let answer = self
            .ask(req.handle, &cancel, |done| Op::Commit { sha256, done })
            .await;
        if let Some(a) = answer {
            let _ = reply
                .send(a.map_or_else(ResponseBody::Error, ResponseBody::WriteDone))
                .await;
        }
    }

    /// Sends `op` to the task owning write `handle` and waits for its
    /// answer; `None` when the request was cancelled meanwhile.
    async fn ask<T>(
        &self,
        handle: u64,
        cancel: &CancellationToken,
        op: impl FnOnce(oneshot::Sender<Result<T, ErrorFrame>>) -> Op,
    ) -> Option<Result<T, ErrorFrame>> {
        let tx = lock(&self.writes).get(&handle).cloned();
        let (answer_tx, answer) = oneshot::channel();
        let sent = match tx {
            Some(tx) => tx.send(op(answer_tx)).await.is_ok(),
            None => false,
        };
        if !sent {
            return Some(Err(no_write(handle)));
        }
        tokio::select! {
            _ = cancel.cancelled() => None,
            a = answer => Some(a.unwrap_or_else(|_| Err(no_write(handle)))),
        }
    }
}

fn no_write(handle: u64) -> ErrorFrame {
    ErrorFrame::new(
        ErrorCode::NotFound,
        format!("no write open with handle {handle} (it ended, or noded restarted)"),
    )
}

fn open_error(shown: &str, e: std::io::Error) -> ErrorFrame {
    match e.raw_os_error() {
        Some(nix::libc::ENOENT) => ErrorFrame::new(
            ErrorCode::NotFound,
            format!("no file `{shown}` in transfer_dir"),
        ),
        Some(nix::libc::ELOOP) => ErrorFrame::new(
            ErrorCode::BadRequest,
            format!("`{shown}` is a symbolic link: refused"),
        ),
        _ => ErrorFrame::new(ErrorCode::Internal, format!("cannot open `{shown}`: {e}")),
    }
}

/// Takes an open write out of the table when its task ends.
struct Registered<'a> {
    writes: &'a Mutex<HashMap<u64, mpsc::Sender<Op>>>,
    handle: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(self.writes).remove(&self.handle);
    }
}

type Ack = oneshot::Sender<Result<u64, ErrorFrame>>;

/// One write in progress: the temporary file and its running hash.
struct Sink {
    /// Lent to a blocking task while it writes.
    state: Option<(File, Sha256)>,
    temp: PathBuf,
    size: u64,
    /// Bytes written in order from the start.
    written: u64,
    /// Chunks that came before their turn (requests run concurrently).
    ahead: BTreeMap<u64, (Vec<u8>, Ack)>,
    committed: bool,
}

impl Drop for Sink {
    fn drop(&mut self) {
        if !self.committed {
            self.state = None;
            match std::fs::remove_file(&self.temp) {
                Ok(()) => {
                    tracing::info!(temp = %self.temp.display(), "removed the temporary file of an unfinished transfer")
                }
                Err(e) => {
                    tracing::warn!(temp = %self.temp.display(), "cannot remove the temporary file of an unfinished transfer: {e}")
                }
            }
        }
    }
}

impl Sink {
    /// Takes one chunk; writes every chunk now in turn. An `Err` ends the
    /// write (every waiting chunk is told).
    async fn chunk(&mut self, offset: u64, data: Vec<u8>, ack: Ack) -> Result<(), ErrorFrame> {
        let end = offset.checked_add(data.len() as u64);
        if offset < self.written
            || end.is_none_or(|e| e > self.size)
            || self.ahead.contains_key(&offset)
            || self.ahead.len() >= MAX_AHEAD
        {
            let e = ErrorFrame::new(
                ErrorCode::BadRequest,
                format!(
                    "a chunk of {} bytes at offset {offset} does not fit ({} of {} bytes written)",
                    data.len(),
                    self.written,
                    self.size
                ),
            );
            let _ = ack.send(Err(e.clone()));
            return Err(self.fail(e));
        }
        self.ahead.insert(offset, (data, ack));
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() != self.written {
                break;
            }
            let (data, ack) = entry.remove();
            let Some((mut file, mut hasher)) = self.state.take() else {
                return Err(self.fail(ErrorFrame::new(ErrorCode::Internal, "the write was lost")));
            };
            let len = data.len() as u64;
            let job = tokio::task::spawn_blocking(move || {
                let r = file.write_all(&data);
                hasher.update(&data);
                (file, hasher, r)
            });
            let why = match job.await {
                Ok((file, hasher, Ok(()))) => {
                    self.state = Some((file, hasher));
                    self.written += len;
                    let _ = ack.send(Ok(self.written));
                    continue;
                }
                Ok((_, _, Err(e))) => format!("cannot write: {e}"),
                Err(e) => format!("write failed: {e}"),
            };
            let e = ErrorFrame::new(ErrorCode::Internal, why);
            let _ = ack.send(Err(e.clone()));
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// Tells every waiting chunk why the write ends.
    fn fail(&mut self, e: ErrorFrame) -> ErrorFrame {
        for (_, (_, ack)) in std::mem::take(&mut self.ahead) {
            let _ = ack.send(Err(e.clone()));
        }
        e
    }

    /// Checks length and hash, fsyncs, moves the file into place.
    async fn commit(
        &mut self,
        transfers: &Transfers,
        req: &WriteFile,
        sha256: &str,
    ) -> Result<WriteDone, ErrorFrame> {
        if self.written != self.size || !self.ahead.is_empty() {
            return Err(ErrorFrame::new(
                ErrorCode::BadRequest,
                format!(
                    "commit before the end: {} of {} bytes written",
                    self.written, self.size
                ),
            ));
        }
        let Some((file, hasher)) = self.state.take() else {
            return Err(ErrorFrame::new(ErrorCode::Internal, "the write was lost"));
        };
        let got = hex::encode(hasher.finalize());
        if !got.eq_ignore_ascii_case(sha256) {
            return Err(ErrorFrame::new(
                ErrorCode::BadRequest,
                format!("SHA-256 mismatch: received {got}, the source sent {sha256}"),
            ));
        }
        // Where it goes, resolved again: the directory may have changed.
        let dest = locate(transfers.root()?, &req.path).map_err(path_error)?;
        let temp = self.temp.clone();
        let overwrite = req.overwrite;
        let shown = req.path.escape_debug().to_string();
        let placed =
            tokio::task::spawn_blocking(move || place(file, &temp, &dest, overwrite, &shown))
                .await
                .map_err(|e| ErrorFrame::new(ErrorCode::Internal, format!("commit failed: {e}")))?;
        placed?;
        self.committed = true;
        Ok(WriteDone {
            bytes: self.written,
            sha256: got,
        })
    }
}

/// fsyncs `file`, moves `temp` to `dest` (never replacing an existing file
/// unless `overwrite`), fsyncs the directory.
fn place(
    file: File,
    temp: &Path,
    dest: &Path,
    overwrite: bool,
    shown: &str,
) -> Result<(), ErrorFrame> {
    let internal = |what: &str, e: std::io::Error| {
        ErrorFrame::new(ErrorCode::Internal, format!("{what}: {e}"))
    };
    file.sync_all()
        .map_err(|e| internal("cannot fsync the received file", e))?;
    drop(file);
    if overwrite {
        std::fs::rename(temp, dest)
            .map_err(|e| internal(&format!("cannot move the file to `{shown}`"), e))?;
    } else {
        // A hard link fails on an existing name, atomically: no overwrite.
        std::fs::hard_link(temp, dest).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => ErrorFrame::new(
                ErrorCode::BadRequest,
                format!("`{shown}` already exists (refusing to overwrite it)"),
            ),
            _ => internal(&format!("cannot move the file to `{shown}`"), e),
        })?;
        std::fs::remove_file(temp).map_err(|e| internal("cannot remove the temporary file", e))?;
    }
    for dir in [dest.parent(), temp.parent()].into_iter().flatten() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Removes `.monit-part-*` files a previous noded left in `root`.
fn remove_leftovers(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_part = name.to_str().is_some_and(|n| n.starts_with(PART_PREFIX));
        // file_type does not follow links: a link is removed, not its target.
        if is_part && entry.file_type().is_ok_and(|t| !t.is_dir()) {
            let path = entry.path();
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    tracing::warn!(temp = %path.display(), "removed the temporary file of a transfer a previous noded left unfinished")
                }
                Err(e) => {
                    tracing::error!(temp = %path.display(), "cannot remove a leftover temporary file: {e}")
                }
            }
        }
    }
}
