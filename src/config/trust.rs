//! The trust keys shared by `noded.toml` and `client.toml`: `tls`,
//! `server_fingerprint`, `ca_file` (see `net::tls`).

use std::path::{Path, PathBuf};

use crate::net::tls::{Fingerprint, Trust};

/// How a peer is told to know configd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustSettings {
    pub tls: bool,
    pub server_fingerprint: Option<Fingerprint>,
    pub ca_file: Option<PathBuf>,
}

impl Default for TrustSettings {
    fn default() -> Self {
        TrustSettings {
            tls: true,
            server_fingerprint: None,
            ca_file: None,
        }
    }
}

impl TrustSettings {
    /// Checks the three keys together (the CA file is read here, so a bad
    /// one is a config error, not a failed connection later).
    pub fn resolve(
        tls: Option<bool>,
        server_fingerprint: Option<&str>,
        ca_file: Option<PathBuf>,
    ) -> Result<TrustSettings, String> {
        let tls = tls.unwrap_or(true);
        if !tls && (server_fingerprint.is_some() || ca_file.is_some()) {
            return Err(
                "key `tls` is false, so `server_fingerprint` and `ca_file` would be ignored: remove them or set tls = true"
                    .into(),
            );
        }
        if server_fingerprint.is_some() && ca_file.is_some() {
            return Err("set one of `server_fingerprint` and `ca_file`, not both".into());
        }
        let server_fingerprint = server_fingerprint
            .map(Fingerprint::parse)
            .transpose()
            .map_err(|e| format!("key `server_fingerprint`: {e}"))?;
        if let Some(ca) = &ca_file {
            Trust::ca_file(ca).map_err(|e| format!("key `ca_file`: {e}"))?;
        }
        Ok(TrustSettings {
            tls,
            server_fingerprint,
            ca_file,
        })
    }

    /// The trust to dial with; first use records into `known_servers`.
    pub fn trust(&self, known_servers: PathBuf) -> Result<Trust, String> {
        if !self.tls {
            return Ok(Trust::Plaintext);
        }
        if let Some(f) = self.server_fingerprint {
            return Ok(Trust::Pinned(f));
        }
        if let Some(ca) = &self.ca_file {
            return Trust::ca_file(ca).map_err(|e| format!("key `ca_file`: {e}"));
        }
        Ok(Trust::FirstUse(known_servers))
    }

    /// The `known_servers` file for a peer whose token is in `token_file`.
    pub fn known_servers(token_file: Option<&Path>) -> PathBuf {
        crate::net::known_servers::path_for(token_file, super::user_config_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_checked_together() {
        assert_eq!(
            TrustSettings::resolve(None, None, None).unwrap(),
            TrustSettings::default()
        );
        let fp = Fingerprint::of_der(b"x").to_string();
        assert!(TrustSettings::resolve(Some(false), Some(&fp), None).is_err());
        assert!(TrustSettings::resolve(None, Some("sha256:zz"), None)
            .unwrap_err()
            .contains("server_fingerprint"));
        assert!(
            TrustSettings::resolve(None, None, Some("/nonexistent/ca.pem".into()))
                .unwrap_err()
                .contains("ca_file")
        );
        let t = TrustSettings::resolve(None, Some(&fp), None).unwrap();
        assert!(matches!(t.trust("k".into()), Ok(Trust::Pinned(_))));
        assert!(matches!(
            TrustSettings::default().trust("k".into()),
            Ok(Trust::FirstUse(_))
        ));
    }
}
