//! A fleet event (a state change, an acknowledgement, a downtime...): its
//! wire form (`EventView`), its `-o json` form and the fields a filter may
//! name.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub time_ms: i64,
    pub kind: String,
    pub node: Option<String>,
    pub check: Option<String>,
    pub state: Option<String>,
    pub previous_state: Option<String>,
    pub who: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPage {
    pub events: Vec<EventView>,
    pub done: bool,
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

impl From<&EventView> for EventJson {
    fn from(e: &EventView) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_fields_match_the_json_and_the_wire() {
        let some = Some("x".to_string());
        let event = EventView {
            time_ms: 1,
            kind: "state".into(),
            node: some.clone(),
            check: some.clone(),
            state: some.clone(),
            previous_state: some.clone(),
            who: some,
            message: "m".into(),
        };
        let json = serde_json::to_value(EventJson::from(&event)).unwrap();
        crate::filter::assert_fields_match(&json, EVENT_FIELDS);
        let wire = serde_json::to_value(&event).unwrap();
        crate::model::assert_wire_shown(&wire, &json, &[("time_ms", "time")]);
    }
}
