//! `monit-tui` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The operator's terminal UI.
#[derive(Debug, Parser)]
#[command(
    name = "monit-tui",
    version,
    about = "The monit operator's terminal UI",
    after_help = "Example: monit-tui --demo"
)]
pub struct TuiCli {
    /// Start configd and three nodes in-process and open the UI on them
    #[arg(long)]
    pub demo: bool,
    /// configd address (default: client.toml, then 127.0.0.1:7400)
    #[arg(long, env = "MONIT_SERVER", value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// File holding the token (ID.SECRET), mode 0600. $MONIT_TOKEN may hold the token itself
    #[arg(long, env = "MONIT_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Pin configd's certificate (sha256:..., from `monit-configd fingerprint`)
    #[arg(long, env = "MONIT_FINGERPRINT", value_name = "SHA256")]
    pub fingerprint: Option<String>,
    #[command(subcommand)]
    pub command: Option<TuiCommand>,
}

#[derive(Debug, Subcommand)]
pub enum TuiCommand {
    /// Print a shell completion script (bash, zsh, fish)
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
}
