//! Typed config values that validate while they are parsed, so a bad value
//! is reported with its line like any TOML error.

use serde::{Deserialize, Deserializer};

/// A humantime duration (`30s`, `5m`, `1h 30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let dur = humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration `{text}`: {e} (write e.g. `30s`, `5m`)"
            ))
        })?;
        if dur.is_zero() {
            return Err(serde::de::Error::custom(
                "a duration must be more than zero",
            ));
        }
        Ok(Duration(dur))
    }
}

/// A tracing level filter: error, warn, info, debug, trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel(pub tracing::Level);

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<tracing::Level>().map(LogLevel).map_err(|_| {
            serde::de::Error::custom(format!(
                "invalid level `{text}`: use error, warn, info, debug or trace"
            ))
        })
    }
}

/// A `HOST:PORT` socket address.
pub(crate) fn socket_addr<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<std::net::SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    crate::net::parse_addr(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}
