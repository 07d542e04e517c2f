//! The JSON shapes `monit-cli -o json` prints (DESIGN section 7). Field
//! names here are a contract with operators' scripts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::net::proto::{CheckCounts, NodeView};
use crate::timefmt::rfc3339;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeJson {
    pub name: String,
    /// `up`, `down` or `pending`.
    pub state: String,
    pub addr: String,
    pub first_seen: String,
    pub last_seen: String,
    pub version: String,
    pub labels: BTreeMap<String, String>,
    pub checks: CheckCounts,
}

impl From<&NodeView> for NodeJson {
    fn from(n: &NodeView) -> Self {
        NodeJson {
            name: n.name.clone(),
            state: n.state.as_str().to_string(),
            addr: n.addr.clone(),
            first_seen: rfc3339(n.first_seen_ms),
            last_seen: rfc3339(n.last_seen_ms),
            version: n.version.clone(),
            labels: n.labels.clone(),
            checks: n.checks,
        }
    }
}

/// A check, as `monit-cli query checks -o json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckJson {
    pub node: String,
    pub name: String,
    pub state: String,
    pub state_type: String,
    pub attempt: u32,
    pub max_attempts: u32,
    pub output: String,
    pub long_output: String,
    pub perfdata: Vec<crate::checks::PerfData>,
    /// RFC 3339, or null when never.
    pub last_check: Option<String>,
    pub last_change: Option<String>,
    pub acknowledged: bool,
    pub in_downtime: bool,
    pub flapping: bool,
}

fn time_or_null(ms: i64) -> Option<String> {
    (ms > 0).then(|| rfc3339(ms))
}

impl From<&crate::net::proto::CheckView> for CheckJson {
    fn from(c: &crate::net::proto::CheckView) -> Self {
        CheckJson {
            node: c.node.clone(),
            name: c.name.clone(),
            state: c.state.as_str().to_string(),
            state_type: c.state_type.as_str().to_string(),
            attempt: c.attempt,
            max_attempts: c.max_attempts,
            output: c.output.clone(),
            long_output: c.long_output.clone(),
            perfdata: c.perfdata.clone(),
            last_check: time_or_null(c.last_check_ms),
            last_change: time_or_null(c.last_change_ms),
            acknowledged: c.acknowledged,
            in_downtime: c.in_downtime,
            flapping: c.flapping,
        }
    }
}

/// An event, as `monit-cli query events -o json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventJson {
    pub time: String,
    pub kind: String,
    pub node: Option<String>,
    pub check: Option<String>,
    pub state: Option<String>,
    pub previous_state: Option<String>,
    pub who: Option<String>,
    pub message: String,
}

impl From<&crate::net::proto::EventView> for EventJson {
    fn from(e: &crate::net::proto::EventView) -> Self {
        EventJson {
            time: crate::timefmt::rfc3339_ms(e.time_ms),
            kind: e.kind.clone(),
            node: e.node.clone(),
            check: e.check.clone(),
            state: e.state.clone(),
            previous_state: e.previous_state.clone(),
            who: e.who.clone(),
            message: e.message.clone(),
        }
    }
}

/// A downtime, as `monit-cli downtime list -o json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DowntimeJson {
    pub id: u64,
    pub node: String,
    pub check: Option<String>,
    pub start: String,
    pub end: String,
    pub who: String,
    pub comment: String,
}

impl From<&crate::net::proto::DowntimeView> for DowntimeJson {
    fn from(d: &crate::net::proto::DowntimeView) -> Self {
        DowntimeJson {
            id: d.id,
            node: d.node.clone(),
            check: d.check.clone(),
            start: rfc3339(d.start_ms),
            end: rfc3339(d.end_ms),
            who: d.who.clone(),
            comment: d.comment.clone(),
        }
    }
}
