//! A job (a command run on nodes, or a runbook's steps): its wire forms
//! (`JobView` with `TargetResult`s and `StepView`s), its `-o json` form
//! (`JobJson`) and the fields a filter may name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::timefmt::rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

crate::model::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum TargetState {
        Running = "running",
        Ok = "ok",
        Failed = "failed",
        Timeout = "timeout",
        Cancelled = "cancelled",
        Lost = "lost",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetResult {
    pub node: String,
    pub state: TargetState,
    pub exit_code: Option<i32>,
    pub duration_ms: Option<u64>,
    /// Why, when it did not run to an exit code.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: u64,
    pub who: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub command: String,
    pub args: Vec<String>,
    pub targets: Vec<TargetResult>,
    /// Preconditions checked before dispatch (`ATTR=VALUE` of the item).
    pub requires: BTreeMap<String, String>,
    /// Effects applied on success (empty when not applied).
    pub effects: BTreeMap<String, String>,
    /// The inventory item the job acted on, `KIND=KEY`.
    pub item: Option<String>,
    pub message: String,
    /// A runbook's steps (a runbook job has at least one; a command job none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Run,
    Transfer,
    Effects,
}

crate::model::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum StepState {
        Pending = "pending",
        Running = "running",
        Ok = "ok",
        Failed = "failed",
        Skipped = "skipped",
        /// Completed, then reverted after a later step failed.
        Undone = "undone",
        /// Its undo was tried and failed: look at the message.
        UndoFailed = "undo_failed",
        /// configd stopped while it ran.
        Lost = "lost",
    }
}

/// One inventory attribute a step changes (`node` for the hosting node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryChange {
    pub kind: String,
    pub key: String,
    pub attr: String,
    /// The value before (None: unset).
    pub from: Option<String>,
    pub to: String,
}

/// One resolved step of a runbook: what runs where, what it changes, its
/// undo, and (in a job) how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    /// 1-based position in the plan.
    pub index: u32,
    pub name: String,
    pub kind: StepKind,
    /// The key a `for_each` step is on.
    pub item: Option<String>,
    /// Where it runs (a transfer's source).
    pub node: Option<String>,
    /// A transfer's destination.
    pub to_node: Option<String>,
    pub command: Option<String>,
    pub args: Vec<String>,
    /// A transfer's file, relative to both nodes' `transfer_dir`.
    pub file: Option<String>,
    pub changes: Vec<InventoryChange>,
    /// What reverts it when a later step fails.
    pub undo: Option<Box<StepView>>,
    pub state: StepState,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub exit_code: Option<i32>,
    /// Bytes moved (transfers).
    pub bytes: Option<u64>,
    /// Why it was skipped, how it failed, what its undo did.
    pub message: String,
}

impl StepView {
    /// A step as planned: nothing resolved yet, nothing run.
    pub fn pending(index: u32, name: &str, kind: StepKind, item: Option<String>) -> StepView {
        StepView {
            index,
            name: name.to_string(),
            kind,
            item,
            node: None,
            to_node: None,
            command: None,
            args: Vec::new(),
            file: None,
            changes: Vec::new(),
            undo: None,
            state: StepState::Pending,
            started_ms: None,
            finished_ms: None,
            exit_code: None,
            bytes: None,
            message: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobsPage {
    pub jobs: Vec<JobView>,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeOutput {
    pub node: String,
    pub output: String,
    /// Only the tail was kept.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDetail {
    pub job: JobView,
    pub outputs: Vec<NodeOutput>,
}

/// A job as `monit-cli query jobs -o json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobJson<'a> {
    pub id: u64,
    pub who: &'a str,
    pub started: String,
    pub finished: Option<String>,
    pub command: &'a str,
    pub args: &'a [String],
    pub targets: &'a [TargetResult],
    /// `job_state`.
    pub state: &'static str,
    pub item: Option<&'a str>,
    pub requires: &'a BTreeMap<String, String>,
    pub effects: &'a BTreeMap<String, String>,
    pub message: &'a str,
    /// `command` or `runbook`.
    pub kind: &'static str,
    pub steps: Vec<StepJson<'a>>,
}

/// One runbook step (`query jobs`, `job show`, `runbook plan`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepJson<'a> {
    pub index: u32,
    pub item: Option<&'a str>,
    pub changes: &'a [InventoryChange],
    pub undo: Option<UndoJson<'a>>,
    pub started: Option<String>,
    pub finished: Option<String>,
    pub duration_ms: Option<i64>,
    pub bytes: Option<u64>,
    #[serde(flatten)]
    pub what: UndoJson<'a>,
}

/// What a step (or its undo) runs, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoJson<'a> {
    pub name: &'a str,
    pub kind: StepKind,
    pub node: Option<&'a str>,
    pub to_node: Option<&'a str>,
    pub command: Option<&'a str>,
    pub args: &'a [String],
    pub file: Option<&'a str>,
    pub state: StepState,
    pub exit_code: Option<i32>,
    pub message: &'a str,
}

impl<'a> From<&'a StepView> for UndoJson<'a> {
    fn from(s: &'a StepView) -> Self {
        UndoJson {
            name: &s.name,
            kind: s.kind,
            node: s.node.as_deref(),
            to_node: s.to_node.as_deref(),
            command: s.command.as_deref(),
            args: &s.args,
            file: s.file.as_deref(),
            state: s.state,
            exit_code: s.exit_code,
            message: &s.message,
        }
    }
}

impl<'a> From<&'a StepView> for StepJson<'a> {
    fn from(s: &'a StepView) -> Self {
        StepJson {
            index: s.index,
            item: s.item.as_deref(),
            changes: &s.changes,
            undo: s.undo.as_deref().map(UndoJson::from),
            started: s.started_ms.map(rfc3339),
            finished: s.finished_ms.map(rfc3339),
            duration_ms: s.started_ms.zip(s.finished_ms).map(|(a, b)| b - a),
            bytes: s.bytes,
            what: UndoJson::from(s),
        }
    }
}

impl<'a> From<&'a JobView> for JobJson<'a> {
    fn from(job: &'a JobView) -> Self {
        JobJson {
            id: job.id,
            who: &job.who,
            started: rfc3339(job.started_ms),
            finished: job.finished_ms.map(rfc3339),
            command: &job.command,
            args: &job.args,
            targets: &job.targets,
            state: job_state(job),
            item: job.item.as_deref(),
            requires: &job.requires,
            effects: &job.effects,
            message: &job.message,
            kind: if job.steps.is_empty() {
                "command"
            } else {
                "runbook"
            },
            steps: job.steps.iter().map(StepJson::from).collect(),
        }
    }
}

/// `JobJson` as a value (to filter, or to print).
pub fn job_json(job: &JobView) -> serde_json::Value {
    super::to_value(&JobJson::from(job))
}

/// `StepJson` as a value.
pub fn step_json(s: &StepView) -> serde_json::Value {
    super::to_value(&StepJson::from(s))
}

/// The job's overall state: running while any target runs, ok when all
/// are ok, else the first target state that is not ok.
pub fn job_state(job: &JobView) -> &'static str {
    if job.finished_ms.is_none() {
        return "running";
    }
    if !job.steps.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    fn step() -> StepView {
        use {InventoryChange, StepKind, StepState, StepView};
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
        job.steps[0].state = StepState::Undone;
        assert_eq!(job_state(&job), "failed");
    }

    #[test]
    fn every_wire_field_shows() {
        let mut s = step();
        s.index = 2;
        let json = step_json(&s);
        let wire = serde_json::to_value(&s).unwrap();
        crate::model::assert_wire_shown(
            &wire,
            &json,
            &[("started_ms", "started"), ("finished_ms", "finished")],
        );
        crate::model::assert_wire_shown(
            &wire["undo"],
            &json["undo"],
            &[
                ("index", ""),
                ("item", ""),
                ("changes", ""),
                ("undo", ""),
                ("started_ms", ""),
                ("finished_ms", ""),
                ("bytes", ""),
            ],
        );
    }
}
