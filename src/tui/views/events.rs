//! Events: fleet events, the newest first.

use super::prelude::*;

pub struct Events;

impl ViewSpec for Events {
    fn refilter(&self, app: &mut App) {
        super::refilter(&mut app.events, |e| {
            format!("{} {} {}", e.node, e.kind, e.message)
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
                    Cell::from(e.node.as_str()),
                    Cell::from(e.kind.as_str()),
                    Cell::from(e.message.as_str()),
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
            vec![
                kv("time", e.time.clone()),
                kv("node", e.node.clone()),
                Line::from(""),
                Line::from(e.message.clone()),
            ],
        ))
    }
}
