//! The tokens configd accepts. The file is re-read when it changes (a
//! `stat` at each handshake and every quarter second), so `monit-configd
//! token revoke` takes effect without a restart, open sessions included
//! (`refresh` names the newly revoked tokens). A change that fails to load
//! is logged and the tokens loaded before are kept.

use crate::sync::lock;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::auth::{
    server_proof, verify_client_proof, TokenEntry, TokensFile, TokensFileError, Transcript,
};
use crate::net::handshake::Authenticator;
use crate::net::proto::{Auth, Challenge, ErrorCode, ErrorFrame, Hello, PeerKind, Role, Welcome};

/// Who is on the other end of an authenticated connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub token_id: String,
    /// The token's name: a node's name, or the operator's.
    pub name: String,
    pub role: Role,
    pub kind: PeerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    mtime_ns: i128,
    size: u64,
    inode: u64,
}

struct Loaded {
    stamp: Option<Stamp>,
    by_id: HashMap<String, TokenEntry>,
}

pub struct TokenRegistry {
    path: Mutex<PathBuf>,
    loaded: Mutex<Loaded>,
    /// Tokens revoked by a reload, until `take_revoked` (their open
    /// sessions are to be closed).
    revoked: Mutex<Vec<TokenEntry>>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        size: m.size(),
        inode: m.ino(),
    })
}

fn index(file: &TokensFile) -> HashMap<String, TokenEntry> {
    file.entries()
        .iter()
        .map(|e| (e.id.clone(), e.clone()))
        .collect()
}

impl TokenRegistry {
    /// Loads the tokens file; an unreadable or unsafe file is an error here.
    pub fn open(path: &Path) -> Result<TokenRegistry, TokensFileError> {
        let st = stamp(path);
        let file = TokensFile::load(path)?;
        Ok(TokenRegistry {
            path: Mutex::new(path.to_path_buf()),
            loaded: Mutex::new(Loaded {
                stamp: st,
                by_id: index(&file),
            }),
            revoked: Mutex::new(Vec::new()),
        })
    }

    /// The token with this ID, re-reading the file if it changed.
    pub fn lookup(&self, id: &str) -> Option<TokenEntry> {
        self.refresh();
        lock(&self.loaded).by_id.get(id).cloned()
    }

    /// Re-reads the file if it changed (a `stat` when it did not).
    pub fn refresh(&self) {
        let path = lock(&self.path).clone();
        let now = stamp(&path);
        let mut loaded = lock(&self.loaded);
        if now == loaded.stamp {
            return;
        }
        loaded.stamp = now;
        match TokensFile::load(&path) {
            Ok(file) => {
                let by_id = index(&file);
                let revoked = newly_revoked(&loaded.by_id, &by_id);
                loaded.by_id = by_id;
                tracing::info!(path = %path.display(), tokens = loaded.by_id.len(), "tokens file reloaded");
                lock(&self.revoked).extend(revoked);
            }
            Err(e) => {
                tracing::error!(
                    "tokens file changed but cannot be loaded, keeping the previous tokens: {e}"
                );
            }
        }
    }

    /// The tokens revoked since the last call.
    pub fn take_revoked(&self) -> Vec<TokenEntry> {
        std::mem::take(&mut *lock(&self.revoked))
    }

    pub fn len(&self) -> usize {
        lock(&self.loaded).by_id.len()
    }

    /// Switches to another tokens file (a reload); it must load.
    pub fn set_path(&self, path: &Path) -> Result<(), TokensFileError> {
        let file = TokensFile::load(path)?;
        let mut loaded = lock(&self.loaded);
        let by_id = index(&file);
        lock(&self.revoked).extend(newly_revoked(&loaded.by_id, &by_id));
        loaded.by_id = by_id;
        loaded.stamp = stamp(path);
        *lock(&self.path) = path.to_path_buf();
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Tokens live in `old` that `new` revokes or no longer holds.
fn newly_revoked(
    old: &HashMap<String, TokenEntry>,
    new: &HashMap<String, TokenEntry>,
) -> Vec<TokenEntry> {
    old.values()
        .filter(|e| e.is_live() && new.get(&e.id).is_none_or(|n| !n.is_live()))
        .map(|e| new.get(&e.id).cloned().unwrap_or_else(|| e.clone()))
        .collect()
}

/// The configd side of the handshake.
pub struct ConfigdAuth<'a> {
    pub tokens: &'a TokenRegistry,
    /// This handshake holds one of the slots kept for operators: a node
    /// is turned away (it retries with backoff).
    pub reserved_slot: bool,
    pub server_id: &'a str,
    pub heartbeat_interval_ms: u64,
    pub dead_after_ms: u64,
}

impl Authenticator for ConfigdAuth<'_> {
    type Identity = Identity;

    fn hello(&self, hello: &Hello) -> Result<(), ErrorFrame> {
        if self.reserved_slot && hello.role == PeerKind::Node {
            return Err(ErrorFrame::new(
                ErrorCode::Busy,
                "configd is busy: its handshake slots are full (the rest are kept for operators); retry later",
            ));
        }
        Ok(())
    }

    fn authenticate(
        &self,
        hello: &Hello,
        challenge: &Challenge,
        auth: &Auth,
        binding: &[u8],
    ) -> Result<(Identity, Welcome), ErrorFrame> {
        let refuse = |msg: String| ErrorFrame::new(ErrorCode::Auth, msg);
        let transcript = Transcript {
            client_nonce: &hello.nonce,
            server_nonce: &challenge.nonce,
            server_id: &challenge.server_id,
            kind: hello.role,
            name: &hello.name,
            token_id: &auth.token_id,
            binding,
        };
        // An unknown ID and a wrong secret get the same answer, so the
        // answer tells a guesser nothing about which IDs exist.
        let entry = self.tokens.lookup(&auth.token_id);
        let keys = entry.as_ref().and_then(|e| e.keys());
        let (Some(entry), Some(keys)) = (entry, keys) else {
            return Err(refuse(failed(&auth.token_id)));
        };
        if !verify_client_proof(&keys, &transcript, &auth.proof) {
            return Err(refuse(failed(&auth.token_id)));
        }
        if let Some(when) = &entry.revoked {
            return Err(refuse(format!(
                "token `{}` was revoked at {when}",
                entry.id
            )));
        }
        let forbid = |msg: String| ErrorFrame::new(ErrorCode::Forbidden, msg);
        match (hello.role, entry.role) {
            (PeerKind::Node, Role::Node) if hello.name != entry.name => {
                return Err(forbid(format!(
                    "token `{}` belongs to node `{}` and cannot register as `{}`",
                    entry.id,
                    entry.name,
                    hello.name.escape_debug()
                )))
            }
            (PeerKind::Node, Role::Node) => {}
            (PeerKind::Node, role) => {
                return Err(forbid(format!(
                    "token `{}` has role {role} and cannot register as a node; create a node token with `monit-configd token create NAME --role node`",
                    entry.id
                )))
            }
            (PeerKind::Client, Role::Node) => {
                return Err(forbid(format!(
                    "token `{}` is a node token; clients need a viewer, operator or admin token",
                    entry.id
                )))
            }
            (PeerKind::Client, _) => {}
        }
        let identity = Identity {
            token_id: entry.id.clone(),
            name: entry.name.clone(),
            role: entry.role,
            kind: hello.role,
        };
        let welcome = Welcome {
            server_id: self.server_id.to_string(),
            server_version: crate::VERSION.to_string(),
            name: entry.name,
            role: entry.role,
            heartbeat_interval_ms: self.heartbeat_interval_ms,
            dead_after_ms: self.dead_after_ms,
            server_proof: server_proof(&keys, &transcript),
        };
        Ok((identity, welcome))
    }
}

fn failed(token_id: &str) -> String {
    format!(
        "authentication failed for token `{}`: unknown token or wrong secret; check the token file",
        short(token_id)
    )
}

/// A peer-supplied ID, cut short and made printable for messages.
fn short(id: &str) -> String {
    id.chars()
        .take(32)
        .collect::<String>()
        .escape_debug()
        .to_string()
}
