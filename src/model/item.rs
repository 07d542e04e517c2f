//! An inventory item: its wire form (`InventoryItem`) and its `-o json`
//! form (`ItemJson`: `{kind, key, node, attrs{}}`, ints as numbers).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One inventory item on the wire; `ints` names the fields (`key` or
/// attributes) whose type is int, so JSON can print them as numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryItem {
    pub kind: String,
    pub key: String,
    pub node: String,
    pub attrs: BTreeMap<String, String>,
    pub ints: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryPage {
    pub items: Vec<InventoryItem>,
    pub done: bool,
}

/// An item as `monit-cli inventory list -o json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemJson<'a> {
    pub kind: &'a str,
    pub key: IntOrText<'a>,
    pub node: &'a str,
    pub attrs: BTreeMap<&'a str, IntOrText<'a>>,
}

/// A field declared `int` prints as a number (when it is one).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum IntOrText<'a> {
    Int(i64),
    Text(&'a str),
}

impl<'a> From<&'a InventoryItem> for ItemJson<'a> {
    fn from(item: &'a InventoryItem) -> Self {
        let value = |field: &str, v: &'a str| match v.parse::<i64>() {
            Ok(n) if item.ints.iter().any(|f| f == field) => IntOrText::Int(n),
            _ => IntOrText::Text(v),
        };
        ItemJson {
            kind: &item.kind,
            key: value("key", &item.key),
            node: &item.node,
            attrs: item
                .attrs
                .iter()
                .map(|(k, v)| (k.as_str(), value(k, v)))
                .collect(),
        }
    }
}

/// `ItemJson` as a value (to filter, or to print with other rows).
pub fn inventory_json(item: &InventoryItem) -> serde_json::Value {
    super::to_value(&ItemJson::from(item))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_print_as_numbers_and_every_wire_field_shows() {
        let item = InventoryItem {
            kind: "zone".into(),
            key: "218".into(),
            node: "web-1".into(),
            attrs: BTreeMap::from([
                ("size".to_string(), "12".to_string()),
                ("state".to_string(), "open".to_string()),
                ("port".to_string(), "x".to_string()),
            ]),
            ints: vec!["key".into(), "size".into(), "port".into()],
        };
        let json = inventory_json(&item);
        assert_eq!(
            json,
            serde_json::json!({"kind": "zone", "key": 218, "node": "web-1",
                "attrs": {"size": 12, "state": "open", "port": "x"}})
        );
        let wire = serde_json::to_value(&item).unwrap();
        // `ints` is how the JSON's numbers are chosen, not a field of it.
        crate::model::assert_wire_shown(&wire, &json, &[("ints", "")]);
    }
}
