//! `monit-noded`, the node agent: dials configd, authenticates with its
//! node token, registers, heartbeats, and reconnects whenever it must.

mod agent;
pub mod cli;
mod host;

pub use agent::{run, NodedError};
pub use host::host_addrs;
