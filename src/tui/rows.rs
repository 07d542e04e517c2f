//! The rows each view shows are the shared model's types: the `-o json`
//! form where it owns its data (nodes, checks and problems, events), else
//! the wire form (jobs, inventory items, log lines). Either way `/`
//! expressions match the `-o json` form ([`Json`]), as `monit-cli
//! --filter` does (the Logs view has its own quick filter).

use crate::model::{item, job, to_value};

pub use crate::model::check::CheckJson;
pub use crate::model::event::EventJson as EventRow;
pub use crate::model::log::LogLine;
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
