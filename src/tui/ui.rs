//! Drawing: `impl Widget for &App`. Rendering reads the state and never
//! changes it; only the rows on screen are built, so 10,000 nodes or a
//! 20,000-line log cost what a screenful costs.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Widget, Wrap};

use super::app::{App, Conn, Mode, View};
use crate::timefmt::{ago, parse_rfc3339};

/// Colours, or none at all under NO_COLOR (bold and reverse remain).
pub struct Theme {
    color: bool,
}

impl Theme {
    pub(super) fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub(super) fn state(&self, state: &str) -> Style {
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

    pub(super) fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub(super) fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub(super) fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
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

    pub(super) fn hit(&self) -> Style {
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
        self.view.spec().render(self, &theme, body, buf);
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

pub(super) fn no_data(theme: &Theme, what: &str, area: Rect, buf: &mut Buffer) {
    Paragraph::new(vec![Line::from(""), Line::from(format!("  {what}"))])
        .style(theme.dim())
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

/// The rows of `table` that fit in `area` under a header line, the
/// selected one highlighted: `cells` builds only the rows on screen.
pub(super) fn grid<'a, T>(
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

pub(super) fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('~');
        out
    }
}

pub(super) fn short_time(rfc: &str) -> &str {
    rfc.get(11..19).unwrap_or(rfc)
}

/// A details line: a key column, then the value.
pub(super) fn kv(k: &str, v: String) -> Line<'static> {
    Line::from(vec![Span::raw(format!("{k:<13}")), Span::raw(v)])
}

impl App {
    pub(super) fn ago(&self, rfc: &str) -> String {
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
            let text = format!(" {} {} ", v.key(), v.title());
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
                Span::styled(self.view.spec().filter_hint(), theme.dim()),
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
                let cursor = self.cursor();
                let (filter, error) = (cursor.filter(), cursor.filter_error());
                let mut spans = Vec::new();
                if let Some(n) = &self.notice {
                    spans.push(Span::styled(n.clone(), theme.fg(Color::Cyan)));
                    spans.push(Span::raw("  "));
                }
                if let Some(e) = error {
                    spans.push(Span::styled(e.to_string(), theme.state("critical")));
                } else if !filter.is_empty() {
                    spans.push(Span::raw(format!("filter: {filter}")));
                }
                Line::from(spans)
            }
        }
    }

    fn render_footer(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let hints = match &self.mode {
            Mode::Filter { .. } => "Enter keep  Esc cancel  ^U clear".into(),
            Mode::Command { .. } => "Enter run  Tab complete  Esc cancel".into(),
            Mode::Confirm(_) => "y confirm  n cancel".into(),
            Mode::Help | Mode::Details => "Esc close".into(),
            Mode::Normal => super::views::hints(self),
        };
        Paragraph::new(Line::from(Span::styled(hints, theme.dim()))).render(area, buf);
    }

    fn render_details(&self, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let (title, lines) = self.view.spec().details(self).unwrap_or_default();
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
