//! The tokens configd accepts. The file is re-read when it changes (checked
//! at each handshake, a `stat`), so `monit-configd token revoke` takes
//! effect on the next connection without a restart. A change that fails to
//! load is logged and the tokens loaded before are kept.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::auth::{verify_handshake_mac, TokenEntry, TokensFile, TokensFileError};
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
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        size: m.size(),
        inode: m.ino(),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
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
        })
    }

    /// The live token with this ID, re-reading the file if it changed.
    pub fn lookup(&self, id: &str) -> Option<TokenEntry> {
        let path = lock(&self.path).clone();
        let now = stamp(&path);
        let mut loaded = lock(&self.loaded);
        if now != loaded.stamp {
            match TokensFile::load(&path) {
                Ok(file) => {
                    loaded.by_id = index(&file);
                    tracing::info!(path = %path.display(), tokens = loaded.by_id.len(), "tokens file reloaded");
                }
                Err(e) => {
                    tracing::error!("tokens file changed but cannot be loaded, keeping the previous tokens: {e}");
                }
            }
            loaded.stamp = now;
        }
        loaded.by_id.get(id).cloned()
    }

    pub fn len(&self) -> usize {
        lock(&self.loaded).by_id.len()
    }

    /// Switches to another tokens file (a reload); it must load.
    pub fn set_path(&self, path: &Path) -> Result<(), TokensFileError> {
        let file = TokensFile::load(path)?;
        let mut loaded = lock(&self.loaded);
        loaded.by_id = index(&file);
        loaded.stamp = stamp(path);
        *lock(&self.path) = path.to_path_buf();
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The configd side of the handshake.
pub struct ConfigdAuth<'a> {
    pub tokens: &'a TokenRegistry,
    pub server_id: &'a str,
    pub heartbeat_interval_ms: u64,
    pub dead_after_ms: u64,
}

impl Authenticator for ConfigdAuth<'_> {
    type Identity = Identity;

    fn authenticate(
        &self,
        hello: &Hello,
        challenge: &Challenge,
        auth: &Auth,
    ) -> Result<(Identity, Welcome), ErrorFrame> {
        let refuse = |msg: String| ErrorFrame::new(ErrorCode::Auth, msg);
        let Some(entry) = self.tokens.lookup(&auth.token_id) else {
            return Err(refuse(format!("unknown token `{}`", short(&auth.token_id))));
        };
        if !verify_handshake_mac(
            &entry.key(),
            &challenge.nonce,
            &challenge.server_id,
            hello.role,
            &hello.name,
            &auth.mac,
        ) {
            return Err(refuse(format!("wrong secret for token `{}`", entry.id)));
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
        };
        Ok((identity, welcome))
    }
}

/// A peer-supplied ID, cut short and made printable for messages.
fn short(id: &str) -> String {
    id.chars()
        .take(32)
        .collect::<String>()
        .escape_debug()
        .to_string()
}
