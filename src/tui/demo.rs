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
use crate::auth::{Token, TokensFile};
use crate::config::{ConfigdConfig, NodedConfig};
use crate::configd::Configd;
use crate::net::proto::Role;

/// The demo's nodes: name and labels.
pub const NODES: &[(&str, &[(&str, &str)])] = &[
    ("web-1", &[("role", "web"), ("site", "ams")]),
    ("db-1", &[("role", "db"), ("site", "ams")]),
    ("edge-1", &[("role", "edge"), ("site", "fra")]),
];

/// A running demo fleet.
pub struct Demo {
    pub dir: PathBuf,
    pub server: String,
    /// An operator token for the UI.
    pub token: Token,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// The config files of the demo, as (file name, text). `{data}` is the
/// temp dir, `{server}` configd's address (known once it listens).
pub fn demo_files(dir: &Path, server: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (name, labels) in NODES {
        let mut text = format!(
            "name = \"{name}\"\nserver = \"{server}\"\ntoken_file = \"{dir}/{name}.token\"\n\
             pid_file = \"{dir}/{name}/noded.pid\"\nspool_dir = \"{dir}/{name}/spool\"\n\n[labels]\n",
            dir = dir.display()
        );
        for (k, v) in *labels {
            text.push_str(&format!("{k} = \"{v}\"\n"));
        }
        files.push((format!("{name}.noded.toml"), text));
    }
    files
}

fn configd_text(dir: &Path) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}/configd\"\nheartbeat_interval = \"1s\"\nnode_dead_after = \"5s\"\n",
        dir.display()
    )
}

fn fail(what: impl std::fmt::Display) -> TuiError {
    TuiError::Demo(what.to_string())
}

fn write_private(path: &Path, text: &str) -> Result<(), TuiError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))
}

impl Demo {
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
        for (name, _) in NODES {
            let token = tokens.add(name, Role::Node).map_err(fail)?;
            write_private(&dir.join(format!("{name}.token")), &format!("{token}\n"))?;
        }
        tokens.save().map_err(fail)?;
        let configd = Configd::bind(config, self.shutdown.clone())
            .await
            .map_err(fail)?;
        self.server = configd.local_addr().map_err(fail)?.to_string();
        self.tasks.push(tokio::spawn(configd.serve(None)));
        for (file, text) in demo_files(&dir, &self.server) {
            let path = dir.join(&file);
            std::fs::write(&path, &text).map_err(fail)?;
            let config = NodedConfig::from_str(&path, &text).map_err(fail)?;
            let stop = self.shutdown.clone();
            self.tasks.push(tokio::spawn(async move {
                if let Err(e) = crate::noded::run(config, stop).await {
                    tracing::error!(error = %e, "demo node stopped");
                }
            }));
        }
        Ok(())
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
