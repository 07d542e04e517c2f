//! The rows each view shows are the shared model's types: the `-o json`
//! form where it owns its data (nodes, checks and problems, events), else
//! the wire form (jobs, inventory items). Either way `/` expressions
//! match the `-o json` form ([`Json`]), as `monit-cli --filter` does.

use serde::{Deserialize, Serialize};

use crate::model::{item, job, to_value};
use crate::net::proto;

pub use crate::model::check::CheckJson;
pub use crate::model::event::EventJson as EventRow;
pub use crate::model::node::NodeJson as NodeRow;
pub use crate::net::proto::{InventoryItem, JobView};

/// A row's `-o json` form: what `/` expressions match.
pub trait Json {
    fn json(&self) -> serde_json::Value;
}

impl Json for NodeRow {
    fn json(&self) -> serde_json::Value {
        to_value(self)
    }
}

impl Json for CheckJson {
    fn json(&self) -> serde_json::Value {
        to_value(self)
    }
}

impl Json for EventRow {
    fn json(&self) -> serde_json::Value {
        to_value(self)
    }
}

impl Json for JobView {
    fn json(&self) -> serde_json::Value {
        job::job_json(self)
    }
}

impl Json for InventoryItem {
    fn json(&self) -> serde_json::Value {
        item::inventory_json(self)
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
