//! `client.toml` in the user config dir: defaults for `monit-cli` and
//! `monit-tui`, so an operator types neither server nor token after setup.

use std::path::PathBuf;

use serde::Deserialize;

use super::{read_toml, resolve, user_config_dir, ConfigError};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub server: Option<String>,
    pub token_file: Option<PathBuf>,
    pub tls: Option<bool>,
    pub server_fingerprint: Option<String>,
    pub ca_file: Option<PathBuf>,
}

impl ClientConfig {
    /// Reads `client.toml` from the user config dir; absent is empty.
    pub fn load_default() -> Result<ClientConfig, ConfigError> {
        let Some(path) = user_config_dir().map(|d| d.join("client.toml")) else {
            return Ok(ClientConfig::default());
        };
        if !path.is_file() {
            return Ok(ClientConfig::default());
        }
        let mut c: ClientConfig = read_toml(&path)?;
        c.token_file = c.token_file.map(|p| resolve(Some(&path), p));
        c.ca_file = c.ca_file.map(|p| resolve(Some(&path), p));
        Ok(c)
    }
}
