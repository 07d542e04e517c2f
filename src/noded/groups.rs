//! Commands never outlive their agent unwatched. Each command's process
//! group leader gets `PR_SET_PDEATHSIG` (SIGKILL): when noded dies, even by
//! kill -9, the kernel kills it. Its own children may escape that (they
//! are not the leader), so every running group is also recorded in
//! `SPOOL_DIR/running/PGID`; a noded starting up kills the groups a
//! previous instance left there (checked against the leader's start time,
//! so a reused PID is never hit) and logs each. Under systemd the unit's
//! cgroup (KillMode=control-group) does this too.

use std::path::{Path, PathBuf};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Where running groups are recorded.
#[derive(Debug, Clone)]
pub struct RunningGroups {
    dir: PathBuf,
}

/// A process's start time (clock ticks since boot, `/proc/PID/stat` field
/// 22): with the PID, it names one process for good.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: read
    // after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl RunningGroups {
    pub fn new(spool_dir: &Path) -> RunningGroups {
        RunningGroups {
            dir: spool_dir.join("running"),
        }
    }

    /// Records group `pgid` (its leader just started) until the guard drops.
    pub fn record(&self, pgid: i32, job: u64, command: &str) -> Recorded {
        let path = self.dir.join(pgid.to_string());
        let written = start_time(pgid).and_then(|start| {
            std::fs::create_dir_all(&self.dir).ok()?;
            std::fs::write(&path, format!("{start} {job} {command}\n")).ok()
        });
        if written.is_none() {
            tracing::warn!(pgid, job, "cannot record the running command in {}: a noded killed now would leave it behind until the unit's cgroup ends it", self.dir.display());
        }
        Recorded(written.map(|_| path))
    }

    /// Kills the groups a previous noded recorded and left running; how
    /// many it killed.
    pub fn kill_leftovers(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut killed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let _ = std::fs::remove_file(&path);
            let Some(pgid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
                .filter(|p| *p > 1)
            else {
                continue;
            };
            let mut parts = text.split_whitespace();
            let recorded: Option<u64> = parts.next().and_then(|s| s.parse().ok());
            let job = parts.next().unwrap_or("?").to_string();
            let command = parts.next().unwrap_or("?").to_string();
            if recorded.is_none() || recorded != start_time(pgid) {
                continue; // Gone, or the PID now names another process.
            }
            if killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok() {
                killed += 1;
                tracing::warn!(
                    pgid,
                    job = %job,
                    command = %command,
                    "killed the process group of a command a previous noded left running"
                );
            }
        }
        killed
    }
}

/// A recorded group; the record goes when this drops.
pub struct Recorded(Option<PathBuf>);

impl Drop for Recorded {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// For `Command::pre_exec` in the child: die with the parent (SIGKILL),
/// and at once if the parent already died between fork and here.
pub fn die_with_parent(parent: i32) -> std::io::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
    if nix::unistd::getppid().as_raw() != parent {
        return Err(std::io::Error::other(
            "noded exited while starting the command",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn leftovers_are_killed_and_reused_pids_spared() {
        let dir = tempfile::tempdir().unwrap();
        let groups = RunningGroups::new(dir.path());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let rec = groups.record(pgid, 7, "sleepy");
        assert!(dir.path().join(format!("running/{pgid}")).exists());
        std::mem::forget(rec); // As if noded died: the record stays.
                               // A record whose start time does not match is not killed.
        std::fs::write(dir.path().join("running/1234567"), "1 1 x\n").unwrap();
        assert_eq!(groups.kill_leftovers(), 1);
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert_eq!(
            std::fs::read_dir(dir.path().join("running"))
                .unwrap()
                .count(),
            0
        );
        // A finished command's record goes with its guard.
        drop(groups.record(std::process::id() as i32, 8, "me"));
        assert_eq!(
            std::fs::read_dir(dir.path().join("running"))
                .unwrap()
                .count(),
            0
        );
    }
}
