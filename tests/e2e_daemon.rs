//! Daemon lifecycle with the real binaries: start/status/stop over a
//! locked pidfile, reload on SIGHUP, check-config, systemd notifications.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{command, stderr, wait_for, Fleet, Proc};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills whatever pid a pidfile names when the test ends, pass or fail.
struct PidGuard(PathBuf);

impl Drop for PidGuard {
    fn drop(&mut self) {
        if let Ok(text) = std::fs::read_to_string(&self.0) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn pid_in(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[test]
fn configd_start_status_stop_over_a_stale_pidfile() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("configd.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let pidfile = data.join("monit-configd.pid");
    let _guard = PidGuard(pidfile.clone());
    let ctl = |verb: &str| {
        command("monit-configd", dir.path())
            .arg("--config")
            .arg(&config)
            .arg(verb)
            .output()
            .unwrap()
    };
    let out = ctl("status");
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));

    let out = ctl("start");
    assert!(out.status.success(), "start: {}", stderr(&out));
    assert!(stdout(&out).contains("started (pid"), "{}", stdout(&out));
    let pid = pid_in(&pidfile);
    // It serves: a client gets an answer.
    let addr = std::fs::read_to_string(data.join("configd.addr")).unwrap();
    assert!(
        stdout(&out).contains(addr.trim()),
        "start names the address: {}",
        stdout(&out)
    );

    let out = ctl("status");
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("pid {pid}")) && text.contains("up ") && text.contains(addr.trim()),
        "{text}"
    );

    let out = ctl("start");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("already running (pid {pid})")),
        "{}",
        stderr(&out)
    );

    // kill -9 leaves a stale pidfile; start takes over.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for(Duration::from_secs(5), "the old configd to die", || {
        (!alive(pid)).then_some(())
    });
    assert!(pidfile.exists(), "kill -9 leaves the pidfile behind");
    let out = ctl("start");
    assert!(
        out.status.success(),
        "start over a stale pidfile: {}",
        stderr(&out)
    );
    let pid2 = pid_in(&pidfile);
    assert_ne!(pid, pid2);

    let out = ctl("stop");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !alive(pid2)
            || std::fs::read_to_string(format!("/proc/{pid2}/stat"))
                .map(|s| s.contains(" Z "))
                .unwrap_or(true)
    );
    assert!(!pidfile.exists(), "a clean stop removes the pidfile");
    let out = ctl("status");
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("not running"));
    // Stopping what is not running is fine.
    assert!(ctl("stop").status.success());
}

#[test]
fn start_fails_with_the_daemons_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let tokens = data.join("tokens.toml");
    std::fs::write(&tokens, "").unwrap();
    std::fs::set_permissions(&tokens, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = command("monit-configd", dir.path())
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "start"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("failed to start") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn noded_start_status_stop() {
    let fleet = Fleet::start();
    let token = fleet.token("bg-1", "node");
    let state = fleet.path().join("bg");
    let config = fleet.path().join("bg.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"bg-1\"\nserver = \"{}\"\ntoken_file = \"{}\"\npid_file = \"{}\"\n",
            fleet.addr,
            token.display(),
            state.join("noded.pid").display()
        ),
    )
    .unwrap();
    let _guard = PidGuard(state.join("noded.pid"));
    let ctl = |verb: &str| {
        command("monit-noded", fleet.path())
            .arg("--config")
            .arg(&config)
            .arg(verb)
            .output()
            .unwrap()
    };
    let out = ctl("start");
    assert!(out.status.success(), "{}", stderr(&out));
    fleet.wait_state("bg-1", "up", Duration::from_secs(10));
    let out = ctl("status");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("node bg-1"), "{}", stdout(&out));
    assert_eq!(ctl("start").status.code(), Some(1));
    assert!(ctl("stop").status.success());
    assert_eq!(ctl("status").status.code(), Some(3));
    // A graceful stop is seen by configd at once.
    fleet.wait_state("bg-1", "down", Duration::from_secs(3));
}

#[test]
fn sighup_reloads_labels_on_the_same_connection_and_keeps_a_good_config() {
    let fleet = Fleet::start();
    let node = fleet.node("hup-1", &[("role", "web")]);
    fleet.wait_state("hup-1", "up", Duration::from_secs(10));
    let config = fleet.path().join("hup-1.noded.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("role = \"web\"", "role = \"db\"")).unwrap();
    node.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_secs(5), "the new label", || {
        let nodes = fleet.nodes();
        (nodes[0]["labels"]["role"] == "db").then_some(())
    });
    let log = node.log();
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(!log.contains("reconnecting"), "the same connection: {log}");
    assert_eq!(log.matches("registered with configd").count(), 1, "{log}");

    // A broken file: error logged, old config kept, node still up.
    std::fs::write(&config, "name = \"hup-1\"\nbogus_key = 1\n").unwrap();
    node.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_secs(5), "the reload error", || {
        node.log().contains("reload failed").then_some(())
    });
    assert!(node.log().contains("bogus_key"), "{}", node.log());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fleet.state_of("hup-1").as_deref(), Some("up"));
    assert_eq!(fleet.nodes()[0]["labels"]["role"], "db");

    // check-config names the file, the line and the key.
    let out = command("monit-noded", fleet.path())
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("hup-1.noded.toml") && err.contains("line 2") && err.contains("bogus_key"),
        "{err}"
    );
}

#[test]
fn configd_sighup_with_a_broken_file_keeps_serving() {
    let mut fleet = Fleet::start();
    let config = fleet.path().join("configd.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    let out = command("monit-configd", fleet.path())
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(": ok"));
    std::fs::write(&config, format!("{good}log_buffer_lines = \"many\"\n")).unwrap();
    fleet.configd().signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_secs(5), "the reload error", || {
        fleet
            .configd
            .as_ref()
            .unwrap()
            .log()
            .contains("reload failed")
            .then_some(())
    });
    let out = fleet.cli(&["query", "nodes"]);
    assert!(out.status.success());
    let out = command("monit-configd", fleet.path())
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("line 5") && err.contains("log_buffer_lines"),
        "{err}"
    );
    // A good file again reloads.
    std::fs::write(&config, &good).unwrap();
    fleet.configd().signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_secs(5), "the reload", || {
        fleet
            .configd
            .as_ref()
            .unwrap()
            .log()
            .contains("configuration reloaded")
            .then_some(())
    });
}

#[test]
fn systemd_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut cmd = command("monit-configd", dir.path());
    cmd.env("NOTIFY_SOCKET", &sock_path)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0", "run"])
        .stdout(std::process::Stdio::null());
    let mut proc = Proc::spawn("monit-configd", cmd, dir.path());
    let mut buf = [0u8; 512];
    let mut next = || {
        let n = sock.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert!(next().contains("READY=1"));
    proc.signal(nix::sys::signal::Signal::SIGHUP);
    let reloading = next();
    assert!(
        reloading.contains("RELOADING=1") && reloading.contains("MONOTONIC_USEC="),
        "{reloading}"
    );
    assert!(next().contains("READY=1"));
    proc.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(next().contains("STOPPING=1"));
    assert!(proc.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn sighup_adds_a_check_that_runs_within_one_interval_on_the_same_connection() {
    let fleet = Fleet::start();
    let node = fleet.node("hup-2", &[]);
    fleet.wait_state("hup-2", "up", Duration::from_secs(10));
    let config = fleet.path().join("hup-2.noded.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[[check]]\nname = \"added\"\ncommand = [\"/usr/lib/nagios/plugins/check_dummy\", \"1\", \"added by reload\"]\ninterval = \"2s\"\n",
    );
    std::fs::write(&config, text).unwrap();
    node.signal(nix::sys::signal::Signal::SIGHUP);
    // Within one interval (2 s) of the reload, plus slack for a loaded machine.
    let check = fleet.wait_check("hup-2", "added", Duration::from_secs(6), "a result", |c| {
        c["state"] == "warning"
    });
    assert_eq!(check["output"], "WARNING: added by reload");
    let log = node.log();
    assert!(!log.contains("reconnecting"), "the same connection: {log}");
    assert_eq!(log.matches("registered with configd").count(), 1, "{log}");
}

#[test]
fn configd_sighup_adds_an_inventory_kind() {
    let mut fleet = Fleet::start();
    let admin = fleet.token("adm", "admin");
    // An item's node must be one configd knows.
    let _node = fleet.node("web-1", &[]);
    fleet.wait_state("web-1", "up", Duration::from_secs(10));
    let add =
        |fleet: &Fleet| fleet.cli_as(&admin, &["inventory", "add", "zone", "7", "node=web-1"]);
    let out = add(&fleet);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("zone"), "{}", stderr(&out));
    let config = fleet.path().join("configd.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[inventory.zone]\nkey = \"int\"\nattributes = { state = \"new|live\" }\n");
    std::fs::write(&config, text).unwrap();
    fleet.configd().signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_secs(5), "the reload", || {
        fleet
            .configd
            .as_ref()
            .unwrap()
            .log()
            .contains("configuration reloaded")
            .then_some(())
    });
    let out = add(&fleet);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = fleet.cli(&["query", "inventory", "-o", "json"]);
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["key"], 7);
}

#[test]
fn sighup_changes_log_levels() {
    let fleet = Fleet::start();
    let extra = "\n[log]\nlevel = \"warn\"\n\n[[check]]\nname = \"tick\"\ncommand = [\"/usr/lib/nagios/plugins/check_dummy\", \"0\", \"tick\"]\ninterval = \"1s\"\n";
    let node = fleet.node_with("lvl-1", &[], extra);
    fleet.wait_check("lvl-1", "tick", Duration::from_secs(10), "a result", |c| {
        c["state"] == "ok"
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !node.log().contains("check result"),
        "no debug lines at warn: {}",
        node.log()
    );
    let config = fleet.path().join("lvl-1.noded.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("level = \"warn\"", "level = \"debug\""),
    )
    .unwrap();
    node.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(
        Duration::from_secs(5),
        "debug lines after the reload",
        || node.log().contains("check result").then_some(()),
    );
}

#[test]
fn sigterm_lets_running_commands_finish_within_the_grace() {
    let fleet = Fleet::start();
    let op = fleet.token("ops", "operator");
    let token = fleet.token("grace-1", "node");
    let state = fleet.path().join("grace-1.state");
    let config = fleet.path().join("grace-1.noded.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"grace-1\"\nserver = \"{}\"\ntoken_file = \"{}\"\npid_file = \"{}\"\nspool_dir = \"{}\"\nshutdown_grace = \"10s\"\n\n\
             [[command]]\nname = \"slow\"\ndescription = \"sleeps, then says so\"\nargv = [\"/bin/sh\", \"-c\", \"sleep 2; echo finished\"]\ntimeout = \"30s\"\n",
            fleet.addr,
            token.display(),
            state.join("noded.pid").display(),
            state.join("spool").display()
        ),
    )
    .unwrap();
    let mut cmd = command("monit-noded", fleet.path());
    cmd.arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(std::process::Stdio::null());
    let mut node = Proc::spawn("noded-grace-1", cmd, fleet.path());
    fleet.wait_state("grace-1", "up", Duration::from_secs(10));
    let run = fleet
        .cli_cmd(&op, &["run", "slow", "--target", "node=grace-1", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    node.signal(nix::sys::signal::Signal::SIGTERM);
    let out = run.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the job finished: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("grace-1: finished"),
        "{}",
        stdout(&out)
    );
    assert!(node.wait_exit(Duration::from_secs(10)).success());
    assert!(
        node.log()
            .contains("waiting up to 10s for running commands"),
        "{}",
        node.log()
    );
}

/// A noded.toml for node `name` with `token`, its state under `state`
/// (spool_dir there, pid_file left to its default next to it).
fn noded_config(fleet: &Fleet, name: &str, token: &Path, state: &Path, extra: &str) -> PathBuf {
    let config = fleet.path().join(format!("{name}.bg.toml"));
    std::fs::write(
        &config,
        format!(
            "name = \"{name}\"\nserver = \"{}\"\ntoken_file = \"{}\"\nspool_dir = \"{}\"\n{extra}",
            fleet.addr,
            token.display(),
            state.join("spool").display()
        ),
    )
    .unwrap();
    config
}

fn noded(config: &Path, home: &Path, verb: &str) -> Output {
    command("monit-noded", home)
        .arg("--config")
        .arg(config)
        .arg(verb)
        .output()
        .unwrap()
}

#[test]
fn noded_start_returns_registered_or_fails_with_the_refusal() {
    let mut fleet = Fleet::start();
    let web1 = fleet.token("web-1", "node");
    let state = fleet.path().join("web-2");
    let _guard = PidGuard(state.join("monit-noded.pid"));

    // Another node's token: configd refuses, start says so and stops it.
    let config = noded_config(&fleet, "web-2", &web1, &state, "");
    let started = std::time::Instant::now();
    let out = noded(&config, fleet.path(), "start");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("belongs to node `web-1`") && err.contains("token create web-2"),
        "{err}"
    );
    assert_eq!(
        noded(&config, fleet.path(), "status").status.code(),
        Some(3)
    );
    assert_eq!(fleet.state_of("web-2"), None, "never registered");

    // Its own token but a certificate it does not trust: the same.
    let web2 = fleet.token("web-2", "node");
    let config = noded_config(&fleet, "web-2", &web2, &state, "");
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let started = std::time::Instant::now();
    let out = command("monit-noded", fleet.path())
        .arg("--config")
        .arg(&config)
        .args(["--fingerprint", &wrong, "start"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(stderr(&out).contains("not the pinned"), "{}", stderr(&out));
    assert_eq!(
        noded(&config, fleet.path(), "status").status.code(),
        Some(3)
    );

    // Its own token: start returns once it is registered.
    let out = noded(&config, fleet.path(), "start");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("registered as node web-2"),
        "{}",
        stdout(&out)
    );
    assert_eq!(fleet.state_of("web-2").as_deref(), Some("up"));
    let out = noded(&config, fleet.path(), "status");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("registered with configd"),
        "{}",
        stdout(&out)
    );

    // configd gone: status says it retries, with the last error.
    fleet.configd().kill9();
    wait_for(Duration::from_secs(10), "status: retrying", || {
        let out = noded(&config, fleet.path(), "status");
        (out.status.code() == Some(0) && stdout(&out).contains("not registered: retrying"))
            .then_some(())
    });
    assert!(noded(&config, fleet.path(), "stop").status.success());
}

#[test]
fn two_agents_with_their_own_spool_dirs_run_side_by_side() {
    let fleet = Fleet::start();
    let mut configs = Vec::new();
    let mut guards = Vec::new();
    for name in ["side-a", "side-b"] {
        let token = fleet.token(name, "node");
        let state = fleet.path().join(name);
        guards.push(PidGuard(state.join("monit-noded.pid")));
        let config = noded_config(&fleet, name, &token, &state, "");
        let out = noded(&config, fleet.path(), "start");
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        configs.push((config, state));
    }
    for (name, (config, state)) in ["side-a", "side-b"].iter().zip(&configs) {
        assert_eq!(fleet.state_of(name).as_deref(), Some("up"));
        assert!(alive(pid_in(&state.join("monit-noded.pid"))), "{name}");
        let out = noded(config, fleet.path(), "status");
        assert_eq!(out.status.code(), Some(0), "{name}");
        assert!(stdout(&out).contains(&format!("node {name}")));
    }
    for (config, _) in &configs {
        assert!(noded(config, fleet.path(), "stop").status.success());
    }
}

#[test]
fn check_config_checks_programs_and_the_token_file() {
    let fleet = Fleet::start();
    let token = fleet.token("cc-1", "node");
    let state = fleet.path().join("cc");
    let check =
        |name: &str, argv: &str| format!("[[check]]\nname = \"{name}\"\ncommand = [\"{argv}\"]\n");
    let config = noded_config(&fleet, "cc-1", &token, &state, &check("ok", "/bin/true"));
    let out = noded(&config, fleet.path(), "check-config");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(": ok"), "{}", stdout(&out));

    let script = fleet.path().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let cases = [
        (
            check("gone", "/usr/lib/nagios/plugins/check_nothing_here"),
            "does not exist",
        ),
        (check("plain", script.to_str().unwrap()), "not executable"),
        (
            "[[command]]\nname = \"lost\"\nargv = [\"/no/such/ops.sh\"]\n".to_string(),
            "[[command]] `lost`",
        ),
    ];
    for (extra, says) in cases {
        let config = noded_config(&fleet, "cc-1", &token, &state, &extra);
        let out = noded(&config, fleet.path(), "check-config");
        assert_eq!(out.status.code(), Some(1), "{extra}");
        let err = stderr(&out);
        assert!(err.contains(says) && err.contains("cc-1.bg.toml"), "{err}");
    }
    // A token file others can read, or one that is missing.
    let open = fleet.path().join("open.token");
    std::fs::copy(&token, &open).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = noded_config(&fleet, "cc-1", &open, &state, "");
    let err = stderr(&noded(&config, fleet.path(), "check-config"));
    assert!(err.contains("chmod 600"), "{err}");
    let config = noded_config(&fleet, "cc-1", &fleet.path().join("none.token"), &state, "");
    let out = noded(&config, fleet.path(), "check-config");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("none.token"), "{}", stderr(&out));

    // configd: its notifiers.
    let config = fleet.path().join("notify.toml");
    std::fs::write(
        &config,
        "[[notify]]\nname = \"pager\"\ncommand = [\"/no/such/pager.sh\"]\n",
    )
    .unwrap();
    let out = command("monit-configd", fleet.path())
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("[[notify]] `pager`"),
        "{}",
        stderr(&out)
    );
}
