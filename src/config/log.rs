//! The `[log]` section shared by `configd.toml` and `noded.toml`: level
//! and format of the terminal sink, the rotating file sink, and the level
//! of lines sent on to configd (for configd itself: kept in its hub).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::resolve;
use super::values::LogLevel;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSection {
    pub level: Option<LogLevel>,
    format: Option<LogFormat>,
    file: Option<PathBuf>,
    file_level: Option<LogLevel>,
    rotation: Option<Rotation>,
    #[serde(default, deserialize_with = "byte_size")]
    max_size: Option<u64>,
    keep: Option<usize>,
    remote_level: Option<LogLevel>,
    spool_lines: Option<usize>,
}

/// How terminal (and file) lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// When the log file is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// At midnight UTC.
    #[default]
    Daily,
    /// When the file reaches `max_size`.
    Size,
}

/// Resolved `[log]` settings.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Terminal level (`None`: info; `debug` mode uses debug).
    pub level: Option<tracing::Level>,
    pub format: LogFormat,
    /// Log file; rotated files are `FILE.1`, `FILE.2`... (size) or
    /// `FILE.YYYY-MM-DD` (daily).
    pub file: Option<PathBuf>,
    pub file_level: tracing::Level,
    pub rotation: Rotation,
    pub max_size: u64,
    /// Rotated files kept besides the current one.
    pub keep: usize,
    /// Lines at this level or above go to configd (noded) or into the
    /// hub as node `configd` (configd).
    pub remote_level: tracing::Level,
    /// Lines a node holds while configd is away.
    pub spool_lines: usize,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: None,
            format: LogFormat::Text,
            file: None,
            file_level: tracing::Level::INFO,
            rotation: Rotation::Daily,
            max_size: 64 * 1024 * 1024,
            keep: 7,
            remote_level: tracing::Level::INFO,
            spool_lines: 200_000,
        }
    }
}

impl LogSection {
    pub(crate) fn resolve(&self, base: Option<&Path>) -> LogSettings {
        let d = LogSettings::default();
        LogSettings {
            level: self.level.map(|l| l.0),
            format: self.format.unwrap_or_default(),
            file: self.file.clone().map(|p| resolve(base, p)),
            file_level: self.file_level.map(|l| l.0).unwrap_or(d.file_level),
            rotation: self.rotation.unwrap_or_default(),
            max_size: self.max_size.unwrap_or(d.max_size).max(1024),
            keep: self.keep.unwrap_or(d.keep),
            remote_level: self.remote_level.map(|l| l.0).unwrap_or(d.remote_level),
            spool_lines: self.spool_lines.unwrap_or(d.spool_lines).max(100),
        }
    }
}

/// `10MiB`, `512KiB`, `1GB` or a plain number of bytes.
pub(super) fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Int(n) => return Ok(Some(n)),
        Raw::Text(t) => t,
    };
    parse_size(&text).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid size `{text}`: write e.g. `10MiB`, `500KB` or a number of bytes"
        ))
    })
}

pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB"), Some(10 << 20));
        assert_eq!(parse_size("500 KB"), Some(500_000));
        assert_eq!(parse_size("42"), Some(42));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("1PB"), None);
    }
}
