//! The web console configd serves on `web_listen`: server-rendered pages
//! (askama templates compiled in) and a little plain JavaScript for live
//! updates over Server-Sent Events.
//!
//! The console is a protocol client of configd inside configd's process:
//! a login dials configd's own listener with the token typed, so the
//! handshake decides whether the token is good and which role it has, and
//! every page issues the requests `monit-cli` and `monit-tui` issue over
//! that session's link. Roles are therefore enforced by configd's own
//! protocol code.

// A handler's early exit is the page it answers with.
#![allow(clippy::result_large_err)]

mod assets;
mod listener;
mod pages;
mod ratelimit;
mod server;
mod session;

use std::sync::Arc;

pub use server::{bind, dial_addr, router, serve, web_addr_file, WebApp};

/// The listener's TLS as it is now (`None`: plaintext); asked at each
/// connection and login, so a certificate reloaded on SIGHUP is used.
pub type TlsSource = Arc<dyn Fn() -> Option<Arc<crate::net::tls::ServerTls>> + Send + Sync>;

/// What the console needs from configd.
#[derive(Clone)]
pub struct WebSetup {
    /// Where configd's protocol listener is, to dial at login.
    pub configd: String,
    pub tls: TlsSource,
    pub shutdown: tokio_util::sync::CancellationToken,
}
