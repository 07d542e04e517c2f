//! A log line: its wire form (`LogLine`, in `LogBatch` from nodes and
//! `LogLines` to subscribers) and its `-o json` form (`LogLineJson`).
//! `monit-cli logs` prints that form through `json_out::log_line` (same
//! bytes, tested), kept for the benchmark named in `net::bulk`.

use serde::{Deserialize, Serialize};

use crate::timefmt::rfc3339_ms;

crate::model::named_enum! {
    /// Severity of a log line, least to most severe.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub enum Level {
        Trace = "trace",
        Debug = "debug",
        Info = "info",
        Warn = "warn",
        Error = "error",
    }
}

impl From<tracing::Level> for Level {
    fn from(l: tracing::Level) -> Level {
        match l {
            tracing::Level::TRACE => Level::Trace,
            tracing::Level::DEBUG => Level::Debug,
            tracing::Level::INFO => Level::Info,
            tracing::Level::WARN => Level::Warn,
            _ => Level::Error,
        }
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "trace" => Ok(Level::Trace),
            "debug" => Ok(Level::Debug),
            "info" => Ok(Level::Info),
            "warn" | "warning" => Ok(Level::Warn),
            "error" => Ok(Level::Error),
            other => Err(format!(
                "unknown level `{other}`: use trace, debug, info, warn or error"
            )),
        }
    }
}

/// One log line. `node` is set by configd from the sender's identity (a
/// node's own value is ignored); `source` is `daemon`, `job:ID` or
/// `check:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    pub node: String,
    pub level: Level,
    pub source: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogBatch {
    /// Random per run of the sender; with `first_line`, lets configd drop a
    /// batch it already holds (re-sent after a lost ack). 0: not numbered.
    pub stream: u64,
    /// Number of the first line in this run of the sender.
    pub first_line: u64,
    pub lines: Vec<LogLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogAck {
    /// Lines held by configd from the acknowledged batch.
    pub count: u64,
}

/// A batch of lines for a subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogLines {
    pub lines: Vec<LogLine>,
    /// Matching lines this subscriber missed, just before these, because it
    /// read too slowly.
    pub skipped: u64,
    /// True on the last batch (history only, or the stream ended).
    pub done: bool,
}

/// A log line as `monit-cli logs -o json|jsonl` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLineJson<'a> {
    /// RFC 3339 with milliseconds.
    pub time: String,
    pub node: &'a str,
    pub level: Level,
    pub source: &'a str,
    pub message: &'a str,
}

impl<'a> From<&'a LogLine> for LogLineJson<'a> {
    fn from(l: &'a LogLine) -> Self {
        LogLineJson {
            time: rfc3339_ms(l.time_ms),
            node: &l.node,
            level: l.level,
            source: &l.source,
            message: &l.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shows_every_wire_field() {
        let line = LogLine {
            time_ms: 1_764_042_600_123,
            node: "web-1".into(),
            level: Level::Warn,
            source: "job:3".into(),
            message: "m \" \n".into(),
        };
        let json = serde_json::to_value(LogLineJson::from(&line)).unwrap();
        assert_eq!(json["time"], "2025-11-25T03:50:00.123Z");
        assert_eq!(json["level"], "warn");
        let wire = serde_json::to_value(&line).unwrap();
        crate::model::assert_wire_shown(&wire, &json, &[("time_ms", "time")]);
    }
}
