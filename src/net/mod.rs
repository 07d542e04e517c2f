//! The wire: TLS streams, frames, messages, the handshake, connections,
//! the one dial function and the client.

pub mod backoff;
pub mod bulk;
pub mod client;
pub mod connection;
pub mod dial;
pub mod fingerprint;
pub mod frame;
pub mod handshake;
pub mod known_servers;
pub mod link;
pub mod log_ref;
pub mod msgpack;
pub use crate::model::node as node_ref;
pub mod proto;
pub mod stream;
pub mod tls;

pub use connection::Connection;
pub use frame::{FrameError, MessageCodec};
pub use stream::Stream;

use std::net::SocketAddr;

/// Parses `IP:PORT` (a listen address).
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.trim()
        .parse::<SocketAddr>()
        .map_err(|_| format!("invalid address `{text}`: write IP:PORT, e.g. 127.0.0.1:7400"))
}

/// Checks `HOST:PORT` (a server to dial; the host may be a name).
pub fn check_host_port(text: &str) -> Result<(), String> {
    let bad = || format!("invalid server `{text}`: write HOST:PORT, e.g. 127.0.0.1:7400");
    if text.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || host.contains(char::is_whitespace) || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(parse_addr("127.0.0.1:0").is_ok());
        assert!(parse_addr("localhost:1").is_err());
        assert!(check_host_port("configd.example:7400").is_ok());
        assert!(check_host_port("[::1]:7400").is_ok());
        assert!(check_host_port("nohost").is_err());
        assert!(check_host_port("h:99999").is_err());
    }
}
