//! How `monit-cli logs` prints lines: `TIME NODE LEVEL source: message`
//! (coloured by level on a terminal); JSON is `json_out::log_line`.

use std::io::Write;

use crate::net::log_ref::LogLineRef;
use crate::net::proto::{Level, LogLine};
use crate::timefmt::now_ms;

/// Formats RFC 3339 times with milliseconds, reusing the date part for
/// lines in the same second.
#[derive(Default)]
pub struct TimeCache {
    second: i64,
    prefix: String,
}

impl TimeCache {
    pub fn format(&mut self, ms: i64) -> String {
        let sec = ms.div_euclid(1000);
        if self.prefix.is_empty() || sec != self.second {
            self.second = sec;
            let full = crate::timefmt::rfc3339(sec.saturating_mul(1000));
            // `YYYY-MM-DDTHH:MM:SS` without the `Z`.
            self.prefix = full.trim_end_matches('Z').to_string();
        }
        format!("{}.{:03}Z", self.prefix, ms.rem_euclid(1000))
    }
}

fn colour(level: Level) -> &'static str {
    match level {
        Level::Error => "\x1b[31m",
        Level::Warn => "\x1b[33m",
        Level::Info => "\x1b[32m",
        Level::Debug => "\x1b[34m",
        Level::Trace => "\x1b[2m",
    }
}

/// Writes one line as text.
pub fn write_text(
    out: &mut impl Write,
    times: &mut TimeCache,
    line: &LogLineRef,
    coloured: bool,
) -> std::io::Result<()> {
    let time = times.format(line.time_ms);
    let level = line.level.as_str().to_ascii_uppercase();
    if coloured {
        writeln!(
            out,
            "\x1b[2m{time}\x1b[0m \x1b[1m{}\x1b[0m {}{level:<5}\x1b[0m {}: {}",
            line.node,
            colour(line.level),
            line.source,
            line.message
        )
    } else {
        writeln!(
            out,
            "{time} {} {level:<5} {}: {}",
            line.node, line.source, line.message
        )
    }
}

/// The line a reader sees where lines were skipped because it read too slowly.
pub fn skipped_marker(n: u64) -> LogLine {
    LogLine {
        time_ms: now_ms(),
        node: crate::logs::hub::CONFIGD_NODE.into(),
        level: Level::Warn,
        source: "logs".into(),
        message: format!("skipped {n} lines: this reader was too slow"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shape() {
        let line = LogLine {
            time_ms: 1_764_042_600_123,
            node: "web-1".into(),
            level: Level::Warn,
            source: "job:7".into(),
            message: "disk \"full\"".into(),
        };
        let mut t = TimeCache::default();
        let mut out = Vec::new();
        write_text(&mut out, &mut t, &LogLineRef::from(&line), false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2025-11-25T03:50:00.123Z web-1 WARN  job:7: disk \"full\"\n"
        );
    }
}
