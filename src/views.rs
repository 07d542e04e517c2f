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
