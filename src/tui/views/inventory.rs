//! Inventory: items by kind and state over a table of every item.

use super::prelude::*;

pub struct Inventory;

impl ViewSpec for Inventory {
    fn refilter(&self, app: &mut App) {
        super::refilter(&mut app.inventory, |r| {
            let attrs: Vec<String> = r.attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {} {} {}", r.kind, r.key, r.node, attrs.join(" "))
        });
    }

    fn render(&self, app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
        let Some(rows) = &app.inventory.rows else {
            return no_data(
                theme,
                "no data yet: waiting for the inventory from configd (zones by state appear here)",
                area,
                buf,
            );
        };
        let [summary, table] = Layout::vertical([Length(1), Min(0)]).areas(area);
        // Items by kind and state, over the filtered rows.
        let mut counts: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
        for &i in &app.inventory.visible {
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
            &app.inventory,
            Row::new(vec!["KIND", "KEY", "NODE", "STATE", "ATTRS"]),
            &[Length(8), Length(10), Length(12), Length(10), Fill(1)],
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

    fn details(&self, app: &App) -> Option<(String, Vec<Line<'static>>)> {
        let r = app.inventory.selected_row()?;
        let mut lines = vec![kv("node", r.node.clone())];
        for (k, v) in &r.attrs {
            lines.push(kv(k, v.clone()));
        }
        Some((format!("{} {}", r.kind, r.key), lines))
    }
}
