//! Test harness: real binaries on 127.0.0.1, ports chosen at run time,
//! temp dirs, children killed on drop (their stderr shown when a test
//! fails), every wait bounded.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod bench;
pub mod faults;
pub mod ops_pack;
pub mod soak;
pub mod transfer;
pub mod web;
pub mod zones;

use std::io::{BufRead, BufReader};
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
        let mut fleet = Self::without_configd(config_extra);
        fleet.start_configd("127.0.0.1:0");
        fleet
    }

    /// The temp dir, data dir and viewer token, but no configd yet (for
    /// tests that run configd in-process: see `transfer::World`).
    pub fn without_configd(config_extra: &str) -> Fleet {
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
        fleet
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_config(&self, listen: &str) -> PathBuf {
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
        let addr = first_line_addr(&mut proc);
        let file_addr = std::fs::read_to_string(self.data_dir.join("configd.addr")).unwrap();
        assert_eq!(file_addr.trim(), addr, "configd.addr agrees with stdout");
        self.addr = addr;
        self.configd = Some(proc);
    }

    pub fn configd(&mut self) -> &mut Proc {
        self.configd.as_mut().unwrap()
    }

    /// configd's certificate fingerprint (it made its certificate at start).
    pub fn fingerprint(&self) -> monit::net::tls::Fingerprint {
        monit::net::tls::Fingerprint::of_pem_file(&self.data_dir.join("tls/cert.pem")).unwrap()
    }

    /// Where a client using `token` connects, configd's certificate pinned.
    pub fn endpoint(&self, token: &monit::auth::Token) -> monit::net::dial::Endpoint {
        monit::net::dial::Endpoint {
            server: self.addr.clone(),
            token: token.clone(),
            trust: monit::net::tls::Trust::Pinned(self.fingerprint()),
        }
    }

    /// A TLS stream to configd, its certificate pinned: for tests that
    /// speak the protocol by hand.
    pub async fn tls(&self) -> monit::net::Stream {
        tls_to(&self.addr, self.fingerprint()).await
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

    /// Starts a node agent whose noded.toml ends with `extra` (e.g.
    /// `[[check]]` sections).
    pub fn node_with(&self, name: &str, labels: &[(&str, &str)], extra: &str) -> Proc {
        let token = self.node_token(name);
        self.node_custom(name, &token, labels, extra, &[])
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
        self.node_top(name, token, "", labels, extra, env)
    }

    /// The path of node `name`'s noded.toml (written when it starts).
    pub fn node_config(&self, name: &str) -> PathBuf {
        self.path().join(format!("{name}.noded.toml"))
    }

    /// Like `node_custom`, with `top` (top-level keys such as
    /// `accept_checks = true`) written before `[labels]`.
    pub fn node_top(
        &self,
        name: &str,
        token: &Path,
        top: &str,
        labels: &[(&str, &str)],
        extra: &str,
        env: &[(&str, &str)],
    ) -> Proc {
        self.node_via(name, token, &self.addr, top, labels, extra, env)
    }

    /// Like `node_top`, dialling `server` (e.g. a fault proxy) instead of
    /// configd itself.
    #[allow(clippy::too_many_arguments)]
    pub fn node_via(
        &self,
        name: &str,
        token: &Path,
        server: &str,
        top: &str,
        labels: &[(&str, &str)],
        extra: &str,
        env: &[(&str, &str)],
    ) -> Proc {
        let config = self.node_config(name);
        let state = self.path().join(format!("{name}.state"));
        let mut text = format!(
            "{top}name = \"{name}\"\nserver = \"{}\"\ntoken_file = \"{}\"\npid_file = \"{}\"\nspool_dir = \"{}\"\n[labels]\n",
            server,
            token.display(),
            state.join("noded.pid").display(),
            state.join("spool").display()
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

    /// `monit-cli ARGS` against this fleet with the token in `token`.
    pub fn cli_as(&self, token: &Path, args: &[&str]) -> Output {
        self.cli_cmd(token, args).output().unwrap()
    }

    /// The `monit-cli ARGS` command with the token in `token`, not started.
    pub fn cli_cmd(&self, token: &Path, args: &[&str]) -> Command {
        let mut c = command("monit-cli", self.path());
        c.arg("--server")
            .arg(&self.addr)
            .arg("--token-file")
            .arg(token)
            .args(args);
        c
    }

    /// `monit-cli ARGS` against this fleet with the viewer token.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(&self.viewer, args)
    }

    /// `monit-cli query checks -o json`, parsed.
    pub fn checks(&self) -> Vec<serde_json::Value> {
        let out = self.cli(&["query", "checks", "-o", "json"]);
        assert!(
            out.status.success(),
            "query checks failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Check `node`/`name` as `query checks -o json` shows it.
    pub fn check(&self, node: &str, name: &str) -> Option<serde_json::Value> {
        self.checks()
            .into_iter()
            .find(|c| c["node"] == node && c["name"] == name)
    }

    /// Waits until check `node`/`name` satisfies `pred`; returns it.
    pub fn wait_check(
        &self,
        node: &str,
        name: &str,
        limit: Duration,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        wait_for(limit, &format!("{node}/{name}: {what}"), || {
            self.check(node, name).filter(|c| pred(c))
        })
    }

    /// `monit-cli query events -o json` with `filters`, parsed.
    pub fn events(&self, filters: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec!["query", "events", "-o", "json", "-n", "100000"];
        for f in filters {
            args.push("--filter");
            args.push(f);
        }
        let out = self.cli(&args);
        assert!(
            out.status.success(),
            "query events failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `monit-cli ARGS` as a running process, stdout piped (for `logs -f`).
    pub fn cli_spawn(&self, name: &str, args: &[&str]) -> Proc {
        self.cli_spawn_as(&self.viewer, name, args)
    }

    /// `cli_spawn` with the token in `token`.
    pub fn cli_spawn_as(&self, token: &Path, name: &str, args: &[&str]) -> Proc {
        let mut cmd = command("monit-cli", self.path());
        cmd.arg("--server")
            .arg(&self.addr)
            .arg("--token-file")
            .arg(token)
            .args(args)
            .stdout(Stdio::piped());
        Proc::spawn(name, cmd, self.path())
    }

    /// `monit-configd --config CONFIG` for this fleet, not started.
    pub fn configd_cmd(&self) -> Command {
        let mut c = command("monit-configd", self.path());
        c.arg("--config").arg(self.path().join("configd.toml"));
        c
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
/// The address in a started configd's first stdout line (`listening on
/// ADDR`), waited for up to 20 s.
pub fn first_line_addr(proc: &mut Proc) -> String {
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
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}; stderr:\n{}", proc.log()))
        .to_string()
}

/// A TCP connection to `addr` from the loopback address `src` (all of
/// 127/8 is loopback), for tests of per-address limits.
pub async fn tcp_from(src: &str, addr: &str) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{src}:0").parse().unwrap())?;
    socket.connect(addr.parse().unwrap()).await
}

/// A connection from `src` that sends a TLS ClientHello (saying `alpn`)
/// and then nothing: it holds a handshake slot until the timeout.
pub async fn stalled_tls_hello(src: &str, addr: &str, alpn: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut config = rustls::ClientConfig::builder_with_provider(monit::net::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut hello = Vec::new();
    tls.write_tls(&mut hello).unwrap();
    let mut tcp = tcp_from(src, addr).await.unwrap();
    tcp.write_all(&hello).await.unwrap();
    tcp
}

/// `tls_to` over a connection from the loopback address `src`.
pub async fn tls_from(
    src: &str,
    addr: &str,
    fingerprint: monit::net::tls::Fingerprint,
) -> monit::net::Stream {
    let tcp = tcp_from(src, addr).await.unwrap();
    let trust = monit::net::tls::Trust::Pinned(fingerprint);
    match monit::net::tls::secure(tcp, addr, &trust, monit::net::tls::ALPN_CLIENT).await {
        Ok(s) => s.stream,
        Err(e) => panic!("TLS to {addr} from {src}: {e}"),
    }
}

/// A TLS stream to `addr`, trusting `fingerprint`.
pub async fn tls_to(addr: &str, fingerprint: monit::net::tls::Fingerprint) -> monit::net::Stream {
    let trust = monit::net::tls::Trust::Pinned(fingerprint);
    match monit::net::dial::open(addr, &trust, monit::net::proto::PeerKind::Client).await {
        Ok((stream, _)) => stream,
        Err(e) => panic!("TLS to {addr}: {e}"),
    }
}

pub fn write_private(path: &Path, text: &str) {
    monit::auth::write_private(path, text).unwrap();
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
