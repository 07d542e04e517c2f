//! The rows each view shows: plain data whose fields are the JSON fields of
//! DESIGN section 7, so turning a query answer into a row is a field copy.
//! Nodes reuse [`crate::views::NodeJson`] as is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::views::NodeJson as NodeRow;

/// One check result (`monit-cli query checks`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProblemRow {
    pub node: String,
    pub name: String,
    /// `ok`, `warning`, `critical`, `unknown` or `pending`.
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
}

impl ProblemRow {
    /// Sort key, smallest first: critical, unknown, warning, pending, ok;
    /// hard before soft.
    pub fn severity(&self) -> (u8, u8) {
        let s = match self.state.as_str() {
            "critical" => 0,
            "unknown" => 1,
            "warning" => 2,
            "pending" => 3,
            _ => 4,
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
}

impl JobRow {
    /// The job's overall state: running while any target runs, else ok
    /// when all are ok, else the first bad state.
    pub fn state(&self) -> &str {
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

/// One fleet event (`monit-cli query events`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EventRow {
    pub time: String,
    pub node: String,
    pub kind: String,
    pub message: String,
}
