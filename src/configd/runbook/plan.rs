//! Resolving a runbook against the inventory and the nodes: every
//! argument checked, every step's node, command, arguments, file and
//! inventory changes fixed before anything runs. `runbook plan` shows this;
//! `runbook run` executes exactly this (the digest ties the two).
//!
//! Templates read the inventory as it stood when the plan was made (so a
//! step after `node = {dst}` still finds the source at `{zone.node}`);
//! preconditions of the commands a step calls are checked against the
//! inventory as the earlier steps will have left it.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::super::inventory::{self, InventoryError};
use super::super::state::Shared;
use crate::net::proto::{ErrorCode, InventoryChange, RunbookPlan, StepKind, StepState, StepView};
use crate::ops::kinds::{Item, Kinds};
use crate::ops::runbook::{Action, RunbookArgType, RunbookSpec, Step, ITEM, MAX_KEYS};
use crate::ops::spec::ArgType;
use crate::ops::template::Scope;

/// A refusal: code and one-line message.
pub type Refusal = (ErrorCode, String);

fn bad(msg: impl Into<String>) -> Refusal {
    (ErrorCode::BadRequest, msg.into())
}

fn refusal(e: InventoryError) -> Refusal {
    match e {
        InventoryError::Rejected(m) => bad(m),
        other => (ErrorCode::Internal, other.to_string()),
    }
}

/// A plan and the inventory items it acts on (marked busy while it runs).
pub struct Planned {
    pub plan: RunbookPlan,
    pub items: Vec<(String, String)>,
}

/// The fields a template may read of an item: `node` and its attributes.
fn fields(item: &Item) -> BTreeMap<String, String> {
    let mut f = item.attrs.clone();
    f.insert("node".into(), item.node.clone());
    f
}

/// The plan-time view of the inventory: items as the earlier steps will
/// have left them.
struct Simulated<'a> {
    shared: &'a Shared,
    kinds: &'a Kinds,
    items: BTreeMap<(String, String), Item>,
}

impl Simulated<'_> {
    /// The item (canonical key), loading it on first use.
    async fn get(&mut self, kind: &str, key: &str) -> Result<Option<&mut Item>, Refusal> {
        let declared = crate::ops::kinds::kind(self.kinds, kind).map_err(bad)?;
        let key = declared.check_key(kind, key).map_err(bad)?;
        let id = (kind.to_string(), key);
        if !self.items.contains_key(&id) {
            match inventory::find(self.shared.store(), self.kinds, kind, &id.1)
                .await
                .map_err(refusal)?
            {
                Some(item) => {
                    self.items.insert(id.clone(), item);
                }
                None => return Ok(None),
            }
        }
        Ok(self.items.get_mut(&id))
    }
}

fn known_node(shared: &Shared, name: &str, what: &str) -> Result<(), Refusal> {
    if shared.registry().get(name).is_some() {
        return Ok(());
    }
    let slots = shared.registry().slots();
    let similar = crate::names::similar(name, slots.iter().map(|s| s.name.as_str()));
    let hint = if similar.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", similar.join(", "))
    };
    Err((
        ErrorCode::NotFound,
        format!(
            "{what}: no node `{}` is known{hint}",
            crate::ops::values::shown(name)
        ),
    ))
}

/// Resolves `spec` with `args` (positional; a `keys` argument takes the
/// rest) into a plan, or says in one line why it cannot run.
pub async fn plan(
    shared: &Shared,
    spec: &RunbookSpec,
    args: &[String],
) -> Result<Planned, Refusal> {
    let live = shared.live();
    let kinds = &live.inventory;
    let usage = || {
        let mut u = spec.name.clone();
        for a in &spec.args {
            u.push(' ');
            u.push_str(&a.name.to_uppercase());
            if matches!(a.kind, RunbookArgType::Keys { .. }) {
                u.push_str("...");
            }
        }
        u
    };
    let takes_rest = spec
        .args
        .last()
        .is_some_and(|a| matches!(a.kind, RunbookArgType::Keys { .. }));
    let fixed = spec.args.len() - usize::from(takes_rest);
    if args.len() < spec.args.len() || (!takes_rest && args.len() > fixed) {
        return Err(bad(format!(
            "runbook `{}` takes {}{} argument(s), got {}: usage: {}",
            spec.name,
            if takes_rest { "at least " } else { "" },
            spec.args.len(),
            args.len(),
            usage()
        )));
    }
    if args.len() - fixed > MAX_KEYS {
        return Err(bad(format!("more than {MAX_KEYS} keys in one run")));
    }
    let mut sim = Simulated {
        shared,
        kinds,
        items: BTreeMap::new(),
    };
    let mut scope = Scope::default();
    let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut named: Vec<(String, String)> = Vec::new();
    for (i, a) in spec.args.iter().enumerate() {
        let values: &[String] = match a.kind {
            RunbookArgType::Keys { .. } => &args[i..],
            _ => &args[i..=i],
        };
        for value in values {
            match &a.kind {
                RunbookArgType::Node => {
                    known_node(shared, value, &format!("argument `{}`", a.name))?
                }
                RunbookArgType::Value(kind) if !matches!(kind, ArgType::Key { .. }) => {
                    a.as_command_arg(kind)
                        .check(value)
                        .map_err(|why| bad(format!("argument `{}`: {why}", a.name)))?;
                }
                _ => {}
            }
            let Some(kind) = a.item_kind() else {
                scope.values.insert(a.name.clone(), value.clone());
                continue;
            };
            let item = match sim.get(kind, value).await {
                Ok(Some(item)) => item.clone(),
                Ok(None) => {
                    return Err(bad(format!(
                        "argument `{}`: no {kind} {} in the inventory",
                        a.name,
                        crate::ops::values::shown(value)
                    )))
                }
                Err((code, why)) => return Err((code, format!("argument `{}`: {why}", a.name))),
            };
            if let Some(why) = inventory::unmet(&item, &a.requires) {
                return Err(bad(format!(
                    "precondition failed: {why} by runbook `{}`; nothing was run",
                    spec.name
                )));
            }
            let id = (item.kind.clone(), item.key.clone());
            if named.contains(&id) {
                return Err(bad(format!(
                    "{} {} is named twice; each item may appear once",
                    item.kind, item.key
                )));
            }
            named.push(id);
            match a.kind {
                RunbookArgType::Keys { .. } => {
                    lists
                        .entry(a.name.clone())
                        .or_default()
                        .push(item.key.clone());
                }
                _ => {
                    scope.values.insert(a.name.clone(), item.key.clone());
                    scope.fields.insert(a.name.clone(), fields(&item));
                }
            }
        }
    }
    // Templates read the inventory as it was: keep that picture apart.
    let at_start = sim.items.clone();
    let mut steps: Vec<StepView> = Vec::new();
    for step in &spec.steps {
        let keys: Vec<Option<String>> = match &step.for_each {
            None => vec![None],
            Some(list) => lists
                .get(list)
                .map(|l| l.iter().cloned().map(Some).collect())
                .unwrap_or_default(),
        };
        for key in keys {
            let mut sc = scope.clone();
            if let Some(k) = &key {
                sc.values.insert(ITEM.into(), k.clone());
                let kind = step
                    .for_each
                    .as_ref()
                    .and_then(|l| spec.args.iter().find(|a| &a.name == l))
                    .and_then(|a| a.item_kind())
                    .unwrap_or_default();
                if let Some(item) = at_start.get(&(kind.to_string(), k.clone())) {
                    sc.fields.insert(ITEM.into(), fields(item));
                }
            }
            let index = steps.len() as u32 + 1;
            let what = match &key {
                Some(k) => format!("step `{}` ({k})", step.name),
                None => format!("step `{}`", step.name),
            };
            let view = resolve_step(&mut sim, spec, step, &sc, index, key)
                .await
                .map_err(|(code, why)| (code, format!("{what}: {why}")))?;
            steps.push(view);
        }
    }
    add_changed(&mut named, &steps);
    let digest = digest(&spec.name, args, &steps);
    Ok(Planned {
        plan: RunbookPlan {
            name: spec.name.clone(),
            args: args.to_vec(),
            steps,
            digest,
        },
        items: named,
    })
}

/// Adds each item that `steps` change to `items`, once.
pub(crate) fn add_changed(items: &mut Vec<(String, String)>, steps: &[StepView]) {
    for c in steps.iter().flat_map(|s| &s.changes) {
        let id = (c.kind.clone(), c.key.clone());
        if !items.contains(&id) {
            items.push(id);
        }
    }
}

/// A short hash of exactly what will run.
fn digest(name: &str, args: &[String], steps: &[StepView]) -> String {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    for a in args {
        h.update([0]);
        h.update(a.as_bytes());
    }
    h.update(serde_json::to_vec(steps).unwrap_or_default());
    hex::encode(&h.finalize()[..8])
}

/// A relative path inside the nodes' transfer_dir, or why not.
pub fn check_transfer_file(file: &str) -> Result<(), String> {
    let ok = !file.is_empty()
        && !file.starts_with('/')
        && !file.contains('\0')
        && file
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    let shown = crate::ops::values::shown(file);
    let outside = || format!("file `{shown}` is not a plain relative path inside transfer_dir");
    ok.then_some(()).ok_or_else(outside)
}

async fn resolve_step(
    sim: &mut Simulated<'_>,
    spec: &RunbookSpec,
    step: &Step,
    sc: &Scope,
    index: u32,
    key: Option<String>,
) -> Result<StepView, Refusal> {
    let kind = match step.action {
        Action::Run { .. } => StepKind::Run,
        Action::Transfer { .. } => StepKind::Transfer,
        Action::Effects => StepKind::Effects,
    };
    let mut view = StepView::pending(index, &step.name, kind, key.clone());
    if let Some(c) = &step.skip_if {
        let left = c.left.fill(sc).map_err(bad)?;
        let right = c.right.fill(sc).map_err(bad)?;
        if (left == right) == c.equal {
            let op = if c.equal { "==" } else { "!=" };
            view.state = StepState::Skipped;
            view.message = format!("skipped: {} ({left} {op} {right})", c.source());
            return Ok(view);
        }
    }
    resolve_action(sim, &step.action, sc, &mut view, false).await?;
    let (shared, kinds) = (sim.shared, sim.kinds);
    for e in &step.effects {
        let key = e.key.fill(sc).map_err(bad)?;
        let Some(item) = sim.get(&e.kind, &key).await? else {
            return Err(bad(format!(
                "effects: no {} {} in the inventory",
                e.kind,
                crate::ops::values::shown(&key)
            )));
        };
        let declared = crate::ops::kinds::kind(kinds, &e.kind).map_err(bad)?;
        for (attr, t) in &e.set {
            let value = t.fill(sc).map_err(bad)?;
            let value = if attr == "node" {
                known_node(shared, &value, "effects")?;
                value
            } else {
                declared.check_attr(&e.kind, attr, &value).map_err(bad)?
            };
            view.changes.push(change(item, attr, value));
        }
    }
    if let Some(name) = &step.undo {
        if let Some(u) = spec.undo_step(name) {
            let mut undo = StepView::pending(index, &u.name, StepKind::Run, key);
            resolve_action(sim, &u.action, sc, &mut undo, true).await?;
            undo.kind = match u.action {
                Action::Transfer { .. } => StepKind::Transfer,
                _ => StepKind::Run,
            };
            view.undo = Some(Box::new(undo));
        }
    }
    Ok(view)
}

/// Records `attr = value` on the simulated item and returns the change.
fn change(item: &mut Item, attr: &str, value: String) -> InventoryChange {
    let from = if attr == "node" {
        Some(std::mem::replace(&mut item.node, value.clone()))
    } else {
        item.attrs.insert(attr.to_string(), value.clone())
    };
    InventoryChange {
        kind: item.kind.clone(),
        key: item.key.clone(),
        attr: attr.to_string(),
        from,
        to: value,
    }
}

async fn resolve_action(
    sim: &mut Simulated<'_>,
    action: &Action,
    sc: &Scope,
    view: &mut StepView,
    undo: bool,
) -> Result<(), Refusal> {
    match action {
        Action::Effects => Ok(()),
        Action::Transfer { from, to, file } => {
            let from = from.fill(sc).map_err(bad)?;
            let to = to.fill(sc).map_err(bad)?;
            let file = file.fill(sc).map_err(bad)?;
            known_node(sim.shared, &from, "transfer source")?;
            known_node(sim.shared, &to, "transfer destination")?;
            if from == to {
                return Err(bad(format!(
                    "transfer of `{file}` from {from} to itself: skip the step then (skip_if = \"{{zone.node}} == {{dst}}\")"
                )));
            }
            check_transfer_file(&file).map_err(bad)?;
            view.node = Some(from);
            view.to_node = Some(to);
            view.file = Some(file);
            Ok(())
        }
        Action::Run { on, command, args } => {
            let node = on.fill(sc).map_err(bad)?;
            known_node(sim.shared, &node, "node")?;
            let values = args
                .iter()
                .map(|a| a.fill(sc))
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?;
            let offered = sim.shared.ops().commands(&node);
            let Some(cmd) = offered.iter().find(|c| &c.name == command) else {
                return Err((
                    ErrorCode::NotFound,
                    format!("node `{node}` offers no command `{command}`"),
                ));
            };
            cmd.check_args(&values).map_err(bad)?;
            for (a, value) in cmd.args.iter().zip(&values) {
                if let ArgType::Key { kind } = &a.kind {
                    if sim.get(kind, value).await?.is_none() {
                        return Err(bad(format!(
                            "argument `{}` of `{command}`: no {kind} {value} in the inventory",
                            a.name
                        )));
                    }
                }
            }
            // A command bound to an item runs where the item lives, when
            // its preconditions hold; its effects become this step's.
            if let (Some(_), true) = (&cmd.inventory, undo) {
                return Err(bad(format!(
                    "undo step `{}` runs `{command}`, which changes the inventory itself; an undo step runs a plain command (the step's own inventory changes are reverted for you)",
                    view.name
                )));
            }
            if let Some(link) = &cmd.inventory {
                let key = cmd.arg(&values, &link.key).unwrap_or_default().to_string();
                let Some(item) = sim.get(&link.kind, &key).await? else {
                    return Err(bad(format!(
                        "no {} {key} in the inventory; `{command}` acts on an existing {}",
                        link.kind, link.kind
                    )));
                };
                if item.node != node {
                    return Err(bad(format!(
                        "`{command}` acts on {} {}, which lives on {} (not {node}) at that point",
                        item.kind, item.key, item.node
                    )));
                }
                if let Some(why) = inventory::unmet(item, &link.requires) {
                    return Err(bad(format!("precondition of `{command}` failed: {why}")));
                }
                for (attr, value) in &link.on_success {
                    view.changes.push(change(item, attr, value.clone()));
                }
            }
            view.node = Some(node);
            view.command = Some(command.clone());
            view.args = values;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_files_stay_inside() {
        assert!(check_transfer_file("zone-301.tar.gz").is_ok());
        assert!(check_transfer_file("a/b.tar").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\0b",
        ] {
            assert!(check_transfer_file(bad).is_err(), "{bad:?}");
        }
    }
}
