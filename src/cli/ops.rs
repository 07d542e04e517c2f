//! `monit-cli inventory`, `query inventory|jobs`, `run` and `job show|cancel`.

use std::collections::BTreeMap;
use std::io::Write;

use super::args::{CommonArgs, InventoryCmd, JobCmd, RunArgs};
use super::exit::CliError;
use super::job_stream::{cancel_job, marker, prefix_lines, Stream};
use super::output::{clip, write_answer, write_json, write_one, write_rows, Fit, Format, Table};
use super::{connect, finish_output, parse_filters};
use crate::net::client::{unexpected, Client, ClientError};
use crate::net::proto::{
    InventoryItem, InventoryOp, InventoryWrite, RequestBody, ResolveTargets, ResponseBody,
    RunRequest, ShowJob,
};
use crate::ops::views::{command_json, inventory_json, job_json, job_state};

fn parse_pairs(pairs: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut out = BTreeMap::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            return Err(CliError::usage(format!(
                "`{p}` is not ATTR=VALUE (e.g. state=live)"
            )));
        };
        if k.is_empty() {
            return Err(CliError::usage(format!("`{p}` has no attribute name")));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(CliError::usage(format!("`{k}` given twice")));
        }
    }
    Ok(out)
}

pub(crate) fn remote(e: crate::net::proto::ErrorFrame) -> CliError {
    CliError::from(ClientError::Remote(e))
}

pub(crate) async fn one(client: &Client, body: RequestBody) -> Result<ResponseBody, CliError> {
    Ok(client.one(body).await?)
}

pub async fn inventory(common: &CommonArgs, cmd: InventoryCmd) -> Result<(), CliError> {
    // What `-o json` says was asked; configd adds how many items changed.
    let mut fields = serde_json::Map::new();
    let ask = |fields: &mut serde_json::Map<_, _>, action: &str, kind: &str, key: &str| {
        fields.insert("action".into(), action.into());
        fields.insert("kind".into(), kind.into());
        fields.insert("key".into(), key.into());
    };
    let ops = match cmd {
        InventoryCmd::Export => return query_inventory(common, vec![]).await,
        InventoryCmd::Add { kind, key, attrs } => {
            let mut attrs = parse_pairs(&attrs)?;
            let Some(node) = attrs.remove("node") else {
                return Err(CliError::usage(
                    "an item needs node=NODE, the node that hosts it",
                ));
            };
            ask(&mut fields, "add", &kind, &key);
            fields.insert("node".into(), node.clone().into());
            fields.insert("attrs".into(), serde_json::json!(attrs));
            vec![InventoryOp::Add {
                kind,
                key,
                node,
                attrs,
                replace: false,
                line: None,
            }]
        }
        InventoryCmd::Update { kind, key, attrs } => {
            let attrs = parse_pairs(&attrs)?;
            ask(&mut fields, "update", &kind, &key);
            fields.insert("attrs".into(), serde_json::json!(attrs));
            vec![InventoryOp::Update { kind, key, attrs }]
        }
        InventoryCmd::Delete { kind, key } => {
            ask(&mut fields, "delete", &kind, &key);
            vec![InventoryOp::Delete { kind, key }]
        }
        InventoryCmd::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
            let ops = parse_import(&text)
                .map_err(|e| CliError::usage(format!("{}: {e}", file.display())))?;
            fields.insert("action".into(), "import".into());
            fields.insert("file".into(), file.display().to_string().into());
            fields.insert("items".into(), ops.len().into());
            ops
        }
    };
    let client = connect(common).await?;
    match one(&client, RequestBody::InventoryWrite(InventoryWrite { ops })).await? {
        ResponseBody::InventoryWritten(w) => {
            if common.output.is_text() {
                eprintln!("{} item(s) changed", w.changed);
                return Ok(());
            }
            fields.insert("changed".into(), w.changed.into());
            let mut out = std::io::stdout().lock();
            finish_output(write_one(&mut out, common.output, &fields))
        }
        other => Err(unexpected(&other).into()),
    }
}

/// Parses an import file: JSON (an array as `query inventory` prints it)
/// or CSV with a header `kind,key,node,ATTR...`. Each item replaces any
/// existing one; lines are kept for configd's errors.
pub fn parse_import(text: &str) -> Result<Vec<InventoryOp>, String> {
    if text.trim_start().starts_with('[') {
        let items: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| format!("bad JSON: {e}"))?;
        let scalar = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        return items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = |name: &str| {
                    item.get(name).and_then(scalar).ok_or_else(|| {
                        format!(
                            "item {}: field `{name}` missing or not a string/number",
                            i + 1
                        )
                    })
                };
                let mut attrs = BTreeMap::new();
                if let Some(map) = item.get("attrs").and_then(|a| a.as_object()) {
                    for (k, v) in map {
                        let v = scalar(v).ok_or_else(|| {
                            format!("item {}: field `{k}` is not a string or number", i + 1)
                        })?;
                        attrs.insert(k.clone(), v);
                    }
                }
                Ok(InventoryOp::Add {
                    kind: field("kind")?,
                    key: field("key")?,
                    node: field("node")?,
                    attrs,
                    replace: true,
                    line: None,
                })
            })
            .collect();
    }
    let rows = parse_csv(text)?;
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Err(
            "empty file: expected a CSV header kind,key,node,ATTR... or a JSON array".into(),
        );
    };
    if header.len() < 3 || header[0] != "kind" || header[1] != "key" || header[2] != "node" {
        return Err("line 1: the CSV header must start with kind,key,node".into());
    }
    let mut ops = Vec::new();
    for (line, fields) in rows {
        if fields.len() == 1 && fields[0].is_empty() {
            continue;
        }
        if fields.len() != header.len() {
            return Err(format!(
                "line {line}: {} fields, the header has {}",
                fields.len(),
                header.len()
            ));
        }
        let attrs = header[3..]
            .iter()
            .zip(&fields[3..])
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ops.push(InventoryOp::Add {
            kind: fields[0].clone(),
            key: fields[1].clone(),
            node: fields[2].clone(),
            attrs,
            replace: true,
            line: Some(line),
        });
    }
    Ok(ops)
}

/// RFC 4180 CSV: quoted fields may hold commas, quotes (doubled) and
/// newlines. Returns each record with the line it starts on.
pub fn parse_csv(text: &str) -> Result<Vec<(u64, Vec<String>)>, String> {
    let mut out = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1u64;
    let mut start = 1u64;
    let mut chars = text.chars().peekable();
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut fields)));
                line += 1;
                start = line;
                at_start = true;
                continue;
            }
            _ => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err(format!("line {start}: unterminated quote"));
    }
    if !at_start || !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start, fields));
    }
    Ok(out)
}

fn print_inventory(format: Format, items: &[InventoryItem]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json | Format::Jsonl => {
            let rows: Vec<serde_json::Value> = items.iter().map(inventory_json).collect();
            write_json(&mut out, format, &rows)
        }
        Format::Csv => {
            // Re-importable: kind,key,node, then every attribute by name.
            let mut names: Vec<&String> = items.iter().flat_map(|i| i.attrs.keys()).collect();
            names.sort();
            names.dedup();
            let mut w = csv::Writer::from_writer(out);
            let header = ["kind", "key", "node"]
                .into_iter()
                .chain(names.iter().map(|n| n.as_str()));
            w.write_record(header)?;
            for i in items {
                let attrs = names
                    .iter()
                    .map(|n| i.attrs.get(*n).map(String::as_str).unwrap_or(""));
                let fixed = [i.kind.as_str(), i.key.as_str(), i.node.as_str()];
                w.write_record(fixed.into_iter().chain(attrs))?;
            }
            w.flush()
        }
        Format::Table | Format::Wide => {
            let fit = Fit::stdout(format);
            let mut t = Table::new(vec!["KIND", "KEY", "NODE", "ATTRS"]);
            for i in items {
                let attrs: Vec<String> = i.attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                t.row(vec![
                    i.kind.clone(),
                    i.key.clone(),
                    fit.clip(&i.node, 24),
                    attrs.join(" "),
                ]);
            }
            out.write_all(t.fit(fit).as_bytes())
        }
    }
}

pub async fn query_inventory(common: &CommonArgs, filters: Vec<String>) -> Result<(), CliError> {
    // Any bare name is an attribute.
    parse_filters(&filters, "inventory", None)?;
    let items = connect(common).await?.query_inventory(filters).await?;
    finish_output(print_inventory(common.output, &items))
}

pub async fn query_jobs(common: &CommonArgs, filters: Vec<String>) -> Result<(), CliError> {
    parse_filters(&filters, "jobs", Some(crate::ops::views::JOB_FIELDS))?;
    let jobs = connect(common).await?.query_jobs(filters).await?;
    let rows: Vec<serde_json::Value> = jobs.iter().map(job_json).collect();
    let mut out = std::io::stdout().lock();
    finish_output(write_rows(&mut out, common.output, &rows, |fit| {
        let mut t = Table::new(vec!["ID", "STATE", "WHO", "STARTED", "COMMAND", "TARGETS"]);
        for j in &jobs {
            let targets: Vec<String> = j
                .targets
                .iter()
                .map(|t| format!("{}:{}", t.node, t.state.as_str()))
                .collect();
            t.row(vec![
                j.id.to_string(),
                job_state(j).to_string(),
                fit.clip(&j.who, 16),
                crate::timefmt::rfc3339(j.started_ms),
                fit.clip(&format!("{} {}", j.command, j.args.join(" ")), 40),
                targets.join(","),
            ]);
        }
        t.fit(fit)
    }))
}

pub async fn job(common: &CommonArgs, cmd: JobCmd) -> Result<(), CliError> {
    let (id, follow) = match cmd {
        JobCmd::Show { id, follow } => (id, follow),
        JobCmd::Cancel { id } => {
            let client = connect(common).await?;
            let message = cancel_job(&client, id).await?;
            let mut out = std::io::stdout().lock();
            let fields = serde_json::json!({ "id": id, "cancelled": true, "message": message });
            return finish_output(write_answer(&mut out, common.output, &message, &fields));
        }
    };
    let client = connect(common).await?;
    let mut answers = client
        .request(RequestBody::ShowJob(ShowJob { id, follow }))
        .await?;
    let mut followed = false;
    let detail = loop {
        match answers.next().await {
            Some(Ok(ResponseBody::JobOutput(o))) => {
                followed = true;
                let mut buf = Vec::new();
                prefix_lines(&mut buf, &o.node, marker(o.stream), &o.data);
                let mut out = std::io::stdout().lock();
                finish_output(out.write_all(&buf).and_then(|_| out.flush()))?;
            }
            Some(Ok(ResponseBody::JobDetail(d))) => break d,
            Some(Ok(ResponseBody::Error(e))) => return Err(remote(e)),
            Some(Ok(other)) => return Err(unexpected(&other).into()),
            Some(Err(e)) => return Err(ClientError::from(e).into()),
            None => return Err(ClientError::Lost("no answer".into()).into()),
        }
    };
    let detail = if followed {
        // The live output was printed; show the record without it.
        crate::net::proto::JobDetail {
            outputs: vec![],
            ..detail
        }
    } else {
        detail
    };
    let mut out = std::io::stdout().lock();
    let written = match common.output {
        format @ (Format::Json | Format::Jsonl | Format::Csv) => {
            let mut v = job_json(&detail.job);
            v["outputs"] = serde_json::json!(detail
                .outputs
                .iter()
                .map(|o| serde_json::json!({"node": o.node, "output": o.output, "truncated": o.truncated}))
                .collect::<Vec<_>>());
            write_rows(&mut out, format, &[v], |_| String::new())
        }
        Format::Table | Format::Wide => {
            let j = &detail.job;
            let mut text = format!(
                "job {} {} by {}: {} {}\n",
                j.id,
                job_state(j),
                j.who,
                j.command,
                j.args.join(" ")
            );
            for t in &j.targets {
                text.push_str(&format!(
                    "  {} {} exit={} {}ms {}\n",
                    t.node,
                    t.state.as_str(),
                    t.exit_code.map(|c| c.to_string()).unwrap_or("-".into()),
                    t.duration_ms.unwrap_or(0),
                    t.message
                ));
            }
            text.push_str(&crate::ops::views::steps_text(&j.steps));
            if !j.message.is_empty() {
                text.push_str(&format!("  {}\n", j.message));
            }
            for o in &detail.outputs {
                text.push_str(&format!("--- {} ---\n{}", o.node, o.output));
                if !o.output.ends_with('\n') && !o.output.is_empty() {
                    text.push('\n');
                }
            }
            out.write_all(text.as_bytes())
        }
    };
    finish_output(written)
}

pub async fn query_commands(
    common: &CommonArgs,
    node: Option<String>,
    filters: Vec<String>,
) -> Result<(), CliError> {
    parse_filters(
        &filters,
        "commands",
        Some(crate::ops::views::COMMAND_FIELDS),
    )?;
    let client = connect(common).await?;
    let (offers, runbooks) = match one(
        &client,
        RequestBody::QueryCommands(crate::net::proto::QueryChecks {
            node: node.clone(),
            filters,
        }),
    )
    .await?
    {
        ResponseBody::Commands(c) => (c.commands, c.runbooks),
        other => return Err(unexpected(&other).into()),
    };
    if let (Some(n), true) = (&node, offers.is_empty()) {
        // Say why the list is empty: no such node, or it offers nothing.
        let nodes = client.query_nodes(vec![format!("name={n}")]).await?;
        if nodes.is_empty() {
            return Err(CliError::failed(format!(
                "no node `{n}`; see `monit-cli query nodes`"
            )));
        }
    }
    let rows: Vec<serde_json::Value> = offers
        .iter()
        .map(command_json)
        .chain(runbooks.iter().map(crate::ops::views::runbook_json))
        .collect();
    let mut out = std::io::stdout().lock();
    finish_output(write_rows(&mut out, common.output, &rows, |fit| {
        let mut t = Table::new(vec![
            "COMMAND",
            "ARGUMENTS",
            "ROLE",
            "RUNS ON",
            "NODES",
            "DESCRIPTION",
        ]);
        for o in &offers {
            let sig = o.spec.signature();
            let args = sig
                .strip_prefix(o.spec.name.as_str())
                .unwrap_or(&sig)
                .trim();
            let nodes = if o.nodes.len() > 3 {
                format!("{} nodes ({}, ...)", o.nodes.len(), o.nodes[..2].join(", "))
            } else {
                o.nodes.join(", ")
            };
            // A bound command runs where its item lives, nowhere else.
            let runs_on = match &o.spec.inventory {
                Some(i) => format!("{}'s node", i.kind),
                None => "--target".into(),
            };
            t.row(vec![
                o.spec.name.clone(),
                args.to_string(),
                o.spec.role.as_str().to_string(),
                runs_on,
                nodes,
                fit.clip(&o.spec.description, 60),
            ]);
        }
        for r in &runbooks {
            let args = r.usage.strip_prefix(r.name.as_str()).unwrap_or(&r.usage);
            t.row(vec![
                r.name.clone(),
                args.trim().to_string(),
                r.role.as_str().to_string(),
                format!("runbook, {} steps", r.steps.len()),
                "configd".into(),
                fit.clip(&r.description, 60),
            ]);
        }
        t.fit(fit)
    }))
}

pub async fn run(common: &CommonArgs, args: RunArgs) -> Result<(), CliError> {
    let timeout_ms = match &args.timeout {
        Some(t) => Some(
            humantime::parse_duration(t)
                .map_err(|e| CliError::usage(format!("bad --timeout `{t}`: {e} (e.g. 30s, 5m)")))?
                .as_millis() as u64,
        ),
        None => None,
    };
    let request = RunRequest {
        command: args.command.clone(),
        args: args.args.clone(),
        target: args.target.clone().unwrap_or_default(),
        timeout_ms,
        force_target: args.force_target,
        reason: args.reason.clone().unwrap_or_default(),
    };
    let client = connect(common).await?;
    // configd answers with every check of the run made: a refusal comes
    // before any confirmation.
    let targets = match one(
        &client,
        RequestBody::ResolveTargets(ResolveTargets {
            target: request.target.clone(),
            run: Some(request.clone()),
        }),
    )
    .await?
    {
        ResponseBody::Targets(t) => t.nodes,
        other => return Err(unexpected(&other).into()),
    };
    if targets.len() > 1 && !args.yes {
        let list = clip(&targets.join(", "), 200);
        confirm(
            &format!(
                "run `{} {}` on {} nodes: {list}?",
                args.command,
                args.args.join(" "),
                targets.len()
            ),
            &format!(
                "`{}` targets {} nodes ({list}); pass --yes to run without a confirmation",
                request.target,
                targets.len()
            ),
        )
        .await?;
    }
    let answers = client.request(RequestBody::Run(request)).await?;
    let detach = args.detach;
    super::job_stream::follow(common, &client, answers, Stream::Run { detach }).await
}

/// Asks `question` on the terminal (y/N); without a terminal (a script)
/// it is the usage error `no_terminal`, which should name `--yes`.
pub(crate) async fn confirm(question: &str, no_terminal: &str) -> Result<(), CliError> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(no_terminal.to_string()));
    }
    eprint!("{question} [y/N] ");
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        line
    })
    .await
    .unwrap_or_default();
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::failed("not confirmed; nothing was run"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_parses_quotes_and_lines() {
        let rows =
            parse_csv("kind,key,node,domain\nzone,1,web-1,\"a,b\"\"c\"\nzone,2,web-2,\"x\ny\"\n")
                .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].1[3], "a,b\"c");
        assert_eq!(
            rows[2],
            (
                3,
                vec!["zone".into(), "2".into(), "web-2".into(), "x\ny".into()]
            )
        );
        assert!(parse_csv("a,\"b\n").is_err());
        let ops = parse_import("kind,key,node,state\nzone,1,web-1,new\nzone,2,web-2\n");
        assert!(ops.unwrap_err().contains("line 3"));
    }
}
