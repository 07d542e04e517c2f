//! Command specs (`[[command]]` in noded.toml), as nodes advertise them at
//! registration, and the checks both configd and noded run on arguments
//! before anything is started: each argument against its type, then the
//! argv template filled with the values verbatim (one value, one argv
//! element; never a shell).

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::values::{check_date, parse_int, shown, ValueType};

/// Most arguments one command may declare.
pub const MAX_ARGS: usize = 32;
/// Longest string argument when a spec sets no `max_len`.
pub const DEFAULT_MAX_LEN: usize = 256;

/// The type of one argument, with its rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgType {
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    String {
        /// A regex the whole value must match (anchored for you).
        pattern: Option<String>,
        max_len: Option<usize>,
    },
    Enum {
        values: Vec<String>,
    },
    Date {
        /// strftime subset; default `%Y%m%d`.
        format: Option<String>,
    },
    Ip,
    /// The key of an existing inventory item of `kind` (checked on configd).
    Key {
        kind: String,
    },
}

/// One declared argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgSpec {
    pub name: String,
    pub kind: ArgType,
}

/// The inventory side of a command: which item it acts on, what must hold
/// before it runs, and what is set when every target succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InventoryLink {
    pub kind: String,
    /// The argument whose value is the item's key.
    pub key: String,
    #[serde(default)]
    pub requires: BTreeMap<String, String>,
    #[serde(default)]
    pub on_success: BTreeMap<String, String>,
}

/// Who may run a command (`role` on `[[command]]`); configd checks it
/// against the token before anything runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandRole {
    #[default]
    Operator,
    Admin,
}

impl CommandRole {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandRole::Operator => "operator",
            CommandRole::Admin => "admin",
        }
    }

    /// The config's spelling: `operator` or `admin`.
    pub fn parse(s: &str) -> Option<CommandRole> {
        match s {
            "operator" => Some(CommandRole::Operator),
            "admin" => Some(CommandRole::Admin),
            _ => None,
        }
    }

    fn is_operator(&self) -> bool {
        *self == CommandRole::Operator
    }
}

/// A command a node offers, as it is sent to configd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    pub name: String,
    pub description: String,
    pub argv: Vec<String>,
    pub args: Vec<ArgSpec>,
    pub timeout_ms: u64,
    pub concurrency: u32,
    #[serde(default)]
    pub inventory: Option<InventoryLink>,
    /// The least role that may run it (default operator; omitted then).
    #[serde(default, skip_serializing_if = "CommandRole::is_operator")]
    pub role: CommandRole,
}

impl ArgSpec {
    /// The rule, as a bad argument's message names it.
    pub fn rule(&self) -> String {
        match &self.kind {
            ArgType::Int { min, max } => match (min, max) {
                (Some(a), Some(b)) => format!("an integer from {a} to {b}"),
                (Some(a), None) => format!("an integer of at least {a}"),
                (None, Some(b)) => format!("an integer of at most {b}"),
                (None, None) => "an integer".into(),
            },
            ArgType::String { pattern, max_len } => {
                let len = max_len.unwrap_or(DEFAULT_MAX_LEN);
                match pattern {
                    Some(p) => format!("a string matching ^(?:{p})$, at most {len} bytes"),
                    None => format!("a string of at most {len} bytes without control characters"),
                }
            }
            ArgType::Enum { values } => format!("one of {}", values.join("|")),
            ArgType::Date { format } => format!(
                "a real date written {}",
                format.as_deref().unwrap_or("%Y%m%d")
            ),
            ArgType::Ip => "an IP address".into(),
            ArgType::Key { kind } => format!("the key of an existing {kind}"),
        }
    }

    /// The type's name, as configs write it: `int`, `string`, `enum`,
    /// `date`, `ip`, `key`.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            ArgType::Int { .. } => "int",
            ArgType::String { .. } => "string",
            ArgType::Enum { .. } => "enum",
            ArgType::Date { .. } => "date",
            ArgType::Ip => "ip",
            ArgType::Key { .. } => "key",
        }
    }

    /// Short form for a signature: `<zone:int 1..99999>`, `<date:date
    /// %Y%m%d>`, `<state:new|live>`, `<zone:key zone>`.
    pub fn signature(&self) -> String {
        let detail = match &self.kind {
            ArgType::Int { min, max } => match (min, max) {
                (None, None) => "int".to_string(),
                (a, b) => format!(
                    "int {}..{}",
                    a.map(|v| v.to_string()).unwrap_or_default(),
                    b.map(|v| v.to_string()).unwrap_or_default()
                ),
            },
            ArgType::String { pattern, .. } => match pattern {
                Some(p) => format!("string ~{p}"),
                None => "string".into(),
            },
            ArgType::Enum { values } => values.join("|"),
            ArgType::Date { format } => {
                format!("date {}", format.as_deref().unwrap_or("%Y%m%d"))
            }
            ArgType::Ip => "ip".into(),
            ArgType::Key { kind } => format!("key {kind}"),
        };
        format!("<{}:{detail}>", self.name)
    }

    /// Checks the spec itself (config load): patterns compile, ranges make
    /// sense, formats are supported.
    pub fn validate(&self) -> Result<(), String> {
        crate::names::check_name(&self.name).map_err(|e| format!("argument name: {e}"))?;
        match &self.kind {
            ArgType::Int {
                min: Some(a),
                max: Some(b),
            } if a > b => Err(format!(
                "argument `{}`: min {a} is above max {b}",
                self.name
            )),
            ArgType::String {
                pattern: Some(p), ..
            } => anchored(p)
                .map(|_| ())
                .map_err(|e| format!("argument `{}`: {e}", self.name)),
            ArgType::Enum { values } if values.is_empty() => {
                Err(format!("argument `{}`: an enum needs values", self.name))
            }
            ArgType::Date { format: Some(f) } => super::values::time_format(f)
                .map(|_| ())
                .map_err(|e| format!("argument `{}`: {e}", self.name)),
            _ => Ok(()),
        }
    }

    /// Checks one value (the key kind only for its form: configd checks
    /// that the item exists). Err is the rule broken, without the name.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let bad = |why: String| Err(format!("{why}; it must be {}", self.rule()));
        if value.contains('\0') {
            return bad("contains a NUL byte".into());
        }
        match &self.kind {
            ArgType::Int { min, max } => {
                let n = match parse_int(value) {
                    Ok(n) => n,
                    Err(e) => return bad(e),
                };
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return bad(format!("{n} is out of range"));
                }
                Ok(())
            }
            ArgType::String { pattern, max_len } => {
                let len = max_len.unwrap_or(DEFAULT_MAX_LEN);
                if value.len() > len {
                    return bad(format!("is {} bytes", value.len()));
                }
                match pattern {
                    Some(p) => match anchored(p) {
                        Ok(re) if re.is_match(value) => Ok(()),
                        Ok(_) => bad(format!("`{}` does not match", shown(value))),
                        Err(e) => bad(e),
                    },
                    None if value.chars().any(char::is_control) => {
                        bad("contains control characters".into())
                    }
                    None => Ok(()),
                }
            }
            ArgType::Enum { values } if values.iter().any(|v| v == value) => Ok(()),
            ArgType::Enum { .. } => bad(format!("`{}` is not allowed", shown(value))),
            ArgType::Date { format } => {
                check_date(value, format.as_deref().unwrap_or("%Y%m%d")).or_else(bad)
            }
            ArgType::Ip => ValueType::Ip.check(value).map(|_| ()).or_else(bad),
            ArgType::Key { .. } => {
                if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
                    bad(format!("`{}` is not a key", shown(value)))
                } else {
                    Ok(())
                }
            }
        }
    }
}

fn anchored(pattern: &str) -> Result<Regex, String> {
    crate::filter::bounded_regex(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("bad pattern `{pattern}`: {e}"))
}

impl CommandSpec {
    /// Checks the spec (config load): names, placeholders, argument rules.
    pub fn validate(&self) -> Result<(), String> {
        crate::names::check_name(&self.name).map_err(|e| format!("command name: {e}"))?;
        self.check_parts()
            .map_err(|e| format!("command `{}`: {e}", self.name))
    }

    fn check_parts(&self) -> Result<(), String> {
        if self.argv.is_empty() || self.argv[0].is_empty() {
            return Err("argv needs a program".into());
        }
        if self.args.len() > MAX_ARGS {
            let n = self.args.len();
            return Err(format!("{n} arguments; the limit is {MAX_ARGS}"));
        }
        for (i, a) in self.args.iter().enumerate() {
            a.validate()?;
            if self.args[..i].iter().any(|b| b.name == a.name) {
                return Err(format!("argument `{}` declared twice", a.name));
            }
        }
        let declared = |name: &str| self.args.iter().any(|a| a.name == name);
        for (_, name) in self.argv.iter().flat_map(|e| placeholders(e).0) {
            if !declared(name) {
                return Err(format!(
                    "argv uses `{{{name}}}` but no argument is called `{name}`"
                ));
            }
        }
        match &self.inventory {
            Some(inv) if !declared(&inv.key) => Err(format!(
                "inventory key `{}` is not one of its arguments",
                inv.key
            )),
            _ => Ok(()),
        }
    }

    /// The signature: `open-zone <zone:int 1..99999> <date:date %Y%m%d>`.
    pub fn signature(&self) -> String {
        let args = self.args.iter().map(|a| format!(" {}", a.signature()));
        std::iter::once(self.name.clone()).chain(args).collect()
    }

    /// The usage line: `open-zone ZONE DATE`.
    pub fn usage(&self) -> String {
        let args = self
            .args
            .iter()
            .map(|a| format!(" {}", a.name.to_uppercase()));
        std::iter::once(self.name.clone()).chain(args).collect()
    }

    /// Checks the values (positional, in `args` order). The error is one
    /// line naming the argument and its rule.
    pub fn check_args(&self, values: &[String]) -> Result<(), String> {
        if values.len() != self.args.len() {
            return Err(format!(
                "`{}` takes {} argument(s), got {}: usage: {}",
                self.name,
                self.args.len(),
                values.len(),
                self.usage()
            ));
        }
        for (spec, value) in self.args.iter().zip(values) {
            spec.check(value)
                .map_err(|why| format!("argument `{}` of `{}`: {why}", spec.name, self.name))?;
        }
        Ok(())
    }

    /// The argument's value by name.
    pub fn arg<'a>(&self, values: &'a [String], name: &str) -> Option<&'a str> {
        self.args
            .iter()
            .position(|a| a.name == name)
            .and_then(|i| values.get(i))
            .map(String::as_str)
    }

    /// The argv to execute: the template with each `{name}` replaced by
    /// the value, verbatim. Call `check_args` first.
    pub fn render(&self, values: &[String]) -> Vec<String> {
        self.argv
            .iter()
            .map(|element| {
                let (parts, rest) = placeholders(element);
                let mut out = String::new();
                for (before, name) in parts {
                    out.push_str(before);
                    match self.arg(values, name) {
                        Some(v) => out.push_str(v),
                        None => out.push_str(&format!("{{{name}}}")),
                    }
                }
                out.push_str(rest);
                out
            })
            .collect()
    }
}

/// An argv element cut at its `{name}` placeholders: each (text before
/// it, name), then the text after the last.
fn placeholders(element: &str) -> (Vec<(&str, &str)>, &str) {
    let mut out = Vec::new();
    let mut rest = element;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push((&rest[..open], &rest[open + 1..open + close]));
        rest = &rest[open + close + 1..];
    }
    (out, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CommandSpec {
        CommandSpec {
            name: "open-zone".into(),
            description: "d".into(),
            argv: vec![
                "/ops/open-zone.sh".into(),
                "{zone}".into(),
                "--date={date}".into(),
                "{tag}".into(),
            ],
            args: vec![
                ArgSpec {
                    name: "zone".into(),
                    kind: ArgType::Int {
                        min: Some(1),
                        max: Some(99999),
                    },
                },
                ArgSpec {
                    name: "date".into(),
                    kind: ArgType::Date { format: None },
                },
                ArgSpec {
                    name: "tag".into(),
                    kind: ArgType::String {
                        pattern: Some("[a-z0-9-]+".into()),
                        max_len: Some(16),
                    },
                },
            ],
            timeout_ms: 1000,
            concurrency: 1,
            inventory: None,
            role: CommandRole::Operator,
        }
    }

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn valid_args_render_verbatim() {
        let s = spec();
        s.validate().unwrap();
        s.check_args(&v(&["218", "20261201", "ab-1"])).unwrap();
        assert_eq!(
            s.render(&v(&["218", "20261201", "ab-1"])),
            v(&["/ops/open-zone.sh", "218", "--date=20261201", "ab-1"])
        );
        // A value that looks like a placeholder stays as it is.
        let mut t = spec();
        t.args[2].kind = ArgType::String {
            pattern: None,
            max_len: None,
        };
        assert_eq!(t.render(&v(&["1", "20260101", "{zone}"]))[3], "{zone}");
    }

    #[test]
    fn bad_args_name_argument_and_rule() {
        let s = spec();
        let table: &[(&[&str], &str)] = &[
            (&["0", "20261201", "a"], "argument `zone`"),
            (&["1;reboot", "20261201", "a"], "argument `zone`"),
            (&["218", ";reboot;", "a"], "argument `date`"),
            (&["218", "20260230", "a"], "real date"),
            (&["218", "20261201", "a;b"], "argument `tag`"),
            (&["218", "20261201", "$(id)"], "argument `tag`"),
            (&["218", "20261201", "abc\ndef"], "argument `tag`"),
            (&["218", "20261201", "a\0b"], "NUL"),
            (&["218", "20261201", "abcdefghijklmnopq"], "17 bytes"),
            (&["218", "20261201"], "usage: open-zone ZONE DATE TAG"),
        ];
        for (args, want) in table {
            let e = s.check_args(&v(args)).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
    }

    #[test]
    fn spec_errors() {
        let mut s = spec();
        s.argv.push("{nope}".into());
        assert!(s.validate().unwrap_err().contains("nope"));
        let mut s = spec();
        s.args[2].kind = ArgType::String {
            pattern: Some("(".into()),
            max_len: None,
        };
        assert!(s.validate().is_err());
    }
}
