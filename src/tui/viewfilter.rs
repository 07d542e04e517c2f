//! The `/` filter of the views. Words with an operator (`state=down`,
//! `labels.role=web`, `name~^db`) are [`crate::filter::Filter`]
//! expressions on the row's JSON shape (as `--filter` of `monit-cli`);
//! other words must all occur in the row's text (case-insensitive).

use crate::filter::Filter;

use super::rows::{Json, LogLine};

#[derive(Debug, Clone, Default)]
pub struct RowFilter {
    exprs: Vec<Filter>,
    words: Vec<String>,
}

fn is_expr(word: &str) -> bool {
    word.contains('=') || word.contains('~')
}

impl RowFilter {
    pub fn parse(text: &str) -> Result<RowFilter, String> {
        let mut f = RowFilter::default();
        for word in text.split_whitespace() {
            if is_expr(word) {
                f.exprs.push(Filter::parse(word)?);
            } else {
                f.words.push(word.to_lowercase());
            }
        }
        Ok(f)
    }

    /// Why an expression cannot match here: it names a field `row` (one
    /// of the table's rows) does not have. Rows with `attrs` take any bare
    /// name, as inventory filters do.
    pub fn unknown_field(&self, row: &impl Json) -> Option<String> {
        let value = row.json();
        let top = value.as_object()?;
        let e = self.exprs.iter().find(|e| {
            let key = e.path().first().map_or("", String::as_str);
            !top.contains_key(key) && !top.contains_key("attrs")
        })?;
        let mut fields: Vec<&str> = top.keys().map(String::as_str).collect();
        fields.sort_unstable();
        Some(format!(
            "no field `{}` here: try {}",
            e.path().join("."),
            fields.join(", ")
        ))
    }

    /// Every word is in the row's `text`, every expression matches its
    /// JSON (each built only when needed).
    pub fn matches<T: Json>(&self, row: &T, text: impl Fn(&T) -> String) -> bool {
        if !self.words.is_empty() {
            let hay = text(row).to_lowercase();
            if !self.words.iter().all(|w| hay.contains(w.as_str())) {
                return false;
            }
        }
        self.exprs.is_empty() || crate::filter::matches_all(&self.exprs, &row.json(), Some("attrs"))
    }
}

/// The Logs filter: `node=N` (several: any), `level=L`, `source=S`, and
/// free text that must occur in the message (highlighted on screen).
/// Cheap per line: the log may bring 50,000 lines a second.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub nodes: Vec<String>,
    pub level: Option<String>,
    pub source: Option<String>,
    /// Lower-cased search text.
    pub text: Option<String>,
}

impl LogFilter {
    pub fn parse(input: &str) -> LogFilter {
        let mut f = LogFilter::default();
        let mut text = Vec::new();
        for word in input.split_whitespace() {
            if let Some(n) = word.strip_prefix("node=") {
                f.nodes.push(n.to_string());
            } else if let Some(l) = word.strip_prefix("level=") {
                f.level = Some(l.to_lowercase());
            } else if let Some(s) = word.strip_prefix("source=") {
                f.source = Some(s.to_string());
            } else {
                text.push(word);
            }
        }
        if !text.is_empty() {
            f.text = Some(text.join(" ").to_lowercase());
        }
        f
    }

    pub fn matches(&self, l: &LogLine) -> bool {
        (self.nodes.is_empty() || self.nodes.contains(&l.node))
            && self
                .level
                .as_ref()
                .is_none_or(|lv| l.level.as_str().eq_ignore_ascii_case(lv))
            && self.source.as_ref().is_none_or(|s| *s == l.source)
            && self
                .text
                .as_ref()
                .is_none_or(|t| contains_ci(&l.message, t))
    }
}

/// Case-insensitive substring test; `needle` is lower case.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        let n = needle.as_bytes();
        return hay
            .as_bytes()
            .windows(n.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(n))
            || n.is_empty();
    }
    hay.to_lowercase().contains(needle)
}

/// Byte ranges of `needle` (lower case) in `hay`, for highlighting.
pub fn find_all_ci(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    if needle.is_empty() {
        return Vec::new();
    }
    let lower = hay.to_lowercase();
    if lower.len() != hay.len() {
        return Vec::new();
    }
    lower
        .match_indices(needle)
        .map(|(i, m)| (i, i + m.len()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::rows::NodeRow;

    #[test]
    fn row_filter_mixes_expressions_and_words() {
        let mut n = NodeRow {
            name: "web-1".into(),
            state: "up".into(),
            version: "0.1.0".into(),
            labels: [("role".to_string(), "web".to_string())].into(),
            ..NodeRow::default()
        };
        let text = |n: &NodeRow| n.name.clone();
        assert!(RowFilter::parse("").unwrap().matches(&n, text));
        assert!(RowFilter::parse("WEB").unwrap().matches(&n, text));
        assert!(RowFilter::parse("state=up labels.role=web")
            .unwrap()
            .matches(&n, text));
        assert!(!RowFilter::parse("state=down").unwrap().matches(&n, text));
        let f = RowFilter::parse("web lables.role=web").unwrap();
        assert!(f
            .unknown_field(&n)
            .is_some_and(|e| e.starts_with("no field `lables.role` here: try addr, ")
                && e.contains("labels")));
        assert_eq!(
            RowFilter::parse("web labels.x=1")
                .unwrap()
                .unknown_field(&n),
            None
        );
        n.state = "down".into();
        assert!(RowFilter::parse("state=down web")
            .unwrap()
            .matches(&n, text));
        assert!(RowFilter::parse("name~[").is_err());
    }

    #[test]
    fn log_filter() {
        let l = LogLine {
            time_ms: 0,
            node: "a".into(),
            level: crate::model::log::Level::Warn,
            source: "daemon".into(),
            message: "Disk Full on /var".into(),
        };
        assert!(LogFilter::parse("node=a level=warn disk full").matches(&l));
        assert!(LogFilter::parse("node=b node=a").matches(&l));
        assert!(!LogFilter::parse("node=b").matches(&l));
        assert!(!LogFilter::parse("level=error").matches(&l));
        assert!(!LogFilter::parse("nothing").matches(&l));
        assert_eq!(find_all_ci("a Disk disk", "disk"), [(2, 6), (7, 11)]);
    }
}
