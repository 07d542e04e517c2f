//! Overview, nodes, one node, checks and events: the read-only pages,
//! each built from the same queries `monit-cli query` sends.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::Response;
use serde::Deserialize;

use super::{client_error, html, query_string, split_filters, when, Chrome, Paging};
use crate::checks::CheckState;
use crate::net::client::{unexpected, ClientError};
use crate::net::proto::{
    CheckView, NodeState, NodeView, ProblemView, RequestBody, ResponseBody, SubscribeLogs,
};
use crate::timefmt::now_ms;
use crate::web::session::{Authed, Session};

/// Problems the overview lists; the rest are on the checks page.
const OVERVIEW_PROBLEMS: usize = 50;
/// Nodes the overview lists.
const OVERVIEW_NODES: usize = 50;
/// Log lines a node's page shows.
const NODE_LOG_LINES: u64 = 50;
/// Events the events page asks for.
const EVENTS: u32 = 500;

/// A row of a problems table.
pub struct ProblemRow {
    pub node: String,
    pub check: String,
    pub state: String,
    pub since: String,
    pub output: String,
    pub flags: String,
}

impl ProblemRow {
    fn from(p: &ProblemView, now: i64) -> ProblemRow {
        let mut flags = Vec::new();
        for (on, name) in [
            (p.acknowledged, "acknowledged"),
            (p.in_downtime, "in downtime"),
            (p.flapping, "flapping"),
            (p.stale, "stale"),
        ] {
            if on {
                flags.push(name);
            }
        }
        ProblemRow {
            node: p.node.clone(),
            check: p.check.clone().unwrap_or_else(|| "(node)".into()),
            state: p.state.clone(),
            since: when(p.since_ms, now),
            output: p.output.clone(),
            flags: flags.join(", "),
        }
    }
}

/// Worst first: nodes down, then critical, unknown, warning.
fn problem_rank(p: &ProblemView) -> u8 {
    match (p.check.is_none(), p.state.as_str()) {
        (true, _) => 0,
        (_, "critical") => 1,
        (_, "unknown") => 2,
        (_, "warning") => 3,
        _ => 4,
    }
}

pub async fn problems(session: &Session) -> Result<Vec<ProblemView>, ClientError> {
    let mut all = session.client.query_problems(None, Vec::new()).await?;
    all.sort_by(|a, b| {
        problem_rank(a)
            .cmp(&problem_rank(b))
            .then(a.node.cmp(&b.node))
            .then(a.check.cmp(&b.check))
    });
    Ok(all)
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    chrome: Option<Chrome>,
    nodes: usize,
    up: usize,
    down: usize,
    pending: usize,
    checks: [(&'static str, u64); 5],
    problems: Vec<ProblemRow>,
    more_problems: usize,
    /// The first nodes, down ones first; the rest are on the nodes page.
    node_rows: Vec<NodeRow>,
}

pub async fn overview(Authed(s, _): Authed) -> Response {
    let mut nodes = match s.client.query_nodes(Vec::new()).await {
        Ok(n) => n,
        Err(e) => return client_error(&s, "overview", e),
    };
    let all = match problems(&s).await {
        Ok(p) => p,
        Err(e) => return client_error(&s, "overview", e),
    };
    let count = |st: NodeState| nodes.iter().filter(|n| n.state == st).count();
    let (up, down, pending) = (
        count(NodeState::Up),
        count(NodeState::Down),
        count(NodeState::Pending),
    );
    let mut checks = [
        ("ok", 0u64),
        ("warning", 0),
        ("critical", 0),
        ("unknown", 0),
        ("pending", 0),
    ];
    for n in &nodes {
        let c = n.checks;
        for (slot, v) in checks
            .iter_mut()
            .zip([c.ok, c.warning, c.critical, c.unknown, c.pending])
        {
            slot.1 += u64::from(v);
        }
    }
    let now = now_ms();
    let shown = OVERVIEW_NODES.min(nodes.len());
    let by_state = |a: &NodeView, b: &NodeView| {
        state_rank(a.state)
            .cmp(&state_rank(b.state))
            .then_with(|| a.name.cmp(&b.name))
    };
    if shown > 0 && shown < nodes.len() {
        nodes.select_nth_unstable_by(shown - 1, by_state);
    }
    nodes[..shown].sort_by(by_state);
    html(&Overview {
        node_rows: nodes[..shown]
            .iter()
            .map(|n| NodeRow::from(n, now))
            .collect(),
        chrome: Some(s.chrome("overview")),
        nodes: nodes.len(),
        up,
        down,
        pending,
        checks,
        more_problems: all.len().saturating_sub(OVERVIEW_PROBLEMS),
        problems: all
            .iter()
            .take(OVERVIEW_PROBLEMS)
            .map(|p| ProblemRow::from(p, now))
            .collect(),
    })
}

#[derive(Deserialize, Default)]
pub struct NodesQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    sort: String,
    page: Option<usize>,
}

pub struct NodeRow {
    pub name: String,
    pub href: String,
    pub state: &'static str,
    pub addr: String,
    pub last_seen: String,
    pub version: String,
    pub labels: String,
    pub checks: String,
    pub problems: u32,
}

impl NodeRow {
    fn from(n: &NodeView, now: i64) -> NodeRow {
        let c = n.checks;
        NodeRow {
            href: format!("/nodes/{}", super::encode(&n.name)),
            name: n.name.clone(),
            state: n.state.as_str(),
            addr: n.addr.clone(),
            last_seen: crate::timefmt::ago(n.last_seen_ms, now),
            version: n.version.clone(),
            labels: n
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            checks: format!(
                "{} ok, {} warn, {} crit, {} unkn, {} pend",
                c.ok, c.warning, c.critical, c.unknown, c.pending
            ),
            problems: c.warning + c.critical + c.unknown,
        }
    }
}

#[derive(Template)]
#[template(path = "nodes.html")]
struct NodesPage {
    chrome: Option<Chrome>,
    filter: String,
    state: String,
    sort: String,
    error: String,
    rows: Vec<NodeRow>,
    paging: Paging,
}

fn state_rank(s: NodeState) -> u8 {
    match s {
        NodeState::Down => 0,
        NodeState::Pending => 1,
        NodeState::Up => 2,
    }
}

pub async fn nodes(Authed(s, _): Authed, Query(q): Query<NodesQuery>) -> Response {
    let mut filters = split_filters(&q.filter);
    if matches!(q.state.as_str(), "up" | "down" | "pending") {
        filters.push(format!("state={}", q.state));
    }
    let (mut nodes, error) = match s.client.query_nodes(filters).await {
        Ok(n) => (n, String::new()),
        // A bad filter is the operator's typo: say so on the page.
        Err(ClientError::Remote(e)) => (Vec::new(), e.message),
        Err(e) => return client_error(&s, "nodes", e),
    };
    let problems = |n: &NodeView| n.checks.warning + n.checks.critical + n.checks.unknown;
    match q.sort.as_str() {
        "state" => nodes.sort_by(|a, b| {
            state_rank(a.state)
                .cmp(&state_rank(b.state))
                .then(a.name.cmp(&b.name))
        }),
        "problems" => nodes.sort_by(|a, b| problems(b).cmp(&problems(a)).then(a.name.cmp(&b.name))),
        "last_seen" => nodes.sort_by_key(|n| std::cmp::Reverse(n.last_seen_ms)),
        _ => nodes.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    let paging = Paging::new(
        nodes.len(),
        q.page,
        query_string(&[
            ("filter", &q.filter),
            ("state", &q.state),
            ("sort", &q.sort),
        ]),
    );
    let now = now_ms();
    let rows = nodes[paging.range()]
        .iter()
        .map(|n| NodeRow::from(n, now))
        .collect();
    html(&NodesPage {
        chrome: Some(s.chrome("nodes")),
        filter: q.filter,
        state: q.state,
        sort: q.sort,
        error,
        rows,
        paging,
    })
}

pub struct CheckRow {
    pub node: String,
    pub node_href: String,
    pub name: String,
    pub state: &'static str,
    pub state_type: &'static str,
    pub attempt: String,
    pub last_check: String,
    pub output: String,
}

impl CheckRow {
    fn from(c: &CheckView, now: i64) -> CheckRow {
        CheckRow {
            node_href: format!("/nodes/{}", super::encode(&c.node)),
            node: c.node.clone(),
            name: c.name.clone(),
            state: c.state.as_str(),
            state_type: c.state_type.as_str(),
            attempt: format!("{}/{}", c.attempt, c.max_attempts),
            last_check: if c.last_check_ms > 0 {
                crate::timefmt::ago(c.last_check_ms, now)
            } else {
                "never".into()
            },
            output: c.output.clone(),
        }
    }
}

pub struct LogRow {
    pub time: String,
    pub level: &'static str,
    pub source: String,
    pub message: String,
}

pub struct ItemRow {
    pub kind: String,
    pub key: String,
    pub attrs: String,
}

#[derive(Template)]
#[template(path = "node.html")]
struct NodePage {
    chrome: Option<Chrome>,
    name: String,
    state: &'static str,
    facts: Vec<(&'static str, String)>,
    checks: Vec<CheckRow>,
    log: Vec<LogRow>,
    log_href: String,
    items: Vec<ItemRow>,
}

/// The last `backlog` lines of `node`'s log.
async fn recent_log(
    s: &Session,
    node: &str,
    backlog: u64,
) -> Result<Vec<crate::net::proto::LogLine>, ClientError> {
    let mut answers = s
        .client
        .request(RequestBody::SubscribeLogs(SubscribeLogs {
            nodes: vec![node.to_string()],
            backlog,
            ..Default::default()
        }))
        .await?;
    let mut lines = Vec::new();
    loop {
        match answers.next().await {
            Some(Ok(ResponseBody::LogLines(b))) => {
                lines.extend(b.lines);
                if b.done {
                    return Ok(lines);
                }
            }
            Some(Ok(ResponseBody::Error(e))) => return Err(ClientError::Remote(e)),
            Some(Ok(other)) => return Err(unexpected(&other)),
            Some(Err(e)) => return Err(e.into()),
            None => return Ok(lines),
        }
    }
}

pub fn log_row(l: &crate::net::proto::LogLine) -> LogRow {
    LogRow {
        time: crate::timefmt::rfc3339_ms(l.time_ms),
        level: l.level.as_str(),
        source: l.source.clone(),
        message: l.message.clone(),
    }
}

pub async fn node(Authed(s, _): Authed, Path(name): Path<String>) -> Response {
    let found = match s.client.query_nodes(vec![format!("name={name}")]).await {
        Ok(n) => n.into_iter().find(|n| n.name == name),
        Err(e) => return client_error(&s, "nodes", e),
    };
    let Some(n) = found else {
        return super::error_page(
            Some(s.chrome("nodes")),
            axum::http::StatusCode::NOT_FOUND,
            &format!("There is no node `{name}`."),
        );
    };
    let now = now_ms();
    let (checks, log, items) = tokio::join!(
        s.client.query_checks(Some(name.clone()), Vec::new()),
        recent_log(&s, &name, NODE_LOG_LINES),
        s.client.query_inventory(vec![format!("node={name}")]),
    );
    let checks = match checks {
        Ok(c) => c,
        Err(e) => return client_error(&s, "nodes", e),
    };
    let log = match log {
        Ok(l) => l,
        Err(e) => return client_error(&s, "nodes", e),
    };
    let items = match items {
        Ok(i) => i,
        Err(e) => return client_error(&s, "nodes", e),
    };
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    html(&NodePage {
        chrome: Some(s.chrome("nodes")),
        state: n.state.as_str(),
        facts: vec![
            ("Address", n.addr.clone()),
            ("Hostname", n.hostname.clone()),
            ("Version", n.version.clone()),
            ("Labels", labels.join(" ")),
            ("First seen", when(n.first_seen_ms, now)),
            ("Last seen", when(n.last_seen_ms, now)),
        ],
        checks: checks.iter().map(|c| CheckRow::from(c, now)).collect(),
        log: log.iter().map(log_row).collect(),
        log_href: format!("/logs?{}", query_string(&[("node", &name)])),
        items: items
            .iter()
            .map(|i| ItemRow {
                kind: i.kind.clone(),
                key: i.key.clone(),
                attrs: i
                    .attrs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            })
            .collect(),
        name,
    })
}

#[derive(Deserialize, Default)]
pub struct ChecksQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    state: String,
    page: Option<usize>,
}

#[derive(Template)]
#[template(path = "checks.html")]
struct ChecksPage {
    chrome: Option<Chrome>,
    filter: String,
    state: String,
    error: String,
    rows: Vec<CheckRow>,
    paging: Paging,
}

fn check_rank(s: CheckState) -> u8 {
    match s {
        CheckState::Critical => 0,
        CheckState::Unknown => 1,
        CheckState::Warning => 2,
        CheckState::Pending => 3,
        CheckState::Ok => 4,
    }
}

pub async fn checks(Authed(s, _): Authed, Query(q): Query<ChecksQuery>) -> Response {
    let mut filters = split_filters(&q.filter);
    match q.state.as_str() {
        "problems" => filters.push("state!=ok".into()),
        "ok" | "warning" | "critical" | "unknown" | "pending" => {
            filters.push(format!("state={}", q.state))
        }
        _ => {}
    }
    let (mut checks, error) = match s.client.query_checks(None, filters).await {
        Ok(c) => (c, String::new()),
        Err(ClientError::Remote(e)) => (Vec::new(), e.message),
        Err(e) => return client_error(&s, "checks", e),
    };
    checks.sort_by(|a, b| {
        check_rank(a.state)
            .cmp(&check_rank(b.state))
            .then(a.node.cmp(&b.node))
            .then(a.name.cmp(&b.name))
    });
    let paging = Paging::new(
        checks.len(),
        q.page,
        query_string(&[("filter", &q.filter), ("state", &q.state)]),
    );
    let now = now_ms();
    html(&ChecksPage {
        chrome: Some(s.chrome("checks")),
        rows: checks[paging.range()]
            .iter()
            .map(|c| CheckRow::from(c, now))
            .collect(),
        filter: q.filter,
        state: q.state,
        error,
        paging,
    })
}

#[derive(Deserialize, Default)]
pub struct EventsQuery {
    #[serde(default)]
    filter: String,
}

pub struct EventRow {
    pub time: String,
    pub kind: String,
    pub node: String,
    pub check: String,
    pub change: String,
    pub who: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    chrome: Option<Chrome>,
    filter: String,
    error: String,
    rows: Vec<EventRow>,
}

pub async fn events(Authed(s, _): Authed, Query(q): Query<EventsQuery>) -> Response {
    let (events, error) = match s
        .client
        .query_events(split_filters(&q.filter), EVENTS)
        .await
    {
        Ok(e) => (e, String::new()),
        Err(ClientError::Remote(e)) => (Vec::new(), e.message),
        Err(e) => return client_error(&s, "events", e),
    };
    let rows = events
        .iter()
        .map(|e| EventRow {
            time: crate::timefmt::rfc3339(e.time_ms),
            kind: e.kind.clone(),
            node: e.node.clone().unwrap_or_default(),
            check: e.check.clone().unwrap_or_default(),
            change: match (&e.previous_state, &e.state) {
                (Some(a), Some(b)) => format!("{a} → {b}"),
                (None, Some(b)) => b.clone(),
                _ => String::new(),
            },
            who: e.who.clone().unwrap_or_default(),
            message: e.message.clone(),
        })
        .collect();
    html(&EventsPage {
        chrome: Some(s.chrome("events")),
        filter: q.filter,
        error,
        rows,
    })
}

/// Counts per value, for small summaries.
pub fn tally<'a>(values: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut out = BTreeMap::new();
    for v in values {
        *out.entry(v).or_insert(0) += 1;
    }
    out
}
