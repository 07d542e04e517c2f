//! A log line's fields, borrowed: from a `LogLine`, or straight from the
//! bytes of a `LogLines` frame, so a subscriber prints a batch without a
//! string copied per line.
//!
//! Kept with `net::bulk` (issue 12): see there for the benchmark.

use super::proto::{Level, LogLine};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLineRef<'a> {
    pub time_ms: i64,
    pub node: &'a str,
    pub level: Level,
    pub source: &'a str,
    pub message: &'a str,
}

impl<'a> From<&'a LogLine> for LogLineRef<'a> {
    fn from(l: &'a LogLine) -> Self {
        LogLineRef {
            time_ms: l.time_ms,
            node: &l.node,
            level: l.level,
            source: &l.source,
            message: &l.message,
        }
    }
}

impl LogLineRef<'_> {
    pub fn to_line(&self) -> LogLine {
        LogLine {
            time_ms: self.time_ms,
            node: self.node.to_owned(),
            level: self.level,
            source: self.source.to_owned(),
            message: self.message.to_owned(),
        }
    }
}
