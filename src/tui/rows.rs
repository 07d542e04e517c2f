//! The rows each view shows: plain data whose fields are the JSON fields of
//! DESIGN section 7, so turning a query answer into a row is a field copy.
//! Nodes reuse [`crate::model::node::NodeJson`] as is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::net::proto;

pub use crate::model::node::NodeJson as NodeRow;

/// One problem: a check result (`monit-cli query checks`), or a node that
/// is down (`name` empty, `state` `down`; `monit-cli query problems`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProblemRow {
    pub node: String,
    /// The check; empty for a node that is down.
    pub name: String,
    /// `down` (a node), `ok`, `warning`, `critical`, `unknown` or `pending`.
    pub state: String,
    /// `soft` or `hard`.
    pub state_type: String,
    pub attempt: u32,
    pub max_attempts: u32,
    pub output: String,
    pub long_output: String,
    pub last_check: String,
    pub last_change: String,
    pub acknowledged: bool,
    pub in_downtime: bool,
    pub flapping: bool,
    /// A check of a node that is down: its state is the last one known.
    #[serde(default)]
    pub stale: bool,
}

impl ProblemRow {
    /// Sort key, smallest first: nodes down, then critical, unknown,
    /// warning, pending, ok; hard before soft.
    pub fn severity(&self) -> (u8, u8) {
        let s = match self.state.as_str() {
            "down" => 0,
            "critical" => 1,
            "unknown" => 2,
            "warning" => 3,
            "pending" => 4,
            _ => 5,
        };
        (s, u8::from(self.state_type != "hard"))
    }
}

/// One log line (`monit-cli logs -o jsonl`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogLine {
    pub time: String,
    pub node: String,
    pub level: String,
    /// `daemon`, `job:ID` or `check:NAME`.
    pub source: String,
    pub message: String,
}

/// One node's part in a job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobTarget {
    pub node: String,
    /// `running`, `ok`, `failed`, `timeout`, `cancelled` or `lost`.
    pub state: String,
    pub exit_code: Option<i32>,
    pub duration_ms: Option<u64>,
}

/// One job (`monit-cli query jobs`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobRow {
    pub id: String,
    pub who: String,
    pub started: String,
    pub finished: Option<String>,
    pub command: String,
    pub args: Vec<String>,
    pub targets: Vec<JobTarget>,
    /// The overall state, as `monit-cli query jobs` has it (`/state=failed`).
    pub state: String,
    /// The inventory item a command acted on, `KIND=KEY`.
    pub item: Option<String>,
    pub message: String,
    /// A runbook's steps.
    pub steps: Vec<JobStep>,
}

/// One step of a runbook job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobStep {
    pub index: u32,
    pub name: String,
    /// `pending`, `running`, `ok`, `failed`, `skipped`, `undone`, ...
    pub state: String,
    pub node: Option<String>,
    /// What it does, in one line (`pack on web-1: pack-zone 301`).
    pub doing: String,
    pub message: String,
}

impl JobRow {
    /// The job's overall state: configd's when known, else running while
    /// any target runs, ok when all are ok, else the first bad state.
    pub fn state(&self) -> &str {
        if !self.state.is_empty() {
            return &self.state;
        }
        if self.targets.iter().any(|t| t.state == "running") {
            return "running";
        }
        self.targets
            .iter()
            .map(|t| t.state.as_str())
            .find(|s| *s != "ok")
            .unwrap_or("ok")
    }
}

/// One inventory item (`monit-cli query inventory`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InventoryRow {
    pub kind: String,
    pub key: String,
    pub node: String,
    pub attrs: BTreeMap<String, String>,
}

/// An event row is the event as `monit-cli query events -o json` prints
/// it, so `/` filters name the same fields.
pub use crate::model::event::EventJson as EventRow;

fn time_or_empty(ms: i64) -> String {
    if ms > 0 {
        crate::timefmt::rfc3339(ms)
    } else {
        String::new()
    }
}

impl From<&proto::CheckView> for ProblemRow {
    fn from(c: &proto::CheckView) -> Self {
        ProblemRow {
            node: c.node.clone(),
            name: c.name.clone(),
            state: c.state.as_str().to_string(),
            state_type: c.state_type.as_str().to_string(),
            attempt: c.attempt,
            max_attempts: c.max_attempts,
            output: c.output.clone(),
            long_output: c.long_output.clone(),
            last_check: time_or_empty(c.last_check_ms),
            last_change: time_or_empty(c.last_change_ms),
            acknowledged: c.acknowledged,
            in_downtime: c.in_downtime,
            flapping: c.flapping,
            stale: c.stale,
        }
    }
}

impl From<&proto::ProblemView> for ProblemRow {
    fn from(p: &proto::ProblemView) -> Self {
        ProblemRow {
            node: p.node.clone(),
            name: p.check.clone().unwrap_or_default(),
            state: p.state.clone(),
            state_type: p.state_type.clone(),
            attempt: 1,
            max_attempts: 1,
            output: p.output.clone(),
            long_output: String::new(),
            last_check: String::new(),
            last_change: time_or_empty(p.since_ms),
            acknowledged: p.acknowledged,
            in_downtime: p.in_downtime,
            flapping: p.flapping,
            stale: p.stale,
        }
    }
}

impl From<&proto::LogLine> for LogLine {
    fn from(l: &proto::LogLine) -> Self {
        LogLine {
            time: crate::timefmt::rfc3339_ms(l.time_ms),
            node: l.node.clone(),
            level: l.level.as_str().to_string(),
            source: l.source.clone(),
            message: l.message.clone(),
        }
    }
}

impl From<&proto::JobView> for JobRow {
    fn from(j: &proto::JobView) -> Self {
        JobRow {
            id: j.id.to_string(),
            who: j.who.clone(),
            started: crate::timefmt::rfc3339(j.started_ms),
            finished: j.finished_ms.map(crate::timefmt::rfc3339),
            command: j.command.clone(),
            args: j.args.clone(),
            targets: j
                .targets
                .iter()
                .map(|t| JobTarget {
                    node: t.node.clone(),
                    state: t.state.as_str().to_string(),
                    exit_code: t.exit_code,
                    duration_ms: t.duration_ms,
                })
                .collect(),
            state: crate::ops::views::job_state(j).to_string(),
            item: j.item.clone(),
            message: j.message.clone(),
            steps: j
                .steps
                .iter()
                .map(|s| JobStep {
                    index: s.index,
                    name: s.name.clone(),
                    state: s.state.as_str().to_string(),
                    node: s.node.clone(),
                    doing: crate::ops::views::doing(s),
                    message: s.message.clone(),
                })
                .collect(),
        }
    }
}

impl From<&proto::InventoryItem> for InventoryRow {
    fn from(i: &proto::InventoryItem) -> Self {
        InventoryRow {
            kind: i.kind.clone(),
            key: i.key.clone(),
            node: i.node.clone(),
            attrs: i.attrs.clone(),
        }
    }
}
