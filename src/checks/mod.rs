//! Health checks in the Nagios tradition, the parts shared by node and
//! configd: what a plugin's output means (`plugin`), the soft/hard state
//! machine (`state`), and what configd adds on top of it: flapping,
//! acknowledgements, downtime and the decision to notify (`tracker`).
//! Everything here is pure (no I/O), so it is table-tested.

pub mod plugin;
pub mod state;
pub mod tracker;

use serde::{Deserialize, Serialize};

crate::model::named_enum! {
    /// A check's state as operators see it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
    pub enum CheckState {
        Ok = "ok",
        Warning = "warning",
        Critical = "critical",
        Unknown = "unknown",
        /// Declared, never checked yet.
        #[default]
        Pending = "pending",
    }
}

impl CheckState {
    /// Nagios exit codes: 0 ok, 1 warning, 2 critical, 3 unknown; anything
    /// else is unknown.
    pub fn from_exit(code: i32) -> CheckState {
        match code {
            0 => CheckState::Ok,
            1 => CheckState::Warning,
            2 => CheckState::Critical,
            _ => CheckState::Unknown,
        }
    }

    pub fn is_problem(self) -> bool {
        !matches!(self, CheckState::Ok | CheckState::Pending)
    }
}

impl std::fmt::Display for CheckState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CheckState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ok" | "0" => Ok(CheckState::Ok),
            "warning" | "warn" | "1" => Ok(CheckState::Warning),
            "critical" | "crit" | "2" => Ok(CheckState::Critical),
            "unknown" | "3" => Ok(CheckState::Unknown),
            other => Err(format!(
                "unknown state `{other}`: use ok, warning, critical or unknown"
            )),
        }
    }
}

crate::model::named_enum! {
    /// Soft: a problem not yet confirmed by `max_attempts` checks. Hard: confirmed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
    pub enum StateType {
        Soft = "soft",
        #[default]
        Hard = "hard",
    }
}

/// One performance-data item: `'label'=value[UOM];[warn];[crit];[min];[max]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerfData {
    pub label: String,
    pub value: f64,
    pub uom: String,
    /// Ranges as the plugin wrote them (`10`, `10:`, `~:10`, `@10:20`).
    pub warn: Option<String>,
    pub crit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}
