//! `monit-configd` command line and what each subcommand does.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::auth::TokensFile;
use crate::cli::output::{closed_pipe_is_ok, print_line, write_answer, write_rows, Format, Table};
use crate::config::{ConfigdConfig, ConfigdOverrides};
use crate::daemon::command::{checked_file, completions, execute, Daemon, DaemonCommand};
use crate::daemon::control::{absolute, run_args, Control, Ready};
use crate::filter::Filter;
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
    #[command(flatten)]
    Daemon(DaemonCommand),
    /// Manage the tokens nodes and operators authenticate with
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the SHA-256 fingerprint of configd's TLS certificate (created if it has none yet), for server_fingerprint / --fingerprint
    Fingerprint,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print ID.SECRET once (for role node, NAME is the node's name)
    Create {
        name: String,
        #[arg(long, value_parser = str::parse::<Role>)]
        role: Role,
        /// Also write the token to FILE, created mode 0600
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// json, jsonl or csv: id, name, role, created, token, file
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// List tokens (never their secrets)
    List {
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
        output: Format,
        /// Keep tokens matching EXPR: key=value, key!=value, key~regex on id, name,
        /// role, created, revoked (e.g. role=node, revoked= for live ones); repeat to AND
        #[arg(short = 'f', long = "filter", value_name = "EXPR", value_parser = parse_token_filter)]
        filter: Vec<Filter>,
    },
    /// Revoke a token by ID; connections with it are refused from then on
    Revoke { id: String },
}

/// A token as `token list -o json` prints it (never its secret).
#[derive(serde::Serialize)]
struct TokenRow<'a> {
    id: &'a str,
    name: &'a str,
    role: Role,
    created: &'a str,
    revoked: Option<&'a str>,
}

impl<'a> From<&'a crate::auth::TokenEntry> for TokenRow<'a> {
    fn from(e: &'a crate::auth::TokenEntry) -> Self {
        TokenRow {
            id: &e.id,
            name: &e.name,
            role: e.role,
            created: &e.created,
            revoked: e.revoked.as_deref(),
        }
    }
}

/// The fields of a `TokenRow`, which filters may name.
const TOKEN_FIELDS: &[&str] = &["id", "name", "role", "created", "revoked"];

fn parse_token_filter(s: &str) -> Result<Filter, String> {
    let f = Filter::parse(s)?;
    crate::filter::check_fields(std::slice::from_ref(&f), "tokens", TOKEN_FIELDS)?;
    Ok(f)
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

/// Runs `monit-configd` with parsed arguments; the exit code on success.
pub fn main(cli: ConfigdCli) -> anyhow::Result<u8> {
    let overrides = cli.opts.overrides();
    match cli.command {
        ConfigdCommand::Daemon(cmd) => {
            if completions(&cmd, <ConfigdCli as clap::CommandFactory>::command())? {
                return Ok(0);
            }
            let config = ConfigdConfig::load(&overrides)?;
            execute(cmd, ConfigdDaemon { config, overrides })
        }
        ConfigdCommand::Token(t) => {
            token(&ConfigdConfig::load(&overrides)?, t)?;
            Ok(0)
        }
        ConfigdCommand::Fingerprint => {
            println!("{}", fingerprint(&ConfigdConfig::load(&overrides)?)?);
            Ok(0)
        }
    }
}

struct ConfigdDaemon {
    config: ConfigdConfig,
    overrides: ConfigdOverrides,
}

impl Daemon for ConfigdDaemon {
    fn control(&self) -> Control {
        let (opts, config) = (&self.overrides, &self.config);
        let run_args = run_args([
            ("--config", config.source.as_deref().map(absolute)),
            ("--listen", opts.listen.map(|l| l.to_string().into())),
            ("--data-dir", opts.data_dir.as_deref().map(absolute)),
        ]);
        let detail = std::fs::read_to_string(config.addr_file())
            .map(|a| format!("listening on {}", a.trim()))
            .unwrap_or_default();
        Control {
            name: "monit-configd",
            pid_file: config.pid_file.clone(),
            log_file: config.data_dir.join("monit-configd.log"),
            run_args,
            detail,
            ready: Ready::FirstLine,
        }
    }

    fn serve(self, mode: logging::Mode) -> anyhow::Result<()> {
        let ConfigdDaemon { config, overrides } = self;
        let log_guard = logging::init_sinks(mode, &config.log)?;
        let _pidfile = crate::daemon::pidfile::PidFile::acquire(&config.pid_file)?;
        let nofile = crate::daemon::raise_nofile_limit();
        tracing::debug!(nofile, "open-file limit");
        let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
        let levels = log_guard.levels();
        let reloader: super::Reloader = Box::new(move || {
            let new = ConfigdConfig::load(&overrides)?;
            levels.apply(&new.log);
            Ok(new)
        });
        runtime.block_on(async {
            let shutdown = CancellationToken::new();
            crate::daemon::stop_on_signals(shutdown.clone()).context("cannot handle signals")?;
            super::run(config, Some(reloader), shutdown).await?;
            Ok(())
        })
    }

    fn check_config(&self, show_matches: bool) -> anyhow::Result<String> {
        let c = &self.config;
        let problems = crate::config::preflight::configd_problems(c);
        let source = checked_file(c.source.as_ref(), "configd.toml", problems)?;
        let mut text = format!(
            "{}: ok (listen {}, data_dir {}, {} notifier(s) runnable, {} central check{})",
            source,
            c.listen,
            c.data_dir.display(),
            c.notify.len(),
            c.central_checks.len(),
            if c.central_checks.len() == 1 { "" } else { "s" }
        );
        if show_matches {
            let nodes = super::store::read_nodes(&c.db_path())?;
            text.push_str(&format!("\nof the {} node(s) configd knows:", nodes.len()));
            for rule in &c.central_checks {
                let names: Vec<&str> = nodes
                    .iter()
                    .filter(|n| rule.apply.matches(&n.name, &n.labels))
                    .map(|n| n.name.as_str())
                    .collect();
                // The first ten names, then `...`.
                let list = match names.len() {
                    0 => String::new(),
                    1..=10 => format!(": {}", names.join(", ")),
                    _ => format!(": {}, ...", names[..10].join(", ")),
                };
                text.push_str(&format!(
                    "\n  {} ({}): {} node{}{list}",
                    rule.spec.name,
                    rule.apply.describe(),
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                ));
            }
        }
        Ok(text)
    }
}

/// The listener's certificate fingerprint; configd's own certificate is
/// made now if it has none yet (as its first start would).
fn fingerprint(config: &ConfigdConfig) -> anyhow::Result<crate::net::tls::Fingerprint> {
    let Some(paths) = &config.tls else {
        anyhow::bail!("tls = false in the config: configd has no certificate");
    };
    if crate::net::tls::ensure_self_signed(paths)? {
        eprintln!(
            "created a self-signed certificate: {}",
            paths.cert.display()
        );
    }
    Ok(crate::net::tls::ServerTls::load(paths)?.fingerprint)
}

fn token(config: &ConfigdConfig, cmd: TokenCommand) -> anyhow::Result<()> {
    let path = &config.tokens_file;
    match cmd {
        TokenCommand::Create {
            name,
            role,
            out,
            output,
        } => {
            let (token, created) = TokensFile::edit(path, |f| {
                let token = f.add(&name, role)?;
                let created = f.find(&token.id).map(|e| e.created.clone());
                Ok((token, created.unwrap_or_default()))
            })?;
            if let Some(out) = &out {
                crate::auth::write_private(out, &format!("{token}\n"))
                    .with_context(|| format!("cannot write {}", out.display()))?;
                eprintln!("wrote the token to {} (mode 0600)", out.display());
            }
            // Enrol with both at once: the token, and how to know configd.
            let server_fingerprint = match &config.tls {
                Some(_) => Some(fingerprint(config)?.to_string()),
                None => None,
            };
            let fields = serde_json::json!({
                "id": token.id,
                "name": name,
                "role": role,
                "created": created,
                "token": token.to_string(),
                "file": out.as_ref().map(|p| p.display().to_string()),
                "server_fingerprint": server_fingerprint,
            });
            let mut stdout = std::io::stdout().lock();
            closed_pipe_is_ok(write_answer(
                &mut stdout,
                output,
                &token.to_string(),
                &fields,
            ))?;
            eprintln!(
                "token {} for {role} `{name}` created; the secret is shown only now",
                token.id
            );
            if let Some(fp) = server_fingerprint {
                eprintln!(
                    "configd's certificate: {fp} (server_fingerprint in noded.toml or client.toml, or --fingerprint)"
                );
            }
        }
        TokenCommand::List { output, filter } => {
            let file = TokensFile::load(path)?;
            let rows: Vec<TokenRow> = file
                .entries()
                .iter()
                .map(TokenRow::from)
                .filter(|r| crate::filter::row_matches(&filter, r))
                .collect();
            let mut out = std::io::stdout().lock();
            closed_pipe_is_ok(write_rows(&mut out, output, &rows, |fit| {
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
                t.fit(fit)
            }))?;
        }
        TokenCommand::Revoke { id } => {
            let (name, role) =
                TokensFile::edit(path, |f| f.revoke(&id).map(|e| (e.name.clone(), e.role)))?;
            print_line(format!("revoked token {id} ({role} `{name}`)"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_fields_match_the_row() {
        let row = TokenRow {
            id: "abc",
            name: "web-1",
            role: Role::Node,
            created: "2026-11-30T00:00:00Z",
            revoked: Some("2026-11-30T01:00:00Z"),
        };
        let json = serde_json::to_value(&row).unwrap();
        crate::filter::assert_fields_match(&json, TOKEN_FIELDS);
    }
}
