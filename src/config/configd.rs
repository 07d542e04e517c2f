//! `configd.toml`: what the config server reads at start (and on reload).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::values::{socket_addr, Duration};
use super::{locate, resolve, user_data_dir, ConfigError};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7400";

/// Longest `heartbeat_interval` and `node_dead_after`.
pub const MAX_INTERVAL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, deserialize_with = "socket_addr")]
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    tokens_file: Option<PathBuf>,
    pid_file: Option<PathBuf>,
    heartbeat_interval: Option<Duration>,
    node_dead_after: Option<Duration>,
    log_buffer_lines: Option<usize>,
    max_connections: Option<usize>,
    max_handshakes: Option<usize>,
    max_handshakes_per_address: Option<usize>,
    reserved_client_handshakes: Option<usize>,
    max_open_requests: Option<usize>,
    max_open_requests_per_token: Option<usize>,
    tls: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default, deserialize_with = "socket_addr")]
    metrics_listen: Option<SocketAddr>,
    metrics_token_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "socket_addr")]
    web_listen: Option<SocketAddr>,
    #[serde(default)]
    metric_labels: Vec<String>,
    #[serde(default)]
    check: Vec<super::central_checks::CentralSection>,
    #[serde(default)]
    check_defaults: super::checks::CheckDefaults,
    #[serde(default)]
    log: super::log::LogSection,
    #[serde(default)]
    notify: Vec<super::checks::NotifySection>,
    #[serde(default)]
    inventory: std::collections::BTreeMap<String, KindSection>,
    #[serde(default)]
    runbook: Vec<crate::ops::runbook::RunbookEntry>,
    #[serde(default, deserialize_with = "super::log::byte_size")]
    max_transfer_size: Option<u64>,
}

/// `[inventory.KIND]`: the key's type and the attributes' types.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindSection {
    key: String,
    #[serde(default)]
    attributes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    defaults: std::collections::BTreeMap<String, String>,
}

/// Command-line values that win over the file.
#[derive(Debug, Default, Clone)]
pub struct ConfigdOverrides {
    pub config: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
}

/// The resolved configuration of `monit-configd`.
#[derive(Debug, Clone)]
pub struct ConfigdConfig {
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub tokens_file: PathBuf,
    pub pid_file: PathBuf,
    pub heartbeat_interval: std::time::Duration,
    pub node_dead_after: std::time::Duration,
    pub log_buffer_lines: usize,
    /// Authenticated and unauthenticated connections together.
    pub max_connections: usize,
    /// Connections still in their handshake.
    pub max_handshakes: usize,
    /// Of those, how many one source address may hold.
    pub max_handshakes_per_address: usize,
    /// Of `max_handshakes`, how many only operators (clients) may use, so
    /// a reconnect storm of nodes cannot lock them out.
    pub reserved_client_handshakes: usize,
    /// A peer's requests open at once (streams, follows) on one
    /// connection, and across all connections of one token.
    pub max_open_requests: usize,
    pub max_open_requests_per_token: usize,
    /// The certificate and key of the listener; `None` with `tls = false`.
    pub tls: Option<crate::net::tls::CertPaths>,
    pub log_level: Option<tracing::Level>,
    pub notify: Vec<super::checks::NotifySpec>,
    /// The whole `[log]` section.
    pub log: super::LogSettings,
    /// Inventory kinds (`[inventory.KIND]`).
    pub inventory: crate::ops::kinds::Kinds,
    /// Runbooks (`[[runbook]]`), checked against the kinds.
    pub runbooks: Vec<crate::ops::runbook::RunbookSpec>,
    /// Where the Prometheus exposition is served (off when `None`).
    pub metrics_listen: Option<SocketAddr>,
    /// A file holding the bearer token scrapes must present.
    pub metrics_token_file: Option<PathBuf>,
    /// Where the web console is served (off when `None`).
    pub web_listen: Option<SocketAddr>,
    /// Node labels that become labels of the node's series.
    pub metric_labels: Vec<String>,
    /// `[[check]]`: checks sent to the nodes their `apply` names.
    pub central_checks: Vec<super::CentralCheckRule>,
    /// Largest file moved between nodes (bytes); larger ones are refused
    /// before any byte moves.
    pub max_transfer_size: u64,
}

/// `max_transfer_size` unless configd.toml says otherwise: 4 GiB.
pub const DEFAULT_MAX_TRANSFER_SIZE: u64 = 4 << 30;

fn default_data_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        PathBuf::from("/var/lib/monit")
    } else {
        user_data_dir().unwrap_or_else(|| PathBuf::from("monit-data"))
    }
}

impl ConfigdConfig {
    /// Finds, reads and validates the config, applying overrides.
    pub fn load(over: &ConfigdOverrides) -> Result<ConfigdConfig, ConfigError> {
        let (file, source): (File, _) = locate(over.config.as_deref(), "configd.toml")?;
        Self::resolve(file, source, over)
    }

    /// Parses config text (for `check-config` and tests).
    pub fn from_str(path: &Path, text: &str) -> Result<ConfigdConfig, ConfigError> {
        let file: File = super::parse_toml(path, text)?;
        Self::resolve(file, Some(path.to_path_buf()), &ConfigdOverrides::default())
    }

    fn resolve(
        file: File,
        source: Option<PathBuf>,
        over: &ConfigdOverrides,
    ) -> Result<ConfigdConfig, ConfigError> {
        let base = source.as_deref();
        let invalid = |message: String| ConfigError::Invalid {
            path: source
                .clone()
                .unwrap_or_else(|| PathBuf::from("(defaults)")),
            message,
        };
        let data_dir = over
            .data_dir
            .clone()
            .or_else(|| file.data_dir.map(|p| resolve(base, p)))
            .unwrap_or_else(default_data_dir);
        let listen = match over.listen.or(file.listen) {
            Some(a) => a,
            None => crate::net::parse_addr(DEFAULT_LISTEN).map_err(invalid)?,
        };
        let heartbeat_interval = file
            .heartbeat_interval
            .map(|d| d.0)
            .unwrap_or(std::time::Duration::from_secs(1));
        // Bounded, so the default (3 heartbeats), the link's deadlines
        // (now + node_dead_after) and the Welcome's milliseconds cannot
        // overflow (the fuzzer found `heartbeat_interval * 3` panicking).
        for (key, value) in [
            ("heartbeat_interval", Some(heartbeat_interval)),
            ("node_dead_after", file.node_dead_after.map(|d| d.0)),
        ] {
            if value.is_some_and(|v| v > MAX_INTERVAL) {
                return Err(invalid(format!(
                    "key `{key}` must be at most {}",
                    humantime::format_duration(MAX_INTERVAL)
                )));
            }
        }
        let node_dead_after = file
            .node_dead_after
            .map(|d| d.0)
            .unwrap_or(heartbeat_interval * 3);
        if node_dead_after <= heartbeat_interval {
            return Err(invalid(format!(
                "key `node_dead_after` ({}) must be longer than `heartbeat_interval` ({})",
                humantime::format_duration(node_dead_after),
                humantime::format_duration(heartbeat_interval)
            )));
        }
        let max_connections = file.max_connections.unwrap_or(20_000);
        if max_connections == 0 {
            return Err(invalid("key `max_connections` must be at least 1".into()));
        }
        let max_handshakes = file
            .max_handshakes
            .unwrap_or(1024)
            .clamp(1, max_connections);
        // A source address may hold a bounded share of the handshake slots,
        // so one busy (or hostile) host cannot lock the others out.
        let max_handshakes_per_address = file
            .max_handshakes_per_address
            .unwrap_or((max_handshakes / 16).max(8))
            .clamp(1, max_handshakes);
        let reserved_client_handshakes = file
            .reserved_client_handshakes
            .unwrap_or((max_handshakes / 8).max(1))
            .min(max_handshakes - 1);
        let max_open_requests = file
            .max_open_requests
            .unwrap_or(crate::net::link::MAX_OPEN_REQUESTS);
        let max_open_requests_per_token = file.max_open_requests_per_token.unwrap_or(1024);
        if max_open_requests == 0 || max_open_requests_per_token == 0 {
            return Err(invalid(
                "keys `max_open_requests` and `max_open_requests_per_token` must be at least 1"
                    .into(),
            ));
        }
        let tls = match (file.tls.unwrap_or(true), file.tls_cert, file.tls_key) {
            (false, None, None) => {
                if !listen.ip().is_loopback() {
                    return Err(invalid(format!(
                        "key `tls` = false is allowed only with a loopback `listen` address (this is {listen}): everything, tokens' proofs and commands included, would cross the network in clear"
                    )));
                }
                None
            }
            (false, _, _) => {
                return Err(invalid(
                    "key `tls` is false, so `tls_cert` and `tls_key` would be ignored: remove them or set tls = true".into(),
                ))
            }
            (true, None, None) => Some(crate::net::tls::CertPaths::in_data_dir(&data_dir)),
            (true, Some(cert), Some(key)) => Some(crate::net::tls::CertPaths {
                cert: resolve(base, cert),
                key: resolve(base, key),
                self_signed: false,
            }),
            (true, Some(_), None) => {
                return Err(invalid("key `tls_cert` needs `tls_key` (the certificate's private key, PEM)".into()))
            }
            (true, None, Some(_)) => {
                return Err(invalid("key `tls_key` needs `tls_cert` (the certificate, PEM)".into()))
            }
        };
        let mut inventory = crate::ops::kinds::Kinds::new();
        for (name, section) in &file.inventory {
            let kind = crate::names::check_name(name)
                .and_then(|()| {
                    let (key, attrs) = (&section.key, &section.attributes);
                    crate::ops::kinds::InventoryKind::new(key, attrs, &section.defaults)
                })
                .map_err(|e| invalid(format!("[inventory.{name}]: {e}")))?;
            inventory.insert(name.clone(), kind);
        }
        let runbooks =
            crate::ops::runbook::resolve_runbooks(file.runbook, &inventory).map_err(&invalid)?;
        let notify = super::checks::resolve_notifiers(file.notify).map_err(&invalid)?;
        for (key, addr, what) in [
            (
                "metrics_listen",
                file.metrics_listen,
                "the scrape (and its bearer token)",
            ),
            (
                "web_listen",
                file.web_listen,
                "tokens typed at login and session cookies",
            ),
        ] {
            if let Some(addr) = addr.filter(|a| tls.is_none() && !a.ip().is_loopback()) {
                return Err(invalid(format!(
                    "key `{key}` ({addr}) must be a loopback address while `tls` = false: {what} would cross the network in clear"
                )));
            }
        }
        if file.metrics_token_file.is_some() && file.metrics_listen.is_none() {
            return Err(invalid(
                "key `metrics_token_file` needs `metrics_listen` (the address the exposition is served on)".into(),
            ));
        }
        for (i, name) in file.metric_labels.iter().enumerate() {
            crate::configd::metrics::check_label_name(name)
                .map_err(|e| invalid(format!("key `metric_labels`: {e}")))?;
            if file.metric_labels[..i].contains(name) {
                return Err(invalid(format!(
                    "key `metric_labels`: `{name}` is listed twice"
                )));
            }
        }
        let central_checks =
            super::central_checks::resolve_central(file.check, &file.check_defaults)
                .map_err(&invalid)?;
        let max_transfer_size = file.max_transfer_size.unwrap_or(DEFAULT_MAX_TRANSFER_SIZE);
        if max_transfer_size == 0 {
            return Err(invalid(
                "key `max_transfer_size`: must be more than zero".into(),
            ));
        }
        Ok(ConfigdConfig {
            max_transfer_size,
            central_checks,
            metrics_listen: file.metrics_listen,
            metrics_token_file: file.metrics_token_file.map(|p| resolve(base, p)),
            web_listen: file.web_listen,
            metric_labels: file.metric_labels,
            notify,
            inventory,
            runbooks,
            tokens_file: file
                .tokens_file
                .map(|p| resolve(base, p))
                .unwrap_or_else(|| data_dir.join("tokens.toml")),
            pid_file: file
                .pid_file
                .map(|p| resolve(base, p))
                .unwrap_or_else(|| data_dir.join("monit-configd.pid")),
            listen,
            heartbeat_interval,
            node_dead_after,
            log_buffer_lines: file.log_buffer_lines.unwrap_or(10_000),
            max_connections,
            max_handshakes,
            max_handshakes_per_address,
            reserved_client_handshakes,
            max_open_requests,
            max_open_requests_per_token,
            tls,
            log_level: file.log.level.map(|l| l.0),
            log: file.log.resolve(base),
            data_dir,
            source,
        })
    }

    /// Where configd keeps its SQLite store.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("monit.db")
    }

    /// Where configd writes the address it bound.
    pub fn addr_file(&self) -> PathBuf {
        self.data_dir.join("configd.addr")
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::config) fn parse(text: &str) -> Result<ConfigdConfig, String> {
        ConfigdConfig::from_str(Path::new("/etc/monit/configd.toml"), text)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_relative_paths() {
        let c = parse("data_dir = \"data\"\n").unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/etc/monit/data"));
        assert_eq!(c.tokens_file, PathBuf::from("/etc/monit/data/tokens.toml"));
        assert_eq!(c.node_dead_after, std::time::Duration::from_secs(3));
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.max_transfer_size, DEFAULT_MAX_TRANSFER_SIZE);
    }

    #[test]
    fn max_transfer_size_takes_sizes() {
        assert_eq!(
            parse("max_transfer_size = \"10MiB\"\n")
                .unwrap()
                .max_transfer_size,
            10 << 20
        );
        assert_eq!(
            parse("max_transfer_size = 4096\n")
                .unwrap()
                .max_transfer_size,
            4096
        );
        let e = parse("max_transfer_size = \"lots\"\n").unwrap_err();
        assert!(e.contains("line 1") && e.contains("invalid size"), "{e}");
        let e = parse("max_transfer_size = 0\n").unwrap_err();
        assert!(e.contains("max_transfer_size"), "{e}");
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = parse("listen = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        assert!(
            e.contains("configd.toml") && e.contains("line 2") && e.contains("lisen"),
            "{e}"
        );
        let e = parse("heartbeat_interval = \"fast\"\n").unwrap_err();
        assert!(
            e.contains("line 1") && e.contains("invalid duration"),
            "{e}"
        );
        let e = parse("listen = \"nowhere\"\n").unwrap_err();
        assert!(e.contains("line 1") && e.contains("nowhere"), "{e}");
        let e = parse("heartbeat_interval = \"5s\"\nnode_dead_after = \"2s\"\n").unwrap_err();
        assert!(e.contains("node_dead_after"), "{e}");
        let e = parse("[log]\nlevel = \"loud\"\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("loud"), "{e}");
    }

    #[test]
    fn huge_intervals_are_errors_not_panics() {
        // Found by `cargo bench --bench fuzz`: 3 heartbeats overflowed.
        let e = parse("heartbeat_interval = \"18446744073709551615s\"\n").unwrap_err();
        assert!(
            e.contains("`heartbeat_interval` must be at most 1day"),
            "{e}"
        );
        let e = parse("node_dead_after = \"18446744073709551615s\"\n").unwrap_err();
        assert!(e.contains("`node_dead_after` must be at most 1day"), "{e}");
        let c = parse("heartbeat_interval = \"1day\"\nnode_dead_after = \"1day 1s\"\n");
        assert!(c.unwrap_err().contains("node_dead_after"));
        let c = parse("heartbeat_interval = \"8h\"\n").unwrap();
        assert_eq!(c.node_dead_after, MAX_INTERVAL);
    }

    #[test]
    fn tls_keys() {
        let c = parse("data_dir = \"d\"\n").unwrap();
        assert_eq!(
            c.tls.unwrap().cert,
            PathBuf::from("/etc/monit/d/tls/cert.pem")
        );
        let c = parse("tls = false\nlisten = \"127.0.0.1:7400\"\n").unwrap();
        assert!(c.tls.is_none());
        let e = parse("tls = false\nlisten = \"0.0.0.0:7400\"\n").unwrap_err();
        assert!(e.contains("`tls`") && e.contains("loopback"), "{e}");
        let e = parse("tls = false\nlisten = \"127.0.0.1:7400\"\nweb_listen = \"0.0.0.0:8080\"\n")
            .unwrap_err();
        assert!(e.contains("`web_listen`") && e.contains("loopback"), "{e}");
        let c = parse("web_listen = \"0.0.0.0:8443\"\n").unwrap();
        assert_eq!(c.web_listen, Some("0.0.0.0:8443".parse().unwrap()));
        let e = parse("tls_cert = \"c.pem\"\n").unwrap_err();
        assert!(e.contains("tls_key"), "{e}");
        let c = parse("tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n").unwrap();
        let paths = c.tls.unwrap();
        assert_eq!(paths.key, PathBuf::from("/etc/monit/k.pem"));
        assert!(!paths.self_signed);
    }
}
