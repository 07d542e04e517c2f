//! Runs configd turned down, and runs let through by force, as events:
//! who (the token's name), what (command, arguments, target) and why (the
//! line the client got). `query events -f kind=run_refused` lists them;
//! the refusal's cause is the event's `state` (`-f state=binding`).

use super::state::Shared;
use super::store::{event_row, EventRow};
use super::tokens::Identity;
use crate::net::proto::RunRequest;
use crate::ops::values::shown;
use crate::timefmt::now_ms;

/// Event kind of a refused run.
pub const RUN_REFUSED: &str = "run_refused";
/// Event kind of a run on a target other than its item's node.
pub const RUN_FORCED: &str = "run_forced";

/// Why a run was refused, as the event's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A bad or empty target selector, or none for an unbound command.
    Target,
    /// No target offers the command.
    Unknown,
    /// The token's role is below the command's (or `--force-target`'s).
    Role,
    /// An argument breaks its type, or names no inventory item.
    Type,
    /// The item's state does not allow the command.
    Precondition,
    /// The target is not the node hosting the item.
    Binding,
    /// Another job acts on the item.
    Busy,
    /// configd could not check (store error).
    Internal,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Target => "target",
            Cause::Unknown => "unknown",
            Cause::Role => "role",
            Cause::Type => "type",
            Cause::Precondition => "precondition",
            Cause::Binding => "binding",
            Cause::Busy => "busy",
            Cause::Internal => "internal",
        }
    }
}

/// What was asked, as the user would type it:
/// `open-zone 301 20151011 --target node=web-1`.
pub fn what(req: &RunRequest) -> String {
    let mut line = shown(&req.command);
    for a in &req.args {
        line.push(' ');
        line.push_str(&shown(a));
    }
    if !req.target.is_empty() {
        line.push_str(" --target ");
        line.push_str(&shown(&req.target));
    }
    if req.force_target {
        line.push_str(" --force-target");
    }
    line
}

/// `text` with control characters (newlines) as spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Appends one audit event; a store that cannot take it is logged.
pub async fn record(
    shared: &Shared,
    kind: &str,
    who: &Identity,
    node: Option<&str>,
    state: &str,
    message: String,
) {
    let ev = EventRow {
        state: Some(state.into()),
        who: Some(who.name.clone()),
        ..event_row(now_ms(), kind, node, None, message)
    };
    if let Err(e) = shared.store().event(ev).await {
        tracing::error!("cannot record a {kind} event: {e}");
    }
}

/// A refused run: `run WHAT refused: WHY`.
pub async fn refused(
    shared: &Shared,
    who: &Identity,
    req: &RunRequest,
    node: Option<&str>,
    cause: Cause,
    why: &str,
) {
    tracing::info!(who = %who.name, command = %req.command, cause = cause.as_str(), "run refused: {why}");
    let message = format!("run {} refused: {why}", what(req));
    record(shared, RUN_REFUSED, who, node, cause.as_str(), message).await
}

/// A run forced onto `node` although `item` lives on `home`.
pub async fn forced(
    shared: &Shared,
    who: &Identity,
    req: &RunRequest,
    node: &str,
    item: &str,
    home: &str,
) {
    tracing::warn!(who = %who.name, command = %req.command, node, item, home, "target forced: {}", req.reason);
    let message = format!(
        "run {} forced onto {node} ({item} lives on {home}): {}",
        what(req),
        one_line(&req.reason)
    );
    record(shared, RUN_FORCED, who, Some(node), "forced", message).await
}
