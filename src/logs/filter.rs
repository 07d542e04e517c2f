//! Server-side subscription filters, compiled once per subscriber.

use std::collections::HashSet;

use regex::Regex;

use crate::net::proto::{Level, LogLine, SubscribeLogs};

/// Longest `--grep` text or regex accepted.
const MAX_PATTERN: usize = 1024;

#[derive(Debug)]
pub struct LogFilter {
    nodes: HashSet<String>,
    min_level: Level,
    /// (text, is_prefix)
    sources: Vec<(String, bool)>,
    grep: Option<String>,
    regex: Option<Regex>,
    since_ms: Option<i64>,
}

impl LogFilter {
    pub fn compile(s: &SubscribeLogs) -> Result<LogFilter, String> {
        if s.nodes.len() > 10_000 || s.sources.len() > 1000 {
            return Err("at most 10000 nodes and 1000 sources per subscription".into());
        }
        let too_long = |p: &Option<String>| p.as_ref().is_some_and(|p| p.len() > MAX_PATTERN);
        if too_long(&s.grep) || too_long(&s.regex) {
            return Err(format!("patterns are at most {MAX_PATTERN} bytes"));
        }
        let regex = match &s.regex {
            Some(r) => Some(
                regex::RegexBuilder::new(r)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("bad regex `{r}`: {e}"))?,
            ),
            None => None,
        };
        let sources = s
            .sources
            .iter()
            .map(|src| match src.strip_suffix('*') {
                Some(prefix) => (prefix.to_string(), true),
                None if src.ends_with(':') => (src.clone(), true),
                None => (src.clone(), false),
            })
            .collect();
        Ok(LogFilter {
            nodes: s.nodes.iter().cloned().collect(),
            min_level: s.min_level.unwrap_or(Level::Trace),
            sources,
            grep: s.grep.clone().filter(|g| !g.is_empty()),
            regex,
            since_ms: s.since_ms,
        })
    }

    /// Whether lines from `node` can match at all.
    pub fn wants_node(&self, node: &str) -> bool {
        self.nodes.is_empty() || self.nodes.contains(node)
    }

    /// Whether every line passes (no per-line work needed).
    pub fn passes_all(&self) -> bool {
        self.min_level == Level::Trace
            && self.sources.is_empty()
            && self.grep.is_none()
            && self.regex.is_none()
    }

    pub fn matches(&self, line: &LogLine) -> bool {
        line.level >= self.min_level
            && self.wants_node(&line.node)
            && (self.sources.is_empty()
                || self.sources.iter().any(|(s, prefix)| {
                    if *prefix {
                        line.source.starts_with(s.as_str())
                    } else {
                        line.source == *s
                    }
                }))
            && self.grep.as_ref().is_none_or(|g| line.message.contains(g))
            && self
                .regex
                .as_ref()
                .is_none_or(|r| r.is_match(&line.message))
    }

    /// Whether a line from history is recent enough.
    pub fn in_window(&self, line: &LogLine) -> bool {
        self.since_ms.is_none_or(|t| line.time_ms >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(node: &str, level: Level, source: &str, msg: &str) -> LogLine {
        LogLine {
            time_ms: 0,
            node: node.into(),
            level,
            source: source.into(),
            message: msg.into(),
        }
    }

    #[test]
    fn filters_combine() {
        let f = LogFilter::compile(&SubscribeLogs {
            nodes: vec!["a".into()],
            min_level: Some(Level::Warn),
            sources: vec!["job:".into(), "daemon".into()],
            grep: Some("disk".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(f.matches(&line("a", Level::Error, "job:7", "disk full")));
        assert!(f.matches(&line("a", Level::Warn, "daemon", "disk full")));
        assert!(!f.matches(&line("b", Level::Error, "daemon", "disk full")));
        assert!(!f.matches(&line("a", Level::Info, "daemon", "disk full")));
        assert!(!f.matches(&line("a", Level::Error, "check:x", "disk full")));
        assert!(!f.matches(&line("a", Level::Error, "daemon", "cpu")));
        let bad = LogFilter::compile(&SubscribeLogs {
            regex: Some("(".into()),
            ..Default::default()
        });
        assert!(bad.unwrap_err().contains("bad regex"));
    }
}
