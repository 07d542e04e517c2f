//! `monit-configd`, the hub: accepts nodes and clients on one port, keeps
//! the registry and the event log in SQLite, answers queries.

mod api;
pub mod audit;
mod central_book;
pub mod central_checks;
mod check_api;
pub mod checks;
pub mod cli;
mod counters;
mod error;
pub mod inventory;
pub mod jobs;
mod logs_api;
pub mod metrics;
mod metrics_server;
pub mod notify;
mod ops_api;
mod ops_state;
mod preauth;
mod registry;
mod reply;
mod roles;
mod runbook;
mod server;
mod session;
mod sessions;
mod state;
pub mod store;
mod tokens;
pub mod transfer;

pub use error::{ConfigdError, Reloader};
pub use registry::NodeRegistry;
pub use server::{run, Configd};
pub use state::Shared;
pub use tokens::{Identity, TokenRegistry};
