//! The UI state: plain data, changed only by `update`, read by `render`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::logbuf::LogBuffer;
use super::rows::{EventRow, InventoryRow, JobRow, LogLine, NodeRow, ProblemRow};
use super::viewfilter::{LogFilter, RowFilter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum View {
    Nodes,
    Problems,
    Logs,
    Jobs,
    Inventory,
    Events,
    Checks,
}

impl View {
    pub const ALL: [View; 7] = [
        View::Nodes,
        View::Problems,
        View::Logs,
        View::Jobs,
        View::Inventory,
        View::Events,
        View::Checks,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn title(self) -> &'static str {
        match self {
            View::Nodes => "Nodes",
            View::Problems => "Problems",
            View::Logs => "Logs",
            View::Jobs => "Jobs",
            View::Inventory => "Inventory",
            View::Events => "Events",
            View::Checks => "Checks",
        }
    }

    pub fn next(self) -> View {
        View::ALL[(self.index() + 1) % View::ALL.len()]
    }

    pub fn prev(self) -> View {
        View::ALL[(self.index() + View::ALL.len() - 1) % View::ALL.len()]
    }
}

/// The connection to configd as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Connected,
    Lost { reason: String, retry_in: Duration },
}

/// What the keyboard is talking to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSort {
    Name,
    State,
    LastSeen,
    Problems,
}

impl NodeSort {
    pub fn next(self) -> NodeSort {
        match self {
            NodeSort::Name => NodeSort::State,
            NodeSort::State => NodeSort::LastSeen,
            NodeSort::LastSeen => NodeSort::Problems,
            NodeSort::Problems => NodeSort::Name,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            NodeSort::Name => "name",
            NodeSort::State => "state",
            NodeSort::LastSeen => "last seen",
            NodeSort::Problems => "problems",
        }
    }
}

/// How the Checks view is sorted (`s` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckSort {
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

/// The Logs view's state.
#[derive(Debug, Clone, Default)]
pub struct Logs {
    pub buffer: LogBuffer,
    /// Whether any source serves logs.
    pub served: bool,
    pub follow: bool,
    /// While paused: the view shows lines before this sequence number.
    pub anchor: u64,
    pub filter: String,
    pub parsed: LogFilter,
    /// The selected line (sequence number) for details, when paused.
    pub received: u64,
}

#[derive(Debug, Clone)]
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
    pub problems: Table<ProblemRow>,
    /// Every check (the Checks view, node details).
    pub checks: Table<ProblemRow>,
    pub check_sort: CheckSort,
    pub logs: Logs,
    pub jobs: Table<JobRow>,
    pub job_output: BTreeMap<String, Vec<String>>,
    pub inventory: Table<InventoryRow>,
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
            conn: Conn::Connecting,
            now_ms,
            view: View::Nodes,
            mode: Mode::Normal,
            input: String::new(),
            width: 80,
            height: 24,
            nodes: Table::default(),
            node_sort: NodeSort::Name,
            problems: Table::default(),
            checks: Table::default(),
            check_sort: CheckSort::Node,
            logs: Logs {
                follow: true,
                ..Logs::default()
            },
            jobs: Table::default(),
            job_output: BTreeMap::new(),
            inventory: Table::default(),
            events: Table::default(),
            command_names: Vec::new(),
            commands: Vec::new(),
            notice: None,
            help_scroll: 0,
            resolving: None,
            no_color: false,
            quit: false,
        }
    }

    /// Rows a list shows at the current height (header, tabs, table
    /// header, footer and status take 5).
    pub fn page(&self) -> usize {
        usize::from(self.height.saturating_sub(6)).max(1)
    }

    /// The filter text of the current view.
    pub fn filter_of(&self, view: View) -> &str {
        match view {
            View::Nodes => &self.nodes.filter,
            View::Problems => &self.problems.filter,
            View::Logs => &self.logs.filter,
            View::Jobs => &self.jobs.filter,
            View::Inventory => &self.inventory.filter,
            View::Events => &self.events.filter,
            View::Checks => &self.checks.filter,
        }
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

    /// Lines of the log view that pass its filter, up to `n`, ending at
    /// the anchor (paused) or the newest line (following).
    pub fn log_window(&self, n: usize) -> Vec<(u64, &LogLine)> {
        let end = if self.logs.follow {
            self.logs.buffer.end_seq()
        } else {
            self.logs.anchor
        };
        let f = &self.logs.parsed;
        self.logs.buffer.last_matching(end, n, |l| f.matches(l))
    }

    /// Re-applies filter and sort of `view`.
    pub fn refilter(&mut self, view: View) {
        match view {
            View::Nodes => {
                refilter(&mut self.nodes, node_text);
                let sort = self.node_sort;
                if let Some(rows) = &self.nodes.rows {
                    self.nodes.visible.sort_by(|&a, &b| {
                        let (x, y) = (&rows[a], &rows[b]);
                        let by = match sort {
                            NodeSort::Name => std::cmp::Ordering::Equal,
                            NodeSort::State => state_rank(&x.state).cmp(&state_rank(&y.state)),
                            NodeSort::LastSeen => y.last_seen.cmp(&x.last_seen),
                            NodeSort::Problems => problems(y).cmp(&problems(x)),
                        };
                        by.then_with(|| x.name.cmp(&y.name))
                    });
                }
            }
            View::Problems => {
                refilter(&mut self.problems, |p| {
                    format!("{} {} {} {}", p.node, p.name, p.state, p.output)
                });
                if let Some(rows) = &self.problems.rows {
                    self.problems.visible.retain(|&i| rows[i].state != "ok");
                    self.problems.visible.sort_by(|&a, &b| {
                        let (x, y) = (&rows[a], &rows[b]);
                        x.severity()
                            .cmp(&y.severity())
                            .then_with(|| y.last_change.cmp(&x.last_change))
                            .then_with(|| (&x.node, &x.name).cmp(&(&y.node, &y.name)))
                    });
                }
            }
            View::Logs => {
                self.logs.parsed = LogFilter::parse(&self.logs.filter);
            }
            View::Jobs => {
                refilter(&mut self.jobs, |j| {
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
                if let Some(rows) = &self.jobs.rows {
                    self.jobs
                        .visible
                        .sort_by(|&a, &b| rows[b].started.cmp(&rows[a].started));
                }
            }
            View::Inventory => {
                refilter(&mut self.inventory, |r| {
                    let attrs: Vec<String> =
                        r.attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{} {} {} {}", r.kind, r.key, r.node, attrs.join(" "))
                });
            }
            View::Events => {
                refilter(&mut self.events, |e| {
                    format!("{} {} {}", e.node, e.kind, e.message)
                });
                if let Some(rows) = &self.events.rows {
                    self.events
                        .visible
                        .sort_by(|&a, &b| rows[b].time.cmp(&rows[a].time));
                }
            }
            View::Checks => {
                refilter(&mut self.checks, |c| {
                    format!("{} {} {} {}", c.node, c.name, c.state, c.output)
                });
                let sort = self.check_sort;
                if let Some(rows) = &self.checks.rows {
                    self.checks.visible.sort_by(|&a, &b| {
                        let (x, y) = (&rows[a], &rows[b]);
                        let by = match sort {
                            CheckSort::Node => std::cmp::Ordering::Equal,
                            CheckSort::State => x.severity().cmp(&y.severity()),
                            CheckSort::LastChange => y.last_change.cmp(&x.last_change),
                        };
                        by.then_with(|| (&x.node, &x.name).cmp(&(&y.node, &y.name)))
                    });
                }
            }
        }
    }
}

fn refilter<T: serde::Serialize>(table: &mut Table<T>, text: impl Fn(&T) -> String) {
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

fn node_text(n: &NodeRow) -> String {
    let mut s = format!("{} {} {} {}", n.name, n.state, n.addr, n.version);
    for (k, v) in &n.labels {
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}

fn state_rank(s: &str) -> u8 {
    match s {
        "down" => 0,
        "pending" => 1,
        _ => 2,
    }
}

fn problems(n: &NodeRow) -> u32 {
    n.checks.critical + n.checks.warning + n.checks.unknown
}
