//! Nodes: every node, its state and checks; `s` sorts.

use super::prelude::*;
use crate::tui::app::Conn;
use crate::tui::rows::NodeRow;
use crate::tui::ui::clip;

/// How the Nodes view is sorted (`s` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeSort {
    #[default]
    Name,
    State,
    LastSeen,
    Problems,
}

impl NodeSort {
    pub fn next(self) -> NodeSort {
        match self {
            NodeSort::Name => NodeSort::State,
            NodeSort::State => NodeSort::LastSeen,
            NodeSort::LastSeen => NodeSort::Problems,
            NodeSort::Problems => NodeSort::Name,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            NodeSort::Name => "name",
            NodeSort::State => "state",
            NodeSort::LastSeen => "last seen",
            NodeSort::Problems => "problems",
        }
    }
}

pub struct Nodes;

impl ViewSpec for Nodes {
    fn keys(&self, _app: &App) -> &'static str {
        "j/k move  Enter details  / filter  s sort  : cmd  ? help  q quit"
    }

    fn refilter(&self, app: &mut App) {
        super::refilter(&mut app.nodes, node_text);
        let sort = app.node_sort;
        super::sort(&mut app.nodes, |x, y| {
            let by = match sort {
                NodeSort::Name => std::cmp::Ordering::Equal,
                NodeSort::State => state_rank(&x.state).cmp(&state_rank(&y.state)),
                NodeSort::LastSeen => y.last_seen.cmp(&x.last_seen),
                NodeSort::Problems => problems(y).cmp(&problems(x)),
            };
            by.then_with(|| x.name.cmp(&y.name))
        });
    }

    fn key(&self, app: &mut App, key: KeyCode) -> Option<Vec<Effect>> {
        if key != KeyCode::Char('s') {
            return None;
        }
        app.node_sort = app.node_sort.next();
        self.refilter(app);
        Some(Vec::new())
    }

    fn render(&self, app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let Some(rows) = &app.nodes.rows else {
            let text = match app.conn {
                Conn::Connected | Conn::Connecting => "loading nodes...",
                Conn::Lost { .. } => "no nodes: not connected to configd",
            };
            return no_data(theme, text, area, buf);
        };
        let title = format!(
            "NAME ({}/{}, by {})",
            app.nodes.visible.len(),
            rows.len(),
            app.node_sort.label()
        );
        let widths = [
            Min(16),
            Length(7),
            Length(8),
            Length(14),
            Length(8),
            Fill(1),
        ];
        grid(
            theme,
            &app.nodes,
            Row::new(vec![
                title,
                "STATE".into(),
                "SEEN".into(),
                "CHECKS".into(),
                "VERSION".into(),
                "LABELS".into(),
            ]),
            &widths,
            |n| {
                let c = &n.checks;
                let mut checks = vec![Span::styled(format!("{}ok", c.ok), theme.state("ok"))];
                // The others by their first letter: 1w 2c 1u 1p.
                for (state, count) in c.named().into_iter().skip(1) {
                    if count > 0 {
                        let short = &state[..1];
                        checks.push(Span::styled(format!(" {count}{short}"), theme.state(state)));
                    }
                }
                let labels: Vec<String> =
                    n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                vec![
                    Cell::from(n.name.as_str()),
                    Cell::from(Span::styled(n.state.as_str(), theme.state(&n.state))),
                    Cell::from(app.ago(&n.last_seen)),
                    Cell::from(Line::from(checks)),
                    Cell::from(n.version.as_str()),
                    Cell::from(labels.join(",")),
                ]
            },
            area,
            buf,
        );
    }

    fn details(&self, app: &App) -> Option<(String, Vec<Line<'static>>)> {
        let n = app.nodes.selected_row()?;
        let c = &n.checks;
        let mut lines = vec![
            kv("state", n.state.clone()),
            kv("address", n.addr.clone()),
            kv("version", n.version.clone()),
            kv("first seen", n.first_seen.clone()),
            kv(
                "last seen",
                format!("{} ({})", n.last_seen, app.ago(&n.last_seen)),
            ),
            kv(
                "checks",
                format!(
                    "{} ok, {} warning, {} critical, {} unknown, {} pending",
                    c.ok, c.warning, c.critical, c.unknown, c.pending
                ),
            ),
        ];
        for (k, v) in &n.labels {
            lines.push(kv("label", format!("{k}={v}")));
        }
        // Every check of the node (the problems only, until the full list
        // arrived).
        match app.checks.rows.as_ref().or(app.problems.rows.as_ref()) {
            None => lines.push(Line::from("checks: not received from configd yet")),
            Some(rows) => {
                lines.push(Line::from(""));
                for p in rows
                    .iter()
                    .filter(|p| p.node == n.name && !p.name.is_empty())
                {
                    lines.push(Line::from(format!(
                        "{:<16} {:<8} {}{}",
                        clip(&p.name, 16),
                        p.state,
                        if p.stale { "(stale) " } else { "" },
                        p.output
                    )));
                }
            }
        }
        Some((format!("node {}", n.name), lines))
    }
}

/// What plain words of the filter search.
fn node_text(n: &NodeRow) -> String {
    let mut s = format!("{} {} {} {}", n.name, n.state, n.addr, n.version);
    for (k, v) in &n.labels {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}

fn state_rank(s: &str) -> u8 {
    match s {
        "down" => 0,
        "pending" => 1,
        _ => 2,
    }
}

fn problems(n: &NodeRow) -> u32 {
    n.checks.critical + n.checks.warning + n.checks.unknown
}
