//! `monit-configd`, the hub: accepts nodes and clients on one port, keeps
//! the registry and the event log in SQLite, answers queries.
//!
//! Where a request goes: `server` accepts, `session` runs TLS and the token
//! handshake and drives the link, `api::Api::serve` checks the request
//! against `roles::required_role` and `route`s it (one arm per request) to
//! a handler in `api`, `check_api`, `logs_api`, `ops_api`, `jobs` or
//! `runbook`. A handler returns `Result<reply::Reply, reply::ApiError>`;
//! `reply::deliver` sends it, paged or whole, and logs an error once. State
//! is `state::Shared`, reached through methods; SQL lives in `store`.
//!
//! A new request: its variant in `net::proto::RequestBody`, its row in
//! `roles`, its arm in `api::Api::route`, its handler; the compiler points
//! at the first two.

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
pub mod side_listener;
mod state;
pub mod store;
mod tokens;
pub mod transfer;

pub use error::{ConfigdError, Reloader};
pub use registry::NodeRegistry;
pub use server::{run, Configd};
pub use state::Shared;
pub use tokens::{Identity, TokenRegistry};
