//! Events: fleet events, the newest first.

use super::prelude::*;

pub struct Events;

impl ViewSpec for Events {
    fn refilter(&self, app: &mut App) {
        super::refilter(&mut app.events, |e| {
            format!("{} {} {}", node(e), e.kind, message(e))
        });
        super::sort(&mut app.events, |x, y| y.time.cmp(&x.time));
    }

    fn render(&self, app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let waiting =
            "no data yet: waiting for the events from configd (state changes appear here)";
        if super::empty(&app.events, [waiting, "no events"], theme, area, buf) {
            return;
        }
        grid(
            theme,
            &app.events,
            Row::new(vec!["TIME", "NODE", "KIND", "MESSAGE"]),
            &[Length(8), Length(12), Length(14), Fill(1)],
            |e| {
                vec![
                    Cell::from(short_time(&e.time)),
                    Cell::from(node(e)),
                    Cell::from(e.kind.as_str()),
                    Cell::from(message(e)),
                ]
            },
            area,
            buf,
        );
    }

    fn details(&self, app: &App) -> Option<(String, Vec<Line<'static>>)> {
        let e = app.events.selected_row()?;
        Some((
            format!("event {}", e.kind),
            [
                Some(kv("time", e.time.clone())),
                Some(kv("node", node(e).to_string())),
                e.check.clone().map(|c| kv("check", c)),
                e.state.clone().map(|s| kv("state", s)),
                e.previous_state.clone().map(|s| kv("previous", s)),
                e.who.clone().map(|w| kv("who", w)),
                Some(Line::from("")),
                Some(Line::from(e.message.clone())),
            ]
            .into_iter()
            .flatten()
            .collect(),
        ))
    }
}

fn node(e: &crate::tui::rows::EventRow) -> &str {
    e.node.as_deref().unwrap_or("")
}

/// The message, after the check it is about.
fn message(e: &crate::tui::rows::EventRow) -> String {
    match &e.check {
        Some(check) => format!("{check}: {}", e.message),
        None => e.message.clone(),
    }
}
