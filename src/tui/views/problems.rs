//! Problems: nodes that are down, then the checks that are not OK; `a`
//! acknowledges and `d` puts one in downtime, both asking first.

use super::checks::{check_text, details, grid_of_checks, severity};
use super::prelude::*;
use crate::tui::app::Pending;

/// Downtime scheduled by `d` (longer or other: `monit-cli downtime`).
pub const PROBLEM_DOWNTIME: std::time::Duration = std::time::Duration::from_secs(3600);

pub struct Problems;

impl ViewSpec for Problems {
    fn keys(&self, _app: &App) -> &'static str {
        "j/k move  Enter details  / filter  a ack  d downtime  ? help  q quit"
    }

    fn refilter(&self, app: &mut App) {
        super::refilter(&mut app.problems, check_text);
        if let Some(rows) = &app.problems.rows {
            app.problems.visible.retain(|&i| rows[i].state != "ok");
        }
        super::sort(&mut app.problems, |x, y| {
            severity(x)
                .cmp(&severity(y))
                .then_with(|| y.last_change.cmp(&x.last_change))
                .then_with(|| (&x.node, &x.name).cmp(&(&y.node, &y.name)))
        });
    }

    fn key(&self, app: &mut App, key: KeyCode) -> Option<Vec<Effect>> {
        let p = app.problems.selected_row();
        let (question, effect) = match key {
            KeyCode::Char('a') => {
                let p = p?;
                let question = if p.name.is_empty() {
                    format!("Acknowledge node {} (down)?", p.node)
                } else {
                    format!("Acknowledge {} on {}?", p.name, p.node)
                };
                let effect = Effect::Ack {
                    node: p.node.clone(),
                    check: p.name.clone(),
                };
                (question, effect)
            }
            KeyCode::Char('d') => {
                let p = p?;
                let span = humantime::format_duration(PROBLEM_DOWNTIME);
                let question = if p.name.is_empty() {
                    format!(
                        "Schedule {span} of downtime for node {} and all its checks (notifications held)?",
                        p.node
                    )
                } else {
                    format!(
                        "Schedule {span} of downtime for {} on {} (notifications held)?",
                        p.name, p.node
                    )
                };
                let effect = Effect::Downtime {
                    node: p.node.clone(),
                    check: p.name.clone(),
                    duration: PROBLEM_DOWNTIME,
                };
                (question, effect)
            }
            _ => return None,
        };
        app.mode = Mode::Confirm(Pending { question, effect });
        Some(Vec::new())
    }

    fn render(&self, app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let waiting =
            "no data yet: waiting for the check list from configd (non-OK checks are listed here)";
        let none = "no problems: every node is up and every check is OK";
        if super::empty(&app.problems, [waiting, none], theme, area, buf) {
            return;
        }
        let header = ["NODE".into(), "SINCE".into()];
        grid_of_checks(app, theme, &app.problems, header, [12, 7], area, buf);
    }

    fn details(&self, app: &App) -> Option<(String, Vec<Line<'static>>)> {
        app.problems.selected_row().map(details)
    }
}
