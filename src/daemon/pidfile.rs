//! The pidfile: written and `flock`ed by the running daemon for its whole
//! life, so "is it running?" is answered by the lock, not by a pid that may
//! have been reused. A file left by a dead process is unlocked: stale, and
//! simply taken over.

use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::fcntl::{Flock, FlockArg};

#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    #[error("already running (pid {pid}, pidfile {path})")]
    AlreadyRunning { pid: i32, path: PathBuf },
    #[error("pidfile {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a pidfile says about its daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Running {
        pid: i32,
        since: SystemTime,
    },
    /// A pidfile no live process holds.
    Stale {
        pid: Option<i32>,
    },
    Absent,
}

/// A held pidfile; removed and unlocked on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    _lock: Flock<std::fs::File>,
}

fn read_pid(file: &mut std::fs::File) -> Option<i32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

impl PidFile {
    /// Takes the pidfile for this process, or says who holds it.
    pub fn acquire(path: &Path) -> Result<PidFile, PidFileError> {
        let io = |source| PidFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(io)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(PidFileError::AlreadyRunning {
                    pid: read_pid(&mut file).unwrap_or(0),
                    path: path.to_path_buf(),
                })
            }
            Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
        };
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        writeln!(lock, "{}", std::process::id()).map_err(io)?;
        lock.sync_all().map_err(io)?;
        Ok(PidFile {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// Looks at a pidfile without taking it.
    pub fn probe(path: &Path) -> Probe {
        let Ok(file) = std::fs::File::open(path) else {
            return Probe::Absent;
        };
        let since = file
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| SystemTime::now());
        match Flock::lock(file, FlockArg::LockSharedNonblock) {
            Ok(mut l) => Probe::Stale {
                pid: read_pid(&mut l),
            },
            Err((mut file, _)) => Probe::Running {
                pid: read_pid(&mut file).unwrap_or(0),
                since,
            },
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_probe_and_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/d.pid");
        assert_eq!(PidFile::probe(&path), Probe::Absent);
        let held = PidFile::acquire(&path).unwrap();
        let me = std::process::id() as i32;
        assert!(matches!(PidFile::probe(&path), Probe::Running { pid, .. } if pid == me));
        match PidFile::acquire(&path) {
            Err(PidFileError::AlreadyRunning { pid, .. }) => assert_eq!(pid, me),
            other => panic!("{other:?}"),
        }
        drop(held);
        assert_eq!(PidFile::probe(&path), Probe::Absent);
        std::fs::write(&path, "12345\n").unwrap();
        assert_eq!(PidFile::probe(&path), Probe::Stale { pid: Some(12345) });
        let _again = PidFile::acquire(&path).unwrap();
    }
}
