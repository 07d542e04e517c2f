//! monit-tui in a real terminal: the binary runs in a private tmux server
//! against a real configd and real node agents; the test reads the screen
//! with capture-pane and types with send-keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{bin, Fleet};

/// A private tmux server running a clean `sh`; killed on drop.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(dir: &Path) -> Tmux {
        let socket = dir.join("tmux.sock");
        let tmux = Tmux { socket };
        let path = std::env::var("PATH").unwrap_or_default();
        let shell = format!(
            "env -i PATH='{path}' HOME='{home}' TMPDIR='{home}' TERM=xterm-256color \
             MONIT_TUI_LOG='{home}/tui.log' PS1='$ ' sh",
            home = dir.display()
        );
        let out = tmux
            .cmd()
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "100",
                "-y",
                "30",
                "-s",
                "t",
            ])
            .arg(shell)
            .output()
            .expect("tmux must be installed (scripts/test installs it)");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux.run(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        tmux.wait_screen("the shell prompt", |s| s.contains('$'));
        tmux
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Sends a key by tmux name (Enter, Escape, ...).
    fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "t", key]);
    }

    fn wait_screen(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let limit = Duration::from_secs(15);
        let start = std::time::Instant::now();
        loop {
            let last = self.screen();
            if ok(&last) {
                return last;
            }
            if start.elapsed() > limit {
                panic!("timed out waiting for {what}; screen:\n{last}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Quits with `q` and checks the shell is back with status 0.
    fn quit_clean(&self) {
        self.key("q");
        self.wait_screen("the UI to close", |s| !s.contains("1 Nodes"));
        self.type_text("echo status=$?");
        self.key("Enter");
        self.wait_screen("status 0 at a clean prompt", |s| s.contains("status=0"));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(out) = self.cmd().args(["capture-pane", "-p", "-t", "t"]).output() {
                eprintln!(
                    "----- screen -----\n{}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
        }
        let _ = self.cmd().arg("kill-server").output();
    }
}

fn table_lines(screen: &str) -> Vec<&str> {
    screen.lines().skip(3).collect()
}

#[test]
fn tui_shows_nodes_narrows_with_filter_and_quits_clean() {
    let fleet = Fleet::start();
    let _a = fleet.node("alpha", &[("role", "web")]);
    let _b = fleet.node("beta", &[("role", "db")]);
    fleet.wait_state("alpha", "up", Duration::from_secs(10));
    fleet.wait_state("beta", "up", Duration::from_secs(10));
    let tmux = Tmux::start(fleet.path());
    tmux.type_text(&format!(
        "{} --server {} --token-file {}",
        bin("monit-tui").display(),
        fleet.addr,
        fleet.viewer.display()
    ));
    tmux.key("Enter");
    let screen = tmux.wait_screen("both nodes up", |s| {
        s.lines()
            .any(|l| l.starts_with("alpha") && l.contains(" up "))
            && s.lines()
                .any(|l| l.starts_with("beta") && l.contains(" up "))
    });
    assert!(screen.contains("connected"), "{screen}");
    assert!(screen.contains("role=web"), "{screen}");

    // `/` narrows as one types.
    tmux.type_text("/alp");
    tmux.wait_screen("only alpha", |s| {
        let rows = table_lines(s);
        rows.iter().any(|l| l.starts_with("alpha")) && !rows.iter().any(|l| l.starts_with("beta"))
    });
    tmux.key("Enter");
    // Esc clears the filter again; a filter expression works too.
    tmux.key("Escape");
    tmux.wait_screen("both again", |s| {
        table_lines(s).iter().any(|l| l.starts_with("beta"))
    });
    // A field name with a typo says so instead of an unexplained empty list.
    tmux.type_text("/lables.role=db");
    tmux.key("Enter");
    tmux.wait_screen("the typo named", |s| {
        let rows = table_lines(s);
        s.contains("no field `lables.role` here")
            && !rows
                .iter()
                .any(|l| l.starts_with("alpha") || l.starts_with("beta"))
    });
    tmux.key("Escape");
    tmux.wait_screen("both again", |s| {
        table_lines(s).iter().any(|l| l.starts_with("beta"))
    });
    tmux.type_text("/labels.role=db");
    tmux.key("Enter");
    tmux.wait_screen("only beta", |s| {
        let rows = table_lines(s);
        rows.iter().any(|l| l.starts_with("beta")) && !rows.iter().any(|l| l.starts_with("alpha"))
    });

    // Enter opens details; Esc closes them.
    tmux.key("Enter");
    tmux.wait_screen("details of beta", |s| {
        s.contains("node beta") && s.contains("role=db")
    });
    tmux.key("Escape");

    // It survives a resize to 80x24 and redraws to fit.
    tmux.run(&["resize-window", "-t", "t", "-x", "80", "-y", "24"]);
    tmux.wait_screen("the UI at 80x24", |s| {
        s.lines().count() == 24
            && s.lines().any(|l| l.starts_with("beta"))
            && s.lines().last().is_some_and(|l| l.contains("q quit"))
    });

    // Problems asks configd: these nodes have no checks, so none fail.
    tmux.key("2");
    tmux.wait_screen("the Problems view", |s| s.contains("no problems"));
    tmux.key("1");
    tmux.quit_clean();
    let log = std::fs::read_to_string(fleet.path().join("tui.log")).unwrap_or_default();
    assert!(log.contains("connected"), "the TUI logs to its file: {log}");
}

#[test]
fn tui_tails_logs_and_runs_a_command_with_confirmation() {
    let fleet = Fleet::start_with(
        "heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n\
         [inventory.zone]\nkey = \"int\"\nattributes = {}\n",
    );
    let say = r#"
[[command]]
name = "say"
description = "echoes its word"
argv = ["/bin/echo", "said:{word}"]
args = [{ name = "word", type = "string", pattern = "[a-z]+" }]
timeout = "10s"

[[command]]
name = "ping-zone"
description = "bound to its zone"
argv = ["/bin/echo", "zone:{zone}"]
args = [{ name = "zone", type = "int", min = 1, max = 99 }]
timeout = "10s"
inventory = { kind = "zone", key = "zone" }
"#;
    let _a = fleet.node_with("alpha", &[("role", "web")], say);
    let _g = fleet.node_with("gamma", &[("role", "web")], say);
    fleet.wait_state("alpha", "up", Duration::from_secs(10));
    fleet.wait_state("gamma", "up", Duration::from_secs(10));
    let op = fleet.token("tui-op", "operator");
    let tmux = Tmux::start(fleet.path());
    tmux.type_text(&format!(
        "{} --server {} --token-file {}",
        bin("monit-tui").display(),
        fleet.addr,
        op.display()
    ));
    tmux.key("Enter");
    tmux.wait_screen("alpha", |s| s.lines().any(|l| l.starts_with("alpha")));

    // `3`: the node's own log lines, shipped to configd, arrive live.
    tmux.key("3");
    tmux.wait_screen("alpha's log lines", |s| {
        s.contains("following") && table_lines(s).iter().any(|l| l.contains("alpha"))
    });
    // A node started now: its lines arrive while we watch.
    let _b = fleet.node("beta", &[]);
    tmux.wait_screen("beta's lines, live", |s| {
        table_lines(s).iter().any(|l| l.contains("beta"))
    });

    // `:run` asks first, then the job's output and result come back.
    // Tab completes the command names the node advertises (ListCommands).
    tmux.key("1");
    tmux.type_text(":run s");
    tmux.key("Tab");
    tmux.wait_screen("the completed name and its signature", |s| {
        s.contains(":run say ") && s.contains("say <word:string ~[a-z]+>")
    });
    // Arguments are checked first; the confirmation names the nodes
    // configd resolved the target to.
    tmux.type_text("HELLO --target label.role=web");
    tmux.key("Enter");
    tmux.wait_screen("the argument's error", |s| s.contains("argument `word`"));
    tmux.key("Escape");
    // Typed right after Escape, `:` would read as Alt-: .
    tmux.wait_screen("the command line closed", |s| !s.contains(":run say HELLO"));
    tmux.type_text(":run say hello --target label.role=web");
    tmux.key("Enter");
    tmux.wait_screen("the confirmation listing both nodes", |s| {
        s.contains("on 2 nodes (label.role=web): alpha, gamma?")
    });
    tmux.key("n");
    tmux.wait_screen("the confirmation closed", |s| !s.contains("alpha, gamma?"));
    tmux.type_text(":run say hello --target node=alpha");
    tmux.wait_screen("the typed line", |s| s.contains("--target node=alpha"));
    tmux.key("Enter");
    tmux.wait_screen("the confirmation", |s| {
        s.contains("Run `say hello` on 1 node (node=alpha): alpha?")
    });
    tmux.key("y");
    tmux.wait_screen("the job's result", |s| s.contains("job 1 ok"));
    tmux.key("4");
    tmux.wait_screen("the job in the list", |s| {
        table_lines(s).iter().any(|l| l.contains("say"))
    });
    tmux.key("Enter");
    tmux.wait_screen("the job's output", |s| s.contains("alpha: said:hello"));
    tmux.key("Escape");
    // Typed right after Escape, `q` would read as Alt-q.
    tmux.wait_screen("the details closed", |s| !s.contains("alpha: said:hello"));
    tmux.key("1");
    // A bound command needs no --target: configd names the item's node,
    // and refuses another one before any confirmation.
    let admin = fleet.token("tui-admin", "admin");
    let out = fleet.cli_as(&admin, &["inventory", "add", "zone", "5", "node=gamma"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    tmux.type_text(":run ping-zone 5 --target node=alpha");
    tmux.wait_screen("the typed line", |s| s.contains("ping-zone 5 --target"));
    tmux.key("Enter");
    tmux.wait_screen("the binding refusal", |s| {
        s.contains("zone 5 lives on gamma")
    });
    tmux.key("Escape");
    tmux.wait_screen("the command line closed", |s| !s.contains(":run ping-zone"));
    tmux.type_text(":run ping-zone 5");
    tmux.wait_screen("the typed line", |s| s.contains(":run ping-zone 5"));
    tmux.key("Enter");
    tmux.wait_screen("the confirmation naming the item's node", |s| {
        s.contains("Run `ping-zone 5` on gamma, the node hosting its item?")
    });
    tmux.key("y");
    tmux.wait_screen("the bound job's result", |s| s.contains("job 2 ok"));
    tmux.quit_clean();
}

#[test]
fn tui_shows_a_banner_and_reconnects_when_configd_restarts() {
    let mut fleet = Fleet::start();
    let _a = fleet.node("alpha", &[]);
    fleet.wait_state("alpha", "up", Duration::from_secs(10));
    let tmux = Tmux::start(fleet.path());
    tmux.type_text(&format!(
        "{} --server {} --token-file {}",
        bin("monit-tui").display(),
        fleet.addr,
        fleet.viewer.display()
    ));
    tmux.key("Enter");
    tmux.wait_screen("alpha", |s| s.lines().any(|l| l.starts_with("alpha")));
    let addr = fleet.addr.clone();
    fleet.configd().kill9();
    tmux.wait_screen("the banner", |s| {
        s.contains("DISCONNECTED") && s.contains("reconnecting")
    });
    fleet.start_configd(&addr);
    tmux.wait_screen("reconnected", |s| {
        s.contains(" connected ") && !s.contains("reconnecting")
    });
    tmux.quit_clean();
}

#[test]
fn demo_shows_three_nodes_up_within_10s_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(dir.path());
    tmux.type_text(&format!("{} --demo", bin("monit-tui").display()));
    tmux.key("Enter");
    let start = std::time::Instant::now();
    tmux.wait_screen("three demo nodes up", |s| {
        ["web-1", "db-1", "edge-1"]
            .iter()
            .all(|n| s.lines().any(|l| l.starts_with(n) && l.contains(" up ")))
    });
    // Within 10 s of start: failing and flapping checks in Problems, and
    // log lines in Logs.
    tmux.key("2");
    tmux.wait_screen("the demo's problems", |s| {
        s.contains("http-5xx") && s.contains("replication")
    });
    tmux.key("3");
    tmux.wait_screen("the demo's log lines", |s| {
        s.contains("following") && s.contains("demo-process")
    });
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    // Each node's lines carry its name: its agent's own, and its checks'
    // state changes as they happen.
    tmux.type_text("/node=web-1");
    tmux.key("Enter");
    tmux.wait_screen("web-1's own and its checks' lines", |s| {
        s.contains("registered with configd") && s.contains("check:http-5xx")
    });
    tmux.key("Escape");
    tmux.wait_screen("the filter cleared", |s| !s.contains("filter: node=web-1"));
    // The inventory holds the demo's zones; the ops commands complete.
    tmux.key("5");
    tmux.wait_screen("the zones", |s| s.contains("101") && s.contains("edge-1"));
    tmux.key("1");
    tmux.quit_clean();
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("monit-demo-"))
        .collect();
    assert!(left.is_empty(), "demo dir left behind: {left:?}");
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    let fleet = Fleet::start();
    let _a = fleet.node("alpha", &[]);
    fleet.wait_state("alpha", "up", Duration::from_secs(10));
    let tmux = Tmux::start(fleet.path());
    let shell_pid = tmux.run(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
    for sig in ["TERM", "HUP"] {
        tmux.type_text("clear");
        tmux.key("Enter");
        tmux.type_text(&format!(
            "{} --server {} --token-file {}",
            bin("monit-tui").display(),
            fleet.addr,
            fleet.viewer.display()
        ));
        tmux.key("Enter");
        tmux.wait_screen("alpha", |s| s.lines().any(|l| l.starts_with("alpha")));
        // The UI is the shell's only child.
        let children = std::fs::read_to_string(format!(
            "/proc/{}/task/{}/children",
            shell_pid.trim(),
            shell_pid.trim()
        ))
        .unwrap();
        let pid: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
        let sig = match sig {
            "TERM" => nix::sys::signal::Signal::SIGTERM,
            _ => nix::sys::signal::Signal::SIGHUP,
        };
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).unwrap();
        tmux.wait_screen("the UI to close", |s| !s.contains("1 Nodes"));
        // Cooked mode again: the tty echoes and reads lines.
        tmux.type_text("stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo | tr '\\n' ,; echo");
        tmux.key("Enter");
        tmux.wait_screen(&format!("a restored tty after SIG{sig:?}"), |s| {
            s.contains("icanon,echo,")
        });
    }
}
