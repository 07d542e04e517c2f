//! `[[command]]` entries of noded.toml as written, and the node's resolved
//! view of each: the spec it advertises plus what only the node needs
//! (working directory, environment allow-list).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::spec::{ArgSpec, ArgType, CommandRole, CommandSpec, InventoryLink};

/// Default time a command may run.
pub const DEFAULT_TIMEOUT_MS: u64 = 10 * 60 * 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandEntry {
    name: String,
    #[serde(default)]
    description: String,
    argv: Vec<String>,
    #[serde(default)]
    args: Vec<ArgEntry>,
    timeout: Option<String>,
    concurrency: Option<u32>,
    working_dir: Option<PathBuf>,
    /// Names of noded's environment variables passed to the command.
    #[serde(default)]
    env: Vec<String>,
    inventory: Option<InventoryEntry>,
    /// `operator` (default) or `admin`: who may run it.
    role: Option<String>,
}

/// One `args` entry as written (commands and runbooks share it).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArgEntry {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) ty: String,
    pub(crate) min: Option<i64>,
    pub(crate) max: Option<i64>,
    pub(crate) pattern: Option<String>,
    pub(crate) max_len: Option<usize>,
    pub(crate) values: Option<Vec<String>>,
    pub(crate) format: Option<String>,
    pub(crate) kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryEntry {
    kind: String,
    key: String,
    #[serde(default)]
    requires: BTreeMap<String, String>,
    #[serde(default)]
    on_success: BTreeMap<String, String>,
}

/// A command as the node runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCommand {
    pub spec: CommandSpec,
    pub working_dir: Option<PathBuf>,
    pub env: Vec<String>,
}

impl ArgEntry {
    /// The typed argument; `owner` names what declares it in errors
    /// (``command `open-zone` ``).
    pub(crate) fn into_spec(self, owner: &str) -> Result<ArgSpec, String> {
        let ArgEntry {
            name,
            ty,
            min,
            max,
            pattern,
            max_len,
            values,
            format,
            kind,
        } = self;
        let stray = |what: &str| {
            Err(format!(
                "{owner}, argument `{name}`: `{what}` does not apply to type {ty}"
            ))
        };
        let kind = match ty.as_str() {
            "int" => ArgType::Int { min, max },
            "string" => ArgType::String { pattern, max_len },
            "enum" => ArgType::Enum {
                values: values.unwrap_or_default(),
            },
            "date" => ArgType::Date { format },
            "ip" => ArgType::Ip,
            "key" => match kind {
                Some(kind) => ArgType::Key { kind },
                None => {
                    return Err(format!(
                        "{owner}, argument `{name}`: type key needs `kind`"
                    ))
                }
            },
            other => {
                return Err(format!(
                    "{owner}, argument `{name}`: unknown type `{other}`; use int, string, enum, date, ip or key"
                ))
            }
        };
        // Keys that belong to another type are mistakes worth reporting.
        match &kind {
            ArgType::Int { .. } => {}
            _ if min.is_some() => return stray("min"),
            _ if max.is_some() => return stray("max"),
            _ => {}
        }
        Ok(ArgSpec { name, kind })
    }
}

/// Resolves and checks every `[[command]]` entry.
pub fn resolve_commands(
    entries: Vec<CommandEntry>,
    base: Option<&Path>,
) -> Result<Vec<LocalCommand>, String> {
    let mut out: Vec<LocalCommand> = Vec::new();
    for e in entries {
        let name = e.name.clone();
        if out.iter().any(|c| c.spec.name == name) {
            return Err(format!("command `{name}` is declared twice"));
        }
        let timeout_ms = match &e.timeout {
            Some(t) => humantime::parse_duration(t)
                .map_err(|err| format!("command `{name}`: invalid timeout `{t}`: {err}"))?
                .as_millis() as u64,
            None => DEFAULT_TIMEOUT_MS,
        };
        if timeout_ms == 0 {
            return Err(format!("command `{name}`: timeout must be more than zero"));
        }
        let role = match e.role.as_deref() {
            None => CommandRole::Operator,
            Some(r) => CommandRole::parse(r).ok_or_else(|| {
                format!("command `{name}`: role `{r}` is not allowed; use operator or admin")
            })?,
        };
        let args = e
            .args
            .into_iter()
            .map(|a| a.into_spec(&format!("command `{name}`")))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = CommandSpec {
            name: name.clone(),
            description: e.description,
            argv: e.argv,
            args,
            timeout_ms,
            concurrency: e.concurrency.unwrap_or(1).max(1),
            inventory: e.inventory.map(|i| InventoryLink {
                kind: i.kind,
                key: i.key,
                requires: i.requires,
                on_success: i.on_success,
            }),
            role,
        };
        spec.validate()?;
        for var in &e.env {
            if var.is_empty() || var.contains(['=', '\0']) {
                return Err(format!("command `{name}`: bad environment name `{var}`"));
            }
        }
        out.push(LocalCommand {
            spec,
            working_dir: e.working_dir.map(|p| crate::config::resolve(base, p)),
            env: e.env,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(extra: &str) -> Result<Vec<LocalCommand>, String> {
        let text = format!("[[command]]\nname = \"x\"\nargv = [\"/bin/true\"]\n{extra}");
        #[derive(Deserialize)]
        struct File {
            command: Vec<CommandEntry>,
        }
        let file: File = toml::from_str(&text).map_err(|e| e.to_string())?;
        resolve_commands(file.command, None)
    }

    #[test]
    fn role_defaults_to_operator_and_only_takes_two_values() {
        assert_eq!(entries("").unwrap()[0].spec.role, CommandRole::Operator);
        let admin = entries("role = \"admin\"").unwrap();
        assert_eq!(admin[0].spec.role, CommandRole::Admin);
        let e = entries("role = \"root\"").unwrap_err();
        assert!(
            e.contains("role `root`") && e.contains("operator or admin"),
            "{e}"
        );
    }
}
