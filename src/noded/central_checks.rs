//! Checks defined in configd.toml, as this node takes them. configd sends
//! the whole set that applies to the node (`SetChecks`); the node keeps
//! the last word: nothing runs unless noded.toml says `accept_checks =
//! true` and the plugin lies under one of its `plugin_dirs`, and a local
//! check of the same name wins. The accepted ones join the local checks
//! in the configuration the scheduler follows (so a changed check keeps
//! its soft/hard state, as on a reload).

use crate::sync::lock;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{CheckSpec, NodedConfig};
use crate::net::proto::{CentralCheck, ChecksSet, RefusedCheck, SetChecks};

/// Central checks a node takes at most.
pub const MAX_CENTRAL_CHECKS: usize = 10_000;

pub struct CentralChecks {
    /// The node's own configuration (follows reloads).
    file: watch::Receiver<Arc<NodedConfig>>,
    /// The set configd sent last.
    received: Mutex<Vec<CentralCheck>>,
    /// Bumped when `received` changes.
    bump: watch::Sender<u64>,
    /// Refusals already logged (name -> reason), so each is logged once.
    logged: Mutex<BTreeMap<String, String>>,
}

impl CentralChecks {
    pub fn new(file: watch::Receiver<Arc<NodedConfig>>) -> Arc<CentralChecks> {
        Arc::new(CentralChecks {
            file,
            received: Mutex::new(Vec::new()),
            bump: watch::Sender::new(0),
            logged: Mutex::new(BTreeMap::new()),
        })
    }

    /// Takes a set from configd; says what will run and what not, why.
    pub fn apply(&self, set: SetChecks) -> ChecksSet {
        let file = self.file.borrow().clone();
        let (accepted, refused) = decide(&file, &set.checks);
        self.log_refusals(&refused);
        // Worth a line in the log: it holds checks, or replaces one that did.
        if !(set.checks.is_empty() && lock(&self.received).is_empty()) {
            tracing::info!(
                accepted = accepted.len(),
                refused = refused.len(),
                "checks from configd applied"
            );
        }
        *lock(&self.received) = set.checks;
        self.bump.send_modify(|n| *n += 1);
        ChecksSet {
            accepted: accepted.into_iter().map(|c| c.name).collect(),
            refused,
        }
    }

    fn log_refusals(&self, refused: &[RefusedCheck]) {
        let mut logged = lock(&self.logged);
        for r in refused {
            if logged.get(&r.name) != Some(&r.reason) {
                tracing::warn!(check = %r.name, "check from configd refused: {}", r.reason);
            }
        }
        *logged = refused
            .iter()
            .map(|r| (r.name.clone(), r.reason.clone()))
            .collect();
    }

    /// The configuration the scheduler follows: the node's own, with the
    /// accepted central checks added; updated on a reload and on every
    /// set configd sends.
    pub fn effective(
        self: &Arc<Self>,
        shutdown: CancellationToken,
    ) -> watch::Receiver<Arc<NodedConfig>> {
        let (tx, rx) = watch::channel(self.merged());
        let me = self.clone();
        let mut file = self.file.clone();
        let mut bump = self.bump.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = file.changed() => {
                        if r.is_err() { return }
                        // The rules changed: refusals may have too.
                        let current = file.borrow_and_update().clone();
                        let received = lock(&me.received).clone();
                        let (_, refused) = decide(&current, &received);
                        me.log_refusals(&refused);
                    }
                    r = bump.changed() => {
                        if r.is_err() { return }
                        bump.borrow_and_update();
                    }
                }
                // The scheduler compares the checks and reschedules only
                // when they changed.
                tx.send_replace(me.merged());
            }
        });
        rx
    }

    fn merged(&self) -> Arc<NodedConfig> {
        let file = self.file.borrow().clone();
        let received = lock(&self.received).clone();
        let (accepted, _) = decide(&file, &received);
        if accepted.is_empty() {
            return file;
        }
        let mut config = (*file).clone();
        config.checks.extend(accepted);
        Arc::new(config)
    }
}

/// Which of `defs` the node with `config` runs, and why it refuses the
/// others.
pub fn decide(config: &NodedConfig, defs: &[CentralCheck]) -> (Vec<CheckSpec>, Vec<RefusedCheck>) {
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    let local: BTreeSet<&str> = config.checks.iter().map(|c| c.name.as_str()).collect();
    let dirs: Vec<PathBuf> = config
        .plugin_dirs
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .collect();
    let mut seen = BTreeSet::new();
    for (i, def) in defs.iter().enumerate() {
        let verdict = if !config.accept_checks {
            Err("this node does not take checks from configd (accept_checks = false in its noded.toml)".to_string())
        } else if i >= MAX_CENTRAL_CHECKS {
            Err(format!(
                "a node takes at most {MAX_CENTRAL_CHECKS} checks from configd"
            ))
        } else if let Err(e) = crate::names::check_name(&def.name) {
            Err(format!("bad name: {e}"))
        } else if !seen.insert(def.name.as_str()) {
            Err("sent twice".to_string())
        } else if local.contains(def.name.as_str()) {
            Err("a local check of the same name (noded.toml) wins".to_string())
        } else {
            spec_of(def, &config.plugin_dirs, &dirs)
        };
        match verdict {
            Ok(spec) => accepted.push(spec),
            Err(reason) => refused.push(RefusedCheck {
                name: def.name.clone(),
                reason,
            }),
        }
    }
    (accepted, refused)
}

/// A central check as the scheduler takes it, if its values are sane and
/// its plugin lies under `dirs` (canonical; `shown` as configured).
fn spec_of(def: &CentralCheck, shown: &[PathBuf], dirs: &[PathBuf]) -> Result<CheckSpec, String> {
    if def.interval_ms == 0 || def.retry_interval_ms == 0 || def.timeout_ms == 0 {
        return Err("interval, retry_interval and timeout must be longer than zero".into());
    }
    if !(1..=100).contains(&def.max_attempts) {
        return Err("max_attempts must be 1 to 100".into());
    }
    if let Some(argv0) = def.command.first() {
        plugin_allowed(argv0, shown, dirs)?;
    }
    Ok(CheckSpec {
        name: def.name.clone(),
        command: def.command.clone(),
        interval: Duration::from_millis(def.interval_ms),
        retry_interval: Duration::from_millis(def.retry_interval_ms),
        max_attempts: def.max_attempts,
        timeout: Duration::from_millis(def.timeout_ms),
        freshness: def.freshness_ms.map(Duration::from_millis),
    })
}

/// Whether `plugin`, symbolic links and `..` resolved, lies under one of
/// `dirs`.
fn plugin_allowed(plugin: &str, shown: &[PathBuf], dirs: &[PathBuf]) -> Result<(), String> {
    let path = Path::new(plugin);
    let listed = || {
        shown
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !path.is_absolute() {
        return Err(format!("plugin `{plugin}` is not an absolute path"));
    }
    let real = std::fs::canonicalize(path)
        .map_err(|e| format!("plugin `{plugin}` cannot be used here: {e}"))?;
    if !dirs.iter().any(|d| real.starts_with(d)) {
        return Err(format!(
            "plugin `{plugin}` lies outside this node's plugin_dirs ({})",
            listed()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(accept: bool, dirs: &[&Path]) -> NodedConfig {
        let text = format!(
            "name = \"n1\"\ntoken_file = \"/t\"\naccept_checks = {accept}\nplugin_dirs = [{}]\n[[check]]\nname = \"mine\"\ncommand = [\"/bin/true\"]\n",
            dirs.iter()
                .map(|d| format!("{:?}", d.display().to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        NodedConfig::from_str(Path::new("/etc/monit/noded.toml"), &text).unwrap()
    }

    fn def(name: &str, plugin: &Path) -> CentralCheck {
        CentralCheck {
            name: name.into(),
            command: vec![plugin.display().to_string()],
            interval_ms: 1000,
            retry_interval_ms: 1000,
            max_attempts: 3,
            timeout_ms: 1000,
            freshness_ms: None,
        }
    }

    #[test]
    fn the_node_keeps_the_last_word() {
        let dir = tempfile::tempdir().unwrap();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        let good = plugins.join("check_ok");
        std::fs::write(&good, "").unwrap();
        let outside = dir.path().join("check_evil");
        std::fs::write(&outside, "").unwrap();
        let sneaky = plugins.join("..").join("check_evil");
        let link = plugins.join("check_link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let defs = vec![
            def("ok", &good),
            def("out", &outside),
            def("dotdot", &sneaky),
            def("link", &link),
            def("mine", &good),
            def("gone", &plugins.join("check_missing")),
            def("ok", &good),
        ];
        let (accepted, refused) = decide(&config(true, &[&plugins]), &defs);
        assert_eq!(accepted.len(), 1);
        assert_eq!(accepted[0].name, "ok");
        let why: BTreeMap<&str, &str> = refused
            .iter()
            .map(|r| (r.name.as_str(), r.reason.as_str()))
            .collect();
        for name in ["out", "dotdot", "link"] {
            assert!(why[name].contains("outside"), "{name}: {}", why[name]);
        }
        assert!(why["mine"].contains("local"));
        assert!(why["gone"].contains("cannot be used"));
        assert_eq!(refused.len(), 6, "{refused:?}");
        let (accepted, refused) = decide(&config(false, &[&plugins]), &defs[..1]);
        assert!(accepted.is_empty());
        assert!(refused[0].reason.contains("accept_checks"));
    }
}
