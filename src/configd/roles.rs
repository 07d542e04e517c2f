//! Who may send what: the one table requests are checked against, before
//! any handler runs. A new request must get a row here (the match has no
//! catch-all, so the compiler asks).

use super::reply::ApiError;
use super::tokens::Identity;
use crate::net::proto::{ErrorCode, PeerKind, RequestBody, Role};

/// Who may send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A node, about itself.
    Node,
    /// A client token of at least this role.
    Role(Role),
    /// No peer: configd sends these, it never takes them. Says what to do
    /// instead.
    Nobody(&'static str),
}

/// A request's row: its name (for logs and spans), who may send it, and
/// what it does (for the refusal).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub need: Need,
    pub what: &'static str,
}

const fn rule(name: &'static str, need: Need, what: &'static str) -> Rule {
    Rule { name, need, what }
}

const VIEWER: Need = Need::Role(Role::Viewer);
const OPERATOR: Need = Need::Role(Role::Operator);
const ADMIN: Need = Need::Role(Role::Admin);

pub fn required_role(body: &RequestBody) -> Rule {
    use RequestBody as R;
    match body {
        R::Register(_) => rule("register", Need::Node, "registering a node"),
        R::CheckResults(_) => rule("check_results", Need::Node, "sending check results"),
        R::LogBatch(_) => rule("log_batch", Need::Node, "sending log lines"),
        R::QueryNodes(_) => rule("query_nodes", VIEWER, "querying nodes"),
        R::QueryChecks(_) => rule("query_checks", VIEWER, "reading checks and events"),
        R::QueryEvents(_) => rule("query_events", VIEWER, "reading checks and events"),
        R::QueryProblems(_) => rule("query_problems", VIEWER, "reading checks and events"),
        R::ListDowntimes(_) => rule("list_downtimes", VIEWER, "reading checks and events"),
        R::SubscribeLogs(_) => rule("subscribe_logs", VIEWER, "reading logs"),
        R::QueryInventory(_) => rule("query_inventory", VIEWER, "reading"),
        R::QueryJobs(_) => rule("query_jobs", VIEWER, "reading"),
        R::ShowJob(_) => rule("show_job", VIEWER, "reading"),
        R::ResolveTargets(_) => rule("resolve_targets", VIEWER, "reading"),
        R::ListCommands(_) => rule("list_commands", VIEWER, "reading"),
        R::QueryCommands(_) => rule("query_commands", VIEWER, "reading"),
        R::RunbookPlan(_) => rule("runbook_plan", VIEWER, "planning runbooks"),
        R::Acknowledge(_) => rule("acknowledge", OPERATOR, "acknowledging"),
        R::Downtime(_) => rule("downtime", OPERATOR, "scheduling downtime"),
        R::CancelDowntime(_) => rule("cancel_downtime", OPERATOR, "scheduling downtime"),
        R::Submit(_) => rule("submit", OPERATOR, "submitting results"),
        R::Run(_) => rule("run", OPERATOR, "running commands"),
        R::CancelJob(_) => rule("cancel_job", OPERATOR, "cancelling jobs"),
        // The runbook's own role (operator or admin) is checked when it is found.
        R::RunbookRun(_) => rule("runbook_run", OPERATOR, "running runbooks"),
        R::RunbookUndo(_) => rule("runbook_undo", OPERATOR, "running runbooks"),
        R::InventoryWrite(_) => rule("inventory_write", ADMIN, "changing the inventory"),
        // Commands go from configd to nodes, never from a peer to configd.
        R::RunCommand(_) => rule(
            "run_command",
            Need::Nobody(
                "configd: nodes cannot dispatch to other nodes; use `monit-cli run` with an operator token",
            ),
            "sending RunCommand",
        ),
        R::SetChecks(_) => rule(
            "set_checks",
            Need::Nobody("configd: it sends checks to nodes; declare them in configd.toml"),
            "sending SetChecks",
        ),
        // Files move between nodes only as configd drives them (runbooks).
        R::ReadFile(_) => file_rule("read_file"),
        R::WriteFile(_) => file_rule("write_file"),
        R::WriteChunk(_) => file_rule("write_chunk"),
        R::WriteCommit(_) => file_rule("write_commit"),
    }
}

const fn file_rule(name: &'static str) -> Rule {
    rule(
        name,
        Need::Nobody("configd: it moves files between nodes for runbooks"),
        "sending file transfer requests",
    )
}

/// `Ok` if `who` may send `body`; else the refusal, naming what it needs.
pub fn authorize(who: &Identity, rule: &Rule) -> Result<(), ApiError> {
    let need = match rule.need {
        Need::Node if who.kind == PeerKind::Node && who.role == Role::Node => return Ok(()),
        Need::Role(role) if who.role.allows(role) => return Ok(()),
        Need::Node => "a node token",
        Need::Role(Role::Viewer) => "a viewer, operator or admin token",
        Need::Role(Role::Operator) => "an operator or admin token",
        Need::Role(_) => "an admin token",
        Need::Nobody(instead) => instead,
    };
    Err(ApiError::new(
        ErrorCode::Forbidden,
        format!(
            "{} needs {need}; token `{}` is {}",
            rule.what, who.token_id, who.role
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::proto::{CancelJob, QueryNodes};

    fn who(role: Role) -> Identity {
        Identity {
            token_id: "t1".into(),
            name: "someone".into(),
            role,
            kind: if role == Role::Node {
                PeerKind::Node
            } else {
                PeerKind::Client
            },
        }
    }

    #[test]
    fn roles_are_ordered_and_nodes_only_speak_for_themselves() {
        let query = required_role(&RequestBody::QueryNodes(QueryNodes::default()));
        let run = required_role(&RequestBody::CancelJob(CancelJob { id: 1 }));
        assert!(authorize(&who(Role::Viewer), &query).is_ok());
        assert!(authorize(&who(Role::Node), &query).is_err());
        assert!(authorize(&who(Role::Viewer), &run).is_err());
        assert!(authorize(&who(Role::Operator), &run).is_ok());
        assert!(authorize(&who(Role::Admin), &run).is_ok());
        let e = authorize(&who(Role::Viewer), &run).unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(
            e.message,
            "cancelling jobs needs an operator or admin token; token `t1` is viewer"
        );
    }
}
