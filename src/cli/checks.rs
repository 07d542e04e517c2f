//! `monit-cli query checks|events`, `ack`, `downtime`, `submit`.

use super::args::{AckArgs, CommonArgs, DowntimeAction, DowntimeArgs, SubmitArgs};
use super::exit::CliError;
use super::output::{write_answer, write_rows, Fit, Table};
use super::{connect, finish_output, parse_filters};
use crate::checks::CheckState;
use crate::model::check::{CheckJson, ProblemJson, CHECK_FIELDS, PROBLEM_FIELDS};
use crate::model::downtime::{DowntimeJson, DOWNTIME_FIELDS};
use crate::model::event::{EventJson, EVENT_FIELDS};
use crate::net::client::unexpected;
use crate::net::proto::{
    AckRequest, CancelDowntime, Done, DowntimeRequest, DowntimeView, ListDowntimes, RequestBody,
    ResponseBody, SubmitResult,
};

/// The FLAGS column: the names of the flags that are set.
fn flags(ack: bool, down: bool, flap: bool, stale: bool) -> String {
    let set = [
        (ack, "ack"),
        (down, "down"),
        (flap, "flap"),
        (stale, "stale"),
    ];
    let names: Vec<&str> = set.into_iter().filter(|f| f.0).map(|f| f.1).collect();
    names.join(",")
}

/// How long ago an RFC 3339 time was.
fn ago(time: Option<&str>, now: i64) -> Option<String> {
    time.and_then(crate::timefmt::parse_rfc3339)
        .map(|ms| crate::timefmt::ago(ms, now))
}

fn split_target(t: &str) -> Result<(String, String), CliError> {
    match t.split_once('/') {
        Some((n, c)) if !n.is_empty() && !c.is_empty() => Ok((n.to_string(), c.to_string())),
        _ => Err(CliError::usage(format!(
            "`{t}` is not NODE/CHECK (e.g. web-1/load)"
        ))),
    }
}

/// Sends a write answered by one `Done`.
async fn done(common: &CommonArgs, body: RequestBody) -> Result<Done, CliError> {
    match connect(common).await?.one(body).await? {
        ResponseBody::Done(d) => Ok(d),
        other => Err(unexpected(&other).into()),
    }
}

/// Prints a write's answer: configd's message as text, `fields` for
/// `-o json|jsonl|csv`.
fn print_done(common: &CommonArgs, d: &Done, fields: serde_json::Value) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    finish_output(write_answer(&mut out, common.output, &d.message, &fields))
}

pub async fn query_checks(
    common: &CommonArgs,
    node: Option<String>,
    filters: Vec<String>,
) -> Result<(), CliError> {
    parse_filters(&filters, "checks", Some(CHECK_FIELDS))?;
    let client = connect(common).await?;
    if let Some(node) = &node {
        let known: Vec<String> = client
            .query_nodes(vec![])
            .await?
            .into_iter()
            .map(|n| n.name)
            .collect();
        super::check_known_nodes(std::slice::from_ref(node), &known, &[])?;
    }
    let checks = client.query_checks(node, filters).await?;
    let rows: Vec<CheckJson> = checks.iter().map(CheckJson::from).collect();
    let mut out = std::io::stdout().lock();
    finish_output(write_rows(&mut out, common.output, &rows, |fit| {
        checks_table(&rows, fit)
    }))
}

/// The checks table, readable in 80 columns on a terminal.
pub fn checks_table(rows: &[CheckJson], fit: Fit) -> String {
    let now = crate::timefmt::now_ms();
    let mut t = Table::new(vec![
        "NODE",
        "CHECK",
        "STATE",
        "ATTEMPT",
        "LAST CHECK",
        "FLAGS",
        "OUTPUT",
    ]);
    for c in rows {
        let seen = ago(c.last_check.as_deref(), now).unwrap_or_else(|| "never".into());
        t.row(vec![
            fit.clip(&c.node, 20),
            fit.clip(&c.name, 20),
            format!("{} {}", c.state, c.state_type),
            format!("{}/{}", c.attempt, c.max_attempts),
            seen,
            flags(c.acknowledged, c.in_downtime, c.flapping, c.stale),
            fit.clip(&c.output, 60),
        ]);
    }
    t.fit(fit)
}

pub async fn query_events(
    common: &CommonArgs,
    filters: Vec<String>,
    limit: u32,
) -> Result<(), CliError> {
    parse_filters(&filters, "events", Some(EVENT_FIELDS))?;
    let client = connect(common).await?;
    let events = client.query_events(filters, limit).await?;
    let rows: Vec<EventJson> = events.iter().map(EventJson::from).collect();
    let mut out = std::io::stdout().lock();
    finish_output(write_rows(&mut out, common.output, &rows, |fit| {
        let mut t = Table::new(vec!["TIME", "KIND", "NODE", "CHECK", "STATE", "MESSAGE"]);
        for e in &rows {
            t.row(vec![
                e.time.clone(),
                e.kind.clone(),
                e.node.clone().unwrap_or_default(),
                e.check.clone().unwrap_or_default(),
                e.state.clone().unwrap_or_default(),
                fit.clip(&e.message, 80),
            ]);
        }
        t.fit(fit)
    }))
}

pub async fn ack(common: &CommonArgs, a: AckArgs) -> Result<(), CliError> {
    // NODE alone acknowledges the node (a down host); NODE/CHECK a check.
    let (node, check) = match a.target.split_once('/') {
        None if !a.target.is_empty() => (a.target.clone(), String::new()),
        _ => split_target(&a.target)?,
    };
    let fields = serde_json::json!({
        "node": node,
        "check": (!check.is_empty()).then_some(&check),
        "acknowledged": !a.remove,
        "sticky": a.sticky,
        "comment": a.comment,
    });
    let d = done(
        common,
        RequestBody::Acknowledge(AckRequest {
            node,
            check,
            comment: a.comment,
            sticky: a.sticky,
            remove: a.remove,
        }),
    )
    .await?;
    print_done(common, &d, fields)
}

pub async fn query_problems(
    common: &CommonArgs,
    node: Option<String>,
    filters: Vec<String>,
) -> Result<(), CliError> {
    parse_filters(&filters, "problems", Some(PROBLEM_FIELDS))?;
    let client = connect(common).await?;
    let problems = client.query_problems(node, filters).await?;
    let rows: Vec<ProblemJson> = problems.iter().map(ProblemJson::from).collect();
    let mut out = std::io::stdout().lock();
    finish_output(write_rows(&mut out, common.output, &rows, |fit| {
        problems_table(&rows, fit)
    }))
}

/// The problems table: nodes down first, `(node)` in the CHECK column.
pub fn problems_table(rows: &[ProblemJson], fit: Fit) -> String {
    let now = crate::timefmt::now_ms();
    let mut t = Table::new(vec!["NODE", "CHECK", "STATE", "SINCE", "FLAGS", "OUTPUT"]);
    for p in rows {
        let since = ago(p.since.as_deref(), now).unwrap_or_default();
        t.row(vec![
            fit.clip(&p.node, 20),
            fit.clip(p.check.as_deref().unwrap_or("(node)"), 20),
            if p.check.is_some() {
                format!("{} {}", p.state, p.state_type)
            } else {
                p.state.clone()
            },
            since,
            flags(p.acknowledged, p.in_downtime, p.flapping, p.stale),
            fit.clip(&p.output, 60),
        ]);
    }
    t.fit(fit)
}

pub async fn submit(common: &CommonArgs, s: SubmitArgs) -> Result<(), CliError> {
    let (node, check) = split_target(&s.target)?;
    let state: CheckState = s.state.parse().map_err(CliError::usage)?;
    let fields = serde_json::json!({
        "node": node,
        "check": check,
        "state": state,
        "output": s.text,
    });
    let d = done(
        common,
        RequestBody::Submit(SubmitResult {
            node,
            check,
            state,
            output: s.text,
        }),
    )
    .await?;
    print_done(common, &d, fields)
}

pub async fn downtime(common: &CommonArgs, d: DowntimeArgs) -> Result<(), CliError> {
    match d.action {
        Some(DowntimeAction::Cancel { id }) => {
            let d = done(common, RequestBody::CancelDowntime(CancelDowntime { id })).await?;
            print_done(common, &d, serde_json::json!({"id": id, "cancelled": true}))
        }
        Some(DowntimeAction::List { filter }) => {
            let filters = parse_filters(&filter, "downtimes", Some(DOWNTIME_FIELDS))?;
            let client = connect(common).await?;
            let list: Vec<DowntimeView> = match client
                .one(RequestBody::ListDowntimes(ListDowntimes {}))
                .await?
            {
                ResponseBody::Downtimes(p) => p.downtimes,
                other => return Err(unexpected(&other).into()),
            };
            let rows: Vec<DowntimeJson> = list
                .iter()
                .map(DowntimeJson::from)
                .filter(|r| crate::filter::row_matches(&filters, r))
                .collect();
            let mut out = std::io::stdout().lock();
            finish_output(write_rows(&mut out, common.output, &rows, |fit| {
                let mut t = Table::new(vec!["ID", "TARGET", "START", "END", "WHO", "COMMENT"]);
                for r in &rows {
                    t.row(vec![
                        r.id.to_string(),
                        match &r.check {
                            Some(c) => format!("{}/{c}", r.node),
                            None => r.node.clone(),
                        },
                        r.start.clone(),
                        r.end.clone(),
                        r.who.clone(),
                        fit.clip(&r.comment, 40),
                    ]);
                }
                t.fit(fit)
            }))
        }
        None => {
            let Some(target) = d.target else {
                return Err(CliError::usage(
                    "name what is down: `monit-cli downtime NODE[/CHECK] --for 1h`, or use `downtime list|cancel`",
                ));
            };
            let (node, check) = match target.split_once('/') {
                Some((n, c)) if !n.is_empty() && !c.is_empty() => {
                    (n.to_string(), Some(c.to_string()))
                }
                Some(_) => {
                    return Err(CliError::usage(format!(
                        "`{target}` is not NODE or NODE/CHECK"
                    )))
                }
                None => (target.clone(), None),
            };
            let now = crate::timefmt::now_ms();
            let end_ms = match (d.duration, d.until) {
                (Some(f), None) => {
                    let dur = humantime::parse_duration(&f).map_err(|e| {
                        CliError::usage(format!("--for `{f}`: {e} (write e.g. 30m, 2h)"))
                    })?;
                    now.saturating_add(dur.as_millis().min(i64::MAX as u128) as i64)
                }
                (None, Some(u)) => crate::timefmt::parse_rfc3339(&u).ok_or_else(|| {
                    CliError::usage(format!(
                        "--until `{u}` is not an RFC 3339 time (e.g. 2026-11-25T06:00:00Z)"
                    ))
                })?,
                _ => return Err(CliError::usage(
                    "give the downtime's length with --for DURATION or its end with --until TIME",
                )),
            };
            if end_ms <= now {
                return Err(CliError::usage("the downtime would end in the past"));
            }
            let mut fields = serde_json::json!({
                "id": null,
                "node": node,
                "check": check,
                "start": crate::timefmt::rfc3339(now),
                "end": crate::timefmt::rfc3339(end_ms),
                "comment": d.comment,
            });
            let answer = done(
                common,
                RequestBody::Downtime(DowntimeRequest {
                    node,
                    check,
                    start_ms: now,
                    end_ms,
                    comment: d.comment,
                }),
            )
            .await?;
            fields["id"] = serde_json::json!(answer.id);
            print_done(common, &answer, fields)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        crate::cli::args::Cli::command().debug_assert();
    }
}
