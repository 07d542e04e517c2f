//! Where `monit-cli` and `monit-tui` connect and with what: their flags,
//! the environment, then `client.toml` in the user config dir (so an
//! operator types neither server nor token after setup).

use std::path::PathBuf;

use serde::Deserialize;

use super::{read_toml, resolve, user_config_dir, ConfigError, TrustSettings};
use crate::auth::{read_private, Token};
use crate::net::dial::Endpoint;

/// configd's address when neither a flag nor client.toml names one.
pub const DEFAULT_SERVER: &str = "127.0.0.1:7400";

/// What the command line says about the connection (each optional).
#[derive(Debug, Clone, Default)]
pub struct ClientFlags {
    pub server: Option<String>,
    pub token_file: Option<PathBuf>,
    pub fingerprint: Option<String>,
}

/// Why no endpoint could be made.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Settings that are wrong as written (a usage error).
    #[error("{0}")]
    Settings(String),
    #[error(transparent)]
    File(#[from] ConfigError),
    /// No token, or one that cannot be read (not authorised).
    #[error("{0}")]
    Token(String),
    #[error(transparent)]
    TokenFile(#[from] crate::auth::SecretFileError),
}

impl EndpointError {
    /// Not a mistake in how it is written, but no usable token.
    pub fn is_access(&self) -> bool {
        matches!(self, EndpointError::Token(_) | EndpointError::TokenFile(_))
    }
}

/// The endpoint `flags` name, completed from the environment
/// (`$MONIT_TOKEN`) and client.toml, in that order.
pub fn endpoint(flags: ClientFlags) -> Result<Endpoint, EndpointError> {
    let file = ClientConfig::load_default()?;
    let server = flags
        .server
        .or(file.server)
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    crate::net::check_host_port(&server).map_err(EndpointError::Settings)?;
    // In this order: --token-file, $MONIT_TOKEN, client.toml's file.
    let env_token = std::env::var("MONIT_TOKEN").ok().filter(|t| !t.is_empty());
    let token_path = match (flags.token_file, &env_token) {
        (Some(path), _) => Some(path),
        (None, Some(_)) => None,
        (None, None) => file.token_file.clone(),
    };
    let token_text = match (&token_path, env_token) {
        (Some(path), _) => read_private(path)?,
        (None, Some(t)) => t,
        (None, None) => {
            return Err(EndpointError::Token(
                "no token: pass --token-file PATH, set $MONIT_TOKEN_FILE or $MONIT_TOKEN, \
                 or put token_file in ~/.config/monit/client.toml"
                    .into(),
            ))
        }
    };
    let token =
        Token::parse(&token_text).map_err(|e| EndpointError::Token(format!("bad token: {e}")))?;
    // --fingerprint wins over whatever client.toml says.
    let (pin, ca_file) = match flags.fingerprint {
        Some(f) => (Some(f), None),
        None => (file.server_fingerprint.clone(), file.ca_file.clone()),
    };
    let settings = TrustSettings::resolve(file.tls, pin.as_deref(), ca_file).map_err(|e| {
        EndpointError::Settings(format!("trust settings (--fingerprint, client.toml): {e}"))
    })?;
    let trust = settings
        .trust(TrustSettings::known_servers(token_path.as_deref()))
        .map_err(EndpointError::Settings)?;
    Ok(Endpoint {
        server,
        token,
        trust,
    })
}

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
