//! How the agent stands with configd, told to the two that ask: `monit-noded
//! start` reads lines on the agent's stdout until it is registered or
//! refused, and `status` reads a one-line file next to the pidfile
//! (`monit-noded.state`). Only the daemon binary installs this; an agent
//! run in-process (the demo, tests) tells nobody.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use crate::daemon::control::{REFUSED, REGISTERED, RETRYING};

struct Standing {
    file: PathBuf,
    /// Until the first registration or refusal, `start` may be reading
    /// stdout; the last reason printed there, to print a change only.
    told: Mutex<Option<Told>>,
}

enum Told {
    Retrying(String),
    Settled,
}

static STANDING: OnceLock<Standing> = OnceLock::new();

/// Tells `start` and `status` from now on; `file` is the state file.
pub fn install(file: PathBuf) {
    let _ = STANDING.set(Standing {
        file,
        told: Mutex::new(None),
    });
    record("starting: not connected to configd yet");
}

/// The state file of a daemon whose pidfile is `pid_file`.
pub fn file_for(pid_file: &std::path::Path) -> PathBuf {
    pid_file.with_extension("state")
}

/// Registered with configd at `server`.
pub fn registered(name: &str, server: &str) {
    record(&format!(
        "registered with configd {server} since {}",
        crate::timefmt::rfc3339(crate::timefmt::now_ms())
    ));
    say(
        true,
        &format!("{REGISTERED} as node {name} with configd {server}"),
    );
}

/// Not connected, trying again soon: `reason` is the last error.
pub fn retrying(reason: &str) {
    record(&format!(
        "not registered: retrying; last error at {}: {reason}",
        crate::timefmt::rfc3339(crate::timefmt::now_ms())
    ));
    say(false, &format!("{RETRYING}: {reason}"));
}

/// configd refused this node's credentials: only an operator can fix it.
pub fn refused(reason: &str, every: std::time::Duration) {
    record(&format!(
        "refused by configd at {}: {reason} (retrying every {}s)",
        crate::timefmt::rfc3339(crate::timefmt::now_ms()),
        every.as_secs()
    ));
    say(true, &format!("{REFUSED}: {reason}"));
}

/// The agent stopped: no state to read.
pub fn clear() {
    if let Some(s) = STANDING.get() {
        let _ = std::fs::remove_file(&s.file);
    }
}

/// The state file's line, for `status`.
pub fn read(pid_file: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(file_for(pid_file)).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn record(line: &str) {
    let Some(s) = STANDING.get() else { return };
    let tmp = s.file.with_extension("state.tmp");
    let written =
        std::fs::write(&tmp, format!("{line}\n")).and_then(|()| std::fs::rename(&tmp, &s.file));
    if let Err(e) = written {
        tracing::debug!("cannot write {}: {e}", s.file.display());
    }
}

/// A line for `start` on stdout, while it may be listening: a change of
/// reason, and the one line that settles it.
fn say(settles: bool, line: &str) {
    let Some(s) = STANDING.get() else { return };
    let Ok(mut told) = s.told.lock() else { return };
    match &*told {
        Some(Told::Settled) => return,
        Some(Told::Retrying(last)) if !settles && last == line => return,
        _ => {}
    }
    *told = Some(if settles {
        Told::Settled
    } else {
        Told::Retrying(line.to_string())
    });
    // `start` may be gone already: nobody reads, and that is fine.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
