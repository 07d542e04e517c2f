//! One file per view behind [`ViewSpec`]: its key hints and keys, filter
//! and sort over the shared model ([`App`]), table and details. `VIEWS`
//! is the one list in tab order: tabs, number keys, hints and dispatch
//! come from it. To add a view: a file here, a variant of [`View`] and its
//! row in `VIEWS`, its data in `App`, the Action that brings it
//! (`action.rs`, `update.rs`, `net.rs`), and its lines in `ui::HELP`.

mod checks;
mod events;
mod inventory;
mod jobs;
mod logs;
mod nodes;
mod problems;

use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::action::Effect;
use super::app::{App, Table};
use super::ui::Theme;
use super::viewfilter::RowFilter;

pub use checks::CheckSort;
pub use logs::Logs;
pub use nodes::NodeSort;

/// What the view files use.
mod prelude {
    pub(super) use super::{Cursor, ViewSpec};
    pub(super) use crate::tui::action::Effect;
    pub(super) use crate::tui::app::{App, Mode};
    pub(super) use crate::tui::ui::{grid, kv, no_data, short_time, Theme};
    pub(super) use crossterm::event::KeyCode;
    pub(super) use ratatui::buffer::Buffer;
    pub(super) use ratatui::layout::Constraint::{Fill, Length, Min};
    pub(super) use ratatui::layout::{Layout, Rect};
    pub(super) use ratatui::text::{Line, Span, Text};
    pub(super) use ratatui::widgets::{Cell, Paragraph, Row, Widget};
}

/// The views, in the order of `VIEWS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum View {
    #[default]
    Nodes,
    Problems,
    Logs,
    Jobs,
    Inventory,
    Events,
    Checks,
}

/// A view's row in `VIEWS`: the view, its title, its module, and where
/// its filter and selection live in the model.
struct Entry(
    View,
    &'static str,
    &'static dyn ViewSpec,
    fn(&App) -> &dyn Cursor,
    fn(&mut App) -> &mut dyn Cursor,
);

/// Every view in tab order (key `1` is the first): the one list that the
/// tabs, the number keys, the hints and the dispatch come from.
#[rustfmt::skip]
const VIEWS: [Entry; 7] = [
    Entry(View::Nodes, "Nodes", &nodes::Nodes, |a| &a.nodes, |a| &mut a.nodes),
    Entry(View::Problems, "Problems", &problems::Problems, |a| &a.problems, |a| &mut a.problems),
    Entry(View::Logs, "Logs", &logs::LogsView, |a| &a.logs, |a| &mut a.logs),
    Entry(View::Jobs, "Jobs", &jobs::Jobs, |a| &a.jobs, |a| &mut a.jobs),
    Entry(View::Inventory, "Inventory", &inventory::Inventory, |a| &a.inventory, |a| &mut a.inventory),
    Entry(View::Events, "Events", &events::Events, |a| &a.events, |a| &mut a.events),
    Entry(View::Checks, "Checks", &checks::Checks, |a| &a.checks, |a| &mut a.checks),
];

impl View {
    /// Every view in tab order (from `VIEWS`).
    pub const ALL: [View; VIEWS.len()] = {
        let mut all = [View::Nodes; VIEWS.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = VIEWS[i].0;
            i += 1;
        }
        all
    };

    fn entry(self) -> &'static Entry {
        &VIEWS[self.index()]
    }

    /// Its module: the one dispatch.
    pub fn spec(self) -> &'static dyn ViewSpec {
        self.entry().2
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The number key that shows it.
    pub fn key(self) -> usize {
        self.index() + 1
    }

    pub fn by_key(key: KeyCode) -> Option<View> {
        let KeyCode::Char(c) = key else { return None };
        let n = c.to_digit(10)? as usize;
        View::ALL.get(n.checked_sub(1)?).copied()
    }

    pub fn title(self) -> &'static str {
        self.entry().1
    }

    pub fn next(self) -> View {
        View::ALL[(self.index() + 1) % View::ALL.len()]
    }

    pub fn prev(self) -> View {
        View::ALL[(self.index() + View::ALL.len() - 1) % View::ALL.len()]
    }
}

impl App {
    /// The current view's filter and selection.
    pub fn cursor(&self) -> &dyn Cursor {
        (self.view.entry().3)(self)
    }

    pub fn cursor_mut(&mut self) -> &mut dyn Cursor {
        (self.view.entry().4)(self)
    }
}

/// A view: what it shows of the shared model and the keys of its own.
/// Drawing takes `&App`; only `refilter` and `key` change it.
pub trait ViewSpec: Sync {
    /// The footer's hints after the view numbers.
    fn keys(&self, _app: &App) -> &'static str {
        "j/k move  Enter details  / filter  : cmd  ? help  q quit"
    }
    /// What the `/` line explains.
    fn filter_hint(&self) -> &'static str {
        "   text or key=value, key~regex"
    }
    /// Applies its filter and sort to its rows.
    fn refilter(&self, app: &mut App);
    fn render(&self, app: &App, theme: &Theme, area: Rect, buf: &mut Buffer);
    /// The title and lines of the selected row's details.
    fn details(&self, app: &App) -> Option<(String, Vec<Line<'static>>)>;
    /// A key of its own in Normal mode; `None` when it is not one.
    fn key(&self, _app: &mut App, _key: KeyCode) -> Option<Vec<Effect>> {
        None
    }
}

/// A view's filter and selection, whatever its rows are.
pub trait Cursor {
    fn filter(&self) -> &str;
    fn filter_mut(&mut self) -> &mut String;
    fn filter_error(&self) -> Option<&str> {
        None
    }
    fn has_selection(&self) -> bool;
    /// Moves the selection `delta` rows (`page` rows fit on screen).
    fn move_by(&mut self, delta: isize, page: usize);
}

impl<T> Cursor for Table<T> {
    fn filter(&self) -> &str {
        &self.filter
    }

    fn filter_mut(&mut self) -> &mut String {
        &mut self.filter
    }

    fn filter_error(&self) -> Option<&str> {
        self.filter_error.as_deref()
    }

    fn has_selection(&self) -> bool {
        self.selected_row().is_some()
    }

    fn move_by(&mut self, delta: isize, _page: usize) {
        let max = self.visible.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize)
            .saturating_add(delta)
            .clamp(0, max.max(0)) as usize;
    }
}

/// The footer of Normal mode: the view numbers, then the view's keys.
pub fn hints(app: &App) -> String {
    format!("1-{} view  {}", View::ALL.len(), app.view.spec().keys(app))
}

/// Keeps the rows of `table` that pass its filter: `text` is what plain
/// words search.
fn refilter<T: super::rows::Json>(table: &mut Table<T>, text: impl Fn(&T) -> String) {
    let filter = match RowFilter::parse(&table.filter) {
        Ok(f) => {
            // A typo in a field name still filters (to nothing), and says so.
            table.filter_error = table
                .rows
                .as_ref()
                .and_then(|rows| rows.first())
                .and_then(|row| f.unknown_field(row));
            f
        }
        Err(e) => {
            table.filter_error = Some(e);
            RowFilter::default()
        }
    };
    table.visible = match &table.rows {
        None => Vec::new(),
        Some(rows) => rows
            .iter()
            .enumerate()
            .filter(|(_, r)| filter.matches(*r, &text))
            .map(|(i, _)| i)
            .collect(),
    };
    table.clamp();
}

/// Says why `table` has no rows to show, if so: `waiting` until a source
/// serves it, `none` when no row passes the filter.
fn empty<T>(
    table: &Table<T>,
    [waiting, none]: [&str; 2],
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) -> bool {
    let why = match &table.rows {
        None => waiting,
        Some(_) if table.visible.is_empty() => none,
        Some(_) => return false,
    };
    super::ui::no_data(theme, why, area, buf);
    true
}

/// Sorts the visible rows of `table` by `by`.
fn sort<T>(table: &mut Table<T>, by: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if let Some(rows) = &table.rows {
        table.visible.sort_by(|&a, &b| by(&rows[a], &rows[b]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_list_the_number_keys_and_the_hints_agree() {
        let n = View::ALL.len();
        let mut app = App::new("x", 0);
        for (i, v) in View::ALL.into_iter().enumerate() {
            assert_eq!(v.index(), i, "{v:?} is out of order in View::ALL");
            let key = char::from_digit(v.key() as u32, 10).map(KeyCode::Char);
            assert_eq!(key.and_then(View::by_key), Some(v), "{v:?} has no key");
            assert_eq!(
                View::ALL.iter().filter(|w| w.title() == v.title()).count(),
                1
            );
            app.view = v;
            assert!(hints(&app).starts_with(&format!("1-{n} view  ")));
        }
        assert_eq!(View::by_key(KeyCode::Char('0')), None);
        let past = char::from_digit(n as u32 + 1, 10).map(KeyCode::Char);
        assert_eq!(past.and_then(View::by_key), None);
        // The help names every view in order, with the keys that reach them.
        let titles: Vec<&str> = View::ALL.iter().map(|v| v.title()).collect();
        let line = (
            format!("1-{n}, Tab"),
            format!("switch view: {}", titles.join(" ")),
        );
        assert!(
            super::super::ui::HELP
                .iter()
                .any(|(k, v)| (*k, *v) == (line.0.as_str(), line.1.as_str())),
            "no {line:?} in the help"
        );
    }
}
