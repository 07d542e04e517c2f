//! Checks: every check of every node; `s` sorts. Its cells and details
//! serve Problems too.

use super::prelude::*;
use crate::tui::app::Table;
use crate::tui::rows::CheckJson;

/// How the Checks view is sorted (`s` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckSort {
    #[default]
    Node,
    State,
    LastChange,
}

impl CheckSort {
    pub fn next(self) -> CheckSort {
        match self {
            CheckSort::Node => CheckSort::State,
            CheckSort::State => CheckSort::LastChange,
            CheckSort::LastChange => CheckSort::Node,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CheckSort::Node => "node",
            CheckSort::State => "state",
            CheckSort::LastChange => "change",
        }
    }
}

pub struct Checks;

impl ViewSpec for Checks {
    fn keys(&self, _app: &App) -> &'static str {
        "j/k move  Enter details  / filter  s sort  : cmd  ? help  q quit"
    }

    fn refilter(&self, app: &mut App) {
        super::refilter(&mut app.checks, check_text);
        let sort = app.check_sort;
        super::sort(&mut app.checks, |x, y| {
            let by = match sort {
                CheckSort::Node => std::cmp::Ordering::Equal,
                CheckSort::State => severity(x).cmp(&severity(y)),
                CheckSort::LastChange => y.last_change.cmp(&x.last_change),
            };
            by.then_with(|| (&x.node, &x.name).cmp(&(&y.node, &y.name)))
        });
    }

    fn key(&self, app: &mut App, key: KeyCode) -> Option<Vec<Effect>> {
        if key != KeyCode::Char('s') {
            return None;
        }
        app.check_sort = app.check_sort.next();
        self.refilter(app);
        Some(Vec::new())
    }

    fn render(&self, app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let waiting = "no data yet: waiting for the check list from configd (every check of every node is listed here)";
        if super::empty(&app.checks, [waiting, "no checks"], theme, area, buf) {
            return;
        }
        let table = &app.checks;
        let (shown, all, by) = (table.visible.len(), table.total(), app.check_sort.label());
        let header = [format!("NODE {shown}/{all} by {by}"), "CHANGED".into()];
        grid_of_checks(app, theme, table, header, [16, 8], area, buf);
    }

    fn details(&self, app: &App) -> Option<(String, Vec<Line<'static>>)> {
        app.checks.selected_row().map(details)
    }
}

/// Sort key, smallest first: by severity, hard before soft.
pub(super) fn severity(c: &CheckJson) -> (u8, u8) {
    let s = crate::model::check::severity(&c.state);
    (s, u8::from(c.state_type != "hard"))
}

/// What plain words of the filter search (Checks, Problems).
pub(super) fn check_text(c: &CheckJson) -> String {
    format!("{} {} {} {}", c.node, c.name, c.state, c.output)
}

/// The table of Checks or Problems: `header` names the node and time
/// columns, `widths` their widths.
pub(super) fn grid_of_checks(
    app: &App,
    theme: &Theme,
    table: &Table<CheckJson>,
    [node, time]: [String; 2],
    [node_width, time_width]: [u16; 2],
    area: Rect,
    buf: &mut Buffer,
) {
    let header = [
        node,
        "CHECK".into(),
        "STATE".into(),
        "TYPE".into(),
        "ADF".into(),
        time,
        "OUTPUT".into(),
    ];
    let widths = [
        Length(node_width),
        Length(14),
        Length(8),
        Length(8),
        Length(3),
        Length(time_width),
        Fill(1),
    ];
    grid(
        theme,
        table,
        Row::new(header),
        &widths,
        |p| cells(app, theme, p),
        area,
        buf,
    );
}

/// A row of Checks or Problems; a node that is down (no check name) shows
/// as `(node)`.
fn cells<'a>(app: &App, theme: &Theme, p: &'a CheckJson) -> Vec<Cell<'a>> {
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
        Cell::from(app.ago(p.last_change.as_deref().unwrap_or_default())),
        Cell::from(p.output.as_str()),
    ]
}

/// Details of a check (Problems, Checks) or of a node that is down.
pub(super) fn details(p: &CheckJson) -> (String, Vec<Line<'static>>) {
    if p.name.is_empty() {
        let lines = vec![
            kv("state", "down".to_string()),
            kv("since", p.last_change.clone().unwrap_or_default()),
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
    let mut lines = Vec::new();
    if p.stale {
        lines.push(kv(
            "stale",
            "its node is down: the last known state".to_string(),
        ));
    }
    lines.extend([
        kv(
            "state",
            format!(
                "{} ({} {}/{})",
                p.state, p.state_type, p.attempt, p.max_attempts
            ),
        ),
        kv("last check", p.last_check.clone().unwrap_or_default()),
        kv("last change", p.last_change.clone().unwrap_or_default()),
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
    ]);
    lines.extend(p.long_output.lines().map(|l| Line::from(l.to_string())));
    (format!("check {} on {}", p.name, p.node), lines)
}
