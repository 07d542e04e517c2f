//! Configuration files (TOML): where they are looked up, how they are read,
//! and how their errors are reported (file, line, key, reason, on one line).

mod central_checks;
mod checks;
pub mod client;
mod configd;
mod log;
mod noded;
pub mod preflight;
mod trust;
mod values;

use std::path::{Path, PathBuf};

pub use central_checks::{ApplyTo, CentralCheckRule};
pub use checks::{CheckSpec, NotifySpec};
pub use client::ClientConfig;
pub use configd::{ConfigdConfig, ConfigdOverrides};
pub use log::{parse_size, LogFormat, LogSettings, Rotation};
pub use noded::{NodedConfig, NodedOverrides};
pub use trust::TrustSettings;
pub use values::{Duration, LogLevel};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{0}")]
    Missing(String),
}

/// Renders a TOML error as `line L, column C: reason` (no multi-line
/// snippet, so it fits one log or stderr line).
pub fn one_line_toml_error(err: &toml::de::Error, text: &str) -> String {
    let reason = err.message().trim().replace('\n', " ");
    match err.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            // Quote the line: some TOML errors ("duplicate key") do not name the key.
            let quoted: String = text
                .lines()
                .nth(line - 1)
                .unwrap_or("")
                .trim()
                .chars()
                .take(80)
                .collect();
            if quoted.is_empty() {
                format!("line {line}, column {col}: {reason}")
            } else {
                format!("line {line}, column {col}: {reason} (in `{quoted}`)")
            }
        }
        None => reason,
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

/// Parses `text` (read from `path`) into `T`, with one-line errors.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        message: one_line_toml_error(&e, text),
    })
}

/// Reads and parses a config file.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(path, &text)
}

/// The per-user config directory (`~/.config/monit` on Linux).
pub fn user_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "monit").map(|d| d.config_dir().to_path_buf())
}

/// The per-user data directory (`~/.local/share/monit` on Linux).
pub fn user_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "monit").map(|d| d.data_dir().to_path_buf())
}

/// Finds a config file named `file_name`: `--config`, then `$MONIT_CONFIG`,
/// then the user config dir, then `/etc/monit/`. An explicit path must
/// exist; the implicit places are skipped when absent.
/// Returns the file read (the defaults without one) and its path.
pub fn locate<T: serde::de::DeserializeOwned + Default>(
    explicit: Option<&Path>,
    file_name: &str,
) -> Result<(T, Option<PathBuf>), ConfigError> {
    let source = explicit.map(Path::to_path_buf).or_else(|| {
        let env = std::env::var_os("MONIT_CONFIG").filter(|v| !v.is_empty());
        env.map(PathBuf::from).or_else(|| {
            user_config_dir()
                .into_iter()
                .chain(std::iter::once(PathBuf::from("/etc/monit")))
                .map(|d| d.join(file_name))
                .find(|c| c.is_file())
        })
    });
    let file = match &source {
        Some(p) => read_toml(p)?,
        None => T::default(),
    };
    Ok((file, source))
}

/// Makes a path from a config file relative to that file's directory.
pub(crate) fn resolve(base: Option<&Path>, p: PathBuf) -> PathBuf {
    match base.and_then(Path::parent) {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("a\nbc\nd", 4), (2, 3));
        assert_eq!(line_col("", 0), (1, 1));
    }
}
