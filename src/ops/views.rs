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
        "kind": "command",
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

/// A runbook as `query commands` lists it, in the commands' shape where
/// the fields mean the same (`kind` tells them apart).
pub fn runbook_json(r: &crate::net::proto::RunbookOffer) -> Value {
    let args: Vec<Value> = r
        .args
        .iter()
        .map(|a| json!({"name": a.name, "type": a.kind, "rule": a.rule, "requires": a.requires}))
        .collect();
    json!({
        "kind": "runbook",
        "name": r.name,
        "description": r.description,
        "usage": r.usage,
        "args": args,
        "role": r.role.as_str(),
        "steps": r.steps,
    })
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
    "kind",
    "steps.index",
    "steps.name",
    "steps.kind",
    "steps.item",
    "steps.node",
    "steps.to_node",
    "steps.command",
    "steps.args",
    "steps.file",
    "steps.changes.kind",
    "steps.changes.key",
    "steps.changes.attr",
    "steps.changes.from",
    "steps.changes.to",
    "steps.undo.name",
    "steps.undo.kind",
    "steps.undo.node",
    "steps.undo.to_node",
    "steps.undo.command",
    "steps.undo.args",
    "steps.undo.file",
    "steps.undo.state",
    "steps.undo.exit_code",
    "steps.undo.message",
    "steps.state",
    "steps.started",
    "steps.finished",
    "steps.duration_ms",
    "steps.exit_code",
    "steps.bytes",
    "steps.message",
];

/// One runbook step as JSON (`query jobs`, `job show`, `runbook plan`).
pub fn step_json(s: &crate::net::proto::StepView) -> Value {
    let changes: Vec<Value> = s
        .changes
        .iter()
        .map(|c| json!({"kind": c.kind, "key": c.key, "attr": c.attr, "from": c.from, "to": c.to}))
        .collect();
    let undo = s.undo.as_ref().map(|u| {
        json!({
            "name": u.name,
            "kind": step_kind(u.kind),
            "node": u.node,
            "to_node": u.to_node,
            "command": u.command,
            "args": u.args,
            "file": u.file,
            "state": u.state.as_str(),
            "exit_code": u.exit_code,
            "message": u.message,
        })
    });
    json!({
        "index": s.index,
        "name": s.name,
        "kind": step_kind(s.kind),
        "item": s.item,
        "node": s.node,
        "to_node": s.to_node,
        "command": s.command,
        "args": s.args,
        "file": s.file,
        "changes": changes,
        "undo": undo,
        "state": s.state.as_str(),
        "started": s.started_ms.map(rfc3339),
        "finished": s.finished_ms.map(rfc3339),
        "duration_ms": s.started_ms.zip(s.finished_ms).map(|(a, b)| b - a),
        "exit_code": s.exit_code,
        "bytes": s.bytes,
        "message": s.message,
    })
}

pub fn step_kind(k: crate::net::proto::StepKind) -> &'static str {
    use crate::net::proto::StepKind;
    match k {
        StepKind::Run => "run",
        StepKind::Transfer => "transfer",
        StepKind::Effects => "effects",
    }
}

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
        "kind": if job.steps.is_empty() { "command" } else { "runbook" },
        "steps": job.steps.iter().map(step_json).collect::<Vec<_>>(),
    })
}

/// What a step does, in one line: `pack on web-1: pack-zone 301`.
pub fn doing(s: &crate::net::proto::StepView) -> String {
    let head = match &s.item {
        Some(k) => format!("{} {k}", s.name),
        None => s.name.clone(),
    };
    let node = s.node.as_deref().unwrap_or("?");
    match s.kind {
        crate::net::proto::StepKind::Run => format!(
            "{head} on {node}: {} {}",
            s.command.as_deref().unwrap_or(""),
            s.args.join(" ")
        )
        .trim_end()
        .to_string(),
        crate::net::proto::StepKind::Transfer => format!(
            "{head}: {} from {node} to {}",
            s.file.as_deref().unwrap_or(""),
            s.to_node.as_deref().unwrap_or("?")
        ),
        crate::net::proto::StepKind::Effects => format!("{head}: inventory"),
    }
}

/// A step's inventory changes in one line: `zone 301 node: web-1 -> web-2`.
pub fn changes_text(s: &crate::net::proto::StepView) -> String {
    s.changes
        .iter()
        .map(|c| {
            format!(
                "{} {} {}: {} -> {}",
                c.kind,
                c.key,
                c.attr,
                c.from.as_deref().unwrap_or("(unset)"),
                c.to
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The steps, one per line, with their changes, undo and (in a job) state.
pub fn steps_text(steps: &[crate::net::proto::StepView]) -> String {
    let mut text = String::new();
    for s in steps {
        let state = match s.state {
            crate::net::proto::StepState::Pending => String::new(),
            other => format!(" [{}]", other.as_str()),
        };
        text.push_str(&format!("  {:>2}. {}{state}\n", s.index, doing(s)));
        if s.state == crate::net::proto::StepState::Skipped {
            text.push_str(&format!("      {}\n", s.message));
            continue;
        }
        if !s.changes.is_empty() {
            text.push_str(&format!("      sets {}\n", changes_text(s)));
        }
        if let Some(u) = &s.undo {
            let state = match u.state {
                crate::net::proto::StepState::Pending => String::new(),
                other => format!(" [{}]", other.as_str()),
            };
            text.push_str(&format!("      undo: {}{state}\n", doing(u)));
        }
        if s.exit_code.is_some()
            || (!s.message.is_empty() && s.state != crate::net::proto::StepState::Ok)
        {
            text.push_str(&format!(
                "      exit={} {}\n",
                s.exit_code.map(|c| c.to_string()).unwrap_or("-".into()),
                s.message
            ));
        }
    }
    text
}

/// The job's overall state: running while any target runs, ok when all
/// are ok, else the first target state that is not ok.
pub fn job_state(job: &JobView) -> &'static str {
    use crate::net::proto::TargetState;
    if job.finished_ms.is_none() {
        return "running";
    }
    if !job.steps.is_empty() {
        use crate::net::proto::StepState;
        let ok = job
            .steps
            .iter()
            .all(|s| matches!(s.state, StepState::Ok | StepState::Skipped));
        return if ok { "ok" } else { "failed" };
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
            steps: vec![step()],
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
        let mut v = command_json(&offer);
        assert_eq!(v["role"], "admin");
        // Runbooks share the list: their fields are filter fields too.
        let runbook = runbook_json(&crate::net::proto::RunbookOffer {
            name: "move-zone".into(),
            description: "d".into(),
            role: crate::net::proto::Role::Operator,
            usage: "move-zone <zone:key zone>".into(),
            args: vec![crate::net::proto::RunbookArgInfo {
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

    fn step() -> crate::net::proto::StepView {
        use crate::net::proto::{InventoryChange, StepKind, StepState, StepView};
        let mut undo = StepView::pending(1, "drop", StepKind::Run, None);
        undo.node = Some("a".into());
        undo.command = Some("drop-pack".into());
        undo.args = vec!["218".into()];
        StepView {
            name: "pack".into(),
            kind: StepKind::Transfer,
            item: Some("218".into()),
            to_node: Some("b".into()),
            file: Some("zone-218.tar".into()),
            changes: vec![InventoryChange {
                kind: "zone".into(),
                key: "218".into(),
                attr: "node".into(),
                from: Some("a".into()),
                to: "b".into(),
            }],
            undo: Some(Box::new(undo.clone())),
            state: StepState::Ok,
            started_ms: Some(1),
            finished_ms: Some(2),
            exit_code: Some(0),
            bytes: Some(10),
            ..undo
        }
    }

    #[test]
    fn a_runbook_job_is_ok_only_when_every_step_is() {
        let mut job = JobView {
            id: 1,
            who: "ops".into(),
            started_ms: 1,
            finished_ms: Some(2),
            command: "move-zone".into(),
            args: vec![],
            targets: vec![],
            requires: BTreeMap::new(),
            effects: BTreeMap::new(),
            item: None,
            message: String::new(),
            steps: vec![step()],
        };
        assert_eq!(job_state(&job), "ok");
        job.steps[0].state = crate::net::proto::StepState::Undone;
        assert_eq!(job_state(&job), "failed");
    }
}
