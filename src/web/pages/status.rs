//! Overview, nodes, one node, checks and events: the read-only pages,
//! each built from the same queries `monit-cli query` sends.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::Response;
use serde::Deserialize;

use super::{
    client_error, filters, html, listed, pairs, query_string, split_filters, when, Chrome, Paging,
};
use crate::model::check::{severity, CheckJson, ProblemJson};
use crate::model::event::EventJson;
use crate::model::log::LogLineJson;
use crate::model::node::{CheckCounts, NodeJson};
use crate::net::client::{unexpected, ClientError};
use crate::net::proto::{
    InventoryItem, NodeState, NodeView, ProblemView, RequestBody, ResponseBody, SubscribeLogs,
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

pub async fn problems(session: &Session) -> Result<Vec<ProblemView>, ClientError> {
    let mut all = session.client.query_problems(None, Vec::new()).await?;
    all.sort_by(|a, b| {
        severity(&a.state)
            .cmp(&severity(&b.state))
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
    problems: Vec<ProblemJson>,
    more_problems: usize,
    /// The first nodes, down ones first; the rest are on the nodes page.
    node_rows: Vec<NodeJson>,
}

pub async fn overview(Authed(s, _): Authed) -> Result<Response, Response> {
    let error = |e| client_error(&s, "overview", e);
    let mut nodes = s.client.query_nodes(Vec::new()).await.map_err(error)?;
    let all = problems(&s).await.map_err(error)?;
    let count = |st: NodeState| nodes.iter().filter(|n| n.state == st).count();
    let (up, down, pending) = (
        count(NodeState::Up),
        count(NodeState::Down),
        count(NodeState::Pending),
    );
    let mut checks = CheckCounts::default().named().map(|(name, _)| (name, 0u64));
    for n in &nodes {
        for (slot, (_, v)) in checks.iter_mut().zip(n.checks.named()) {
            slot.1 += u64::from(v);
        }
    }
    let shown = OVERVIEW_NODES.min(nodes.len());
    if shown > 0 && shown < nodes.len() {
        nodes.select_nth_unstable_by(shown - 1, by_state);
    }
    nodes[..shown].sort_by(by_state);
    Ok(html(&Overview {
        node_rows: nodes[..shown].iter().map(NodeJson::from).collect(),
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
            .map(ProblemJson::from)
            .collect(),
    }))
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

#[derive(Template)]
#[template(path = "nodes.html")]
struct NodesPage {
    chrome: Option<Chrome>,
    filter: String,
    state: String,
    sort: String,
    error: String,
    rows: Vec<NodeJson>,
    paging: Paging,
}

fn state_rank(s: NodeState) -> u8 {
    match s {
        NodeState::Down => 0,
        NodeState::Pending => 1,
        NodeState::Up => 2,
    }
}

/// Down nodes first, then pending, then up; by name within each.
fn by_state(a: &NodeView, b: &NodeView) -> std::cmp::Ordering {
    state_rank(a.state)
        .cmp(&state_rank(b.state))
        .then_with(|| a.name.cmp(&b.name))
}

pub async fn nodes(
    Authed(s, _): Authed,
    Query(q): Query<NodesQuery>,
) -> Result<Response, Response> {
    let mut filters = split_filters(&q.filter);
    if matches!(q.state.as_str(), "up" | "down" | "pending") {
        filters.push(format!("state={}", q.state));
    }
    let (mut nodes, error) = listed(&s, "nodes", s.client.query_nodes(filters).await)?;
    let problems = |n: &NodeView| n.checks.warning + n.checks.critical + n.checks.unknown;
    match q.sort.as_str() {
        "state" => nodes.sort_by(by_state),
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
    Ok(html(&NodesPage {
        chrome: Some(s.chrome("nodes")),
        rows: nodes[paging.range()].iter().map(NodeJson::from).collect(),
        filter: q.filter,
        state: q.state,
        sort: q.sort,
        error,
        paging,
    }))
}

#[derive(Template)]
#[template(path = "node.html")]
struct NodePage<'a> {
    chrome: Option<Chrome>,
    name: String,
    state: &'static str,
    facts: Vec<(&'static str, String)>,
    checks: Vec<CheckJson>,
    log: Vec<LogLineJson<'a>>,
    log_href: String,
    items: Vec<InventoryItem>,
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

pub async fn node(Authed(s, _): Authed, Path(name): Path<String>) -> Result<Response, Response> {
    let error = |e| client_error(&s, "nodes", e);
    let found = s.client.query_nodes(vec![format!("name={name}")]).await;
    let Some(n) = found.map_err(error)?.into_iter().find(|n| n.name == name) else {
        return Err(super::error_page(
            Some(s.chrome("nodes")),
            axum::http::StatusCode::NOT_FOUND,
            &format!("There is no node `{name}`."),
        ));
    };
    let now = now_ms();
    let (checks, log, items) = tokio::join!(
        s.client.query_checks(Some(name.clone()), Vec::new()),
        recent_log(&s, &name, NODE_LOG_LINES),
        s.client.query_inventory(vec![format!("node={name}")]),
    );
    let log = log.map_err(error)?;
    Ok(html(&NodePage {
        chrome: Some(s.chrome("nodes")),
        state: n.state.as_str(),
        facts: vec![
            ("Address", n.addr.clone()),
            ("Hostname", n.hostname.clone()),
            ("Version", n.version.clone()),
            ("Labels", pairs(&n.labels)),
            ("First seen", when(n.first_seen_ms, now)),
            ("Last seen", when(n.last_seen_ms, now)),
        ],
        checks: checks.map_err(error)?.iter().map(CheckJson::from).collect(),
        log: log.iter().map(LogLineJson::from).collect(),
        log_href: format!("/logs?{}", query_string(&[("node", &name)])),
        items: items.map_err(error)?,
        name,
    }))
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
    rows: Vec<CheckJson>,
    paging: Paging,
}

pub async fn checks(
    Authed(s, _): Authed,
    Query(q): Query<ChecksQuery>,
) -> Result<Response, Response> {
    let mut filters = split_filters(&q.filter);
    match q.state.as_str() {
        "problems" => filters.push("state!=ok".into()),
        "ok" | "warning" | "critical" | "unknown" | "pending" => {
            filters.push(format!("state={}", q.state))
        }
        _ => {}
    }
    let (mut checks, error) = listed(&s, "checks", s.client.query_checks(None, filters).await)?;
    checks.sort_by(|a, b| {
        severity(a.state.as_str())
            .cmp(&severity(b.state.as_str()))
            .then(a.node.cmp(&b.node))
            .then(a.name.cmp(&b.name))
    });
    let paging = Paging::new(
        checks.len(),
        q.page,
        query_string(&[("filter", &q.filter), ("state", &q.state)]),
    );
    Ok(html(&ChecksPage {
        chrome: Some(s.chrome("checks")),
        rows: checks[paging.range()].iter().map(CheckJson::from).collect(),
        filter: q.filter,
        state: q.state,
        error,
        paging,
    }))
}

#[derive(Deserialize, Default)]
pub struct EventsQuery {
    #[serde(default)]
    filter: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    chrome: Option<Chrome>,
    filter: String,
    error: String,
    rows: Vec<EventJson>,
}

pub async fn events(
    Authed(s, _): Authed,
    Query(q): Query<EventsQuery>,
) -> Result<Response, Response> {
    let asked = s
        .client
        .query_events(split_filters(&q.filter), EVENTS)
        .await;
    let (events, error) = listed(&s, "events", asked)?;
    Ok(html(&EventsPage {
        chrome: Some(s.chrome("events")),
        filter: q.filter,
        error,
        rows: events.iter().map(EventJson::from).collect(),
    }))
}

/// Counts per value, for small summaries.
pub fn tally<'a>(values: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut out = BTreeMap::new();
    for v in values {
        *out.entry(v).or_insert(0) += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pages show the JSON forms as the row structs they replaced did:
    /// a node that is down as `(node)`, flags joined, attempts, `never`.
    #[test]
    fn overview_and_checks_render_the_json_forms() {
        let down = ProblemView {
            node: "web 1".into(),
            check: None,
            state: "down".into(),
            state_type: "hard".into(),
            since_ms: 0,
            output: "no heartbeat".into(),
            acknowledged: true,
            in_downtime: false,
            flapping: false,
            stale: true,
        };
        let node = NodeJson {
            name: "web 1".into(),
            state: "down".into(),
            addr: "10.0.0.1".into(),
            first_seen: crate::timefmt::rfc3339(1),
            last_seen: crate::timefmt::rfc3339(now_ms() - 300_000),
            version: "0.1.0".into(),
            labels: BTreeMap::from([("role".to_string(), "web".to_string())]),
            checks: crate::net::proto::CheckCounts {
                critical: 2,
                ..Default::default()
            },
        };
        let page = Overview {
            chrome: None,
            nodes: 1,
            up: 0,
            down: 1,
            pending: 0,
            checks: [
                ("ok", 0),
                ("warning", 0),
                ("critical", 2),
                ("unknown", 0),
                ("pending", 0),
            ],
            problems: vec![ProblemJson::from(&down)],
            more_problems: 0,
            node_rows: vec![node],
        };
        let html = page.render().unwrap();
        for shown in [
            "<td>(node)</td>",
            "<td>never</td>",
            "<td>acknowledged, stale</td>",
            "href=\"/nodes/web%201\"",
            "class=\"warn\">0 ok, 0 warn, 2 crit, 0 unkn, 0 pend</td><td>5m ago</td>",
        ] {
            assert!(html.contains(shown), "no {shown} in {html}");
        }
        let check = CheckJson {
            node: "web 1".into(),
            name: "disk".into(),
            state: "pending".into(),
            state_type: "soft".into(),
            attempt: 1,
            max_attempts: 3,
            ..Default::default()
        };
        let page = ChecksPage {
            chrome: None,
            filter: String::new(),
            state: String::new(),
            error: String::new(),
            rows: vec![check],
            paging: Paging::new(1, None, String::new()),
        };
        let html = page.render().unwrap();
        assert!(
            html.contains("<td>soft</td><td>1/3</td><td>never</td>"),
            "{html}"
        );
    }
}
