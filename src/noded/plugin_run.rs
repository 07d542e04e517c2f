//! Runs one plugin: argv (no shell), in its own process group, stdout read
//! up to the output cap, the whole group killed at the timeout (a
//! grandchild holding the pipe open included). Never fails: every way a
//! plugin can go wrong is an `unknown` result with a reason.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::checks::plugin::{self, PluginOutput, OUTPUT_CAP};
use crate::checks::CheckState;
use crate::daemon::kill_group;

/// What running a plugin gave.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginRun {
    pub state: CheckState,
    pub out: PluginOutput,
    pub duration: Duration,
}

fn unknown(output: String, started: Instant) -> PluginRun {
    PluginRun {
        state: CheckState::Unknown,
        out: PluginOutput {
            output,
            ..PluginOutput::default()
        },
        duration: started.elapsed(),
    }
}

/// Runs `argv` with `timeout`.
pub async fn run_plugin(argv: &[String], timeout: Duration) -> PluginRun {
    let started = Instant::now();
    let Some((program, args)) = argv.split_first() else {
        return unknown("no command configured".into(), started);
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return unknown(format!("cannot run {program}: {e}"), started),
    };
    let pgid = child.id().map(|p| p as i32);
    let Some(mut stdout) = child.stdout.take() else {
        kill_group(pgid);
        return unknown("no stdout pipe".into(), started);
    };
    let work = async {
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 8192];
        let mut truncated = false;
        loop {
            match stdout.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_CAP.saturating_sub(buf.len());
                    if n > room {
                        truncated = true;
                    }
                    buf.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
        }
        let status = child.wait().await;
        (buf, truncated, status)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok((buf, truncated, status)) => {
            let code = status.as_ref().ok().and_then(|s| s.code());
            let state = plugin::state_of_exit(code);
            let mut out = plugin::parse(&buf, truncated);
            if !matches!(code, Some(0..=3)) {
                let why = match (status, code) {
                    (Ok(_), Some(c)) => format!("exited with code {c}"),
                    (Ok(s), None) => {
                        use std::os::unix::process::ExitStatusExt;
                        format!("killed by signal {}", s.signal().unwrap_or(0))
                    }
                    (Err(e), _) => format!("cannot wait for it: {e}"),
                };
                out.output = format!("plugin {why}: {}", out.output);
            }
            PluginRun {
                state,
                out,
                duration: started.elapsed(),
            }
        }
        Err(_) => {
            kill_group(pgid);
            // Reap the child (it is dead or dying); bounded.
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            unknown(format!("timed out after {}", secs(timeout)), started)
        }
    }
}

fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn states_and_failures() {
        let r = run_plugin(
            &argv(&["sh", "-c", "echo 'W | a=1'; exit 1"]),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(r.state, CheckState::Warning);
        assert_eq!(r.out.output, "W");
        assert_eq!(r.out.perfdata.len(), 1);
        let r = run_plugin(
            &argv(&["sh", "-c", "echo hi; exit 7"]),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(r.state, CheckState::Unknown);
        assert!(r.out.output.contains("code 7"), "{}", r.out.output);
        let r = run_plugin(&argv(&["sh", "-c", "kill -9 $$"]), Duration::from_secs(5)).await;
        assert_eq!(r.state, CheckState::Unknown);
        assert!(r.out.output.contains("signal 9"), "{}", r.out.output);
        let r = run_plugin(&argv(&["/nonexistent/plugin"]), Duration::from_secs(5)).await;
        assert_eq!(r.state, CheckState::Unknown);
        assert!(r.out.output.contains("cannot run"), "{}", r.out.output);
    }

    /// Running (not gone, not a zombie waiting for its reaper).
    fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    #[tokio::test]
    async fn timeout_kills_the_group_and_grandchildren() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("gc.pid");
        let script = format!(
            "sleep 30 & echo $! > {}; echo started; wait",
            pidfile.display()
        );
        let started = Instant::now();
        let r = run_plugin(&argv(&["sh", "-c", &script]), Duration::from_millis(500)).await;
        assert_eq!(r.state, CheckState::Unknown);
        assert_eq!(r.out.output, "timed out after 0.5s");
        assert!(started.elapsed() < Duration::from_secs(3));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!alive(pid), "grandchild {pid} still alive");
    }
}
