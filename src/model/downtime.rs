//! A downtime: its wire form (`DowntimeView`, in `Downtimes` answers),
//! its `downtime list -o json` form and the fields a filter may name.

use serde::{Deserialize, Serialize};

use crate::timefmt::rfc3339;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DowntimeView {
    pub id: u64,
    pub node: String,
    pub check: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub who: String,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DowntimesPage {
    pub downtimes: Vec<DowntimeView>,
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
