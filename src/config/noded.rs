//! `noded.toml`: what a node agent reads at start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::values::Duration;
use super::{locate, resolve, user_data_dir, ConfigError};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    server: Option<String>,
    token_file: Option<PathBuf>,
    tls: Option<bool>,
    server_fingerprint: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    spool_dir: Option<PathBuf>,
    pid_file: Option<PathBuf>,
    #[serde(default)]
    log: super::log::LogSection,
    #[serde(default)]
    check: Vec<super::checks::CheckSection>,
    max_concurrent_checks: Option<usize>,
    shutdown_grace: Option<Duration>,
    #[serde(default)]
    command: Vec<crate::ops::local::CommandEntry>,
    accept_checks: Option<bool>,
    plugin_dirs: Option<Vec<PathBuf>>,
    transfer_dir: Option<PathBuf>,
}

/// Where a node looks for plugins of central checks unless `plugin_dirs`
/// says otherwise: Debian's and Nagios' plugin directories.
pub const DEFAULT_PLUGIN_DIRS: &[&str] = &[
    "/usr/lib/nagios/plugins",
    "/usr/lib/monitoring-plugins",
    "/usr/local/nagios/libexec",
];

/// Command-line values that win over the file.
#[derive(Debug, Default, Clone)]
pub struct NodedOverrides {
    pub config: Option<PathBuf>,
    pub server: Option<String>,
    pub name: Option<String>,
    pub token_file: Option<PathBuf>,
    /// `--fingerprint`: pins configd's certificate.
    pub fingerprint: Option<String>,
}

/// The resolved configuration of `monit-noded`.
#[derive(Debug, Clone)]
pub struct NodedConfig {
    pub source: Option<PathBuf>,
    pub name: String,
    pub server: String,
    pub token_file: PathBuf,
    /// How configd is recognised (`tls`, `server_fingerprint`, `ca_file`).
    pub trust: super::TrustSettings,
    pub labels: BTreeMap<String, String>,
    pub spool_dir: PathBuf,
    pub pid_file: PathBuf,
    pub log_level: Option<tracing::Level>,
    pub checks: Vec<super::checks::CheckSpec>,
    /// Plugins running at once, at most.
    pub max_concurrent_checks: usize,
    /// On SIGTERM, how long running commands may go on before they are
    /// cancelled (zero: cancel at once).
    pub shutdown_grace: std::time::Duration,
    /// The whole `[log]` section.
    pub log: super::LogSettings,
    /// Allow-listed ops commands (`[[command]]`).
    pub commands: Vec<crate::ops::local::LocalCommand>,
    /// Whether checks defined in configd.toml may run here.
    pub accept_checks: bool,
    /// Central checks' plugins must lie under one of these.
    pub plugin_dirs: Vec<PathBuf>,
    /// The only directory files are transferred from and to (relative
    /// paths); `None`: every transfer is refused.
    pub transfer_dir: Option<PathBuf>,
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}

impl NodedConfig {
    pub fn load(over: &NodedOverrides) -> Result<NodedConfig, ConfigError> {
        let (file, source): (File, _) = locate(over.config.as_deref(), "noded.toml")?;
        Self::resolve(file, source, over)
    }

    pub fn from_str(path: &Path, text: &str) -> Result<NodedConfig, ConfigError> {
        let file: File = super::parse_toml(path, text)?;
        Self::resolve(file, Some(path.to_path_buf()), &NodedOverrides::default())
    }

    fn resolve(
        file: File,
        source: Option<PathBuf>,
        over: &NodedOverrides,
    ) -> Result<NodedConfig, ConfigError> {
        let base = source.as_deref();
        let invalid = |message: String| ConfigError::Invalid {
            path: source
                .clone()
                .unwrap_or_else(|| PathBuf::from("(command line)")),
            message,
        };
        let name = over.name.clone().or(file.name).unwrap_or_else(hostname);
        crate::names::check_name(&name).map_err(|e| invalid(format!("key `name`: {e}")))?;
        let server = over
            .server
            .clone()
            .or(file.server)
            .unwrap_or_else(|| super::configd::DEFAULT_LISTEN.to_string());
        crate::net::check_host_port(&server).map_err(|e| invalid(format!("key `server`: {e}")))?;
        for (k, v) in &file.labels {
            crate::names::check_name(k).map_err(|e| invalid(format!("label key: {e}")))?;
            if v.len() > 256 || v.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "label `{k}`: values are at most 256 printable characters"
                )));
            }
        }
        let from_file = file.token_file.map(|p| resolve(base, p));
        let Some(token_file) = over.token_file.clone().or(from_file) else {
            return Err(ConfigError::Missing(
                "no node token: set `token_file` in noded.toml or pass --token-file \
                 (create one with `monit-configd token create NAME --role node`)"
                    .into(),
            ));
        };
        // --fingerprint wins over both of the file's keys.
        let (pin, ca_file) = match &over.fingerprint {
            Some(f) => (Some(f.clone()), None),
            None => (
                file.server_fingerprint,
                file.ca_file.map(|p| resolve(base, p)),
            ),
        };
        let trust =
            super::TrustSettings::resolve(file.tls, pin.as_deref(), ca_file).map_err(&invalid)?;
        let checks = super::checks::resolve_checks(file.check).map_err(&invalid)?;
        let max_concurrent_checks = file.max_concurrent_checks.unwrap_or(64);
        if max_concurrent_checks == 0 {
            return Err(invalid(
                "key `max_concurrent_checks`: must be at least 1".into(),
            ));
        }
        let state_dir = user_data_dir()
            .filter(|_| !nix::unistd::geteuid().is_root())
            .unwrap_or_else(|| PathBuf::from("/var/lib/monit"));
        let commands = crate::ops::local::resolve_commands(file.command, base)
            .map_err(|e| invalid(format!("[[command]]: {e}")))?;
        let spool_dir = file
            .spool_dir
            .map(|p| resolve(base, p))
            .unwrap_or_else(|| state_dir.join("spool"));
        // Next to spool_dir: agents with their own spool directories each
        // have their own pidfile (and state and log files beside it).
        let pid_file = file.pid_file.map(|p| resolve(base, p)).unwrap_or_else(|| {
            spool_dir
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(&state_dir)
                .join("monit-noded.pid")
        });
        let plugin_dirs: Vec<PathBuf> = match file.plugin_dirs {
            Some(dirs) => dirs,
            None => DEFAULT_PLUGIN_DIRS.iter().map(PathBuf::from).collect(),
        };
        if let Some(d) = plugin_dirs.iter().find(|d| !d.is_absolute()) {
            return Err(invalid(format!(
                "key `plugin_dirs`: `{}` is not an absolute path",
                d.display()
            )));
        }
        let transfer_dir = file.transfer_dir.map(|p| resolve(base, p));
        Ok(NodedConfig {
            transfer_dir,
            accept_checks: file.accept_checks.unwrap_or(false),
            plugin_dirs,
            commands,
            spool_dir,
            pid_file,
            name,
            server,
            token_file,
            trust,
            labels: file.labels,
            log_level: file.log.level.map(|l| l.0),
            checks,
            max_concurrent_checks,
            shutdown_grace: file.shutdown_grace.map(|d| d.0).unwrap_or_default(),
            log: file.log.resolve(base),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p = Path::new("/etc/monit/noded.toml");
        let c = NodedConfig::from_str(
            p,
            "name = \"web-1\"\nserver = \"configd.example:7400\"\ntoken_file = \"node.token\"\n[labels]\nrole = \"web\"\n",
        )
        .unwrap();
        assert_eq!(c.token_file, PathBuf::from("/etc/monit/node.token"));
        assert_eq!(c.labels["role"], "web");
        let e = NodedConfig::from_str(p, "name = \"a b\"\ntoken_file = \"t\"\n").unwrap_err();
        assert!(e.to_string().contains("`name`"), "{e}");
        let e = NodedConfig::from_str(p, "server = \"nohost\"\ntoken_file = \"t\"\n").unwrap_err();
        assert!(e.to_string().contains("`server`"), "{e}");
        assert_eq!(
            c.pid_file,
            c.spool_dir.parent().unwrap().join("monit-noded.pid")
        );
        let c =
            NodedConfig::from_str(p, "token_file = \"t\"\nspool_dir = \"/srv/b/spool\"\n").unwrap();
        assert_eq!(c.pid_file, PathBuf::from("/srv/b/monit-noded.pid"));
        assert_eq!(c.transfer_dir, None);
        let c = NodedConfig::from_str(p, "token_file = \"t\"\ntransfer_dir = \"xfer\"\n").unwrap();
        assert_eq!(c.transfer_dir, Some(PathBuf::from("/etc/monit/xfer")));
        let e = NodedConfig::from_str(p, "[labels]\nrole = 3\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
