//! A check and a problem (a node down or a check not OK): their wire
//! forms (`CheckView`, `ProblemView`), their `-o json` forms and the
//! fields a filter may name.

use serde::{Deserialize, Serialize};

use super::is_false;
use crate::checks::{CheckState, PerfData, StateType};
use crate::timefmt::rfc3339;

/// A check as operators see it (times in epoch ms, 0: never).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckView {
    pub node: String,
    pub name: String,
    pub state: CheckState,
    pub state_type: StateType,
    pub attempt: u32,
    pub max_attempts: u32,
    pub output: String,
    pub long_output: String,
    pub perfdata: Vec<PerfData>,
    pub last_check_ms: i64,
    pub last_change_ms: i64,
    pub acknowledged: bool,
    pub in_downtime: bool,
    pub flapping: bool,
    /// `local` (noded.toml) or `central` (configd.toml); empty from an
    /// older configd, meaning local.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin: String,
    /// Why the node refused this central check; such a row is a
    /// definition only, never run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Its node is down: the state is the last one known, not current.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stale: bool,
}

/// One problem: a node that is down (`check` None) or a non-OK check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemView {
    pub node: String,
    /// None: the node itself is down.
    pub check: Option<String>,
    /// `down`, or the check's state.
    pub state: String,
    /// `hard` or `soft` (a node down is hard).
    pub state_type: String,
    /// When the state began (epoch ms).
    pub since_ms: i64,
    /// The check's output (at most 1 KiB), or why the node went down.
    pub output: String,
    pub acknowledged: bool,
    pub in_downtime: bool,
    pub flapping: bool,
    /// A check of a node that is down.
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemsPage {
    pub problems: Vec<ProblemView>,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecksPage {
    pub checks: Vec<CheckView>,
    pub done: bool,
}

/// A check, as `monit-cli query checks -o json` prints it (and as the
/// TUI's Checks and Problems list it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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

/// Worst first: a node down, then critical, unknown, warning, pending,
/// ok: how problems and checks are sorted wherever they are listed.
pub fn severity(state: &str) -> u8 {
    match state {
        "down" => 0,
        "critical" => 1,
        "unknown" => 2,
        "warning" => 3,
        "pending" => 4,
        _ => 5,
    }
}

pub(crate) fn time_or_null(ms: i64) -> Option<String> {
    (ms > 0).then(|| rfc3339(ms))
}

impl From<&CheckView> for CheckJson {
    fn from(c: &CheckView) -> Self {
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

/// A node that is down as a row among checks (the TUI's Problems): no
/// check name, state `down` since `since`.
impl From<&ProblemView> for CheckJson {
    fn from(p: &ProblemView) -> Self {
        CheckJson {
            node: p.node.clone(),
            name: p.check.clone().unwrap_or_default(),
            state: p.state.clone(),
            state_type: p.state_type.clone(),
            attempt: 1,
            max_attempts: 1,
            output: p.output.clone(),
            last_change: time_or_null(p.since_ms),
            acknowledged: p.acknowledged,
            in_downtime: p.in_downtime,
            flapping: p.flapping,
            stale: p.stale,
            ..CheckJson::default()
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

impl From<&ProblemView> for ProblemJson {
    fn from(p: &ProblemView) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::assert_fields_match;
    use crate::model::assert_wire_shown;

    #[test]
    fn check_fields_match_the_json_and_the_wire() {
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
            stale: true,
            origin: "central".into(),
            refused: some,
        };
        let json = serde_json::to_value(CheckJson::from(&check)).unwrap();
        assert_fields_match(&json, CHECK_FIELDS);
        let wire = serde_json::to_value(&check).unwrap();
        assert_wire_shown(
            &wire,
            &json,
            &[
                ("last_check_ms", "last_check"),
                ("last_change_ms", "last_change"),
            ],
        );
    }

    #[test]
    fn problem_fields_match_the_json_and_the_wire() {
        let problem = ProblemView {
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
        let json = serde_json::to_value(ProblemJson::from(&problem)).unwrap();
        assert_fields_match(&json, PROBLEM_FIELDS);
        // A node that is down, among checks: no name, never checked.
        let down = ProblemView {
            check: None,
            state: "down".into(),
            ..problem.clone()
        };
        let row = CheckJson::from(&down);
        assert_eq!((row.name.as_str(), row.state.as_str()), ("", "down"));
        assert_eq!((row.last_check, row.last_change), (None, time_or_null(1)));
        assert!(row.stale);
        let wire = serde_json::to_value(&problem).unwrap();
        assert_wire_shown(&wire, &json, &[("since_ms", "since")]);
    }
}
