//! A command as nodes offer it (`CommandOffer`) and a runbook of
//! configd.toml (`RunbookOffer`): wire forms, the `query commands -o json`
//! form of each (one list: `kind` tells them apart) and the fields a
//! filter may name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::role::Role;
use crate::ops::spec::{ArgType, InventoryLink};

/// Command names offered by at least one node, sorted, each once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommandNames {
    pub names: Vec<String>,
}

/// One command as some nodes offer it (nodes offering a command of the
/// same name with another definition are another offer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOffer {
    pub spec: crate::ops::spec::CommandSpec,
    pub nodes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommandsPage {
    pub commands: Vec<CommandOffer>,
    /// configd's runbooks (not when the query names a node).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runbooks: Vec<RunbookOffer>,
}

/// A runbook of configd.toml, as `query commands` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookOffer {
    pub name: String,
    pub description: String,
    /// Who may run it.
    pub role: Role,
    /// `move-zone <zone:key zone> <dst:node>`.
    pub usage: String,
    pub args: Vec<RunbookArgInfo>,
    /// Its steps' names, in order.
    pub steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookArgInfo {
    pub name: String,
    /// `int`, `string`, `enum`, `date`, `ip`, `key`, `keys` or `node`.
    pub kind: String,
    /// The rule a value must meet, for humans.
    pub rule: String,
    /// What each named item must have (`key`, `keys`).
    pub requires: BTreeMap<String, String>,
}

/// A command as `monit-cli query commands -o json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandJson<'a> {
    /// `command`.
    pub kind: &'static str,
    pub name: &'a str,
    pub description: &'a str,
    pub usage: String,
    pub args: Vec<ArgJson<'a>>,
    pub role: &'static str,
    pub timeout_ms: u64,
    pub concurrency: u32,
    pub inventory: Option<&'a InventoryLink>,
    pub nodes: &'a [String],
}

/// One argument: its name, type and rule, and what its type takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArgJson<'a> {
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub rule: String,
    #[serde(flatten)]
    pub takes: ArgTakes<'a>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ArgTakes<'a> {
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    String {
        pattern: Option<&'a str>,
        max_len: Option<usize>,
    },
    Enum {
        values: &'a [String],
    },
    Date {
        format: &'a str,
    },
    Key {
        kind: &'a str,
    },
    Nothing {},
}

impl<'a> From<&'a CommandOffer> for CommandJson<'a> {
    fn from(offer: &'a CommandOffer) -> Self {
        let c = &offer.spec;
        let args = c
            .args
            .iter()
            .map(|a| ArgJson {
                name: &a.name,
                kind: a.type_name(),
                rule: a.rule(),
                takes: match &a.kind {
                    ArgType::Int { min, max } => ArgTakes::Int {
                        min: *min,
                        max: *max,
                    },
                    ArgType::String { pattern, max_len } => ArgTakes::String {
                        pattern: pattern.as_deref(),
                        max_len: *max_len,
                    },
                    ArgType::Enum { values } => ArgTakes::Enum { values },
                    ArgType::Date { format } => ArgTakes::Date {
                        format: format.as_deref().unwrap_or("%Y%m%d"),
                    },
                    ArgType::Ip => ArgTakes::Nothing {},
                    ArgType::Key { kind } => ArgTakes::Key { kind },
                },
            })
            .collect();
        CommandJson {
            kind: "command",
            name: &c.name,
            description: &c.description,
            usage: c.signature(),
            args,
            role: c.role.as_str(),
            timeout_ms: c.timeout_ms,
            concurrency: c.concurrency,
            inventory: c.inventory.as_ref(),
            nodes: &offer.nodes,
        }
    }
}

/// A runbook as `query commands` lists it, in the commands' shape where
/// the fields mean the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunbookJson<'a> {
    /// `runbook`.
    pub kind: &'static str,
    pub name: &'a str,
    pub description: &'a str,
    pub usage: &'a str,
    pub args: Vec<RunbookArgJson<'a>>,
    pub role: &'static str,
    pub steps: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunbookArgJson<'a> {
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub rule: &'a str,
    pub requires: &'a BTreeMap<String, String>,
}

impl<'a> From<&'a RunbookOffer> for RunbookJson<'a> {
    fn from(r: &'a RunbookOffer) -> Self {
        RunbookJson {
            kind: "runbook",
            name: &r.name,
            description: &r.description,
            usage: &r.usage,
            args: r
                .args
                .iter()
                .map(|a| RunbookArgJson {
                    name: &a.name,
                    kind: &a.kind,
                    rule: &a.rule,
                    requires: &a.requires,
                })
                .collect(),
            role: r.role.as_str(),
            steps: &r.steps,
        }
    }
}

/// `CommandJson` as a value (to filter, or to print with runbooks).
pub fn command_json(offer: &CommandOffer) -> serde_json::Value {
    super::to_value(&CommandJson::from(offer))
}

/// `RunbookJson` as a value.
pub fn runbook_json(r: &RunbookOffer) -> serde_json::Value {
    super::to_value(&RunbookJson::from(r))
}

/// The fields a `query commands` filter may name.
pub const COMMAND_FIELDS: &[&str] = &[
    "kind",
    "steps",
    "name",
    "description",
    "usage",
    "args.*",
    "role",
    "timeout_ms",
    "concurrency",
    "inventory.kind",
    "inventory.key",
    "inventory.requires.*",
    "inventory.on_success.*",
    "nodes",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_fields_match_the_json() {
        use crate::ops::spec::{ArgSpec, ArgType, CommandRole, CommandSpec, InventoryLink};
        let attrs = BTreeMap::from([("state".to_string(), "new".to_string())]);
        let offer = CommandOffer {
            spec: CommandSpec {
                name: "open-zone".into(),
                description: "d".into(),
                argv: vec!["/bin/true".into()],
                args: vec![ArgSpec {
                    name: "zone".into(),
                    kind: ArgType::Int {
                        min: Some(1),
                        max: None,
                    },
                }],
                timeout_ms: 1,
                concurrency: 1,
                inventory: Some(InventoryLink {
                    kind: "zone".into(),
                    key: "zone".into(),
                    requires: attrs.clone(),
                    on_success: attrs,
                }),
                role: CommandRole::Admin,
            },
            nodes: vec!["web-1".into()],
        };
        let mut v = command_json(&offer);
        assert_eq!(v["role"], "admin");
        // Runbooks share the list: their fields are filter fields too.
        let runbook = runbook_json(&RunbookOffer {
            name: "move-zone".into(),
            description: "d".into(),
            role: Role::Operator,
            usage: "move-zone <zone:key zone>".into(),
            args: vec![RunbookArgInfo {
                name: "zone".into(),
                kind: "key".into(),
                rule: "r".into(),
                requires: BTreeMap::from([("state".to_string(), "live".to_string())]),
            }],
            steps: vec!["pack".into()],
        });
        assert_eq!(runbook["kind"], "runbook");
        if let (Some(all), Some(more)) = (v.as_object_mut(), runbook.as_object()) {
            for (k, val) in more {
                all.entry(k.clone()).or_insert(val.clone());
            }
        }
        crate::filter::assert_fields_match(&v, COMMAND_FIELDS);
    }
}
