//! The JSON shapes `monit-cli -o json` prints (DESIGN section 7). Field
//! names here are a contract with operators' scripts.

use serde::{Deserialize, Serialize};

use crate::timefmt::rfc3339;

pub use crate::model::node::{node_field, node_matches, NodeJson, NODE_FIELDS};

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
    /// Its node is down: `state` is the last one known, not current.
    pub stale: bool,
    /// `local` (noded.toml) or `central` (configd.toml).
    pub origin: String,
    /// Why the node refused this central check (null: not refused).
    pub refused: Option<String>,
}

/// The fields a `query checks` filter may name.
pub const CHECK_FIELDS: &[&str] = &[
    "node",
    "name",
    "state",
    "state_type",
    "attempt",
    "max_attempts",
    "output",
    "long_output",
    "perfdata.label",
    "perfdata.value",
    "perfdata.uom",
    "perfdata.warn",
    "perfdata.crit",
    "perfdata.min",
    "perfdata.max",
    "last_check",
    "last_change",
    "acknowledged",
    "in_downtime",
    "flapping",
    "stale",
    "origin",
    "refused",
];

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
            origin: if c.origin.is_empty() {
                "local".to_string()
            } else {
                c.origin.clone()
            },
            refused: c.refused.clone(),
            stale: c.stale,
        }
    }
}

/// A problem, as `monit-cli query problems -o json` prints it: a node that
/// is down (`kind` `node`, `check` null) or a non-OK check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemJson {
    /// `node` or `check`.
    pub kind: String,
    pub node: String,
    pub check: Option<String>,
    /// `down`, `warning`, `critical` or `unknown`.
    pub state: String,
    pub state_type: String,
    /// RFC 3339, or null when unknown.
    pub since: Option<String>,
    pub output: String,
    pub acknowledged: bool,
    pub in_downtime: bool,
    pub flapping: bool,
    pub stale: bool,
}

/// The fields a `query problems` filter may name.
pub const PROBLEM_FIELDS: &[&str] = &[
    "kind",
    "node",
    "check",
    "state",
    "state_type",
    "since",
    "output",
    "acknowledged",
    "in_downtime",
    "flapping",
    "stale",
];

impl From<&crate::net::proto::ProblemView> for ProblemJson {
    fn from(p: &crate::net::proto::ProblemView) -> Self {
        ProblemJson {
            kind: if p.check.is_some() { "check" } else { "node" }.into(),
            node: p.node.clone(),
            check: p.check.clone(),
            state: p.state.clone(),
            state_type: p.state_type.clone(),
            since: time_or_null(p.since_ms),
            output: p.output.clone(),
            acknowledged: p.acknowledged,
            in_downtime: p.in_downtime,
            flapping: p.flapping,
            stale: p.stale,
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

/// The fields a `query events` filter may name.
pub const EVENT_FIELDS: &[&str] = &[
    "time",
    "kind",
    "node",
    "check",
    "state",
    "previous_state",
    "who",
    "message",
];

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

/// The fields a `downtime list` filter may name.
pub const DOWNTIME_FIELDS: &[&str] = &["id", "node", "check", "start", "end", "who", "comment"];

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The field lists name exactly what the JSON holds.
    #[test]
    fn field_lists_match_the_json() {
        use crate::checks::{CheckState, PerfData, StateType};
        use crate::filter::assert_fields_match;
        use crate::net::proto::{CheckView, DowntimeView, EventView};
        fn to(v: impl Serialize) -> serde_json::Value {
            serde_json::to_value(v).unwrap()
        }
        let some = Some("x".to_string());
        let check = CheckView {
            node: "a".into(),
            name: "disk".into(),
            state: CheckState::Ok,
            state_type: StateType::Hard,
            attempt: 1,
            max_attempts: 3,
            output: "o".into(),
            long_output: "l".into(),
            perfdata: vec![PerfData {
                label: "used".into(),
                value: 1.0,
                uom: "B".into(),
                warn: some.clone(),
                crit: some.clone(),
                min: Some(0.0),
                max: Some(2.0),
            }],
            last_check_ms: 1,
            last_change_ms: 1,
            acknowledged: false,
            in_downtime: false,
            flapping: false,
            stale: false,
            origin: "central".into(),
            refused: some.clone(),
        };
        assert_fields_match(&to(CheckJson::from(&check)), CHECK_FIELDS);
        let problem = crate::net::proto::ProblemView {
            node: "a".into(),
            check: Some("disk".into()),
            state: "critical".into(),
            state_type: "hard".into(),
            since_ms: 1,
            output: "o".into(),
            acknowledged: false,
            in_downtime: false,
            flapping: false,
            stale: true,
        };
        assert_fields_match(&to(ProblemJson::from(&problem)), PROBLEM_FIELDS);
        let event = EventView {
            time_ms: 1,
            kind: "state".into(),
            node: some.clone(),
            check: some.clone(),
            state: some.clone(),
            previous_state: some.clone(),
            who: some.clone(),
            message: "m".into(),
        };
        assert_fields_match(&to(EventJson::from(&event)), EVENT_FIELDS);
        let downtime = DowntimeView {
            id: 1,
            node: "a".into(),
            check: some,
            start_ms: 1,
            end_ms: 2,
            who: "w".into(),
            comment: "c".into(),
        };
        assert_fields_match(&to(DowntimeJson::from(&downtime)), DOWNTIME_FIELDS);
    }
}
