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
                bounded_regex(value)
                    .map_err(|e| format!("invalid filter `{expr}`: bad regex: {e}"))?,
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
    /// `row[fallback]` when given (inventory filters match `attrs`). A path
    /// through a list looks into every item (`targets.state=failed` is a
    /// job with any failed target); `!=` on a list means no item equals.
    pub fn matches(&self, row: &Value, fallback: Option<&str>) -> bool {
        let mut found = Vec::new();
        lookup(row, &self.path, &mut found);
        if found.is_empty() {
            if let Some(inner) = fallback.and_then(|f| row.get(f)) {
                lookup(inner, &self.path, &mut found);
            }
        }
        if found.is_empty() {
            return self.op == Op::Ne;
        }
        if self.op == Op::Ne {
            !found
                .iter()
                .any(|v| scalar_text(v).as_deref() == Some(self.value.as_str()))
        } else {
            found.iter().any(|v| self.test_scalar(v))
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

/// `pattern` compiled within a size limit, so it cannot ask for unbounded
/// work; the error is the last line of the regex crate's message.
pub fn bounded_regex(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            e.to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string()
        })
}

/// True when `row`, as JSON, passes every filter (one that cannot be
/// made JSON passes none).
pub fn row_matches(filters: &[Filter], row: &impl serde::Serialize) -> bool {
    serde_json::to_value(row).is_ok_and(|v| matches_all(filters, &v, None))
}

/// True when `row` passes every filter.
pub fn matches_all(filters: &[Filter], row: &Value, fallback: Option<&str>) -> bool {
    filters.iter().all(|f| f.matches(row, fallback))
}

/// Every value at `path` under `v`, looking into each item of a list met
/// on the way or at the end.
fn lookup<'a>(v: &'a Value, path: &[String], found: &mut Vec<&'a Value>) {
    match (v, path.split_first()) {
        (Value::Array(items), _) => {
            for item in items {
                // An item that is itself a list is a value, not a level.
                if path.is_empty() && item.is_array() {
                    found.push(item);
                } else {
                    lookup(item, path, found);
                }
            }
        }
        (_, None) => found.push(v),
        (Value::Object(map), Some((part, rest))) => {
            if let Some(inner) = map.get(part) {
                lookup(inner, rest, found);
            }
        }
        _ => {}
    }
}

/// Refuses a filter on a field that rows of `what` never have: a typo
/// would otherwise match nothing, silently. `fields` names each field;
/// `labels.*` allows any key under `labels`, `checks.ok` one key under
/// `checks` (and `checks` itself).
pub fn check_fields(filters: &[Filter], what: &str, fields: &[&str]) -> Result<(), String> {
    for f in filters {
        let path = f.path.join(".");
        // `inner` is a dotted path below `outer`.
        let below = |inner: &str, outer: &str| {
            inner
                .strip_prefix(outer)
                .is_some_and(|r| r.starts_with('.'))
        };
        let known = fields.iter().any(|spec| match spec.strip_suffix(".*") {
            Some(object) => path == object || below(&path, object),
            None => *spec == path || below(spec, &path),
        });
        if !known {
            return Err(format!(
                "no field `{path}` in {what}: filter on {}",
                field_list(fields)
            ));
        }
    }
    Ok(())
}

/// `fields` for a reader: `name, labels.KEY, checks.{ok,warning}`.
fn field_list(fields: &[&str]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for spec in fields {
        let (top, sub) = spec.split_once('.').unwrap_or((spec, ""));
        let sub = if sub == "*" { "KEY" } else { sub };
        match groups.iter_mut().find(|(t, _)| *t == top) {
            Some((_, subs)) => subs.push(sub),
            None => groups.push((top, vec![sub])),
        }
    }
    let shown: Vec<String> = groups
        .into_iter()
        .map(|(top, subs)| match subs.as_slice() {
            [""] => top.to_string(),
            [one] => format!("{top}.{one}"),
            many => format!("{top}.{{{}}}", many.join(",")),
        })
        .collect();
    shown.join(", ")
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

/// Asserts that `fields` names exactly the fields of `sample`, a row with
/// every field present: each leaf of it passes `check_fields`, and each
/// name in `fields` is found in it.
#[cfg(test)]
pub(crate) fn assert_fields_match(sample: &Value, fields: &[&str]) {
    fn leaves(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            Value::Object(map) => {
                for (k, inner) in map {
                    path.push(k.clone());
                    leaves(inner, path, out);
                    path.pop();
                }
            }
            Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                for item in items {
                    leaves(item, path, out);
                }
            }
            _ => out.push(path.clone()),
        }
    }
    let mut all = Vec::new();
    leaves(sample, &mut Vec::new(), &mut all);
    for leaf in &all {
        let f = Filter::parse(&format!("{}=x", leaf.join("."))).unwrap();
        assert!(
            check_fields(&[f], "rows", fields).is_ok(),
            "{leaf:?} missing"
        );
    }
    for spec in fields {
        let path: Vec<String> = spec
            .trim_end_matches(".*")
            .split('.')
            .map(String::from)
            .collect();
        let mut found = Vec::new();
        lookup(sample, &path, &mut found);
        assert!(!found.is_empty(), "{spec} is not in the sample");
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
    fn paths_through_lists_match_any_item() {
        let job = json!({"id": 7, "targets": [{"node": "a", "state": "ok"},
                                               {"node": "b", "state": "failed"}]});
        assert!(m("targets.node=b", &job));
        assert!(m("targets.state~fail", &job));
        assert!(!m("targets.node=c", &job));
        assert!(!m("targets.node!=a", &job));
        assert!(m("targets.node!=c", &job));
        assert!(m("targets.nosuch!=c", &job) && !m("targets.nosuch=c", &job));
        assert!(!m("id.x=7", &job) && m("id.x!=7", &job));
    }

    #[test]
    fn unknown_fields_are_refused_with_the_known_ones() {
        let fields = ["name", "labels.*", "checks.ok", "checks.warning"];
        let ok = |e: &str| check_fields(&[Filter::parse(e).unwrap()], "nodes", &fields);
        for good in [
            "name=a",
            "labels.role=web",
            "labels=x",
            "checks.ok=1",
            "checks!=x",
        ] {
            assert!(ok(good).is_ok(), "{good}");
        }
        for bad in [
            "nmae=a",
            "checks.okk=1",
            "name.x=a",
            "labelsx.role=1",
            "check=1",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ok("bogus~~").unwrap_err(),
            "no field `bogus` in nodes: filter on name, labels.KEY, checks.{ok,warning}"
        );
    }

    #[test]
    fn bad_expressions() {
        for bad in ["state", "=up", "a..b=1", "a b=1", "name~(", ""] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
        assert!(Filter::parse(&"a=".repeat(600)).is_err());
    }
}
