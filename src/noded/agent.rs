//! The agent's connection loop: connect, handshake, register, then a link
//! (heartbeats, requests both ways) until it ends; then wait (capped
//! backoff with jitter) and start over. It never exits because configd
//! went away, only on shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::api::NodeApi;
use super::host::{host_addrs, hostname};
use super::uplink::Uplink;
use crate::auth::{read_private, SecretFileError, Token};
use crate::config::{NodedConfig, TrustSettings};
use crate::net::backoff::Backoff;
use crate::net::dial::{dial, link_config, DialError, Dialed, Endpoint};
use crate::net::link::{drive, LinkEnd, LinkHandle};
use crate::net::proto::{
    ErrorCode, ErrorFrame, PeerKind, Registration, RequestBody, ResponseBody, DEFAULT_MAX_FRAME,
};

/// How often a node configd refused (wrong, revoked or another node's
/// token), or whose certificate it does not trust, tries again: only an
/// operator can fix that.
const REFUSED_RETRY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum NodedError {
    #[error(transparent)]
    TokenFile(#[from] SecretFileError),
    #[error("token file {path}: {reason}")]
    Token { path: String, reason: String },
}

/// Reads and checks the node token.
fn load_token(config: &NodedConfig) -> Result<Token, NodedError> {
    let text = read_private(&config.token_file)?;
    Token::parse(&text).map_err(|e| NodedError::Token {
        path: config.token_file.display().to_string(),
        reason: e.to_string(),
    })
}

/// Runs the agent until `shutdown`. Fails only at start, on a token file
/// that cannot be used.
pub async fn run(config: NodedConfig, shutdown: CancellationToken) -> Result<(), NodedError> {
    let (_keep, rx) = watch::channel(Arc::new(config));
    run_with(rx, Uplink::new(), shutdown).await
}

/// Like `run`, following configuration changes on `config` (reloads) and
/// publishing the live link on `uplink`. How it stands with configd goes
/// to `standing` (for `monit-noded start` and `status`).
pub async fn run_with(
    mut config: watch::Receiver<Arc<NodedConfig>>,
    uplink: Uplink,
    shutdown: CancellationToken,
) -> Result<(), NodedError> {
    let first = config.borrow_and_update().clone();
    load_token(&first)?;
    let leftovers = super::groups::RunningGroups::new(&first.spool_dir).kill_leftovers();
    if leftovers > 0 {
        tracing::warn!(
            groups = leftovers,
            "killed commands a previous noded left running"
        );
    }
    let central = super::central_checks::CentralChecks::new(config.clone());
    let api = Arc::new(NodeApi::new(
        (*first).clone(),
        shutdown.clone(),
        central.clone(),
    ));
    let (results_tx, results_rx) = tokio::sync::mpsc::channel(8192);
    // Spawned tasks keep the caller's span (the demo names each node so).
    use tracing::Instrument;
    // The scheduler runs the local checks and the accepted central ones.
    tokio::spawn(
        super::scheduler::supervise(
            central.effective(shutdown.clone()),
            results_tx,
            shutdown.clone(),
        )
        .in_current_span(),
    );
    let results = tokio::spawn(
        super::results::forward(
            results_rx,
            uplink.clone(),
            shutdown.clone(),
            Some(first.spool_dir.clone()),
        )
        .in_current_span(),
    );
    let pipe = crate::logs::Pipe::global();
    let shipper = pipe.take_receiver().map(|rx| {
        tokio::spawn(crate::logs::shipper::run(
            rx,
            pipe,
            uplink.clone(),
            crate::logs::shipper::ShipperConfig {
                spool_lines: first.log.spool_lines,
                memory_lines: (first.log.spool_lines / 10).clamp(100, 20_000),
                spool_dir: Some(first.spool_dir.clone()),
                ..Default::default()
            },
            shutdown.clone(),
        ))
    });
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    tracing::info!(name = %first.name, server = %first.server, "noded starting");
    crate::daemon::systemd::ready("running");
    let mut commands = first.commands.clone();
    loop {
        let current = config.borrow_and_update().clone();
        if current.commands != commands {
            // Reloaded while disconnected.
            commands = current.commands.clone();
            api.set_commands(&current);
        }
        // Re-read each time: an operator may have replaced the token.
        let attempt = match load_token(&current) {
            Ok(token) => session(&current, &mut config, &token, &api, &uplink, &shutdown).await,
            Err(e) => Err(Unreached::from(e.to_string())),
        };
        uplink.set(None);
        let mut delay = None;
        match attempt {
            Ok(Ended::Shutdown) => break,
            Ok(Ended::Lost { reason, registered }) => {
                if registered {
                    backoff.reset();
                }
                tracing::warn!(server = %current.server, "connection to configd lost: {reason}");
                super::standing::retrying(&format!("connection to configd lost: {reason}"));
            }
            Err(Unreached {
                reason,
                lasting: Some(lasting),
            }) => {
                let what = match lasting {
                    Lasting::Refused => format!(
                        "{reason}; put node `{}`'s own token in {} (`monit-configd token list` \
                         on the configd host shows whose a token is; `monit-configd token create \
                         {} --role node` makes one)",
                        current.name,
                        current.token_file.display(),
                        current.name,
                    ),
                    // The trust error says what to do.
                    Lasting::Untrusted => reason,
                };
                tracing::error!(
                    server = %current.server,
                    "{what}; trying again every {}s",
                    REFUSED_RETRY.as_secs()
                );
                super::standing::refused(&what, REFUSED_RETRY);
                delay = Some(REFUSED_RETRY);
            }
            Err(Unreached { reason, .. }) => {
                tracing::warn!(server = %current.server, "cannot reach configd: {reason}");
                super::standing::retrying(&reason);
            }
        }
        let delay = delay.unwrap_or_else(|| backoff.next_delay());
        tracing::info!("reconnecting in {:.1}s", delay.as_secs_f32());
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    crate::daemon::systemd::stopping();
    tracing::info!("noded stopped");
    // It writes unacknowledged check results to the spool directory.
    let _ = tokio::time::timeout(Duration::from_secs(5), results).await;
    if let Some(shipper) = shipper {
        // It writes unsent log lines to the spool directory.
        let _ = tokio::time::timeout(Duration::from_secs(5), shipper).await;
    }
    Ok(())
}

enum Ended {
    Shutdown,
    Lost { reason: String, registered: bool },
}

/// Why a session never got as far as a link.
struct Unreached {
    reason: String,
    /// Set when it cannot heal by itself: only an operator can fix it.
    lasting: Option<Lasting>,
}

enum Lasting {
    /// configd refused the node's token or name.
    Refused,
    /// configd's certificate is not the one this node trusts.
    Untrusted,
}

impl From<String> for Unreached {
    fn from(reason: String) -> Self {
        Unreached {
            reason,
            lasting: None,
        }
    }
}

fn registration(config: &NodedConfig) -> Registration {
    Registration {
        hostname: hostname(),
        version: crate::VERSION.to_string(),
        labels: config.labels.clone(),
        addrs: host_addrs(),
        checks: config
            .checks
            .iter()
            .map(|c| crate::net::proto::CheckDecl {
                name: c.name.clone(),
                max_attempts: c.max_attempts,
                freshness_ms: c.freshness.map(|d| d.as_millis() as u64),
            })
            .collect(),
        commands: config.commands.iter().map(|c| c.spec.clone()).collect(),
        takes_checks: true,
    }
}

async fn register(link: &LinkHandle, config: &NodedConfig) -> Result<i64, String> {
    let mut answers = link
        .request(RequestBody::Register(registration(config)))
        .await
        .map_err(|e| e.to_string())?;
    match answers.next().await {
        Some(Ok(ResponseBody::Registered(r))) => Ok(r.first_seen_ms),
        Some(Ok(ResponseBody::Error(e))) => Err(format!("configd refused the registration: {e}")),
        Some(Ok(other)) => Err(format!("unexpected answer to the registration: {other:?}")),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("no answer to the registration".into()),
    }
}

/// One connection's life. `Err` means it never got as far as a link.
async fn session(
    config: &NodedConfig,
    updates: &mut watch::Receiver<Arc<NodedConfig>>,
    token: &Token,
    api: &Arc<NodeApi>,
    uplink: &Uplink,
    shutdown: &CancellationToken,
) -> Result<Ended, Unreached> {
    let endpoint = Endpoint {
        server: config.server.clone(),
        token: token.clone(),
        trust: config
            .trust
            .trust(TrustSettings::known_servers(Some(&config.token_file)))?,
    };
    let Dialed { conn, welcome, .. } = tokio::select! {
        _ = shutdown.cancelled() => return Ok(Ended::Shutdown),
        r = dial(&endpoint, PeerKind::Node, &config.name) => r,
    }
    .map_err(|e| match e {
        DialError::Refused { refusal, .. } => Unreached {
            lasting: matches!(refusal.code, ErrorCode::Auth | ErrorCode::Forbidden)
                .then_some(Lasting::Refused),
            reason: format!("configd refused node `{}`: {refusal}", config.name),
        },
        DialError::Trust(t) if t.is_mismatch() => Unreached {
            lasting: Some(Lasting::Untrusted),
            reason: t.to_string(),
        },
        DialError::Connect { reason, .. } => {
            Unreached::from(format!("{}: {reason}", config.server))
        }
        e => Unreached::from(e.to_string()),
    })?;
    let (link, queue) = LinkHandle::new(DEFAULT_MAX_FRAME);
    let link_config = link_config(&welcome);
    // The link outlives the shutdown signal by up to `shutdown_grace`
    // while commands still run, so they can finish and report.
    let link_stop = CancellationToken::new();
    let _stop_link = link_stop.clone().drop_guard();
    tokio::spawn(tracing::Instrument::in_current_span(
        stop_link_after_commands(
            shutdown.clone(),
            link_stop.clone(),
            api.clone(),
            config.shutdown_grace,
        ),
    ));
    let driver = drive(
        conn,
        link.clone(),
        queue,
        api.clone(),
        link_config,
        link_stop.clone(),
        ErrorFrame::new(ErrorCode::ShuttingDown, "node shutting down"),
    );
    tokio::pin!(driver);
    let registered = tokio::select! {
        end = &mut driver => return Ok(ended(end, false)),
        r = register(&link, config) => r,
    };
    match registered {
        Ok(first_seen_ms) => {
            tracing::info!(
                server = %config.server,
                server_id = %welcome.server_id,
                first_seen = %crate::timefmt::rfc3339(first_seen_ms),
                "registered with configd"
            );
            uplink.set(Some(link.clone()));
            super::standing::registered(&config.name, &config.server);
        }
        Err(reason) => {
            link.close(ErrorFrame::new(ErrorCode::Protocol, "registration failed"))
                .await;
            return Ok(Ended::Lost {
                reason,
                registered: false,
            });
        }
    }
    // Follow reloads: what the node advertises (labels, checks, commands)
    // is registered again on the same link.
    // What decides the node's central checks counts too: configd sends
    // them again after a registration and learns the new refusals.
    let advertised = |c: &NodedConfig| {
        (
            c.labels.clone(),
            c.checks.clone(),
            c.commands.clone(),
            c.accept_checks,
            c.plugin_dirs.clone(),
        )
    };
    let mut current = advertised(config);
    loop {
        tokio::select! {
            end = &mut driver => return Ok(ended(end, true)),
            changed = updates.changed() => {
                if changed.is_err() {
                    return Ok(ended(driver.await, true));
                }
                let new = updates.borrow_and_update().clone();
                if advertised(&new) != current {
                    current = advertised(&new);
                    api.set_commands(&new);
                    let again = tokio::select! {
                        end = &mut driver => return Ok(ended(end, true)),
                        r = register(&link, &new) => r,
                    };
                    match again {
                        Ok(_) => tracing::info!("labels, checks or commands changed: registered again"),
                        Err(e) => tracing::warn!("cannot register the new configuration: {e}"),
                    }
                }
            }
        }
    }
}

/// After `shutdown`, waits until no command runs (at most `grace`), then
/// ends the link, which cancels whatever still runs.
async fn stop_link_after_commands(
    shutdown: CancellationToken,
    link_stop: CancellationToken,
    api: Arc<NodeApi>,
    grace: Duration,
) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = link_stop.cancelled() => return,
    }
    let deadline = tokio::time::Instant::now() + grace;
    if api.running() > 0 && !grace.is_zero() {
        tracing::info!(
            running = api.running(),
            "stopping: waiting up to {}s for running commands",
            grace.as_secs()
        );
    }
    while api.running() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if api.running() > 0 {
        tracing::warn!(
            running = api.running(),
            "stopping: cancelling running commands"
        );
    }
    link_stop.cancel();
}

fn ended(end: LinkEnd, registered: bool) -> Ended {
    match end {
        LinkEnd::Shutdown => Ended::Shutdown,
        other => Ended::Lost {
            reason: other.to_string(),
            registered,
        },
    }
}
