//! The UI state: plain data, changed only by `update`, read by `render`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::rows::{CheckJson, EventRow, InventoryItem, JobView, LogLine, NodeRow};
pub use super::views::{CheckSort, Logs, NodeSort, View};

/// The connection to configd as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Conn {
    #[default]
    Connecting,
    Connected,
    Lost {
        reason: String,
        retry_in: Duration,
    },
}

/// What the keyboard is talking to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// Typing a `/` filter; `before` is restored by Esc.
    Filter {
        before: String,
    },
    /// Typing a `:` command; `error` is the last parse error.
    Command {
        error: Option<String>,
    },
    /// Asking before a command runs.
    Confirm(Pending),
    Help,
    Details,
}

/// A confirmed-to-be action waiting for y/n.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// What the dialog says, naming the targets.
    pub question: String,
    pub effect: super::action::Effect,
}

/// A list view's data: `None` until a source serves it.
#[derive(Debug, Clone)]
pub struct Table<T> {
    pub rows: Option<Vec<T>>,
    /// Indices into `rows` that pass the filter, in display order.
    pub visible: Vec<usize>,
    pub selected: usize,
    pub filter: String,
    pub filter_error: Option<String>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: None,
            visible: Vec::new(),
            selected: 0,
            filter: String::new(),
            filter_error: None,
        }
    }
}

impl<T> Table<T> {
    pub fn selected_row(&self) -> Option<&T> {
        let i = *self.visible.get(self.selected)?;
        self.rows.as_ref()?.get(i)
    }

    pub fn total(&self) -> usize {
        self.rows.as_ref().map_or(0, Vec::len)
    }

    /// The rows on a screen of `page` rows (scrolled so the selection
    /// shows), each with whether it is selected: only these get built.
    pub fn page(&self, page: usize) -> Vec<(bool, &T)> {
        let Some(rows) = &self.rows else {
            return Vec::new();
        };
        let start = (self.selected + 1).saturating_sub(page);
        self.visible
            .iter()
            .enumerate()
            .skip(start)
            .take(page)
            .filter_map(|(i, &idx)| rows.get(idx).map(|r| (i == self.selected, r)))
            .collect()
    }

    pub fn clamp(&mut self) {
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }
}

#[derive(Debug, Clone, Default)]
pub struct App {
    pub server: String,
    pub conn: Conn,
    pub now_ms: i64,
    pub view: View,
    pub mode: Mode,
    /// What is being typed in Filter or Command mode.
    pub input: String,
    pub width: u16,
    pub height: u16,
    pub nodes: Table<NodeRow>,
    pub node_sort: NodeSort,
    pub problems: Table<CheckJson>,
    /// Every check (the Checks view, node details).
    pub checks: Table<CheckJson>,
    pub check_sort: CheckSort,
    pub logs: Logs,
    pub jobs: Table<JobView>,
    pub job_output: BTreeMap<u64, Vec<String>>,
    pub inventory: Table<InventoryItem>,
    pub events: Table<EventRow>,
    pub command_names: Vec<String>,
    /// The commands the nodes offer, with their argument specs.
    pub commands: Vec<crate::net::proto::CommandOffer>,
    pub notice: Option<String>,
    /// Lines the `?` help is scrolled by.
    pub help_scroll: u16,
    /// The `:run` line whose targets configd is being asked for: only its
    /// answer opens the confirmation.
    pub resolving: Option<String>,
    pub no_color: bool,
    pub quit: bool,
}

impl App {
    pub fn new(server: &str, now_ms: i64) -> App {
        App {
            server: server.to_string(),
            now_ms,
            width: 80,
            height: 24,
            logs: Logs {
                follow: true,
                ..Logs::default()
            },
            ..App::default()
        }
    }

    /// Rows a list shows at the current height (header, tabs, table
    /// header, footer and status take 5).
    pub fn page(&self) -> usize {
        usize::from(self.height.saturating_sub(6)).max(1)
    }

    /// Counts by node state: (up, down, pending).
    pub fn node_counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for n in self.nodes.rows.iter().flatten() {
            match n.state.as_str() {
                "up" => c.0 += 1,
                "down" => c.1 += 1,
                _ => c.2 += 1,
            }
        }
        c
    }

    /// Lines of the Logs view (see [`Logs::window`]).
    pub fn log_window(&self, n: usize) -> Vec<(u64, &LogLine)> {
        self.logs.window(n)
    }

    /// Re-applies filter and sort of `view`.
    pub fn refilter(&mut self, view: View) {
        view.spec().refilter(self);
    }
}
