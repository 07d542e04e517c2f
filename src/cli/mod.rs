//! `monit-cli`: the scriptable client.

pub mod args;
pub mod checks;
pub mod exit;
mod job_stream;
mod logs;
pub mod ops;
pub mod output;
pub mod runbook;

use std::io::Write;

use anyhow::Context;

use crate::config::client::ClientFlags;
use crate::filter::Filter;
use crate::model::node::NodeJson;
use crate::net::client::Client;
use crate::net::dial::Endpoint;
use args::{Cli, Command, CommonArgs, Query};
use exit::{CliError, Exit};
use output::{Fit, Format, Table};

/// Where `common` says to connect, as `monit-cli`.
pub async fn connect(common: &CommonArgs) -> Result<Client, CliError> {
    Ok(Client::connect(&endpoint(common)?, "monit-cli").await?)
}

/// The endpoint `common` names (flags, environment, client.toml).
pub fn endpoint(common: &CommonArgs) -> Result<Endpoint, CliError> {
    Ok(crate::config::client::endpoint(ClientFlags {
        server: common.server.clone(),
        token_file: common.token_file.clone(),
        fingerprint: common.fingerprint.clone(),
    })?)
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Query(Query::Nodes { filter }) => query_nodes(&cli.common, filter).await,
        Command::Query(Query::Checks { node, filter }) => {
            checks::query_checks(&cli.common, node, filter).await
        }
        Command::Query(Query::Events { filter, limit }) => {
            checks::query_events(&cli.common, filter, limit).await
        }
        Command::Query(Query::Problems { node, filter }) => {
            checks::query_problems(&cli.common, node, filter).await
        }
        Command::Query(Query::Commands { node, filter }) => {
            ops::query_commands(&cli.common, node, filter).await
        }
        Command::Ack(a) => checks::ack(&cli.common, a).await,
        Command::Downtime(d) => checks::downtime(&cli.common, d).await,
        Command::Submit(s) => checks::submit(&cli.common, s).await,
        Command::Completions { shell } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            finish_output(crate::completions::print(shell, cmd))
        }
        Command::Logs(args) => logs::run(&cli.common, args).await,
        Command::Query(Query::Inventory { filter }) => {
            ops::query_inventory(&cli.common, filter).await
        }
        Command::Query(Query::Jobs { filter }) => ops::query_jobs(&cli.common, filter).await,
        Command::Inventory(cmd) => ops::inventory(&cli.common, cmd).await,
        Command::Run(args) => ops::run(&cli.common, args).await,
        Command::Job(cmd) => ops::job(&cli.common, cmd).await,
        Command::Runbook(cmd) => runbook::runbook(&cli.common, cmd).await,
    }
}

/// Parses `--filter` expressions and refuses a field that rows of `what`
/// never have (`fields`, or any bare name when `None`): a usage error,
/// found before connecting.
pub(crate) fn parse_filters(
    filters: &[String],
    what: &str,
    fields: Option<&[&str]>,
) -> Result<Vec<Filter>, CliError> {
    let parsed = Filter::parse_all(filters).map_err(CliError::usage)?;
    if let Some(fields) = fields {
        crate::filter::check_fields(&parsed, what, fields).map_err(CliError::usage)?;
    }
    Ok(parsed)
}

/// A `--node` that configd never knew (`known`: the names it has; `also`:
/// names valid besides, such as configd's own log) is a usage error that
/// names the nodes it may have meant.
pub(crate) fn check_known_nodes(
    asked: &[String],
    known: &[String],
    also: &[&str],
) -> Result<(), CliError> {
    let names = || known.iter().map(String::as_str).chain(also.iter().copied());
    for name in asked {
        if names().any(|k| k == name) {
            continue;
        }
        let like = crate::names::similar(name, names());
        let hint = if like.is_empty() {
            format!(
                "configd knows {} node(s): see `monit-cli query nodes`",
                known.len()
            )
        } else {
            format!("did you mean {}?", like.join(", "))
        };
        return Err(CliError::usage(format!(
            "--node `{}`: configd knows no such node; {hint}",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Bytes of JSON written at a time.
const CHUNK: usize = 256 * 1024;

async fn query_nodes(common: &CommonArgs, filters: Vec<String>) -> Result<(), CliError> {
    parse_filters(&filters, "nodes", Some(crate::model::node::NODE_FIELDS))?;
    let client = connect(common).await?;
    let mut out = std::io::stdout().lock();
    let written = match common.output {
        Format::Json | Format::Jsonl => {
            // Each node straight from its page into the JSON, written as the
            // pages arrive (configd builds the next meanwhile), through one
            // reused buffer: 10,000 nodes are 4 MB of JSON, and fresh memory
            // costs page faults.
            let mut w = crate::json_out::NodesJson::new(common.output == Format::Json);
            let mut buf = Vec::with_capacity(CHUNK + 4096);
            let mut written = Ok(());
            client
                .each_node(filters, |n| {
                    w.node(&mut buf, n);
                    if buf.len() >= CHUNK {
                        if written.is_ok() {
                            written = out.write_all(&buf);
                        }
                        buf.clear();
                    }
                })
                .await?;
            w.end(&mut buf);
            written
                .and_then(|()| out.write_all(&buf))
                .and_then(|()| out.flush())
        }
        format => {
            let mut rows = Vec::new();
            client
                .each_node(filters, |n| rows.push(NodeJson::from(&n.to_view())))
                .await?;
            output::write_rows(&mut out, format, &rows, |fit| nodes_table(&rows, fit))
        }
    };
    finish_output(written)
}

/// A closed pipe (`| head`) is a normal end, not an error.
pub(crate) fn finish_output(r: std::io::Result<()>) -> Result<(), CliError> {
    output::closed_pipe_is_ok(r)
        .context("cannot write output")
        .map_err(|e| CliError::new(Exit::Failed, e))
}

/// The nodes table, readable in 80 columns on a terminal.
pub fn nodes_table(rows: &[NodeJson], fit: Fit) -> String {
    let now = crate::timefmt::now_ms();
    let mut t = Table::new(vec![
        "NAME",
        "STATE",
        "ADDR",
        "LAST SEEN",
        "CHECKS",
        "VERSION",
        "LABELS",
    ]);
    for n in rows {
        let seen = crate::timefmt::parse_rfc3339(&n.last_seen)
            .map(|ms| crate::timefmt::ago(ms, now))
            .unwrap_or_default();
        let c = &n.checks;
        let problems = c.warning + c.critical + c.unknown;
        let checks = if problems == 0 {
            format!("{} ok", c.ok)
        } else {
            format!("{}ok {}w {}c {}u", c.ok, c.warning, c.critical, c.unknown)
        };
        let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        t.row(vec![
            fit.clip(&n.name, 24),
            n.state.clone(),
            fit.clip(&n.addr, 22),
            seen,
            checks,
            fit.clip(&n.version, 10),
            labels.join(","),
        ]);
    }
    t.fit(fit)
}
