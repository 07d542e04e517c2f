//! configd's state every connection task shares: reached through narrow
//! methods, never through fields, so a handler names what it uses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::error::ConfigdError;
use super::preauth::PreAuth;
use super::registry::NodeRegistry;
use super::sessions::SessionBook;
use super::store::{event_row, EventRow, Store};
use super::tokens::TokenRegistry;
use crate::config::ConfigdConfig;
use crate::net::proto::{ErrorCode, ErrorFrame, DEFAULT_MAX_FRAME};
use crate::net::tls::{Fingerprint, ServerTls};
use crate::timefmt::now_ms;

/// Refusals answered in full (TLS, then a `busy` frame) at once; past
/// that a refused connection is just closed.
const BUSY_ANSWERS: usize = 64;

/// What `Shared::new` is made of (opened by `Configd::bind`).
pub struct SharedParts {
    pub config: ConfigdConfig,
    pub tokens: TokenRegistry,
    pub registry: NodeRegistry,
    pub store: Store,
    pub server_id: String,
    pub checks: super::checks::CheckBook,
    pub notifier: super::notify::NotifierHandle,
    pub logs: Arc<crate::logs::LogHub>,
    pub tls: Option<ServerTls>,
    pub shutdown: CancellationToken,
}

/// What every connection task shares.
pub struct Shared {
    /// The configuration configd started with (listen address, data dir).
    config: ConfigdConfig,
    /// The configuration in force now: replaced by a successful reload.
    live: std::sync::RwLock<Arc<ConfigdConfig>>,
    tokens: TokenRegistry,
    registry: NodeRegistry,
    store: Store,
    checks: super::checks::CheckBook,
    /// Central checks: what each node was sent and took.
    central: super::central_book::CentralBook,
    server_id: String,
    max_frame: usize,
    /// Handshake slots for anyone, and those kept for operators.
    handshakes: Arc<Semaphore>,
    client_handshakes: Arc<Semaphore>,
    shutdown: CancellationToken,
    /// Where notifications go; reloaded with `[[notify]]`.
    notifier: super::notify::NotifierHandle,
    /// Recent log lines per node and their subscribers.
    logs: Arc<crate::logs::LogHub>,
    /// Command catalog and running-job bookkeeping (issue 4).
    ops: super::ops_state::OpsState,
    sessions: AtomicU64,
    /// The listener's TLS; `None` with `tls = false`. Replaced on SIGHUP.
    tls: Option<std::sync::RwLock<Arc<ServerTls>>>,
    /// Per-address handshake limits.
    preauth: Arc<PreAuth>,
    /// Open sessions by token, to close on revocation.
    open_sessions: Arc<SessionBook>,
    /// Refusals being answered in full.
    busy_answers: Arc<Semaphore>,
}

impl Shared {
    pub fn new(p: SharedParts) -> Shared {
        let c = &p.config;
        Shared {
            handshakes: Arc::new(Semaphore::new(
                c.max_handshakes - c.reserved_client_handshakes,
            )),
            client_handshakes: Arc::new(Semaphore::new(c.reserved_client_handshakes)),
            preauth: PreAuth::new(c.max_handshakes_per_address),
            open_sessions: Arc::new(SessionBook::new(c.max_open_requests_per_token)),
            live: std::sync::RwLock::new(Arc::new(p.config.clone())),
            config: p.config,
            tokens: p.tokens,
            registry: p.registry,
            store: p.store,
            checks: p.checks,
            central: Default::default(),
            server_id: p.server_id,
            max_frame: DEFAULT_MAX_FRAME,
            shutdown: p.shutdown,
            notifier: p.notifier,
            logs: p.logs,
            ops: Default::default(),
            sessions: AtomicU64::new(0),
            tls: p.tls.map(|t| std::sync::RwLock::new(Arc::new(t))),
            busy_answers: Arc::new(Semaphore::new(BUSY_ANSWERS)),
        }
    }

    /// The configuration configd started with (listen address, data dir).
    pub fn config(&self) -> &ConfigdConfig {
        &self.config
    }

    pub fn tokens(&self) -> &TokenRegistry {
        &self.tokens
    }

    /// Connected and known nodes.
    pub fn registry(&self) -> &NodeRegistry {
        &self.registry
    }

    /// The SQLite store (its one thread).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Check states, downtimes and acknowledgements.
    pub fn checks(&self) -> &super::checks::CheckBook {
        &self.checks
    }

    /// Central checks: what each node was sent and took.
    pub fn central(&self) -> &super::central_book::CentralBook {
        &self.central
    }

    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Fires when configd stops.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Recent log lines per node and their subscribers.
    pub fn logs(&self) -> &Arc<crate::logs::LogHub> {
        &self.logs
    }

    /// Command catalog and running-job bookkeeping.
    pub fn ops(&self) -> &super::ops_state::OpsState {
        &self.ops
    }

    /// Handshake slots for anyone.
    pub fn handshakes(&self) -> &Arc<Semaphore> {
        &self.handshakes
    }

    /// Handshake slots kept for operators.
    pub(super) fn client_handshakes(&self) -> &Arc<Semaphore> {
        &self.client_handshakes
    }

    /// Per-address handshake limits.
    pub(super) fn preauth(&self) -> &Arc<PreAuth> {
        &self.preauth
    }

    /// Open sessions by token, to close on revocation.
    pub(super) fn open_sessions(&self) -> &Arc<SessionBook> {
        &self.open_sessions
    }

    /// Refusals being answered in full.
    pub(super) fn busy_answers(&self) -> &Arc<Semaphore> {
        &self.busy_answers
    }

    pub fn next_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Sessions started since configd started.
    pub fn sessions_started(&self) -> u64 {
        self.sessions.load(Ordering::Relaxed)
    }

    /// The TLS settings new connections get; `None` when plaintext.
    pub fn tls(&self) -> Option<Arc<ServerTls>> {
        self.tls.as_ref().map(|t| match t.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        })
    }

    /// The fingerprint of the certificate presented now.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.tls().map(|t| t.fingerprint)
    }

    /// Closes every open session of each newly revoked token, and records
    /// an event for each.
    pub async fn close_revoked(&self) {
        for entry in self.tokens.take_revoked() {
            let links = self.open_sessions.take(&entry.id);
            let why = ErrorFrame::new(ErrorCode::Auth, format!("token `{}` was revoked", entry.id));
            for link in &links {
                link.close(why.clone()).await;
            }
            tracing::warn!(token = %entry.id, name = %entry.name, sessions = links.len(), "token revoked: its open sessions are closed");
            let message = format!(
                "token `{}` ({}, role {}) revoked; {} open session(s) closed",
                entry.id,
                entry.name,
                entry.role,
                links.len()
            );
            let ev = event_row(now_ms(), "token_revoked", None, None, message);
            let who = Some(entry.name.clone());
            let _ = self.store.event(EventRow { who, ..ev }).await;
        }
    }

    /// The configuration in force now.
    pub fn live(&self) -> Arc<ConfigdConfig> {
        match self.live.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Applies a re-read configuration; what cannot change without a
    /// restart is kept and named in the log.
    pub fn reload(&self, new: ConfigdConfig) -> Result<(), ConfigdError> {
        let old = self.live();
        // Certificate and key are re-read first (a renewed certificate, for
        // new connections): a bad pair fails the reload, changing nothing.
        let new_tls = match &new.tls {
            Some(paths) if self.tls.is_some() => Some(Arc::new(ServerTls::load(paths)?)),
            _ => None,
        };
        for (key, changed) in [
            ("listen", old.listen != new.listen),
            ("data_dir", old.data_dir != new.data_dir),
            ("pid_file", old.pid_file != new.pid_file),
            (
                "max_connections",
                old.max_connections != new.max_connections,
            ),
            ("max_handshakes", old.max_handshakes != new.max_handshakes),
            (
                "reserved_client_handshakes",
                old.reserved_client_handshakes != new.reserved_client_handshakes,
            ),
            (
                "max_handshakes_per_address",
                old.max_handshakes_per_address != new.max_handshakes_per_address,
            ),
            ("tls", old.tls.is_some() != new.tls.is_some()),
            ("metrics_listen", old.metrics_listen != new.metrics_listen),
            ("web_listen", old.web_listen != new.web_listen),
        ] {
            if changed {
                tracing::warn!("reload: `{key}` changed; that takes effect only after a restart");
            }
        }
        if old.tokens_file != new.tokens_file {
            self.tokens.set_path(&new.tokens_file)?;
        }
        if old.notify != new.notify {
            self.notifier.reload(new.notify.clone());
        }
        if let (Some(slot), Some(loaded)) = (&self.tls, new_tls) {
            if Some(loaded.fingerprint) != self.fingerprint() {
                tracing::info!(fingerprint = %loaded.fingerprint, "TLS certificate reloaded");
            }
            match slot.write() {
                Ok(mut g) => *g = loaded,
                Err(p) => *p.into_inner() = loaded,
            }
        }
        let new = Arc::new(new);
        match self.live.write() {
            Ok(mut g) => *g = new,
            Err(p) => *p.into_inner() = new,
        }
        Ok(())
    }
}
