//! Start-up, the accept loop, and an orderly shutdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::preauth::PreAuth;
use super::registry::NodeRegistry;
use super::session;
use super::sessions::SessionBook;
use super::store::Store;
use super::tokens::TokenRegistry;
use crate::config::ConfigdConfig;
use crate::net::proto::{ErrorCode, ErrorFrame, DEFAULT_MAX_FRAME};
use crate::net::tls::{Fingerprint, ServerTls, TlsError};

/// How often the tokens file is checked for revocations.
const TOKENS_POLL: Duration = Duration::from_millis(250);
/// Refusals answered in full (TLS, then a `busy` frame) at once; past
/// that a refused connection is just closed.
const BUSY_ANSWERS: usize = 64;

/// How often last-seen times are written to the store.
const SEEN_FLUSH: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ConfigdError {
    #[error(transparent)]
    Tokens(#[from] crate::auth::TokensFileError),
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("cannot read the metrics token file {path}: {source}")]
    MetricsToken {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Re-reads the configuration (for SIGHUP).
pub type Reloader =
    Box<dyn Fn() -> Result<ConfigdConfig, crate::config::ConfigError> + Send + Sync>;

/// What every connection task shares.
pub struct Shared {
    /// The configuration configd started with (listen address, data dir).
    pub config: ConfigdConfig,
    /// The configuration in force now: replaced by a successful reload.
    live: std::sync::RwLock<Arc<ConfigdConfig>>,
    pub tokens: TokenRegistry,
    pub registry: NodeRegistry,
    pub store: Store,
    pub checks: super::checks::CheckBook,
    /// Central checks: what each node was sent and took.
    pub central: super::central_checks::CentralBook,
    pub server_id: String,
    pub max_frame: usize,
    /// Handshake slots for anyone, and those kept for operators.
    pub handshakes: Arc<Semaphore>,
    pub(super) client_handshakes: Arc<Semaphore>,
    pub shutdown: CancellationToken,
    /// Where notifications go; reloaded with `[[notify]]`.
    pub notifier: super::notify::NotifierHandle,
    /// Recent log lines per node and their subscribers.
    pub logs: Arc<crate::logs::LogHub>,
    /// Command catalog and running-job bookkeeping (issue 4).
    pub ops: super::jobs::OpsState,
    sessions: AtomicU64,
    /// The listener's TLS; `None` with `tls = false`. Replaced on SIGHUP.
    tls: Option<std::sync::RwLock<Arc<ServerTls>>>,
    /// Per-address handshake limits.
    pub(super) preauth: Arc<PreAuth>,
    /// Open sessions by token, to close on revocation.
    pub(super) open_sessions: Arc<SessionBook>,
    /// Refusals being answered in full.
    pub(super) busy_answers: Arc<Semaphore>,
}

impl Shared {
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
            let _ = self
                .store
                .event(super::store::EventRow {
                    time_ms: crate::timefmt::now_ms(),
                    kind: "token_revoked".into(),
                    node: None,
                    check: None,
                    state: None,
                    previous_state: None,
                    who: Some(entry.name.clone()),
                    message: format!(
                        "token `{}` ({}, role {}) revoked; {} open session(s) closed",
                        entry.id,
                        entry.name,
                        entry.role,
                        links.len()
                    ),
                })
                .await;
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

/// A configd that has opened its store and bound its port.
pub struct Configd {
    pub shared: Arc<Shared>,
    listener: TcpListener,
    /// The Prometheus exposition's listener (`metrics_listen`).
    metrics_listener: Option<TcpListener>,
    /// The web console's listener (`web_listen`).
    web_listener: Option<TcpListener>,
    store_thread: std::thread::JoinHandle<()>,
}

impl Configd {
    /// Opens tokens and store, binds the listen address, writes
    /// `DATA_DIR/configd.addr`. Nothing is served until `serve`.
    pub async fn bind(
        config: ConfigdConfig,
        shutdown: CancellationToken,
    ) -> Result<Configd, ConfigdError> {
        let converted = crate::auth::TokensFile::convert_secrets(&config.tokens_file)?;
        if converted > 0 {
            tracing::warn!(
                path = %config.tokens_file.display(),
                tokens = converted,
                "tokens file converted: it now keeps derived keys only, no secrets (tokens keep working)"
            );
        }
        let tokens = TokenRegistry::open(&config.tokens_file)?;
        let tls = match &config.tls {
            Some(paths) => {
                if crate::net::tls::ensure_self_signed(paths)? {
                    tracing::info!(cert = %paths.cert.display(), "created a self-signed TLS certificate");
                }
                Some(ServerTls::load(paths)?)
            }
            None => {
                tracing::warn!(
                    listen = %config.listen,
                    "tls = false: the listener is PLAINTEXT (allowed on loopback only)"
                );
                None
            }
        };
        if tokens.is_empty() {
            tracing::warn!(
                path = %config.tokens_file.display(),
                "no tokens yet: nothing can connect; create one with `monit-configd token create NAME --role node|viewer|operator|admin`"
            );
        }
        let opened = Store::open(&config.db_path())?;
        // Jobs a previous configd left running can never finish now.
        match opened
            .store
            .call(|conn| super::jobs::resolve_interrupted(conn, crate::timefmt::now_ms()))
            .await
        {
            Ok(Ok(ids)) if !ids.is_empty() => {
                tracing::warn!(jobs = ?ids, "jobs left running by a previous configd marked lost")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("cannot resolve jobs left running: {e}"),
            Err(e) => tracing::error!("cannot resolve jobs left running: {e}"),
        }
        let listener = listen(config.listen).map_err(|source| ConfigdError::Bind {
            addr: config.listen,
            source,
        })?;
        let local = listener.local_addr().map_err(|source| ConfigdError::Bind {
            addr: config.listen,
            source,
        })?;
        let metrics_listener = super::metrics_server::bind(&config)?;
        let web_listener = crate::web::bind(&config)?;
        let addr_file = config.addr_file();
        std::fs::write(&addr_file, format!("{local}\n")).map_err(|source| ConfigdError::Write {
            path: addr_file.clone(),
            source,
        })?;
        let registry = NodeRegistry::from_rows(opened.nodes);
        tracing::info!(
            addr = %local,
            data_dir = %config.data_dir.display(),
            nodes = registry.len(),
            tokens = tokens.len(),
            server_id = %opened.server_id,
            fingerprint = %tls.as_ref().map(|t| t.fingerprint.to_string()).unwrap_or_else(|| "none (plaintext)".into()),
            "configd ready"
        );
        let logs = Arc::new(crate::logs::LogHub::new(config.log_buffer_lines));
        let notifier = super::notify::start(
            config.notify.clone(),
            opened.store.clone(),
            shutdown.clone(),
        );
        let checks =
            super::checks::CheckBook::new(opened.checks, opened.downtimes, notifier.clone());
        let config_per_address = config.max_handshakes_per_address;
        let config_per_token = config.max_open_requests_per_token;
        let shared = Arc::new(Shared {
            checks,
            central: Default::default(),
            notifier,
            logs,
            handshakes: Arc::new(Semaphore::new(
                config.max_handshakes - config.reserved_client_handshakes,
            )),
            client_handshakes: Arc::new(Semaphore::new(config.reserved_client_handshakes)),
            live: std::sync::RwLock::new(Arc::new(config.clone())),
            config,
            tokens,
            registry,
            store: opened.store,
            server_id: opened.server_id,
            max_frame: DEFAULT_MAX_FRAME,
            shutdown,
            ops: Default::default(),
            sessions: AtomicU64::new(0),
            preauth: PreAuth::new(config_per_address),
            tls: tls.map(|t| std::sync::RwLock::new(Arc::new(t))),
            open_sessions: Arc::new(SessionBook::new(config_per_token)),
            busy_answers: Arc::new(Semaphore::new(BUSY_ANSWERS)),
        });
        Ok(Configd {
            shared,
            listener,
            metrics_listener,
            web_listener,
            store_thread: opened.thread,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the shutdown token fires, then closes every connection,
    /// writes what is pending and stops the store. With a reloader, SIGHUP
    /// re-reads the configuration.
    pub async fn serve(self, reloader: Option<Reloader>) {
        let Configd {
            shared,
            listener,
            metrics_listener,
            web_listener,
            store_thread,
        } = self;
        let tracker = TaskTracker::new();
        let connections = Arc::new(Semaphore::new(shared.config.max_connections));
        if let Some(metrics) = metrics_listener {
            tracker.spawn(super::metrics_server::serve(
                metrics,
                shared.clone(),
                connections.clone(),
            ));
        }
        if let (Some(web), Ok(local)) = (web_listener, listener.local_addr()) {
            // The console is a client of this listener, over the protocol.
            let tls_shared = shared.clone();
            let setup = crate::web::WebSetup {
                configd: crate::web::dial_addr(local),
                tls: Arc::new(move || tls_shared.tls()),
                shutdown: shared.shutdown.clone(),
            };
            tracker.spawn(crate::web::serve(web, setup));
        }
        tracker.spawn(flush_seen(shared.clone()));
        tracker.spawn(watch_revocations(shared.clone()));
        tracker.spawn(super::check_api::sweeper(shared.clone()));
        if let Some(reloader) = reloader {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(hup) => {
                    tracker.spawn(reload_on_hup(shared.clone(), hup, reloader));
                }
                Err(e) => tracing::warn!("cannot handle SIGHUP, reload disabled: {e}"),
            }
        }
        crate::daemon::systemd::ready("serving");
        let pipe = crate::logs::Pipe::global();
        if let Some(rx) = pipe.take_receiver() {
            tracker.spawn(super::logs_api::pump_own_log(
                shared.logs.clone(),
                pipe,
                rx,
                shared.shutdown.clone(),
            ));
        }
        loop {
            let accepted = tokio::select! {
                _ = shared.shutdown.cancelled() => break,
                r = listener.accept() => r,
            };
            match accepted {
                Ok((stream, peer)) => match connections.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tracker.spawn(session::handle(stream, peer, shared.clone(), permit));
                    }
                    Err(_) => {
                        if let Some(n) = shared.preauth.busy.hit() {
                            tracing::warn!(%peer, limit = shared.config.max_connections, refused = n, "refusing connections: connection limit reached");
                        }
                        tracker.spawn(session::refuse(
                            stream,
                            shared.clone(),
                            ErrorCode::Busy,
                            "configd is at its connection limit; try again later",
                        ));
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        crate::daemon::systemd::stopping();
        drop(listener);
        tracker.close();
        if tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not finish within 5s");
        }
        let seen = shared.registry.take_seen();
        let _ = shared.store.touch_nodes(seen).await;
        if let Err(e) = shared.store.barrier().await {
            tracing::error!("final store write failed: {e}");
        }
        // The store thread ends when the last handle is gone.
        drop(shared);
        let joined = tokio::task::spawn_blocking(move || store_thread.join());
        if tokio::time::timeout(Duration::from_secs(5), joined)
            .await
            .is_err()
        {
            tracing::warn!("the store thread did not stop within 5s");
        }
        tracing::info!("configd stopped");
    }
}

async fn reload_on_hup(
    shared: Arc<Shared>,
    mut hup: tokio::signal::unix::Signal,
    reloader: Reloader,
) {
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            got = hup.recv() => if got.is_none() { return },
        }
        crate::daemon::systemd::reloading();
        match reloader() {
            Ok(new) => match shared.reload(new) {
                Ok(()) => {
                    tracing::info!("SIGHUP: configuration reloaded");
                    shared.close_revoked().await;
                    // Nodes whose central checks changed get them.
                    tokio::spawn(super::central_checks::push_all(shared.clone()));
                }
                Err(e) => tracing::error!(
                    "SIGHUP: reload failed, keeping the previous configuration: {e}"
                ),
            },
            Err(e) => {
                tracing::error!("SIGHUP: reload failed, keeping the previous configuration: {e}")
            }
        }
        crate::daemon::systemd::ready("serving");
    }
}

/// Binds with a deep accept queue: a whole fleet reconnects at once after
/// a restart, and the default backlog (128) overflows into 1 s SYN retries.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Closes the sessions of tokens revoked in the tokens file, within a
/// quarter second of the change.
async fn watch_revocations(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(TOKENS_POLL);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => {
                shared.tokens.refresh();
                shared.close_revoked().await;
            }
        }
    }
}

async fn flush_seen(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(SEEN_FLUSH);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => {
                let seen = shared.registry.take_seen();
                if !seen.is_empty() && shared.store.touch_nodes(seen).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs configd until `shutdown`: prints `listening on ADDR` first on
/// stdout, so whoever started it (a test, a script) learns the port.
pub async fn run(
    config: ConfigdConfig,
    reloader: Option<Reloader>,
    shutdown: CancellationToken,
) -> Result<(), ConfigdError> {
    let configd = Configd::bind(config, shutdown).await?;
    let addr = configd.local_addr().map_err(|source| ConfigdError::Write {
        path: "stdout".into(),
        source,
    })?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
    }
    configd.serve(reloader).await;
    Ok(())
}
