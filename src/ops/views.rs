//! JSON shapes of inventory items and jobs (DESIGN section 7), shared by
//! configd (to filter) and monit-cli (to print).

use serde_json::{json, Value};

use crate::net::proto::{InventoryItem, JobView};
use crate::timefmt::rfc3339;

/// `{kind, key, node, attrs{}}`, ints as numbers.
pub fn inventory_json(item: &InventoryItem) -> Value {
    let num = |field: &str, v: &str| -> Value {
        if item.ints.iter().any(|f| f == field) {
            v.parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| v.into())
        } else {
            v.into()
        }
    };
    let attrs: serde_json::Map<String, Value> = item
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), num(k, v)))
        .collect();
    json!({
        "kind": item.kind,
        "key": num("key", &item.key),
        "node": item.node,
        "attrs": attrs,
    })
}

/// A command as `monit-cli query commands -o json` prints it: `{name,
/// description, usage, args[{name, type, rule, min, max, pattern,
/// max_len, values, format, kind}], role, timeout_ms, concurrency,
/// inventory{kind, key, requires, on_success}|null, nodes[]}`.
pub fn command_json(offer: &crate::net::proto::CommandOffer) -> Value {
    use crate::ops::spec::ArgType;
    let c = &offer.spec;
    let args: Vec<Value> = c
        .args
        .iter()
        .map(|a| {
            let mut v = json!({ "name": a.name, "type": a.type_name(), "rule": a.rule() });
            match &a.kind {
                ArgType::Int { min, max } => {
                    v["min"] = json!(min);
                    v["max"] = json!(max);
                }
                ArgType::String { pattern, max_len } => {
                    v["pattern"] = json!(pattern);
                    v["max_len"] = json!(max_len);
                }
                ArgType::Enum { values } => v["values"] = json!(values),
                ArgType::Date { format } => {
                    v["format"] = json!(format.as_deref().unwrap_or("%Y%m%d"))
                }
                ArgType::Ip => {}
                ArgType::Key { kind } => v["kind"] = json!(kind),
            }
            v
        })
        .collect();
    json!({
        "name": c.name,
        "description": c.description,
        "usage": c.signature(),
        "args": args,
        "role": c.role.as_str(),
        "timeout_ms": c.timeout_ms,
        "concurrency": c.concurrency,
        "inventory": c.inventory.as_ref().map(|i| json!({
            "kind": i.kind,
            "key": i.key,
            "requires": i.requires,
            "on_success": i.on_success,
        })),
        "nodes": offer.nodes,
    })
}

/// The fields a `query commands` filter may name.
pub const COMMAND_FIELDS: &[&str] = &[
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

/// The fields a `query jobs` filter may name (a path through `targets`
/// matches a job when any target matches).
pub const JOB_FIELDS: &[&str] = &[
    "id",
    "who",
    "started",
    "finished",
    "command",
    "args",
    "targets.node",
    "targets.state",
    "targets.exit_code",
    "targets.duration_ms",
    "targets.message",
    "state",
    "item",
    "requires.*",
    "effects.*",
    "message",
];

/// `{id, who, started, finished, command, args[], targets[{node, state,
/// exit_code, duration_ms}], state, ...}`.
pub fn job_json(job: &JobView) -> Value {
    let targets: Vec<Value> = job
        .targets
        .iter()
        .map(|t| {
            json!({
                "node": t.node,
                "state": t.state.as_str(),
                "exit_code": t.exit_code,
                "duration_ms": t.duration_ms,
                "message": t.message,
            })
        })
        .collect();
    json!({
        "id": job.id,
        "who": job.who,
        "started": rfc3339(job.started_ms),
        "finished": job.finished_ms.map(rfc3339),
        "command": job.command,
        "args": job.args,
        "targets": targets,
        "state": job_state(job),
        "item": job.item,
        "requires": job.requires,
        "effects": job.effects,
        "message": job.message,
    })
}

/// The job's overall state: running while any target runs, ok when all
/// are ok, else the first target state that is not ok.
pub fn job_state(job: &JobView) -> &'static str {
    use crate::net::proto::TargetState;
    if job.finished_ms.is_none() {
        return "running";
    }
    if job.targets.is_empty() {
        return "failed";
    }
    job.targets
        .iter()
        .find(|t| t.state != TargetState::Ok)
        .map(|t| t.state.as_str())
        .unwrap_or("ok")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::net::proto::{TargetResult, TargetState};

    #[test]
    fn job_fields_match_the_json() {
        let attrs = BTreeMap::from([("state".to_string(), "open".to_string())]);
        let job = JobView {
            id: 1,
            who: "ops".into(),
            started_ms: 1,
            finished_ms: Some(2),
            command: "open-zone".into(),
            args: vec!["218".into()],
            targets: vec![TargetResult {
                node: "a".into(),
                state: TargetState::Ok,
                exit_code: Some(0),
                duration_ms: Some(5),
                message: String::new(),
            }],
            requires: attrs.clone(),
            effects: attrs,
            item: Some("zone=218".into()),
            message: String::new(),
        };
        crate::filter::assert_fields_match(&job_json(&job), JOB_FIELDS);
    }

    #[test]
    fn command_fields_match_the_json() {
        use crate::ops::spec::{ArgSpec, ArgType, CommandRole, CommandSpec, InventoryLink};
        let attrs = BTreeMap::from([("state".to_string(), "new".to_string())]);
        let offer = crate::net::proto::CommandOffer {
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
        let v = command_json(&offer);
        assert_eq!(v["role"], "admin");
        crate::filter::assert_fields_match(&v, COMMAND_FIELDS);
    }
}
