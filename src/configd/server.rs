//! Start-up, the accept loop, and an orderly shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::error::{ConfigdError, Reloader};
use super::registry::NodeRegistry;
use super::session;
use super::state::{Shared, SharedParts};
use super::store::Store;
use super::tokens::TokenRegistry;
use crate::config::ConfigdConfig;
use crate::net::proto::ErrorCode;
use crate::net::tls::ServerTls;

/// How often the tokens file is checked for revocations.
const TOKENS_POLL: Duration = Duration::from_millis(250);
/// How often last-seen times are written to the store.
const SEEN_FLUSH: Duration = Duration::from_secs(10);

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
        match super::jobs::resolve_interrupted(&opened.store, crate::timefmt::now_ms()).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::warn!(jobs = ?ids, "jobs left running by a previous configd marked lost")
            }
            Ok(_) => {}
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
        let shared = Arc::new(Shared::new(SharedParts {
            config,
            tokens,
            registry,
            store: opened.store,
            server_id: opened.server_id,
            checks,
            notifier,
            logs,
            tls,
            shutdown,
        }));
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
        let connections = Arc::new(Semaphore::new(shared.config().max_connections));
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
                shutdown: shared.shutdown().clone(),
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
                shared.logs().clone(),
                pipe,
                rx,
                shared.shutdown().clone(),
            ));
        }
        loop {
            let accepted = tokio::select! {
                _ = shared.shutdown().cancelled() => break,
                r = listener.accept() => r,
            };
            match accepted {
                Ok((stream, peer)) => match connections.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tracker.spawn(session::handle(stream, peer, shared.clone(), permit));
                    }
                    Err(_) => {
                        if let Some(n) = shared.preauth().busy.hit() {
                            tracing::warn!(%peer, limit = shared.config().max_connections, refused = n, "refusing connections: connection limit reached");
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
        let seen = shared.registry().take_seen();
        let _ = shared.store().touch_nodes(seen).await;
        if let Err(e) = shared.store().barrier().await {
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
            _ = shared.shutdown().cancelled() => return,
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
            _ = shared.shutdown().cancelled() => return,
            _ = tick.tick() => {
                shared.tokens().refresh();
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
            _ = shared.shutdown().cancelled() => return,
            _ = tick.tick() => {
                let seen = shared.registry().take_seen();
                if !seen.is_empty() && shared.store().touch_nodes(seen).await.is_err() {
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
