//! A certificate's identity, as operators pin it (`sha256:HEX`).

use std::fmt;

use sha2::{Digest, Sha256};

/// A certificate's identity: SHA-256 of its DER bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of_der(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// `sha256:HEX` (64 hex digits; colons and case are ignored).
    pub fn parse(text: &str) -> Result<Fingerprint, String> {
        let bad = || {
            format!(
                "invalid fingerprint `{}`: write sha256: and 64 hex digits, as `monit-configd fingerprint` prints it",
                text.chars().take(80).collect::<String>().escape_debug()
            )
        };
        let hex_part = text.trim().strip_prefix("sha256:").ok_or_else(bad)?;
        let digits: String = hex_part.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(digits).map_err(|_| bad())?;
        Ok(Fingerprint(bytes.try_into().map_err(|_| bad())?))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
