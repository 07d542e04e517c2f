//! Drawing: `impl Widget for &App`. Rendering reads the state and never
//! changes it; only the rows on screen are built, so 10,000 nodes or a
//! 20,000-line log cost what a screenful costs.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Widget, Wrap};

use super::app::{App, Conn, Mode, View};
use super::rows::{LogLine, ProblemRow};
use super::viewfilter::find_all_ci;
use crate::timefmt::{ago, parse_rfc3339};

/// Colours, or none at all under NO_COLOR (bold and reverse remain).
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    fn state(&self, state: &str) -> Style {
        let c = match state {
            "up" | "ok" => Color::Green,
            "down" | "critical" | "failed" | "lost" | "error" | "ERROR" => Color::Red,
            "warning" | "timeout" | "warn" | "WARN" => Color::Yellow,
            "unknown" | "cancelled" => Color::Magenta,
            "running" => Color::Cyan,
            _ => Color::Gray,
        };
        let s = self.fg(c);
        if matches!(state, "down" | "critical") {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
    }

    fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    fn banner(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    fn hit(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = Theme {
            color: !self.no_color,
        };
        let lost = matches!(self.conn, Conn::Lost { .. });
        // A long status (an error, a notice) wraps onto up to 3 lines
        // rather than being cut at the edge.
        let status_line = self.status_line(&theme);
        let width = usize::from(area.width.max(1));
        let status_height = status_line.width().div_ceil(width).clamp(1, 3) as u16;
        let [header, tabs, banner, body, status, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(u16::from(lost)),
            Constraint::Min(1),
            Constraint::Length(status_height),
            Constraint::Length(1),
        ])
        .areas(area);
        self.render_header(&theme, header, buf);
        self.render_tabs(&theme, tabs, buf);
        if let Conn::Lost { reason, retry_in } = &self.conn {
            // What is happening first: the reason can run past the width.
            Paragraph::new(format!(
                " connection to {} lost; reconnecting (next try in {}s): {reason}",
                self.server,
                retry_in.as_secs().max(1)
            ))
            .style(theme.banner())
            .render(banner, buf);
        }
        match self.view {
            View::Nodes => self.render_nodes(&theme, body, buf),
            View::Problems => self.render_problems(&theme, body, buf),
            View::Logs => self.render_logs(&theme, body, buf),
            View::Jobs => self.render_jobs(&theme, body, buf),
            View::Inventory => self.render_inventory(&theme, body, buf),
            View::Events => self.render_events(&theme, body, buf),
            View::Checks => self.render_checks(&theme, body, buf),
        }
        Paragraph::new(status_line)
            .wrap(Wrap { trim: false })
            .render(status, buf);
        self.render_footer(&theme, footer, buf);
        match &self.mode {
            Mode::Help => render_help(&theme, area, buf, self.help_scroll),
            Mode::Details => self.render_details(&theme, area, buf),
            Mode::Confirm(p) => render_confirm(&theme, &p.question, area, buf),
            _ => {}
        }
    }
}

fn no_data(theme: &Theme, what: &str, area: Rect, buf: &mut Buffer) {
    Paragraph::new(vec![Line::from(""), Line::from(format!("  {what}"))])
        .style(theme.dim())
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

/// The rows of `table` that fit in `area` under a header line, the
/// selected one highlighted: `cells` builds only the rows on screen.
fn grid<'a, T>(
    theme: &Theme,
    table: &'a super::app::Table<T>,
    header: Row<'a>,
    widths: &[Constraint],
    cells: impl Fn(&'a T) -> Vec<Cell<'a>>,
    area: Rect,
    buf: &mut Buffer,
) {
    let page = usize::from(area.height.saturating_sub(1));
    let body: Vec<Row> = table
        .page(page)
        .into_iter()
        .map(|(selected, t)| {
            let row = Row::new(cells(t));
            if selected {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    Table::new(body, widths.iter().copied())
        .header(header.style(theme.header()))
        .render(area, buf);
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('~');
        out
    }
}

fn short_time(rfc: &str) -> &str {
    rfc.get(11..19).unwrap_or(rfc)
}

impl App {
    fn ago(&self, rfc: &str) -> String {
        parse_rfc3339(rfc)
            .map(|ms| ago(ms, self.now_ms))
            .unwrap_or_else(|| "-".into())
    }

    fn render_header(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let (conn_text, conn_style) = match &self.conn {
            Conn::Connecting => ("connecting", theme.fg(Color::Yellow)),
            Conn::Connected => ("connected", theme.fg(Color::Green)),
            Conn::Lost { .. } => ("DISCONNECTED", theme.banner()),
        };
        let (up, down, pending) = self.node_counts();
        let mut spans = vec![
            Span::styled(" monit ", theme.header()),
            Span::raw(self.server.clone()),
            Span::raw(" "),
            Span::styled(conn_text, conn_style),
            Span::raw(format!("  nodes {}: ", self.nodes.total())),
            Span::styled(format!("{up} up"), theme.state("up")),
            Span::raw(", "),
            Span::styled(
                format!("{down} down"),
                theme.state(if down > 0 { "down" } else { "" }),
            ),
        ];
        if pending > 0 {
            spans.push(Span::raw(format!(", {pending} pending")));
        }
        if let Some(rows) = &self.problems.rows {
            let n = rows.iter().filter(|p| p.state != "ok").count();
            spans.push(Span::raw(format!("  problems {n}")));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }

    fn render_tabs(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let mut spans = Vec::new();
        for v in View::ALL {
            let text = format!(" {} {} ", v.index() + 1, v.title());
            if v == self.view {
                spans.push(Span::styled(
                    text,
                    theme.selected().add_modifier(Modifier::BOLD),
                ));
            } else {
                spans.push(Span::styled(text, theme.dim()));
            }
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }

    /// The status line: the filter or command being typed, a notice, an
    /// error. Long ones wrap (see `render`).
    fn status_line(&self, theme: &Theme) -> Line<'static> {
        match &self.mode {
            Mode::Filter { .. } => Line::from(vec![
                Span::styled("/", theme.header()),
                Span::raw(self.input.clone()),
                Span::styled("_", theme.selected()),
                Span::styled(
                    match self.view {
                        View::Logs => "   node=N level=L text",
                        _ => "   text or key=value, key~regex",
                    },
                    theme.dim(),
                ),
            ]),
            Mode::Command { error } => {
                let mut spans = vec![
                    Span::styled(":", theme.header()),
                    Span::raw(self.input.clone()),
                    Span::styled("_", theme.selected()),
                ];
                if let Some(e) = error {
                    spans.push(Span::styled(format!("  {e}"), theme.state("critical")));
                } else {
                    let c = super::command::candidates(&self.input, &self.command_names);
                    let sigs = super::command::signatures(&self.input, &self.commands);
                    if !c.is_empty() {
                        spans.push(Span::styled(format!("   {}", c.join(" ")), theme.dim()));
                    } else if !sigs.is_empty() {
                        spans.push(Span::styled(
                            format!("   {}", sigs.join("  |  ")),
                            theme.dim(),
                        ));
                    }
                }
                Line::from(spans)
            }
            _ => {
                let filter = self.filter_of(self.view);
                let error = match self.view {
                    View::Nodes => self.nodes.filter_error.as_ref(),
                    View::Problems => self.problems.filter_error.as_ref(),
                    View::Jobs => self.jobs.filter_error.as_ref(),
                    View::Inventory => self.inventory.filter_error.as_ref(),
                    View::Events => self.events.filter_error.as_ref(),
                    View::Checks => self.checks.filter_error.as_ref(),
                    View::Logs => None,
                };
                let mut spans = Vec::new();
                if let Some(n) = &self.notice {
                    spans.push(Span::styled(n.clone(), theme.fg(Color::Cyan)));
                    spans.push(Span::raw("  "));
                }
                if let Some(e) = error {
                    spans.push(Span::styled(e.clone(), theme.state("critical")));
                } else if !filter.is_empty() {
                    spans.push(Span::raw(format!("filter: {filter}")));
                }
                Line::from(spans)
            }
        }
    }

    fn render_footer(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let hints = match (&self.mode, self.view) {
            (Mode::Filter { .. }, _) => "Enter keep  Esc cancel  ^U clear",
            (Mode::Command { .. }, _) => "Enter run  Tab complete  Esc cancel",
            (Mode::Confirm(_), _) => "y confirm  n cancel",
            (Mode::Help | Mode::Details, _) => "Esc close",
            (_, View::Nodes) => {
                "1-7 view  j/k move  Enter details  / filter  s sort  : cmd  ? help  q quit"
            }
            (_, View::Problems) => {
                "1-7 view  j/k move  Enter details  / filter  a ack  d downtime  ? help  q quit"
            }
            (_, View::Logs) => {
                if self.logs.follow {
                    "1-7 view  k scroll back  f pause  Enter last line  / filter  ? help  q quit"
                } else {
                    "1-7 view  j/k scroll  G/f follow  Enter the marked line  / filter  ? help"
                }
            }
            (_, View::Checks) => {
                "1-7 view  j/k move  Enter details  / filter  s sort  : cmd  ? help  q quit"
            }
            (_, _) => "1-7 view  j/k move  Enter details  / filter  : cmd  ? help  q quit",
        };
        Paragraph::new(Line::from(Span::styled(hints, theme.dim()))).render(area, buf);
    }

    fn render_nodes(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let Some(rows) = &self.nodes.rows else {
            let text = match self.conn {
                Conn::Connected | Conn::Connecting => "loading nodes...",
                Conn::Lost { .. } => "no nodes: not connected to configd",
            };
            return no_data(theme, text, area, buf);
        };
        let title = format!(
            "NAME ({}/{}, by {})",
            self.nodes.visible.len(),
            rows.len(),
            self.node_sort.label()
        );
        grid(
            theme,
            &self.nodes,
            Row::new(vec![
                title,
                "STATE".into(),
                "SEEN".into(),
                "CHECKS".into(),
                "VERSION".into(),
                "LABELS".into(),
            ]),
            &[
                Constraint::Min(16),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(14),
                Constraint::Length(8),
                Constraint::Fill(1),
            ],
            |n| {
                let c = &n.checks;
                let mut checks = vec![Span::styled(format!("{}ok", c.ok), theme.state("ok"))];
                for (count, name, state) in [
                    (c.warning, "w", "warning"),
                    (c.critical, "c", "critical"),
                    (c.unknown, "u", "unknown"),
                    (c.pending, "p", "pending"),
                ] {
                    if count > 0 {
                        checks.push(Span::styled(format!(" {count}{name}"), theme.state(state)));
                    }
                }
                let labels: Vec<String> =
                    n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                vec![
                    Cell::from(n.name.as_str()),
                    Cell::from(Span::styled(n.state.as_str(), theme.state(&n.state))),
                    Cell::from(self.ago(&n.last_seen)),
                    Cell::from(Line::from(checks)),
                    Cell::from(n.version.as_str()),
                    Cell::from(labels.join(",")),
                ]
            },
            area,
            buf,
        );
    }

    fn render_problems(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        if self.problems.rows.is_none() {
            return no_data(
                theme,
                "no data yet: waiting for the check list from configd (non-OK checks are listed here)",
                area,
                buf,
            );
        }
        if self.problems.visible.is_empty() {
            return no_data(
                theme,
                "no problems: every node is up and every check is OK",
                area,
                buf,
            );
        }
        grid(
            theme,
            &self.problems,
            Row::new(vec![
                "NODE", "CHECK", "STATE", "TYPE", "ADF", "SINCE", "OUTPUT",
            ]),
            &[
                Constraint::Length(12),
                Constraint::Length(14),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(3),
                Constraint::Length(7),
                Constraint::Fill(1),
            ],
            |p| {
                let mut marks = String::new();
                marks.push(if p.acknowledged { 'A' } else { ' ' });
                marks.push(if p.in_downtime { 'D' } else { ' ' });
                marks.push(if p.flapping { 'F' } else { ' ' });
                // A check of a node that is down: its last known state, dimmed.
                let state = if p.stale {
                    theme.dim()
                } else {
                    theme.state(&p.state)
                };
                vec![
                    Cell::from(p.node.as_str()),
                    Cell::from(if p.name.is_empty() {
                        "(node)"
                    } else {
                        p.name.as_str()
                    }),
                    Cell::from(Span::styled(p.state.as_str(), state)),
                    Cell::from(if p.name.is_empty() {
                        String::new()
                    } else if p.stale {
                        "stale".to_string()
                    } else {
                        format!("{} {}/{}", p.state_type, p.attempt, p.max_attempts)
                    }),
                    Cell::from(marks),
                    Cell::from(self.ago(&p.last_change)),
                    Cell::from(p.output.as_str()),
                ]
            },
            area,
            buf,
        );
    }

    fn render_logs(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        if !self.logs.served {
            return no_data(
                theme,
                "no data yet: waiting for the log stream from configd (the live tail appears here)",
                area,
                buf,
            );
        }
        let [title, lines_area] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        let state = if self.logs.follow {
            Span::styled("following", theme.fg(Color::Green))
        } else {
            Span::styled(
                "PAUSED",
                theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            )
        };
        Paragraph::new(Line::from(vec![
            Span::styled("LOG ", theme.header()),
            state,
            Span::raw(format!(
                "  {} lines kept, {} received",
                self.logs.buffer.len(),
                self.logs.received
            )),
        ]))
        .render(title, buf);
        let window = self.log_window(usize::from(lines_area.height));
        if window.is_empty() {
            return no_data(theme, "no log lines match", lines_area, buf);
        }
        let search = self.logs.parsed.text.as_deref();
        let last = window.len().saturating_sub(1);
        let lines: Vec<Line> = window
            .iter()
            .enumerate()
            .map(|(i, (_, l))| {
                let line = log_line(theme, l, search);
                // Paused: the bottom line is the one Enter shows in full.
                if !self.logs.follow && i == last {
                    line.patch_style(theme.selected())
                } else {
                    line
                }
            })
            .collect();
        Paragraph::new(Text::from(lines)).render(lines_area, buf);
    }

    fn render_jobs(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        if self.jobs.rows.is_none() {
            return no_data(
                theme,
                "no data yet: waiting for the job list from configd (`:run` jobs appear here)",
                area,
                buf,
            );
        }
        if self.jobs.visible.is_empty() {
            return no_data(theme, "no jobs", area, buf);
        }
        grid(
            theme,
            &self.jobs,
            Row::new(vec!["ID", "STATE", "STARTED", "WHO", "COMMAND", "TARGETS"]),
            &[
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Fill(2),
                Constraint::Fill(1),
            ],
            |j| {
                let mut nodes: Vec<&str> = j.targets.iter().map(|t| t.node.as_str()).collect();
                for st in &j.steps {
                    if let Some(n) = st.node.as_deref() {
                        if !nodes.contains(&n) {
                            nodes.push(n);
                        }
                    }
                }
                vec![
                    Cell::from(j.id.as_str()),
                    Cell::from(Span::styled(j.state(), theme.state(j.state()))),
                    Cell::from(self.ago(&j.started)),
                    Cell::from(j.who.as_str()),
                    Cell::from(format!("{} {}", j.command, j.args.join(" "))),
                    Cell::from(nodes.join(",")),
                ]
            },
            area,
            buf,
        );
    }

    fn render_inventory(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let Some(rows) = &self.inventory.rows else {
            return no_data(
                theme,
                "no data yet: waiting for the inventory from configd (zones by state appear here)",
                area,
                buf,
            );
        };
        let [summary, table] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        // Items by kind and state, over the filtered rows.
        let mut counts: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
        for &i in &self.inventory.visible {
            let r = &rows[i];
            let state = r.attrs.get("state").map_or("-", String::as_str);
            *counts.entry((r.kind.as_str(), state)).or_default() += 1;
        }
        let mut spans = Vec::new();
        let mut last_kind = "";
        for ((kind, state), n) in &counts {
            if *kind != last_kind {
                spans.push(Span::styled(format!("{kind}: "), theme.header()));
                last_kind = kind;
            }
            spans.push(Span::raw(format!("{n} ")));
            spans.push(Span::styled(format!("{state}  "), theme.state(state)));
        }
        Paragraph::new(Line::from(spans)).render(summary, buf);
        grid(
            theme,
            &self.inventory,
            Row::new(vec!["KIND", "KEY", "NODE", "STATE", "ATTRS"]),
            &[
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(12),
                Constraint::Length(10),
                Constraint::Fill(1),
            ],
            |r| {
                let state = r.attrs.get("state").map_or("", String::as_str);
                let attrs: Vec<String> = r
                    .attrs
                    .iter()
                    .filter(|(k, _)| *k != "state")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                vec![
                    Cell::from(r.kind.as_str()),
                    Cell::from(r.key.as_str()),
                    Cell::from(r.node.as_str()),
                    Cell::from(Span::styled(state, theme.state(state))),
                    Cell::from(attrs.join(" ")),
                ]
            },
            table,
            buf,
        );
    }

    fn render_checks(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let Some(rows) = &self.checks.rows else {
            return no_data(
                theme,
                "no data yet: waiting for the check list from configd (every check of every node is listed here)",
                area,
                buf,
            );
        };
        if self.checks.visible.is_empty() {
            return no_data(theme, "no checks", area, buf);
        }
        let title = format!(
            "NODE {}/{} by {}",
            self.checks.visible.len(),
            rows.len(),
            self.check_sort.label()
        );
        grid(
            theme,
            &self.checks,
            Row::new(vec![
                title,
                "CHECK".into(),
                "STATE".into(),
                "TYPE".into(),
                "ADF".into(),
                "CHANGED".into(),
                "OUTPUT".into(),
            ]),
            &[
                Constraint::Length(16),
                Constraint::Length(14),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(3),
                Constraint::Length(8),
                Constraint::Fill(1),
            ],
            |p| {
                let mut marks = String::new();
                marks.push(if p.acknowledged { 'A' } else { ' ' });
                marks.push(if p.in_downtime { 'D' } else { ' ' });
                marks.push(if p.flapping { 'F' } else { ' ' });
                let state = if p.stale {
                    theme.dim()
                } else {
                    theme.state(&p.state)
                };
                vec![
                    Cell::from(p.node.as_str()),
                    Cell::from(p.name.as_str()),
                    Cell::from(Span::styled(p.state.as_str(), state)),
                    Cell::from(if p.stale {
                        "stale".to_string()
                    } else {
                        format!("{} {}/{}", p.state_type, p.attempt, p.max_attempts)
                    }),
                    Cell::from(marks),
                    Cell::from(self.ago(&p.last_change)),
                    Cell::from(p.output.as_str()),
                ]
            },
            area,
            buf,
        );
    }

    fn render_events(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        if self.events.rows.is_none() {
            return no_data(
                theme,
                "no data yet: waiting for the events from configd (state changes appear here)",
                area,
                buf,
            );
        }
        if self.events.visible.is_empty() {
            return no_data(theme, "no events", area, buf);
        }
        grid(
            theme,
            &self.events,
            Row::new(vec!["TIME", "NODE", "KIND", "MESSAGE"]),
            &[
                Constraint::Length(8),
                Constraint::Length(12),
                Constraint::Length(14),
                Constraint::Fill(1),
            ],
            |e| {
                vec![
                    Cell::from(short_time(&e.time)),
                    Cell::from(e.node.as_str()),
                    Cell::from(e.kind.as_str()),
                    Cell::from(e.message.as_str()),
                ]
            },
            area,
            buf,
        );
    }

    fn details_text(&self) -> (String, Vec<Line<'static>>) {
        let kv = |k: &str, v: String| Line::from(vec![Span::raw(format!("{k:<13}")), Span::raw(v)]);
        match self.view {
            View::Nodes => {
                let Some(n) = self.nodes.selected_row() else {
                    return (String::new(), Vec::new());
                };
                let c = &n.checks;
                let mut lines = vec![
                    kv("state", n.state.clone()),
                    kv("address", n.addr.clone()),
                    kv("version", n.version.clone()),
                    kv("first seen", n.first_seen.clone()),
                    kv(
                        "last seen",
                        format!("{} ({})", n.last_seen, self.ago(&n.last_seen)),
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
                // Every check of the node (the problems only, until the
                // full list arrived).
                match self.checks.rows.as_ref().or(self.problems.rows.as_ref()) {
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
                (format!("node {}", n.name), lines)
            }
            View::Problems => match self.problems.selected_row() {
                Some(p) => check_details(p),
                None => (String::new(), Vec::new()),
            },
            View::Checks => match self.checks.selected_row() {
                Some(p) => check_details(p),
                None => (String::new(), Vec::new()),
            },
            View::Jobs => {
                let Some(j) = self.jobs.selected_row() else {
                    return (String::new(), Vec::new());
                };
                let mut lines = vec![
                    kv("command", format!("{} {}", j.command, j.args.join(" "))),
                    kv("who", j.who.clone()),
                    kv("started", j.started.clone()),
                    kv("finished", j.finished.clone().unwrap_or_else(|| "-".into())),
                ];
                if let Some(item) = &j.item {
                    lines.push(kv("item", item.clone()));
                }
                if !j.message.is_empty() {
                    lines.push(kv("message", j.message.clone()));
                }
                for st in &j.steps {
                    let mut text = format!("{}. {} [{}]", st.index, st.doing, st.state);
                    if !st.message.is_empty() && st.state != "ok" {
                        text.push_str(&format!(" {}", st.message));
                    }
                    lines.push(kv("step", text));
                }
                for t in &j.targets {
                    lines.push(kv(
                        "target",
                        format!(
                            "{} {} exit={} {}",
                            t.node,
                            t.state,
                            t.exit_code.map_or("-".into(), |c| c.to_string()),
                            t.duration_ms.map_or(String::new(), |d| format!("{d}ms"))
                        ),
                    ));
                }
                lines.push(Line::from(""));
                match self.job_output.get(&j.id) {
                    None => lines.push(Line::from("(no output received)")),
                    Some(out) => lines.extend(out.iter().map(|l| Line::from(l.clone()))),
                }
                (format!("job {}", j.id), lines)
            }
            View::Inventory => {
                let Some(r) = self.inventory.selected_row() else {
                    return (String::new(), Vec::new());
                };
                let mut lines = vec![kv("node", r.node.clone())];
                for (k, v) in &r.attrs {
                    lines.push(kv(k, v.clone()));
                }
                (format!("{} {}", r.kind, r.key), lines)
            }
            View::Events => {
                let Some(e) = self.events.selected_row() else {
                    return (String::new(), Vec::new());
                };
                (
                    format!("event {}", e.kind),
                    vec![
                        kv("time", e.time.clone()),
                        kv("node", e.node.clone()),
                        Line::from(""),
                        Line::from(e.message.clone()),
                    ],
                )
            }
            // The bottom line of the view (the newest, or where a pause
            // stopped), in full: a long line is read here.
            View::Logs => match self.log_window(1).first() {
                Some((_, l)) => (
                    format!("log line from {}", l.node),
                    vec![
                        kv("time", l.time.clone()),
                        kv("node", l.node.clone()),
                        kv("level", l.level.clone()),
                        kv("source", l.source.clone()),
                        Line::from(""),
                        Line::from(l.message.clone()),
                    ],
                ),
                None => (String::new(), Vec::new()),
            },
        }
    }

    fn render_details(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let (title, lines) = self.details_text();
        let popup = centered(area, 90, 80);
        Clear.render(popup, buf);
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(
                Block::bordered()
                    .title(Span::styled(format!(" {title} "), theme.header()))
                    .title_bottom(" Esc close "),
            )
            .render(popup, buf);
    }
}

fn log_line<'a>(theme: &Theme, l: &'a LogLine, search: Option<&str>) -> Line<'a> {
    let mut spans = vec![
        Span::styled(short_time(&l.time), theme.dim()),
        Span::raw(" "),
        Span::raw(format!("{:<10}", l.node)),
        Span::raw(" "),
        Span::styled(format!("{:<5}", l.level), theme.state(&l.level)),
        Span::raw(" "),
    ];
    if l.source != "daemon" && !l.source.is_empty() {
        spans.push(Span::styled(format!("[{}] ", l.source), theme.dim()));
    }
    let hits = search
        .map(|s| find_all_ci(&l.message, s))
        .unwrap_or_default();
    let mut at = 0;
    for (a, b) in hits {
        if a > at {
            spans.push(Span::raw(&l.message[at..a]));
        }
        spans.push(Span::styled(&l.message[a..b], theme.hit()));
        at = b;
    }
    spans.push(Span::raw(&l.message[at..]));
    Line::from(spans)
}

/// A rectangle of `pct_w` x `pct_h` percent in the middle of `area`.
fn centered(area: Rect, pct_w: u16, pct_h: u16) -> Rect {
    let w = (area.width * pct_w / 100).max(20).min(area.width);
    let h = (area.height * pct_h / 100).max(5).min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The `?` help: keys, then what every column and abbreviation means (a
/// line with an empty key is a heading); monit-tui(1) lists it too.
pub const HELP: &[(&str, &str)] = &[
    ("", "KEYS"),
    (
        "1-7, Tab",
        "switch view: Nodes Problems Logs Jobs Inventory Events Checks",
    ),
    ("j/k, arrows", "move (in Logs: scroll back and forth)"),
    ("PgUp/PgDn g/G", "page, first, last (G in Logs: follow)"),
    ("Enter", "details of the selected row"),
    ("/", "filter: words, key=value, key~regex"),
    ("Esc", "clear the filter, close a dialog"),
    ("f", "Logs: follow / pause"),
    (
        "s",
        "Nodes: sort by name, state, last seen, problems; Checks: by node, state, last change",
    ),
    (
        "a",
        "Problems: acknowledge (a check, or a node that is down)",
    ),
    (
        "d",
        "Problems: 1h of downtime for the check (or the whole node)",
    ),
    (
        ":",
        "command: run CMD ARG... [--target SEL] (Tab completes, shows the arguments), runbook NAME ARG... (shows the plan, asks), quit",
    ),
    ("?", "this help (j/k scroll)"),
    ("q, Ctrl-C", "quit"),
    ("", "COLUMNS"),
    (
        "NAME (3/4, by)",
        "Nodes: shown/all nodes, and the sort order",
    ),
    (
        "STATE",
        "up; down (connection ended); pending (not heard from since configd started)",
    ),
    ("SEEN", "Nodes: time since the node was last heard from"),
    (
        "CHECKS",
        "Nodes: its checks by state: 12ok 1w 2c 1u 1p = ok, warning, critical, unknown, pending",
    ),
    (
        "VERSION, LABELS",
        "Nodes: the agent's version; its labels as k=v",
    ),
    (
        "NODE CHECK OUTPUT",
        "Problems, Checks: the node, the check, the first line its plugin printed",
    ),
    ("(node)", "Problems: the node itself is down (listed first)"),
    (
        "TYPE",
        "hard (confirmed) or soft (still retrying), attempt/max attempts; stale: its node is down",
    ),
    (
        "ADF",
        "A acknowledged, D in downtime, F flapping (notifications held)",
    ),
    ("SINCE, CHANGED", "time since the state last changed"),
    (
        "dimmed state",
        "a check of a node that is down: the last state known, not current",
    ),
    (
        "Logs",
        "TIME NODE LEVEL [source] message; source: daemon, job:ID, check:NAME",
    ),
    (
        "Jobs",
        "ID, STATE (running ok failed timeout cancelled lost), STARTED, WHO, COMMAND, TARGETS",
    ),
    (
        "Inventory",
        "KIND KEY, NODE hosting it, its STATE attribute, the other ATTRS",
    ),
    (
        "Events",
        "TIME, NODE, KIND (node_state, check_state, notification, ...), MESSAGE",
    ),
];

fn render_help(theme: &Theme, area: Rect, buf: &mut Buffer, scroll: u16) {
    let popup = centered(area, 90, 80);
    Clear.render(popup, buf);
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, v)| {
            if k.is_empty() {
                Line::from(Span::styled(*v, theme.header()))
            } else {
                Line::from(vec![
                    Span::styled(format!("{k:<15}"), theme.header()),
                    Span::raw(*v),
                ])
            }
        })
        .collect();
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0))
        .block(
            Block::bordered()
                .title(" help ")
                .title_bottom(" j/k scroll  Esc close "),
        )
        .render(popup, buf);
}

fn render_confirm(theme: &Theme, question: &str, area: Rect, buf: &mut Buffer) {
    // A runbook's plan is several lines: make room for them.
    let lines = question.lines().count() as u16;
    let pct = if lines > 1 {
        ((lines + 5) * 100 / area.height.max(1)).clamp(30, 90)
    } else {
        30
    };
    let popup = centered(area, 80, pct);
    Clear.render(popup, buf);
    let mut text: Vec<Line> = question
        .lines()
        .map(|l| Line::from(l.to_string()))
        .collect();
    text.push(Line::from(""));
    text.push(Line::from(Span::styled(
        "y confirm   n cancel",
        theme.header(),
    )));
    Paragraph::new(text)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" confirm "))
        .render(popup, buf);
}

/// Details of a check (Problems, Checks) or of a node that is down.
fn check_details(p: &ProblemRow) -> (String, Vec<Line<'static>>) {
    let kv = |k: &str, v: String| Line::from(vec![Span::raw(format!("{k:<13}")), Span::raw(v)]);

    let mut lines = vec![
        kv(
            "state",
            format!(
                "{} ({} {}/{})",
                p.state, p.state_type, p.attempt, p.max_attempts
            ),
        ),
        kv("last check", p.last_check.clone()),
        kv("last change", p.last_change.clone()),
        kv(
            "flags",
            format!(
                "{}{}{}",
                if p.acknowledged { "acknowledged " } else { "" },
                if p.in_downtime { "in-downtime " } else { "" },
                if p.flapping { "flapping" } else { "" }
            ),
        ),
        kv("output", p.output.clone()),
        Line::from(""),
    ];
    lines.extend(p.long_output.lines().map(|l| Line::from(l.to_string())));
    if p.name.is_empty() {
        let lines = vec![
            kv("state", "down".to_string()),
            kv("since", p.last_change.clone()),
            kv(
                "flags",
                format!(
                    "{}{}",
                    if p.acknowledged { "acknowledged " } else { "" },
                    if p.in_downtime { "in-downtime" } else { "" }
                ),
            ),
            kv("why", p.output.clone()),
            Line::from(""),
            Line::from("its checks show their last known state, marked stale"),
        ];
        return (format!("node {} is down", p.node), lines);
    }
    if p.stale {
        lines.insert(
            0,
            kv(
                "stale",
                "its node is down: the last known state".to_string(),
            ),
        );
    }
    (format!("check {} on {}", p.name, p.node), lines)
}
