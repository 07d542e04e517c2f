//! `monit-configd` command line and what each subcommand does.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::auth::TokensFile;
use crate::cli::output::{write_json, Format, Table};
use crate::config::{ConfigdConfig, ConfigdOverrides};
use crate::logging;
use crate::net::proto::Role;

#[derive(Debug, Parser)]
#[command(
    name = "monit-configd",
    version,
    about = "The monit config server: the hub that nodes and operators connect to",
    after_help = "Example: monit-configd token create web-1 --role node --out /etc/monit/node.token && monit-configd run"
)]
pub struct ConfigdCli {
    #[command(flatten)]
    pub opts: ConfigdOpts,
    #[command(subcommand)]
    pub command: ConfigdCommand,
}

#[derive(Debug, Args)]
pub struct ConfigdOpts {
    /// Config file (default: $MONIT_CONFIG, ~/.config/monit/configd.toml, /etc/monit/configd.toml)
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, overriding the file (port 0 picks a free port)
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Data directory, overriding the file
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigdCommand {
    /// Serve in the foreground, logging as configured
    Run,
    /// Serve in the foreground, logging at debug level in colour
    Debug,
    /// Manage the tokens nodes and operators authenticate with
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print ID.SECRET once (for role node, NAME is the node's name)
    Create {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Also write the token to FILE, created mode 0600
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List tokens (never their secrets)
    List {
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Revoke a token by ID; connections with it are refused from then on
    Revoke { id: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

impl ConfigdOpts {
    fn overrides(&self) -> ConfigdOverrides {
        ConfigdOverrides {
            config: self.config.clone(),
            listen: self.listen,
            data_dir: self.data_dir.clone(),
        }
    }
}

/// Runs `monit-configd` with parsed arguments.
pub fn main(cli: ConfigdCli) -> anyhow::Result<()> {
    let config = ConfigdConfig::load(&cli.opts.overrides())?;
    match cli.command {
        ConfigdCommand::Run => serve(config, logging::Mode::Run),
        ConfigdCommand::Debug => serve(config, logging::Mode::Debug),
        ConfigdCommand::Token(t) => token(&config, t),
    }
}

fn serve(config: ConfigdConfig, mode: logging::Mode) -> anyhow::Result<()> {
    logging::init(mode, config.log_level);
    let nofile = crate::daemon::raise_nofile_limit();
    tracing::debug!(nofile, "open-file limit");
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        crate::daemon::stop_on_signals(shutdown.clone()).context("cannot handle signals")?;
        super::run(config, shutdown).await?;
        Ok(())
    })
}

fn token(config: &ConfigdConfig, cmd: TokenCommand) -> anyhow::Result<()> {
    let path = &config.tokens_file;
    match cmd {
        TokenCommand::Create { name, role, out } => {
            let token = TokensFile::edit(path, |f| f.add(&name, role))?;
            if let Some(out) = out {
                write_private(&out, &format!("{token}\n"))?;
                eprintln!("wrote the token to {} (mode 0600)", out.display());
            }
            println!("{token}");
            eprintln!(
                "token {} for {role} `{name}` created; the secret is shown only now",
                token.id
            );
        }
        TokenCommand::List { output } => {
            let file = TokensFile::load(path)?;
            #[derive(serde::Serialize)]
            struct Row<'a> {
                id: &'a str,
                name: &'a str,
                role: Role,
                created: &'a str,
                revoked: Option<&'a str>,
            }
            let rows: Vec<Row> = file
                .entries()
                .iter()
                .map(|e| Row {
                    id: &e.id,
                    name: &e.name,
                    role: e.role,
                    created: &e.created,
                    revoked: e.revoked.as_deref(),
                })
                .collect();
            let mut out = std::io::stdout().lock();
            match output {
                Format::Table | Format::Csv => {
                    let mut t = Table::new(vec!["ID", "NAME", "ROLE", "CREATED", "REVOKED"]);
                    for r in &rows {
                        t.row(vec![
                            r.id.into(),
                            r.name.into(),
                            r.role.to_string(),
                            r.created.into(),
                            r.revoked.unwrap_or("-").into(),
                        ]);
                    }
                    out.write_all(t.render(usize::MAX).as_bytes())?;
                }
                f => write_json(&mut out, f, &rows)?,
            }
        }
        TokenCommand::Revoke { id } => {
            let (name, role) =
                TokensFile::edit(path, |f| f.revoke(&id).map(|e| (e.name.clone(), e.role)))?;
            println!("revoked token {id} ({role} `{name}`)");
        }
    }
    Ok(())
}

/// Creates (or replaces) `path` with mode 0600 and writes `text`.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // An existing file keeps its mode on open: make it private.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}
