//! Runbooks (`[[runbook]]` in configd.toml): named, typed, multi-step
//! operations over several nodes and the inventory, such as moving a zone
//! to another host or merging zones. This file holds the declaration as
//! written and its checks at config load (kinds, attributes, placeholders,
//! undo names), so a runbook that loads can always be planned.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::kinds::Kinds;
use super::local::ArgEntry;
use super::spec::{ArgSpec, ArgType};
use super::template::Template;
use crate::net::proto::Role;

/// Most steps (and undo steps) one runbook may declare.
pub const MAX_STEPS: usize = 64;
/// Most keys a `keys` argument takes in one run.
pub const MAX_KEYS: usize = 256;
/// The placeholder a `for_each` step binds to the current key.
pub const ITEM: &str = "item";

/// The type of a runbook argument: a command argument type, or
/// `keys` (one or more existing items of a kind: the last argument, taking
/// the rest of the command line), or `node` (a node configd knows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunbookArgType {
    Value(ArgType),
    Keys { kind: String },
    Node,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookArg {
    pub name: String,
    pub kind: RunbookArgType,
    /// What each named item must have before the run (`key`/`keys` only).
    #[serde(default)]
    pub requires: BTreeMap<String, String>,
}

impl RunbookArg {
    /// The inventory kind of a `key` or `keys` argument.
    pub fn item_kind(&self) -> Option<&str> {
        match &self.kind {
            RunbookArgType::Value(ArgType::Key { kind }) | RunbookArgType::Keys { kind } => {
                Some(kind)
            }
            _ => None,
        }
    }

    /// A command argument of the same name and type.
    pub fn as_command_arg(&self, kind: &ArgType) -> ArgSpec {
        ArgSpec {
            name: self.name.clone(),
            kind: kind.clone(),
        }
    }

    /// `<zone:key zone>`, `<zones:keys zone>...`, `<dst:node>`.
    pub fn signature(&self) -> String {
        match &self.kind {
            RunbookArgType::Value(kind) => self.as_command_arg(kind).signature(),
            RunbookArgType::Keys { kind } => format!("<{}:keys {kind}>...", self.name),
            RunbookArgType::Node => format!("<{}:node>", self.name),
        }
    }

    /// The rule, as a bad argument's message names it.
    pub fn rule(&self) -> String {
        match &self.kind {
            RunbookArgType::Value(kind) => self.as_command_arg(kind).rule(),
            RunbookArgType::Keys { kind } => {
                format!("one or more keys of existing {kind} items, each once")
            }
            RunbookArgType::Node => "the name of a node configd knows".into(),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            RunbookArgType::Value(kind) => self.as_command_arg(kind).type_name(),
            RunbookArgType::Keys { .. } => "keys",
            RunbookArgType::Node => "node",
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Runs the allow-listed `command` on node `on`.
    Run {
        on: Template,
        command: String,
        args: Vec<Template>,
    },
    /// Copies `file` (relative to each node's `transfer_dir`) from one node
    /// to another through configd.
    Transfer {
        from: Template,
        to: Template,
        file: Template,
    },
    /// Only inventory effects.
    Effects,
}

/// `KIND=KEY`: set these attributes (or `node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub kind: String,
    pub key: Template,
    pub set: BTreeMap<String, Template>,
}

/// `LEFT == RIGHT` or `LEFT != RIGHT`, after filling both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub left: Template,
    pub equal: bool,
    pub right: Template,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let (left, right, equal) = if let Some((l, r)) = text.split_once("==") {
            (l, r, true)
        } else if let Some((l, r)) = text.split_once("!=") {
            (l, r, false)
        } else {
            return Err(format!(
                "`{text}`: write `LEFT == RIGHT` or `LEFT != RIGHT` (e.g. `{{zone.node}} == {{dst}}`)"
            ));
        };
        Ok(Condition {
            left: Template::parse(left.trim())?,
            equal,
            right: Template::parse(right.trim())?,
        })
    }

    pub fn source(&self) -> String {
        let op = if self.equal { "==" } else { "!=" };
        format!("{} {op} {}", self.left.source, self.right.source)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub action: Action,
    pub effects: Vec<Effect>,
    /// A `keys` argument: the step runs once per key, `{item}` bound to it.
    pub for_each: Option<String>,
    pub skip_if: Option<Condition>,
    /// The name of an undo step (`[[runbook.undo]]`).
    pub undo: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookSpec {
    pub name: String,
    pub description: String,
    /// Who may run it (its steps run on the runbook's authority).
    pub role: Role,
    pub args: Vec<RunbookArg>,
    pub steps: Vec<Step>,
    pub undo: Vec<Step>,
}

impl RunbookSpec {
    /// `move-zone <zone:key zone> <dst:node>`.
    pub fn signature(&self) -> String {
        let args = self.args.iter().map(|a| format!(" {}", a.signature()));
        std::iter::once(self.name.clone()).chain(args).collect()
    }

    pub fn undo_step(&self, name: &str) -> Option<&Step> {
        self.undo.iter().find(|s| s.name == name)
    }

    /// How `query commands` lists it.
    pub fn offer(&self) -> crate::net::proto::RunbookOffer {
        crate::net::proto::RunbookOffer {
            name: self.name.clone(),
            description: self.description.clone(),
            role: self.role,
            usage: self.signature(),
            args: self
                .args
                .iter()
                .map(|a| crate::net::proto::RunbookArgInfo {
                    name: a.name.clone(),
                    kind: a.type_name().to_string(),
                    rule: a.rule(),
                    requires: a.requires.clone(),
                })
                .collect(),
            steps: self.steps.iter().map(|s| s.name.clone()).collect(),
        }
    }
}

// --- as written in configd.toml ---

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunbookEntry {
    name: String,
    #[serde(default)]
    description: String,
    role: Option<String>,
    #[serde(default)]
    args: Vec<RunbookArgEntry>,
    #[serde(default)]
    step: Vec<StepEntry>,
    #[serde(default)]
    undo: Vec<StepEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunbookArgEntry {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
    max_len: Option<usize>,
    values: Option<Vec<String>>,
    format: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    requires: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepEntry {
    name: String,
    on: Option<String>,
    run: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    transfer: Option<TransferEntry>,
    #[serde(default)]
    effects: Vec<EffectEntry>,
    for_each: Option<String>,
    skip_if: Option<String>,
    undo: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferEntry {
    from: String,
    to: String,
    file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EffectEntry {
    /// `KIND=KEY`, e.g. `zone={item}`.
    item: String,
    set: BTreeMap<String, String>,
}

/// Resolves and checks every `[[runbook]]` against the inventory kinds.
pub(crate) fn resolve_runbooks(
    entries: Vec<RunbookEntry>,
    kinds: &Kinds,
) -> Result<Vec<RunbookSpec>, String> {
    let mut out: Vec<RunbookSpec> = Vec::new();
    for e in entries {
        let name = e.name.clone();
        crate::names::check_name(&name).map_err(|err| format!("runbook name: {err}"))?;
        if out.iter().any(|r| r.name == name) {
            return Err(format!("runbook `{name}` is declared twice"));
        }
        let spec = resolve_one(e, kinds).map_err(|err| format!("runbook `{name}`: {err}"))?;
        out.push(spec);
    }
    Ok(out)
}

fn resolve_one(e: RunbookEntry, kinds: &Kinds) -> Result<RunbookSpec, String> {
    let role = match e.role.as_deref() {
        None | Some("operator") => Role::Operator,
        Some("admin") => Role::Admin,
        Some(other) => {
            return Err(format!(
                "role `{other}`: a runbook's role is operator or admin"
            ))
        }
    };
    let mut args: Vec<RunbookArg> = Vec::new();
    let count = e.args.len();
    for (i, a) in e.args.into_iter().enumerate() {
        let arg = resolve_arg(a, &e.name)?;
        if args.iter().any(|b| b.name == arg.name) {
            return Err(format!("argument `{}` declared twice", arg.name));
        }
        if arg.name == ITEM {
            return Err(format!(
                "argument `{ITEM}`: the name is kept for the key a `for_each` step is on"
            ));
        }
        if matches!(arg.kind, RunbookArgType::Keys { .. }) && i + 1 != count {
            return Err(format!(
                "argument `{}`: a `keys` argument takes the rest of the command line, so it must be the last",
                arg.name
            ));
        }
        if let Some(kind) = arg.item_kind() {
            let declared = super::kinds::kind(kinds, kind)
                .map_err(|err| format!("argument `{}`: {err}", arg.name))?;
            for attr in arg.requires.keys() {
                if attr != "node" && !declared.attributes.contains_key(attr) {
                    return Err(format!(
                        "argument `{}`: requires `{attr}`, which {kind} does not declare",
                        arg.name
                    ));
                }
            }
        } else if !arg.requires.is_empty() {
            return Err(format!(
                "argument `{}`: `requires` applies to key and keys arguments only",
                arg.name
            ));
        }
        args.push(arg);
    }
    let resolve = |entries: Vec<StepEntry>, what: &str| {
        let one = |s: StepEntry| {
            let name = s.name.clone();
            resolve_step(s).map_err(|err| format!("{what} `{name}`: {err}"))
        };
        entries.into_iter().map(one).collect::<Result<Vec<_>, _>>()
    };
    let undo = resolve(e.undo, "undo step")?;
    let steps = resolve(e.step, "step")?;
    if steps.is_empty() {
        return Err("it has no [[runbook.step]]".into());
    }
    if steps.len() > MAX_STEPS || undo.len() > MAX_STEPS {
        return Err(format!("more than {MAX_STEPS} steps"));
    }
    let spec = RunbookSpec {
        name: e.name,
        description: e.description,
        role,
        args,
        steps,
        undo,
    };
    for (i, s) in spec.undo.iter().enumerate() {
        if spec.undo[..i].iter().any(|t| t.name == s.name) {
            return Err(format!("undo step `{}` declared twice", s.name));
        }
        if s.undo.is_some() || !s.effects.is_empty() || s.skip_if.is_some() {
            return Err(format!(
                "undo step `{}`: an undo step only runs a command or a transfer (its step's effects are reverted for you)",
                s.name
            ));
        }
        if matches!(s.action, Action::Effects) {
            return Err(format!(
                "undo step `{}`: it needs `run` or `transfer`",
                s.name
            ));
        }
    }
    for (i, s) in spec.steps.iter().enumerate() {
        if spec.steps[..i].iter().any(|t| t.name == s.name) {
            return Err(format!("step `{}` declared twice", s.name));
        }
        let item_kind = match &s.for_each {
            None => None,
            Some(list) => match spec.args.iter().find(|a| &a.name == list) {
                Some(RunbookArg {
                    kind: RunbookArgType::Keys { kind },
                    ..
                }) => Some(kind.as_str()),
                _ => {
                    return Err(format!(
                        "step `{}`: for_each `{list}` is not a `keys` argument",
                        s.name
                    ))
                }
            },
        };
        check_step(&spec, s, item_kind, kinds)
            .map_err(|err| format!("step `{}`: {err}", s.name))?;
        if let Some(u) = &s.undo {
            let Some(undo) = spec.undo_step(u) else {
                return Err(format!(
                    "step `{}`: undo `{u}` is not a [[runbook.undo]] step",
                    s.name
                ));
            };
            check_step(&spec, undo, item_kind, kinds)
                .map_err(|err| format!("undo step `{u}` (of step `{}`): {err}", s.name))?;
        }
    }
    Ok(spec)
}

fn resolve_arg(a: RunbookArgEntry, runbook: &str) -> Result<RunbookArg, String> {
    crate::names::check_name(&a.name).map_err(|e| format!("argument name: {e}"))?;
    let stray = |what: &str, set: bool| match set {
        true => Err(format!(
            "argument `{}`: `{what}` does not apply to type {}",
            a.name, a.ty
        )),
        false => Ok(()),
    };
    let kind = match a.ty.as_str() {
        "keys" | "node" => {
            stray("min", a.min.is_some())?;
            stray("max", a.max.is_some())?;
            stray("pattern", a.pattern.is_some())?;
            stray("values", a.values.is_some())?;
            stray("format", a.format.is_some())?;
            match (a.ty.as_str(), a.kind) {
                ("keys", Some(kind)) => RunbookArgType::Keys { kind },
                ("keys", None) => {
                    return Err(format!("argument `{}`: type keys needs `kind`", a.name))
                }
                (_, kind) => {
                    stray("kind", kind.is_some())?;
                    RunbookArgType::Node
                }
            }
        }
        _ => {
            let spec = ArgEntry {
                name: a.name.clone(),
                ty: a.ty,
                min: a.min,
                max: a.max,
                pattern: a.pattern,
                max_len: a.max_len,
                values: a.values,
                format: a.format,
                kind: a.kind,
            }
            .into_spec(&format!("runbook `{runbook}`"))
            .map_err(|e| e.replace(&format!("runbook `{runbook}`, "), ""))?;
            spec.validate()?;
            RunbookArgType::Value(spec.kind)
        }
    };
    Ok(RunbookArg {
        name: a.name,
        kind,
        requires: a.requires,
    })
}

fn resolve_step(s: StepEntry) -> Result<Step, String> {
    crate::names::check_name(&s.name).map_err(|e| format!("step name: {e}"))?;
    let action = match (s.run, s.transfer) {
        (Some(_), Some(_)) => return Err("a step has `run` or `transfer`, not both".into()),
        (Some(command), None) => {
            crate::names::check_name(&command).map_err(|e| format!("run: {e}"))?;
            let Some(on) = s.on else {
                return Err(format!(
                    "`run = \"{command}\"` needs `on`, the node it runs on (e.g. on = \"{{zone.node}}\")"
                ));
            };
            Action::Run {
                on: Template::parse(&on)?,
                command,
                args: s
                    .args
                    .iter()
                    .map(|a| Template::parse(a))
                    .collect::<Result<_, _>>()?,
            }
        }
        (None, Some(t)) => {
            if s.on.is_some() || !s.args.is_empty() {
                return Err(
                    "a transfer names its nodes in `from` and `to`; remove `on` and `args`".into(),
                );
            }
            let file = Template::parse(&t.file)?;
            if file.source.starts_with('/') || file.source.split('/').any(|c| c == "..") {
                return Err(format!(
                    "transfer file `{}` must be relative to the nodes' transfer_dir, without `..`",
                    file.source
                ));
            }
            Action::Transfer {
                from: Template::parse(&t.from)?,
                to: Template::parse(&t.to)?,
                file,
            }
        }
        (None, None) => {
            if s.on.is_some() || !s.args.is_empty() {
                return Err("`on` and `args` need `run`".into());
            }
            if s.effects.is_empty() {
                return Err("a step needs `run`, `transfer` or `effects`".into());
            }
            Action::Effects
        }
    };
    let mut effects = Vec::new();
    for e in s.effects {
        let Some((kind, key)) = e.item.split_once('=') else {
            return Err(format!(
                "effects item `{}`: write KIND=KEY, e.g. zone={{zone}}",
                e.item
            ));
        };
        if e.set.is_empty() {
            return Err(format!("effects on `{}` set nothing", e.item));
        }
        effects.push(Effect {
            kind: kind.trim().to_string(),
            key: Template::parse(key.trim())?,
            set: e
                .set
                .iter()
                .map(|(k, v)| Ok((k.clone(), Template::parse(v)?)))
                .collect::<Result<_, String>>()?,
        });
    }
    Ok(Step {
        name: s.name,
        action,
        effects,
        for_each: s.for_each,
        skip_if: s.skip_if.as_deref().map(Condition::parse).transpose()?,
        undo: s.undo,
    })
}

/// Every placeholder of the step names an argument (or `item` in a
/// `for_each` step) and a field it has; effects name declared kinds and
/// attributes.
fn check_step(
    spec: &RunbookSpec,
    step: &Step,
    item_kind: Option<&str>,
    kinds: &Kinds,
) -> Result<(), String> {
    let mut templates: Vec<&Template> = Vec::new();
    match &step.action {
        Action::Run { on, args, .. } => {
            templates.push(on);
            templates.extend(args);
        }
        Action::Transfer { from, to, file } => templates.extend([from, to, file]),
        Action::Effects => {}
    }
    if let Some(c) = &step.skip_if {
        templates.extend([&c.left, &c.right]);
    }
    for e in &step.effects {
        let declared =
            super::kinds::kind(kinds, &e.kind).map_err(|err| format!("effects: {err}"))?;
        for attr in e.set.keys() {
            if attr != "node" && !declared.attributes.contains_key(attr) {
                return Err(format!(
                    "effects set `{attr}`, which {} does not declare (declare it under [inventory.{}] attributes)",
                    e.kind, e.kind
                ));
            }
        }
        templates.push(&e.key);
        templates.extend(e.set.values());
    }
    for t in templates {
        for (name, field) in t.vars() {
            let kind = if name == ITEM {
                match item_kind {
                    Some(k) => Some(k),
                    None => {
                        return Err(format!(
                            "`{}` uses `{{{ITEM}}}`, which only a `for_each` step has",
                            t.source
                        ))
                    }
                }
            } else {
                match spec.args.iter().find(|a| a.name == name) {
                    Some(a) if matches!(a.kind, RunbookArgType::Keys { .. }) => {
                        return Err(format!(
                            "`{}`: `{name}` is a list; use it with for_each = \"{name}\" and `{{{ITEM}}}`",
                            t.source
                        ))
                    }
                    Some(a) => a.item_kind(),
                    None => {
                        return Err(format!(
                            "`{}` uses `{{{name}}}`, but the runbook has no argument `{name}`",
                            t.source
                        ))
                    }
                }
            };
            if let Some(field) = field {
                let Some(kind) = kind else {
                    return Err(format!(
                        "`{}`: `{name}` is not an inventory key, so it has no `.{field}`",
                        t.source
                    ));
                };
                let declared = super::kinds::kind(kinds, kind)?;
                if field != "node" && !declared.attributes.contains_key(field) {
                    return Err(format!("`{}`: {kind} has no attribute `{field}`", t.source));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Kinds {
        let mut k = Kinds::new();
        k.insert(
            "zone".into(),
            super::super::kinds::InventoryKind::new(
                "int",
                &BTreeMap::from([
                    ("state".to_string(), "new|live|archived".to_string()),
                    ("merged_into".to_string(), "int".to_string()),
                ]),
                &BTreeMap::new(),
            )
            .unwrap(),
        );
        k
    }

    fn load(text: &str) -> Result<Vec<RunbookSpec>, String> {
        #[derive(Deserialize)]
        struct F {
            runbook: Vec<RunbookEntry>,
        }
        let f: F = toml::from_str(text).map_err(|e| e.to_string())?;
        resolve_runbooks(f.runbook, &kinds())
    }

    const MOVE: &str = r#"
[[runbook]]
name = "move-zone"
args = [{ name = "zone", type = "key", kind = "zone", requires = { state = "live" } }, { name = "dst", type = "node" }]
[[runbook.step]]
name = "pack"
on = "{zone.node}"
run = "pack-zone"
args = ["{zone}"]
skip_if = "{zone.node} == {dst}"
undo = "drop"
[[runbook.step]]
name = "repoint"
effects = [{ item = "zone={zone}", set = { node = "{dst}" } }]
[[runbook.undo]]
name = "drop"
on = "{zone.node}"
run = "drop-pack"
args = ["{zone}"]
"#;

    #[test]
    fn a_good_runbook_loads() {
        let r = load(MOVE).unwrap();
        assert_eq!(r[0].signature(), "move-zone <zone:key zone> <dst:node>");
        assert_eq!(r[0].role, Role::Operator);
        assert_eq!(r[0].steps.len(), 2);
        assert!(r[0].steps[0].skip_if.as_ref().unwrap().equal);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                MOVE.replace("{zone.node} == {dst}", "{zone.nod} == {dst}"),
                "no attribute `nod`",
            ),
            (
                MOVE.replace("undo = \"drop\"", "undo = \"dorp\""),
                "undo `dorp`",
            ),
            (
                MOVE.replace("set = { node", "set = { colour"),
                "does not declare",
            ),
            (
                MOVE.replace("args = [\"{zone}\"]\nskip", "args = [\"{zone2}\"]\nskip"),
                "no argument `zone2`",
            ),
            (
                MOVE.replace("{dst}\" } }", "{dst.node}\" } }"),
                "has no `.node`",
            ),
            (
                MOVE.replace("requires = { state", "requires = { colour"),
                "requires `colour`",
            ),
            (
                MOVE.replace("type = \"node\"", "type = \"host\""),
                "unknown type `host`",
            ),
            (
                MOVE.replace("on = \"{zone.node}\"\nrun = \"pack", "run = \"pack"),
                "needs `on`",
            ),
            (
                MOVE.replace(
                    "name = \"move-zone\"",
                    "name = \"move-zone\"\nrole = \"root\"",
                ),
                "role `root`",
            ),
        ];
        for (text, want) in cases {
            let err = load(&text).unwrap_err();
            assert!(err.contains(want), "{want}: {err}");
            assert!(err.starts_with("runbook `move-zone`"), "{err}");
        }
    }

    #[test]
    fn keys_and_for_each() {
        let text = r#"
[[runbook]]
name = "merge"
args = [{ name = "target", type = "key", kind = "zone" }, { name = "zones", type = "keys", kind = "zone" }]
[[runbook.step]]
name = "archive"
for_each = "zones"
effects = [{ item = "zone={item}", set = { state = "archived", merged_into = "{target}" } }]
"#;
        assert!(load(text).is_ok());
        let bad = text.replace("for_each = \"zones\"\n", "");
        assert!(load(&bad).unwrap_err().contains("only a `for_each` step"));
        let bad = text.replace("for_each = \"zones\"", "for_each = \"target\"");
        assert!(load(&bad).unwrap_err().contains("not a `keys` argument"));
        let bad = text.replace(
            "args = [{ name = \"target\", type = \"key\", kind = \"zone\" }, { name = \"zones\", type = \"keys\", kind = \"zone\" }]",
            "args = [{ name = \"zones\", type = \"keys\", kind = \"zone\" }, { name = \"target\", type = \"key\", kind = \"zone\" }]",
        );
        assert!(load(&bad).unwrap_err().contains("must be the last"));
    }

    #[test]
    fn conditions_parse() {
        let c = Condition::parse("{a} != b").unwrap();
        assert!(!c.equal);
        assert_eq!(c.source(), "{a} != b");
        assert!(Condition::parse("{a} = b").is_err());
    }
}
