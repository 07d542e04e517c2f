//! `monit-noded` command line and what each subcommand does.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{NodedConfig, NodedOverrides};
use crate::daemon::command::{checked_file, completions, execute, Daemon, DaemonCommand};
use crate::daemon::control::{absolute, run_args, Control, Ready};
use crate::logging;

#[derive(Debug, Parser)]
#[command(
    name = "monit-noded",
    version,
    about = "The monit node agent: dials configd, registers, heartbeats, and reconnects by itself",
    after_help = "Example: monit-noded run --config /etc/monit/noded.toml"
)]
pub struct NodedCli {
    #[command(flatten)]
    pub opts: NodedOpts,
    #[command(subcommand)]
    pub command: DaemonCommand,
}

#[derive(Debug, Args)]
pub struct NodedOpts {
    /// Config file (default: $MONIT_CONFIG, ~/.config/monit/noded.toml, /etc/monit/noded.toml)
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// configd address, overriding the file
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// Node name, overriding the file (default: the hostname); must match the token
    #[arg(long, global = true)]
    pub name: Option<String>,
    /// Node token file (mode 0600), overriding the file
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Pin configd's certificate (sha256:..., from `monit-configd fingerprint`), overriding server_fingerprint
    #[arg(long, global = true, value_name = "SHA256")]
    pub fingerprint: Option<String>,
}

impl NodedOpts {
    fn overrides(&self) -> NodedOverrides {
        NodedOverrides {
            config: self.config.clone(),
            server: self.server.clone(),
            name: self.name.clone(),
            token_file: self.token_file.clone(),
            fingerprint: self.fingerprint.clone(),
        }
    }
}

/// Runs `monit-noded` with parsed arguments; the exit code on success.
pub fn main(cli: NodedCli) -> anyhow::Result<u8> {
    if completions(&cli.command, <NodedCli as clap::CommandFactory>::command())? {
        return Ok(0);
    }
    let overrides = cli.opts.overrides();
    let config = NodedConfig::load(&overrides)?;
    execute(cli.command, NodedDaemon { config, overrides })
}

struct NodedDaemon {
    config: NodedConfig,
    overrides: NodedOverrides,
}

impl Daemon for NodedDaemon {
    fn control(&self) -> Control {
        let (opts, config) = (&self.overrides, &self.config);
        let run_args = run_args([
            ("--config", config.source.as_deref().map(absolute)),
            ("--server", opts.server.as_ref().map(Into::into)),
            ("--name", opts.name.as_ref().map(Into::into)),
            ("--token-file", opts.token_file.as_deref().map(absolute)),
            ("--fingerprint", opts.fingerprint.as_ref().map(Into::into)),
        ]);
        let dir = config
            .pid_file
            .parent()
            .map(|d| d.to_path_buf())
            .unwrap_or_default();
        let standing =
            super::standing::read(&config.pid_file).unwrap_or_else(|| "no state yet".into());
        Control {
            name: "monit-noded",
            pid_file: config.pid_file.clone(),
            log_file: dir.join("monit-noded.log"),
            run_args,
            detail: format!("node {}, server {}; {standing}", config.name, config.server),
            ready: Ready::Registered,
        }
    }

    fn serve(self, mode: logging::Mode) -> anyhow::Result<()> {
        let NodedDaemon { config, overrides } = self;
        let log_guard = logging::init_sinks(mode, &config.log)?;
        let _pidfile = crate::daemon::pidfile::PidFile::acquire(&config.pid_file)?;
        super::standing::install(super::standing::file_for(&config.pid_file));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(async {
            let shutdown = CancellationToken::new();
            crate::daemon::stop_on_signals(shutdown.clone()).context("cannot handle signals")?;
            super::markers::on_sigusr1().context("cannot handle SIGUSR1")?;
            let (tx, rx) = watch::channel(Arc::new(config));
            reload_on_hup(tx, overrides, log_guard.levels(), shutdown.clone())?;
            let ran = super::run_with(rx, super::Uplink::new(), shutdown).await;
            super::standing::clear();
            ran?;
            Ok(())
        })
    }

    fn check_config(&self, show_matches: bool) -> anyhow::Result<String> {
        if show_matches {
            anyhow::bail!(
                "--show-matches is for monit-configd: central checks are declared in configd.toml"
            );
        }
        let c = &self.config;
        let problems = crate::config::preflight::noded_problems(c);
        let source = checked_file(c.source.as_ref(), "noded.toml", problems)?;
        Ok(format!(
            "{}: ok (node {}, server {}, {} check(s) and {} command(s) runnable, token file private)",
            source,
            c.name,
            c.server,
            c.checks.len(),
            c.commands.len()
        ))
    }
}

/// SIGHUP: re-read the file; a config that fails to load is logged and
/// the running one kept. The node's name cannot change without a restart.
fn reload_on_hup(
    tx: watch::Sender<Arc<NodedConfig>>,
    overrides: NodedOverrides,
    levels: crate::logging::LogLevels,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                got = hup.recv() => if got.is_none() { return },
            }
            crate::daemon::systemd::reloading();
            match NodedConfig::load(&overrides) {
                Ok(mut new) => {
                    let old = tx.borrow().clone();
                    if new.name != old.name {
                        tracing::warn!(
                            "reload: `name` changed to `{}`; the node keeps its name `{}` until a restart",
                            new.name,
                            old.name
                        );
                        new.name = old.name.clone();
                    }
                    levels.apply(&new.log);
                    tx.send_replace(Arc::new(new));
                    tracing::info!("SIGHUP: configuration reloaded");
                }
                Err(e) => tracing::error!(
                    "SIGHUP: reload failed, keeping the previous configuration: {e}"
                ),
            }
            crate::daemon::systemd::ready("running");
        }
    });
    Ok(())
}
