//! `[[check]]` (noded.toml) and `[[notify]]` (configd.toml) sections.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use serde::Deserialize;

use super::values::Duration;

/// One `[[check]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckSection {
    pub(super) name: String,
    /// argv; no shell unless the user writes `sh -c`. Absent: a passive
    /// check (results come from `monit-cli submit`).
    pub(super) command: Option<Vec<String>>,
    pub(super) interval: Option<Duration>,
    pub(super) retry_interval: Option<Duration>,
    pub(super) max_attempts: Option<u32>,
    pub(super) timeout: Option<Duration>,
    /// Passive checks: not updated within this -> unknown "stale".
    pub(super) freshness: Option<Duration>,
}

/// Values a `[[check]]` leaves out (`[check_defaults]` in configd.toml).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckDefaults {
    pub(super) interval: Option<Duration>,
    pub(super) retry_interval: Option<Duration>,
    pub(super) max_attempts: Option<u32>,
    pub(super) timeout: Option<Duration>,
}

/// A validated check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    pub name: String,
    /// Empty for a passive check.
    pub command: Vec<String>,
    pub interval: StdDuration,
    pub retry_interval: StdDuration,
    pub max_attempts: u32,
    pub timeout: StdDuration,
    pub freshness: Option<StdDuration>,
}

impl CheckSpec {
    pub fn is_passive(&self) -> bool {
        self.command.is_empty()
    }
}

pub(crate) fn resolve_checks(sections: Vec<CheckSection>) -> Result<Vec<CheckSpec>, String> {
    resolve_checks_with(sections, &CheckDefaults::default())
}

/// `resolve_checks`, with `defaults` for what a section leaves out.
pub(crate) fn resolve_checks_with(
    sections: Vec<CheckSection>,
    defaults: &CheckDefaults,
) -> Result<Vec<CheckSpec>, String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(sections.len());
    for s in sections {
        crate::names::check_name(&s.name).map_err(|e| format!("[[check]] name: {e}"))?;
        if !seen.insert(s.name.clone()) {
            return Err(format!(
                "[[check]] `{}` is defined twice: give each check its own name",
                s.name
            ));
        }
        if s.command.as_ref().is_some_and(Vec::is_empty) {
            return Err(format!(
                "[[check]] `{}`: `command` is an empty list; give the plugin's argv, or leave `command` out for a passive check",
                s.name
            ));
        }
        let command = s.command.unwrap_or_default();
        let interval = s
            .interval
            .or(defaults.interval)
            .map(|d| d.0)
            .unwrap_or(StdDuration::from_secs(60));
        let max_attempts = s.max_attempts.or(defaults.max_attempts).unwrap_or(3);
        if !(1..=100).contains(&max_attempts) {
            return Err(format!(
                "[[check]] `{}`: `max_attempts` must be 1 to 100",
                s.name
            ));
        }
        out.push(CheckSpec {
            name: s.name,
            command,
            interval,
            retry_interval: s
                .retry_interval
                .or(defaults.retry_interval)
                .map(|d| d.0)
                .unwrap_or(interval),
            max_attempts,
            timeout: s
                .timeout
                .or(defaults.timeout)
                .map(|d| d.0)
                .unwrap_or(StdDuration::from_secs(10)),
            freshness: s.freshness.map(|d| d.0),
        });
    }
    Ok(out)
}

/// One `[[notify]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotifySection {
    name: String,
    command: Vec<String>,
    /// Only these states (`ok` means recoveries; `down`, `up` nodes);
    /// empty: all.
    #[serde(default)]
    states: Vec<String>,
    /// Only nodes with all these labels.
    #[serde(default)]
    labels: BTreeMap<String, String>,
    renotify_interval: Option<Duration>,
    timeout: Option<Duration>,
}

/// A validated notifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySpec {
    pub name: String,
    pub command: Vec<String>,
    pub states: Vec<crate::checks::CheckState>,
    /// `states` names `down` / `up` (node events). A rule whose `states`
    /// names `critical` also gets `node_down`, one that names `ok` also
    /// `node_up`; one without `states` gets everything.
    pub node_down: bool,
    pub node_up: bool,
    pub labels: BTreeMap<String, String>,
    pub renotify_interval: Option<StdDuration>,
    pub timeout: StdDuration,
}

pub(crate) fn resolve_notifiers(sections: Vec<NotifySection>) -> Result<Vec<NotifySpec>, String> {
    let mut out = Vec::new();
    for s in sections {
        crate::names::check_name(&s.name).map_err(|e| format!("[[notify]] name: {e}"))?;
        if s.command.is_empty() {
            return Err(format!(
                "[[notify]] `{}`: `command` must be a non-empty argv list",
                s.name
            ));
        }
        let (mut node_down, mut node_up) = (false, false);
        let mut states = Vec::new();
        for t in &s.states {
            match t.as_str() {
                "down" => node_down = true,
                "up" => node_up = true,
                _ => states.push(t.parse().map_err(|e| {
                    format!(
                        "[[notify]] `{}` states: {e} (or down, up for nodes)",
                        s.name
                    )
                })?),
            }
        }
        out.push(NotifySpec {
            name: s.name,
            command: s.command,
            states,
            node_down,
            node_up,
            labels: s.labels,
            renotify_interval: s.renotify_interval.map(|d| d.0),
            timeout: s.timeout.map(|d| d.0).unwrap_or(StdDuration::from_secs(30)),
        });
    }
    Ok(out)
}
