//! `monit-tui --demo`: configd and three node agents in this process, in a
//! temp dir that is removed when the demo stops. The config files are
//! written from templates in [`demo_files`], the one place to add checks,
//! commands and inventory to the demo.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::TuiError;
use crate::auth::{write_private, Token, TokensFile};
use crate::config::{ConfigdConfig, NodedConfig};
use crate::configd::Configd;
use crate::net::dial::Endpoint;
use crate::net::proto::Role;
use crate::net::tls::{Fingerprint, Trust};

/// The demo's nodes: name and labels.
pub const NODES: &[(&str, &[(&str, &str)])] = &[
    ("web-1", &[("role", "web"), ("site", "ams")]),
    ("db-1", &[("role", "db"), ("site", "ams")]),
    ("edge-1", &[("role", "edge"), ("site", "fra")]),
];

/// The node name the demo process's own log lines carry: configd and the
/// three node agents run in it and share one log.
pub const LOG_NODE: &str = "demo-process";

/// A running demo fleet.
pub struct Demo {
    pub dir: PathBuf,
    pub server: String,
    /// An operator token for the UI.
    pub token: Token,
    /// configd's certificate, pinned by the nodes and the UI.
    pub fingerprint: Option<Fingerprint>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// The example ops pack, written into the temp dir (executable).
const OPS_SCRIPTS: &[(&str, &str)] = &[
    (
        "open-zone.sh",
        include_str!("../../config/ops/open-zone.sh"),
    ),
    (
        "change-zone-time.sh",
        include_str!("../../config/ops/change-zone-time.sh"),
    ),
    (
        "archive-zone.sh",
        include_str!("../../config/ops/archive-zone.sh"),
    ),
    (
        "restore-zone.sh",
        include_str!("../../config/ops/restore-zone.sh"),
    ),
    (
        "print-args.sh",
        include_str!("../../config/ops/print-args.sh"),
    ),
    ("flap.sh", FLAP_SCRIPT),
];

/// A check that flips between OK and CRITICAL on every run.
const FLAP_SCRIPT: &str = r#"#!/bin/sh
# flap.sh STATEFILE: OK and CRITICAL in turn (the demo's flapping check).
if [ -e "$1" ]; then
    rm -f "$1"
    echo "CRITICAL: replication lag 42s | lag=42s;10;30"
    exit 2
fi
: > "$1"
echo "OK: replication lag 0s | lag=0s;10;30"
exit 0
"#;

/// Nagios plugins the demo's checks use (Debian: monitoring-plugins-basic).
pub const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// Zones the demo puts in the inventory at start: (zone, node, state).
pub const ZONES: &[(u32, &str, &str)] = &[
    (101, "web-1", "live"),
    (102, "web-1", "live"),
    (103, "web-1", "new"),
    (201, "db-1", "live"),
    (202, "db-1", "archived"),
    (301, "edge-1", "new"),
    (302, "edge-1", "live"),
];

/// Checks per node: (name, argv, interval, max_attempts). Short intervals
/// so problems show within seconds: web-1 fails, edge-1 warns, db-1 flips
/// every run (hard each time, so it is marked flapping after a few).
fn demo_checks(dir: &Path, name: &str) -> Vec<(String, Vec<String>, &'static str, u32)> {
    let plugin = |p: &str| format!("{PLUGINS}/{p}");
    let mut checks = vec![(
        "load".to_string(),
        vec![
            plugin("check_load"),
            "-w".into(),
            "50,40,30".into(),
            "-c".into(),
            "100,80,60".into(),
        ],
        "5s",
        2,
    )];
    match name {
        "web-1" => checks.push((
            "http-5xx".into(),
            vec![
                plugin("check_dummy"),
                "2".into(),
                "12% of responses are 5xx".into(),
            ],
            "2s",
            2,
        )),
        "db-1" => checks.push((
            "replication".into(),
            vec![
                format!("{}/ops/flap.sh", dir.display()),
                format!("{}/{name}/flap.state", dir.display()),
            ],
            "2s",
            1,
        )),
        _ => checks.push((
            "cert-expiry".into(),
            vec![
                plugin("check_dummy"),
                "1".into(),
                "certificate expires in 9 days".into(),
            ],
            "3s",
            2,
        )),
    }
    checks
}

/// The ops commands, as in config/ops/commands.toml, on a sandbox zone
/// root inside the temp dir.
fn demo_commands(dir: &Path, name: &str) -> String {
    let ops = format!("{}/ops", dir.display());
    let root = format!("{}/{name}/game", dir.display());
    format!(
        r#"
[[command]]
name = "open-zone"
description = "Open a new game zone from the template (zone must be new; sets it live)"
argv = ["{ops}/open-zone.sh", "{root}", "{{zone}}", "{{date}}"]
args = [
  {{ name = "zone", type = "int", min = 1, max = 99999 }},
  {{ name = "date", type = "date", format = "%Y%m%d" }},
]
timeout = "1m"
concurrency = 1
inventory = {{ kind = "zone", key = "zone", requires = {{ state = "new" }}, on_success = {{ state = "live" }} }}

[[command]]
name = "change-zone-time"
description = "Change a zone's opening time"
argv = ["{ops}/change-zone-time.sh", "{root}", "{{zone}}", "{{date}}"]
args = [
  {{ name = "zone", type = "key", kind = "zone" }},
  {{ name = "date", type = "date", format = "%Y%m%d" }},
]
timeout = "1m"
inventory = {{ kind = "zone", key = "zone" }}

# Without the pack's role = "admin": the demo's operator may try it.
[[command]]
name = "archive-zone"
description = "Take a live zone offline and tar it into the archive (sets archived)"
argv = ["{ops}/archive-zone.sh", "{root}", "{{zone}}"]
args = [{{ name = "zone", type = "int", min = 1, max = 99999 }}]
timeout = "1m"
inventory = {{ kind = "zone", key = "zone", requires = {{ state = "live" }}, on_success = {{ state = "archived" }} }}

[[command]]
name = "restore-zone"
description = "Bring an archived zone back (sets live)"
argv = ["{ops}/restore-zone.sh", "{root}", "{{zone}}"]
args = [{{ name = "zone", type = "int", min = 1, max = 99999 }}]
timeout = "1m"
inventory = {{ kind = "zone", key = "zone", requires = {{ state = "archived" }}, on_success = {{ state = "live" }} }}

[[command]]
name = "print-args"
description = "Print the arguments it got (harmless; try it on all)"
argv = ["{ops}/print-args.sh", "{{text}}"]
args = [{{ name = "text", type = "string" }}]
timeout = "10s"
"#
    )
}

/// The config files of the demo, as (file name, text). `{data}` is the
/// temp dir, `{server}` configd's address and `fingerprint` its
/// certificate's (known once it listens).
pub fn demo_files(dir: &Path, server: &str, fingerprint: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (name, labels) in NODES {
        let mut text = format!(
            "name = \"{name}\"\nserver = \"{server}\"\ntoken_file = \"{dir}/{name}.token\"\n\
             server_fingerprint = \"{fingerprint}\"\n\
             pid_file = \"{dir}/{name}/noded.pid\"\nspool_dir = \"{dir}/{name}/spool\"\n\n[labels]\n",
            dir = dir.display()
        );
        for (k, v) in *labels {
            text.push_str(&format!("{k} = \"{v}\"\n"));
        }
        for (check, argv, interval, attempts) in demo_checks(dir, name) {
            let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
            text.push_str(&format!(
                "\n[[check]]\nname = \"{check}\"\ncommand = [{}]\ninterval = \"{interval}\"\n\
                 retry_interval = \"1s\"\nmax_attempts = {attempts}\ntimeout = \"5s\"\n",
                argv.join(", ")
            ));
        }
        text.push_str(&demo_commands(dir, name));
        files.push((format!("{name}.noded.toml"), text));
    }
    files
}

/// The executable scripts and each node's sandbox (a zone template).
fn write_sandbox(dir: &Path) -> Result<(), TuiError> {
    let ops = dir.join("ops");
    std::fs::create_dir_all(&ops).map_err(fail)?;
    for (file, text) in OPS_SCRIPTS {
        let path = ops.join(file);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o755)
            .open(&path)
            .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
        f.write_all(text.as_bytes()).map_err(fail)?;
    }
    for (name, _) in NODES {
        let template = dir.join(name).join("game").join("template");
        std::fs::create_dir_all(&template).map_err(fail)?;
        std::fs::write(template.join("server.cfg"), "port = 7000\n").map_err(fail)?;
        std::fs::create_dir_all(dir.join(name).join("game").join("archive")).map_err(fail)?;
        for (zone, node, state) in ZONES {
            if node == name && *state == "live" {
                let zdir = dir.join(name).join("game").join(format!("s{zone}"));
                std::fs::create_dir_all(&zdir).map_err(fail)?;
                std::fs::write(zdir.join("server.cfg"), "port = 7000\n").map_err(fail)?;
            }
        }
    }
    Ok(())
}

/// Puts [`ZONES`] in the inventory, as an admin would import them.
async fn seed_inventory(admin: &Endpoint) -> Result<(), TuiError> {
    use crate::net::proto::{InventoryOp, InventoryWrite, RequestBody, ResponseBody};
    let client = crate::net::client::Client::connect(admin, "monit-tui demo")
        .await
        .map_err(fail)?;
    let ops = ZONES
        .iter()
        .map(|(zone, node, state)| InventoryOp::Add {
            kind: "zone".into(),
            key: zone.to_string(),
            node: node.to_string(),
            attrs: [
                ("state".to_string(), state.to_string()),
                ("domain".to_string(), format!("s{zone}.game.example")),
            ]
            .into_iter()
            .collect(),
            replace: true,
            line: None,
        })
        .collect();
    match client
        .one(RequestBody::InventoryWrite(InventoryWrite { ops }))
        .await
        .map_err(fail)?
    {
        ResponseBody::InventoryWritten(_) => Ok(()),
        other => Err(fail(crate::net::client::unexpected(&other))),
    }
}

fn configd_text(dir: &Path) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}/configd\"\nheartbeat_interval = \"1s\"\nnode_dead_after = \"5s\"\n\n\
         [inventory.zone]\nkey = \"int\"\n\
         attributes = {{ domain = \"string\", group = \"int\", state = \"new|live|archived\", db = \"ip\", dbc = \"ip\" }}\n\
         defaults = {{ group = \"{{key}}\", state = \"new\" }}\n",
        dir.display()
    )
}

fn fail(what: impl std::fmt::Display) -> TuiError {
    TuiError::Demo(what.to_string())
}

impl Demo {
    /// Where the UI connects, with the operator token.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint_for(self.token.clone())
    }

    fn endpoint_for(&self, token: Token) -> Endpoint {
        Endpoint {
            server: self.server.clone(),
            token,
            trust: match self.fingerprint {
                Some(f) => Trust::Pinned(f),
                None => Trust::Plaintext,
            },
        }
    }

    /// Creates the temp dir, tokens and configs; starts configd and the
    /// nodes. On error, what was started is stopped and the dir removed.
    pub async fn start() -> Result<Demo, TuiError> {
        let dir = std::env::temp_dir().join(format!(
            "monit-demo-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(dir.join("configd"))
            .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
        let mut demo = Demo {
            dir,
            server: String::new(),
            token: Token::generate(),
            fingerprint: None,
            shutdown: CancellationToken::new(),
            tasks: Vec::new(),
        };
        match demo.launch().await {
            Ok(()) => Ok(demo),
            Err(e) => {
                demo.stop().await;
                Err(e)
            }
        }
    }

    async fn launch(&mut self) -> Result<(), TuiError> {
        let dir = self.dir.clone();
        let configd_path = dir.join("configd.toml");
        let text = configd_text(&dir);
        std::fs::write(&configd_path, &text).map_err(fail)?;
        let config = ConfigdConfig::from_str(&configd_path, &text).map_err(fail)?;
        let mut tokens = TokensFile::load(&config.tokens_file).map_err(fail)?;
        self.token = tokens.add("demo-operator", Role::Operator).map_err(fail)?;
        let admin = tokens.add("demo-admin", Role::Admin).map_err(fail)?;
        for (name, _) in NODES {
            let token = tokens.add(name, Role::Node).map_err(fail)?;
            let file = dir.join(format!("{name}.token"));
            write_private(&file, &format!("{token}\n"))
                .map_err(|e| fail(format!("cannot write {}: {e}", file.display())))?;
        }
        tokens.save().map_err(fail)?;
        let configd = Configd::bind(config, self.shutdown.clone())
            .await
            .map_err(fail)?;
        self.server = configd.local_addr().map_err(fail)?.to_string();
        let fingerprint = configd
            .shared
            .fingerprint()
            .ok_or_else(|| fail("the demo's configd has no TLS certificate"))?;
        self.fingerprint = Some(fingerprint);
        let shared = configd.shared.clone();
        self.tasks.push(tokio::spawn(configd.serve(None)));
        write_sandbox(&dir)?;
        for (file, text) in demo_files(&dir, &self.server, &fingerprint.to_string()) {
            let path = dir.join(&file);
            std::fs::write(&path, &text).map_err(fail)?;
            let config = NodedConfig::from_str(&path, &text).map_err(fail)?;
            let stop = self.shutdown.clone();
            // Its lines are its own in the Logs view (see logs::layer).
            let span = tracing::info_span!("node", node = %config.name);
            self.tasks
                .push(tokio::spawn(tracing::Instrument::instrument(
                    async move {
                        if let Err(e) = crate::noded::run(config, stop).await {
                            tracing::error!(error = %e, "demo node stopped");
                        }
                    },
                    span,
                )));
        }
        // configd takes items only on nodes it knows: seed once they registered.
        let known = || {
            NODES
                .iter()
                .all(|(n, _)| shared.registry().get(n).is_some())
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !known() {
            if tokio::time::Instant::now() > deadline {
                return Err(fail("the demo's nodes did not register within 10s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        seed_inventory(&self.endpoint_for(admin)).await
    }

    /// Stops configd and the nodes (bounded wait) and removes the dir.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
