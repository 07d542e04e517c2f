//! Test harness: real binaries on 127.0.0.1, ports chosen at run time,
//! temp dirs, children killed on drop (their stderr shown when a test
//! fails), every wait bounded.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin(name: &str) -> PathBuf {
    match name {
        "monit-configd" => PathBuf::from(env!("CARGO_BIN_EXE_monit-configd")),
        "monit-noded" => PathBuf::from(env!("CARGO_BIN_EXE_monit-noded")),
        "monit-cli" => PathBuf::from(env!("CARGO_BIN_EXE_monit-cli")),
        "monit-tui" => PathBuf::from(env!("CARGO_BIN_EXE_monit-tui")),
        other => panic!("no binary {other}"),
    }
}

/// A command with no monit settings leaking in from the environment.
pub fn command(name: &str, home: &Path) -> Command {
    let mut c = Command::new(bin(name));
    for var in [
        "MONIT_CONFIG",
        "MONIT_SERVER",
        "MONIT_TOKEN",
        "MONIT_TOKEN_FILE",
        "MONIT_LOG",
        "RUST_LOG",
    ] {
        c.env_remove(var);
    }
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"));
    c.stdin(Stdio::null());
    c
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process, killed (SIGKILL) on drop; its stderr goes to a file
/// that is printed if the test is failing.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub stderr: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> Proc {
        let stderr = dir.join(format!("{name}.stderr"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .unwrap();
        cmd.stderr(file);
        if cmd.get_program().is_empty() {
            panic!("empty command");
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_string(),
            child,
            stderr,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    /// kill -9 and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        wait_for(limit, &format!("{} to exit", self.name), || {
            self.child.try_wait().unwrap()
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("----- {} stderr -----\n{}", self.name, self.log());
        }
    }
}

/// One test's world: a temp dir with a configd and its nodes.
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub configd: Option<Proc>,
    pub addr: String,
    pub viewer: PathBuf,
    pub config_extra: String,
}

impl Fleet {
    /// Starts configd on 127.0.0.1:0 with quick heartbeats, plus a viewer token.
    pub fn start() -> Fleet {
        Self::start_with("heartbeat_interval = \"200ms\"\nnode_dead_after = \"1s\"\n")
    }

    pub fn start_with(config_extra: &str) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let mut fleet = Fleet {
            viewer: PathBuf::new(),
            data_dir,
            configd: None,
            addr: String::new(),
            config_extra: config_extra.to_string(),
            dir,
        };
        fleet.viewer = fleet.token("viewer", "viewer");
        fleet.start_configd("127.0.0.1:0");
        fleet
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write_config(&self, listen: &str) -> PathBuf {
        let path = self.path().join("configd.toml");
        std::fs::write(
            &path,
            format!(
                "listen = \"{listen}\"\ndata_dir = \"{}\"\n{}",
                self.data_dir.display(),
                self.config_extra
            ),
        )
        .unwrap();
        path
    }

    /// Starts configd (again) and waits for its `listening on` line.
    pub fn start_configd(&mut self, listen: &str) {
        let config = self.write_config(listen);
        let mut cmd = command("monit-configd", self.path());
        cmd.arg("--config")
            .arg(&config)
            .arg("run")
            .stdout(Stdio::piped());
        let mut proc = Proc::spawn("monit-configd", cmd, self.path());
        let stdout = proc.child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => panic!("configd did not print its address; stderr:\n{}", proc.log()),
        };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}; stderr:\n{}", proc.log()))
            .to_string();
        let file_addr = std::fs::read_to_string(self.data_dir.join("configd.addr")).unwrap();
        assert_eq!(file_addr.trim(), addr, "configd.addr agrees with stdout");
        self.addr = addr;
        self.configd = Some(proc);
    }

    pub fn configd(&mut self) -> &mut Proc {
        self.configd.as_mut().unwrap()
    }

    /// Creates a token with `monit-configd token create` into a 0600 file.
    pub fn token(&self, name: &str, role: &str) -> PathBuf {
        let out = self.path().join(format!("{name}.{role}.token"));
        let result = command("monit-configd", self.path())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["token", "create", name, "--role", role, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            result.status.success(),
            "token create: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        let printed = String::from_utf8(result.stdout).unwrap();
        assert_eq!(
            printed.trim(),
            std::fs::read_to_string(&out).unwrap().trim()
        );
        out
    }

    /// Starts a node agent named `name` with `labels` and its own token.
    pub fn node(&self, name: &str, labels: &[(&str, &str)]) -> Proc {
        let token = self.path().join(format!("{name}.node.token"));
        if !token.exists() {
            self.token(name, "node");
        }
        self.node_with_token(name, &token, labels)
    }

    pub fn node_with_token(&self, name: &str, token: &Path, labels: &[(&str, &str)]) -> Proc {
        self.node_custom(name, token, labels, "", &[])
    }

    /// Like `node_with_token`, with `extra` appended to noded.toml (after
    /// `[labels]`: start it with a table header such as `[log]`) and
    /// `env` set for the process.
    pub fn node_custom(
        &self,
        name: &str,
        token: &Path,
        labels: &[(&str, &str)],
        extra: &str,
        env: &[(&str, &str)],
    ) -> Proc {
        let config = self.path().join(format!("{name}.noded.toml"));
        let mut text = format!(
            "name = \"{name}\"\nserver = \"{}\"\ntoken_file = \"{}\"\nspool_dir = \"{}\"\n[labels]\n",
            self.addr,
            token.display(),
            self.path().join(format!("{name}.spool")).display()
        );
        for (k, v) in labels {
            text.push_str(&format!("{k} = \"{v}\"\n"));
        }
        text.push_str(extra);
        std::fs::write(&config, text).unwrap();
        let mut cmd = command("monit-noded", self.path());
        cmd.envs(env.iter().copied());
        cmd.arg("--config")
            .arg(&config)
            .arg("run")
            .stdout(Stdio::null());
        Proc::spawn(&format!("noded-{name}"), cmd, self.path())
    }

    /// `monit-cli ARGS` against this fleet with the viewer token.
    pub fn cli(&self, args: &[&str]) -> Output {
        command("monit-cli", self.path())
            .arg("--server")
            .arg(&self.addr)
            .arg("--token-file")
            .arg(&self.viewer)
            .args(args)
            .output()
            .unwrap()
    }

    /// `monit-cli ARGS` as a running process, stdout piped (for `logs -f`).
    pub fn cli_spawn(&self, name: &str, args: &[&str]) -> Proc {
        let mut cmd = command("monit-cli", self.path());
        cmd.arg("--server")
            .arg(&self.addr)
            .arg("--token-file")
            .arg(&self.viewer)
            .args(args)
            .stdout(Stdio::piped());
        Proc::spawn(name, cmd, self.path())
    }

    /// The token file of node `name`, created on first use.
    pub fn node_token(&self, name: &str) -> PathBuf {
        let token = self.path().join(format!("{name}.node.token"));
        if !token.exists() {
            self.token(name, "node");
        }
        token
    }

    /// `monit-cli query nodes -o json`, parsed.
    pub fn nodes(&self) -> Vec<serde_json::Value> {
        let out = self.cli(&["query", "nodes", "-o", "json"]);
        assert!(
            out.status.success(),
            "query nodes failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The state of node `name`, if listed.
    pub fn state_of(&self, name: &str) -> Option<String> {
        self.nodes()
            .iter()
            .find(|n| n["name"] == name)
            .map(|n| n["state"].as_str().unwrap().to_string())
    }

    /// Waits until node `name` is in `state`.
    pub fn wait_state(&self, name: &str, state: &str, limit: Duration) {
        wait_for(limit, &format!("{name} to be {state}"), || {
            (self.state_of(name).as_deref() == Some(state)).then_some(())
        });
    }
}

/// Writes `text` to `path` with mode 0600.
pub fn write_private(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
