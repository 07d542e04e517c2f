//! `known_servers`: the fingerprints of the configd certificates a peer
//! has trusted on first use, one `HOST:PORT sha256:HEX` line per server
//! address (mode 0600, next to the token file), as SSH's known_hosts.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::fingerprint::Fingerprint;

/// What the file says about a server seen now.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// Recorded before with this fingerprint.
    Known,
    /// Not there before; recorded now.
    Recorded,
    /// Recorded with another fingerprint, on this line (1-based).
    Changed { known: Fingerprint, line: usize },
}

pub struct KnownServers {
    path: PathBuf,
}

/// The default place: next to the token file, else in `dir`.
pub fn path_for(token_file: Option<&Path>, dir: Option<PathBuf>) -> PathBuf {
    match token_file.and_then(|t| t.parent()) {
        Some(d) if !d.as_os_str().is_empty() => d.join("known_servers"),
        Some(_) => PathBuf::from("known_servers"),
        None => dir
            .unwrap_or_else(|| PathBuf::from("."))
            .join("known_servers"),
    }
}

impl KnownServers {
    pub fn new(path: PathBuf) -> KnownServers {
        KnownServers { path }
    }

    /// Looks `server` up; records `got` when it is not there (under a lock,
    /// so two first connections at once write one line).
    pub fn check_or_record(&self, server: &str, got: Fingerprint) -> Result<Seen, String> {
        let where_ = || self.path.display().to_string();
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", where_()))?;
        let mut file = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| format!("{}: cannot lock: {e}", where_()))?;
        crate::auth::check_private(&self.path).map_err(|e| e.to_string())?;
        let text = std::fs::read_to_string(&self.path).map_err(|e| format!("{}: {e}", where_()))?;
        for (n, line) in text.lines().enumerate() {
            let mut parts = line.split_whitespace();
            let (Some(addr), Some(fp)) = (parts.next(), parts.next()) else {
                continue;
            };
            if addr != server {
                continue;
            }
            let known =
                Fingerprint::parse(fp).map_err(|e| format!("{} line {}: {e}", where_(), n + 1))?;
            return Ok(if known == got {
                Seen::Known
            } else {
                Seen::Changed { known, line: n + 1 }
            });
        }
        let mut line = String::new();
        if !text.is_empty() && !text.ends_with('\n') {
            line.push('\n');
        }
        line.push_str(&format!("{server} {got}\n"));
        file.write_all(line.as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| format!("{}: {e}", where_()))?;
        Ok(Seen::Recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn first_use_then_known_then_changed() {
        let dir = tempfile::tempdir().unwrap();
        let k = KnownServers::new(dir.path().join("sub/known_servers"));
        let a = Fingerprint::of_der(b"a");
        let b = Fingerprint::of_der(b"b");
        assert_eq!(k.check_or_record("h:1", a).unwrap(), Seen::Recorded);
        assert_eq!(k.check_or_record("h:1", a).unwrap(), Seen::Known);
        assert_eq!(k.check_or_record("h:2", b).unwrap(), Seen::Recorded);
        assert_eq!(
            k.check_or_record("h:1", b).unwrap(),
            Seen::Changed { known: a, line: 1 }
        );
        let mode = std::fs::metadata(dir.path().join("sub/known_servers"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            path_for(Some(Path::new("/etc/monit/node.token")), None),
            PathBuf::from("/etc/monit/known_servers")
        );
        assert_eq!(
            path_for(None, Some(PathBuf::from("/home/u/.config/monit"))),
            PathBuf::from("/home/u/.config/monit/known_servers")
        );
    }
}
