//! The tokens file configd authenticates against (TOML, mode 0600).
//!
//! `monit-configd token create|list|revoke` edit it under an exclusive lock
//! and replace it atomically; a running configd notices the change within
//! a second (see `configd::tokens`).
//!
//! The file keeps only what checking a proof needs (`stored_key`,
//! `server_key`, see `auth::proof`); the secret is shown once, at creation.
//! A file written before that (with `secret = ...`) loads, and is
//! rewritten without the secrets by `convert_secrets`.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::proof::TokenKeys;
use super::secret_file::{check_private, SecretFileError};
use super::token::Token;
use crate::net::proto::Role;
use crate::timefmt;

#[derive(Debug, thiserror::Error)]
pub enum TokensFileError {
    #[error(transparent)]
    Secret(#[from] SecretFileError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "{path}: token `{id}` has no usable keys (stored_key and server_key: 64 hex digits each)"
    )]
    BadKeys { path: PathBuf, id: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid token name: {0}")]
    BadName(String),
    #[error("no token with ID `{0}` (see `monit-configd token list`)")]
    NoSuchToken(String),
    #[error("token `{0}` is already revoked")]
    AlreadyRevoked(String),
    #[error(
        "a live node token named `{0}` exists already; revoke it first (`monit-configd token revoke ID`)"
    )]
    NodeNameTaken(String),
}

/// One token as configd stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the client key, hex: checks a peer's proof.
    #[serde(default)]
    pub stored_key: String,
    /// The server key, hex: makes configd's own proof.
    #[serde(default)]
    pub server_key: String,
    /// Only in files written before stored keys; never written again.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

impl TokenEntry {
    pub fn is_live(&self) -> bool {
        self.revoked.is_none()
    }

    /// The keys a proof is checked with; `None` when the entry's are bad.
    pub fn keys(&self) -> Option<TokenKeys> {
        let decode = |h: &str| -> Option<[u8; 32]> { hex::decode(h).ok()?.try_into().ok() };
        Some(TokenKeys {
            stored_key: decode(&self.stored_key)?,
            server_key: decode(&self.server_key)?,
        })
    }

    fn set_keys(&mut self, keys: &TokenKeys) {
        self.stored_key = hex::encode(keys.stored_key);
        self.server_key = hex::encode(keys.server_key);
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

#[derive(Debug, Clone)]
pub struct TokensFile {
    path: PathBuf,
    entries: Vec<TokenEntry>,
}

impl TokensFile {
    /// Loads the file; a missing file is an empty set.
    pub fn load(path: &Path) -> Result<TokensFile, TokensFileError> {
        let io = |source| TokensFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(io(source)),
            Ok(_) => {
                check_private(path)?;
                std::fs::read_to_string(path).map_err(io)?
            }
        };
        let mut shape: FileShape = toml::from_str(&text).map_err(|e| TokensFileError::Parse {
            path: path.to_path_buf(),
            message: crate::config::one_line_toml_error(&e, &text),
        })?;
        for entry in &mut shape.token {
            let bad_keys = |id: &str| TokensFileError::BadKeys {
                path: path.to_path_buf(),
                id: id.to_string(),
            };
            // An old-format entry: derive its keys now (written by `save`).
            if let Some(secret) = entry.secret.as_deref() {
                let bytes = hex::decode(secret).map_err(|_| bad_keys(&entry.id))?;
                entry.set_keys(&TokenKeys::derive(&bytes));
            }
            if entry.keys().is_none() {
                return Err(bad_keys(&entry.id));
            }
        }
        Ok(TokensFile {
            path: path.to_path_buf(),
            entries: shape.token,
        })
    }

    /// How many entries still carry a plaintext secret (an old file).
    pub fn plaintext_secrets(&self) -> usize {
        self.entries.iter().filter(|e| e.secret.is_some()).count()
    }

    /// Rewrites an old-format file without its secrets (under the lock);
    /// the number of entries converted, 0 when there was nothing to do.
    pub fn convert_secrets(path: &Path) -> Result<usize, TokensFileError> {
        if TokensFile::load(path)?.plaintext_secrets() == 0 {
            return Ok(0);
        }
        TokensFile::edit(path, |f| Ok(f.plaintext_secrets()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[TokenEntry] {
        &self.entries
    }

    pub fn find(&self, id: &str) -> Option<&TokenEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Adds a token in memory; `save` writes it.
    pub fn add(&mut self, name: &str, role: Role) -> Result<Token, TokensFileError> {
        crate::names::check_name(name).map_err(TokensFileError::BadName)?;
        if role == Role::Node
            && self
                .entries
                .iter()
                .any(|e| e.role == Role::Node && e.name == name && e.is_live())
        {
            return Err(TokensFileError::NodeNameTaken(name.to_string()));
        }
        let mut token = Token::generate();
        while self.find(&token.id).is_some() {
            token = Token::generate();
        }
        let mut entry = TokenEntry {
            id: token.id.clone(),
            name: name.to_string(),
            role,
            stored_key: String::new(),
            server_key: String::new(),
            secret: None,
            created: timefmt::rfc3339(timefmt::now_ms()),
            revoked: None,
        };
        entry.set_keys(&TokenKeys::derive(&token.key()));
        self.entries.push(entry);
        Ok(token)
    }

    pub fn revoke(&mut self, id: &str) -> Result<&TokenEntry, TokensFileError> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| TokensFileError::NoSuchToken(id.to_string()))?;
        if entry.revoked.is_some() {
            return Err(TokensFileError::AlreadyRevoked(id.to_string()));
        }
        entry.revoked = Some(timefmt::rfc3339(timefmt::now_ms()));
        Ok(entry)
    }

    /// Writes the file atomically (temp file 0600, fsync, rename).
    pub fn save(&self) -> Result<(), TokensFileError> {
        let werr = |source| TokensFileError::Write {
            path: self.path.clone(),
            source,
        };
        let shape = FileShape {
            token: self.entries.clone(),
        };
        let body = toml::to_string(&shape).map_err(|e| TokensFileError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(werr)?;
        }
        let tmp = self.path.with_extension("tmp");
        let text = format!(
            "# monit tokens: edit with `monit-configd token`. Keep this file mode 0600.\n{body}"
        );
        super::write_private(&tmp, &text).map_err(werr)?;
        std::fs::rename(&tmp, &self.path).map_err(werr)?;
        Ok(())
    }

    /// Runs `edit` on the file under an exclusive lock, then saves it.
    pub fn edit<T>(
        path: &Path,
        edit: impl FnOnce(&mut TokensFile) -> Result<T, TokensFileError>,
    ) -> Result<T, TokensFileError> {
        let lock_path = path.with_extension("lock");
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| TokensFileError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let lock_file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|source| TokensFileError::Write {
                path: lock_path.clone(),
                source,
            })?;
        let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| TokensFileError::Write {
                path: lock_path.clone(),
                source: std::io::Error::from(errno),
            })?;
        let mut file = TokensFile::load(path)?;
        let out = edit(&mut file)?;
        file.save()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn create_list_revoke_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        let t = TokensFile::edit(&path, |f| f.add("web-1", Role::Node)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = TokensFile::edit(&path, |f| f.add("web-1", Role::Node)).unwrap_err();
        assert!(matches!(err, TokensFileError::NodeNameTaken(_)));
        TokensFile::edit(&path, |f| f.add("alice", Role::Admin)).unwrap();
        let f = TokensFile::load(&path).unwrap();
        assert_eq!(f.entries().len(), 2);
        assert_eq!(
            f.find(&t.id).unwrap().keys(),
            Some(TokenKeys::derive(&t.key()))
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&t.secret), "{text}");
        TokensFile::edit(&path, |f| f.revoke(&t.id).map(|_| ())).unwrap();
        assert!(!TokensFile::load(&path)
            .unwrap()
            .find(&t.id)
            .unwrap()
            .is_live());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = TokensFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn old_format_is_converted_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        let t = Token::generate();
        let old = format!(
            "[[token]]\nid = \"{}\"\nname = \"web-1\"\nrole = \"node\"\nsecret = \"{}\"\ncreated = \"2026-01-01T00:00:00Z\"\n",
            t.id, t.secret
        );
        crate::auth::write_private(&path, &old).unwrap();
        let loaded = TokensFile::load(&path).unwrap();
        assert_eq!(loaded.plaintext_secrets(), 1);
        assert_eq!(
            loaded.find(&t.id).unwrap().keys(),
            Some(TokenKeys::derive(&t.key()))
        );
        assert_eq!(TokensFile::convert_secrets(&path).unwrap(), 1);
        assert_eq!(TokensFile::convert_secrets(&path).unwrap(), 0);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&t.secret), "{text}");
        assert_eq!(
            TokensFile::load(&path).unwrap().find(&t.id).unwrap().keys(),
            Some(TokenKeys::derive(&t.key()))
        );
        // A broken entry is an error naming it.
        crate::auth::write_private(&path, &old.replace(&t.secret, "zz")).unwrap();
        let e = TokensFile::load(&path).unwrap_err().to_string();
        assert!(e.contains(&t.id), "{e}");
    }
}
