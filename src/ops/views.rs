//! Text shapes of jobs and runbook steps for terminals; their JSON shapes
//! (DESIGN section 7) live with the wire types in `crate::model`.

pub use crate::model::command::{command_json, runbook_json, COMMAND_FIELDS};
pub use crate::model::item::inventory_json;
pub use crate::model::job::{job_json, job_state, step_json, JOB_FIELDS};

use crate::net::proto::{StepKind, StepState, StepView};

/// What a step does, in one line: `pack on web-1: pack-zone 301`.
pub fn doing(s: &StepView) -> String {
    let head = match &s.item {
        Some(k) => format!("{} {k}", s.name),
        None => s.name.clone(),
    };
    let node = s.node.as_deref().unwrap_or("?");
    match s.kind {
        StepKind::Run => format!(
            "{head} on {node}: {} {}",
            s.command.as_deref().unwrap_or(""),
            s.args.join(" ")
        )
        .trim_end()
        .to_string(),
        StepKind::Transfer => format!(
            "{head}: {} from {node} to {}",
            s.file.as_deref().unwrap_or(""),
            s.to_node.as_deref().unwrap_or("?")
        ),
        StepKind::Effects => format!("{head}: inventory"),
    }
}

/// A step's inventory changes in one line: `zone 301 node: web-1 -> web-2`.
pub fn changes_text(s: &StepView) -> String {
    s.changes
        .iter()
        .map(|c| {
            let from = c.from.as_deref().unwrap_or("(unset)");
            format!("{} {} {}: {from} -> {}", c.kind, c.key, c.attr, c.to)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The steps, one per line, with their changes, undo and (in a job) state.
pub fn steps_text(steps: &[StepView]) -> String {
    let tag = |state: StepState| match state {
        StepState::Pending => String::new(),
        other => format!(" [{}]", other.as_str()),
    };
    let mut text = String::new();
    for s in steps {
        let state = tag(s.state);
        text.push_str(&format!("  {:>2}. {}{state}\n", s.index, doing(s)));
        if s.state == StepState::Skipped {
            text.push_str(&format!("      {}\n", s.message));
            continue;
        }
        if !s.changes.is_empty() {
            text.push_str(&format!("      sets {}\n", changes_text(s)));
        }
        if let Some(u) = &s.undo {
            let state = tag(u.state);
            text.push_str(&format!("      undo: {}{state}\n", doing(u)));
        }
        if s.exit_code.is_some() || (!s.message.is_empty() && s.state != StepState::Ok) {
            text.push_str(&format!(
                "      exit={} {}\n",
                s.exit_code.map(|c| c.to_string()).unwrap_or("-".into()),
                s.message
            ));
        }
    }
    text
}
