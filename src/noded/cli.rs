//! `monit-noded` command line and what each subcommand does.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{NodedConfig, NodedOverrides};
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
    pub command: NodedCommand,
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
}

#[derive(Debug, Subcommand)]
pub enum NodedCommand {
    /// Run in the foreground, logging as configured
    Run,
    /// Run in the foreground, logging at debug level in colour
    Debug,
}

/// Runs `monit-noded` with parsed arguments.
pub fn main(cli: NodedCli) -> anyhow::Result<()> {
    let config = NodedConfig::load(&NodedOverrides {
        config: cli.opts.config,
        server: cli.opts.server,
        name: cli.opts.name,
        token_file: cli.opts.token_file,
    })?;
    let mode = match cli.command {
        NodedCommand::Run => logging::Mode::Run,
        NodedCommand::Debug => logging::Mode::Debug,
    };
    let _log = logging::init_sinks(mode, &config.log)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        crate::daemon::stop_on_signals(shutdown.clone()).context("cannot handle signals")?;
        super::markers::on_sigusr1().context("cannot handle SIGUSR1")?;
        super::run(config, shutdown).await?;
        Ok(())
    })
}
