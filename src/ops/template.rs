//! Runbook templates: text with `{name}` and `{name.field}` placeholders
//! (`{zone}`, `{zone.node}`, `{item.state}`), parsed once at config load
//! so a typo is a check-config error, and filled from typed values only.

use std::collections::BTreeMap;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// `{name}` or `{name.field}`.
    Var {
        name: String,
        field: Option<String>,
    },
}

/// A parsed template; `source` is the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub source: String,
    pub parts: Vec<Part>,
}

/// The values a template may read: plain values by name, and fields of
/// values (an item's `node` and attributes).
#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub values: BTreeMap<String, String>,
    pub fields: BTreeMap<String, BTreeMap<String, String>>,
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(format!("`{source}`: a `}}` without its `{{`"));
            }
            let Some(len) = rest[open..].find('}') else {
                return Err(format!("`{source}`: a `{{` without its `}}`"));
            };
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let inner = &rest[open + 1..open + len];
            let (name, field) = match inner.split_once('.') {
                Some((n, f)) => (n, Some(f.to_string())),
                None => (inner, None),
            };
            for n in std::iter::once(name).chain(field.as_deref()) {
                crate::names::check_name(n)
                    .map_err(|e| format!("`{source}`: placeholder `{{{inner}}}`: {e}"))?;
            }
            parts.push(Part::Var {
                name: name.to_string(),
                field,
            });
            rest = &rest[open + len + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    /// The placeholders, in order.
    pub fn vars(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, field } => Some((name.as_str(), field.as_deref())),
            Part::Text(_) => None,
        })
    }

    /// The text with every placeholder filled; an unknown one is an error
    /// naming it (check-config makes that unreachable for valid configs).
    pub fn fill(&self, scope: &Scope) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var { name, field: None } => match scope.values.get(name) {
                    Some(v) => out.push_str(v),
                    None => return Err(format!("`{}`: no value for `{{{name}}}`", self.source)),
                },
                Part::Var {
                    name,
                    field: Some(f),
                } => match scope.fields.get(name).and_then(|m| m.get(f)) {
                    Some(v) => out.push_str(v),
                    None => return Err(format!("`{}`: `{{{name}.{f}}}` is not set", self.source)),
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_fills() {
        let t = Template::parse("zone-{zone}.tar.gz on {zone.node}").unwrap();
        let mut scope = Scope::default();
        scope.values.insert("zone".into(), "301".into());
        scope.fields.insert(
            "zone".into(),
            BTreeMap::from([("node".into(), "web-1".into())]),
        );
        assert_eq!(t.fill(&scope).unwrap(), "zone-301.tar.gz on web-1");
        let vars: Vec<_> = t.vars().collect();
        assert_eq!(vars, vec![("zone", None), ("zone", Some("node"))]);
    }

    #[test]
    fn refuses_broken_braces_and_names() {
        assert!(Template::parse("{zone").is_err());
        assert!(Template::parse("zone}").is_err());
        assert!(Template::parse("{}").is_err());
        assert!(Template::parse("{a b}").is_err());
        assert!(Template::parse("plain").unwrap().vars().next().is_none());
    }

    #[test]
    fn missing_values_are_errors() {
        let t = Template::parse("{dst}").unwrap();
        assert!(t.fill(&Scope::default()).unwrap_err().contains("{dst}"));
    }
}
