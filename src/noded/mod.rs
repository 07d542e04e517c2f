//! `monit-noded`, the node agent: dials configd, authenticates with its
//! node token, registers, heartbeats, and reconnects whenever it must.

mod agent;
mod api;
pub mod central_checks;
pub mod cli;
pub mod commands;
pub mod groups;
mod host;
mod markers;
pub mod plugin_run;
pub mod results;
pub mod scheduler;
pub mod standing;
pub mod transfer;
pub mod transfer_path;
mod uplink;

pub use agent::{run, run_with, NodedError};
pub use host::host_addrs;
pub use uplink::Uplink;
