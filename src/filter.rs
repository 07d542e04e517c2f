//! Filter expressions of `--filter` and the TUI's `/`: `key=value`,
//! `key!=value`, `key~regex`, dotted keys into objects (`labels.role=web`).
//! Several filters are ANDed. They match the JSON shape a query prints.

use std::borrow::Cow;

use regex::Regex;
use serde_json::Value;

/// One field of a row, found without building the row's JSON (for rows
/// with no lists in them, such as nodes): what `Filter::matches` would
/// find at the filter's path.
pub enum Field<'a> {
    Missing,
    /// An object: equal to no text.
    Object,
    Text(Cow<'a, str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Match,
}

#[derive(Debug, Clone)]
pub struct Filter {
    path: Vec<String>,
    op: Op,
    value: String,
    regex: Option<Regex>,
}

/// Longest regex accepted, so a filter cannot ask for unbounded work.
const MAX_EXPR: usize = 1024;

impl Filter {
    pub fn parse(expr: &str) -> Result<Filter, String> {
        if expr.len() > MAX_EXPR {
            return Err(format!(
                "filter is {} bytes; the limit is {MAX_EXPR}",
                expr.len()
            ));
        }
        let pos = expr
            .char_indices()
            .find(|&(i, c)| c == '=' || c == '~' || (c == '!' && expr[i + 1..].starts_with('=')))
            .map(|(i, _)| i);
        let Some(pos) = pos else {
            return Err(format!(
                "invalid filter `{expr}`: write key=value, key!=value or key~regex"
            ));
        };
        let key = &expr[..pos];
        let (op, value) = match expr.as_bytes()[pos] {
            b'!' => (Op::Ne, &expr[pos + 2..]),
            b'~' => (Op::Match, &expr[pos + 1..]),
            _ => (Op::Eq, &expr[pos + 1..]),
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            || key.split('.').any(str::is_empty)
        {
            return Err(format!(
                "invalid filter `{expr}`: the key before the operator must be a field name such as state or labels.role"
            ));
        }
        let regex = match op {
            Op::Match => Some(
                regex::RegexBuilder::new(value)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        format!(
                            "invalid filter `{expr}`: bad regex: {}",
                            e.to_string().lines().last().unwrap_or("").trim()
                        )
                    })?,
            ),
            _ => None,
        };
        Ok(Filter {
            path: key.split('.').map(str::to_string).collect(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Parses every expression, failing on the first bad one.
    pub fn parse_all<S: AsRef<str>>(exprs: &[S]) -> Result<Vec<Filter>, String> {
        exprs.iter().map(|e| Filter::parse(e.as_ref())).collect()
    }

    /// Whether `row` passes. A bare key missing from `row` is looked up in
    /// `row[fallback]` when given (inventory filters match `attrs`).
    pub fn matches(&self, row: &Value, fallback: Option<&str>) -> bool {
        let found = lookup(row, &self.path).or_else(|| {
            fallback
                .and_then(|f| row.get(f))
                .and_then(|inner| lookup(inner, &self.path))
        });
        match found {
            None => self.op == Op::Ne,
            Some(Value::Array(items)) => {
                let any = items.iter().any(|v| self.test_scalar(v));
                if self.op == Op::Ne {
                    !items
                        .iter()
                        .any(|v| scalar_text(v).as_deref() == Some(self.value.as_str()))
                } else {
                    any
                }
            }
            Some(v) => self.test_scalar(v),
        }
    }

    /// The dotted key, split.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// `matches` for the field found at `path()`.
    pub fn matches_field(&self, field: Field) -> bool {
        match field {
            Field::Missing | Field::Object => self.op == Op::Ne,
            Field::Text(text) => self.test_text(&text),
        }
    }

    fn test_scalar(&self, v: &Value) -> bool {
        let Some(text) = scalar_text(v) else {
            return self.op == Op::Ne;
        };
        self.test_text(&text)
    }

    fn test_text(&self, text: &str) -> bool {
        match self.op {
            Op::Eq => text == self.value,
            Op::Ne => text != self.value,
            Op::Match => self.regex.as_ref().is_some_and(|r| r.is_match(text)),
        }
    }
}

/// True when `row` passes every filter.
pub fn matches_all(filters: &[Filter], row: &Value, fallback: Option<&str>) -> bool {
    filters.iter().all(|f| f.matches(row, fallback))
}

fn lookup<'a>(mut v: &'a Value, path: &[String]) -> Option<&'a Value> {
    for part in path {
        v = v.get(part)?;
    }
    Some(v)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(expr: &str, row: &Value) -> bool {
        Filter::parse(expr).unwrap().matches(row, Some("attrs"))
    }

    #[test]
    fn operators_and_paths() {
        let row = json!({"name": "web-1", "state": "up", "labels": {"role": "web"},
                         "checks": {"critical": 2}, "addrs": ["10.0.0.1", "::1"], "attrs": {"state": "new"}});
        assert!(m("state=up", &row));
        assert!(!m("state=down", &row));
        assert!(m("state!=down", &row));
        assert!(m("name~^web-\\d$", &row));
        assert!(m("labels.role=web", &row));
        assert!(!m("labels.role=db", &row));
        assert!(m("labels.zone!=x", &row));
        assert!(m("checks.critical=2", &row));
        assert!(m("addrs=::1", &row));
        assert!(!m("addrs!=::1", &row));
        assert!(m("name=web-1", &row) && m("x!=1", &row));
        // Inventory: a bare attribute name falls back to attrs.
        let inv =
            json!({"kind": "zone", "key": 218, "attrs": {"domain": "s218.x", "state": "new"}});
        assert!(m("state=new", &inv) && m("key=218", &inv) && m("domain~^s2", &inv));
        // The first operator wins: values may contain = and ~.
        assert_eq!(Filter::parse("a=b=c~d").unwrap().value, "b=c~d");
    }

    #[test]
    fn bad_expressions() {
        for bad in ["state", "=up", "a..b=1", "a b=1", "name~(", ""] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
        assert!(Filter::parse(&"a=".repeat(600)).is_err());
    }
}
