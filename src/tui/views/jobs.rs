//! Jobs: the newest first; details show a job's steps, targets and output.

use super::prelude::*;

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
                j.state(),
                nodes.join(" ")
            )
        });
        super::sort(&mut app.jobs, |x, y| y.started.cmp(&x.started));
    }

    fn key(&self, app: &mut App, key: KeyCode) -> Option<Vec<Effect>> {
        if key != KeyCode::Enter {
            return None;
        }
        // The stored output replaces what streamed in so far.
        let id = app.jobs.selected_row()?.id.clone();
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
                vec![
                    Cell::from(j.id.as_str()),
                    Cell::from(Span::styled(j.state(), theme.state(j.state()))),
                    Cell::from(app.ago(&j.started)),
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
        match app.job_output.get(&j.id) {
            None => lines.push(Line::from("(no output received)")),
            Some(out) => lines.extend(out.iter().map(|l| Line::from(l.clone()))),
        }
        Some((format!("job {}", j.id), lines))
    }
}
