//! monit: terminal-first monitoring and remote operations for a fleet.
//!
//! One library shared by four binaries (`monit-configd`, `monit-noded`,
//! `monit-cli`, `monit-tui`), so tests and the demo can run the config
//! server and node agents in one process.
//!
//! - [`net`]: frames, messages, handshake, connections, the client.
//! - [`auth`]: tokens, the tokens file, the handshake MAC.
//! - [`config`]: the TOML config files.
//! - [`configd`]: the config server. [`noded`]: the node agent.
//! - [`web`]: the web console configd serves on `web_listen`.
//! - [`cli`]: `monit-cli`. [`filter`]: `--filter` expressions.
//! - [`model`]: one module per entity: wire type, JSON form, filter fields.

pub mod auth;
pub mod checks;
pub mod cli;
pub mod completions;
pub mod config;
pub mod configd;
pub mod daemon;
pub mod filter;
pub mod json_out;
pub mod logging;
pub mod logs;
pub mod man;
pub mod model;
pub mod names;
pub mod net;
pub mod noded;
pub mod ops;
pub mod sync;
pub mod timefmt;
pub mod tui;
pub mod web;

/// This build's version, sent in handshakes and registrations.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
