//! Problems: nodes that are down, then the checks that are not OK; `a`
//! acknowledges and `d` puts one in downtime, both asking first.

use super::prelude::*;
use crate::tui::app::Pending;

use super::checks::{cells, check_text, details};

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
            x.severity()
                .cmp(&y.severity())
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
        if app.problems.rows.is_none() {
            return no_data(
                theme,
                "no data yet: waiting for the check list from configd (non-OK checks are listed here)",
                area,
                buf,
            );
        }
        if app.problems.visible.is_empty() {
            return no_data(
                theme,
                "no problems: every node is up and every check is OK",
                area,
                buf,
            );
        }
        grid(
            theme,
            &app.problems,
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
            |p| cells(app, theme, p),
            area,
            buf,
        );
    }

    fn details(&self, app: &App) -> Option<(String, Vec<Line<'static>>)> {
        app.problems.selected_row().map(details)
    }
}
