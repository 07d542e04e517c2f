//! `[[check]]` in configd.toml: checks declared once for the fleet, each
//! with an `apply` rule naming the nodes it goes to, and
//! `[check_defaults]` for the values they leave out.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::checks::{CheckDefaults, CheckSection, CheckSpec};
use super::values::Duration;

/// One `[[check]]` of configd.toml as written: a node's keys plus `apply`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CentralSection {
    name: String,
    command: Option<Vec<String>>,
    interval: Option<Duration>,
    retry_interval: Option<Duration>,
    max_attempts: Option<u32>,
    timeout: Option<Duration>,
    freshness: Option<Duration>,
    apply: Option<ApplySection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ApplySection {
    Word(String),
    Table(ApplyTable),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyTable {
    labels: Option<BTreeMap<String, String>>,
    nodes: Option<Vec<String>>,
}

/// Which nodes a central check goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyTo {
    All,
    /// Nodes having every one of these labels.
    Labels(BTreeMap<String, String>),
    /// These nodes by name.
    Nodes(BTreeSet<String>),
}

impl ApplyTo {
    pub fn matches(&self, node: &str, labels: &BTreeMap<String, String>) -> bool {
        match self {
            ApplyTo::All => true,
            ApplyTo::Labels(want) => want.iter().all(|(k, v)| labels.get(k) == Some(v)),
            ApplyTo::Nodes(names) => names.contains(node),
        }
    }

    /// How the rule reads in configd.toml.
    pub fn describe(&self) -> String {
        match self {
            ApplyTo::All => "all".into(),
            ApplyTo::Labels(l) => {
                let pairs: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("labels {}", pairs.join(","))
            }
            ApplyTo::Nodes(n) => {
                let names: Vec<&str> = n.iter().map(String::as_str).collect();
                format!("nodes {}", names.join(","))
            }
        }
    }
}

/// A validated central check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentralCheckRule {
    pub spec: CheckSpec,
    pub apply: ApplyTo,
}

pub(crate) fn resolve_central(
    sections: Vec<CentralSection>,
    defaults: &CheckDefaults,
) -> Result<Vec<CentralCheckRule>, String> {
    let mut applies = Vec::with_capacity(sections.len());
    let mut plain = Vec::with_capacity(sections.len());
    for s in sections {
        let apply = match s.apply {
            None => {
                return Err(format!(
                    "[[check]] `{}` needs `apply`: \"all\", {{ labels = {{ role = \"web\" }} }} or {{ nodes = [\"web-1\"] }}",
                    s.name
                ))
            }
            Some(ApplySection::Word(w)) if w == "all" => ApplyTo::All,
            Some(ApplySection::Word(w)) => {
                return Err(format!(
                    "[[check]] `{}`: `apply` = \"{w}\": the one word it takes is \"all\"",
                    s.name
                ))
            }
            Some(ApplySection::Table(t)) => match (t.labels, t.nodes) {
                (Some(labels), None) if !labels.is_empty() => {
                    for k in labels.keys() {
                        crate::names::check_name(k)
                            .map_err(|e| format!("[[check]] `{}` apply label: {e}", s.name))?;
                    }
                    ApplyTo::Labels(labels)
                }
                (None, Some(nodes)) if !nodes.is_empty() => {
                    for n in &nodes {
                        crate::names::check_name(n)
                            .map_err(|e| format!("[[check]] `{}` apply node: {e}", s.name))?;
                    }
                    ApplyTo::Nodes(nodes.into_iter().collect())
                }
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "[[check]] `{}`: `apply` takes `labels` or `nodes`, not both",
                        s.name
                    ))
                }
                _ => {
                    return Err(format!(
                        "[[check]] `{}`: `apply` names no node: give `labels = {{ ... }}` or `nodes = [...]` (not empty), or \"all\"",
                        s.name
                    ))
                }
            },
        };
        if let Some(argv0) = s.command.as_ref().and_then(|c| c.first()) {
            if !argv0.starts_with('/') {
                return Err(format!(
                    "[[check]] `{}`: the plugin `{argv0}` must be an absolute path (nodes accept plugins under their `plugin_dirs` only)",
                    s.name
                ));
            }
        }
        applies.push(apply);
        plain.push(CheckSection {
            name: s.name,
            command: s.command,
            interval: s.interval,
            retry_interval: s.retry_interval,
            max_attempts: s.max_attempts,
            timeout: s.timeout,
            freshness: s.freshness,
        });
    }
    let specs = super::checks::resolve_checks_with(plain, defaults)?;
    Ok(specs
        .into_iter()
        .zip(applies)
        .map(|(spec, apply)| CentralCheckRule { spec, apply })
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::config::configd::tests::parse;

    #[test]
    fn rules_and_defaults() {
        let c = parse(
            "[check_defaults]\ninterval = \"30s\"\nmax_attempts = 2\n\
             [[check]]\nname = \"load\"\ncommand = [\"/usr/lib/nagios/plugins/check_load\"]\napply = { labels = { role = \"web\" } }\n\
             [[check]]\nname = \"disk\"\ncommand = [\"/usr/lib/nagios/plugins/check_disk\"]\ninterval = \"5s\"\napply = \"all\"\n\
             [[check]]\nname = \"users\"\ncommand = [\"/usr/lib/nagios/plugins/check_users\"]\napply = { nodes = [\"db-1\"] }\n",
        )
        .unwrap();
        let rules = &c.central_checks;
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].spec.interval.as_secs(), 30);
        assert_eq!(rules[0].spec.max_attempts, 2);
        assert_eq!(rules[1].spec.interval.as_secs(), 5);
        let web = [("role".to_string(), "web".to_string())].into();
        assert!(rules[0].apply.matches("x", &web));
        assert!(!rules[0].apply.matches("x", &Default::default()));
        assert!(rules[1].apply.matches("x", &Default::default()));
        assert!(rules[2].apply.matches("db-1", &web) && !rules[2].apply.matches("db-2", &web));
    }

    #[test]
    fn bad_rules_are_one_line_errors() {
        let base = "[[check]]\nname = \"x\"\ncommand = [\"/usr/lib/nagios/plugins/check_load\"]\n";
        for (extra, says) in [
            ("", "needs `apply`"),
            ("apply = \"some\"\n", "\"all\""),
            ("apply = { labels = {} }\n", "names no node"),
            (
                "apply = { nodes = [\"a\"], labels = { r = \"w\" } }\n",
                "not both",
            ),
            ("apply = { hosts = [\"a\"] }\n", "apply"),
            ("apply = \"all\"\ninterval = \"0s\"\n", "more than zero"),
        ] {
            let e = parse(&format!("{base}{extra}")).unwrap_err();
            assert!(e.contains(says), "{extra}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let e = parse("[[check]]\nname = \"x\"\ncommand = [\"check_load\"]\napply = \"all\"\n")
            .unwrap_err();
        assert!(e.contains("absolute"), "{e}");
        let e = parse(
            "[[check]]\nname = \"x\"\napply = \"all\"\n[[check]]\nname = \"x\"\napply = \"all\"\n",
        )
        .unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }
}
