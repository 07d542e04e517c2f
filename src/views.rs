//! The JSON shapes `monit-cli -o json` prints (DESIGN section 7). Field
//! names here are a contract with operators' scripts. Each entity's shape
//! lives with its wire type in `crate::model`; downtimes are here.

use serde::{Deserialize, Serialize};

use crate::net::proto::DowntimeView;
use crate::timefmt::rfc3339;

pub use crate::model::check::{CheckJson, ProblemJson, CHECK_FIELDS, PROBLEM_FIELDS};
pub use crate::model::event::{EventJson, EVENT_FIELDS};
pub use crate::model::node::{node_field, node_matches, NodeJson, NODE_FIELDS};

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

/// The fields a `downtime list` filter may name.
pub const DOWNTIME_FIELDS: &[&str] = &["id", "node", "check", "start", "end", "who", "comment"];

impl From<&DowntimeView> for DowntimeJson {
    fn from(d: &DowntimeView) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downtime_fields_match_the_json() {
        let downtime = DowntimeView {
            id: 1,
            node: "a".into(),
            check: Some("x".into()),
            start_ms: 1,
            end_ms: 2,
            who: "w".into(),
            comment: "c".into(),
        };
        let json = serde_json::to_value(DowntimeJson::from(&downtime)).unwrap();
        crate::filter::assert_fields_match(&json, DOWNTIME_FIELDS);
    }
}
