//! `monit-cli` command line (clap). One definition feeds `--help`, the man
//! page and completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "monit-cli",
    version,
    about = "Query and operate a monit fleet from scripts and shells",
    long_about = "Query and operate a monit fleet. Talks to monit-configd; server and token \
                  come from the flags, the environment, or client.toml in the user config \
                  directory (~/.config/monit/client.toml).",
    after_help = "EXIT STATUS: 0 ok, 1 the operation failed, 2 usage error, 3 cannot connect or not authorised.\n\
                  Example: monit-cli query nodes --filter state=down -o json"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// configd address (default: client.toml, then 127.0.0.1:7400)
    #[arg(long, global = true, env = "MONIT_SERVER", value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// File holding the token (ID.SECRET), mode 0600. $MONIT_TOKEN may hold the token itself
    #[arg(long, global = true, env = "MONIT_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Output format
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the fleet's state
    #[command(subcommand)]
    Query(Query),
    /// Change the inventory (admin): add, update, delete, import, export
    #[command(subcommand)]
    Inventory(super::ops::InventoryCmd),
    /// Run an allow-listed command on nodes (operator), output streamed live
    Run(super::ops::RunArgs),
    /// Jobs: `job show ID`
    #[command(subcommand)]
    Job(super::ops::JobCmd),
}

#[derive(Debug, Subcommand)]
pub enum Query {
    /// List nodes: name, state (up, down, pending), address, last seen, labels
    Nodes {
        /// Keep nodes matching EXPR: key=value, key!=value, key~regex, labels.K=V; repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
    /// List inventory items: kind, key, node, attributes (`state=new` matches attrs)
    Inventory {
        /// key=value, key!=value, key~regex; a bare name matches attrs; repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
    /// List jobs: id, who, command, targets and their states
    Jobs {
        /// key=value, key!=value, key~regex (e.g. command=open-zone, state=failed); repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
}
