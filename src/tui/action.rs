//! Everything that can change the UI: the user's keys and what the network
//! task learned. `update` turns an Action into state changes and Effects.

use std::time::Duration;

use crossterm::event::KeyEvent;

use super::rows::{CheckJson, EventRow, InventoryItem, JobView, LogLine, NodeRow};

#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    Resize(u16, u16),
    /// Once a second, with the wall clock in epoch ms (for "5s ago").
    Tick(i64),

    // From the network task: the one place network data enters the UI.
    Connecting,
    Connected,
    Disconnected {
        reason: String,
        retry_in: Duration,
    },
    Nodes(Vec<NodeRow>),
    Problems(Vec<CheckJson>),
    /// Every check (polled less often than the problems).
    Checks(Vec<CheckJson>),
    LogLines(Vec<LogLine>),
    Jobs(Vec<JobView>),
    /// Output lines of job `id` (appended).
    JobOutput {
        id: u64,
        lines: Vec<String>,
    },
    Inventory(Vec<InventoryItem>),
    Events(Vec<EventRow>),
    /// Ops command names the nodes advertise, for `:` completion.
    CommandNames(Vec<String>),
    /// The commands the nodes offer in full (`query commands`): names for
    /// completion, signatures for the hint, specs to check arguments.
    Commands(Vec<crate::net::proto::CommandOffer>),
    /// The nodes configd resolved a `:run` target to (or why not): the
    /// confirmation lists them.
    RunTargets {
        command: String,
        args: Vec<String>,
        target: String,
        nodes: Result<Vec<String>, String>,
    },
    /// configd's plan for a `:runbook` (or why it cannot run): the
    /// confirmation shows it.
    RunbookPlanned {
        line: String,
        plan: Result<crate::net::proto::RunbookPlan, String>,
    },
    /// A one-line message for the footer (a refused request, a result).
    Notice(String),
}

/// What `update` asks the outside world to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Run an ops command (confirmed by the user).
    Run {
        command: String,
        args: Vec<String>,
        targets: Vec<String>,
    },
    /// Ask configd which nodes `target` names, before the confirmation
    /// of a `:run` (answered with `Action::RunTargets`).
    ResolveRun {
        command: String,
        args: Vec<String>,
        target: String,
    },
    /// Acknowledge the problem `check` on `node`.
    Ack {
        node: String,
        check: String,
    },
    /// Schedule downtime for `check` on `node`, starting now.
    Downtime {
        node: String,
        check: String,
        duration: std::time::Duration,
    },
    /// Fetch the output of job `id`.
    JobOutput {
        id: u64,
    },
    /// Ask configd for a runbook's plan (answered `Action::RunbookPlanned`).
    PlanRunbook {
        line: String,
        name: String,
        args: Vec<String>,
    },
    /// Run a runbook whose plan (`digest`) the user confirmed.
    RunRunbook {
        name: String,
        args: Vec<String>,
        digest: String,
    },
}
