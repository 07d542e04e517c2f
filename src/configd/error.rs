//! Why configd could not start or reload.

use crate::config::ConfigdConfig;
use crate::net::tls::TlsError;

#[derive(Debug, thiserror::Error)]
pub enum ConfigdError {
    #[error(transparent)]
    Tokens(#[from] crate::auth::TokensFileError),
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("cannot read the metrics token file {path}: {source}")]
    MetricsToken {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Re-reads the configuration (for SIGHUP).
pub type Reloader =
    Box<dyn Fn() -> Result<ConfigdConfig, crate::config::ConfigError> + Send + Sync>;
