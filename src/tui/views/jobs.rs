//! Jobs: the newest first; details show a job's steps, targets and output.

use super::prelude::*;
use crate::model::job::{job_state, StepState};
use crate::ops::views::doing;
use crate::timefmt::rfc3339;

pub struct Jobs;

impl ViewSpec for Jobs {
    fn refilter(&self, app: &mut App) {
        super::refilter(&mut app.jobs, |j| {
            let nodes: Vec<&str> = j.targets.iter().map(|t| t.node.as_str()).collect();
            format!(
                "{} {} {} {} {} {}",
                j.id,
                j.who,
                j.command,
                j.args.join(" "),
                job_state(j),
                nodes.join(" ")
            )
        });
        super::sort(&mut app.jobs, |x, y| y.started_ms.cmp(&x.started_ms));
    }

    fn key(&self, app: &mut App, key: KeyCode) -> Option<Vec<Effect>> {
        if key != KeyCode::Enter {
            return None;
        }
        // The stored output replaces what streamed in so far.
        let id = app.jobs.selected_row()?.id;
        app.mode = Mode::Details;
        app.job_output.remove(&id);
        Some(vec![Effect::JobOutput { id }])
    }

    fn render(&self, app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let waiting =
            "no data yet: waiting for the job list from configd (`:run` jobs appear here)";
        if super::empty(&app.jobs, [waiting, "no jobs"], theme, area, buf) {
            return;
        }
        let widths = [
            Length(8),
            Length(9),
            Length(8),
            Length(10),
            Fill(2),
            Fill(1),
        ];
        grid(
            theme,
            &app.jobs,
            Row::new(vec!["ID", "STATE", "STARTED", "WHO", "COMMAND", "TARGETS"]),
            &widths,
            |j| {
                let mut nodes: Vec<&str> = j.targets.iter().map(|t| t.node.as_str()).collect();
                for st in &j.steps {
                    if let Some(n) = st.node.as_deref() {
                        if !nodes.contains(&n) {
                            nodes.push(n);
                        }
                    }
                }
                let state = job_state(j);
                vec![
                    Cell::from(j.id.to_string()),
                    Cell::from(Span::styled(state, theme.state(state))),
                    Cell::from(crate::timefmt::ago(j.started_ms, app.now_ms)),
                    Cell::from(j.who.as_str()),
                    Cell::from(format!("{} {}", j.command, j.args.join(" "))),
                    Cell::from(nodes.join(",")),
                ]
            },
            area,
            buf,
        );
    }

    fn details(&self, app: &App) -> Option<(String, Vec<Line<'static>>)> {
        let j = app.jobs.selected_row()?;
        let mut lines = vec![
            kv("command", format!("{} {}", j.command, j.args.join(" "))),
            kv("who", j.who.clone()),
            kv("started", rfc3339(j.started_ms)),
            kv("finished", j.finished_ms.map_or("-".into(), rfc3339)),
        ];
        if let Some(item) = &j.item {
            lines.push(kv("item", item.clone()));
        }
        if !j.message.is_empty() {
            lines.push(kv("message", j.message.clone()));
        }
        for st in &j.steps {
            let mut text = format!("{}. {} [{}]", st.index, doing(st), st.state.as_str());
            if !st.message.is_empty() && st.state != StepState::Ok {
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
                    t.state.as_str(),
                    t.exit_code.map_or("-".into(), |c| c.to_string()),
                    t.duration_ms.map_or(String::new(), |d| format!("{d}ms"))
                ),
            ));
        }
        lines.push(Line::from(""));
        match app.job_output.get(&j.id) {
            None => lines.push(Line::from("(no output received)")),
            Some(out) => lines.extend(out.iter().map(|l| Line::from(l.clone()))),
        }
        Some((format!("job {}", j.id), lines))
    }
}
