//! The listeners beside configd's own (metrics, web console): bound at
//! start, their address written to a file in the data dir so a script or
//! test that asked for port 0 learns the port.

use std::net::SocketAddr;
use std::path::Path;

use tokio::net::TcpListener;

use super::error::ConfigdError;

/// Binds `addr` and writes the bound address to `file`.
pub fn bind(addr: SocketAddr, file: &Path) -> Result<(TcpListener, SocketAddr), ConfigdError> {
    let bound = |source| ConfigdError::Bind { addr, source };
    let std_listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(bound)?;
    let listener = TcpListener::from_std(std_listener).map_err(bound)?;
    let local = listener.local_addr().map_err(bound)?;
    std::fs::write(file, format!("{local}\n")).map_err(|source| ConfigdError::Write {
        path: file.to_path_buf(),
        source,
    })?;
    Ok((listener, local))
}
