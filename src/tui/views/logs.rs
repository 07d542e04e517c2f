//! Logs: the live tail; `f` pauses and `k` scrolls back, `G` follows again.

use ratatui::style::{Color, Modifier};

use super::prelude::*;
use crate::tui::logbuf::LogBuffer;
use crate::tui::rows::LogLine;
use crate::tui::viewfilter::{find_all_ci, LogFilter};

/// The Logs view's state.
#[derive(Debug, Clone, Default)]
pub struct Logs {
    pub buffer: LogBuffer,
    /// Whether any source serves logs.
    pub served: bool,
    pub follow: bool,
    /// While paused: the view shows lines before this sequence number.
    pub anchor: u64,
    pub filter: String,
    pub parsed: LogFilter,
    /// The selected line (sequence number) for details, when paused.
    pub received: u64,
}

impl Logs {
    /// Lines that pass the filter, up to `n`, ending at the anchor
    /// (paused) or the newest line (following).
    pub fn window(&self, n: usize) -> Vec<(u64, &LogLine)> {
        let end = if self.follow {
            self.buffer.end_seq()
        } else {
            self.anchor
        };
        let f = &self.parsed;
        self.buffer.last_matching(end, n, |l| f.matches(l))
    }
}

impl Cursor for Logs {
    fn filter(&self) -> &str {
        &self.filter
    }

    fn filter_mut(&mut self) -> &mut String {
        &mut self.filter
    }

    fn has_selection(&self) -> bool {
        !self.window(1).is_empty()
    }

    /// Scrolls back (pausing the tail) or forward (following again at
    /// the end).
    fn move_by(&mut self, delta: isize, page: usize) {
        let end = self.buffer.end_seq();
        let from = if self.follow { end } else { self.anchor };
        let f = self.parsed.clone();
        if delta < 0 {
            self.follow = false;
            // Keep at least a page on screen.
            let earliest = self
                .buffer
                .step_forward(self.buffer.first_seq(), page, |l| f.matches(l));
            self.anchor = self
                .buffer
                .step_back(from, delta.unsigned_abs(), |l| f.matches(l))
                .max(earliest);
            if self.anchor >= from && from == end {
                // Nothing older to show: stay at the end, paused.
                self.anchor = end;
            }
        } else if !self.follow {
            self.anchor = self
                .buffer
                .step_forward(from, delta as usize, |l| f.matches(l));
            if self.anchor >= end {
                self.follow = true;
            }
        }
    }
}

pub struct LogsView;

impl ViewSpec for LogsView {
    fn keys(&self, app: &App) -> &'static str {
        if app.logs.follow {
            "k scroll back  f pause  Enter last line  / filter  ? help  q quit"
        } else {
            "j/k scroll  G/f follow  Enter the marked line  / filter  ? help"
        }
    }

    fn filter_hint(&self) -> &'static str {
        "   node=N level=L text"
    }

    fn refilter(&self, app: &mut App) {
        app.logs.parsed = LogFilter::parse(&app.logs.filter);
    }

    fn key(&self, app: &mut App, key: KeyCode) -> Option<Vec<Effect>> {
        let logs = &mut app.logs;
        match key {
            KeyCode::Char('f') => {
                logs.follow = !logs.follow;
                if !logs.follow {
                    logs.anchor = logs.buffer.end_seq();
                }
            }
            KeyCode::End | KeyCode::Char('G') => logs.follow = true,
            _ => return None,
        }
        Some(Vec::new())
    }

    fn render(&self, app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let logs = &app.logs;
        if !logs.served {
            return no_data(
                theme,
                "no data yet: waiting for the log stream from configd (the live tail appears here)",
                area,
                buf,
            );
        }
        let [title, lines_area] = Layout::vertical([Length(1), Min(0)]).areas(area);
        let state = if logs.follow {
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
                logs.buffer.len(),
                logs.received
            )),
        ]))
        .render(title, buf);
        let window = logs.window(usize::from(lines_area.height));
        if window.is_empty() {
            return no_data(theme, "no log lines match", lines_area, buf);
        }
        let search = logs.parsed.text.as_deref();
        let last = window.len().saturating_sub(1);
        let lines: Vec<Line> = window
            .iter()
            .enumerate()
            .map(|(i, (_, l))| {
                let line = log_line(theme, l, search);
                // Paused: the bottom line is the one Enter shows in full.
                if !logs.follow && i == last {
                    line.patch_style(theme.selected())
                } else {
                    line
                }
            })
            .collect();
        Paragraph::new(Text::from(lines)).render(lines_area, buf);
    }

    /// The bottom line of the view (the newest, or where a pause
    /// stopped), in full: a long line is read here.
    fn details(&self, app: &App) -> Option<(String, Vec<Line<'static>>)> {
        let (_, l) = app.logs.window(1).into_iter().next()?;
        Some((
            format!("log line from {}", l.node),
            vec![
                kv("time", crate::timefmt::rfc3339_ms(l.time_ms)),
                kv("node", l.node.clone()),
                kv("level", l.level.as_str().to_string()),
                kv("source", l.source.clone()),
                Line::from(""),
                Line::from(l.message.clone()),
            ],
        ))
    }
}

fn log_line<'a>(theme: &Theme, l: &'a LogLine, search: Option<&str>) -> Line<'a> {
    let mut spans = vec![
        Span::styled(clock(l.time_ms), theme.dim()),
        Span::raw(" "),
        Span::raw(format!("{:<10}", l.node)),
        Span::raw(" "),
        Span::styled(
            format!("{:<5}", l.level.as_str()),
            theme.state(l.level.as_str()),
        ),
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

/// `HH:MM:SS` (UTC) of a time in epoch ms, as `short_time` cuts it from
/// RFC 3339: made only for the lines on screen.
fn clock(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
